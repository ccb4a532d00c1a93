"""Part A 1.3, experiment `one_step` (docs/course.md, A 1.3): see :func:`run`."""

from __future__ import annotations

from fundiff.figures.grids import grid
from fundiff.params import ParamSection
from fundiff.partA import algorithms
from fundiff.partA.context import Context
from fundiff.partA.experiment_params import load_images, timesteps_param
from fundiff.partA.result import Result, as_shown, cell_size, image_mse

KEYS = {"images": list, "num_shown": int, "timesteps": list, "prompt": str}


def run(ctx: Context, p: ParamSection) -> Result:
    backend = ctx.backend
    inputs, x0 = load_images(ctx, p)
    ts = timesteps_param(ctx, p, "timesteps")
    eps_fn = algorithms.conditional(backend, ctx.encode(p["prompt"], p.key("prompt")))
    noisy = algorithms.noisy_images(backend, x0, ts, ctx.generator())
    denoised = [algorithms.one_step(backend, x, t, eps_fn) for t, x in zip(ts, noisy)]
    show = min(len(x0), p["num_shown"])
    rows = []
    for i in range(show):
        rows.append([as_shown(backend, x[i]) for x in noisy])
        rows.append([as_shown(backend, x[i]) for x in denoised])
    labels = [label for i in range(show) for label in (f"{inputs.names[i]}: noisy", f"{inputs.names[i]}: one-step")]
    result = Result(
        text=f"One-step denoising x̂0 = (x_t − √(1−ᾱ_t)·ε̂)/√ᾱ_t with ε̂ = UNet(x_t, t, {p['prompt']!r}).",
        params={"images": p["images"], "timesteps": ts, "prompt": p["prompt"], "seed": ctx.seed},
    )
    result.figures.append(
        (
            "one_step.png",
            grid(rows, labels, [f"t = {t}" for t in ts], cell_size(backend)),
            "Noisy images and their one-step estimate of the clean image",
        )
    )
    for t, x, d in zip(ts, noisy, denoised):
        result.metrics[f"mse_noisy_t{t}"] = image_mse(as_shown(backend, x), inputs.images)
        result.metrics[f"mse_one_step_t{t}"] = image_mse(as_shown(backend, d), inputs.images)
    return result
