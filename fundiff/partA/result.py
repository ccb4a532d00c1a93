"""What a Part A experiment returns: the :class:`Result` (the report's text and params, its figures, its metrics), and
how experiments show images and measure them.

Metrics are in [0, 1] image units (MSE of clamped images, as a viewer sees them) and, with the MNIST backend and a
digit classifier, success rates: the share of outputs the classifier reads as the prompted digit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from PIL import Image

from fundiff.partA.backends.base import Backend
from fundiff.partA.context import Context

Figure = tuple[str, Image.Image, str]  # (PNG file name, image, caption)


@dataclass
class Result:
    text: str
    params: dict[str, Any]
    figures: list[Figure] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)


def rounded(value: float) -> float:
    return round(float(value), 6)


def image_mse(a01: torch.Tensor, b01: torch.Tensor) -> float:
    return rounded(((a01.detach().cpu().clamp(0, 1) - b01.detach().cpu().clamp(0, 1)) ** 2).mean())


def digit_accuracy(ctx: Context, images01: torch.Tensor, prompt: str, result: Result, key: str = "accuracy") -> None:
    """``result.metrics[key]``: the share of images the judge reads as the prompt's digit (nothing when unmeasured)."""
    digit = ctx.digit(prompt)
    if digit is not None:
        result.metrics[key] = rounded((ctx.judged_digits(images01) == digit).float().mean())


def cell_size(backend: Backend) -> int:
    """The side of a figure's cell, in pixels."""
    return 112 if backend.image_shape[-1] <= 32 else 128


def as_shown(backend: Backend, x: torch.Tensor) -> torch.Tensor:
    """Images in the model's range as a viewer sees them: [0, 1], float, on the CPU."""
    return backend.to_unit(x.detach().float()).cpu()
