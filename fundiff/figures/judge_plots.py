"""Figures of the judge's reading (fundiff.judge.reading): confidence and digit histograms, and classifier-free
guidance's accuracy / FID trade-off."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fundiff.figures.mpl import new_figure, save_figure
from fundiff.judge.reading import CONFIDENT, Reading

CONFIDENCE_BINS = 20


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


def save_guidance_plot(points: Sequence[Any], floor: float, path: Path, what: str) -> None:
    """Accuracy and FID against γ (``points``: fundiff.partB.guidance_sweep.GuidancePoint), the real-data FID floor
    marked."""
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
