"""DVC stage `data`: get MNIST (bundled 5k subset or full torchvision MNIST) into data/mnist/ as .npy arrays."""

from __future__ import annotations

import argparse

from fundiff import data
from fundiff.errors import require
from fundiff.io import atomic_dir
from stages.common import entrypoint, load_params, section


@entrypoint
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="data/mnist")
    args = parser.parse_args()
    params = load_params()
    cfg = section(params, "data")
    require(cfg["source"] in data.SOURCES, f"data.source={cfg['source']!r} is unknown; use one of {', '.join(data.SOURCES)}")
    require(cfg["test_per_class"] >= 1, f"data.test_per_class={cfg['test_per_class']} must be >= 1")
    cap = cfg.get("max_train_per_class")
    require(cap is None or (isinstance(cap, int) and cap >= 1), f"data.max_train_per_class={cap} must be null or >= 1")
    splits = data.prepare(
        cfg["source"], cfg["raw_dir"], bool(cfg["download"]), cfg["test_per_class"], params["seed"], cap
    )
    with atomic_dir(args.out) as tmp:
        data.save_splits(splits, tmp)
    print(f"data: {len(splits.train_labels)} train / {len(splits.test_labels)} test digits -> {args.out}")


if __name__ == "__main__":
    main()
