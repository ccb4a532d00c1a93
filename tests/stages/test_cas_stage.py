"""The `cas` stage: a classifier trained only on labelled samples, tested on real digits, beside the real-data
judge's accuracy; byte-identical reruns; a bad samples.npz is one line naming the file and the fix."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from fundiff.data import MnistSplits, save_splits
from fundiff.io import save_npz

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/stages/conftest.py: the stages want every core

PARAMS = {
    "seed": 3,
    "classifier": {"epochs": 5, "batch_size": 16, "lr": 0.003, "num_channels": 4, "feature_dim": 8},
}
SAMPLES = "reports/partB/class_cond/samples.npz"


def bars(labels: np.ndarray, rng) -> np.ndarray:
    """Digit d = a bright horizontal bar at row 2 + 2d plus noise: learnable from a few dozen examples."""
    images = rng.random((len(labels), 28, 28)) * 0.2
    for i, d in enumerate(labels):
        images[i, 2 + 2 * d : 4 + 2 * d, 4:24] = 1.0
    return images


@pytest.fixture
def work(tmp_path, monkeypatch) -> Path:
    rng = np.random.default_rng(0)
    train_y, test_y = np.arange(100) % 10, np.arange(50) % 10
    as_uint8 = lambda x: (x * 255).astype(np.uint8)  # noqa: E731
    save_splits(
        MnistSplits(as_uint8(bars(train_y, rng)), train_y, as_uint8(bars(test_y, rng)), test_y), tmp_path / "data/mnist"
    )
    labels = np.arange(200) % 10
    save_npz(tmp_path / SAMPLES, images=bars(labels, rng).astype(np.float32), labels=labels.astype(np.int64))
    metrics = {"test_accuracy": 0.9} | {f"test_accuracy_digit{d}": 0.9 for d in range(10)}
    (tmp_path / "data/models/classifier").mkdir(parents=True)
    (tmp_path / "data/models/classifier/metrics.json").write_text(json.dumps(metrics))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(PARAMS))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(monkeypatch) -> None:
    from stages import cas

    monkeypatch.setattr(sys, "argv", ["cas", "--no-progress"])
    cas.main()


def test_cas_learns_from_samples_alone_and_reruns_byte_identical(work, monkeypatch):
    run(monkeypatch)
    metrics = json.loads((work / "reports/partB/cas.metrics.json").read_text())
    assert metrics["cas_accuracy"] >= 0.9  # bars are easy: the samples carry the classes
    assert metrics["real_accuracy"] == 0.9 and metrics["train_samples"] == 200 and metrics["test_images"] == 50
    manifest = json.loads((work / "reports/partB/cas/manifest.json").read_text())
    assert manifest["section"] == "B 2.5" and (work / "reports/partB/cas/cas_per_digit.png").is_file()
    first = {p.name: p.read_bytes() for p in (work / "reports/partB/cas").iterdir()}
    run(monkeypatch)
    assert {p.name: p.read_bytes() for p in (work / "reports/partB/cas").iterdir()} == first


def test_shuffled_labels_score_near_chance(work, monkeypatch):
    with np.load(work / SAMPLES) as npz:
        images, labels = npz["images"], npz["labels"]
    save_npz(work / SAMPLES, images=images, labels=np.random.default_rng(1).permutation(labels))
    run(monkeypatch)
    assert json.loads((work / "reports/partB/cas.metrics.json").read_text())["cas_accuracy"] < 0.5


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda w: (w / SAMPLES).unlink(), r"samples\.npz is missing: run `dvc repro sample@class_cond`"),
        (lambda w: (w / SAMPLES).write_bytes(b"garbage"), r"samples\.npz is not a readable samples\.npz"),
        (
            lambda w: save_npz(w / SAMPLES, images=np.zeros((4, 28, 28), np.float32), labels=np.array([0, 1, 2, 12])),
            r"labels outside the digits 0\.\.9",
        ),
        (
            lambda w: save_npz(w / SAMPLES, images=np.full((2, 28, 28), np.nan, np.float32), labels=np.array([0, 1])),
            r"outside \[0, 1\] \(or NaN\)",
        ),
        (
            lambda w: np.savez(w / SAMPLES, images=np.array([object()], dtype=object), labels=np.array([0])),
            r"not a readable samples\.npz",
        ),
        (
            lambda w: (w / "data/models/classifier/metrics.json").write_text("{}"),
            r"metrics\.json is not the classifier's metrics .*dvc repro classifier",
        ),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(work, monkeypatch, capsys, breakage, message):
    breakage(work)
    with pytest.raises(SystemExit) as exit_info:
        run(monkeypatch)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and __import__("re").search(message, err[0]), err
    assert not (work / "reports/partB/cas").exists() and not (work / "reports/partB/cas.metrics.json").exists()
