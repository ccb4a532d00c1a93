"""What the steps of ``sample@<model>`` (fundiff.partB.sample_ddpm) hand each other."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from fundiff.judge.model import MnistClassifier
from fundiff.judge.reading import Reading, RealDigits
from fundiff.partB.guidance_sweep import GuidancePoint
from fundiff.partB.sample_result import SampleResult


@dataclass
class Loaded:
    """Step 2: what the samplers and the judge need."""

    config: dict[str, Any]  # the checkpoint's train_config.json
    alphas_cumprod: torch.Tensor | None  # a DDPM's schedule; None for a flow model
    epochs: list[int]  # the snapshot epochs
    final: torch.nn.Module
    snapshots: dict[int, torch.nn.Module]
    guide: torch.nn.Module | None  # time_cond's autoguide snapshot
    scheduler_config: dict[str, Any] | None  # the saved DDPM scheduler's, for diffusers' samplers
    judge: MnistClassifier
    real_test: Reading  # the judge's reading of the real test digits: FID's reference and the judge's ceiling
    real: RealDigits  # real training digits: the FID floors

    @property
    def num_timesteps(self) -> int:
        """A DDPM's T (0 for a flow model, whose steps are its sampler's num_ts)."""
        return 0 if self.alphas_cumprod is None else len(self.alphas_cumprod)


@dataclass
class Drawn:
    """Step 3: the samples."""

    full: SampleResult
    fast: SampleResult
    seconds: dict[str, float]
    grids: dict[int, torch.Tensor] = field(default_factory=dict)
    sweep: list[GuidancePoint] = field(default_factory=list)


@dataclass
class Judged:
    """Step 4: the judge's numbers and samples.npz's content."""

    metrics: dict[str, float]
    bulk: torch.Tensor  # samples.npz's images, N×1×28×28
    bulk_labels: np.ndarray
    bulk_reading: Reading
