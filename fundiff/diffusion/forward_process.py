"""The forward (noising) processes of Parts A and B."""

from __future__ import annotations

import torch


def _per_sample(values: torch.Tensor, ndim: int) -> torch.Tensor:
    return values.reshape(-1, *([1] * (ndim - 1)))


def add_noise(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor, alphas_cumprod: torch.Tensor) -> torch.Tensor:
    """x_t = sqrt(ᾱ_t)·x0 + sqrt(1-ᾱ_t)·ε for a batch of 0-based timesteps t."""
    abar = _per_sample(alphas_cumprod.to(x0.device)[t.to(x0.device)].to(x0.dtype), x0.ndim)
    return abar.sqrt() * x0 + (1.0 - abar).sqrt() * noise


def add_sigma_noise(x: torch.Tensor, sigma: float | torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Part B 1's noising z = x + σ·ε (σ a float or a per-sample tensor)."""
    if isinstance(sigma, torch.Tensor):
        sigma = _per_sample(sigma.to(x.dtype), x.ndim)
    return x + sigma * noise


def x0_from_eps(x_t: torch.Tensor, eps: torch.Tensor, abar_t: torch.Tensor) -> torch.Tensor:
    """Invert the forward process given a noise estimate: x̂0 = (x_t - sqrt(1-ᾱ_t)·ε̂) / sqrt(ᾱ_t)."""
    return (x_t - (1.0 - abar_t).sqrt() * eps) / abar_t.sqrt()


def predict_x0(x_t: torch.Tensor, eps: torch.Tensor, t: torch.Tensor, alphas_cumprod: torch.Tensor) -> torch.Tensor:
    """x̂0 for a batch of 0-based timesteps t."""
    abar = _per_sample(alphas_cumprod.to(x_t.device)[t.to(x_t.device)].to(x_t.dtype), x_t.ndim)
    return x0_from_eps(x_t, eps, abar)
