"""Part A 1.1, experiment `forward` (docs/course.md, A 1.1): see :func:`run`."""

from __future__ import annotations

from fundiff.figures.grids import grid
from fundiff.params import ParamSection
from fundiff.partA import algorithms
from fundiff.partA.context import Context
from fundiff.partA.experiment_params import load_images, timesteps_param
from fundiff.partA.result import Result, as_shown, cell_size, image_mse

KEYS = {"images": list, "num_shown": int, "timesteps": list}


def run(ctx: Context, p: ParamSection) -> Result:
    backend = ctx.backend
    inputs, x0 = load_images(ctx, p)
    ts = timesteps_param(ctx, p, "timesteps")
    noisy = algorithms.noisy_images(backend, x0, ts, ctx.generator())
    show = min(len(x0), p["num_shown"])
    rows = [[inputs.images[i]] + [as_shown(backend, x[i]) for x in noisy] for i in range(show)]
    result = Result(
        text="The forward process x_t = √ᾱ_t·x_0 + √(1−ᾱ_t)·ε on the test image(s).",
        params={"images": p["images"], "timesteps": ts, "seed": ctx.seed},
    )
    result.figures.append(
        (
            "forward.png",
            grid(rows, inputs.names[:show], ["clean"] + [f"t = {t}" for t in ts], cell_size(backend)),
            f"Noised at t = {', '.join(map(str, ts))} (of T = {backend.num_timesteps})",
        )
    )
    for t, x in zip(ts, noisy):
        result.metrics[f"mse_noisy_t{t}"] = image_mse(as_shown(backend, x), inputs.images)
    return result
