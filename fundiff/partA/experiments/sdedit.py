"""Part A 1.7, experiment `sdedit` (docs/course.md, A 1.7): see :func:`run`."""

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
        "sdedit.png",
        "SDEdit of each image (rows) from each i_start (columns)",
        "Image-to-image translation (SDEdit): each image noised to the strided timestep i_start ∈ "
        "{{{i_starts}}} and denoised with CFG (γ = {scale}), prompt {prompt!r}: the smaller i_start (the "
        "noisier the start), the more the model invents. Rows: the test image, a web image and hand-drawn images.",
    )
