"""The Part B result stages (`classifier`, `sample_denoiser`, `sample@time_cond`, `sample@class_cond`) on tiny,
untrained models with T = 10: every output is written, twice the same bytes, and bad input is one line with nothing
written."""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from fundiff.data import MnistSplits, load_splits, save_splits, to_tensor_images
from fundiff.diffusion.diffusers_schedulers import SCHEDULER_DIR, save_ddpm_scheduler
from fundiff.judge.model import MnistClassifier
from fundiff.nets.unets import MODEL_CLASSES
from fundiff.partB.checkpoints import record_sha256

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/stages/conftest.py: the stages want every core

T = 10
PARAMS = {
    "seed": 7,
    "classifier": {"epochs": 1, "batch_size": 32, "lr": 0.001, "num_channels": 4, "feature_dim": 8},
    "sample": {
        "denoiser": {
            "sigmas": [0.0, 0.5, 1.0],
            "num_digits": 2,
            "blur_kernel_size": 5,
            "blur_sigma": 1.0,
            "batch_size": 50,
        },
        "time_cond": {
            "grid_samples": 4,
            "variance": "beta",
            "clip_x0": False,
            "fast_num_steps": 3,
            "fast_variance": "posterior",
            "metric_samples": 10,
            "gif_samples": 2,
            "gif_every": 5,
            "batch_size": 8,
            "npz_samples": 12,
            "npz_sampler": "fast",
        },
        "class_cond": {
            "guidance_scale": 5.0,
            "grid_samples_per_digit": 1,
            "samples_per_digit": 2,
            "npz_sampler": "fast",
            "guidance_sweep": [0, 1, 5],
            "sweep_samples_per_digit": 1,
            "variance": "beta",
            "clip_x0": False,
            "fast_num_steps": 3,
            "fast_variance": "posterior",
            "metric_samples": 10,
            "gif_samples": 2,
            "gif_every": 5,
            "batch_size": 8,
        },
    },
}


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("partB") / "repo"
    rng = np.random.default_rng(0)

    def digits(n):
        return (rng.random((n, 28, 28)) * 255).astype(np.uint8), np.arange(n, dtype=np.int64) % 10

    (train_x, train_y), (test_x, test_y) = digits(60), digits(30)
    save_splits(MnistSplits(train_x, train_y, test_x, test_y), root / "data/mnist")
    for kind, cls in MODEL_CLASSES.items():
        ckpt = root / "data/models" / kind / "checkpoints"
        torch.manual_seed(1)
        cls(num_hiddens=4).save_pretrained(ckpt / "final")
        shutil.copytree(ckpt / "final", ckpt / "epoch_002")
        torch.manual_seed(2)
        cls(num_hiddens=4).save_pretrained(ckpt / "epoch_001")
        config = {
            "kind": kind,
            "num_hiddens": 4,
            "epochs": 2,
            "snapshot_epochs": [1, 2],
            "num_timesteps": T,
            "beta_start": 1e-4,
            "beta_end": 0.02,
            "sigma": 0.5,
            "p_uncond": 0.1,
            "seed": 0,
            "weights_sha256": record_sha256(ckpt),  # as the train stage records it
        }
        (ckpt / "train_config.json").write_text(json.dumps(config))
        if kind != "denoiser":
            save_ddpm_scheduler(ckpt / SCHEDULER_DIR, T, 1e-4, 0.02)
        plots = root / "data/models" / kind / "live/plots/metrics"
        for split, steps in (("train", range(8)), ("test", (3, 7))):
            (plots / split).mkdir(parents=True)
            (plots / split / "loss.tsv").write_text("step\tloss\n" + "".join(f"{s}\t{0.2 / (s + 1)}\n" for s in steps))
    torch.manual_seed(3)
    MnistClassifier(num_channels=4, feature_dim=8).save_pretrained(root / "data/models/classifier/weights")
    (root / "params.yaml").write_text(yaml.safe_dump(PARAMS))
    return root


@pytest.fixture
def work(template, tmp_path, monkeypatch) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(template, root)
    monkeypatch.chdir(root)
    return root


def run_stage(module: str, *args: str, monkeypatch) -> None:
    import importlib

    stage = importlib.import_module(f"stages.{module}")
    monkeypatch.setattr(sys, "argv", [module, *args])
    stage.main()


def set_params(root: Path, **changes) -> None:
    params = yaml.safe_load((root / "params.yaml").read_text())
    for dotted, value in changes.items():
        node = params
        *parents, last = dotted.split("__")
        for key in parents:
            node = node[key]
        node[last] = value
    (root / "params.yaml").write_text(yaml.safe_dump(params))


def snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_class_cond_outputs_are_complete_and_byte_identical(work, monkeypatch, capsys):
    run_stage("sample", "class_cond", "--no-progress", monkeypatch=monkeypatch)
    out = work / "reports/partB/class_cond"
    first = snapshot(out)
    metrics_first = (work / "reports/partB/class_cond.metrics.json").read_bytes()
    printed = capsys.readouterr().out
    assert "images/s" in printed  # speed goes to stdout ...
    metrics = json.loads(metrics_first)
    assert not any("per_s" in k or "time" in k for k in metrics)  # ... never into the metrics
    assert all(isinstance(v, (int, float)) for v in metrics.values())  # flat
    assert {"fid_full", "fid_fast", "accuracy_full", "accuracy_fast", "accuracy_fast_digit9"} <= set(metrics)
    assert metrics["unet_calls_full"] == T and metrics["unet_calls_fast"] == 3
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["section"] == "B 2.4" and manifest["metrics"] == metrics
    assert all((out / f["path"]).is_file() for f in manifest["figures"])
    assert {"samples_epoch_001.png", "samples_epoch_002.png", "sampling_full.gif", "loss_curve.png"} <= set(first)
    with np.load(out / "samples.npz") as npz:
        images, labels = npz["images"], npz["labels"]
    assert images.dtype == np.float32 and images.shape == (20, 28, 28) and 0 <= images.min() <= images.max() <= 1
    assert labels.dtype == np.int64 and np.bincount(labels, minlength=10).tolist() == [2] * 10
    assert {"guidance_tradeoff.png", "guidance_sweep.csv", "judge_histograms.png"} <= set(first)
    sweep = (out / "guidance_sweep.csv").read_text().splitlines()
    assert sweep[0] == "guidance_scale,accuracy,confident,fid" and [r.split(",")[0] for r in sweep[1:]] == [
        "0",
        "1",
        "5",
    ]
    assert {"sweep_accuracy_gamma0", "sweep_fid_gamma5", "sweep_fid_train_digits", "npz_confident"} <= set(metrics)

    run_stage("sample", "class_cond", "--no-progress", monkeypatch=monkeypatch)
    assert snapshot(out) == first
    assert (work / "reports/partB/class_cond.metrics.json").read_bytes() == metrics_first


def test_npz_from_the_full_sampler(work, monkeypatch):
    set_params(work, sample__class_cond__npz_sampler="full", sample__class_cond__samples_per_digit=3)
    run_stage("sample", "class_cond", "--no-progress", monkeypatch=monkeypatch)
    metrics = json.loads((work / "reports/partB/class_cond.metrics.json").read_text())
    assert metrics["samples_full"] == 30 and metrics["samples_fast"] == 10
    with np.load(work / "reports/partB/class_cond/samples.npz") as npz:
        assert npz["images"].shape == (30, 28, 28)


def test_npz_fid_reads_no_more_samples_than_there_are_real_digits(work, monkeypatch):
    """A samples.npz larger than the training split (60 digits here; 4,500 in mnist5k) is kept whole, and its FID
    reads its first 60 samples, against a floor of all 60 real digits: FIDs compare only at the same count. So do the
    samplers' FIDs when metric_samples exceeds the training split, and the guidance sweep's."""
    set_params(
        work,
        sample__class_cond__samples_per_digit=7,
        sample__class_cond__metric_samples=70,
        sample__class_cond__sweep_samples_per_digit=7,
    )
    run_stage("sample", "class_cond", "--no-progress", monkeypatch=monkeypatch)
    metrics = json.loads((work / "reports/partB/class_cond.metrics.json").read_text())
    assert metrics["npz_samples"] == 70 and metrics["npz_fid_samples"] == 60
    assert metrics["fid_samples"] == 60 and metrics["fid_train_digits"] == metrics["npz_fid_train_digits"]
    assert metrics["sweep_fid_samples"] == 60 and metrics["sweep_fid_train_digits"] == metrics["fid_train_digits"]
    with np.load(work / "reports/partB/class_cond/samples.npz") as npz:
        assert npz["images"].shape == (70, 28, 28) and np.bincount(npz["labels"]).tolist() == [7] * 10
    set_params(work, sample__class_cond__samples_per_digit=2, sample__class_cond__metric_samples=10)
    run_stage("sample", "class_cond", "--no-progress", monkeypatch=monkeypatch)
    metrics = json.loads((work / "reports/partB/class_cond.metrics.json").read_text())
    assert metrics["npz_samples"] == metrics["npz_fid_samples"] == 20 and metrics["fid_samples"] == 10


def test_time_cond_npz_holds_the_judges_reading(work, monkeypatch):
    run_stage("sample", "time_cond", "--no-progress", monkeypatch=monkeypatch)
    out = work / "reports/partB/time_cond"
    metrics = json.loads((work / "reports/partB/time_cond.metrics.json").read_text())
    with np.load(out / "samples.npz") as npz:
        images, labels, confidence = npz["images"], npz["labels"], npz["confidence"]
    assert images.shape == (12, 28, 28) and labels.dtype == np.int64 and confidence.dtype == np.float32
    from fundiff.judge.model import load_classifier
    from fundiff.judge.reading import judge_images as read

    again = read(load_classifier(work / "data/models/classifier/weights"), torch.from_numpy(images).unsqueeze(1))
    assert np.array_equal(again.digits, labels) and np.allclose(again.confidence, confidence)
    assert metrics["npz_confident"] == pytest.approx(float((confidence >= 0.9).mean()))
    shares = [metrics[f"npz_share_digit{d}"] for d in range(10)]
    assert shares == pytest.approx((np.bincount(labels, minlength=10) / 12).tolist()) and sum(shares) == pytest.approx(
        1
    )
    assert metrics["npz_samples"] == 12 and "npz_fid" in metrics and "npz_fid_train_digits" in metrics
    real = read(
        load_classifier(work / "data/models/classifier/weights"),
        to_tensor_images(load_splits(work / "data/mnist").test_images),
    )
    assert metrics["real_confident"] == real.confident_share  # the judge's ceiling, beside npz_confident
    assert (out / "judge_histograms.png").is_file()


def test_time_cond_autoguided_by_its_snapshot(work, monkeypatch):
    run_stage("sample", "time_cond", "--no-progress", monkeypatch=monkeypatch)
    out = work / "reports/partB/time_cond"
    plain = snapshot(out)
    set_params(work, sample__time_cond__autoguide_epoch=1, sample__time_cond__autoguide_weight=2.0)
    run_stage("sample", "time_cond", "--no-progress", monkeypatch=monkeypatch)
    guided = snapshot(out)
    assert guided["samples.npz"] != plain["samples.npz"] and guided["sampling_full.gif"] != plain["sampling_full.gif"]
    assert guided["samples_epoch_001.png"] == plain["samples_epoch_001.png"]  # the snapshots' grids: each alone
    assert "autoguidance" in json.loads((out / "manifest.json").read_text())["text"]
    set_params(work, sample__time_cond__autoguide_weight=1.0)
    run_stage("sample", "time_cond", "--no-progress", monkeypatch=monkeypatch)
    assert snapshot(out)["samples.npz"] == plain["samples.npz"]  # w = 1: the final model alone


def test_guidance_interval_guides_only_inside_it(work, monkeypatch):
    run_stage("sample", "class_cond", "--no-progress", monkeypatch=monkeypatch)
    everywhere = snapshot(work / "reports/partB/class_cond")
    set_params(work, sample__class_cond__guidance_interval=[0.0, 0.5])
    run_stage("sample", "class_cond", "--no-progress", monkeypatch=monkeypatch)
    limited = snapshot(work / "reports/partB/class_cond")
    assert limited["samples.npz"] != everywhere["samples.npz"]
    assert "limited interval" in json.loads(limited["manifest.json"])["text"]
    set_params(work, sample__class_cond__guidance_interval=[0.0, 1.0])
    run_stage("sample", "class_cond", "--no-progress", monkeypatch=monkeypatch)
    assert snapshot(work / "reports/partB/class_cond")["samples.npz"] == everywhere["samples.npz"]


def test_autoguide_epoch_must_be_a_snapshot(work, monkeypatch, capsys):
    set_params(work, sample__time_cond__autoguide_epoch=7, sample__time_cond__autoguide_weight=2.0)
    with pytest.raises(SystemExit) as exit_info:
        run_stage("sample", "time_cond", "--no-progress", monkeypatch=monkeypatch)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "error: sample.time_cond.autoguide_epoch=7 is not a snapshot of the checkpoint (epochs 1, 2); pick one of "
        "them, or add it to train.time_cond.snapshot_epochs"
    )
    assert not (work / "reports/partB/time_cond").exists()


@pytest.mark.parametrize("sampler", ["ddim", "dpm_solver"])
def test_diffusers_fast_samplers_from_the_saved_scheduler(work, monkeypatch, sampler):
    set_params(work, sample__class_cond__fast_sampler=sampler, sample__class_cond__guidance_sweep=[])
    run_stage("sample", "class_cond", "--no-progress", monkeypatch=monkeypatch)
    out = work / "reports/partB/class_cond"
    metrics = json.loads((work / "reports/partB/class_cond.metrics.json").read_text())
    assert metrics["unet_calls_fast"] == 3 and not (out / "guidance_sweep.csv").exists()
    assert not any(k.startswith("sweep_") for k in metrics)
    assert ("DDIM" if sampler == "ddim" else "DPM-Solver") in json.loads((out / "manifest.json").read_text())["text"]


def test_time_cond_and_denoiser_write_their_figures(work, monkeypatch):
    run_stage("sample", "time_cond", "--no-progress", monkeypatch=monkeypatch)
    run_stage("sample_denoiser", monkeypatch=monkeypatch)
    for kind, expected in (
        ("time_cond", {"fid_full", "fid_fast", "fid_train_digits"}),
        ("denoiser", {"mse_unet_sigma_0p5", "mse_blur_sigma_1", "mse_unet_epoch_1_sigma_0p5"}),
    ):
        out = work / "reports/partB" / kind
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["figures"] and all((out / f["path"]).is_file() for f in manifest["figures"])
        assert expected <= set(json.loads((work / f"reports/partB/{kind}.metrics.json").read_text()))
        assert json.loads((out / "metrics.json").read_text()) == manifest["metrics"]


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:100])


CKPT = "data/models/class_cond/checkpoints"


def rerecord(checkpoints: Path) -> None:
    """Record the sha256 of the weights as they are now in train_config.json."""
    config = json.loads((checkpoints / "train_config.json").read_text())
    config["weights_sha256"] = record_sha256(checkpoints)
    (checkpoints / "train_config.json").write_text(json.dumps(config))


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda r: set_params(r, sample__class_cond__guidance_scale=-1.0), r"sample\.class_cond\.guidance_scale=-1\.0"),
        (
            lambda r: set_params(r, sample__class_cond__fast_num_steps=T + 1),
            r"sample\.class_cond\.fast_num_steps=11 must be <= 10, the checkpoint.s number of training timesteps",
        ),
        (lambda r: set_params(r, sample__class_cond__variance="large"), r"sample\.class_cond\.variance='large'"),
        (lambda r: set_params(r, sample__class_cond__guidance=5), r"sample\.class_cond\.guidance is not a known key"),
        (
            lambda r: set_params(r, sample__class_cond__fold_batchnorm="yes"),
            r"sample\.class_cond\.fold_batchnorm='yes' must be true or false",
        ),
        (
            lambda r: truncate(r / CKPT / "final/diffusion_pytorch_model.safetensors"),
            r"final/diffusion_pytorch_model\.safetensors does not match the sha256 recorded .* `dvc repro train@class_cond`",
        ),
        (
            lambda r: (
                shutil.rmtree(r / CKPT / "epoch_001"),
                shutil.copytree(r / "data/models/time_cond/checkpoints/final", r / CKPT / "epoch_001"),
                rerecord(r / CKPT),  # recorded as if trained so: the class check, not the hash, must catch it
            ),
            r"epoch_001/config\.json holds a TimeConditionalUNet, not a ClassConditionalUNet",
        ),
        (
            lambda r: truncate(r / "data/models/classifier/weights/diffusion_pytorch_model.safetensors"),
            r"run `dvc repro classifier`",
        ),
        (lambda r: (r / CKPT / "train_config.json").unlink(), r"train_config\.json is missing"),
        (
            lambda r: (
                set_params(r, sample__class_cond__fast_sampler="ddim"),
                shutil.rmtree(r / CKPT / "scheduler"),
            ),
            r"scheduler/scheduler_config\.json is missing: run `dvc repro train@class_cond`",
        ),
        (
            lambda r: set_params(r, sample__class_cond__guidance_interval=[0.5, 0.2]),
            r"sample\.class_cond\.guidance_interval=\[0\.5, 0\.2\] must be \[lo, hi\] with 0 <= lo < hi <= 1",
        ),
        (
            lambda r: set_params(r, sample__class_cond__autoguide_epoch=1),
            r"sample\.class_cond\.autoguide_epoch is not a known key",
        ),
        (
            lambda r: set_params(r, sample__class_cond__fast_sampler="euler"),
            r"sample\.class_cond\.fast_sampler='euler'",
        ),
        (
            lambda r: set_params(r, sample__class_cond__guidance_sweep=[1, "x"]),
            r"sample\.class_cond\.guidance_sweep has 'x'",
        ),
        (
            lambda r: (r / "data/models/class_cond/live/plots/metrics/train/loss.tsv").unlink(),
            r"train/loss\.tsv is missing .*; run `dvc repro train@class_cond`",
        ),  # fails late, while writing figures
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(work, monkeypatch, capsys, breakage, message):
    breakage(work)
    with pytest.raises(SystemExit) as exit_info:
        run_stage("sample", "class_cond", "--no-progress", monkeypatch=monkeypatch)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("error: ")
    import re

    assert re.search(message, err), err
    assert not any(p.is_file() for p in (work / "reports").rglob("*"))  # nothing at all, not even temp dirs
    assert not any(p.is_dir() for p in (work / "reports").rglob(".*"))


def test_classifier_stage_is_deterministic_and_reports_accuracy(work, monkeypatch, capsys):
    shutil.rmtree(work / "data/models/classifier")
    run_stage("classifier", monkeypatch=monkeypatch)
    first = snapshot(work / "data/models/classifier")
    metrics = json.loads((work / "data/models/classifier/metrics.json").read_text())
    assert 0 <= metrics["test_accuracy"] <= 1 and "test_accuracy_digit9" in metrics
    run_stage("classifier", monkeypatch=monkeypatch)
    assert snapshot(work / "data/models/classifier") == first
    set_params(work, classifier__epochs=0)
    with pytest.raises(SystemExit):
        run_stage("classifier", monkeypatch=monkeypatch)
    assert "classifier.epochs=0 must be >= 1" in capsys.readouterr().err
