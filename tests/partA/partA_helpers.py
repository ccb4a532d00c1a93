"""Shared fixtures' builders for the Part A tests (no trained weights, no data/ outputs needed)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]


def make_mnist_dir(out: Path) -> Path:
    """The bundled 5k MNIST split like the data stage does it (10 test digits per class is plenty here)."""
    from fundiff.data import prepare, save_splits

    save_splits(prepare("mnist5k", out / "raw", False, test_per_class=10, seed=0), out)
    return out


def make_class_cond_checkpoint(out: Path, num_hiddens: int = 4) -> Path:
    """A randomly initialised ClassConditionalUNet saved like the train stage saves it."""
    from fundiff.partB.config import TrainConfig
    from fundiff.partB.training import make_model

    config = TrainConfig(kind="class_cond", num_hiddens=num_hiddens, epochs=1, batch_size=8, lr=1e-3)
    torch.manual_seed(0)
    make_model(config).save_pretrained(out / "final")
    (out / "train_config.json").write_text(json.dumps(asdict(config), indent=2, sort_keys=True) + "\n")
    return out


def proposed_params() -> dict:
    import yaml

    return yaml.safe_load((REPO / "conf/partA/default.yaml").read_text())
