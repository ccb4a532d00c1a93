"""Image grids: the one grid writer of the project (Part A's labelled grids and Part B's sample grids and GIF frames).

PIL only, nearest-neighbour upscaling (pixels stay honest), white padding: the same tensors give the same PNG bytes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from fundiff.errors import require
from fundiff.io import atomic_file

PAD = 4  # Part A's labelled grids; Part B's sample grids use padding 2 (torchvision's make_grid layout)


def as_batch(images) -> torch.Tensor:
    """N×H×W, N×C×H×W or H×W images (numpy or torch) -> float32 N×C×H×W on CPU, clamped to [0, 1]."""
    x = torch.as_tensor(np.asarray(images) if not isinstance(images, torch.Tensor) else images).detach().float().cpu()
    if x.ndim == 2:
        x = x[None, None]
    elif x.ndim == 3:
        x = x.unsqueeze(1)
    require(x.ndim == 4, f"expected images N×H×W or N×C×H×W, got shape {tuple(x.shape)}")
    return x.clamp(0, 1)


def to_uint8(image01: torch.Tensor) -> np.ndarray:
    """(C, H, W) in [0, 1] -> uint8 H×W×C (rounding half up)."""
    return (
        image01.detach()
        .float()
        .cpu()
        .clamp(0, 1)
        .mul(255)
        .add_(0.5)
        .clamp_(0, 255)
        .to(torch.uint8)
        .permute(1, 2, 0)
        .numpy()
    )


def _tile(image01: torch.Tensor, scale: int, rgb: bool) -> Image.Image:
    array = to_uint8(image01)
    if rgb:
        array = np.repeat(array, 3, axis=2) if array.shape[2] == 1 else array[..., :3]
        pil = Image.fromarray(np.ascontiguousarray(array), "RGB")
    else:
        pil = Image.fromarray(np.ascontiguousarray(array[..., 0]), "L")
    return pil.resize((pil.size[0] * scale, pil.size[1] * scale), Image.NEAREST) if scale > 1 else pil


def _text_size(draw: ImageDraw.ImageDraw, text: str, font) -> tuple[int, int]:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    return right - left, bottom - top


def _wrap(draw, text: str, font, width: int) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        trial = f"{line} {word}".strip()
        if _text_size(draw, trial, font)[0] <= width or not line:
            line = trial
        else:
            lines.append(line)
            line = word
    return lines + ([line] if line else [])


def grid(
    rows: Sequence[Sequence[torch.Tensor | None]],
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    cell: int | None = 112,
    *,
    scale: int | None = None,
    padding: int = PAD,
    rgb: bool = True,
    title: str | None = None,
) -> Image.Image:
    """A grid of (C, H, W) images in [0, 1] (None leaves a cell empty) with optional row and column labels and a title.

    Each image is upscaled by ``scale`` or, when None, by the integer factor nearest to ``cell`` pixels. ``rgb=False``
    writes a greyscale image (single-channel inputs only)."""
    font = ImageFont.load_default()
    factor = (lambda im: scale) if scale is not None else (lambda im: max(1, round(cell / im.shape[-1])))
    tiles = [[_tile(im, factor(im), rgb) if im is not None else None for im in row] for row in rows]
    size = max(t.size[0] for row in tiles for t in row if t is not None)
    ncols = max(len(row) for row in rows)
    scratch = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    line_h = _text_size(scratch, "Ag", font)[1] + 3
    left = 0
    if row_labels:
        left = min(160, max(_text_size(scratch, label, font)[0] for label in row_labels) + 2 * padding)
    col_lines = [_wrap(scratch, label, font, size) for label in col_labels] if col_labels else []
    top = (max(len(lines) for lines in col_lines) * line_h + padding) if col_lines else 0
    height_cell = max(t.size[1] for row in tiles for t in row if t is not None)
    width = left + ncols * (size + padding) + padding
    title_lines = _wrap(scratch, title, font, width - 2 * padding) if title else []
    title_h = len(title_lines) * line_h + padding if title_lines else 0
    top += title_h
    height = top + len(rows) * (height_cell + padding) + padding
    canvas = Image.new("RGB" if rgb else "L", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    for k, line in enumerate(title_lines):
        draw.text((padding, padding + k * line_h), line, fill="black", font=font)
    for c, lines in enumerate(col_lines):
        for k, line in enumerate(lines):
            draw.text(
                (left + padding + c * (size + padding), title_h + padding + k * line_h), line, fill="black", font=font
            )
    for r, row in enumerate(tiles):
        y = top + padding + r * (height_cell + padding)
        if row_labels:
            lines = _wrap(draw, row_labels[r], font, left - padding)
            for k, line in enumerate(lines):
                draw.text(
                    (padding, y + size // 2 - len(lines) * line_h // 2 + k * line_h), line, fill="black", font=font
                )
        for c, tile in enumerate(row):
            if tile is not None:
                canvas.paste(tile, (left + padding + c * (size + padding), y))
    return canvas


def batch_grid(images, nrow: int, padding: int = 2, scale: int = 1) -> Image.Image:
    """A batch as rows of ``nrow`` images, no labels (torchvision ``make_grid``'s layout, which shows a single image
    without padding); grey for 1-channel images."""
    x = as_batch(images)
    padding = 0 if len(x) == 1 else padding
    rows = [list(x[i : i + nrow]) for i in range(0, len(x), nrow)]
    return grid(rows, scale=scale, padding=padding, rgb=x.shape[1] != 1)


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def save_png(image: Image.Image, path: str | Path) -> None:
    """Write a PIL image as PNG, atomically."""
    with atomic_file(path) as handle:
        handle.write(png_bytes(image))


def save_table(
    rows: Sequence,
    path: str | Path,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    title: str | None = None,
    cell: int = 84,
) -> None:
    """A titled table of images (rows of equally many images in [0, 1], as batches) with row and column labels."""
    batches = [as_batch(r) for r in rows]
    require(len(batches) >= 1 and all(len(b) == len(batches[0]) for b in batches), "all rows need as many images")
    save_png(grid([list(b) for b in batches], row_labels, col_labels, cell, title=title), path)


def save_grid(images, path: str | Path, nrow: int, padding: int = 2, scale: int = 1) -> None:
    """A PNG of ``batch_grid``, written atomically."""
    save_png(batch_grid(images, nrow, padding, scale), path)
