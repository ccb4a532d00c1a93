"""Figures with deterministic bytes: image grids (torchvision), labelled image tables and loss curves (matplotlib, Agg,
no pyplot state, no "Software"/date metadata), and GIFs of the sampling process (PIL, no timestamps).

Same inputs -> same bytes, so DVC sees unchanged outputs after ``dvc repro -f``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from fundiff.errors import require
from fundiff.io import atomic_file

PNG_METADATA = {"Software": None}  # matplotlib writes no date into PNGs; this drops its version too


def _as_batch(images) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(images) if not isinstance(images, torch.Tensor) else images).detach().float().cpu()
    if x.ndim == 2:
        x = x[None, None]
    elif x.ndim == 3:
        x = x.unsqueeze(1)
    require(x.ndim == 4, f"expected images N×H×W or N×C×H×W, got shape {tuple(x.shape)}")
    return x.clamp(0, 1)


def grid_array(images, nrow: int, padding: int = 2, pad_value: float = 1.0, scale: int = 1) -> np.ndarray:
    """uint8 H×W (grey) or H×W×3 array of a grid of images in [0, 1], ``nrow`` images per row."""
    from torchvision.utils import make_grid

    x = _as_batch(images)
    if scale > 1:
        x = torch.nn.functional.interpolate(x, scale_factor=scale, mode="nearest")
    grid = make_grid(x, nrow=nrow, padding=padding, pad_value=pad_value)  # 3×H×W
    array = grid.mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    return array[..., 0].copy() if x.shape[1] == 1 else array


def save_grid(images, path: str | Path, nrow: int, padding: int = 2, pad_value: float = 1.0, scale: int = 1) -> None:
    """A PNG grid (like torchvision's ``save_image``), written atomically."""
    buffer = io.BytesIO()
    Image.fromarray(grid_array(images, nrow, padding, pad_value, scale)).save(buffer, format="PNG")
    with atomic_file(path) as handle:
        handle.write(buffer.getvalue())


def save_gif(
    frames: Sequence, path: str | Path, nrow: int, duration_ms: int = 80, hold_last_ms: int = 1500, scale: int = 2
) -> None:
    """An animated GIF (looping) of a sequence of image batches, each shown as a grid; the last frame is held."""
    require(len(frames) >= 1, "save_gif needs at least one frame")
    pictures = [Image.fromarray(grid_array(f, nrow, scale=scale)) for f in frames]
    pictures = [p.convert("L") if p.mode != "L" else p for p in pictures]
    durations = [duration_ms] * (len(pictures) - 1) + [hold_last_ms]
    buffer = io.BytesIO()
    pictures[0].save(buffer, format="GIF", save_all=True, append_images=pictures[1:], duration=durations, loop=0,
                     optimize=False, disposal=1)
    with atomic_file(path) as handle:
        handle.write(buffer.getvalue())


def _new_figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def _save_figure(figure, path: str | Path) -> None:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata=PNG_METADATA)
    with atomic_file(path) as handle:
        handle.write(buffer.getvalue())


def save_image_table(
    rows: Sequence,
    path: str | Path,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    title: str | None = None,
    cell_inches: float = 0.9,
) -> None:
    """A table of images (rows of equally many images in [0, 1]) with row and column labels, as a PNG."""
    rows = [_as_batch(r) for r in rows]
    require(len(rows) >= 1 and all(len(r) == len(rows[0]) for r in rows), "all rows need the same number of images")
    n_rows, n_cols = len(rows), len(rows[0])
    label_w = 1.1 if row_labels else 0.1
    title_h = 0.35 if title else 0.0
    col_h = 0.3 if col_labels else 0.05
    figure = _new_figure(label_w + n_cols * cell_inches + 0.1, title_h + col_h + n_rows * cell_inches + 0.1)
    width, height = figure.get_size_inches()
    for r, row in enumerate(rows):
        for c in range(n_cols):
            left = (label_w + c * cell_inches) / width
            bottom = 1 - (title_h + col_h + (r + 1) * cell_inches) / height
            ax = figure.add_axes((left, bottom, 0.95 * cell_inches / width, 0.95 * cell_inches / height))
            image = row[c].numpy()
            ax.imshow(image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0), cmap="gray", vmin=0, vmax=1,
                      interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0 and col_labels:
                ax.set_title(col_labels[c], fontsize=9)
            if c == 0 and row_labels:
                ax.set_ylabel(row_labels[r], fontsize=9, rotation=0, ha="right", va="center")
    if title:
        figure.suptitle(title, fontsize=11, y=1 - 0.05 / height, va="top")
    _save_figure(figure, path)


def read_tsv(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(step, value) columns of a DVCLive metric file (tab-separated, header ``step<TAB>name``; extra columns such as
    ``timestamp`` are ignored)."""
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    require(len(rows) >= 2, f"{path} holds no logged values")
    header = rows[0]
    require("step" in header, f"{path} has no 'step' column (header {header})")
    value_col = next(i for i, name in enumerate(header) if name not in ("step", "timestamp"))
    step_col = header.index("step")
    steps = np.array([float(r[step_col]) for r in rows[1:]])
    values = np.array([float(r[value_col]) for r in rows[1:]])
    return steps, values


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    window = max(1, min(window, len(values)))
    cumsum = np.cumsum(np.insert(values, 0, 0.0))
    out = np.empty_like(values)
    for i in range(len(values)):  # a trailing window that is shorter at the start
        lo = max(0, i + 1 - window)
        out[i] = (cumsum[i + 1] - cumsum[lo]) / (i + 1 - lo)
    return out


def save_loss_curve(
    train_tsv: str | Path, path: str | Path, title: str, test_tsv: str | Path | None = None, log_y: bool = True
) -> None:
    """Training loss per step (raw, light, and a moving average) and the per-epoch test loss, as a PNG.

    The test file's ``step`` is either the global step at the end of each epoch or the epoch index (0- or 1-based);
    epoch indices are mapped onto the step axis at the end of their epoch.
    """
    steps, losses = read_tsv(train_tsv)
    figure = _new_figure(6.4, 3.8)
    ax = figure.add_subplot(1, 1, 1)
    ax.plot(steps, losses, color="tab:blue", alpha=0.25, linewidth=0.8, label="train (per step)")
    window = max(1, len(losses) // 50)
    ax.plot(steps, moving_average(losses, window), color="tab:blue", linewidth=1.6,
            label=f"train (mean of {window} steps)")
    if test_tsv is not None and Path(test_tsv).exists():
        test_steps, test_losses = read_tsv(test_tsv)
        epochs = len(test_losses)
        if test_steps.max() <= epochs:  # epoch indices
            per_epoch = len(losses) / epochs
            first = 1 if test_steps.min() >= 1 else 0
            test_steps = (test_steps + (1 - first)) * per_epoch - 1
        ax.plot(test_steps, test_losses, "o-", color="tab:orange", linewidth=1.4, markersize=4,
                label="test (per epoch)")
    if log_y and np.all(losses > 0):
        ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("loss (MSE)")
    ax.set_title(title, fontsize=11)
    ax.grid(True, alpha=0.3, which="both")
    ax.legend(fontsize=8)
    figure.tight_layout()
    _save_figure(figure, path)
