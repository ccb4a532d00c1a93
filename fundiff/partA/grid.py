"""Labelled image grids (PIL only: the same tensors give the same PNG bytes)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

PAD = 4


def to_pil(image01: torch.Tensor, cell: int) -> Image.Image:
    """(C, H, W) in [0, 1] -> RGB, upscaled with nearest neighbours to about ``cell`` pixels (pixels stay honest)."""
    array = (image01.detach().float().clamp(0, 1).cpu().numpy() * 255).round().astype(np.uint8)
    array = np.repeat(array, 3, axis=0) if array.shape[0] == 1 else array[:3]
    pil = Image.fromarray(array.transpose(1, 2, 0), "RGB")
    factor = max(1, round(cell / pil.size[0]))
    return pil.resize((pil.size[0] * factor, pil.size[1] * factor), Image.NEAREST) if factor > 1 else pil


def _font():
    return ImageFont.load_default()


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
    cell: int = 112,
) -> Image.Image:
    """A grid of (C, H, W) images in [0, 1] (None leaves a cell empty) with optional row and column labels."""
    font = _font()
    tiles = [[to_pil(im, cell) if im is not None else None for im in row] for row in rows]
    size = max(t.size[0] for row in tiles for t in row if t is not None)
    ncols = max(len(row) for row in rows)
    scratch = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    line_h = _text_size(scratch, "Ag", font)[1] + 3
    left = 0
    if row_labels:
        left = min(160, max(_text_size(scratch, label, font)[0] for label in row_labels) + 2 * PAD)
    col_lines = [_wrap(scratch, label, font, size) for label in col_labels] if col_labels else []
    top = (max(len(lines) for lines in col_lines) * line_h + PAD) if col_lines else 0
    width = left + ncols * (size + PAD) + PAD
    height = top + len(rows) * (size + PAD) + PAD
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    for c, lines in enumerate(col_lines):
        for k, line in enumerate(lines):
            draw.text((left + PAD + c * (size + PAD), PAD + k * line_h), line, fill="black", font=font)
    for r, row in enumerate(tiles):
        y = top + PAD + r * (size + PAD)
        if row_labels:
            lines = _wrap(draw, row_labels[r], font, left - PAD)
            for k, line in enumerate(lines):
                draw.text((PAD, y + size // 2 - len(lines) * line_h // 2 + k * line_h), line, fill="black", font=font)
        for c, tile in enumerate(row):
            if tile is not None:
                canvas.paste(tile, (left + PAD + c * (size + PAD), y))
    return canvas
