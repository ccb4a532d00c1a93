import torch
from diffusers import DDPMScheduler

from fundiff.diffusion.forward_process import add_noise, add_sigma_noise, predict_x0
from fundiff.diffusion.noise_schedule import alphas_cumprod_from_betas, linear_betas, normalized_time, strided_timesteps


def test_schedule_matches_diffusers():
    ours = alphas_cumprod_from_betas(linear_betas(300, 1e-4, 0.02))
    theirs = DDPMScheduler(num_train_timesteps=300, beta_start=1e-4, beta_end=0.02, beta_schedule="linear")
    torch.testing.assert_close(ours, theirs.alphas_cumprod, atol=1e-7, rtol=0)


def test_add_noise_matches_diffusers():
    scheduler = DDPMScheduler(num_train_timesteps=300, beta_start=1e-4, beta_end=0.02, beta_schedule="linear")
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(6, 1, 28, 28, generator=g)
    noise = torch.randn(6, 1, 28, 28, generator=g)
    t = torch.tensor([0, 1, 50, 150, 298, 299])
    ours = add_noise(x0, noise, t, alphas_cumprod_from_betas(linear_betas(300, 1e-4, 0.02)))
    assert (ours - scheduler.add_noise(x0, noise, t)).abs().max() < 1e-6


def test_predict_x0_inverts_add_noise():
    acp = alphas_cumprod_from_betas(linear_betas(300, 1e-4, 0.02))
    x0, noise, t = torch.rand(4, 1, 8, 8), torch.randn(4, 1, 8, 8), torch.tensor([0, 10, 100, 299])
    torch.testing.assert_close(predict_x0(add_noise(x0, noise, t, acp), noise, t, acp), x0, atol=1e-4, rtol=0)


def test_sigma_noise():
    x, eps = torch.zeros(2, 1, 4, 4), torch.ones(2, 1, 4, 4)
    assert torch.equal(add_sigma_noise(x, 0.5, eps), x + 0.5)
    assert torch.equal(add_sigma_noise(x, torch.tensor([0.0, 1.0]), eps)[:, 0, 0, 0], torch.tensor([0.0, 1.0]))


def test_index_convention():
    # 0-based: t = 0 is the first noising step (ᾱ_0 = 1 - β_0); the course's t = 1 is our t = 0 and gets input 1/T.
    betas = linear_betas(300, 1e-4, 0.02)
    acp = alphas_cumprod_from_betas(betas)
    assert torch.isclose(acp[0], 1 - betas[0]) and betas[0] == torch.tensor(1e-4)
    torch.testing.assert_close(normalized_time(torch.tensor([0, 299]), 300).flatten(), torch.tensor([1 / 300, 1.0]))


def test_strided_timesteps_course_values():
    ts = strided_timesteps(990, 30)
    assert ts[:3] == [990, 960, 930] and ts[-1] == 0 and len(ts) == 34 and ts[10] == 690
    assert strided_timesteps(299, 30)[-2:] == [29, 0]
