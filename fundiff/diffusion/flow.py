"""Flow matching (the course's current Part B, docs/course.md "The flow-matching edition"): the interpolation, the
velocity target and the Euler sampler, as a step of THE reverse loop (fundiff.diffusion.reverse.reverse_process).

Convention (the course's): x_0 ~ N(0, I) is the noise end and x_1 the digit; x_t = (1 − t)·x_0 + t·x_1 with t ∈ [0, 1]
(t = 0 noise, t = 1 clean); the network u_θ(x_t, t) learns the velocity x_1 − x_0 (Algorithms B.1 and B.3). Sampling
(B.2) integrates dx/dt = u_θ(x, t) from t = 0 to 1 with ``num_ts`` forward-Euler steps of size 1/num_ts.

In the loop, which counts down integer steps like a DDPM sampler, step k ∈ {num_ts − 1, …, 0} is the network call at
t_k = (num_ts − 1 − k)/num_ts, and the final "step to −1" lands on t = 1, the clean image (:func:`flow_time`). So
(k + 1)/num_ts = 1 − t_k is the noise level, which is also what a guidance interval reads, as (t + 1)/T does for a DDPM.

diffusers' ``FlowMatchEulerDiscreteScheduler`` integrates the same ODE in σ = 1 − t (σ = 1 noise, 0 clean) on a model
output v = noise − data = −u: its step ``x + (σ' − σ)·v`` equals ours, ``x + (t' − t)·u``, when its sigmas are ours,
1, (N−1)/N, …, 1/N (``set_timesteps(sigmas=…)``, shift 1). A test checks this; every flow checkpoint carries that
scheduler's config (:func:`save_flow_scheduler`) as a DDPM checkpoint carries ``DDPMScheduler``'s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from fundiff.errors import require

SCHEDULER_CLASS = "FlowMatchEulerDiscreteScheduler"
# diffusers' FlowMatchEulerDiscreteScheduler as its save_pretrained writes it with the defaults (a test compares them):
# shift 1 (no resolution-dependent shifting), deterministic Euler steps.
_FLOW_DEFAULTS: dict[str, Any] = {
    "base_image_seq_len": 256,
    "base_shift": 0.5,
    "invert_sigmas": False,
    "max_image_seq_len": 4096,
    "max_shift": 1.15,
    "num_train_timesteps": 1000,
    "shift": 1.0,
    "shift_terminal": None,
    "stochastic_sampling": False,
    "time_shift_type": "exponential",
    "use_beta_sigmas": False,
    "use_dynamic_shifting": False,
    "use_exponential_sigmas": False,
    "use_karras_sigmas": False,
}


def interpolate(noise: torch.Tensor, data: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """x_t = (1 − t)·x_0 + t·x_1 for a batch, ``t`` of shape (N,) broadcast over each image."""
    t = t.reshape(-1, *([1] * (data.dim() - 1))).to(data.dtype)
    return (1 - t) * noise + t * data


def velocity_target(noise: torch.Tensor, data: torch.Tensor) -> torch.Tensor:
    """u = x_1 − x_0, the velocity of the straight path from the noise to the digit."""
    return data - noise


def flow_time(k: int, num_ts: int) -> float:
    """t at the loop's step k (k = num_ts − 1 is t = 0, pure noise; k = −1 is t = 1, the clean image)."""
    return (num_ts - 1 - k) / num_ts


def euler_sigmas(num_ts: int) -> list[float]:
    """σ = 1 − t of every network call, 1, (N−1)/N, …, 1/N: what diffusers' scheduler takes as ``sigmas``."""
    return [1 - flow_time(k, num_ts) for k in range(num_ts - 1, -1, -1)]


@dataclass(frozen=True)
class EulerFlow:
    """Algorithm B.2: ``num_ts`` forward-Euler steps of dx/dt = u_θ(x, t) from t = 0 to 1, as a sampler of the reverse
    loop (``timesteps()`` and ``step_fn()``, like fundiff.diffusion.diffusers_schedulers.DiffusersSampler)."""

    num_ts: int
    name: str = "euler"
    draws_noise = False  # an ODE: the loop draws no z for it

    def __post_init__(self) -> None:
        require(isinstance(self.num_ts, int) and self.num_ts >= 1, f"num_ts={self.num_ts} must be >= 1")

    def timesteps(self) -> list[int]:
        """The loop's steps, num_ts − 1 down to 0 (it appends the final step to −1, t = 1)."""
        return list(range(self.num_ts - 1, -1, -1))

    def step_fn(self):
        """A StepFn: x + (t' − t)·u, with u the (guided) velocity the loop hands over in place of ε̂."""
        n = self.num_ts

        def step(x, velocity, var, k, k_prev, noise):
            return x + (flow_time(k_prev, n) - flow_time(k, n)) * velocity

        return step


def flow_scheduler_config() -> dict[str, Any]:
    """The config of diffusers' FlowMatchEulerDiscreteScheduler that integrates our flow (see the module's text)."""
    return dict(_FLOW_DEFAULTS)


def save_flow_scheduler(directory: str | Path) -> None:
    """``<directory>/scheduler_config.json``, the file diffusers' ``FlowMatchEulerDiscreteScheduler.save_pretrained``
    writes, without importing diffusers (fundiff.nets.pretrained explains why)."""
    from fundiff.nets.pretrained import diffusers_version

    record = {**flow_scheduler_config(), "_class_name": SCHEDULER_CLASS, "_diffusers_version": diffusers_version()}
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "scheduler_config.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
