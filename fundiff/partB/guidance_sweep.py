"""Classifier-free guidance's accuracy / FID trade-off: fresh fast samples of one class-conditioned checkpoint at every
γ of ``sample.class_cond.guidance_sweep``, read by the judge."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from fundiff.judge.model import MnistClassifier
from fundiff.judge.reading import RealDigits, judge_images
from fundiff.metrics import class_accuracy, fid
from fundiff.partB.sample_settings import DdpmSampleParams
from fundiff.partB.sampling import timed_draw


@dataclass(frozen=True)
class GuidancePoint:
    guidance_scale: float
    accuracy: float
    confident: float
    fid: float


def guidance_point(
    judge: MnistClassifier,
    gamma: float,
    images: torch.Tensor,
    labels: torch.Tensor,
    test_features: np.ndarray,
    fid_samples: int,
) -> GuidancePoint:
    """Accuracy and confidence over every sample; FID over the first ``fid_samples`` only (as many as its real floor
    has digits: FIDs compare at the same count; a balanced_labels prefix stays balanced)."""
    reading = judge_images(judge, images)
    accuracy, _ = class_accuracy(reading.digits, labels.numpy())
    return GuidancePoint(gamma, accuracy, reading.confident_share, fid(reading.features[:fid_samples], test_features))


def sweep_guidance(
    judge: MnistClassifier,
    model: torch.nn.Module,
    alphas_cumprod: torch.Tensor,
    params: DdpmSampleParams,
    scheduler_config: dict[str, Any] | None,
    seed: int,
    real: RealDigits,
    progress: bool,
) -> list[GuidancePoint]:
    """Accuracy and FID of ``10 · sweep_samples_per_digit`` fresh fast samples at every γ of the sweep; the i-th γ
    draws its noise from ``seed + i``. Each FID reads as many samples as its real floor (``real``) has digits."""
    n = 10 * params.sweep_samples_per_digit
    points = []
    for i, gamma in enumerate(params.guidance_sweep):
        settings = params.sweep_settings(gamma)
        result, _ = timed_draw(model, alphas_cumprod, settings, n, seed + i, True, None, scheduler_config, progress)
        points.append(guidance_point(judge, gamma, result.images, result.labels, real.reference, real.count(n)))
    return points


def guidance_csv(points: list[GuidancePoint]) -> str:
    """The sweep as CSV for DVC plots (``dvc plots show``)."""
    rows = ["guidance_scale,accuracy,confident,fid"]
    rows += [f"{p.guidance_scale:g},{p.accuracy:.6f},{p.confident:.6f},{p.fid:.4f}" for p in points]
    return "\n".join(rows) + "\n"
