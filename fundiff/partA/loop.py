"""The algorithms of Part A (SPEC A 1.1-1.9), written once over :class:`fundiff.denoiser.Denoiser`.

A noise estimator ``eps_fn(x_t, t) -> (eps, variance)`` is built from the denoiser by :func:`conditional`,
:func:`cfg`, :func:`anagram` or :func:`hybrid`; :func:`iterative_denoise` runs the strided reverse process of 1.4 with
it and asks the denoiser to add the step's variance. All randomness comes from one CPU ``torch.Generator``, so results do
not depend on the device.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from fundiff.denoiser import Denoiser
from fundiff.errors import require
from fundiff.forward import add_noise, x0_from_eps
from fundiff.partA.filters import highpass, lowpass
from fundiff.partA.views import View
from fundiff.sampling import guided

EpsFn = Callable[[torch.Tensor, int], "tuple[torch.Tensor, torch.Tensor | None]"]


def randn(shape: Sequence[int], generator: torch.Generator, device: torch.device | str) -> torch.Tensor:
    """A standard normal draw on the CPU generator, moved to ``device`` (same numbers on every device)."""
    return torch.randn(tuple(shape), generator=generator).to(device)


def forward(den: Denoiser, x0: torch.Tensor, t: int, noise: torch.Tensor) -> torch.Tensor:
    """SPEC 1.1: x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·ε (x0 in the model's value range)."""
    return add_noise(x0, noise, torch.full((x0.shape[0],), int(t)), den.alphas_cumprod)


# ---- noise estimators ---------------------------------------------------------------------------------------------


def _center(den: Denoiser, t: int) -> float:
    """Signal part of a mid-range image at timestep t: the fixed point the views reflect about (0 for [−1, 1])."""
    return den.value_mid * float(den.alphas_cumprod[t].sqrt()) if t >= 0 else den.value_mid


def guided_terms(
    den: Denoiser, x: torch.Tensor, t: int, terms: Sequence[tuple[View | None, torch.Tensor]], scale: float | None
) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    """For each (view, cond): the (CFG-guided when ``scale`` is not None) noise estimate of ``view(x)`` mapped back
    to x's frame, with the conditional pass's variance. All passes go through the model in ONE batched call."""
    n = x.shape[0]
    c = _center(den, t)
    xs = [x if view is None else view.view(x, c) for view, _ in terms]
    conds = [den.batch_condition(cond, n) for _, cond in terms]
    if scale is not None:
        null = den.batch_condition(den.null_condition(), n)
        xs, conds = xs + xs, conds + [null] * len(terms)
    eps_all, var_all = den.predict(torch.cat(xs), t, torch.cat(conds))
    out = []
    for k, (view, _) in enumerate(terms):
        eps = eps_all[k * n : (k + 1) * n]
        var = None if var_all is None else var_all[k * n : (k + 1) * n]
        if scale is not None:
            j = len(terms) + k
            eps = guided(eps, eps_all[j * n : (j + 1) * n], scale)
        if view is not None:
            eps = view.inverse_view(eps)
            var = None if var is None else view.inverse_view_variance(var)
        out.append((eps, var))
    return out


def conditional(den: Denoiser, cond: torch.Tensor) -> EpsFn:
    """ε̂ = UNet(x_t, t, cond) (1.3-1.5)."""
    return lambda x, t: guided_terms(den, x, t, [(None, cond)], None)[0]


def cfg(den: Denoiser, cond: torch.Tensor, scale: float) -> EpsFn:
    """1.6: ε = ε_u + γ(ε_c − ε_u) with the null condition; the variance is the conditional pass's."""
    return lambda x, t: guided_terms(den, x, t, [(None, cond)], scale)[0]


def _mean_var(vars_: list[torch.Tensor | None]) -> torch.Tensor | None:
    return None if vars_[0] is None else torch.stack(vars_).mean(0)


def anagram(den: Denoiser, terms: Sequence[tuple[View | None, torch.Tensor]], scale: float | None) -> EpsFn:
    """1.8: ε = mean_i inverse_view_i(ε̂(view_i(x_t), p_i)), CFG on each term; variance averaged the same way
    (as visual_anagrams does). The course's pair is [(identity, p1), (flip, p2)]."""

    def eps_fn(x, t):
        parts = guided_terms(den, x, t, terms, scale)
        return torch.stack([e for e, _ in parts]).mean(0), _mean_var([v for _, v in parts])

    return eps_fn


def hybrid(
    den: Denoiser, cond_low: torch.Tensor, cond_high: torch.Tensor, scale: float | None, kernel_size: int, sigma: float
) -> EpsFn:
    """1.9: ε = lowpass(ε_1) + highpass(ε_2), CFG on each; variance the mean of the two conditional variances."""

    def eps_fn(x, t):
        (e1, v1), (e2, v2) = guided_terms(den, x, t, [(None, cond_low), (None, cond_high)], scale)
        return lowpass(e1, kernel_size, sigma) + highpass(e2, kernel_size, sigma), _mean_var([v1, v2])

    return eps_fn


# ---- denoising ----------------------------------------------------------------------------------------------------


def one_step(den: Denoiser, x_t: torch.Tensor, t: int, eps_fn: EpsFn) -> torch.Tensor:
    """1.3: x̂0 = (x_t − √(1−ᾱ_t)·ε̂) / √ᾱ_t."""
    eps, _ = eps_fn(x_t, t)
    return x0_from_eps(x_t, eps, den.alphas_cumprod[t].to(x_t.device))


def check_i_start(i_start: int, timesteps: Sequence[int], param: str) -> None:
    require(
        isinstance(i_start, int) and 0 <= i_start < len(timesteps) - 1,
        f"{param}={i_start!r} is outside the strided timesteps: use an index 0..{len(timesteps) - 2} "
        f"(timesteps {timesteps[0]}, {timesteps[1] if len(timesteps) > 1 else ''}, ..., {timesteps[-1]})",
    )


def iterative_denoise(
    den: Denoiser,
    x: torch.Tensor,
    timesteps: Sequence[int],
    eps_fn: EpsFn,
    generator: torch.Generator,
    i_start: int = 0,
    post_step: Callable[[torch.Tensor, int], torch.Tensor] | None = None,
    keep_every: int | None = None,
    clip_x0: bool = False,
) -> tuple[torch.Tensor, list[tuple[int, torch.Tensor]]]:
    """1.4: from x at timesteps[i_start], step t -> t' over consecutive strided timesteps to timesteps[-1] (0, or −1
    for a final noiseless step to x̂0). ``post_step(x, t')`` runs after every step (inpainting). Returns the result and
    the frames (t, x_t) at every ``keep_every``-th index from i_start (the course shows every 5th)."""
    frames: list[tuple[int, torch.Tensor]] = []
    for i in range(i_start, len(timesteps) - 1):
        t, t_prev = timesteps[i], timesteps[i + 1]
        if keep_every and (i - i_start) % keep_every == 0:
            frames.append((t, x.detach().cpu()))
        eps, var = eps_fn(x, t)
        noise = randn(x.shape, generator, x.device) if t_prev >= 0 else None
        x, _ = den.step(x, eps, var, t, t_prev, noise, clip_x0=clip_x0)
        if post_step is not None:
            x = post_step(x, t_prev)
    return x, frames


def sdedit(
    den: Denoiser, x0: torch.Tensor, timesteps: Sequence[int], i_start: int, eps_fn: EpsFn, generator: torch.Generator
) -> torch.Tensor:
    """1.7: noise x0 (model range) to timesteps[i_start], then denoise iteratively."""
    x_t = forward(den, x0, timesteps[i_start], randn(x0.shape, generator, x0.device))
    return iterative_denoise(den, x_t, timesteps, eps_fn, generator, i_start=i_start)[0]


def inpaint(
    den: Denoiser, x0: torch.Tensor, mask: torch.Tensor, timesteps: Sequence[int], eps_fn: EpsFn,
    generator: torch.Generator, i_start: int = 0,
) -> torch.Tensor:
    """1.7.2 (RePaint-style): from pure noise, after every step x_t ← m·x_t + (1−m)·forward(x_orig, t), m = 1 where
    new content goes."""
    mask = mask.to(x0.device, x0.dtype)

    def keep_known(x, t):
        if t < 0:
            return mask * x + (1 - mask) * x0
        return mask * x + (1 - mask) * forward(den, x0, t, randn(x0.shape, generator, x0.device))

    x = randn(x0.shape, generator, x0.device) if i_start == 0 else forward(
        den, x0, timesteps[i_start], randn(x0.shape, generator, x0.device)
    )
    return iterative_denoise(den, x, timesteps, eps_fn, generator, i_start=i_start, post_step=keep_known)[0]


def sample(den: Denoiser, n: int, timesteps: Sequence[int], eps_fn: EpsFn, generator: torch.Generator) -> torch.Tensor:
    """1.5: the loop from pure noise (i_start = 0)."""
    x = randn((n, *den.image_shape), generator, den.device)
    return iterative_denoise(den, x, timesteps, eps_fn, generator)[0]
