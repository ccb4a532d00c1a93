"""Noise schedules and timestep conventions.

Convention (used everywhere in fundiff): timesteps are 0-based, t in {0, ..., T-1}, the same as diffusers.
The course writes t in {1..T}; its t equals ours + 1. ``alphas_cumprod[t] = prod_{s<=t} (1 - betas[s])``.
Networks see the normalised time ``(t + 1) / T``, which is exactly the course's ``t / T``.
"""

from __future__ import annotations

import torch


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
