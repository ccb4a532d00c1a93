"""The training objective of each Part B model (fundiff.partB.models), one L2 loss per batch:

* ``denoise`` (1): the clean image from x + σε;
* ``pure_noise`` (1.2.3): the clean image from ε alone; under L2 the best answer is the mean digit;
* ``ddpm`` (2, 2.4): the noise ε of x_t = sqrt(ᾱ_t)·x + sqrt(1 − ᾱ_t)·ε, t uniform in 0..T−1 (DDPM Algorithm 1);
* ``flow`` (B.1, B.3): the velocity x_1 − x_0 at x_t = (1 − t)·x_0 + t·x_1, t ~ U[0, 1] per sample
  (fundiff.diffusion.flow).

Class-conditioned models drop the class (the all-zero condition) with probability ``p_uncond``. Every random draw comes
from ``generator`` on its own device, in a fixed order per batch (noise, then t, then the dropout mask)."""

from __future__ import annotations

import torch
from torch import nn

from fundiff.diffusion.flow import interpolate, velocity_target
from fundiff.diffusion.forward_process import add_noise, add_sigma_noise
from fundiff.diffusion.noise_schedule import normalized_time
from fundiff.nets.unets import one_hot
from fundiff.partB.config import TrainConfig


def loss_on_batch(
    model: nn.Module,
    config: TrainConfig,
    x0: torch.Tensor,
    labels: torch.Tensor,
    generator: torch.Generator,
    alphas_cumprod: torch.Tensor,
) -> torch.Tensor:
    """The L2 loss of ``config.objective`` on the clean batch ``x0`` (N×1×28×28 in [0, 1])."""
    device, drawn = x0.device, generator.device
    noise = torch.randn(x0.shape, generator=generator, device=drawn).to(device)
    if config.objective == "denoise":
        return nn.functional.mse_loss(model(add_sigma_noise(x0, config.sigma, noise)), x0)
    if config.objective == "pure_noise":
        return nn.functional.mse_loss(model(noise), x0)
    n = x0.shape[0]
    if config.objective == "flow":
        t = torch.rand(n, generator=generator, device=drawn).to(device)
        x_t, t_in, target = interpolate(noise, x0, t), t, velocity_target(noise, x0)
    else:
        step = torch.randint(0, config.num_timesteps, (n,), generator=generator, device=drawn).to(device)
        x_t, t_in, target = (
            add_noise(x0, noise, step, alphas_cumprod),
            normalized_time(step, config.num_timesteps),
            noise,
        )
    if config.architecture == "time_cond":
        return nn.functional.mse_loss(model(x_t, t_in), target)
    keep = torch.rand(n, generator=generator, device=drawn).to(device) >= config.p_uncond
    c = one_hot(labels.to(device), 10, keep)
    return nn.functional.mse_loss(model(x_t, t_in, c), target)
