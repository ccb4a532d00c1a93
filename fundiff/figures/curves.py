"""Training logs: the one reader of DVCLive's metric TSVs and the loss-curve plots (matplotlib, deterministic bytes).

Two figures share the drawing helpers below: ``save_loss_curve``, one model's curve (the ``loss_curve.png`` of a Part B
results dir), and ``loss_curves_png``, every model side by side (the report's training section). Both are DVC outputs,
so their bytes are fixed: keep the order of the drawing calls and the styles as they are.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fundiff.errors import FundiffError, require
from fundiff.figures.mpl import new_figure, png_bytes, save_figure

Series = tuple[np.ndarray, np.ndarray]  # (step, value), float64
IGNORED_COLUMNS = ("step", "timestamp")
CURVE_DPI = 100
COLORS = ("#1f5f99", "#c2410c", "#15803d", "#7e22ce", "#a16207", "#0e7490")


def read_tsv(path: str | Path, metric: str | None = None) -> Series:
    """(step, value) columns of a DVCLive metric file: tab-separated, header ``step<TAB>name`` (``timestamp`` and any
    other extra column ignored). ``metric`` names the value column (default: the first column that is neither ``step``
    nor ``timestamp``). A header-only file gives empty arrays; anything unreadable is one FundiffError naming the file."""
    file = Path(path)
    try:
        with open(file, newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.reader(handle, delimiter="\t") if row]
    except FileNotFoundError:
        raise FundiffError(f"{file}: missing; rerun the training stage that logs it") from None
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise FundiffError(f"{file}: not a DVCLive metrics TSV ({error.__class__.__name__})") from None
    header = rows[0] if rows else []
    values = [name for name in header if name not in IGNORED_COLUMNS]
    wanted = metric if metric is not None else (values[0] if values else None)
    if "step" not in header or wanted is None or wanted not in header:
        expected = f"'step' and {wanted!r}" if metric is not None else "'step' and a metric"
        raise FundiffError(f"{file}: expected DVCLive columns {expected}, found {', '.join(header) or 'no header'}")
    step_col, value_col = header.index("step"), header.index(wanted)
    steps, logged = [], []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise FundiffError(
                f"{file}: not a DVCLive metrics TSV (line {line} has {len(row)} fields, expected {len(header)})"
            )
        try:
            steps.append(float(row[step_col]))
            logged.append(float(row[value_col]))
        except ValueError:
            raise FundiffError(f"{file}: not a DVCLive metrics TSV (line {line} is not numeric)") from None
    return np.array(steps, dtype=np.float64), np.array(logged, dtype=np.float64)


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    window = max(1, min(window, len(values)))
    cumsum = np.cumsum(np.insert(values, 0, 0.0))
    out = np.empty_like(values)
    for i in range(len(values)):  # a trailing window that is shorter at the start
        lo = max(0, i + 1 - window)
        out[i] = (cumsum[i + 1] - cumsum[lo]) / (i + 1 - lo)
    return out


# ---------------------------------------------------------------------------------------------------- drawing helpers
def plot_train(
    ax: Any,
    x: np.ndarray,
    losses: np.ndarray,
    window: int,
    color: str,
    raw_width: float,
    label: str,
    raw_label: str | None = None,
) -> None:
    """The per-step train loss, faint, under its moving average over ``window`` steps."""
    raw = {"label": raw_label} if raw_label is not None else {}
    ax.plot(x, losses, color=color, alpha=0.25, linewidth=raw_width, **raw)
    ax.plot(x, moving_average(losses, window), color=color, linewidth=1.6, label=label)


def plot_test(ax: Any, x: np.ndarray, losses: np.ndarray, color: str, label: str) -> None:
    """The test loss after every epoch, as dots joined by a line."""
    ax.plot(x, losses, color=color, marker="o", linestyle="-", markersize=4, linewidth=1.4, label=label)


def finish_axes(
    ax: Any,
    title: str,
    xlabel: str,
    ylabel: str,
    *,
    log_y: bool,
    grid_alpha: float,
    title_size: float | None = None,
    frameon: bool = True,
) -> None:
    """Log y where asked, labels, a light grid on every tick, and the legend (if anything is labelled)."""
    if log_y:
        ax.set_yscale("log")
    ax.set_title(title, **({"fontsize": title_size} if title_size is not None else {}))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=grid_alpha)
    if ax.lines:
        ax.legend(fontsize=8, **({} if frameon else {"frameon": False}))


# ------------------------------------------------------------------------------------------------ one model's curve
def save_loss_curve(
    train_tsv: str | Path, path: str | Path, title: str, test_tsv: str | Path | None = None, log_y: bool = True
) -> None:
    """Training loss per step (raw, light, and a moving average) and the per-epoch test loss, as a PNG.

    The test file's ``step`` is either the global step at the end of each epoch or the epoch index (0- or 1-based);
    epoch indices are mapped onto the step axis at the end of their epoch.
    """
    steps, losses = read_tsv(train_tsv)
    require(len(losses) > 0, f"{train_tsv} holds no logged values")
    figure = new_figure(6.4, 3.8)
    ax = figure.add_subplot(1, 1, 1)
    window = max(1, len(losses) // 50)
    plot_train(ax, steps, losses, window, "tab:blue", 0.8, f"train (mean of {window} steps)", "train (per step)")
    if test_tsv is not None and Path(test_tsv).exists():
        test_steps, test_losses = read_tsv(test_tsv)
        epochs = len(test_losses)
        require(epochs > 0, f"{test_tsv} holds no logged values")
        if test_steps.max() <= epochs:  # epoch indices
            per_epoch = len(losses) / epochs
            first = 1 if test_steps.min() >= 1 else 0
            test_steps = (test_steps + (1 - first)) * per_epoch - 1
        plot_test(ax, test_steps, test_losses, "tab:orange", "test (per epoch)")
    finish_axes(
        ax,
        title,
        "training step",
        "loss (MSE)",
        log_y=log_y and bool(np.all(losses > 0)),
        grid_alpha=0.3,
        title_size=11,
    )
    figure.tight_layout()
    save_figure(figure, path)


# ------------------------------------------------------------------------------------------ every model side by side
@dataclass(frozen=True)
class LossLog:
    """One model's logged losses (None where its file is absent) and its steps per epoch (None when unknown)."""

    name: str
    train: Series | None
    test: Series | None
    steps_per_epoch: float | None = None


def _finite(series: Series | None) -> Series | None:
    """The rows whose step and value are both numbers (NaN rows are dropped, as the report always did)."""
    if series is None:
        return None
    steps, values = series
    keep = ~(np.isnan(steps) | np.isnan(values))
    return steps[keep], values[keep]


def loss_curves_png(logs: Sequence[LossLog]) -> bytes:
    """Two panels: train loss (moving average over ~1/20 of the run, raw per-step loss faint) and test loss per epoch,
    every model on one log-scale axis, x in epochs (steps / steps-per-epoch) so models with other batch sizes align."""
    import matplotlib
    import matplotlib.style

    with matplotlib.style.context("default"), matplotlib.rc_context({"font.size": 9, "axes.titlesize": 10}):
        figure = new_figure(10.0, 3.6, dpi=CURVE_DPI)
        train_ax, test_ax = figure.subplots(1, 2)
        positive = {train_ax: True, test_ax: True}
        for color, log in zip(COLORS * 4, logs):
            per_epoch = log.steps_per_epoch
            train, test = _finite(log.train), _finite(log.test)
            if train is not None and len(train[1]):
                steps, losses = train
                window = max(1, min(50, len(losses) // 20))
                plot_train(
                    train_ax, (steps + 1) / per_epoch if per_epoch else steps + 1, losses, window, color, 0.5, log.name
                )
                positive[train_ax] &= bool((losses > 0).all())
            if test is not None and len(test[1]):
                steps, losses = test
                plot_test(test_ax, (steps + 1) / per_epoch if per_epoch else steps + 1, losses, color, log.name)
                positive[test_ax] &= bool((losses > 0).all())
        xlabel = "epoch" if all(log.steps_per_epoch for log in logs) else "epoch (or step)"
        for axes, title in ((train_ax, "train loss (moving average; raw faint)"), (test_ax, "test loss per epoch")):
            finish_axes(
                axes,
                title,
                xlabel,
                "loss (L2)",
                log_y=bool(axes.lines) and positive[axes],
                grid_alpha=0.25,
                frameon=False,
            )
        figure.tight_layout()
        return png_bytes(figure, dpi=CURVE_DPI)
