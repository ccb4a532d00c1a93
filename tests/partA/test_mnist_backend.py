"""Part A on the MNIST backend: the stage CLI (atomic output, one-line errors, deterministic bytes), every experiment
with a stub digit classifier, input conversion, and bad input."""

import copy
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml
from partA_helpers import REPO, inpaint_before_repaint, make_partA_root, mnist_settings, proposed_params
from PIL import Image

from fundiff.errors import FundiffError
from fundiff.params import ParamSection
from fundiff.partA import algorithms
from fundiff.partA.backends import load_backend
from fundiff.partA.backends.mnist import MnistBackend
from fundiff.partA.context import Context
from fundiff.partA.experiment_params import load_images
from fundiff.partA.experiments import inpainting
from fundiff.partA.inputs import load_inputs, load_mask
from fundiff.partA.registry import EXPERIMENTS
from fundiff.partA.runner import run_experiment, write_experiment
from fundiff.result_dirs import Manifest

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models on shared cores: see conftest


def _tiny_experiments() -> dict:
    """The proposed mnist sections with short loops: 4 strided timesteps, few images."""
    exps = {name: copy.deepcopy(section["mnist"]) for name, section in proposed_params()["experiments"].items()}
    exps["pipeline"]["num_inference_steps"] = [3, 5]
    exps["pipeline"]["num_per_prompt"] = 1
    for name in ("forward", "blur", "one_step", "iterative", "text_img2img"):
        exps[name]["images"] = ["mnist-test:all:1"]
    for name in ("sdedit", "text_img2img"):
        exps[name]["i_starts"] = [0, 2]
    exps["iterative"].update(i_start=1, show_every=1)
    exps["inpainting"]["images"] = ["mnist-test:3:2"]
    for name in ("anagrams", "hybrids"):
        exps[name]["num_samples"] = 2
    return exps


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A working directory laid out like the repository: data/mnist, data/images/shipped, a tiny checkpoint, params."""
    root = make_partA_root(tmp_path_factory.mktemp("partA_mnist"))
    raw = proposed_params()
    raw["backends"]["mnist"].update(classifier=None, timesteps={"start": 297, "stride": 99})
    raw["experiments"] = {name: {"mnist": section} for name, section in _tiny_experiments().items()}
    (root / "params.yaml").write_text(yaml.safe_dump({"seed": 180, "partA": raw}, sort_keys=False))
    return root


@pytest.fixture(scope="module")
def den(work):
    return load_backend("mnist", mnist_settings(work))


def _stage(work, *args):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", *args], cwd=work, env=env, capture_output=True, text=True, timeout=120)


def test_stage_writes_figures_manifest_metrics_and_is_deterministic(work):
    first = _stage(work, "stages.partA", "forward")
    assert first.returncode == 0, first.stderr
    out = work / "reports/partA/forward"
    manifest = Manifest.read(out)
    assert manifest.section == "A 1.1" and manifest.params["backend"] == "mnist"
    assert [f.path for f in manifest.figures] == ["forward.png"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert (work / "reports/partA/forward.metrics.json").read_text() == (out / "metrics.json").read_text()
    assert set(metrics) == {"mse_noisy_t75", "mse_noisy_t150", "mse_noisy_t225"}
    assert metrics["mse_noisy_t75"] < metrics["mse_noisy_t150"] < metrics["mse_noisy_t225"]
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    again = _stage(work, "stages.partA", "forward")
    assert again.returncode == 0, again.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_shipped_inputs_stage_is_deterministic(work, tmp_path, monkeypatch, capsys):
    from stages import partA_inputs

    shipped = {p.name: p.read_bytes() for p in (work / "data/images/shipped").iterdir()}
    monkeypatch.setattr("fundiff.timings.TIMINGS_FILE", tmp_path / "timings.json")  # keep the repo's timings clean
    monkeypatch.setattr(
        sys, "argv", ["partA_inputs", "--mnist", str(work / "data/mnist"), "--out", str(tmp_path / "s")]
    )
    partA_inputs.main()
    assert {p.name: p.read_bytes() for p in (tmp_path / "s").iterdir()} == shipped
    assert len(shipped) == 10 and Image.open(tmp_path / "s/hand_digit_5.jpg").format == "JPEG"
    monkeypatch.setattr(sys, "argv", ["partA_inputs", "--mnist", str(tmp_path / "none"), "--out", str(tmp_path / "t")])
    with pytest.raises(SystemExit) as info:
        partA_inputs.main()
    assert info.value.code == 2 and "has no test split; run `dvc repro data`" in capsys.readouterr().err
    assert not (tmp_path / "t").exists()


def test_stage_bad_param_is_one_line_and_writes_nothing(work):
    params = yaml.safe_load((work / "params.yaml").read_text())
    bad = copy.deepcopy(params)
    bad["partA"]["experiments"]["iterative"]["mnist"]["i_start"] = 40
    path = work / "bad_params.yaml"
    path.write_text(yaml.safe_dump(bad))
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO), FUNDIFF_PARAMS=str(path))
    done = subprocess.run(
        [sys.executable, "-m", "stages.partA", "iterative"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "error: partA.experiments.iterative.mnist.i_start=40 is outside the strided timesteps: use an index 0..2"
    ), lines
    assert (
        not (work / "reports/partA/iterative").exists() and not (work / "reports/partA/iterative.metrics.json").exists()
    )
    assert not [p for p in (work / "reports/partA").glob(".*tmp*")]


def test_every_experiment_with_a_stub_classifier(work, den, tmp_path):
    reads = []

    def classify(images01):
        assert images01.shape[1:] == (1, 28, 28) and images01.min() >= 0 and images01.max() <= 1
        reads.append(len(images01))
        return torch.nn.functional.one_hot(torch.full((len(images01),), 8), 10).float()  # always reads "8"

    ctx = Context(backend=den, seed=180, classify=classify, root=work)
    exps = _tiny_experiments()
    results = {}
    for name in EXPERIMENTS:
        result = run_experiment(name, ctx, exps[name], f"partA.experiments.{name}.mnist")
        write_experiment(name, result, tmp_path / name, tmp_path / f"{name}.metrics.json")
        assert Manifest.read(tmp_path / name).figures, name
        results[name] = result.metrics
    assert reads
    # the stub reads every image as 8: prompts of 8 succeed, everything else fails
    assert results["text_img2img"]["success_rate"] == 1.0  # prompt "a handwritten 8"
    assert results["inpainting"]["success_rate"] == 1.0  # prompt "8"
    assert results["cfg"]["accuracy"] == 0.0 and results["anagrams"]["success_rate"] == 0.0
    assert set(results["iterative"]) == {"mse_noisy", "mse_iterative", "mse_one_step", "mse_blur"}
    assert {"success_rate_1_flip", "success_rate_2_rotate_cw", "success_rate_4_negate"} <= set(results["anagrams"])
    assert results["inpainting"]["mse_outside_mask"] < 1e-3  # the kept half is the original (up to t = 0 noise)
    assert 0 <= results["inpainting"]["boundary_error"] <= 1
    for metrics in results.values():
        assert all(isinstance(v, (int, float)) and np.isfinite(v) for v in metrics.values())


def test_inpainting_without_resampling_is_todays_bit_for_bit(work, den):
    """jump_n_sample = 1 on a real (tiny) class-conditioned UNet with CFG: the very tensor of the loop before RePaint's
    resampling (tests/partA/partA_helpers.py)."""
    section = _tiny_experiments()["inpainting"]
    assert (section["jump_length"], section["jump_n_sample"]) == (1, 1)  # the shipped default
    ctx = Context(backend=den, seed=180, root=work)
    _, x0 = load_images(ctx, ParamSection(section, "p", inpainting.KEYS))
    mask = load_mask(den, section["mask"], "p", root=work)
    eps_fn = algorithms.cfg(den, den.encode(section["prompt"]), section["guidance_scale"])
    expected = inpaint_before_repaint(den, x0, mask, ctx.timesteps, eps_fn, ctx.generator())
    for jump_length in (1, 2):
        out = algorithms.inpaint(den, x0, mask, ctx.timesteps, eps_fn, ctx.generator(), jump_length=jump_length)
        assert torch.equal(out, expected)


def test_inpainting_with_resampling_end_to_end(work, den, tmp_path, monkeypatch):
    exps = _tiny_experiments()
    ctx = Context(
        backend=den,
        seed=180,
        classify=lambda images01: torch.nn.functional.one_hot(torch.full((len(images01),), 8), 10).float(),
        root=work,
    )
    prefix = "partA.experiments.inpainting.mnist"
    once = run_experiment("inpainting", ctx, exps["inpainting"], prefix)
    calls = []
    predict = den.predict
    with monkeypatch.context() as patch:
        patch.setattr(den, "predict", lambda x, t, cond: calls.append(t) or predict(x, t, cond))
        resampled = run_experiment("inpainting", ctx, dict(exps["inpainting"], jump_length=2, jump_n_sample=3), prefix)
    # timesteps 297, 198, 99, 0: level 0 jumps back up 2 steps twice: 297, 198, 99, 0, 198, 99, 0, 198, 99, 0
    assert calls == [297, 198, 99, 198, 99, 198, 99]  # one batched CFG call per step down, none per jump
    write_experiment("inpainting", resampled, tmp_path / "out", tmp_path / "inpainting.metrics.json")
    metrics = json.loads((tmp_path / "inpainting.metrics.json").read_text())
    assert set(metrics) == {"mse_outside_mask", "boundary_error", "num_images", "success_rate"}
    assert metrics["mse_outside_mask"] < 1e-3 and 0 <= metrics["boundary_error"] <= 1
    assert set(once.metrics) == set(metrics) and once.metrics["num_images"] == metrics["num_images"] == 2
    manifest = Manifest.read(tmp_path / "out")
    assert manifest.params["jump_length"] == 2 and manifest.params["jump_n_sample"] == 3
    assert "RePaint's resampling" in resampled.text and "RePaint's resampling" not in once.text
    assert once.params["jump_n_sample"] == 1


def test_user_images_become_mnist_digits(work, den):
    inputs = load_inputs(
        den,
        [
            "data/images/shipped/hand_digit_2.png",
            "data/images/shipped/hand_digit_5.jpg",
            "data/images/shipped/mnist_test_7.png",
            "mnist-test:all:1",
        ],
        "p",
        root=work,
    )
    assert inputs.images.shape == (13, 1, 28, 28) and inputs.labels[3:] == list(range(10))
    for drawing in inputs.images[:2]:  # dark ink on paper -> light digit on black, centred in a 20-pixel box
        assert drawing[0, :4].max() < 0.05 and drawing[0, 10:18, 10:18].max() > 0.9
    np.testing.assert_allclose(
        inputs.images[2, 0].numpy() * 255,
        np.asarray(Image.open(work / "data/images/shipped/mnist_test_7.png")),
        atol=1e-3,
    )


def test_digit_prompts_and_null_condition(den):
    assert isinstance(den, MnistBackend) and den.value_range == (0.0, 1.0)
    assert den.encode("a handwritten 7")[0].argmax() == 7 and den.encode("seven").sum() == 1
    assert den.null_condition().abs().sum() == 0 and den.encode("").abs().sum() == 0


@pytest.mark.parametrize(
    "name, change, message",
    [
        (
            "sdedit",
            {"images": ["data/images/nope.png"]},
            r"partA.experiments.sdedit.mnist.images\[0\]: .*data/images/nope.png not found",
        ),
        (
            "inpainting",
            {"mask": "data/images/shipped/mask_64_top.png"},
            r"partA.experiments.inpainting.mnist.mask: .*mask_64_top.png is 64×64; the mnist backend needs a 28×28 mask",
        ),
        (
            "sdedit",
            {"i_starts": [0, 3]},
            r"partA.experiments.sdedit.mnist.i_starts=3 is outside the strided timesteps: use an index 0..2",
        ),
        (
            "cfg",
            {"prompt": "a handwritten seventeen"},
            r"partA.experiments.cfg.mnist.prompt: prompt 'a handwritten seventeen' does not name exactly one digit",
        ),
        (
            "anagrams",
            {"illusions": [{"view": "flip", "prompts": ["6", "a cat"]}]},
            r"partA.experiments.anagrams.mnist.illusions\[0\].prompts\[1\]: prompt 'a cat' does not name",
        ),
        ("cfg", {"guidance_scale": -1.0}, r"partA.experiments.cfg.mnist.guidance_scale=-1.0 must be >= 0"),
        ("inpainting", {"jump_length": 0}, r"^partA.experiments.inpainting.mnist.jump_length=0 must be >= 1$"),
        (
            "inpainting",
            {"jump_n_sample": "3"},
            r"^partA.experiments.inpainting.mnist.jump_n_sample='3' must be an integer \(without quotes\)$",
        ),
        (
            "inpainting",
            {"jump_n_sample": 2.0},
            r"^partA.experiments.inpainting.mnist.jump_n_sample=2.0 must be an integer$",
        ),
        ("cfg", {"gamma": 5}, r"partA.experiments.cfg.mnist.gamma is not a known key"),
        ("forward", {"images": ["mnist-test:7:99"]}, r"images\[0\]: the test split has only 10 digits of class 7"),
        ("forward", {"timesteps": [300]}, r"forward.mnist.timesteps has 300; timesteps are integers in 0..299"),
    ],
)
def test_bad_input_names_the_param(work, den, name, change, message):
    section = dict(_tiny_experiments()[name], **change)
    with pytest.raises(FundiffError, match=message) as info:
        run_experiment(name, Context(backend=den, seed=0, root=work), section, f"partA.experiments.{name}.mnist")
    assert "\n" not in str(info.value)


def test_missing_checkpoint_names_the_param(tmp_path):
    settings = dict(proposed_params()["backends"]["mnist"], checkpoint=str(tmp_path / "none"))
    with pytest.raises(
        FundiffError, match=r"partA.backends.mnist.checkpoint: .*none is not a saved ClassConditionalUNet"
    ):
        load_backend("mnist", settings)
    with pytest.raises(FundiffError, match="partA.backend='imagen' is unknown"):
        load_backend("imagen", {})


def test_folded_channels_last_denoiser_predicts_what_the_trained_model_does(work, den):
    settings = proposed_params()["backends"]["mnist"]
    settings.update(
        checkpoint=str(work / settings["checkpoint"]),
        train_config=str(work / settings["train_config"]),
        timesteps={"start": 297, "stride": 99},
        fold_batchnorm=False,
        channels_last=False,
    )
    as_trained = load_backend("mnist", settings)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in as_trained.model.modules())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in den.model.modules())  # the shipped params fold
    x = torch.randn(5, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    cond = torch.cat([den.encode(str(d)) for d in range(5)])
    torch.testing.assert_close(den.predict(x, 150, cond)[0], as_trained.predict(x, 150, cond)[0], rtol=1e-4, atol=1e-5)
    with pytest.raises(FundiffError, match=r"^partA.backends.mnist.fold_batchnorm='yes' must be true or false$"):
        load_backend("mnist", dict(settings, fold_batchnorm="yes"))
