"""Noise schedules, timestep conventions and the timestep lists of the samplers (docs/course.md, Conventions).

Convention (used everywhere in fundiff): timesteps are 0-based, t in {0, ..., T-1}, the same as diffusers.
The course writes t in {1..T}; its t equals ours + 1. ``alphas_cumprod[t] = prod_{s<=t} (1 - betas[s])``.
Networks see the normalised time ``(t + 1) / T``, which is exactly the course's ``t / T``.
"""

from __future__ import annotations

import numpy as np
import torch

from fundiff.errors import require


def linear_betas(num_timesteps: int, beta_start: float, beta_end: float) -> torch.Tensor:
    """β linear from beta_start to beta_end (float32, like diffusers' ``beta_schedule="linear"``)."""
    return torch.linspace(beta_start, beta_end, num_timesteps, dtype=torch.float32)


def alphas_cumprod_from_betas(betas: torch.Tensor) -> torch.Tensor:
    return torch.cumprod(1.0 - betas, dim=0)


def normalized_time(t: torch.Tensor, num_timesteps: int) -> torch.Tensor:
    """Network input for 0-based timestep t: (t + 1) / T, shape (N, 1)."""
    return ((t.float() + 1.0) / num_timesteps).reshape(-1, 1)


def strided_timesteps(start: int, stride: int) -> list[int]:
    """Descending timesteps start, start - stride, ..., 0 (the course uses start=990, stride=30)."""
    if start < 0 or stride <= 0:
        raise ValueError(f"strided_timesteps needs start >= 0 and stride > 0, got {start}, {stride}")
    steps = list(range(start, -1, -stride))
    return steps if steps[-1] == 0 else steps + [0]


def full_timesteps(num_timesteps: int) -> list[int]:
    """Algorithm 2's timesteps, 0-based: T-1, ..., 0."""
    require(num_timesteps >= 1, f"num_timesteps={num_timesteps} must be >= 1")
    return list(range(num_timesteps - 1, -1, -1))


def fast_timesteps(num_timesteps: int, num_steps: int) -> list[int]:
    """``num_steps`` distinct descending timesteps from T-1 to 0, evenly spaced (rounded); num_steps = T: T-1..0."""
    require(
        isinstance(num_steps, (int, np.integer)) and 1 <= num_steps <= num_timesteps,
        f"num_steps={num_steps} must be an integer in 1..T={num_timesteps} (the number of training timesteps)",
    )
    if num_steps == 1:
        return [num_timesteps - 1]
    steps = np.floor(np.linspace(num_timesteps - 1, 0, num_steps) + 0.5).astype(int).tolist()
    assert len(set(steps)) == num_steps and steps[0] == num_timesteps - 1 and steps[-1] == 0
    return steps


def scaled_timesteps(num_timesteps: int) -> list[int]:
    """The course's strided timesteps 990, 960, ..., 30, 0 (T = 1000) scaled to T: stride 3 % of T, start 99 % of T
    (T = 300: 297, 288, ..., 9, 0; the same 34 timesteps, so the course's i_start indices keep their meaning)."""
    stride = max(1, round(num_timesteps * 0.03))
    return strided_timesteps(int(num_timesteps * 0.99) // stride * stride, stride)


def repaint_timesteps(timesteps: list[int], jump_length: int, jump_n_sample: int) -> list[int]:
    """RePaint's resampling schedule (Lugmayr et al. 2022, their jump schedule; diffusers'
    ``RePaintScheduler.set_timesteps``) over descending ``timesteps`` (e.g. the strided ones of A 1.4), for
    fundiff.diffusion.reverse.reverse_process.

    Levels count the positions from the end (level 0 = ``timesteps[-1]``). The schedule starts at the top and goes down
    one position at a time; at every level ℓ in 0, j, 2j, ... below ``len(timesteps) - 1 - j`` (j = ``jump_length``)
    it jumps back up by j positions (one entry: a step up, re-noised by q(x_{t'} | x_t)) and comes down again,
    ``jump_n_sample - 1`` times, so each of those stretches is denoised ``jump_n_sample`` times in all. It ends at
    ``timesteps[-1]`` (after the final level's own jumps). ``jump_n_sample = 1``, or a j too long to fit, is
    ``timesteps`` itself. diffusers lists where the model is evaluated and goes up one step per entry; here an entry
    is a state and one entry makes the whole jump (tests/partA/test_repaint.py checks the two agree)."""
    require(
        isinstance(jump_length, int) and not isinstance(jump_length, bool) and jump_length >= 1,
        f"jump_length={jump_length!r} must be an integer >= 1",
    )
    require(
        isinstance(jump_n_sample, int) and not isinstance(jump_n_sample, bool) and jump_n_sample >= 1,
        f"jump_n_sample={jump_n_sample!r} must be an integer >= 1",
    )
    n = len(timesteps)
    jumps = {level: jump_n_sample - 1 for level in range(0, n - 1 - jump_length, jump_length)}
    level = n - 1
    levels = [level]
    while level > 0:
        level -= 1
        levels.append(level)
        if jumps.get(level, 0) > 0:
            jumps[level] -= 1
            level += jump_length
            levels.append(level)
    return [int(timesteps[n - 1 - lv]) for lv in levels]
