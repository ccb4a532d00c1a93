"""A titled table of images with row and column labels (matplotlib): Part B 1's noising and denoising figures."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fundiff.errors import require
from fundiff.figures.grids import as_batch
from fundiff.figures.mpl import new_figure, save_figure


def save_image_table(
    rows: Sequence,
    path: str | Path,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    title: str | None = None,
    cell_inches: float = 0.9,
) -> None:
    """A table of images (rows of equally many images in [0, 1]) with row and column labels, as a PNG."""
    rows = [as_batch(r) for r in rows]
    require(len(rows) >= 1 and all(len(r) == len(rows[0]) for r in rows), "all rows need the same number of images")
    n_rows, n_cols = len(rows), len(rows[0])
    label_w = 1.1 if row_labels else 0.1
    title_h = 0.35 if title else 0.0
    col_h = 0.3 if col_labels else 0.05
    figure = new_figure(label_w + n_cols * cell_inches + 0.1, title_h + col_h + n_rows * cell_inches + 0.1)
    width, height = figure.get_size_inches()
    for r, row in enumerate(rows):
        for c in range(n_cols):
            left = (label_w + c * cell_inches) / width
            bottom = 1 - (title_h + col_h + (r + 1) * cell_inches) / height
            ax = figure.add_axes((left, bottom, 0.95 * cell_inches / width, 0.95 * cell_inches / height))
            image = row[c].numpy()
            ax.imshow(
                image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0),
                cmap="gray",
                vmin=0,
                vmax=1,
                interpolation="nearest",
            )
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0 and col_labels:
                ax.set_title(col_labels[c], fontsize=9)
            if c == 0 and row_labels:
                ax.set_ylabel(row_labels[r], fontsize=9, rotation=0, ha="right", va="center")
    if title:
        figure.suptitle(title, fontsize=11, y=1 - 0.05 / height, va="top")
    save_figure(figure, path)
