"""Part A 1.1, experiment `forward` (docs/course.md, A 1.1): see :func:`run`."""

from __future__ import annotations

from fundiff.figures.grids import grid
from fundiff.params import ParamSection
from fundiff.partA.experiment import (
    Context,
    Result,
    as_shown,
    cell_size,
    image_mse,
    load_images,
    noisy_images,
    timesteps_param,
)

KEYS = {"images": list, "num_shown": int, "timesteps": list}


def run(ctx: Context, p: ParamSection) -> Result:
    backend = ctx.backend
    inputs, x0 = load_images(ctx, p)
    ts = timesteps_param(ctx, p, "timesteps")
    noisy = noisy_images(ctx, x0, ts)
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
