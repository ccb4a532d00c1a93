"""matplotlib with deterministic bytes: Agg canvas, no pyplot state, a fixed dpi, no "Software"/date metadata."""

from __future__ import annotations

import io
from pathlib import Path

from fundiff.io import atomic_file

PNG_METADATA = {"Software": None}  # matplotlib writes no date into PNGs; this drops its version too


def new_figure(width: float, height: float, dpi: int = 100):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(figure)
    return figure


def png_bytes(figure, dpi: int = 100) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, metadata=PNG_METADATA)
    return buffer.getvalue()


def save_figure(figure, path: str | Path, dpi: int = 100) -> None:
    with atomic_file(path) as handle:
        handle.write(png_bytes(figure, dpi))
