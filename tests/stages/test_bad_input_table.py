"""What a user's mistake or a damaged file looks like, for every kind of stage: one line on stderr that names the key
or file and the fix, exit status 2, no traceback, and nothing in the workspace changed (no partial output, no temp
dirs). Each case: stage command -> breakage -> message fragment. The stages run in-process on a tiny workspace."""

from __future__ import annotations

import hashlib
import importlib
import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from workspace import drop_param, make_workspace, set_param

from fundiff.io import save_npz

CKPT = "data/models/class_cond/checkpoints"
WEIGHTS = "diffusion_pytorch_model.safetensors"


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return make_workspace(tmp_path_factory.mktemp("cases") / "repo")


def write(rel: str, data: bytes):
    return lambda root: (root / rel).write_bytes(data)


def truncate(rel: str):
    return lambda root: (root / rel).write_bytes((root / rel).read_bytes()[:100])


def damage_middle(rel: str):
    """Flip bytes in the middle of a file: a header that still parses, tensor bytes that are wrong."""

    def apply(root: Path) -> None:
        data = bytearray((root / rel).read_bytes())
        for i in range(len(data) // 2, len(data) // 2 + 64):
            data[i] = 0xFF
        (root / rel).write_bytes(bytes(data))

    return apply


def append_params(text: str):
    """Add raw YAML to the end of params.yaml (what set_param, which re-dumps the mapping, cannot write)."""
    return lambda root: (root / "params.yaml").write_text((root / "params.yaml").read_text() + text)


ALIAS_BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9) if prev else ', '.join(['x'] * 9)}]\n"
    for prev, name in zip(["", "a", "b", "c", "d", "e"], ["a", "b", "c", "d", "e", "f"])
)


def given_image(make, rel: str, key: str):
    """Make the image ``rel`` (``make(rel)``, e.g. bomb_png) and give it as the Part A param ``key``."""
    value = [rel] if key.endswith(".images") else rel
    return lambda root: (make(rel)(root), set_param(root, key, value))


SDEDIT_IMAGES = "partA.experiments.sdedit.mnist.images"
INPAINTING_MASK = "partA.experiments.inpainting.mnist.mask"


def param(dotted: str, value):
    return lambda root: set_param(root, dotted, value)


def flow_section_under(model: str):
    """sample.<model> replaced by the flow edition's section of the same architecture (num_ts, fast_num_ts ...)."""

    def apply(root: Path) -> None:
        sample = yaml.safe_load((root / "params.yaml").read_text())["sample"]
        set_param(root, f"sample.{model}", sample[f"flow_{model}"])

    return apply


def bomb_png(rel: str, side: int):
    """A PNG that declares side×side pixels of grey in a few KB: a decompression bomb."""

    def apply(root: Path) -> None:
        import struct
        import zlib

        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

        row = b"\0" + b"\0" * side  # filter byte + one grey byte per pixel
        idat = zlib.compress(row * 64, 9)  # only the first rows: the header is what declares the size
        header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))

    return apply


def white_png(rel: str, side: int):
    def apply(root: Path) -> None:
        from PIL import Image

        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", (side, side), 255).save(root / rel)

    return apply


def nan_weights(rel: str, record: bool):
    """Weights of NaN (a diverged model): with ``record``, train_config.json records their sha256 (they load, and the
    sampler meets the NaNs); without, it records none (an older or tampered checkpoint)."""

    def apply(root: Path) -> None:
        from safetensors.torch import load_file, save_file

        from fundiff.partB.checkpoints import record_sha256

        state = load_file(str(root / rel))
        save_file(
            {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v for k, v in state.items()},
            str(root / rel),
            metadata={"format": "pt"},
        )
        config_path = root / CKPT / "train_config.json"
        config = json.loads(config_path.read_text())
        config.pop("weights_sha256")
        if record:
            config["weights_sha256"] = record_sha256(root / CKPT)
        config_path.write_text(json.dumps(config))

    return apply


DATA = ["data"]
TRAIN = ["train", "class_cond"]
CLASSIFIER = ["classifier"]
SAMPLE = ["sample", "class_cond", "--no-progress"]
DENOISER = ["sample_denoiser"]
CFG = ["partA", "cfg"]
REPORT = ["report"]

CASES = [
    # params.yaml itself
    ("params-missing", DATA, lambda r: (r / "params.yaml").unlink(), "params.yaml not found"),
    ("params-empty", DATA, write("params.yaml", b""), "params.yaml holds no mapping"),
    ("params-not-yaml", DATA, write("params.yaml", b"seed: [1, 2\ndata: {"), "params.yaml is not valid YAML at line"),
    ("params-a-list", DATA, write("params.yaml", b"- 1\n- 2\n"), "params.yaml holds no mapping"),
    ("seed-missing", DATA, lambda r: drop_param(r, "seed"), "params.yaml has no seed"),
    ("seed-string", DATA, param("seed", "abc"), "seed='abc' must be an integer"),
    ("seed-float", TRAIN, param("seed", 1.5), "seed=1.5 must be an integer"),
    # data
    ("data-section-missing", DATA, lambda r: drop_param(r, "data"), "params.yaml has no 'data' section"),
    ("data-source", DATA, param("data.source", "mnist9k"), "data.source='mnist9k' is unknown; use one of"),
    ("data-int-as-string", DATA, param("data.test_per_class", "50"), "data.test_per_class='50' must be an integer"),
    ("data-zero", DATA, param("data.test_per_class", 0), "data.test_per_class=0 must be >= 1"),
    ("data-unknown-key", DATA, param("data.sorce", "mnist5k"), "data.sorce is not a known key"),
    ("data-cap-negative", DATA, param("data.max_train_per_class", -1), "data.max_train_per_class=-1 must be >= 1"),
    (
        "data-offline",
        DATA,
        lambda r: (set_param(r, "data.source", "torchvision"), set_param(r, "data.download", False)),
        "MNIST is not under",
    ),
    # train
    ("train-deterministic", TRAIN, param("deterministic", "yes"), "deterministic='yes' must be true or false"),
    ("train-compile", TRAIN, param("train.class_cond.compile", "max"), "train.class_cond.compile='max' is unknown"),
    ("train-log-every", TRAIN, param("train.class_cond.log_every", 0), "train.class_cond.log_every=0 must be >= 1"),
    ("sample-deterministic", SAMPLE, param("deterministic", 1), "deterministic=1 must be true or false"),
    (
        "train-batch-string",
        TRAIN,
        param("train.class_cond.batch_size", "32"),
        "train.class_cond.batch_size='32' must be an integer",
    ),
    ("train-lr-nan", TRAIN, param("train.class_cond.lr", float("nan")), "train.class_cond.lr=nan must be a finite"),
    ("train-lr-word", TRAIN, param("train.class_cond.lr", "fast"), "train.class_cond.lr='fast' must be a finite"),
    ("train-lr-negative", TRAIN, param("train.class_cond.lr", -0.1), "train.class_cond.lr=-0.1 must be > 0"),
    ("train-epochs-zero", TRAIN, param("train.class_cond.epochs", 0), "train.class_cond.epochs=0 must be >= 1"),
    ("train-schedule", TRAIN, param("train.class_cond.lr_schedule", "cosine"), "train.class_cond.lr_schedule='cosine'"),
    ("train-unknown-key", TRAIN, param("train.class_cond.epoch", 3), "train.class_cond.epoch is not a known key"),
    ("train-ema-one", TRAIN, param("train.class_cond.ema_decay", 1.0), "train.class_cond.ema_decay=1.0 must be < 1"),
    ("train-betas", TRAIN, param("train.class_cond.beta_start", 0.5), "train.class_cond.beta_start=0.5"),
    ("train-section-not-mapping", TRAIN, param("train.class_cond", [1, 2]), "train.class_cond must be a mapping"),
    ("train-data-missing", TRAIN, lambda r: shutil.rmtree(r / "data/mnist"), "run `dvc repro data` first"),
    ("train-npy-truncated", TRAIN, truncate("data/mnist/train_images.npy"), "train_images.npy is not a readable .npy"),
    (
        "train-npy-garbage",
        TRAIN,
        write("data/mnist/train_labels.npy", b"not numpy at all\n"),
        "train_labels.npy is not a readable .npy",
    ),
    (
        "train-npy-pickle",
        TRAIN,
        lambda r: np.save(r / "data/mnist/test_labels.npy", np.array([{"a": 1}], dtype=object)),
        "test_labels.npy is not a readable .npy",
    ),
    # classifier
    ("classifier-epochs", CLASSIFIER, param("classifier.epochs", 0), "classifier.epochs=0 must be >= 1"),
    ("classifier-lr-word", CLASSIFIER, param("classifier.lr", "fast"), "classifier.lr='fast' must be a finite number"),
    # Part B sampling
    (
        "sample-gamma-nan",
        SAMPLE,
        param("sample.class_cond.guidance_scale", float("nan")),
        "sample.class_cond.guidance_scale=nan must be a finite number",
    ),
    (
        "sample-gamma-inf",
        SAMPLE,
        param("sample.class_cond.guidance_scale", float("inf")),
        "sample.class_cond.guidance_scale=inf must be a finite number",
    ),
    ("sample-variance", SAMPLE, param("sample.class_cond.variance", "large"), "sample.class_cond.variance='large'"),
    ("sample-metric-samples", SAMPLE, param("sample.class_cond.metric_samples", 15), "must be a multiple of 10"),
    ("sample-weights-truncated", SAMPLE, truncate(f"{CKPT}/final/{WEIGHTS}"), "restore it with `dvc checkout`"),
    (
        "sample-weights-damaged",
        SAMPLE,
        damage_middle(f"{CKPT}/final/{WEIGHTS}"),
        "does not match the sha256 recorded when it was trained",
    ),
    ("sample-weights-nan", SAMPLE, nan_weights(f"{CKPT}/final/{WEIGHTS}", record=True), "non-finite values"),
    (
        "sample-weights-unrecorded",
        SAMPLE,
        nan_weights(f"{CKPT}/final/{WEIGHTS}", record=False),
        "records no sha256 of checkpoint 'epoch_001'",  # the snapshots load first
    ),
    (
        "partA-weights-unrecorded",
        CFG,
        nan_weights(f"{CKPT}/final/{WEIGHTS}", record=False),
        "records no sha256 of checkpoint 'final'",
    ),
    ("sample-config-garbage", SAMPLE, write(f"{CKPT}/final/config.json", b"{oops"), "config.json is not valid JSON"),
    (
        "sample-train-config-missing",
        SAMPLE,
        lambda r: (r / CKPT / "train_config.json").unlink(),
        "train_config.json is missing; run `dvc repro train@class_cond`",
    ),
    (
        "sample-judge-truncated",
        SAMPLE,
        truncate(f"data/models/classifier/weights/{WEIGHTS}"),
        "run `dvc repro classifier`",
    ),
    (
        "denoiser-blur-even",
        DENOISER,
        param("sample.denoiser.blur_kernel_size", 4),
        "sample.denoiser.blur_kernel_size=4 must be an odd integer >= 1",
    ),
    (
        "denoiser-sigmas-empty",
        DENOISER,
        param("sample.denoiser.sigmas", []),
        "sample.denoiser.sigmas must be a non-empty",
    ),
    # Part A
    ("partA-backend", CFG, param("partA.backend", "imagen"), "partA.backend='imagen' is unknown"),
    ("partA-variance", CFG, param("partA.backends.mnist.variance", "wide"), "partA.backends.mnist.variance='wide'"),
    ("partA-gamma", CFG, param("partA.experiments.cfg.mnist.guidance_scale", -1), "guidance_scale=-1 must be >= 0"),
    ("partA-prompt", CFG, param("partA.experiments.cfg.mnist.prompt", "a cat"), "does not name exactly one digit"),
    ("partA-weights-damaged", CFG, damage_middle(f"{CKPT}/final/{WEIGHTS}"), "does not match the sha256 recorded"),
    (
        "partA-image-missing",
        ["partA", "sdedit"],
        param("partA.experiments.sdedit.mnist.images", ["data/images/none.png"]),
        "data/images/none.png not found",
    ),
    (
        "partA-image-garbage",
        ["partA", "sdedit"],
        lambda r: (
            write("data/images/bad.png", b"\x89PNG garbage")(r),
            set_param(r, "partA.experiments.sdedit.mnist.images", ["data/images/bad.png"]),
        ),
        "is not an image PIL can read",
    ),
    (
        "partA-image-bomb-30000",
        ["partA", "sdedit"],
        given_image(lambda rel: bomb_png(rel, 30000), "data/images/bomb.png", SDEDIT_IMAGES),
        "data/images/bomb.png declares more pixels than the limit of 40,000,000",
    ),
    (
        "partA-image-bomb-15000",
        ["partA", "sdedit"],
        given_image(lambda rel: bomb_png(rel, 15000), "data/images/bomb.png", SDEDIT_IMAGES),
        "data/images/bomb.png declares more pixels than the limit of 40,000,000",
    ),
    (
        "partA-image-over-the-limit",
        ["partA", "sdedit"],
        given_image(lambda rel: bomb_png(rel, 7000), "data/images/big.png", SDEDIT_IMAGES),
        "data/images/big.png declares 7000×7000 pixels, over the limit of 40,000,000",
    ),
    (
        "partA-mask-bomb",
        ["partA", "inpainting"],
        given_image(lambda rel: bomb_png(rel, 15000), "data/images/mask.png", INPAINTING_MASK),
        "data/images/mask.png declares more pixels than the limit",
    ),
    (
        "partA-mask-all-white",
        ["partA", "inpainting"],
        given_image(lambda rel: white_png(rel, 28), "data/images/white.png", INPAINTING_MASK),
        "is all white: nothing to keep",
    ),
    (
        "partA-i-start",
        ["partA", "iterative"],
        param("partA.experiments.iterative.mnist.i_start", 40),
        "i_start=40 is outside the strided timesteps",
    ),
    (
        "partA-view",
        ["partA", "anagrams"],
        param("partA.experiments.anagrams.mnist.illusions", [{"view": "spin", "prompts": ["6", "9"]}]),
        "view='spin' is not a known view",
    ),
    (
        "partA-mask-size",
        ["partA", "inpainting"],
        param("partA.experiments.inpainting.mnist.mask", "data/images/shipped/mask_64_top.png"),
        "the mnist backend needs a 28×28",
    ),
    (
        "partA-jump-length",
        ["partA", "inpainting"],
        param("partA.experiments.inpainting.mnist.jump_length", 0),
        "partA.experiments.inpainting.mnist.jump_length=0 must be >= 1",
    ),
    ("partA-no-gpu", CFG, param("partA.backend", "deepfloyd"), "DeepFloyd IF needs a CUDA GPU"),
    (
        "partA-renamed-key",
        ["partA", "blur"],
        lambda r: (
            drop_param(r, "partA.experiments.blur.mnist.blur_sigma"),
            set_param(r, "partA.experiments.blur.mnist.sigma", 1.0),
        ),
        "blur.mnist.sigma is not a known key: it was renamed to partA.experiments.blur.mnist.blur_sigma",
    ),
    # params read the way DVC reads them; values quoted cut to a sane length
    ("data-duplicate-key", DATA, append_params("seed: 7\n"), "the key 'seed' is given twice in one mapping"),
    ("sample-duplicate-key", SAMPLE, append_params("device: cpu\n"), "the key 'device' is given twice"),
    (
        "train-seed-alias-bomb",
        TRAIN,
        lambda r: (r / "params.yaml").write_text(
            ALIAS_BOMB + (r / "params.yaml").read_text().replace("seed: 180", "seed: *f")
        ),
        "seed=[[[...]",
    ),
    # memory and run length, estimated before any model loads (fundiff.budget)
    (
        "sample-memory",
        SAMPLE,
        param("sample.class_cond.samples_per_digit", 10_000_000),
        "sample.class_cond.samples_per_digit=10000000 needs about",
    ),
    (
        "sample-time-npz-huge",
        ["sample", "time_cond", "--no-progress"],
        param("sample.time_cond.npz_samples", 10_000_000),
        "sample.time_cond.npz_samples=10000000 ",  # over memory, or (with more than 41 GB free) over a day
    ),
    (
        "partA-sampling-memory",
        ["partA", "sampling"],
        param("partA.experiments.sampling.mnist.num_samples", 10_000_000),
        "partA.experiments.sampling.mnist.num_samples=10000000 needs about",
    ),
    ("partA-cfg-memory", CFG, param("partA.experiments.cfg.mnist.num_samples", 10**8), "num_samples=100000000 needs"),
    (
        "train-long-run",
        TRAIN,
        param("train.class_cond.epochs", 1_000_000),
        "train.class_cond.epochs=1000000 makes a run of about",
    ),
    ("train-allow-long-runs-word", TRAIN, param("allow_long_runs", "yes"), "allow_long_runs='yes' must be true or"),
    # output locations, checked before the work
    (
        "sample-out-a-file",
        [*SAMPLE, "--out", "reports/partB/mine.txt"],
        write("reports/partB/mine.txt", b"mine"),
        "reports/partB/mine.txt: it is an existing file, not a results directory",
    ),
    (
        "partA-out-a-file",
        [*CFG, "--out", "reports/partA/cfg.txt"],
        write("reports/partA/cfg.txt", b"mine"),
        "reports/partA/cfg.txt: it is an existing file",
    ),
    (
        "partA-inputs-out-a-file",
        ["partA_inputs", "--out", "data/images/mine"],
        write("data/images/mine", b"mine"),
        "data/images/mine: it is an existing file",
    ),
    (
        "cas-metrics-a-dir",
        ["cas"],
        lambda r: (r / "reports/partB/cas.metrics.json").mkdir(parents=True),
        "reports/partB/cas.metrics.json: it is a directory",
    ),
    (
        "partA-metrics-under-a-file",
        [*CFG, "--metrics", "reports/index.html/cfg.json"],
        lambda r: None,
        "reports/index.html is a file, not a folder",
    ),
    # the whole params.yaml, checked before DVC deletes any output (stages/check_params.py)
    ("check-fast-steps", ["check_params"], param("sample.class_cond.fast_num_steps", 301), "must be <= 300"),
    ("check-autoguide", ["check_params"], param("sample.time_cond.autoguide_epoch", 7), "is not a snapshot of train"),
    ("check-experiment", ["check_params"], param("partA.experiments.cfgg", {}), "cfgg is not a Part A experiment"),
    ("check-partA-count", ["check_params"], param("partA.experiments.cfg.mnist.num_samples", 0), "num_samples=0"),
    ("check-memory", ["check_params"], param("sample.class_cond.batch_size", 10**9), "batch_size=1000000000 needs"),
    # classes beyond the issue's
    (
        "symlink-out-to-a-file",
        [*DENOISER, "--out", "reports/partB/link"],
        lambda r: (r / "reports/partB/link").symlink_to(r / "reports/index.html"),
        "link: it is an existing file",
    ),
    (
        "params-a-directory",
        DATA,
        lambda r: ((r / "params.yaml").unlink(), (r / "params.yaml").mkdir()),
        "params.yaml is not a file",
    ),
    ("long-unicode-key", DATA, param("data.ключ" + "é" * 5000, 1), "data.ключééé"),
    ("negative-batch", SAMPLE, param("sample.class_cond.batch_size", -5), "sample.class_cond.batch_size=-5 must be"),
    ("huge-width", TRAIN, param("train.class_cond.num_hiddens", 10**30), "train.class_cond.num_hiddens=1000"),
    ("float-for-int", DATA, param("data.test_per_class", 50.0), "data.test_per_class=50.0 must be an integer"),
    ("bool-for-int", CLASSIFIER, param("classifier.epochs", True), "classifier.epochs=True must be an integer"),
    ("nan-in-a-list", DENOISER, param("sample.denoiser.sigmas", [0.1, float("nan")]), "sample.denoiser.sigmas has nan"),
    (
        "empty-list",
        ["partA", "sdedit"],
        param("partA.experiments.sdedit.mnist.i_starts", []),
        "must be a non-empty list",
    ),
    (
        "checkpoint-dir-a-file",
        SAMPLE,
        lambda r: (shutil.rmtree(r / CKPT / "final"), write(f"{CKPT}/final", b"x")(r)),
        "run `dvc repro train@class_cond`",
    ),
    (
        "train-config-wrong-shape",
        SAMPLE,
        write(
            f"{CKPT}/train_config.json",
            b'{"kind": "class_cond", "num_timesteps": 300, "beta_start": 0.0001, "beta_end": 0.02, "num_hiddens": "wide"}',
        ),
        "num_hiddens='wide', not a width >= 1",
    ),
    (
        "cas-samples-strings",
        ["cas"],
        lambda r: save_npz(
            r / "reports/partB/class_cond/samples.npz", images=np.full((10, 28, 28), "x"), labels=np.arange(10)
        ),
        "holds images of dtype <U1, not numbers",
    ),
    (
        "cas-samples-shape",
        ["cas"],
        lambda r: save_npz(
            r / "reports/partB/class_cond/samples.npz", images=np.zeros((10, 5), np.float32), labels=np.arange(10)
        ),
        "not N×28×28 and N",
    ),
    # report
    ("report-manifest-corrupt", REPORT, write("reports/partA/cfg/manifest.json", b"{not json"), "corrupt manifest"),
    (
        "report-page-unwritable",
        REPORT,
        lambda r: (
            (r / "reports/index.html").unlink(),
            (r / "reports/index.html").mkdir(),
            (r / "reports/index.html/keep").write_text(""),
        ),
        "cannot write",
    ),
    # the flow-matching edition's keys (issue 24)
    (
        "flow-num-ts-0",
        ["sample", "flow_time_cond", "--no-progress"],
        param("sample.flow_time_cond.num_ts", 0),
        "sample.flow_time_cond.num_ts=0 must be >= 1",
    ),
    (
        "flow-fast-num-ts-string",
        ["sample", "flow_class_cond", "--no-progress"],
        param("sample.flow_class_cond.fast_num_ts", "ten"),
        "sample.flow_class_cond.fast_num_ts='ten' must be an integer",
    ),
    (
        "flow-objective-unknown",
        ["train", "flow_time_cond"],
        param("train.flow_time_cond.objective", "score"),
        "train.flow_time_cond.objective='score' is not one of the course's for a time_cond UNet; use one of ddpm, flow",
    ),
    (
        "flow-modulation-unknown",
        ["train", "flow_time_cond"],
        param("train.flow_time_cond.modulation", "concat"),
        "train.flow_time_cond.modulation='concat' is not one of the course's for a time_cond UNet; use one of add",
    ),
    (
        "flow-class-modulation-multiply",
        ["train", "flow_class_cond"],
        param("train.flow_class_cond.modulation", "multiply"),
        "use one of class_scale_time_shift",
    ),
    (
        "flow-keys-for-a-ddpm-checkpoint",
        SAMPLE,
        flow_section_under("class_cond"),
        "was trained with objective ddpm, but sample.class_cond is written for a flow model",
    ),
    (
        "flow-ddpm-key-in-flow-section",
        ["sample", "flow_time_cond", "--no-progress"],
        param("sample.flow_time_cond.variance", "beta"),
        "sample.flow_time_cond",
    ),
    ("edition-unknown", REPORT, param("partB.edition", "sde"), "partB.edition='sde' is not an edition of the course"),
]


def files(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".fundiff" not in p.parts
    }


def test_there_are_at_least_eighty_cases_over_every_kind_of_stage():
    assert len(CASES) >= 80 and len({name for name, *_ in CASES}) == len(CASES)
    assert {argv[0] for _, argv, *_ in CASES} == {
        "check_params",
        "cas",
        "partA_inputs",
        "data",
        "train",
        "classifier",
        "sample",
        "sample_denoiser",
        "partA",
        "report",
    }


@pytest.mark.parametrize("name, argv, breakage, message", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(
    name, argv, breakage, message, template, tmp_path, monkeypatch, capsys, one_thread
):
    root = tmp_path / "repo"
    shutil.copytree(template, root)
    breakage(root)
    before = files(root)
    monkeypatch.chdir(root)
    monkeypatch.setenv("TQDM_DISABLE", "1")
    monkeypatch.delenv("FUNDIFF_DEBUG", raising=False)
    monkeypatch.setattr(sys, "argv", [argv[0], *argv[1:]])
    stage = importlib.import_module(f"stages.{argv[0]}")
    with pytest.raises(SystemExit) as exit_info:
        stage.main()
    err = capsys.readouterr().err.strip().splitlines()
    err = [line for line in err if not line.startswith("note:")]
    assert exit_info.value.code == 2, err
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert message in err[0], err[0]
    assert "Traceback" not in err[0] and len(err[0]) <= 2100, err[0][:300]
    assert files(root) == before, "a failed stage changed the workspace"
    assert not [p for p in root.rglob(".*.tmp-*")], "a failed stage left a temp dir"


def test_debug_shows_the_traceback(template, tmp_path, monkeypatch):
    root = tmp_path / "repo"
    shutil.copytree(template, root)
    set_param(root, "data.source", "mnist9k")
    monkeypatch.chdir(root)
    monkeypatch.setenv("FUNDIFF_DEBUG", "1")
    monkeypatch.setattr(sys, "argv", ["data"])
    from fundiff.errors import FundiffError

    with pytest.raises(FundiffError, match="data.source='mnist9k'"):
        importlib.import_module("stages.data").main()


def test_numbers_written_as_strings_are_read_deliberately():
    """PyYAML reads `lr: 1e-3` as the string '1e-3': a string that is a finite number is that number, everywhere."""
    from fundiff.params import ParamSection

    params = yaml.safe_load("lr: 1e-3\ngamma: '5'\n")
    assert params["lr"] == "1e-3"
    s = ParamSection(params, "x", ("lr", "gamma"))
    assert s.number("lr") == 1e-3 and s.number("gamma") == 5.0
    with pytest.raises(Exception, match=re.escape("x.lr='1e-3' must be an integer (without quotes)")):
        s.integer("lr")
