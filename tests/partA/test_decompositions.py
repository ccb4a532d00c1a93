"""Decompositions (factorized diffusion, issue 15; fundiff.partA.decompositions): components that sum to the image,
the course's hybrid bit for bit, fixing a component to a reference image, one-line param errors, and the hybrids
experiment end to end on the MNIST backend (tiny untrained UNet) and on tiny random DeepFloyd IF components."""

import copy
import os
import subprocess
import sys

import pytest
import torch
import yaml
from partA_helpers import (
    REPO,
    hybrid_before_decompositions,
    make_partA_root,
    mnist_settings,
    proposed_params,
)
from test_algorithms import ToyDenoiser
from test_deepfloyd import den as if_den  # noqa: F401  (fixtures: the tiny IF backend)
from test_deepfloyd import tiny_if  # noqa: F401

from fundiff.errors import FundiffError
from fundiff.figures.filters import highpass, lowpass
from fundiff.params import ParamSection
from fundiff.partA import algorithms
from fundiff.partA.backends import load_backend
from fundiff.partA.context import Context
from fundiff.partA.decompositions import (
    DECOMPOSITIONS,
    Color,
    LowHigh,
    MotionBlur,
    ThreeBand,
    decomposition_from_params,
    motion_kernel,
)
from fundiff.partA.experiments import hybrids
from fundiff.partA.runner import run_experiment, write_experiment
from fundiff.result_dirs import Manifest

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models on shared cores: see conftest

ALL = {
    "lowhigh": LowHigh(11, 1.75),
    "three_band": ThreeBand(11, 3.0, 1.0),
    "motion_blur": MotionBlur(9, 30.0),
    "color": Color(),
}
SHAPES = {"mnist": (1, 28, 28), "if": (3, 64, 64)}


def test_the_registry_names_the_four():
    assert list(DECOMPOSITIONS) == ["lowhigh", "three_band", "motion_blur", "color"]
    assert {name: d.names for name, d in ALL.items()} == {
        "lowhigh": ("low", "high"),
        "three_band": ("low", "mid", "high"),
        "motion_blur": ("blur", "residual"),
        "color": ("gray", "color"),
    }


@pytest.mark.parametrize(
    "name,shape",
    [(name, shape) for name in sorted(ALL) for shape in sorted(SHAPES) if (name, shape) != ("color", "mnist")],
)  # color on 1 channel is refused: test_color_is_refused_on_one_channel
def test_components_sum_to_the_input(name, shape):
    d, image_shape = ALL[name], SHAPES[shape]
    d.check(image_shape, "p")
    x = torch.randn(2, *image_shape, generator=torch.Generator().manual_seed(0))
    parts = d.components(x)
    assert len(parts) == len(d.names) and all(part.shape == x.shape for part in parts)
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    torch.testing.assert_close(total, x, atol=1e-5, rtol=0)
    assert all(part.abs().max() > 1e-3 for part in parts)  # every component carries something


def test_components_are_what_they_say():
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    low, mid, high = ThreeBand(11, 3.0, 1.0).components(x)
    assert torch.equal(low, lowpass(x, 11, 3.0))
    torch.testing.assert_close(mid, lowpass(x, 11, 1.0) - lowpass(x, 11, 3.0))
    torch.testing.assert_close(high, x - lowpass(x, 11, 1.0))
    gray, color = Color().components(x)
    assert torch.equal(gray[:, 0], gray[:, 1]) and torch.equal(gray[:, 0], gray[:, 2])
    torch.testing.assert_close(gray[:, 0], x.mean(dim=1))
    torch.testing.assert_close(color.mean(dim=1), torch.zeros(2, 64, 64), atol=1e-6, rtol=0)
    low, high = LowHigh(11, 1.75).components(x)
    assert torch.equal(low, lowpass(x, 11, 1.75)) and torch.equal(high, highpass(x, 11, 1.75))


def test_motion_kernel_is_a_normalised_line():
    k = motion_kernel(9, 0.0)
    assert k.shape == (9, 9) and abs(float(k.sum()) - 1) < 1e-6
    assert torch.equal(k[4], torch.full((9,), 1 / 9)) and k.sum() == k[4].sum()  # horizontal: the centre row only
    torch.testing.assert_close(motion_kernel(9, 90.0), k.T)  # vertical: the centre column
    diagonal = motion_kernel(7, 45.0)
    torch.testing.assert_close(diagonal, diagonal.T)  # mirror-symmetric across the line's normal and the line
    torch.testing.assert_close(diagonal, diagonal.flip(0, 1).T)
    # rows point down: 45° runs from bottom-left to top-right, 7 px long (the far corners, 3√2 px out, stay empty)
    assert [int(row.argmax()) for row in diagonal[1:6]] == [5, 4, 3, 2, 1] and diagonal[0, 0] == diagonal[6, 0] == 0
    # a horizontal blur leaves a constant image and vertical stripes' columns alone... and smears along rows
    d = MotionBlur(5, 0.0)
    flat = torch.full((1, 1, 12, 12), 0.3)
    torch.testing.assert_close(d.blur(flat), flat)
    rows = torch.zeros(1, 1, 12, 12)
    rows[..., 6, :] = 1  # a horizontal line is unchanged by a horizontal blur
    torch.testing.assert_close(d.blur(rows), rows)
    dot = torch.zeros(1, 1, 12, 12)
    dot[..., 6, 6] = 1
    torch.testing.assert_close(d.blur(dot)[0, 0, 6, 4:9], torch.full((5,), 0.2))


# ---- the course's hybrid, bit for bit ------------------------------------------------------------------------------


@pytest.mark.parametrize("learned", [False, True])
def test_lowhigh_is_the_old_hybrid_bit_for_bit_on_a_toy(learned):
    den = ToyDenoiser(learned_variance=learned, size=16)
    x = torch.randn(3, 1, 16, 16, generator=torch.Generator().manual_seed(2))
    a, b = den.encode("a"), den.encode("b")
    new = algorithms.hybrid(den, LowHigh(5, 1.0), [a, b], 2.0)
    old = hybrid_before_decompositions(den, a, b, 2.0, 5, 1.0)
    for t in (299, 150, 0):
        (e_new, v_new), (e_old, v_old) = new(x, t), old(x, t)
        assert torch.equal(e_new, e_old)
        assert (v_new is None and v_old is None) or torch.equal(v_new, v_old)


def test_hybrid_needs_one_condition_per_component():
    den = ToyDenoiser()
    with pytest.raises(FundiffError, match="three_band has 3 components, got 2 conditions"):
        algorithms.hybrid(den, ThreeBand(5, 2.0, 1.0), [den.encode("a")] * 2, 2.0)


# ---- params ---------------------------------------------------------------------------------------------------------

PREFIX = "partA.experiments.hybrids.mnist"


def _section(**values):
    base = {**hybrids.DEFAULTS, **proposed_params()["experiments"]["hybrids"]["mnist"]}
    return ParamSection({**base, **values}, PREFIX, hybrids.KEYS)


def test_the_default_is_the_course_hybrid():
    d = decomposition_from_params(_section(), (1, 28, 28))
    assert isinstance(d, LowHigh) and (d.kernel_size, d.sigma) == (11, 1.75)
    assert d.params() == {"blur_kernel_size": 11, "blur_sigma": 1.75}  # the report's params of today's hybrids
    d = decomposition_from_params(_section(decomposition="motion_blur", blur_length=7), (1, 28, 28))
    assert (d.length, d.angle) == (7, 0.0)


def test_color_is_refused_on_one_channel():
    with pytest.raises(FundiffError) as info:
        decomposition_from_params(_section(decomposition="color"), (1, 28, 28))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{PREFIX}.decomposition=color needs colour (3-channel) images")
    assert isinstance(decomposition_from_params(_section(decomposition="color"), (3, 64, 64)), Color)


@pytest.mark.parametrize(
    "values,message",
    [
        ({"decomposition": "four_band"}, r"\.decomposition='four_band' is unknown; use one of lowhigh, three_band"),
        ({"decomposition": "three_band", "sigma_mid": 1.0}, r"\.sigma_low is needed by decomposition three_band"),
        ({"decomposition": "three_band", "sigma_low": 1.0, "sigma_mid": 2.0}, r"\.sigma_low=1.0 must be > .*sigma_mid"),
        ({"decomposition": "three_band", "sigma_low": "x", "sigma_mid": 1.0}, r"\.sigma_low='x' must be a finite"),
        ({"decomposition": "three_band", "sigma_low": 3.0, "sigma_mid": 0}, r"\.sigma_mid=0 must be > 0"),
        (
            {"decomposition": "three_band", "sigma_low": 3, "sigma_mid": 1, "blur_kernel_size": 4},
            r"\.blur_kernel_size=4 must",
        ),
        ({"decomposition": "motion_blur"}, r"\.blur_length is needed by decomposition motion_blur"),
        ({"decomposition": "motion_blur", "blur_length": 8}, r"\.blur_length=8 must be an odd integer >= 3"),
        ({"decomposition": "motion_blur", "blur_length": 1}, r"\.blur_length=1 must be >= 3"),
        ({"decomposition": "motion_blur", "blur_length": 61}, r"\.blur_length=61 is too large for 28×28"),
        ({"decomposition": "motion_blur", "blur_length": 5, "blur_angle": "up"}, r"\.blur_angle='up' must be a"),
        ({"sigma_low": 3.0}, r"\.sigma_low is not used by decomposition lowhigh; .*\(three_band\)"),
        ({"decomposition": "color", "blur_length": 5}, r"\.blur_length is not used by decomposition color"),
    ],
)
def test_bad_decomposition_params_are_one_line_and_name_the_key(values, message):
    with pytest.raises(FundiffError, match=rf"^{PREFIX}{message}") as info:
        decomposition_from_params(
            _section(**values), (1, 28, 28) if values.get("decomposition") != "color" else (3, 8, 8)
        )
    assert "\n" not in str(info.value)


# ---- from a reference image -----------------------------------------------------------------------------------------


class ToyRGB(ToyDenoiser):
    """The toy linear 'model' on 3×8×8 images in [−1, 1]."""

    def __init__(self):
        super().__init__(value_range=(-1.0, 1.0))
        g = torch.Generator().manual_seed(4)
        self.image_shape = (3, 8, 8)
        self.weight = torch.randn(192, 192, generator=g) / 14
        self.bias = torch.randn(3, 192, generator=g)


def _fixed_and_free(den, d, index, reference, timesteps):
    """The reference run's and a free run's distance of component ``index`` to the reference's, and of the others."""
    eps_fn = algorithms.hybrid(den, d, [den.encode(q) for q in ("a", "b", "")[: len(d.names)]], 2.0)
    fixed = algorithms.sample_with_component(
        den, 4, timesteps, eps_fn, torch.Generator().manual_seed(0), d, index, reference
    )
    free = algorithms.sample(den, 4, timesteps, eps_fn, torch.Generator().manual_seed(0))
    want = d.components(reference)[index]
    return [(d.components(x)[index] - want).abs().max().item() for x in (fixed, free)], fixed


def test_reference_fixes_the_projection_component_exactly():
    """color is a projection: after the last step the gray component is the reference's, noised to t = 0 (within the
    noise of ᾱ_0), or exactly the reference's when the last step goes to t = −1 (x̂0, no noise); the colour is free."""
    den = ToyRGB()
    reference = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(5)) * 2 - 1
    timesteps = den.default_timesteps
    assert timesteps[-1] == 0
    (fixed, free), out = _fixed_and_free(den, Color(), 0, reference, timesteps)
    noise_at_0 = float((1 - den.alphas_cumprod[0]).sqrt())
    assert fixed < 6 * noise_at_0 < free
    assert (Color().components(out)[1] - Color().components(reference)[1]).abs().max() > 0.1  # colour: generated
    (fixed, free), _ = _fixed_and_free(den, Color(), 0, reference, [*timesteps[:-1], -1])
    assert fixed < 1e-4 < free  # float rounding of x − gray(x) + gray(reference)


@pytest.mark.parametrize("d,index", [(LowHigh(5, 1.0), 0), (ThreeBand(5, 2.0, 0.7), 1), (MotionBlur(5, 45.0), 1)])
def test_reference_pins_the_component_of_a_filter_split(d, index):
    """For a Gaussian or motion blur (not projections: f(f(x)) ≠ f(x)), x ← x − f_i(x) + f_i(reference_t) pins the
    output's component i near the reference's: far nearer than a free run's."""
    den = ToyDenoiser(size=8)
    reference = torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(6))
    (fixed, free), _ = _fixed_and_free(den, d, index, reference, den.default_timesteps)
    assert fixed < 0.25 * free


# ---- end to end: the MNIST backend (tiny untrained UNet) -------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist(tmp_path_factory):
    root = make_partA_root(tmp_path_factory.mktemp("decompositions_mnist"))
    settings = mnist_settings(root)
    section = copy.deepcopy(proposed_params()["experiments"]["hybrids"]["mnist"])
    section.update(num_samples=2, best_of=1, pairs=section["pairs"][:1])
    return root, load_backend("mnist", settings), section


def test_lowhigh_samples_as_before_on_the_mnist_unet(mnist):
    """The default hybrid on a real (tiny) class-conditioned UNet with CFG: the very tensor of the old algorithms.hybrid."""
    _, den, section = mnist
    a, b = den.encode("1"), den.encode("7")
    old = hybrid_before_decompositions(den, a, b, 5.0, 11, 1.75)
    new = algorithms.hybrid(den, LowHigh(11, 1.75), [a, b], 5.0)
    ts = den.default_timesteps
    assert torch.equal(
        algorithms.sample(den, 3, ts, new, torch.Generator().manual_seed(0)),
        algorithms.sample(den, 3, ts, old, torch.Generator().manual_seed(0)),
    )


def _judge(reads: list):
    def classify(images01):
        assert images01.shape[1:] == (1, 28, 28) and images01.min() >= 0 and images01.max() <= 1
        reads.append(len(images01))
        return torch.nn.functional.one_hot(torch.full((len(images01),), 8), 10).float()  # always reads "8"

    return classify


@pytest.mark.parametrize(
    "extra,pairs,names",
    [
        ({}, [{"low": "8", "high": "8"}, {"low": "1", "high": "8"}], ("low-pass", "high-pass")),
        (
            {"decomposition": "three_band", "blur_kernel_size": 13, "sigma_low": 2.5, "sigma_mid": 1.0},
            [{"low": "8", "mid": "8", "high": "8"}, {"low": "8", "mid": "3", "high": "8"}],
            ("low band", "mid band", "high band"),
        ),
        (
            {"decomposition": "motion_blur", "blur_length": 7, "blur_angle": 30},
            [{"blur": "eight", "residual": "8"}, {"blur": "0", "residual": "1"}],
            ("motion blur", "residual"),
        ),
        (
            {"decomposition": "three_band", "sigma_low": 2.5, "sigma_mid": 1.0, "reference": "mnist-test:8:1"},
            [{"low": "8", "mid": "8", "high": "8"}, {"low": "8", "mid": "3", "high": "8"}],
            ("low band", "mid band", "high band"),
        ),
    ],
    ids=["lowhigh", "three_band", "motion_blur", "three_band_reference"],
)
def test_hybrids_end_to_end_on_mnist(mnist, tmp_path, extra, pairs, names):
    root, den, section = mnist
    if "reference" in extra:
        extra = dict(extra, reference_component="low")
    reads: list = []
    ctx = Context(backend=den, seed=180, classify=_judge(reads), root=root, mnist_dir="data/mnist")
    result = run_experiment("hybrids", ctx, dict(section, pairs=pairs, **extra), PREFIX)
    k = len(names)
    assert reads == [2] * k * len(pairs)  # each component read once per pair, in its own view
    # the stub reads every image as 8: the all-8 pair succeeds, the other fails
    assert result.metrics == {"success_rate_1": 1.0, "success_rate_2": 0.0, "success_rate": 0.5, "num_images": 4}
    write_experiment("hybrids", result, tmp_path / "out", tmp_path / "m.json")
    manifest = Manifest.read(tmp_path / "out")
    figures = [f.path for f in manifest.figures]
    assert figures == [*(["reference.png"] if "reference" in extra else []), "hybrid_1.png", "hybrid_2.png"]
    if extra.get("decomposition"):
        assert manifest.params["decomposition"] == extra["decomposition"] and "blur_sigma" not in manifest.params
        assert result.text.startswith(f"Factorized diffusion ({extra['decomposition']})")
    else:
        assert "decomposition" not in manifest.params and result.text.startswith("Hybrid images: ε = lowpass")
    assert "Success means the judge reads" in result.text
    if "reference" in extra:
        assert manifest.params["reference"] == "mnist-test:8:1" and manifest.params["reference_component"] == "low"
        assert "the low component is that of mnist-test:8:1" in result.text
    from PIL import Image

    cell = Image.open(tmp_path / "out/hybrid_1.png")
    assert cell.size[1] > (1 + k) * 112  # the hybrid and one row per component


def test_best_of_reads_every_component(mnist):
    """Best-of-N keeps the candidate read most surely every way (the product of the K probabilities): here only the
    mid view tells the two candidates apart, reading the first as a 3."""
    root, den, section = mnist
    calls = []

    def classify(images01):
        calls.append(len(images01))
        probs = torch.full((len(images01), 10), 0.05)
        probs[:, 8] = 0.5
        if len(calls) == 2:  # the mid view (low, mid, high in order)
            probs[0, 3], probs[0, 8] = 0.9, 0.05
        return probs

    ctx = Context(backend=den, seed=0, classify=classify, root=root)
    three = dict(section, decomposition="three_band", sigma_low=2.5, sigma_mid=1.0, best_of=2, num_samples=1)
    result = run_experiment("hybrids", ctx, dict(three, pairs=[{"low": "8", "mid": "8", "high": "8"}]), PREFIX)
    assert calls == [2, 2, 2]
    assert result.metrics["success_rate_drawn"] == 0.5 and result.metrics["success_rate"] == 1.0
    assert "reads most surely every way (the product of its 3 probabilities)" in result.text


@pytest.mark.parametrize(
    "values,message",
    [
        (
            {"pairs": [{"low": "1", "high": "7"}], "decomposition": "three_band", "sigma_low": 2.0, "sigma_mid": 1.0},
            r"\.pairs\[0\] must be \{low: prompt, mid: prompt, high: prompt\} \(decomposition three_band\)",
        ),
        (
            {"pairs": [{"blur": "1", "residual": 7}], "decomposition": "motion_blur", "blur_length": 5},
            r"\.pairs\[0\]\.residual=7 must be a string",
        ),
        ({"reference_component": "low"}, r"\.reference_component needs .*\.reference \(an image\)"),
        (
            {"reference": "mnist-test:3:1", "reference_component": "mid"},
            r"\.reference_component='mid' must name a component of lowhigh: low, high",
        ),
        ({"reference": "mnist-test:3:2", "reference_component": "low"}, r"\.reference='mnist-test:3:2' names 2 images"),
        (
            {"reference": "data/images/none.png", "reference_component": "low"},
            r"\.reference\[0\]: .*none.png not found",
        ),
        (
            {"reference": ["mnist-test:3:1"], "reference_component": "low"},
            r"\.reference=\['mnist-test:3:1'\] must be one",
        ),
        ({"decomposition": "color"}, r"\.decomposition=color needs colour \(3-channel\) images"),
        ({"reference_image": "x"}, r"\.reference_image is not a known key"),
    ],
)
def test_bad_hybrids_params_name_the_key(mnist, values, message):
    root, den, section = mnist
    ctx = Context(backend=den, seed=0, root=root)
    with pytest.raises(FundiffError, match=rf"^{PREFIX}{message}") as info:
        run_experiment("hybrids", ctx, dict(section, **values), PREFIX)
    assert "\n" not in str(info.value)


def test_stage_refuses_color_on_mnist_in_one_line(mnist, tmp_path):
    """Through the stage entry: exit 2, one line naming the key, nothing written."""
    root, _, section = mnist
    raw = proposed_params()
    raw["backends"]["mnist"].update(classifier=None, timesteps={"start": 297, "stride": 99})
    raw["experiments"] = {"hybrids": {"mnist": dict(section, decomposition="color")}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"seed": 180, "partA": raw}))
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO), FUNDIFF_PARAMS=str(tmp_path / "params.yaml"))
    done = subprocess.run(
        [sys.executable, "-m", "stages.partA", "hybrids", "--out", str(tmp_path / "out")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {PREFIX}.decomposition=color needs colour"), lines
    assert not (tmp_path / "out").exists()


# ---- end to end: tiny random DeepFloyd IF ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra,pairs",
    [
        (
            {"decomposition": "three_band", "blur_kernel_size": 5, "sigma_low": 2.0, "sigma_mid": 0.8},
            [{"low": "a lithograph of a skull", "mid": "a rocket ship", "high": "a lithograph of waterfalls"}],
        ),
        ({"decomposition": "color"}, [{"gray": "a lithograph of a skull", "color": "a rocket ship"}]),
        (
            {"decomposition": "color", "reference": "data/images/shipped/astronaut.png", "reference_component": "gray"},
            [{"gray": "a lithograph of a skull", "color": "a rocket ship"}],
        ),
        (
            {"decomposition": "motion_blur", "blur_length": 5, "blur_angle": 90},
            [{"blur": "a photo of a dog", "residual": "a rocket ship"}],
        ),
    ],
    ids=["three_band", "color", "color_reference", "motion_blur"],
)
def test_hybrids_end_to_end_on_deepfloyd(tiny_if, if_den, tmp_path, extra, pairs):  # noqa: F811
    root, _, exps = tiny_if
    ctx = Context(backend=if_den, seed=180, root=root / "work")
    prefix = "partA.experiments.hybrids.deepfloyd"
    result = run_experiment("hybrids", ctx, dict(exps["hybrids"], pairs=pairs, **extra), prefix)
    write_experiment("hybrids", result, tmp_path / "out", tmp_path / "m.json")
    manifest = Manifest.read(tmp_path / "out")
    assert manifest.params["decomposition"] == extra["decomposition"] and manifest.params["backend"] == "deepfloyd"
    assert [f.path for f in manifest.figures][-1] == "hybrid_1.png"
    assert result.metrics == {"num_images": 1}  # no judge for IF prompts


def test_deepfloyd_reference_keeps_the_gray_component(if_den):  # noqa: F811
    den = if_den
    """The IF step (learned variance) with the gray component pinned to a reference: after the last step (t = 0) the
    output's gray is the reference's within the noise of ᾱ_0."""
    d = Color()
    reference = torch.rand(1, 3, *den.image_shape[1:], generator=torch.Generator().manual_seed(7)) * 2 - 1
    conds = [den.encode("a lithograph of a skull"), den.encode("a rocket ship")]
    eps_fn = algorithms.hybrid(den, d, conds, 7.0)
    out = (
        algorithms.sample_with_component(
            den, 2, den.default_timesteps, eps_fn, torch.Generator().manual_seed(0), d, 0, reference.to(den.dtype)
        )
        .float()
        .cpu()
    )
    gap = (d.components(out)[0] - d.components(reference)[0]).abs().max().item()
    noise_at_0 = float((1 - den.alphas_cumprod[0]).sqrt())
    assert gap < 6 * noise_at_0 + (3e-2 if den.dtype == torch.float16 else 1e-5)
