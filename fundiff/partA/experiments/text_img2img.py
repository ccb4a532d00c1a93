"""Part A 1.7.3, experiment `text_img2img` (docs/course.md, A 1.7.3): see :func:`run`."""

from __future__ import annotations

from fundiff.params import ParamSection
from fundiff.partA.context import Context
from fundiff.partA.img2img import IMG2IMG_KEYS, img2img
from fundiff.partA.result import Result

KEYS = IMG2IMG_KEYS


def run(ctx: Context, p: ParamSection) -> Result:
    return img2img(
        ctx,
        p,
        "text_img2img.png",
        "Text-conditional image-to-image: rows are inputs, columns i_start",
        "Text-conditional image-to-image: SDEdit toward the prompt {prompt!r} (CFG γ = {scale}) from "
        "i_start ∈ {{{i_starts}}}.",
    )
