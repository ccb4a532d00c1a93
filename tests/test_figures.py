"""Figures are deterministic bytes: grids, labelled tables, loss curves, GIFs."""

import numpy as np
import pytest
import torch
from PIL import Image

from fundiff.figures import grid_array, moving_average, read_tsv, save_gif, save_grid, save_image_table, \
    save_loss_curve


def images(n, seed=0):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def write_logs(directory, test_steps):
    train = directory / "train.tsv"
    test = directory / "test.tsv"
    rng = np.random.default_rng(0)
    losses = 0.1 * np.exp(-np.arange(40) / 15) + 0.01 * rng.random(40)
    train.write_text("step\tloss\n" + "".join(f"{i}\t{float(v)!r}\n" for i, v in enumerate(losses)))
    test.write_text("step\tloss\n" + "".join(f"{s}\t{0.05 / (i + 1)!r}\n" for i, s in enumerate(test_steps)))
    return train, test


def test_grid_png_is_deterministic_and_sized(tmp_path):
    save_grid(images(12), tmp_path / "a.png", nrow=4, scale=2)
    save_grid(images(12), tmp_path / "b.png", nrow=4, scale=2)
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    with Image.open(tmp_path / "a.png") as picture:
        assert picture.mode == "L" and picture.size == (4 * 56 + 5 * 2, 3 * 56 + 4 * 2)
    assert grid_array(torch.ones(1, 28, 28), nrow=1, padding=0).min() == 255


@pytest.mark.parametrize("test_steps", [[19, 39], [0, 1], [1, 2]])  # global steps, 0- or 1-based epoch indices
def test_loss_curve_png_is_deterministic(tmp_path, test_steps):
    train, test = write_logs(tmp_path, test_steps)
    save_loss_curve(train, tmp_path / "a.png", "loss", test_tsv=test)
    save_loss_curve(train, tmp_path / "b.png", "loss", test_tsv=test)
    first = (tmp_path / "a.png").read_bytes()
    assert first == (tmp_path / "b.png").read_bytes()
    assert b"Software" not in first and b"matplotlib" not in first
    with Image.open(tmp_path / "a.png") as picture:
        assert picture.size == (640, 380)


def test_image_table_is_deterministic(tmp_path):
    rows = [images(3, s) for s in range(3)]
    for name in ("a.png", "b.png"):
        save_image_table(rows, tmp_path / name, row_labels=["noisy", "denoised", "clean"],
                         col_labels=["σ=0", "σ=0.5", "σ=1"], title="table")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_gif_is_deterministic_with_all_frames(tmp_path):
    frames = [images(4, s) for s in range(5)]
    save_gif(frames, tmp_path / "a.gif", nrow=2)
    save_gif(frames, tmp_path / "b.gif", nrow=2)
    assert (tmp_path / "a.gif").read_bytes() == (tmp_path / "b.gif").read_bytes()
    with Image.open(tmp_path / "a.gif") as gif:
        assert gif.n_frames == 5 and gif.info.get("loop") == 0


def test_tsv_reader_and_moving_average(tmp_path):
    path = tmp_path / "m.tsv"
    path.write_text("timestamp\tstep\tloss\n1\t0\t0.5\n2\t1\t0.25\n")
    steps, values = read_tsv(path)
    assert steps.tolist() == [0, 1] and values.tolist() == [0.5, 0.25]
    assert moving_average(np.array([1.0, 3.0, 5.0]), 2).tolist() == [1.0, 2.0, 4.0]
