"""Part A 1.9, experiment `hybrids` (docs/course.md, A 1.9): see :func:`run`."""

from __future__ import annotations

import torch

from fundiff.errors import require
from fundiff.figures.filters import check_kernel, highpass, lowpass
from fundiff.figures.grids import grid
from fundiff.params import ParamSection
from fundiff.partA import denoising as loop
from fundiff.partA.experiment import BothWays, Context, Result, as_shown, cell_size, guidance, selection_text

AFAR = 2  # a viewer from afar: the low-pass image at half the resolution


def from_afar(lowpassed01: torch.Tensor) -> torch.Tensor:
    """The hybrid as a distant viewer sees it: its low-pass image downsampled AFAR× (antialiased, torchvision), and
    brought back to the full size for the judge (the detail lost on the way stays lost)."""
    from torchvision.transforms.v2 import functional as TF

    h, w = lowpassed01.shape[-2:]
    small = TF.resize(lowpassed01, [h // AFAR, w // AFAR], antialias=True)
    return TF.resize(small, [h, w], antialias=True).clamp(0, 1)


KEYS = {
    "pairs": list,
    "num_samples": int,
    "guidance_scale": float,
    "kernel_size": int,
    "sigma": float,
    "best_of": int,
}


def run(ctx: Context, p: ParamSection) -> Result:
    backend = ctx.backend
    n = p.integer("num_samples", 1)
    scale = guidance(p)
    legible = BothWays(ctx, p.integer("best_of", 1, default=1))
    k, s = p["kernel_size"], p["sigma"]
    check_kernel(k, s, backend.image_shape[-1], p.prefix)
    pairs = p["pairs"]
    require(len(pairs) > 0, f"{p.key('pairs')} must be a non-empty list")
    parsed = []
    for j, item in enumerate(pairs):
        where = f"{p.key('pairs')}[{j}]"
        require(
            isinstance(item, dict) and set(item) == {"low", "high"}, f"{where} must be {{low: prompt, high: prompt}}"
        )
        parsed.append(
            (
                item["low"],
                item["high"],
                ctx.encode(item["low"], f"{where}.low"),
                ctx.encode(item["high"], f"{where}.high"),
            )
        )
    legible.check(p.key("best_of"))  # after the prompts: a bad prompt is the first thing to fix
    result = Result(
        text=(
            f"Hybrid images: ε = lowpass(ε̂(p_low)) + highpass(ε̂(p_high)), Gaussian kernel {k}, σ {s}, CFG γ = "
            f"{scale}. Rows: the hybrid, its low-pass (seen from afar) and high-pass (+0.5) parts. Success means the "
            f"judge reads the low prompt's digit from afar (the low-pass image downsampled {AFAR}×, as a distant viewer "
            f"sees it) and the high prompt's digit in the hybrid itself, up close.{selection_text(legible)}"
        ),
        params={
            "num_samples": n,
            "best_of": legible.per,
            "guidance_scale": scale,
            "kernel_size": k,
            "sigma": s,
            "seed": ctx.seed,
            **{f"pair_{j + 1}": f"low {lo} / high {hi}" for j, (lo, hi, _, _) in enumerate(parsed)},
        },
    )
    for j, (lo, hi, c_lo, c_hi) in enumerate(parsed):
        eps_fn = loop.hybrid(backend, c_lo, c_hi, scale, k, s)
        x = loop.sample(backend, n * legible.per, ctx.timesteps, eps_fn, ctx.generator())
        image = as_shown(backend, x)
        far = lowpass(image, k, s)
        keep = legible.select(str(j + 1), from_afar(far), lo, image, hi)
        image, far = image[keep], far[keep]
        near = (highpass(image, k, s) + 0.5).clamp(0, 1)
        result.figures.append(
            (
                f"hybrid_{j + 1}.png",
                grid(
                    [list(image), list(far), list(near)],
                    ["hybrid", f"low-pass: {lo}", f"high-pass: {hi}"],
                    None,
                    cell_size(backend),
                ),
                f"Hybrid {j + 1}: {lo!r} from afar, {hi!r} up close",
            )
        )
    result.metrics.update(legible.finish())
    result.metrics["num_images"] = n * len(parsed)
    return result
