"""How recognisable the DDPMs' samples are, by the pipeline's judge (fundiff.judge): the share of confident readings,
the digit histogram, and classifier-free guidance's accuracy / FID trade-off.

"Confident" means the judge's top softmax probability is at least :data:`CONFIDENT` (0.9). For the unconditional
time_cond model, the judge's reading is the sample's label; a good sampler makes almost every sample confident and every
digit about a tenth of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from fundiff.figures.mpl import new_figure, save_figure
from fundiff.judge.model import MnistClassifier, judge_outputs
from fundiff.metrics import class_accuracy, fid
from fundiff.partB.sampling import balanced_labels, strided_sample

CONFIDENT = 0.9
CONFIDENCE_BINS = 20


@dataclass(frozen=True)
class Reading:
    """The judge's reading of N images: predicted digit, its probability, penultimate features."""

    digits: np.ndarray  # int64 N
    confidence: np.ndarray  # float32 N, the top softmax probability
    features: np.ndarray  # float32 N×F

    @property
    def confident_share(self) -> float:
        return float((self.confidence >= CONFIDENT).mean())

    def subset(self, index: np.ndarray) -> Reading:
        return Reading(self.digits[index], self.confidence[index], self.features[index])

    def digit_shares(self) -> np.ndarray:
        return np.bincount(self.digits, minlength=10)[:10] / max(1, len(self.digits))


def read(judge: MnistClassifier, images01: torch.Tensor, batch_size: int = 500) -> Reading:
    logits, features = judge_outputs(judge, images01, batch_size)
    confidence, digits = logits.softmax(dim=1).max(dim=1)
    return Reading(digits.numpy().astype(np.int64), confidence.numpy().astype(np.float32), features.numpy())


def reading_metrics(reading: Reading, prefix: str) -> dict[str, float]:
    """``<prefix>_confident`` (share with confidence >= 0.9) and ``<prefix>_share_digit<d>`` (share read as d)."""
    metrics = {f"{prefix}_confident": reading.confident_share}
    metrics.update({f"{prefix}_share_digit{d}": float(s) for d, s in enumerate(reading.digit_shares())})
    return metrics


def save_histograms(reading: Reading, path: Path, title: str, real: Reading) -> None:
    """Two panels: the judge's confidence (0.9 marked; the ``real`` digits' outlined, scaled to as many samples: the
    ceiling) and the digit it reads (10 % marked)."""
    figure = new_figure(9, 3.2)
    left, right = figure.subplots(1, 2)
    bins = np.linspace(0, 1, CONFIDENCE_BINS + 1)
    left.hist(reading.confidence, bins=bins, color="#4c72b0", label=f"samples: {reading.confident_share:.0%} above")
    left.hist(
        real.confidence,
        bins=bins,
        weights=np.full(len(real.confidence), len(reading.confidence) / max(1, len(real.confidence))),
        histtype="step",
        color="black",
        label=f"real test digits: {real.confident_share:.0%} above",
    )
    left.axvline(CONFIDENT, color="#c44e52", linestyle="--", label=f"{CONFIDENT:g}")
    left.set(xlabel="judge's confidence (top softmax probability)", ylabel="samples", title="confidence")
    left.legend(loc="upper left", frameon=False)
    shares = reading.digit_shares()
    right.bar(range(10), shares * 100, color="#55a868")
    right.axhline(10, color="#c44e52", linestyle="--", label="10 % (uniform)")
    right.set(xlabel="digit read by the judge", ylabel="% of samples", title="digits", xticks=range(10))
    right.legend(loc="upper right", frameon=False)
    figure.suptitle(f"{title}: {len(reading.digits)} samples")
    figure.tight_layout()
    save_figure(figure, path)


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
    reading = read(judge, images)
    accuracy, _ = class_accuracy(reading.digits, labels.numpy())
    return GuidancePoint(gamma, accuracy, reading.confident_share, fid(reading.features[:fid_samples], test_features))


def sweep_guidance(
    judge,
    model,
    acp: torch.Tensor,
    st: dict,
    scheduler,
    seed: int,
    test_features: np.ndarray,
    fid_samples: int,
    progress: bool,
) -> list[GuidancePoint]:
    """Accuracy and FID of fresh fast-sampler samples (the ``sample.class_cond`` settings ``st``) at every γ of
    ``guidance_sweep``, from one checkpoint; the i-th γ draws its noise from ``seed + i``. Each FID reads the first
    ``fid_samples`` samples, the count of its real floor."""
    n = 10 * st["sweep_samples_per_digit"]
    points = []
    for i, gamma in enumerate(st["guidance_sweep"]):
        result = strided_sample(
            model,
            acp,
            n,
            st["fast_num_steps"],
            torch.Generator().manual_seed(seed + i),
            labels=balanced_labels(n),
            guidance_scale=gamma,
            guidance_interval=tuple(st["guidance_interval"]),
            variance=st["fast_variance"],
            clip_x0=st["clip_x0"],
            batch_size=st["batch_size"],
            progress=progress,
            channels_last=st["channels_last"],
            scheduler=scheduler,
        )
        points.append(guidance_point(judge, gamma, result.images, result.labels, test_features, fid_samples))
    return points


def save_guidance_plot(points: list[GuidancePoint], floor: float, path: Path, what: str) -> None:
    """Accuracy and FID against γ, the real-data FID floor marked."""
    gammas = [p.guidance_scale for p in points]
    figure = new_figure(6.5, 3.9)
    ax = figure.subplots()
    ax.plot(gammas, [p.accuracy * 100 for p in points], "o-", color="#4c72b0", label="accuracy (%)")
    ax.set(xlabel="guidance scale γ", ylabel="accuracy by the judge (%)", ylim=(0, 102))
    other = ax.twinx()
    other.plot(gammas, [p.fid for p in points], "s--", color="#c44e52", label="FID")
    other.axhline(floor, color="#c44e52", linestyle=":", label=f"FID of real digits ({floor:.0f})")
    other.set(ylabel="FID (judge's features)", ylim=(0, None))
    lines = ax.get_lines() + other.get_lines()
    figure.legend(lines, [line.get_label() for line in lines], loc="lower center", ncol=3, frameon=False)
    ax.set_title(f"Classifier-free guidance trade-off ({what})")
    figure.tight_layout(rect=(0, 0.08, 1, 1))  # the legend below the axes, clear of every curve
    save_figure(figure, path)


def guidance_csv(points: list[GuidancePoint]) -> str:
    """The sweep as CSV for DVC plots (``dvc plots show``)."""
    rows = ["guidance_scale,accuracy,confident,fid"]
    rows += [f"{p.guidance_scale:g},{p.accuracy:.6f},{p.confident:.6f},{p.fid:.4f}" for p in points]
    return "\n".join(rows) + "\n"
