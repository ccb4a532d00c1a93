"""A tiny but complete workspace for stage tests: real digits, tiny untrained checkpoints (with their recorded
sha256), the judge, the shipped Part A inputs, earlier results, and the committed params with small sampling settings."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch
import yaml

from fundiff.data import MnistSplits, load_mnist5k, save_splits
from fundiff.judge.model import MnistClassifier
from fundiff.nets.unets import MODEL_CLASSES
from fundiff.partA.shipped import write_shipped
from fundiff.partB.checkpoints import record_sha256

REPO = Path(__file__).resolve().parents[2]


def make_workspace(root: Path) -> Path:
    images, labels = load_mnist5k()
    test = np.concatenate([np.flatnonzero(labels == d)[:10] for d in range(10)])
    train = np.setdiff1d(np.arange(len(labels)), test)[:200]
    save_splits(MnistSplits(images[train], labels[train], images[test], labels[test]), root / "data/mnist")
    for kind, cls in MODEL_CLASSES.items():
        ckpt = root / "data/models" / kind / "checkpoints"
        torch.manual_seed(1)
        cls(num_hiddens=4).save_pretrained(ckpt / "final")
        shutil.copytree(ckpt / "final", ckpt / "epoch_001")
        config = {
            "kind": kind,
            "num_hiddens": 4,
            "epochs": 1,
            "snapshot_epochs": [1],
            "num_timesteps": 300,
            "beta_start": 1e-4,
            "beta_end": 0.02,
            "sigma": 0.5,
            "p_uncond": 0.1,
            "seed": 0,
            "weights_sha256": record_sha256(ckpt),
        }
        (ckpt / "train_config.json").write_text(json.dumps(config))
        plots = root / "data/models" / kind / "live/plots/metrics"
        for split in ("train", "test"):
            (plots / split).mkdir(parents=True)
            (plots / split / "loss.tsv").write_text("step\tloss\n0\t0.5\n1\t0.25\n")
    torch.manual_seed(3)
    MnistClassifier(num_channels=4, feature_dim=8).save_pretrained(root / "data/models/classifier/weights")
    (root / "data/images/shipped").mkdir(parents=True)
    write_shipped(root / "data/images/shipped", root / "data/mnist")
    for result in ("reports/partA/cfg", "reports/partB/class_cond"):  # earlier results that a failure must keep
        (root / result).mkdir(parents=True)
        (root / result / "manifest.json").write_text('{"section": "x", "title": "x", "order": 1}\n')
    (root / "reports/index.html").write_text("<!doctype html><title>the last good page</title>\n")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["sample"]["class_cond"].update(samples_per_digit=1, metric_samples=10, batch_size=20, gif_samples=1)
    params["partA"]["backends"]["mnist"]["timesteps"] = {"start": 297, "stride": 99}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return root


def set_param(root: Path, dotted: str, value) -> None:
    params = yaml.safe_load((root / "params.yaml").read_text())
    node = params
    *parents, last = dotted.split(".")
    for key in parents:
        node = node[key]
    node[last] = value
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def drop_param(root: Path, dotted: str) -> None:
    params = yaml.safe_load((root / "params.yaml").read_text())
    node = params
    *parents, last = dotted.split(".")
    for key in parents:
        node = node[key]
    del node[last]
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
