"""What the Part B results writers share: loading a checkpoint for sampling, the training-loss figure, and the random
streams (offsets to the shared seed, so changing one figure never changes another)."""

from __future__ import annotations

from pathlib import Path

import torch

from fundiff.errors import FundiffError
from fundiff.figures.curves import save_loss_curve
from fundiff.nets.fold_batchnorm import fold_batchnorm
from fundiff.partB.checkpoints import load_model
from fundiff.result_dirs import Manifest

NOISE_TEST, REAL_SUBSET, FULL, FAST, SNAPSHOT, SWEEP = 1, 2, 11, 12, 100, 10_000


def load_for_sampling(models_dir: Path, kind: str, name: str, device: str, fold: bool) -> torch.nn.Module:
    """A checkpoint in eval mode, its BatchNorms folded into the convolutions when ``fold`` (same function, faster)."""
    model = load_model(models_dir, kind, name, device)
    return fold_batchnorm(model) if fold else model


def loss_curve(directory: Path, models_dir: Path, kind: str, manifest: Manifest, title: str) -> None:
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
