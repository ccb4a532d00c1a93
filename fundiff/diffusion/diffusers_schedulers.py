"""diffusers' schedulers beside the course's samplers: the DDPM scheduler saved with every DDPM checkpoint, and DDIM /
DPM-Solver++ as fast samplers, each run as a step of THE reverse loop (fundiff.diffusion.reverse.reverse_process).

Every DDPM checkpoint directory holds ``scheduler/scheduler_config.json``: diffusers' ``DDPMScheduler`` with the
training schedule (linear β, T timesteps, ε-prediction, no x̂0 clipping since our images live in [0, 1], not [-1, 1]).
So the UNet (``<checkpoint>/final``) and its scheduler load with diffusers' own ``from_pretrained``. The file is
written and checked without importing diffusers; only the two diffusers samplers import it, when chosen.

The fast samplers (``sample.<model>.fast_sampler``):

* ``course``: the strided update of Part A 1.4 (fundiff.diffusion.reverse.denoise_step), the default;
* ``ddim``: ``DDIMScheduler`` (η = 0, deterministic), built ``from_config`` of the saved DDPM scheduler;
* ``dpm_solver``: ``DPMSolverMultistepScheduler`` (DPM-Solver++ 2M, deterministic, first order at the last step).

Both diffusers samplers use "trailing" timestep spacing, so that, like the course's samplers, they start at t = T-1
(pure noise) and end with a step to the clean image.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from fundiff.diffusion.noise_schedule import alphas_cumprod_from_betas, linear_betas
from fundiff.errors import FundiffError, require

FAST_SAMPLERS = ("course", "ddim", "dpm_solver")
SCHEDULER_DIR = "scheduler"
_OVERRIDES: dict[str, dict[str, Any]] = {
    "ddim": dict(timestep_spacing="trailing", clip_sample=False, set_alpha_to_one=True),
    "dpm_solver": dict(timestep_spacing="trailing", algorithm_type="dpmsolver++", solver_order=2, thresholding=False),
}


# diffusers' DDPMScheduler with the training schedule, every key as its save_pretrained writes it (a test compares the
# bytes with diffusers' own): β linear, ε-prediction, Algorithm 2's σ² = β ("fixed_large"), no x̂0 clipping.
_DDPM_DEFAULTS: dict[str, Any] = {
    "beta_schedule": "linear",
    "clip_sample": False,
    "clip_sample_range": 1.0,
    "dynamic_thresholding_ratio": 0.995,
    "prediction_type": "epsilon",
    "rescale_betas_zero_snr": False,
    "sample_max_value": 1.0,
    "steps_offset": 0,
    "thresholding": False,
    "timestep_spacing": "leading",
    "trained_betas": None,
    "variance_type": "fixed_large",
}
CONFIG_FILE = "scheduler_config.json"


def ddpm_scheduler_config(num_timesteps: int, beta_start: float, beta_end: float) -> dict[str, Any]:
    """The config of diffusers' DDPMScheduler for our training schedule (what ``DDPMScheduler.from_config`` takes)."""
    return {
        **_DDPM_DEFAULTS,
        "num_train_timesteps": int(num_timesteps),
        "beta_start": float(beta_start),
        "beta_end": float(beta_end),
    }


def save_ddpm_scheduler(directory: str | Path, num_timesteps: int, beta_start: float, beta_end: float) -> None:
    """``<directory>/scheduler_config.json``, the file diffusers' ``DDPMScheduler.save_pretrained`` writes, without
    importing diffusers (fundiff.nets.pretrained explains why)."""
    from fundiff.nets.pretrained import diffusers_version

    record = {
        **ddpm_scheduler_config(num_timesteps, beta_start, beta_end),
        "_class_name": "DDPMScheduler",
        "_diffusers_version": diffusers_version(),
    }
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / CONFIG_FILE).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")


def load_scheduler_config(checkpoints: str | Path, alphas_cumprod: torch.Tensor, fix: str) -> dict[str, Any]:
    """The DDPM scheduler config saved beside the checkpoints (``<checkpoints>/scheduler``), checked to be a linear-β
    DDPMScheduler whose ᾱ equals the schedule of ``train_config.json``."""
    where = Path(checkpoints) / SCHEDULER_DIR
    path = where / CONFIG_FILE
    if not path.is_file():
        raise FundiffError(f"{path} is missing: {fix}")
    try:
        raw = json.loads(path.read_text())
        require(isinstance(raw, dict) and raw.get("_class_name") == "DDPMScheduler", "not a DDPMScheduler config")
        require(raw.get("beta_schedule") == "linear", "beta_schedule is not linear")
        T, b0, b1 = int(raw["num_train_timesteps"]), float(raw["beta_start"]), float(raw["beta_end"])
        require(T >= 2 and 0 < b0 <= b1 < 1, "not a valid linear schedule")
    except (OSError, ValueError, TypeError, KeyError, FundiffError) as err:
        raise FundiffError(f"{path} is unreadable ({type(err).__name__}: {err}): {fix}") from None
    ours = alphas_cumprod.to(torch.float32)
    theirs = alphas_cumprod_from_betas(linear_betas(T, b0, b1)).to(torch.float32)
    if theirs.shape != ours.shape or not torch.allclose(theirs, ours, rtol=0, atol=1e-6):
        raise FundiffError(f"{where} does not match the schedule in train_config.json: {fix}")
    return {k: v for k, v in raw.items() if not k.startswith("_")}


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
