"""The algorithms of Part A (docs/course.md, A 1.1-1.9), written once over the backend interface
(fundiff.partA.backends.base.Backend): the forward process, the noise estimators and the denoising loops.

A noise estimator ``eps_fn(x_t, t) -> (eps, variance)`` is built from the backend by :func:`conditional`, :func:`cfg`,
:func:`anagram` or :func:`hybrid` (any decomposition of fundiff.partA.decompositions; all batched by
fundiff.diffusion.guidance); :func:`iterative_denoise` runs the one reverse loop (fundiff.diffusion.reverse) over the
strided timesteps of 1.4 and asks the backend to add each step's variance; :func:`keep_known` is the post-step that
pastes a known (noised) part back after every step (inpainting, factorized diffusion from a reference). All
randomness comes from one CPU ``torch.Generator``, so results do not depend on the device.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from fundiff.diffusion.forward_process import add_noise, x0_from_eps
from fundiff.diffusion.guidance import guided_terms as _guided_terms
from fundiff.diffusion.noise_schedule import repaint_timesteps
from fundiff.diffusion.reverse import EpsFn, randn, renoise, reverse_process
from fundiff.errors import require
from fundiff.partA.backends.base import Backend
from fundiff.partA.decompositions import Decomposition
from fundiff.partA.views import View


def forward(backend: Backend, x0: torch.Tensor, t: int, noise: torch.Tensor) -> torch.Tensor:
    """A 1.1: x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·ε (x0 in the model's value range)."""
    return add_noise(x0, noise, torch.full((x0.shape[0],), int(t)), backend.alphas_cumprod)


def noisy_images(
    backend: Backend, x0: torch.Tensor, timesteps: Sequence[int], generator: torch.Generator
) -> list[torch.Tensor]:
    """The same noisy images in 1.1, 1.2 and 1.3: one draw per timestep from ``generator``, in order."""
    return [forward(backend, x0, t, randn(x0.shape, generator, x0.device)) for t in timesteps]


# ---- noise estimators ---------------------------------------------------------------------------------------------


def _center(backend: Backend, t: int) -> float:
    """Signal part of a mid-range image at timestep t: the fixed point the views reflect about (0 for [−1, 1])."""
    return backend.value_mid * float(backend.alphas_cumprod[t].sqrt()) if t >= 0 else backend.value_mid


def guided_terms(
    backend: Backend, x: torch.Tensor, t: int, terms: Sequence[tuple[View | None, torch.Tensor]], scale: float | None
) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    """fundiff.diffusion.guidance.guided_terms with the views reflecting about this backend's centre at t."""
    return _guided_terms(backend, x, t, terms, scale, center=_center(backend, t))


def conditional(backend: Backend, cond: torch.Tensor) -> EpsFn:
    """ε̂ = UNet(x_t, t, cond) (1.3-1.5)."""
    return lambda x, t: guided_terms(backend, x, t, [(None, cond)], None)[0]


def cfg(backend: Backend, cond: torch.Tensor, scale: float) -> EpsFn:
    """A 1.6: ε = ε_u + γ(ε_c − ε_u) with the null condition; the variance is the conditional pass's."""
    return lambda x, t: guided_terms(backend, x, t, [(None, cond)], scale)[0]


def _mean_var(vars_: list[torch.Tensor | None]) -> torch.Tensor | None:
    return None if vars_[0] is None else torch.stack(vars_).mean(0)


def anagram(backend: Backend, terms: Sequence[tuple[View | None, torch.Tensor]], scale: float | None) -> EpsFn:
    """A 1.8: ε = mean_i inverse_view_i(ε̂(view_i(x_t), p_i)), CFG on each term; variance averaged the same way
    (as visual_anagrams does). The course's pair is [(identity, p1), (flip, p2)]."""

    def eps_fn(x, t):
        parts = guided_terms(backend, x, t, terms, scale)
        return torch.stack([e for e, _ in parts]).mean(0), _mean_var([v for _, v in parts])

    return eps_fn


def hybrid(backend: Backend, decomposition: Decomposition, conds: Sequence[torch.Tensor], scale: float | None) -> EpsFn:
    """A 1.9 and factorized diffusion (fundiff.partA.decompositions): ε = Σ_i f_i(ε̂(p_i)), CFG on each of the K
    prompts (one batched call), f_i the decomposition's components; the variance is the mean of the K conditional
    variances. The course's hybrid is the lowhigh case, lowpass(ε_1) + highpass(ε_2)."""
    require(
        len(conds) == len(decomposition.names),
        f"{decomposition.name} has {len(decomposition.names)} components, got {len(conds)} conditions",
    )

    def eps_fn(x, t):
        parts = guided_terms(backend, x, t, [(None, cond) for cond in conds], scale)
        eps = decomposition.components(parts[0][0])[0]
        for i, (e, _) in enumerate(parts[1:], start=1):
            eps = eps + decomposition.components(e)[i]
        return eps, _mean_var([v for _, v in parts])

    return eps_fn


# ---- denoising ----------------------------------------------------------------------------------------------------


def one_step(backend: Backend, x_t: torch.Tensor, t: int, eps_fn: EpsFn) -> torch.Tensor:
    """A 1.3: x̂0 = (x_t − √(1−ᾱ_t)·ε̂) / √ᾱ_t."""
    eps, _ = eps_fn(x_t, t)
    return x0_from_eps(x_t, eps, backend.alphas_cumprod[t].to(x_t.device))


def check_i_start(i_start: int, timesteps: Sequence[int], param: str) -> None:
    require(
        isinstance(i_start, int) and 0 <= i_start < len(timesteps) - 1,
        f"{param}={i_start!r} is outside the strided timesteps: use an index 0..{len(timesteps) - 2} "
        f"(timesteps {timesteps[0]}, {timesteps[1] if len(timesteps) > 1 else ''}, ..., {timesteps[-1]})",
    )


def iterative_denoise(
    backend: Backend,
    x: torch.Tensor,
    timesteps: Sequence[int],
    eps_fn: EpsFn,
    generator: torch.Generator,
    i_start: int = 0,
    post_step: Callable[[torch.Tensor, int], torch.Tensor] | None = None,
    keep_every: int | None = None,
    clip_x0: bool = False,
) -> tuple[torch.Tensor, list[tuple[int, torch.Tensor]]]:
    """A 1.4: from x at timesteps[i_start], step t -> t' over consecutive strided timesteps to timesteps[-1] (0, or −1
    for a final noiseless step to x̂0). ``post_step(x, t')`` runs after every step down (inpainting). A step up (t' > t,
    RePaint's schedule) re-noises x by fundiff.diffusion.reverse.renoise with the backend's ᾱ. Returns the result and the frames (t, x_t) at every
    ``keep_every``-th index from i_start (the course shows every 5th)."""
    frames: list[tuple[int, torch.Tensor]] = []

    def keep(i: int, t: int, x_t: torch.Tensor) -> None:
        if keep_every and (i - i_start) % keep_every == 0:
            frames.append((t, x_t.detach().cpu()))

    def step(x_t, eps, var, t, t_prev, noise):
        return backend.step(x_t, eps, var, t, t_prev, noise, clip_x0=clip_x0)[0]

    def jump(x_t, t, t_next, noise):
        return renoise(x_t, t, t_next, backend.alphas_cumprod, noise)

    x = reverse_process(
        x, timesteps, eps_fn, step, generator, i_start=i_start, post_step=post_step, on_step=keep, jump=jump
    )
    return x, frames


def keep_known(
    backend: Backend,
    x0: torch.Tensor,
    paste: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    generator: torch.Generator,
) -> Callable[[torch.Tensor, int], torch.Tensor]:
    """The post-step of A 1.7.2 and of factorized diffusion from a reference: after every step down to t',
    x ← paste(x, x0_{t'}), x0_{t'} = forward(x0, t', ε) with a fresh ε from ``generator`` (x0 itself at t' = −1)."""

    def post_step(x: torch.Tensor, t: int) -> torch.Tensor:
        if t < 0:
            return paste(x, x0)
        return paste(x, forward(backend, x0, t, randn(x0.shape, generator, x0.device)))

    return post_step


def sdedit(
    backend: Backend,
    x0: torch.Tensor,
    timesteps: Sequence[int],
    i_start: int,
    eps_fn: EpsFn,
    generator: torch.Generator,
) -> torch.Tensor:
    """A 1.7: noise x0 (model range) to timesteps[i_start], then denoise iteratively."""
    x_t = forward(backend, x0, timesteps[i_start], randn(x0.shape, generator, x0.device))
    return iterative_denoise(backend, x_t, timesteps, eps_fn, generator, i_start=i_start)[0]


def inpaint(
    backend: Backend,
    x0: torch.Tensor,
    mask: torch.Tensor,
    timesteps: Sequence[int],
    eps_fn: EpsFn,
    generator: torch.Generator,
    i_start: int = 0,
    jump_length: int = 1,
    jump_n_sample: int = 1,
) -> torch.Tensor:
    """A 1.7.2 (RePaint): from pure noise, after every step x_t ← m·x_t + (1−m)·forward(x_orig, t), m = 1 where new
    content goes.

    Beyond the course, RePaint's resampling (Lugmayr et al. 2022): the loop runs over
    fundiff.diffusion.noise_schedule.repaint_timesteps(timesteps[i_start:], jump_length, jump_n_sample), which every
    ``jump_length`` strided steps goes back up ``jump_length`` steps (x re-noised by q(x_{t'} | x_t), a draw from the
    same generator) and denoises that stretch again, ``jump_n_sample`` times in all. ``jump_n_sample = 1`` is the
    course's loop, draw for draw."""
    mask = mask.to(x0.device, x0.dtype)
    post_step = keep_known(backend, x0, lambda x, known: mask * x + (1 - mask) * known, generator)
    x = (
        randn(x0.shape, generator, x0.device)
        if i_start == 0
        else forward(backend, x0, timesteps[i_start], randn(x0.shape, generator, x0.device))
    )
    schedule = list(timesteps[:i_start]) + repaint_timesteps(list(timesteps[i_start:]), jump_length, jump_n_sample)
    return iterative_denoise(backend, x, schedule, eps_fn, generator, i_start=i_start, post_step=post_step)[0]


def sample(
    backend: Backend, n: int, timesteps: Sequence[int], eps_fn: EpsFn, generator: torch.Generator
) -> torch.Tensor:
    """A 1.5: the loop from pure noise (i_start = 0)."""
    x = randn((n, *backend.image_shape), generator, backend.device)
    return iterative_denoise(backend, x, timesteps, eps_fn, generator)[0]


def sample_with_component(
    backend: Backend,
    n: int,
    timesteps: Sequence[int],
    eps_fn: EpsFn,
    generator: torch.Generator,
    decomposition: Decomposition,
    index: int,
    reference: torch.Tensor,
) -> torch.Tensor:
    """Factorized diffusion from a reference image (Geng et al. 2024): the loop of :func:`sample` where, after every
    step down to t' (as inpainting pastes the known pixels, :func:`keep_known`), component ``index`` of x is replaced
    by that of the reference noised to t': x ← x − f_i(x) + f_i(forward(reference, t', ε)). ``reference``:
    1×C×H×W in the model's range."""
    ref = reference.to(backend.device).expand(n, *backend.image_shape)

    def paste(x: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        return x - decomposition.components(x)[index] + decomposition.components(known)[index]

    x = randn((n, *backend.image_shape), generator, backend.device)
    post_step = keep_known(backend, ref, paste, generator)
    return iterative_denoise(backend, x, timesteps, eps_fn, generator, post_step=post_step)[0]
