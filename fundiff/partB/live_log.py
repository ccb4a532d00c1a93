"""The DVCLive log of a Part B model's training (data/models/<model>/live), drawn into a results directory."""

from __future__ import annotations

from pathlib import Path

from fundiff.errors import FundiffError
from fundiff.figures.curves import save_loss_curve
from fundiff.result_dirs import Manifest


def add_loss_curve(directory: Path, models_dir: Path, kind: str, manifest: Manifest, title: str) -> None:
    """``loss_curve.png`` (training loss per step, test loss per epoch) into ``directory``, captioned in ``manifest``."""
    plots = models_dir / kind / "live" / "plots" / "metrics"
    train_tsv = plots / "train" / "loss.tsv"
    if not train_tsv.is_file():
        raise FundiffError(f"{train_tsv} is missing (the DVCLive log of training); run `dvc repro train@{kind}`")
    save_loss_curve(train_tsv, directory / "loss_curve.png", title, test_tsv=plots / "test" / "loss.tsv")
    manifest.add_figure(
        "loss_curve.png",
        f"{title}: training loss per step (and its moving average), test loss "
        "after every epoch, from the DVCLive logs.",
    )
