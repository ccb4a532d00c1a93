"""Part A 0, experiment `pipeline` (docs/course.md, A 0): see :func:`run`."""

from __future__ import annotations

import torch

from fundiff.errors import require
from fundiff.figures.grids import grid
from fundiff.params import ParamSection
from fundiff.partA.context import Context
from fundiff.partA.experiment_params import guidance_param
from fundiff.partA.result import Result, cell_size, rounded

KEYS = {"prompts": list, "num_inference_steps": list, "num_per_prompt": int, "guidance_scale": float}


def run(ctx: Context, p: ParamSection) -> Result:
    backend = ctx.backend
    prompts = p["prompts"]
    for k, prompt in enumerate(prompts):
        ctx.encode(prompt, f"{p.key('prompts')}[{k}]")
    steps_list = p["num_inference_steps"]
    for steps in steps_list:
        require(
            isinstance(steps, int) and 1 <= steps <= backend.num_timesteps,
            f"{p.key('num_inference_steps')} has {steps!r}; use integers in 1..{backend.num_timesteps}",
        )
    per_prompt = p.integer("num_per_prompt", 1)
    scale = guidance_param(p)
    repeated = [prompt for prompt in prompts for _ in range(per_prompt)]
    result = Result(
        text=(
            f"Samples of the stock sampler ({'IF stage I then stage II' if backend.name == 'deepfloyd' else 'our strided DDPM loop with CFG'}) "
            f"for {len(prompts)} prompts at {', '.join(map(str, steps_list))} steps; seed {ctx.seed}."
        ),
        params={
            "prompts": prompts,
            "num_inference_steps": steps_list,
            "num_per_prompt": per_prompt,
            "guidance_scale": scale,
            "seed": ctx.seed,
        },
    )
    correct_all, total_all = 0, 0
    for steps in steps_list:
        low, high = backend.pipeline_samples(repeated, steps, ctx.seed, scale)
        rows = [list(low)] + ([list(high)] if high is not None else [])
        labels = [f"{backend.image_shape[-1]}px"] + ([f"{high.shape[-1]}px (stage II)"] if high is not None else [])
        name = f"samples_{steps:03d}_steps.png"
        result.figures.append(
            (
                name,
                grid(rows, labels, repeated, cell=cell_size(backend)),
                f"{steps} inference steps, seed {ctx.seed}: one column per prompt",
            )
        )
        digits = [ctx.digit(prompt) for prompt in repeated]
        if ctx.measures_digits and all(d is not None for d in digits):
            hits = (ctx.judged_digits(low) == torch.tensor(digits)).sum().item()
            result.metrics[f"accuracy_steps_{steps}"] = rounded(hits / len(digits))
            correct_all, total_all = correct_all + hits, total_all + len(digits)
    if total_all:
        result.metrics["accuracy"] = rounded(correct_all / total_all)
    result.metrics["num_images"] = len(repeated) * len(steps_list)
    return result
