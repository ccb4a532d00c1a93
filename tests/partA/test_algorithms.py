"""Part A algorithms on toy denoisers: oracle recovery, anagram consistency, filters, CFG, the IF step (the views
themselves: test_views.py)."""

import pytest
import torch
from diffusers import DDPMScheduler

from fundiff.diffusion.noise_schedule import (
    alphas_cumprod_from_betas,
    linear_betas,
    scaled_timesteps,
    strided_timesteps,
)
from fundiff.diffusion.reverse import denoise_step, learned_range_log_variance
from fundiff.errors import FundiffError
from fundiff.figures.filters import check_kernel, highpass, lowpass
from fundiff.partA import algorithms
from fundiff.partA.backends.base import Backend
from fundiff.partA.decompositions import LowHigh
from fundiff.partA.prompts import parse_digit_prompt
from fundiff.partA.views import IdentityView, get_view


class ToyDenoiser(Backend):
    """A fixed random linear 'model' whose output depends on x, t and the condition (not equivariant to any view)."""

    name = "toy"

    def __init__(self, value_range=(0.0, 1.0), learned_variance=False, size=8):
        g = torch.Generator().manual_seed(1)
        self.alphas_cumprod = alphas_cumprod_from_betas(linear_betas(300, 1e-4, 0.02))
        self.image_shape = (1, size, size)
        self.value_range = value_range
        self.device = torch.device("cpu")
        self.default_timesteps = scaled_timesteps(300)
        self.weight = torch.randn(size * size, size * size, generator=g) / size
        self.bias = torch.randn(3, size * size, generator=g)
        self.learned = learned_variance

    def encode(self, prompt):
        return torch.tensor([[{"": 0, "a": 1, "b": 2}[prompt]]])

    def null_condition(self):
        return self.encode("")

    def predict(self, x_t, t, cond):
        n = x_t.shape[0]
        cond = self.batch_condition(cond, n).reshape(n).long()
        flat = x_t.reshape(n, -1) @ self.weight.T * (1 + t / 300) + self.bias[cond]
        eps = flat.reshape(x_t.shape)
        return eps, (torch.tanh(eps) if self.learned else None)

    def add_variance(self, mean, t, t_prev, variance, noise):
        return mean + 0.1 * noise

    def prepare_image(self, image):
        raise NotImplementedError

    def pipeline_samples(self, *args):
        raise NotImplementedError


class OracleDenoiser(ToyDenoiser):
    """Returns the true noise of x_t given the clean image it knows."""

    def __init__(self, x0):
        super().__init__()
        self.x0 = x0

    def predict(self, x_t, t, cond):
        abar = self.alphas_cumprod[t]
        return (x_t - abar.sqrt() * self.x0) / (1 - abar).sqrt(), None

    def add_variance(self, mean, t, t_prev, variance, noise):
        from fundiff.diffusion.reverse import step_variance

        return mean + step_variance(t, t_prev, self.alphas_cumprod, "posterior").sqrt() * noise


def test_oracle_iterative_denoising_recovers_x0():
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(3, 1, 8, 8, generator=g)
    den = OracleDenoiser(x0)
    ts = den.default_timesteps
    assert ts[10] == 207 and len(ts) == 34  # the course's 990/30 list scaled to T = 300
    eps_fn = algorithms.conditional(den, den.encode("a"))
    x_t = algorithms.forward(den, x0, ts[10], torch.randn(x0.shape, generator=g))
    # one step already knows x0 exactly
    torch.testing.assert_close(algorithms.one_step(den, x_t, ts[10], eps_fn), x0, atol=1e-5, rtol=0)
    # the course's loop ends at t = 0: within the tiny noise of the last step
    out, frames = algorithms.iterative_denoise(den, x_t, ts, eps_fn, g, i_start=10, keep_every=5)
    assert (out - x0).abs().max() < 0.05
    assert [t for t, _ in frames] == [207, 162, 117, 72, 27]
    # with a final noiseless step to t = -1, exactly x0; from pure noise too
    out, _ = algorithms.iterative_denoise(den, torch.randn(x0.shape, generator=g), ts + [-1], eps_fn, g)
    torch.testing.assert_close(out, x0, atol=1e-4, rtol=0)


def test_oracle_inpainting_keeps_the_known_part_and_fills_the_rest():
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(2, 1, 8, 8, generator=g)
    den = OracleDenoiser(x0)
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., :4] = 1
    out = algorithms.inpaint(
        den, x0, mask, den.default_timesteps + [-1], algorithms.conditional(den, den.encode("a")), g
    )
    torch.testing.assert_close(out, x0, atol=1e-4, rtol=0)


@pytest.mark.parametrize(
    ("name", "size"),
    [("flip", 8), ("rotate_cw", 8), ("rotate_180", 8), ("negate", 8)]
    + [(name, 28) for name in ("skew", "patch_permute", "pixel_permute", "jigsaw", "inner_rotate")],  # MNIST's size
)
@pytest.mark.parametrize("value_range", [(0.0, 1.0), (-1.0, 1.0)])
def test_anagram_of_a_view_and_its_inverse_is_consistent(name, size, value_range):
    """Anagram (id: a, V: b) at x and anagram (id: b, V⁻¹: a) at V(x) are the same image seen through V:
    the noise estimates, and a whole reverse step, map onto each other."""
    den = ToyDenoiser(value_range, learned_variance=True, size=size)
    view = get_view(name)
    a, b = den.encode("a"), den.encode("b")
    x = torch.randn(2, 1, size, size)
    t, t_prev = 207, 198
    center = algorithms._center(den, t)
    for scale in (None, 7.0):
        eps_a, var_a = algorithms.anagram(den, [(IdentityView(), a), (view, b)], scale)(x, t)
        eps_b, var_b = algorithms.anagram(den, [(IdentityView(), b), (view.inverse(), a)], scale)(
            view.view(x, center), t
        )
        torch.testing.assert_close(eps_b, view.sign * view.permute(eps_a), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(var_b, view.permute(var_a), atol=1e-5, rtol=1e-5)
        mean_a, _ = den.step(x, eps_a, var_a, t, t_prev, None)
        mean_b, _ = den.step(view.view(x, center), eps_b, var_b, t, t_prev, None)
        torch.testing.assert_close(mean_b, view.view(mean_a, algorithms._center(den, t_prev)), atol=1e-5, rtol=1e-5)


def test_anagram_with_identity_views_is_the_plain_estimate():
    den = ToyDenoiser()
    x = torch.randn(2, 1, 8, 8)
    a = den.encode("a")
    eps, _ = algorithms.anagram(den, [(IdentityView(), a), (IdentityView(), a)], 3.0)(x, 100)
    torch.testing.assert_close(eps, algorithms.cfg(den, a, 3.0)(x, 100)[0])


def test_lowpass_plus_highpass_is_the_input():
    x = torch.randn(2, 3, 16, 16)
    torch.testing.assert_close(lowpass(x, 7, 2.0) + highpass(x, 7, 2.0), x, atol=1e-6, rtol=0)
    torch.testing.assert_close(lowpass(torch.full((1, 1, 9, 9), 0.3), 5, 1.0), torch.full((1, 1, 9, 9), 0.3))
    assert highpass(torch.full((1, 1, 9, 9), 0.3), 5, 1.0).abs().max() < 1e-6
    # the low-pass keeps less energy than the input (it is a blur)
    assert lowpass(x, 7, 2.0).pow(2).sum() < 0.5 * x.pow(2).sum()


def test_kernel_checks_name_the_param():
    check_kernel(33, 2.0, 64, "p")
    with pytest.raises(FundiffError, match="p.blur_kernel_size=4 must be an odd"):
        check_kernel(4, 2.0, 64, "p")
    with pytest.raises(FundiffError, match="p.blur_kernel_size=33 is too large for 16×16"):
        check_kernel(33, 2.0, 16, "p")


def test_hybrid_with_one_prompt_is_the_plain_estimate():
    den = ToyDenoiser()
    x = torch.randn(2, 1, 8, 8)
    a = den.encode("a")
    torch.testing.assert_close(
        algorithms.hybrid(den, LowHigh(5, 1.0), [a, a], 2.0)(x, 50)[0],
        algorithms.cfg(den, a, 2.0)(x, 50)[0],
        atol=1e-5,
        rtol=0,
    )


def test_cfg_with_scale_one_is_conditional_and_zero_is_unconditional():
    den = ToyDenoiser()
    x = torch.randn(3, 1, 8, 8)
    a = den.encode("a")
    torch.testing.assert_close(
        algorithms.cfg(den, a, 1.0)(x, 120)[0], algorithms.conditional(den, a)(x, 120)[0], atol=1e-5, rtol=0
    )
    torch.testing.assert_close(
        algorithms.cfg(den, a, 0.0)(x, 120)[0],
        algorithms.conditional(den, den.null_condition())(x, 120)[0],
        atol=1e-5,
        rtol=0,
    )


def _if_scheduler():
    """DeepFloyd IF stage I's scheduler config, without the x̂0 thresholding the course's loop does not do."""
    return DDPMScheduler(
        num_train_timesteps=1000,
        beta_schedule="squaredcos_cap_v2",
        variance_type="learned_range",
        prediction_type="epsilon",
        thresholding=False,
        clip_sample=False,
    )


def test_strided_step_with_learned_variance_matches_diffusers_if_scheduler_step():
    scheduler = _if_scheduler()
    timesteps = strided_timesteps(990, 30)
    scheduler.set_timesteps(timesteps=timesteps)
    acp = scheduler.alphas_cumprod.float()
    g = torch.Generator().manual_seed(0)
    for t, t_prev in [(990, 960), (690, 660), (300, 270), (30, 0)]:
        x = torch.randn(2, 3, 8, 8, generator=g)
        eps, v = torch.randn(2, 3, 8, 8, generator=g), torch.rand(2, 3, 8, 8, generator=g) * 2 - 1
        torch.testing.assert_close(learned_range_log_variance(t, t_prev, acp, v), scheduler._get_variance(t, v))
        theirs = scheduler.step(torch.cat([eps, v], 1), t, x, generator=torch.Generator().manual_seed(t)).prev_sample
        mean, _ = denoise_step(x, eps, t, t_prev, acp, None)
        noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(t))
        ours = mean + torch.exp(0.5 * learned_range_log_variance(t, t_prev, acp, v)) * noise
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


def test_digit_prompts():
    for prompt in ("7", "seven", "a handwritten 7", "The digit SEVEN."):
        assert parse_digit_prompt(prompt) == 7
    assert parse_digit_prompt("") is None and parse_digit_prompt("   ") is None
    for bad in ("a rocket ship", "7 or 8", "12", "a handwritten seventeen"):
        with pytest.raises(FundiffError, match="does not name exactly one digit"):
            parse_digit_prompt(bad)


def test_i_start_must_index_the_strided_list():
    ts = scaled_timesteps(300)
    algorithms.check_i_start(0, ts, "k")
    algorithms.check_i_start(32, ts, "k")
    for bad in (-1, 33, 40, 2.5):
        with pytest.raises(FundiffError, match=r"k=.* is outside the strided timesteps: use an index 0..32"):
            algorithms.check_i_start(bad, ts, "k")
