import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # `stages` is importable like in the DVC commands (run from the repo root)


@pytest.fixture
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def tiny_mnist():
    """64 training and 20 test digits from the bundled set: enough to see a loss go down."""
    import numpy as np
    import torch

    from fundiff.data import load_mnist5k, to_tensor_images

    images, labels = load_mnist5k()
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(labels))[:84]
    x, y = to_tensor_images(images[idx]), torch.from_numpy(labels[idx])
    return x[:64], y[:64], x[64:], y[64:]


@pytest.fixture(autouse=True)
def _timings_in_tmp(tmp_path, monkeypatch):
    """Stages record wall times in .fundiff/timings.json; tests must not touch the repo's copy."""
    import fundiff.timings

    monkeypatch.setattr(fundiff.timings, "TIMINGS_FILE", tmp_path / "timings.json")
    monkeypatch.setenv("FUNDIFF_TIMINGS", str(tmp_path / "timings.json"))


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models on a shared 2-core machine: more threads only spin (up to 20× slower under load)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
