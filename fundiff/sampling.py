"""Reverse-process primitives shared by Part A (any denoiser) and Part B (our DDPMs).

One update serves both the full DDPM sampler (Algorithm 2: t -> t-1) and the strided sampler of Part A 1.4 (t -> t' < t):
with ᾱ' = ᾱ_{t'} (1 for the final step), α = ᾱ_t/ᾱ', β = 1-α,

    mean = sqrt(ᾱ')·β/(1-ᾱ_t) · x̂0 + sqrt(α)·(1-ᾱ')/(1-ᾱ_t) · x_t

which, with x̂0 from ε̂ unclipped, equals Algorithm 2's 1/sqrt(α)·(x_t - β/sqrt(1-ᾱ_t)·ε̂).
"""

from __future__ import annotations

from typing import Callable

import torch

from fundiff.forward import x0_from_eps

VARIANCES = ("posterior", "beta")


def _abar(alphas_cumprod: torch.Tensor, t: int) -> torch.Tensor:
    """ᾱ at timestep t, with ᾱ_{-1} = 1 (the clean image)."""
    return alphas_cumprod[t] if t >= 0 else torch.ones((), dtype=alphas_cumprod.dtype)


def posterior_mean(x_t: torch.Tensor, x0_hat: torch.Tensor, t: int, t_prev: int, alphas_cumprod: torch.Tensor):
    abar_t, abar_prev = _abar(alphas_cumprod, t), _abar(alphas_cumprod, t_prev)
    alpha = abar_t / abar_prev
    beta = 1 - alpha
    return (abar_prev.sqrt() * beta / (1 - abar_t)) * x0_hat + (alpha.sqrt() * (1 - abar_prev) / (1 - abar_t)) * x_t


def step_variance(t: int, t_prev: int, alphas_cumprod: torch.Tensor, kind: str = "posterior") -> torch.Tensor:
    """σ² of the step t -> t_prev: the posterior β̃ = (1-ᾱ')/(1-ᾱ_t)·β (diffusers' "fixed_small") or β itself
    (the course's Algorithm 2, diffusers' "fixed_large")."""
    abar_t, abar_prev = _abar(alphas_cumprod, t), _abar(alphas_cumprod, t_prev)
    beta = 1 - abar_t / abar_prev
    if kind == "beta":
        return beta
    if kind == "posterior":
        return (1 - abar_prev) / (1 - abar_t) * beta
    raise ValueError(f"unknown variance kind {kind!r}; use one of {VARIANCES}")


def denoise_step(
    x_t: torch.Tensor,
    eps: torch.Tensor,
    t: int,
    t_prev: int,
    alphas_cumprod: torch.Tensor,
    noise: torch.Tensor | None,
    variance: str = "posterior",
    clip_x0: tuple[float, float] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One reverse step t -> t_prev (t_prev = -1 means "to the clean image"). Returns (x_{t_prev}, x̂0).

    ``noise`` is the z of Algorithm 2 (None or t_prev < 0: no noise is added). ``clip_x0`` = (lo, hi), the
    model's data range, clamps x̂0 to it before the update (diffusers' ``clip_sample``); None keeps the course's
    unclipped update.
    """
    acp = alphas_cumprod.to(x_t.device, x_t.dtype)
    x0_hat = x0_from_eps(x_t, eps, _abar(acp, t))
    if clip_x0 is not None:
        x0_hat = x0_hat.clamp(*clip_x0)
    mean = posterior_mean(x_t, x0_hat, t, t_prev, acp)
    if noise is None or t_prev < 0:
        return mean, x0_hat
    return mean + step_variance(t, t_prev, acp, variance).sqrt() * noise, x0_hat


def guided(eps_cond: torch.Tensor, eps_uncond: torch.Tensor, scale: float) -> torch.Tensor:
    """Classifier-free guidance: ε_u + γ(ε_c - ε_u). γ = 1 is the conditional estimate, γ = 0 the unconditional."""
    return eps_uncond + scale * (eps_cond - eps_uncond)


def batched_cfg(
    predict: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    cond: torch.Tensor,
    null_cond: torch.Tensor,
    scale: float,
) -> torch.Tensor:
    """CFG with the conditional and unconditional passes in one forward call of ``predict(x, cond)``."""
    n = x.shape[0]
    both = predict(torch.cat([x, x]), torch.cat([cond, null_cond.expand_as(cond)]))
    return guided(both[:n], both[n:], scale)
