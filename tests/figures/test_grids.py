"""Figures are deterministic bytes: grids, labelled tables, GIFs (loss curves: tests/figures/test_curves.py)."""

import numpy as np
import pytest
import torch
from PIL import Image

from fundiff.figures.gifs import save_gif
from fundiff.figures.grids import batch_grid, grid, save_grid, save_table


def images(n, seed=0):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def test_grid_png_is_deterministic_and_sized(tmp_path):
    save_grid(images(12), tmp_path / "a.png", nrow=4, scale=2)
    save_grid(images(12), tmp_path / "b.png", nrow=4, scale=2)
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    with Image.open(tmp_path / "a.png") as picture:
        assert picture.mode == "L" and picture.size == (4 * 56 + 5 * 2, 3 * 56 + 4 * 2)
    assert np.asarray(batch_grid(torch.ones(1, 28, 28), nrow=1, padding=0)).min() == 255


def test_image_table_is_deterministic(tmp_path):
    rows = [images(3, s) for s in range(3)]
    for name in ("a.png", "b.png"):
        save_table(
            rows,
            tmp_path / name,
            row_labels=["noisy", "denoised", "clean"],
            col_labels=["σ=0", "σ=0.5", "σ=1"],
            title="table",
        )
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_gif_is_deterministic_with_all_frames(tmp_path):
    frames = [images(4, s) for s in range(5)]
    save_gif(frames, tmp_path / "a.gif", nrow=2)
    save_gif(frames, tmp_path / "b.gif", nrow=2)
    assert (tmp_path / "a.gif").read_bytes() == (tmp_path / "b.gif").read_bytes()
    with Image.open(tmp_path / "a.gif") as gif:
        assert gif.n_frames == 5 and gif.info.get("loop") == 0


@pytest.mark.parametrize("n, nrow, scale", [(12, 4, 2), (7, 3, 1), (1, 5, 3)])
def test_batch_grid_is_torchvision_make_grid(n, nrow, scale):
    """The one grid writer lays a batch out exactly like torchvision's make_grid (padding 2, white)."""
    from torchvision.utils import make_grid

    x = images(n, seed=n)
    upscaled = torch.nn.functional.interpolate(x, scale_factor=scale, mode="nearest") if scale > 1 else x
    theirs = make_grid(upscaled, nrow=nrow, padding=2, pad_value=1.0).mul(255).add_(0.5).clamp_(0, 255)
    theirs = theirs.to(torch.uint8)[0].numpy()
    np.testing.assert_array_equal(np.asarray(batch_grid(x, nrow=nrow, scale=scale)), theirs)


def test_title_and_labels_add_margins_only():
    rows = [list(images(3, s)) for s in range(2)]
    plain = grid(rows, cell=28)
    titled = grid(rows, ["a", "b"], ["x", "y", "z"], cell=28, title="a title")
    assert titled.size[0] > plain.size[0] and titled.size[1] > plain.size[1]
    assert np.asarray(titled)[-plain.size[1] :, -plain.size[0] :].shape == np.asarray(plain).shape
