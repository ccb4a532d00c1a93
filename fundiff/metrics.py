"""Quality measures: FID in the judge's feature space (comparable only with other numbers from the same judge, not with
Inception-FID), per-class accuracy, and Part B 1's test MSE of the single-step denoiser and of a Gaussian blur at each σ.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from fundiff.diffusion.forward_process import add_sigma_noise
from fundiff.errors import require
from fundiff.figures.filters import lowpass


# ---------------------------------------------------------------------------------------------------------- FID
def feature_stats(features) -> tuple[np.ndarray, np.ndarray]:
    f = np.asarray(features, dtype=np.float64)
    require(f.ndim == 2 and len(f) >= 2, f"FID needs at least 2 feature vectors (N×D), got shape {f.shape}")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def _sqrtm_psd(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """‖μ1-μ2‖² + tr(C1) + tr(C2) - 2·tr((C1^½ C2 C1^½)^½), via symmetric eigendecompositions (stable for the
    rank-deficient covariances of small sample sets; no complex parts as with a general ``sqrtm``)."""
    s1 = _sqrtm_psd(cov1)
    middle = s1 @ cov2 @ s1
    eig = np.linalg.eigvalsh((middle + middle.T) / 2)
    tr_covmean = np.sqrt(np.clip(eig, 0, None)).sum()
    diff = mu1 - mu2
    return float(max(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2 * tr_covmean, 0.0))


def fid(features_a, features_b) -> float:
    """FID between two feature sets (rows = samples)."""
    return frechet_distance(*feature_stats(features_a), *feature_stats(features_b))


# ----------------------------------------------------------------------------------------------------- accuracy
def class_accuracy(pred, labels, num_classes: int = 10) -> tuple[float, list[float]]:
    """Overall accuracy and the accuracy within each true class (NaN-free: a class without samples is an error)."""
    pred, labels = np.asarray(pred).reshape(-1), np.asarray(labels).reshape(-1)
    require(len(pred) == len(labels) and len(pred) > 0, f"{len(pred)} predictions for {len(labels)} labels")
    per = []
    for c in range(num_classes):
        mask = labels == c
        require(mask.any(), f"no samples of class {c} to measure accuracy on")
        per.append(float((pred[mask] == c).mean()))
    return float((pred == labels).mean()), per


# ------------------------------------------------------------------------------------------------ denoising MSE
def fixed_noise(shape: Sequence[int], seed: int) -> torch.Tensor:
    return torch.randn(tuple(shape), generator=torch.Generator().manual_seed(seed))


@torch.inference_mode()
def denoise_mse(
    model: nn.Module, images01: torch.Tensor, sigmas: Sequence[float], noise: torch.Tensor, batch_size: int = 500
) -> list[float]:
    """Per σ: mean over test pixels of (model(x + σ·ε) - x)², with the same ε at every σ (the course's figure)."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    for sigma in sigmas:
        total = 0.0
        for start in range(0, len(images01), batch_size):
            x = images01[start : start + batch_size]
            z = add_sigma_noise(x, float(sigma), noise[start : start + batch_size])
            total += F.mse_loss(model(z.to(device)).float().cpu(), x, reduction="sum").item()
        require(
            math.isfinite(total),
            "the denoiser produced non-finite values (NaN or inf): its weights are damaged; "
            "restore them with `dvc checkout` or retrain (dvc repro train@denoiser)",
        )
        out.append(total / images01.numel())
    return out


def blur_mse(
    images01: torch.Tensor, sigmas: Sequence[float], noise: torch.Tensor, kernel_size: int, blur_sigma: float
) -> list[float]:
    """The classical baseline: Gaussian blur of x + σ·ε, same ε as ``denoise_mse``."""
    return [
        F.mse_loss(lowpass(add_sigma_noise(images01, float(s), noise), kernel_size, blur_sigma), images01).item()
        for s in sigmas
    ]


__all__ = [
    "fid",
    "frechet_distance",
    "feature_stats",
    "class_accuracy",
    "denoise_mse",
    "blur_mse",
    "fixed_noise",
]
