"""Part A 1.6, experiment `cfg` (docs/course.md, A 1.6): see :func:`run`."""

from __future__ import annotations

from fundiff.figures.grids import grid
from fundiff.params import ParamSection
from fundiff.partA import algorithms
from fundiff.partA.context import Context
from fundiff.partA.experiment_params import guidance_param
from fundiff.partA.result import Result, as_shown, cell_size, digit_accuracy

KEYS = {"prompt": str, "num_samples": int, "guidance_scale": float}


def run(ctx: Context, p: ParamSection) -> Result:
    backend = ctx.backend
    n = p.integer("num_samples", 1)
    scale = guidance_param(p)
    eps_fn = algorithms.cfg(backend, ctx.encode(p["prompt"], p.key("prompt")), scale)
    samples = as_shown(backend, algorithms.sample(backend, n, ctx.timesteps, eps_fn, ctx.generator()))
    result = Result(
        text=f"{n} samples with classifier-free guidance γ = {scale} (null prompt ''), prompt {p['prompt']!r}.",
        params={"prompt": p["prompt"], "guidance_scale": scale, "num_samples": n, "seed": ctx.seed},
    )
    result.figures.append(
        (
            "cfg_samples.png",
            grid([list(samples)], None, None, cell_size(backend)),
            f"{n} CFG samples (γ = {scale}), prompt {p['prompt']!r}",
        )
    )
    result.metrics["num_samples"] = n
    digit_accuracy(ctx, samples, p["prompt"], result)
    return result
