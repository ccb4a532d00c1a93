import gzip
import struct

import numpy as np
import pytest

from fundiff import data
from fundiff.errors import FundiffError


def test_mnist5k_is_bundled_and_balanced():
    images, labels = data.load_mnist5k()
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8 and images.max() == 255
    assert np.bincount(labels).tolist() == [500] * 10


def test_stratified_split_is_deterministic_and_disjoint():
    labels = np.repeat(np.arange(10), 20)
    train_a, test_a = data.stratified_split(labels, 5, seed=3)
    train_b, test_b = data.stratified_split(labels, 5, seed=3)
    assert np.array_equal(test_a, test_b) and np.array_equal(train_a, train_b)
    assert np.bincount(labels[test_a]).tolist() == [5] * 10
    assert not set(train_a) & set(test_a) and len(train_a) + len(test_a) == 200


def _write_idx(path, array: np.ndarray, compress: bool = False) -> None:
    magic = {1: 0x801, 3: 0x803}[array.ndim]
    payload = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape) + array.tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        payload = gzip.compress(payload)
    path.write_bytes(payload)


def test_torchvision_source_reads_idx_files(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    tr_x, te_x = rng.integers(0, 256, (12, 28, 28), dtype=np.uint8), rng.integers(0, 256, (4, 28, 28), dtype=np.uint8)
    tr_y, te_y = rng.integers(0, 10, 12, dtype=np.uint8), rng.integers(0, 10, 4, dtype=np.uint8)
    for name, array in zip(data.IDX_FILES, (tr_x, tr_y, te_x, te_y)):
        _write_idx(raw / name, array)
    splits = data.prepare("torchvision", tmp_path, download=False, test_per_class=1, seed=0)
    assert np.array_equal(splits.train_images, tr_x) and np.array_equal(splits.test_labels, te_y.astype(np.int64))
    assert splits.train_labels.dtype == np.int64


def test_torchvision_source_offline_names_the_fix(tmp_path):
    with pytest.raises(FundiffError, match=r"data\.source=torchvision.*MNIST/raw.*data\.source: mnist5k"):
        data.prepare("torchvision", tmp_path, download=False, test_per_class=1, seed=0)


def test_unknown_source():
    with pytest.raises(FundiffError, match=r"data\.source='kaggle' is unknown"):
        data.prepare("kaggle", "x", download=False, test_per_class=1, seed=0)


def test_save_and_load_round_trip(tmp_path):
    images, labels = np.zeros((3, 28, 28), np.uint8), np.arange(3)
    splits = data.MnistSplits(images, labels, images[:1], labels[:1])
    data.save_splits(splits, tmp_path)
    back = data.load_splits(tmp_path)
    assert np.array_equal(back.train_labels, labels) and back.test_images.shape == (1, 28, 28)
    (tmp_path / "test_labels.npy").unlink()
    with pytest.raises(FundiffError, match="test_labels.npy is missing"):
        data.load_splits(tmp_path)


def test_max_train_per_class_caps_every_class():
    splits = data.prepare("mnist5k", "unused", download=False, test_per_class=10, seed=0, max_train_per_class=7)
    assert np.bincount(splits.train_labels).tolist() == [7] * 10 and len(splits.test_labels) == 100
