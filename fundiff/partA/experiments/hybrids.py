"""Part A 1.9, experiment `hybrids` (docs/course.md, A 1.9): see :func:`run`."""

from __future__ import annotations

from fundiff.errors import require
from fundiff.figures.filters import check_kernel, highpass, lowpass
from fundiff.figures.grids import grid
from fundiff.params import ParamSection
from fundiff.partA import denoising as loop
from fundiff.partA.experiment import Context, Result, as_shown, cell_size, guidance, rounded

KEYS = {"pairs": list, "num_samples": int, "guidance_scale": float, "kernel_size": int, "sigma": float}


def run(ctx: Context, p: ParamSection) -> Result:
    backend = ctx.backend
    n = p.integer("num_samples", 1)
    scale = guidance(p)
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
    result = Result(
        text=(
            f"Hybrid images: ε = lowpass(ε̂(p_low)) + highpass(ε̂(p_high)), Gaussian kernel {k}, σ {s}, CFG γ = "
            f"{scale}. Rows: the hybrid, its low-pass (seen from afar) and high-pass (+0.5) parts."
        ),
        params={
            "num_samples": n,
            "guidance_scale": scale,
            "kernel_size": k,
            "sigma": s,
            "seed": ctx.seed,
            **{f"pair_{j + 1}": f"low {lo} / high {hi}" for j, (lo, hi, _, _) in enumerate(parsed)},
        },
    )
    hits_all, count_all = 0, 0
    for j, (lo, hi, c_lo, c_hi) in enumerate(parsed):
        x = loop.sample(backend, n, ctx.timesteps, loop.hybrid(backend, c_lo, c_hi, scale, k, s), ctx.generator())
        image = as_shown(backend, x)
        far = lowpass(image, k, s)
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
        ok = ctx.both_ways(far, lo, image, hi)
        if ok is not None:
            result.metrics[f"success_rate_{j + 1}"] = rounded(ok.float().mean())
            hits_all, count_all = hits_all + int(ok.sum()), count_all + len(ok)
    if count_all:
        result.metrics["success_rate"] = rounded(hits_all / count_all)
    result.metrics["num_images"] = n * len(parsed)
    return result
