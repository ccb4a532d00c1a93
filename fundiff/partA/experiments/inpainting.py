"""Part A 1.7.2, experiment `inpainting` (docs/course.md, A 1.7.2): see :func:`run`."""

from __future__ import annotations

from fundiff.figures.grids import grid
from fundiff.params import ParamSection
from fundiff.partA import denoising as loop
from fundiff.partA.experiment import Context, Result, as_shown, cell_size, guidance, load_images, rounded
from fundiff.partA.inputs import load_mask

KEYS = {"images": list, "num_shown": int, "mask": str, "prompt": str, "guidance_scale": float}


def run(ctx: Context, p: ParamSection) -> Result:
    backend = ctx.backend
    inputs, x0 = load_images(ctx, p)
    mask = load_mask(backend, p["mask"], p.key("mask"), root=ctx.root)
    scale = guidance(p)
    eps_fn = loop.cfg(backend, ctx.encode(p["prompt"], p.key("prompt")), scale)
    out = as_shown(backend, loop.inpaint(backend, x0, mask, ctx.timesteps, eps_fn, ctx.generator()))
    show = min(len(x0), p["num_shown"])
    m = mask[0].expand(backend.image_shape[0], -1, -1).cpu()
    rows = [[inputs.images[i], m, inputs.images[i] * (1 - m), out[i]] for i in range(show)]
    result = Result(
        text=(
            f"Inpainting (RePaint-style): from pure noise, after every step the unmasked part is replaced by the "
            f"original noised to the same timestep; prompt {p['prompt']!r}, CFG γ = {scale}."
        ),
        params={
            "images": p["images"],
            "mask": p["mask"],
            "prompt": p["prompt"],
            "guidance_scale": scale,
            "seed": ctx.seed,
        },
    )
    result.figures.append(
        (
            "inpainting.png",
            grid(rows, inputs.names[:show], ["original", "mask", "kept", "inpainted"], cell_size(backend)),
            "White in the mask = new content",
        )
    )
    keep = (1 - mask[0]).cpu()
    diff = ((out - inputs.images) ** 2 * keep).sum() / (keep.sum() * out.shape[0] * out.shape[1])
    result.metrics["mse_outside_mask"] = rounded(diff)
    result.metrics["num_images"] = len(x0)
    digit = ctx.digit(p["prompt"])
    if digit is not None:
        result.metrics["success_rate"] = rounded((ctx.read(out) == digit).float().mean())
    return result
