"""Part A 1.5, experiment `sampling` (docs/course.md, A 1.5): see :func:`run`."""

from __future__ import annotations

from fundiff.figures.grids import grid
from fundiff.params import ParamSection
from fundiff.partA import algorithms
from fundiff.partA.context import Context
from fundiff.partA.result import Result, as_shown, cell_size, digit_accuracy

KEYS = {"prompt": str, "num_samples": int}


def run(ctx: Context, p: ParamSection) -> Result:
    backend = ctx.backend
    n = p.integer("num_samples", 1)
    eps_fn = algorithms.conditional(backend, ctx.encode(p["prompt"], p.key("prompt")))
    samples = as_shown(backend, algorithms.sample(backend, n, ctx.timesteps, eps_fn, ctx.generator()))
    result = Result(
        text=f"{n} samples from pure noise (i_start = 0) with prompt {p['prompt']!r}, no guidance.",
        params={"prompt": p["prompt"], "num_samples": n, "seed": ctx.seed},
    )
    result.figures.append(
        ("samples.png", grid([list(samples)], None, None, cell_size(backend)), f"{n} samples, prompt {p['prompt']!r}")
    )
    result.metrics["num_samples"] = n
    digit_accuracy(ctx, samples, p["prompt"], result)
    return result
