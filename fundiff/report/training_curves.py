"""Section "B 0" of the page: the training curves of every Part B model from its DVCLive logs
(data/models/<model>/live), drawn by fundiff.figures.curves, and the final losses as a table."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from fundiff.errors import FundiffError
from fundiff.figures.curves import LossLog, Series, loss_curves_png, read_tsv
from fundiff.report.sections import PageSection, ShownFigure, href_for, image_size
from fundiff.report.tables import flatten, format_value

TRAINING_NAME = "curves_training.png"
TRAINING_ROWS = {"train.loss": "final train loss", "test.loss": "final test loss", "epochs": "epochs", "steps": "steps"}


@dataclass(eq=False)  # compared by identity: the curves are arrays
class TrainingLog:
    """One model's DVCLive logs: losses (None where the file is absent), final summary, and where they are."""

    model: str
    train: Series | None
    test: Series | None
    summary: dict[str, Any]
    source: str

    @property
    def steps_per_epoch(self) -> float | None:
        steps, epochs = self.summary.get("steps"), self.summary.get("epochs")
        ok = isinstance(steps, (int, float)) and isinstance(epochs, (int, float)) and steps > 0 and epochs > 0
        return steps / epochs if ok else None

    @property
    def curves(self) -> LossLog:
        return LossLog(self.model, self.train, self.test, self.steps_per_epoch)


def _read_loss(file: Path) -> Series | None:
    return read_tsv(file, metric="loss") if file.is_file() else None


def read_training_log(model: str, live_dir: Path, page_dir: Path) -> TrainingLog:
    """DVCLive's per-step train loss, per-epoch test loss and final summary of one model (None where absent)."""
    train = _read_loss(live_dir / "plots" / "metrics" / "train" / "loss.tsv")
    test = _read_loss(live_dir / "plots" / "metrics" / "test" / "loss.tsv")
    summary_file = live_dir / "metrics.json"
    summary: dict[str, Any] = {}
    if summary_file.is_file():
        try:
            loaded = json.loads(summary_file.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise FundiffError(
                f"{summary_file}: not valid JSON; rerun the training stage (dvc repro -f train@{model})"
            ) from None
        if not isinstance(loaded, dict):
            raise FundiffError(f"{summary_file}: expected a JSON object of DVCLive metrics")
        summary = {k: v for k, v in flatten(loaded).items() if isinstance(v, (int, float, str))}
    return TrainingLog(model, train, test, summary, href_for(live_dir, page_dir))


def training_section(
    live_dirs: Mapping[str, str | os.PathLike], assets_dir: Path, assets_href: str, page_dir: Path
) -> PageSection:
    """Section "B 0": the training curves of every model from its DVCLive logs, and the final losses as a table."""
    logs = [read_training_log(model, Path(live_dirs[model]), page_dir) for model in live_dirs]
    ran = [log for log in logs if log.train is not None or log.test is not None]
    section = PageSection(
        part="B", section="B 0", title="Training the UNets", order=0, anchor="", source="", ran=bool(ran)
    )
    section.text = [
        "Loss curves from the DVCLive logs of the training stages (train loss logged every step, "
        "test loss after every epoch; the final values are the DVC metrics of those stages)."
    ]
    section.notes = [
        f"{log.model}: no training log at {log.source}/ (train@{log.model} has not run)."
        for log in logs
        if log not in ran
    ]
    if not ran:
        return section
    (assets_dir / TRAINING_NAME).write_bytes(loss_curves_png([log.curves for log in ran]))
    width, height = image_size(assets_dir / TRAINING_NAME, "the report's training curves")
    sources = ", ".join(f"{log.source}/" for log in ran)
    section.figures.append(
        ShownFigure(
            f"{assets_href}/{TRAINING_NAME}",
            f"Training and test loss of {', '.join(log.model for log in ran)} (DVCLive: {sources}).",
            width,
            height,
            False,
            True,
            "png",
        )
    )
    keys = [k for k in TRAINING_ROWS if any(k in log.summary for log in ran)]
    if keys:
        frame = pd.DataFrame(
            [
                [TRAINING_ROWS[k], *(format_value(log.summary[k]) if k in log.summary else "—" for log in ran)]
                for k in keys
            ],
            columns=["metric", *(log.model for log in ran)],
        )
        section.metrics_html = frame.to_html(index=False, border=0, classes="metrics wide", escape=True, justify="left")
    return section
