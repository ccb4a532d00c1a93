"""The Part B samplers: Algorithm 2 and the strided update against diffusers' DDPMScheduler, oracle recovery, CFG."""

import pytest
import torch
from diffusers import DDPMScheduler

from fundiff.diffusion.forward_process import add_noise, predict_x0
from fundiff.diffusion.guidance import eps_fn_for
from fundiff.diffusion.noise_schedule import (
    alphas_cumprod_from_betas,
    fast_timesteps,
    full_timesteps,
    linear_betas,
    normalized_time,
)
from fundiff.errors import FundiffError
from fundiff.nets.eps_predictor import UNetNoisePredictor
from fundiff.nets.unets import ClassConditionalUNet, TimeConditionalUNet, one_hot
from fundiff.partB.sample_result import balanced_labels
from fundiff.partB.sampling import SamplerSettings, run_sampler, sample

T, B0, B1 = 50, 1e-4, 0.02


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models on shared cores: see conftest
SHAPE = (1, 6, 6)
ACP = alphas_cumprod_from_betas(linear_betas(T, B0, B1))


def fake_eps(x, t, labels):
    """A deterministic stand-in for a UNet: depends on x and t, bounded."""
    return torch.tanh(0.7 * x + 0.01 * t) * 0.9


class FakeNet:
    """A time-conditioned noise predictor around an ε function of (x, t, labels), for run_sampler."""

    conditional = False

    def __init__(self, eps=fake_eps):
        self.eps = eps

    def predict(self, x, t, cond):
        return self.eps(x, t, None), None


def model_eps_fn(model, num_timesteps, guidance_scale=1.0):
    """ε̂(x, t, labels) of a real UNet, as the sampler computes it (CFG for the class-conditioned one)."""
    net = UNetNoisePredictor(model, num_timesteps)
    return lambda x, t, labels: eps_fn_for(net, labels, guidance_scale)(x, t)[0]


def diffusers_loop(variance_type, timesteps=None, n=3, seed=0):
    scheduler = DDPMScheduler(
        num_train_timesteps=T,
        beta_start=B0,
        beta_end=B1,
        beta_schedule="linear",
        clip_sample=False,
        variance_type=variance_type,
    )
    if timesteps is not None:
        scheduler.set_timesteps(timesteps=timesteps)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((n, *SHAPE), generator=g)
    for t in scheduler.timesteps:
        x = scheduler.step(fake_eps(x, int(t), None), t, x, generator=g).prev_sample
    return x


@pytest.mark.parametrize("variance, variance_type", [("posterior", "fixed_small"), ("beta", "fixed_large")])
def test_algorithm2_equals_ddpm_scheduler_step(variance, variance_type):
    ours = run_sampler(
        FakeNet(),
        ACP,
        full_timesteps(T),
        3,
        torch.Generator().manual_seed(0),
        shape=SHAPE,
        progress=False,
        clamp=False,
        settings=SamplerSettings(variance=variance),
    )
    assert ours.unet_calls == T and ours.timesteps == list(range(T - 1, -1, -1))
    torch.testing.assert_close(ours.images, diffusers_loop(variance_type), atol=1e-5, rtol=0)


@pytest.mark.parametrize("variance, variance_type", [("posterior", "fixed_small"), ("beta", "fixed_large")])
def test_strided_update_equals_ddpm_scheduler_custom_timesteps(variance, variance_type):
    steps = fast_timesteps(T, 7)
    ours = run_sampler(
        FakeNet(),
        ACP,
        steps,
        3,
        torch.Generator().manual_seed(0),
        shape=SHAPE,
        progress=False,
        clamp=False,
        settings=SamplerSettings(variance=variance, batch_size=2),
    )  # two batches: 2 + 1 samples
    ours_one_batch = run_sampler(
        FakeNet(),
        ACP,
        steps,
        3,
        torch.Generator().manual_seed(0),
        shape=SHAPE,
        progress=False,
        clamp=False,
        settings=SamplerSettings(variance=variance),
    )
    assert ours.unet_calls == 2 * 7 and ours_one_batch.unet_calls == 7
    torch.testing.assert_close(ours_one_batch.images, diffusers_loop(variance_type, steps), atol=1e-5, rtol=0)


def test_fast_timesteps_are_even_descending_and_complete():
    assert fast_timesteps(300, 30)[:3] == [299, 289, 278] and fast_timesteps(300, 30)[-1] == 0
    assert len(set(fast_timesteps(300, 30))) == 30
    assert fast_timesteps(T, T) == full_timesteps(T)
    assert fast_timesteps(T, 1) == [T - 1]
    with pytest.raises(FundiffError, match=r"num_steps=51 must be an integer in 1\.\.T=50"):
        fast_timesteps(T, T + 1)
    with pytest.raises(FundiffError, match="num_steps=0"):
        fast_timesteps(T, 0)


def oracle_for(x0):
    """Returns the true noise of x_t with respect to x0: ε = (x_t - √ᾱ_t·x0) / √(1-ᾱ_t)."""

    def eps(x, t, labels):
        return (x - ACP[t].sqrt() * x0) / (1 - ACP[t]).sqrt()

    return eps


def test_oracle_one_step_and_iterative_denoising_recover_x0():
    g = torch.Generator().manual_seed(3)
    x0 = torch.rand((4, *SHAPE), generator=g)
    noise = torch.randn(x0.shape, generator=g)
    for t in (5, 25, 49):
        x_t = add_noise(x0, noise, torch.full((4,), t), ACP)
        torch.testing.assert_close(predict_x0(x_t, noise, torch.full((4,), t), ACP), x0, atol=1e-5, rtol=0)
    x_t = add_noise(x0, noise, torch.full((4,), 30), ACP)
    for variance in ("beta", "posterior"):
        for steps in ([t for t in range(30, -1, -1)], [30, 20, 10, 0]):  # iterative from a noisy image
            out = run_sampler(
                FakeNet(oracle_for(x0)),
                ACP,
                steps,
                4,
                torch.Generator().manual_seed(0),
                shape=SHAPE,
                progress=False,
                x_start=x_t,
                clamp=False,
                settings=SamplerSettings(variance=variance),
            )
            torch.testing.assert_close(out.images, x0, atol=1e-5, rtol=0)
        pure = run_sampler(
            FakeNet(oracle_for(x0)),
            ACP,
            fast_timesteps(T, 9),
            4,
            torch.Generator().manual_seed(1),
            shape=SHAPE,
            progress=False,
            clamp=False,
            settings=SamplerSettings(variance=variance),
        )  # from pure noise
        torch.testing.assert_close(pure.images, x0, atol=1e-5, rtol=0)


def tiny(cls, seed=0):
    torch.manual_seed(seed)
    model = cls(num_hiddens=4).eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics so that eval mode matters
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
    return model


def test_cfg_gamma_one_is_conditional_and_zero_unconditional():
    model = tiny(ClassConditionalUNet)
    x = torch.randn(6, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 1, 2, 7, 8, 9])
    t_in = normalized_time(torch.full((6,), 17), T)
    with torch.no_grad():
        cond = model(x, t_in, one_hot(labels))
        uncond = model(x, t_in, torch.zeros(6, 10))
        torch.testing.assert_close(model_eps_fn(model, T, 1.0)(x, 17, labels), cond, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(model_eps_fn(model, T, 0.0)(x, 17, labels), uncond, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(
            model_eps_fn(model, T, 5.0)(x, 17, labels), uncond + 5 * (cond - uncond), atol=1e-5, rtol=1e-5
        )


def test_cfg_is_one_forward_call_per_step_and_sampling_is_deterministic():
    model = tiny(ClassConditionalUNet)
    batches = []
    model.register_forward_hook(lambda module, inputs, output: batches.append(inputs[0].shape[0]))
    labels = balanced_labels(10)
    settings = SamplerSettings(guidance_scale=5.0, frame_count=3, frame_every=10)
    first = sample(model, ACP, settings, 10, torch.Generator().manual_seed(5), labels=labels, progress=False)
    assert first.unet_calls == T and batches == [20] * T  # cond + uncond of 10 samples in one batch
    settings = SamplerSettings(guidance_scale=5.0)
    second = sample(model, ACP, settings, 10, torch.Generator().manual_seed(5), labels=labels, progress=False)
    assert torch.equal(first.images, second.images)
    assert first.images.shape == (10, 1, 28, 28) and 0 <= first.images.min() and first.images.max() <= 1
    assert len(first.frames) == T // 10 + 1 and first.frame_timesteps[-1] == -1 and first.frames[0].shape[0] == 3


def test_strided_with_all_steps_is_algorithm2():
    model = tiny(TimeConditionalUNet)
    a = sample(model, ACP, SamplerSettings(), 4, torch.Generator().manual_seed(2), progress=False)
    b = sample(model, ACP, SamplerSettings("course", T), 4, torch.Generator().manual_seed(2), progress=False)
    c = sample(model, ACP, SamplerSettings("course", 5), 4, torch.Generator().manual_seed(2), progress=False)
    assert torch.equal(a.images, b.images) and c.unet_calls == 5 and not torch.equal(a.images, c.images)


def test_bad_inputs_are_one_line_errors():
    model = tiny(ClassConditionalUNet)
    with pytest.raises(FundiffError, match=r"guidance_scale=-1\.0 must be >= 0"):
        SamplerSettings(guidance_scale=-1.0)
    with pytest.raises(FundiffError, match="num_steps=51 must be <= T=50"):
        sample(model, ACP, SamplerSettings("course", T + 1), 2, torch.Generator(), labels=balanced_labels(2))
    with pytest.raises(FundiffError, match="sampler='heun' is unknown"):
        SamplerSettings("heun", 10)
    with pytest.raises(FundiffError, match="needs the checkpoint's scheduler config"):
        sample(model, ACP, SamplerSettings("ddim", 5), 2, torch.Generator(), labels=balanced_labels(2))
    with pytest.raises(FundiffError, match="variance='small' is unknown"):
        run_sampler(
            FakeNet(),
            ACP,
            [3, 0],
            1,
            torch.Generator(),
            shape=SHAPE,
            progress=False,
            settings=SamplerSettings(variance="small"),
        )
    with pytest.raises(FundiffError, match="strictly descending"):
        run_sampler(FakeNet(), ACP, [0, 3], 1, torch.Generator(), shape=SHAPE, progress=False)
    with pytest.raises(FundiffError, match="cannot sample from a Linear"):
        model_eps_fn(torch.nn.Linear(2, 2), T)


def test_clip_x0_matches_diffusers_clip_sample():
    """x̂0 clamped to the data range before the update = DDPMScheduler(clip_sample=True) (its range is ±r)."""
    from fundiff.diffusion.reverse import denoise_step

    scheduler = DDPMScheduler(
        num_train_timesteps=T,
        beta_start=B0,
        beta_end=B1,
        clip_sample=True,
        clip_sample_range=1.0,
        variance_type="fixed_small",
    )
    g = torch.Generator().manual_seed(0)
    x = 3 * torch.randn((4, *SHAPE), generator=g)  # far outside the range: clipping must bite
    eps = -fake_eps(x, 30, None)
    ours, x0 = denoise_step(x, eps, 30, 29, ACP, None, clip_x0=(-1.0, 1.0))
    theirs = scheduler.step(eps, 30, x, generator=g)
    assert x0.min() == -1 and x0.max() == 1
    torch.testing.assert_close(x0, theirs.pred_original_sample, atol=1e-6, rtol=0)
    unclipped, _ = denoise_step(x, eps, 30, 29, ACP, None)
    assert not torch.allclose(ours, unclipped)


def test_clip_x0_keeps_samples_from_the_data_range():
    """With clip_x0 the sampler's x̂0 stays in [0, 1] (our MNIST range); the course's update does not."""
    wild = lambda x, t, labels: 5 * torch.ones_like(x)  # noqa: E731 - an ε̂ whose x̂0 is far below 0
    args = (FakeNet(wild), ACP, fast_timesteps(T, 5), 2, torch.Generator().manual_seed(0))
    clipped = run_sampler(*args, shape=SHAPE, progress=False, clamp=False, settings=SamplerSettings(clip_x0=True))
    course = run_sampler(*args, shape=SHAPE, progress=False, clamp=False)
    assert clipped.images.min() >= 0 and course.images.min() < -1  # the last step returns x̂0 itself


def test_guidance_interval_guides_inside_and_passes_the_conditional_outside():
    torch.manual_seed(0)
    model = ClassConditionalUNet(num_hiddens=4).eval()
    net = UNetNoisePredictor(model, T)
    labels = torch.tensor([3, 7])
    x = torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    full = eps_fn_for(net, labels, 5.0)
    limited = eps_fn_for(net, labels, 5.0, interval=(0.0, 0.5))
    conditional = eps_fn_for(net, labels, 1.0)
    inside, outside = T // 2 - 1, T - 1  # (t+1)/T = 0.5 and 1.0
    torch.testing.assert_close(limited(x, inside)[0], full(x, inside)[0])
    torch.testing.assert_close(limited(x, outside)[0], conditional(x, outside)[0], atol=1e-5, rtol=0)
    assert not torch.allclose(full(x, outside)[0], conditional(x, outside)[0])
    with pytest.raises(FundiffError, match=r"guidance_interval=\[0.6, 0.5\] must be"):
        SamplerSettings(guidance_interval=(0.6, 0.5))
