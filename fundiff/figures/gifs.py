"""Animated GIFs of the sampling process (PIL, no timestamps: same frames -> same bytes)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from fundiff.errors import require
from fundiff.figures.grids import batch_grid
from fundiff.io import atomic_file


def save_gif(
    frames: Sequence, path: str | Path, nrow: int, duration_ms: int = 80, hold_last_ms: int = 1500, scale: int = 2
) -> None:
    """A looping GIF of a sequence of image batches, each shown as a grid; the last frame is held."""
    require(len(frames) >= 1, "save_gif needs at least one frame")
    pictures = [batch_grid(f, nrow, scale=scale) for f in frames]
    pictures = [p.convert("L") if p.mode != "L" else p for p in pictures]
    durations = [duration_ms] * (len(pictures) - 1) + [hold_last_ms]
    buffer = io.BytesIO()
    pictures[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=pictures[1:],
        duration=durations,
        loop=0,
        optimize=False,
        disposal=1,
    )
    with atomic_file(path) as handle:
        handle.write(buffer.getvalue())
