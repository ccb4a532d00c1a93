"""The reverse process, shared by Part A (any backend) and Part B (our DDPMs): one step and THE loop.

One update serves both the full DDPM sampler (Algorithm 2: t -> t-1) and the strided sampler of Part A 1.4 (t -> t' < t):
with ᾱ' = ᾱ_{t'} (1 for the final step), α = ᾱ_t/ᾱ', β = 1-α,

    mean = sqrt(ᾱ')·β/(1-ᾱ_t) · x̂0 + sqrt(α)·(1-ᾱ')/(1-ᾱ_t) · x_t

which, with x̂0 from ε̂ unclipped, equals Algorithm 2's 1/sqrt(α)·(x_t - β/sqrt(1-ᾱ_t)·ε̂) (docs/course.md, A 1.4 and
B 2). The noise added around that mean is the backend's: a fixed σ² (``step_variance``: β̃ or β) or DeepFloyd's learned
range (``learned_range_log_variance``).

:func:`reverse_process` is the only reverse-diffusion loop of the project: Part B's Algorithm 2 and strided samplers and
every Part A algorithm (iterative denoising, sampling, SDEdit, inpainting with RePaint's resampling, anagrams, hybrids)
are configurations of it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from fundiff.diffusion.forward_process import x0_from_eps
from fundiff.errors import FundiffError

EpsFn = Callable[[torch.Tensor, int], "tuple[torch.Tensor, torch.Tensor | None]"]  # (x_t, t) -> (ε̂, variance)
StepFn = Callable[[torch.Tensor, torch.Tensor, "torch.Tensor | None", int, int, "torch.Tensor | None"], torch.Tensor]
JumpFn = Callable[[torch.Tensor, int, int, torch.Tensor], torch.Tensor]  # (x_t, t, t' > t, z) -> x_{t'}

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


def renoise(x_t: torch.Tensor, t: int, t_next: int, alphas_cumprod: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """The forward process from x_t instead of x_0, t -> t_next > t (RePaint's jump back, Lugmayr et al. 2022):
    x_{t'} ~ q(x_{t'} | x_t), i.e. x_{t'} = sqrt(ᾱ_{t'}/ᾱ_t)·x_t + sqrt(1 − ᾱ_{t'}/ᾱ_t)·ε (t = -1: from the clean
    image, which is A 1.1's forward process)."""
    acp = alphas_cumprod.to(x_t.device, x_t.dtype)
    ratio = _abar(acp, t_next) / _abar(acp, t)
    return ratio.sqrt() * x_t + (1 - ratio).sqrt() * noise


def learned_range_log_variance(
    t: int, t_prev: int, alphas_cumprod: torch.Tensor, predicted: torch.Tensor
) -> torch.Tensor:
    """diffusers' ``DDPMScheduler._get_variance(t, predicted)`` for ``variance_type="learned_range"`` when the
    scheduler's previous timestep of t is ``t_prev``: log-variance interpolated, by (v + 1)/2, between the step's
    posterior variance β̃ (min) and its β (max)."""
    abar_t, abar_prev = _abar(alphas_cumprod, t), _abar(alphas_cumprod, t_prev)
    beta = 1 - abar_t / abar_prev
    posterior = torch.clamp((1 - abar_prev) / (1 - abar_t) * beta, min=1e-20)
    frac = (predicted + 1) / 2
    return frac * torch.log(beta) + (1 - frac) * torch.log(posterior)


def randn(shape: Sequence[int], generator: torch.Generator, device: torch.device | str) -> torch.Tensor:
    """A standard normal draw on the CPU generator, moved to ``device`` (the same numbers on every device)."""
    return torch.randn(tuple(shape), generator=generator).to(device)


def reverse_process(
    x: torch.Tensor,
    timesteps: Sequence[int],
    eps_fn: EpsFn,
    step: StepFn,
    generator: torch.Generator,
    i_start: int = 0,
    post_step: Callable[[torch.Tensor, int], torch.Tensor] | None = None,
    on_step: Callable[[int, int, torch.Tensor], None] | None = None,
    jump: JumpFn | None = None,
    draws_noise: bool = True,
) -> torch.Tensor:
    """From x at ``timesteps[i_start]``, step t -> t' over consecutive timesteps to ``timesteps[-1]`` (0, or -1 for a
    final noiseless step to x̂0).

    Each step down (t' < t): ``eps, var = eps_fn(x, t)``; a standard normal z from ``generator`` when t' >= 0 (none
    for the last step to -1); ``x = step(x, eps, var, t, t', z)``; then ``post_step(x, t')`` (inpainting pastes the
    known pixels back). A step up (t' > t, RePaint's resampling schedule, fundiff.diffusion.noise_schedule.repaint_timesteps)
    re-noises instead: a standard normal z from ``generator``, ``x = jump(x, t, t', z)`` (x_{t'} ~ q(x_{t'} | x_t),
    :func:`renoise`), no model call and no ``post_step``; a descending schedule (every sampler but RePaint's) never
    takes it. ``draws_noise=False`` (an ODE sampler: flow matching's Euler, fundiff.diffusion.flow) draws no z at all
    and hands the step None. ``on_step(i, t, x)`` sees x_t before every step (frames, progress bars). A non-finite result (a damaged
    or diverged model) is a FundiffError, never an image of NaNs."""
    for i in range(i_start, len(timesteps) - 1):
        t, t_prev = int(timesteps[i]), int(timesteps[i + 1])
        if on_step is not None:
            on_step(i, t, x)
        if t_prev > t:
            if jump is None:
                raise ValueError(f"timesteps go up ({t} -> {t_prev}) but reverse_process got no jump function")
            x = jump(x, t, t_prev, randn(x.shape, generator, x.device))
            continue
        eps, var = eps_fn(x, t)
        noise = randn(x.shape, generator, x.device) if t_prev >= 0 and draws_noise else None
        x = step(x, eps, var, t, t_prev, noise)
        if post_step is not None:
            x = post_step(x, t_prev)
    if not bool(torch.isfinite(x).all()):
        raise FundiffError(
            "the model produced non-finite values (NaN or inf) while sampling: its weights are damaged or diverged; "
            "restore them with `dvc checkout` or retrain (dvc repro train@<model>)"
        )
    return x
