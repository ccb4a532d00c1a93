"""Part A 1.2, experiment `blur` (docs/course.md, A 1.2): see :func:`run`."""

from __future__ import annotations

from fundiff.figures.filters import check_kernel, lowpass
from fundiff.figures.grids import grid
from fundiff.params import ParamSection
from fundiff.partA import algorithms
from fundiff.partA.context import Context
from fundiff.partA.experiment_params import load_images, timesteps_param
from fundiff.partA.result import Result, as_shown, cell_size, image_mse

KEYS = {"images": list, "num_shown": int, "timesteps": list, "blur_kernel_size": int, "blur_sigma": float}


def run(ctx: Context, p: ParamSection) -> Result:
    backend = ctx.backend
    inputs, x0 = load_images(ctx, p)
    ts = timesteps_param(ctx, p, "timesteps")
    k, s = p["blur_kernel_size"], p["blur_sigma"]
    check_kernel(k, s, backend.image_shape[-1], p.prefix)
    noisy = algorithms.noisy_images(backend, x0, ts, ctx.generator())
    blurred = [lowpass(x, k, s) for x in noisy]
    show = min(len(x0), p["num_shown"])
    rows = []
    for i in range(show):
        rows.append([as_shown(backend, x[i]) for x in noisy])
        rows.append([as_shown(backend, x[i]) for x in blurred])
    labels = [label for i in range(show) for label in (f"{inputs.names[i]}: noisy", f"{inputs.names[i]}: blurred")]
    result = Result(
        text=f"Classical denoising: Gaussian blur (kernel {k}, σ {s}) of each noisy image.",
        params={"images": p["images"], "timesteps": ts, "blur_kernel_size": k, "blur_sigma": s, "seed": ctx.seed},
    )
    result.figures.append(
        (
            "blur.png",
            grid(rows, labels, [f"t = {t}" for t in ts], cell_size(backend)),
            f"Noisy images and their Gaussian blur (kernel {k}, σ {s})",
        )
    )
    for t, x, b in zip(ts, noisy, blurred):
        result.metrics[f"mse_noisy_t{t}"] = image_mse(as_shown(backend, x), inputs.images)
        result.metrics[f"mse_blur_t{t}"] = image_mse(as_shown(backend, b), inputs.images)
    return result
