"""Image-to-image translation (SDEdit, docs/course.md, A 1.7 and 1.7.3): each input noised to the strided timestep
i_start and denoised with CFG toward a prompt, for every i_start. The body of the experiments ``sdedit`` and
``text_img2img``, which differ only in their params and words."""

from __future__ import annotations

from fundiff.figures.grids import grid
from fundiff.params import ParamSection
from fundiff.partA import algorithms
from fundiff.partA.context import Context
from fundiff.partA.experiment_params import guidance_param, i_starts_param, load_images
from fundiff.partA.result import Result, as_shown, cell_size, image_mse, rounded

IMG2IMG_KEYS = {"images": list, "num_shown": int, "i_starts": list, "prompt": str, "guidance_scale": float}


def img2img(ctx: Context, p: ParamSection, figure: str, caption: str, text: str) -> Result:
    """The figure ``figure`` (rows: inputs; columns: i_start, then the original) with ``caption``; ``text`` is the
    report's, formatted with the prompt, the guidance scale and the i_starts."""
    backend = ctx.backend
    inputs, x0 = load_images(ctx, p)
    i_starts = i_starts_param(ctx, p)
    scale = guidance_param(p)
    eps_fn = algorithms.cfg(backend, ctx.encode(p["prompt"], p.key("prompt")), scale)
    g = ctx.generator()
    outputs = {i: as_shown(backend, algorithms.sdedit(backend, x0, ctx.timesteps, i, eps_fn, g)) for i in i_starts}
    show = min(len(x0), p["num_shown"])
    rows = [[outputs[i][r] for i in i_starts] + [inputs.images[r]] for r in range(show)]
    cols = [f"i_start {i} (t = {ctx.timesteps[i]})" for i in i_starts] + ["original"]
    result = Result(
        text=text.format(prompt=p["prompt"], scale=scale, i_starts=", ".join(map(str, i_starts))),
        params={
            "images": p["images"],
            "i_starts": i_starts,
            "prompt": p["prompt"],
            "guidance_scale": scale,
            "seed": ctx.seed,
        },
    )
    result.figures.append((figure, grid(rows, inputs.names[:show], cols, cell_size(backend)), caption))
    digit = ctx.digit(p["prompt"])
    for i in i_starts:
        result.metrics[f"mse_to_input_i_start_{i:02d}"] = image_mse(outputs[i], inputs.images)
        if digit is not None:
            result.metrics[f"success_rate_i_start_{i:02d}"] = rounded(
                (ctx.judged_digits(outputs[i]) == digit).float().mean()
            )
    if digit is not None:
        result.metrics["success_rate"] = rounded(
            sum(result.metrics[f"success_rate_i_start_{i:02d}"] for i in i_starts) / len(i_starts)
        )
    return result
