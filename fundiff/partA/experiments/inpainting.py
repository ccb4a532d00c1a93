"""Part A 1.7.2, experiment `inpainting` (docs/course.md, A 1.7.2): see :func:`run`."""

from __future__ import annotations

import torch

from fundiff.figures.grids import grid
from fundiff.params import ParamSection
from fundiff.partA import algorithms
from fundiff.partA.context import Context
from fundiff.partA.experiment_params import guidance_param, load_images
from fundiff.partA.inputs import load_mask
from fundiff.partA.result import Result, as_shown, cell_size, rounded

KEYS = {
    "images": list,
    "num_shown": int,
    "mask": str,
    "prompt": str,
    "guidance_scale": float,
    "jump_length": int,
    "jump_n_sample": int,
}


def boundary_error(images01: torch.Tensor, mask: torch.Tensor) -> float:
    """The seam: the mean absolute difference between 4-neighbouring pixels (left-right and up-down pairs) of which
    exactly one is in the mask, over those pairs, every channel and every image, in [0, 1] image units (images01:
    N×C×H×W in [0, 1]; mask: H×W, or 1×1×H×W, 1 = new content). 0 for a mask without a boundary. Lower is a smoother
    join; an image that is flat across the seam scores 0 whatever it shows, so read it beside success_rate."""
    m = mask.reshape(mask.shape[-2:]).cpu() > 0.5
    x = images01.detach().cpu().float()
    across = [
        (x[..., :, 1:] - x[..., :, :-1]).abs()[..., m[:, 1:] != m[:, :-1]],
        (x[..., 1:, :] - x[..., :-1, :]).abs()[..., m[1:, :] != m[:-1, :]],
    ]
    pairs = torch.cat(across, dim=-1)
    return rounded(pairs.mean()) if pairs.numel() else 0.0


def run(ctx: Context, p: ParamSection) -> Result:
    backend = ctx.backend
    jump_length, jump_n_sample = p.integer("jump_length", 1), p.integer("jump_n_sample", 1)
    inputs, x0 = load_images(ctx, p)
    mask = load_mask(backend, p["mask"], p.key("mask"), root=ctx.root)
    scale = guidance_param(p)
    eps_fn = algorithms.cfg(backend, ctx.encode(p["prompt"], p.key("prompt")), scale)
    jumps = {"jump_length": jump_length, "jump_n_sample": jump_n_sample}  # RePaint's resampling; 1, 1: the course's
    out = as_shown(backend, algorithms.inpaint(backend, x0, mask, ctx.timesteps, eps_fn, ctx.generator(), **jumps))
    show = min(len(x0), p["num_shown"])
    m = mask[0].expand(backend.image_shape[0], -1, -1).cpu()
    rows = [[inputs.images[i], m, inputs.images[i] * (1 - m), out[i]] for i in range(show)]
    result = Result(
        text=(
            f"Inpainting (RePaint-style): from pure noise, after every step the unmasked part is replaced by the "
            f"original noised to the same timestep; prompt {p['prompt']!r}, CFG γ = {scale}."
            + (
                f" With RePaint's resampling: every {jump_length} steps the sample is noised back up {jump_length} "
                f"steps and denoised again, {jump_n_sample} times in all."
                if jump_n_sample > 1
                else ""
            )
        ),
        params={
            "images": p["images"],
            "mask": p["mask"],
            "prompt": p["prompt"],
            "guidance_scale": scale,
            "jump_length": jump_length,
            "jump_n_sample": jump_n_sample,
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
    result.metrics["boundary_error"] = boundary_error(out, mask)
    result.metrics["num_images"] = len(x0)
    digit = ctx.digit(p["prompt"])
    if digit is not None:
        result.metrics["success_rate"] = rounded((ctx.judged_digits(out) == digit).float().mean())
    return result
