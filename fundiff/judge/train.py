"""Training the MNIST judge: Adam on cross-entropy, seeded, so two runs on CPU give identical weights."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from fundiff.data import load_splits, to_tensor_images
from fundiff.errors import require
from fundiff.io import atomic_outputs
from fundiff.judge.model import MnistClassifier, as_mnist_batch
from fundiff.judge.reading import judge_images
from fundiff.metrics import class_accuracy
from fundiff.params import ParamSection


def train_classifier(
    images01: torch.Tensor,
    labels: torch.Tensor,
    epochs: int = 3,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    num_channels: int = 32,
    feature_dim: int = 128,
    device: str | torch.device = "cpu",
    progress: bool = True,
    on_epoch: Callable[[int, float], None] | None = None,
) -> MnistClassifier:
    """Adam on cross-entropy; weight init and shuffling seeded, so two runs on CPU give identical weights."""
    require(epochs >= 1, f"epochs={epochs} must be >= 1")
    require(batch_size >= 1, f"batch_size={batch_size} must be >= 1")
    require(lr > 0, f"lr={lr} must be > 0")
    images01, labels = as_mnist_batch(images01), torch.as_tensor(labels, dtype=torch.int64)
    torch.manual_seed(seed)
    model = MnistClassifier(num_channels=num_channels, feature_dim=feature_dim).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed + 1)
    n = len(images01)
    steps = (n + batch_size - 1) // batch_size
    model.train()
    bar = tqdm(
        total=epochs * steps,
        desc="classifier",
        unit="step",
        dynamic_ncols=True,
        **({} if progress else {"disable": True}),
    )  # TQDM_DISABLE=1 still silences it
    for epoch in range(1, epochs + 1):
        order = torch.randperm(n, generator=generator)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            loss = F.cross_entropy(model(images01[idx].to(device)), labels[idx].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
            bar.set_postfix(epoch=epoch, loss=f"{loss.item():.4f}", refresh=False)
            bar.update()
        on_epoch and on_epoch(epoch, total / n)
    bar.close()
    return model.eval()


KEYS = ("epochs", "batch_size", "lr", "num_channels", "feature_dim")


def config_from_params(raw: Any, seed: int) -> dict[str, Any]:
    """The params section ``classifier``, checked: keyword arguments of :func:`train_classifier`."""
    s = ParamSection(raw, "classifier", KEYS)
    return dict(
        epochs=s.integer("epochs", 1),
        batch_size=s.integer("batch_size", 1),
        lr=s.number("lr", 0, lo_open=True),
        num_channels=s.integer("num_channels", 1, default=32),
        feature_dim=s.integer("feature_dim", 2, default=128),
        seed=seed,
    )


def train_and_save(
    config: dict[str, Any], data_dir: str | Path, weights_dir: str | Path, metrics_file: str | Path, device: str
) -> str:
    """The `classifier` stage: train on the training split, write the weights (save_pretrained) and the test
    accuracy, overall and per digit (DVC metrics), atomically; returns a summary line."""
    splits = load_splits(data_dir)
    started = time.perf_counter()
    losses: list[float] = []
    model = train_classifier(
        to_tensor_images(splits.train_images),
        torch.from_numpy(splits.train_labels),
        device=device,
        on_epoch=lambda epoch, loss: losses.append(loss),
        **config,
    )
    pred = judge_images(model, to_tensor_images(splits.test_images)).digits
    overall, per_digit = class_accuracy(pred, splits.test_labels)
    metrics = {"test_accuracy": overall, "train_loss": losses[-1], "test_images": int(len(splits.test_labels))}
    metrics.update({f"test_accuracy_digit{d}": acc for d, acc in enumerate(per_digit)})
    with atomic_outputs() as staged:  # the weights and their metrics appear together
        model.to("cpu").save_pretrained(staged.dir(weights_dir))
        staged.file(metrics_file, json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    return (
        f"classifier: {config['epochs']} epochs in {time.perf_counter() - started:.1f} s on {device}, "
        f"test accuracy {overall:.4f} on {len(pred)} digits -> {weights_dir}"
    )
