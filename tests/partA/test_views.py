"""The anagram views (fundiff.partA.views): exact inverses on images, noise and variances at both backends' shapes,
permutations, seeds, what each view does, an oracle anagram per view, and the illusion params' view arguments."""

import pytest
import torch

from fundiff.diffusion.noise_schedule import alphas_cumprod_from_betas, linear_betas, scaled_timesteps
from fundiff.diffusion.reverse import step_variance
from fundiff.errors import FundiffError
from fundiff.partA import algorithms
from fundiff.partA.backends.base import Backend
from fundiff.partA.best_of import Legibility, best_of
from fundiff.partA.context import Context
from fundiff.partA.runner import run_experiment
from fundiff.partA.views import (
    VIEWS,
    FlipView,
    IdentityView,
    InnerRotateView,
    JigsawView,
    NegateView,
    PatchPermuteView,
    PermutationView,
    PixelPermuteView,
    Rotate90CWView,
    SkewView,
    get_view,
)
from fundiff.partA.views.jigsaw import TURN, pieces

pytestmark = pytest.mark.usefixtures("one_thread")

SHAPES = [(2, 1, 28, 28), (2, 3, 64, 64)]  # a batch of 2 at MNIST's and DeepFloyd stage I's shapes
NEW = ["skew", "patch_permute", "pixel_permute", "jigsaw", "inner_rotate"]
SEEDED = {"patch_permute": PatchPermuteView, "pixel_permute": PixelPermuteView, "jigsaw": JigsawView}


def test_the_registry_keeps_the_old_names_and_adds_five():
    assert list(VIEWS)[:6] == ["identity", "flip", "rotate_cw", "rotate_ccw", "rotate_180", "negate"]
    assert sorted(VIEWS) == sorted(["identity", "flip", "rotate_cw", "rotate_ccw", "rotate_180", "negate", *NEW])
    assert all(issubclass(VIEWS[name], PermutationView) for name in NEW)


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_view_then_inverse_is_identity(name):
    view = get_view(name)
    x = torch.randn(2, 3, 8, 8)  # 8: patch_permute's 4 patches per side divide it
    for center in (0.0, 0.37):
        torch.testing.assert_close(view.inverse_image(view.view(x, center), center), x)
        torch.testing.assert_close(view.inverse().view(view.view(x, center), center), x)
    torch.testing.assert_close(view.inverse_view(view.view(x)), x)  # on noise (center 0)
    torch.testing.assert_close(view.inverse_view_variance(view.permute(x)), x)


@pytest.mark.parametrize("shape", SHAPES, ids=["1x28x28", "3x64x64"])
@pytest.mark.parametrize("name", sorted(VIEWS))
def test_view_then_inverse_is_exact_at_both_shapes(name, shape):
    """Images (about a non-zero centre), noise and variances come back: bit for bit where the map is a pure
    permutation (a reflection about c rounds, so the old views' images are compared to float precision)."""
    view = get_view(name)
    g = torch.Generator().manual_seed(0)
    x, noise, variance = torch.rand(shape, generator=g), torch.randn(shape, generator=g), torch.rand(shape, generator=g)
    center = 0.37
    back = view.inverse_image(view.view(x, center), center)
    if isinstance(view, PermutationView):
        assert torch.equal(back, x)
    else:
        torch.testing.assert_close(back, x, atol=1e-6, rtol=0)
    assert torch.equal(view.inverse_view(view.view(noise)), noise)  # noise: reflected about 0
    assert torch.equal(view.inverse_view_variance(view.permute(variance)), variance)  # a variance: never negated
    torch.testing.assert_close(view.inverse().view(view.view(x, center), center), x, atol=1e-6, rtol=0)
    assert view.view(x[0], center).shape == x[0].shape  # any leading dims, none included


@pytest.mark.parametrize("shape", SHAPES, ids=["1x28x28", "3x64x64"])
@pytest.mark.parametrize("name", sorted(VIEWS))
def test_every_view_is_a_permutation_of_the_pixels(name, shape):
    """The same pixel permutation in every channel and batch item (negate: the permutation of −x)."""
    view = get_view(name)
    x = torch.randn(shape)
    out = view.view(x)
    expected = -x if name == "negate" else x
    assert torch.equal(out.flatten(-2).sort(-1).values, expected.flatten(-2).sort(-1).values)
    h, w = shape[-2:]
    ramp = torch.arange(float(h * w)).reshape(h, w).expand(shape)  # every channel alike: so must the output be
    moved = view.permute(ramp)
    assert torch.equal(moved, moved[:1, :1].expand(shape))
    assert torch.equal(moved[0, 0].flatten().sort().values, torch.arange(float(h * w)))


@pytest.mark.parametrize("name", sorted(SEEDED))
def test_seeded_views_are_deterministic_and_differ_across_seeds(name):
    cls = SEEDED[name]
    for h in (28, 64):
        ramp = torch.arange(float(h * h)).reshape(1, 1, h, h)
        first, again, other = cls(seed=0).view(ramp), cls(seed=0).view(ramp), cls(seed=1).view(ramp)
        assert torch.equal(first, again) and not torch.equal(first, other) and not torch.equal(first, ramp)
        torch.manual_seed(123)  # the global RNG plays no part
        assert torch.equal(cls(seed=0).view(ramp), first)
    assert cls().label == cls(seed=0).label and f"seed={0}" in cls().label


def test_views_do_what_they_say():
    x = torch.arange(4.0).reshape(1, 1, 2, 2)  # [[0, 1], [2, 3]]
    assert FlipView().view(x).flatten().tolist() == [2, 3, 0, 1]
    assert Rotate90CWView().view(x).flatten().tolist() == [2, 0, 3, 1]  # clockwise
    assert NegateView().view(x, 1.5).flatten().tolist() == [3, 2, 1, 0]  # the negative about the range centre
    assert NegateView().inverse_view_variance(x).equal(x)  # a variance is never negated
    with pytest.raises(FundiffError, match="partA.x.view='mirror'"):
        get_view("mirror", "partA.x.view")


def test_skew_rolls_each_row_by_its_distance_from_the_centre_row():
    x = torch.randn(1, 2, 28, 28)
    out = SkewView(factor=1.5).view(x)
    for i in range(28):
        assert torch.equal(out[..., i, :], torch.roll(x[..., i, :], round(1.5 * (i - 14)), dims=-1))
    assert torch.equal(SkewView(factor=0).view(x), x)


def test_patch_permute_moves_whole_patches():
    x = torch.randn(1, 3, 64, 64)
    out = PatchPermuteView(num_patches=8, seed=3).view(x)
    patches = lambda im: im.reshape(3, 8, 8, 8, 8).permute(1, 3, 0, 2, 4).reshape(64, -1)  # noqa: E731
    src, dst = patches(x[0]), patches(out[0])
    assert sorted(int((src == p).all(1).nonzero()) for p in dst) == list(
        range(64)
    )  # each output patch is one input patch
    with pytest.raises(FundiffError, match=r"p\.num_patches=8 must divide the image side \(the images are 28×28\)"):
        PatchPermuteView(num_patches=8).check((1, 28, 28), "p")
    assert torch.equal(PatchPermuteView(num_patches=1).view(x), x)


@pytest.mark.parametrize("degrees", [90, 180, 270])
@pytest.mark.parametrize("h", [28, 64, 9])
def test_inner_rotate_turns_the_disc_and_keeps_the_rest(degrees, h):
    x = torch.randn(1, 1, h, h)
    view = InnerRotateView(degrees=degrees)
    out = view.view(x)
    twice = 2 * torch.arange(h) - (h - 1)
    inside = twice[:, None] ** 2 + twice[None, :] ** 2 < (2 * 0.375 * h) ** 2
    turned = torch.rot90(x, -degrees // 90, dims=(-2, -1))
    assert torch.equal(out[..., inside], turned[..., inside]) and torch.equal(out[..., ~inside], x[..., ~inside])
    assert torch.equal(out[..., 0, 0], x[..., 0, 0]) and not torch.equal(out, x)
    for _ in range((2 if degrees == 180 else 4) - 1):
        out = view.view(out)
    assert torch.equal(out, x)  # a full turn


@pytest.mark.parametrize("h", [28, 64, 9, 2, 1])
def test_jigsaw_pieces_are_quarter_turns_of_each_other(h):
    """A quarter turn maps every piece exactly onto the next piece of its orbit, so the shuffle moves whole pieces."""
    piece = pieces(h)
    turned = torch.rot90(piece, 1)
    assert torch.equal(torch.where(turned < 0, turned, TURN[turned.clamp(min=0)]), piece)
    assert int((piece < 0).sum()) == h % 2  # only the centre pixel of an odd side is in no piece
    if h >= 28:
        assert piece.unique().tolist() == list(range(16))
        moved = JigsawView(seed=5).permute(piece[None].float())[0]
        for k in range(16):  # each output piece shows one input piece (of the same kind, turned to fit)
            assert moved[piece == k].unique().numel() == 1
        assert not torch.equal(moved, piece.float())


# ---- the anagram of each view with an oracle -------------------------------------------------------------------


class IllusionOracle(Backend):
    """A denoiser that knows the illusion: prompt "a" means the image x0, prompt "b" means x0 seen through the view
    (about the range centre). Its anagram noise estimate at x_t = forward(x0) is then exactly the true noise."""

    name = "oracle"

    def __init__(self, x0, view, shape=(1, 28, 28)):
        self.alphas_cumprod = alphas_cumprod_from_betas(linear_betas(300, 1e-4, 0.02))
        self.image_shape, self.value_range, self.device = shape, (0.0, 1.0), torch.device("cpu")
        self.default_timesteps = scaled_timesteps(300)
        self.targets = {1: x0, 2: view.view(x0, self.value_mid)}

    def encode(self, prompt):
        return torch.tensor([[{"": 0, "a": 1, "b": 2}[prompt]]])

    def null_condition(self):
        return self.encode("")

    def predict(self, x_t, t, cond):
        n = next(iter(self.targets.values())).shape[0]
        cond = self.batch_condition(cond, x_t.shape[0]).reshape(-1)
        x0 = torch.cat([self.targets[int(cond[k])] for k in range(0, x_t.shape[0], n)])
        abar = self.alphas_cumprod[t]
        return (x_t - abar.sqrt() * x0) / (1 - abar).sqrt(), None

    def add_variance(self, mean, t, t_prev, variance, noise):
        return mean + step_variance(t, t_prev, self.alphas_cumprod, "posterior").sqrt() * noise

    def prepare_image(self, image):
        raise NotImplementedError

    def pipeline_samples(self, *args):
        raise NotImplementedError


@pytest.mark.parametrize("name", NEW + ["flip", "negate"])
def test_anagram_with_an_oracle_recovers_the_illusion(name):
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(2, 1, 28, 28, generator=g)
    view = get_view(name)
    den = IllusionOracle(x0, view)
    eps_fn = algorithms.anagram(den, [(IdentityView(), den.encode("a")), (view, den.encode("b"))], None)
    noise = torch.randn(x0.shape, generator=g)
    eps, var = eps_fn(algorithms.forward(den, x0, 207, noise), 207)
    torch.testing.assert_close(eps, noise, atol=1e-4, rtol=0)
    assert var is None
    out, _ = algorithms.iterative_denoise(
        den, torch.randn(x0.shape, generator=g), den.default_timesteps + [-1], eps_fn, g
    )
    torch.testing.assert_close(out, x0, atol=1e-4, rtol=0)  # upright: prompt a
    torch.testing.assert_close(view.view(out, den.value_mid), den.targets[2], atol=1e-4, rtol=0)  # viewed: prompt b


# ---- view arguments in the illusion params -------------------------------------------------------------------------


class DigitToy(Backend):
    """Reads digit prompts; a fixed random linear ε̂ at MNIST's shape with a short timestep list."""

    name = "toy"

    def __init__(self):
        g = torch.Generator().manual_seed(1)
        self.alphas_cumprod = alphas_cumprod_from_betas(linear_betas(300, 1e-4, 0.02))
        self.image_shape, self.value_range, self.device = (1, 28, 28), (0.0, 1.0), torch.device("cpu")
        self.default_timesteps = [297, 198, 99, 0]
        self.weight = torch.randn(784, 784, generator=g) / 28
        self.bias = torch.randn(11, 784, generator=g)

    def encode(self, prompt):
        return torch.tensor([[int(prompt) + 1 if prompt else 0]])

    def null_condition(self):
        return self.encode("")

    def predict(self, x_t, t, cond):
        n = x_t.shape[0]
        cond = self.batch_condition(cond, n).reshape(n)
        return (x_t.reshape(n, -1) @ self.weight.T + self.bias[cond]).reshape(x_t.shape), None

    def add_variance(self, mean, t, t_prev, variance, noise):
        return mean + 0.1 * noise

    def prepare_image(self, image):
        raise NotImplementedError

    def pipeline_samples(self, *args):
        raise NotImplementedError


PREFIX = "partA.experiments.anagrams.mnist"


def _anagrams(*illusions):
    section = {"num_samples": 1, "best_of": 1, "guidance_scale": 2.0, "illusions": list(illusions)}
    return run_experiment("anagrams", Context(backend=DigitToy(), seed=0), section, PREFIX)


def test_illusions_take_view_arguments():
    result = _anagrams(
        {"view": "flip", "prompts": ["6", "9"]},
        {"view": "patch_permute", "prompts": ["1", "7"], "num_patches": 7, "seed": 3},
        {"view": "jigsaw", "prompts": ["3", "8"]},
        {"view": "inner_rotate", "prompts": ["0", "5"], "degrees": 90, "radius": 0.4},
    )
    assert result.params["illusion_1"] == "flip: 6 / 9"  # views without arguments read as before
    assert result.params["illusion_2"] == "patch_permute(num_patches=7, seed=3): 1 / 7"
    assert result.params["illusion_3"] == "jigsaw(seed=0): 3 / 8"
    assert result.params["illusion_4"] == "inner_rotate(degrees=90, radius=0.4): 0 / 5"
    names = [name for name, _, _ in result.figures]
    assert names == [
        "anagram_1_flip.png",
        "anagram_2_patch_permute.png",
        "anagram_3_jigsaw.png",
        "anagram_4_inner_rotate.png",
    ]
    # the arguments matter: another seed, another image
    other = _anagrams({"view": "patch_permute", "prompts": ["1", "7"], "num_patches": 7, "seed": 4})
    same = _anagrams({"view": "patch_permute", "prompts": ["1", "7"], "num_patches": 7, "seed": 3})
    assert other.figures[0][1].tobytes() != result.figures[1][1].tobytes()
    assert same.figures[0][1].tobytes() == result.figures[1][1].tobytes()


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (
            {"view": "flip", "prompts": ["6", "9"], "seed": 1},
            r"illusions\[0\]\.seed is not an argument of the flip view; it takes none",
        ),
        (
            {"view": "pixel_permute", "prompts": ["6", "9"], "patch_size": 4},
            r"illusions\[0\]\.patch_size is not an argument of the pixel_permute view; it takes seed",
        ),
        ({"view": "jigsaw", "prompts": ["6", "9"], "seed": -1}, r"illusions\[0\]\.seed=-1 must be >= 0"),
        ({"view": "jigsaw", "prompts": ["6", "9"], "seed": "1"}, r"illusions\[0\]\.seed='1' must be an integer"),
        (
            {"view": "skew", "prompts": ["6", "9"], "factor": "steep"},
            r"illusions\[0\]\.factor='steep' must be a finite",
        ),
        (
            {"view": "patch_permute", "prompts": ["6", "9"], "num_patches": 8},
            r"illusions\[0\]\.num_patches=8 must divide the image side \(the images are 28×28\)",
        ),
        (
            {"view": "patch_permute", "prompts": ["6", "9"], "num_patches": 0},
            r"illusions\[0\]\.num_patches=0 must be >= 1",
        ),
        (
            {"view": "inner_rotate", "prompts": ["6", "9"], "degrees": 45},
            r"illusions\[0\]\.degrees=45 must be 90, 180 or 270",
        ),
        ({"view": "inner_rotate", "prompts": ["6", "9"], "radius": 0}, r"illusions\[0\]\.radius=0 must be > 0"),
        (
            {"view": "spin", "prompts": ["6", "9"]},
            r"illusions\[0\]\.view='spin' is not a known view; use one of identity, ",
        ),
        ({"view": ["flip"], "prompts": ["6", "9"]}, r"illusions\[0\]\.view=\['flip'\] is not a known view"),
        ({"prompts": ["6", "9"], "seed": 0}, r"illusions\[0\] must be \{view: <identity\|flip\|"),
    ],
)
def test_bad_view_arguments_name_the_param(item, message):
    with pytest.raises(FundiffError, match=rf"^{PREFIX}\.{message}") as info:
        _anagrams(item)
    assert "\n" not in str(info.value)


# ---- judge-guided best-of-N ----------------------------------------------------------------------------------------


def brightness_judge(images01):
    """Reads bright images as 1 and dark ones as 0, more surely the further the mean is from 0.5."""
    m = images01.reshape(len(images01), -1).mean(dim=1)
    p1 = torch.sigmoid(40 * (m - 0.5))
    probs = torch.zeros(len(images01), 10)
    probs[:, 1], probs[:, 0] = p1, 1 - p1
    return probs


def test_best_of_keeps_the_surest_candidate_of_each_group():
    score = torch.tensor([0.1, 0.9, 0.3, 0.2, 0.2, 0.05])
    assert best_of(score, 3).tolist() == [1, 3]  # a tie keeps the first
    assert best_of(score, 1).tolist() == list(range(6))


def test_both_ways_reports_the_rate_before_and_after_selection():
    ctx = Context(backend=DigitToy(), seed=0, classify=brightness_judge)
    legible = Legibility(ctx, per=2)
    bright, dark = torch.full((1, 1, 28, 28), 0.9), torch.full((1, 1, 28, 28), 0.1)
    first = torch.cat([dark, bright, bright, bright])  # read 0, 1, 1, 1
    second = 1 - first  # negated: read 1, 0, 0, 0
    keep = legible.select("1_negate", first, "1", second, "0")
    assert keep.tolist() == [1, 2]  # of (dark, bright) the bright one; of (bright, bright) the first
    metrics = legible.finish()
    assert metrics["success_rate_1_negate_drawn"] == 0.75 and metrics["success_rate_1_negate"] == 1.0
    assert metrics["success_rate_drawn"] == 0.75 and metrics["success_rate"] == 1.0


def test_anagrams_draw_n_candidates_per_output_and_show_n():
    section = {
        "num_samples": 2,
        "best_of": 3,
        "guidance_scale": 2.0,
        "illusions": [{"view": "negate", "prompts": ["1", "0"]}],
    }
    ctx = Context(backend=DigitToy(), seed=0, classify=brightness_judge)
    result = run_experiment("anagrams", ctx, section, PREFIX)
    assert result.metrics["num_images"] == 2 and result.params["best_of"] == 3
    assert (
        "success_rate_drawn" in result.metrics
        and result.metrics["success_rate"] >= result.metrics["success_rate_drawn"]
    )
    assert "best-of-3" in result.text
    image = result.figures[0][1]
    plain = run_experiment("anagrams", ctx, {**section, "best_of": 1}, PREFIX).figures[0][1]
    assert image.size == plain.size  # two outputs shown either way


def test_best_of_needs_the_judge():
    section = {
        "num_samples": 1,
        "best_of": 2,
        "guidance_scale": 2.0,
        "illusions": [{"view": "flip", "prompts": ["6", "9"]}],
    }
    with pytest.raises(FundiffError, match=r"anagrams\.mnist\.best_of=2: best-of-N selection needs the judge"):
        run_experiment("anagrams", Context(backend=DigitToy(), seed=0), section, PREFIX)
