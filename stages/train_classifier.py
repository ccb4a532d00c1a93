"""DVC stage `classifier`: train the MNIST judge (a small CNN) on the training split of data/mnist.

Writes data/models/classifier/weights/ (diffusers save_pretrained: config.json + safetensors) and
data/models/classifier/metrics.json (DVC metrics: test accuracy, overall and per digit, and the final train loss).
The sampling stages score Part B samples with it (accuracy, FID in its feature space); Part A may use it too.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from fundiff.data import load_splits, to_tensor_images
from fundiff.io import atomic_dir, atomic_file
from fundiff.metrics import class_accuracy, classify, train_classifier
from stages.common import entrypoint, load_params, pick_device, section, seed_everything
from stages.param_checks import Section

KEYS = ("epochs", "batch_size", "lr", "num_channels", "feature_dim")


def config_from_params(params: dict) -> dict:
    s = Section(section(params, "classifier"), "classifier", KEYS)
    seed = params.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int):
        from fundiff.errors import FundiffError

        raise FundiffError(f"seed={seed!r} must be an integer")
    return dict(
        epochs=s.integer("epochs", 1),
        batch_size=s.integer("batch_size", 1),
        lr=s.number("lr", 0, lo_open=True),
        num_channels=s.integer("num_channels", 1, default=32),
        feature_dim=s.integer("feature_dim", 2, default=128),
        seed=seed,
    )


@entrypoint
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default="data/mnist")
    parser.add_argument("--out", default="data/models/classifier")
    args = parser.parse_args()

    config = config_from_params(load_params())
    splits = load_splits(args.data)
    seed_everything(config["seed"])
    torch.set_num_threads(os.cpu_count() or 1)
    device = pick_device()
    started = time.perf_counter()
    losses: list[float] = []
    model = train_classifier(
        to_tensor_images(splits.train_images), torch.from_numpy(splits.train_labels), device=device,
        on_epoch=lambda epoch, loss: losses.append(loss), **config,
    )
    pred, _ = classify(model, to_tensor_images(splits.test_images))
    overall, per_digit = class_accuracy(pred.numpy(), splits.test_labels)
    metrics = {"test_accuracy": overall, "train_loss": losses[-1], "test_images": int(len(splits.test_labels))}
    metrics.update({f"test_accuracy_digit{d}": acc for d, acc in enumerate(per_digit)})

    out = Path(args.out)
    with atomic_dir(out / "weights") as weights:
        model.to("cpu").save_pretrained(weights)
        with atomic_file(out / "metrics.json", "w") as handle:
            handle.write(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    print(f"classifier: {config['epochs']} epochs in {time.perf_counter() - started:.1f} s on {device}, "
          f"test accuracy {overall:.4f} on {len(pred)} digits -> {out}")


if __name__ == "__main__":
    main()
