"""diffusers' schedulers beside the course's samplers: the DDPM scheduler saved with every DDPM checkpoint, and DDIM /
DPM-Solver++ as fast samplers, each run as a step of THE reverse loop (fundiff.diffusion.reverse.reverse_process).

Every DDPM checkpoint directory holds ``scheduler/scheduler_config.json``: diffusers' ``DDPMScheduler`` with the
training schedule (linear β, T timesteps, ε-prediction, no x̂0 clipping since our images live in [0, 1], not [-1, 1]).
So the UNet (``<checkpoint>/final``) and its scheduler load with diffusers' own ``from_pretrained``.

The fast samplers (``sample.<model>.fast_sampler``):

* ``course``: the strided update of Part A 1.4 (fundiff.diffusion.reverse.denoise_step), the default;
* ``ddim``: ``DDIMScheduler`` (η = 0, deterministic), built ``from_config`` of the saved DDPM scheduler;
* ``dpm_solver``: ``DPMSolverMultistepScheduler`` (DPM-Solver++ 2M, deterministic, first order at the last step).

Both diffusers samplers use "trailing" timestep spacing, so that, like the course's samplers, they start at t = T-1
(pure noise) and end with a step to the clean image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from fundiff.errors import FundiffError, require

FAST_SAMPLERS = ("course", "ddim", "dpm_solver")
SCHEDULER_DIR = "scheduler"
_OVERRIDES: dict[str, dict[str, Any]] = {
    "ddim": dict(timestep_spacing="trailing", clip_sample=False, set_alpha_to_one=True),
    "dpm_solver": dict(timestep_spacing="trailing", algorithm_type="dpmsolver++", solver_order=2, thresholding=False),
}


def ddpm_scheduler(num_timesteps: int, beta_start: float, beta_end: float):
    """diffusers' DDPMScheduler of our training schedule (β linear, ε-prediction, Algorithm 2's σ² = β)."""
    from diffusers import DDPMScheduler

    return DDPMScheduler(
        num_train_timesteps=num_timesteps,
        beta_start=beta_start,
        beta_end=beta_end,
        beta_schedule="linear",
        variance_type="fixed_large",
        clip_sample=False,
        prediction_type="epsilon",
    )


def load_scheduler_config(checkpoints: str | Path, alphas_cumprod: torch.Tensor, fix: str) -> dict[str, Any]:
    """The DDPM scheduler saved beside the checkpoints (``<checkpoints>/scheduler``), read by diffusers'
    ``from_pretrained`` (a JSON file) and checked against the schedule of ``train_config.json``."""
    from diffusers import DDPMScheduler

    where = Path(checkpoints) / SCHEDULER_DIR
    if not (where / "scheduler_config.json").is_file():
        raise FundiffError(f"{where}/scheduler_config.json is missing: {fix}")
    try:
        scheduler = DDPMScheduler.from_pretrained(str(where))
    except (OSError, ValueError, TypeError) as err:
        raise FundiffError(f"{where}/scheduler_config.json is unreadable ({type(err).__name__}): {fix}") from None
    ours = alphas_cumprod.to(torch.float32)
    theirs = scheduler.alphas_cumprod.to(torch.float32)
    if theirs.shape != ours.shape or not torch.allclose(theirs, ours, rtol=0, atol=1e-6):
        raise FundiffError(f"{where} does not match the schedule in train_config.json: {fix}")
    return dict(scheduler.config)


@dataclass(frozen=True)
class DiffusersSampler:
    """One of diffusers' fast samplers over ``num_steps`` steps, from the saved DDPM scheduler's config."""

    name: str  # "ddim" | "dpm_solver"
    config: dict[str, Any]
    num_steps: int

    def __post_init__(self) -> None:
        require(self.name in _OVERRIDES, f"unknown diffusers sampler {self.name!r}; use one of {', '.join(_OVERRIDES)}")
        T = int(self.config["num_train_timesteps"])
        require(1 <= self.num_steps <= T, f"num_steps={self.num_steps} must be in 1..T={T}")

    def new(self):
        """A fresh scheduler with its timesteps set (DPM-Solver keeps per-run state: one per batch)."""
        from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

        cls = DDIMScheduler if self.name == "ddim" else DPMSolverMultistepScheduler
        scheduler = cls.from_config(self.config, **_OVERRIDES[self.name])
        scheduler.set_timesteps(self.num_steps)
        return scheduler

    def timesteps(self) -> list[int]:
        """Where the model is evaluated, descending; reverse_process appends the final step to -1."""
        return [int(t) for t in self.new().timesteps]

    def step_fn(self):
        """A StepFn for reverse_process: ``scheduler.step(ε̂, t, x).prev_sample`` (deterministic, so z is unused)."""
        scheduler = self.new()

        def step(x, eps, var, t, t_prev, noise):
            return scheduler.step(eps, t, x).prev_sample

        return step
