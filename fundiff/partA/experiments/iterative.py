"""Part A 1.4, experiment `iterative` (docs/course.md, A 1.4): see :func:`run`."""

from __future__ import annotations

import torch

from fundiff.diffusion.reverse import randn
from fundiff.figures.filters import check_kernel, lowpass
from fundiff.figures.grids import grid
from fundiff.params import ParamSection
from fundiff.partA import algorithms
from fundiff.partA.backends.base import Backend
from fundiff.partA.context import Context
from fundiff.partA.experiment_params import i_start_param, load_images
from fundiff.partA.inputs import Inputs
from fundiff.partA.result import Figure, Result, as_shown, cell_size, image_mse

KEYS = {
    "images": list,
    "num_shown": int,
    "i_start": int,
    "prompt": str,
    "show_every": int,
    "blur_kernel_size": int,
    "blur_sigma": float,
}


def run(ctx: Context, p: ParamSection) -> Result:
    backend = ctx.backend
    inputs, x0 = load_images(ctx, p)
    i_start = i_start_param(ctx, p, "i_start")
    every = p.integer("show_every", 1)
    k, s = p["blur_kernel_size"], p["blur_sigma"]
    check_kernel(k, s, backend.image_shape[-1], p.prefix)
    ts = ctx.timesteps
    t0 = ts[i_start]
    eps_fn = algorithms.conditional(backend, ctx.encode(p["prompt"], p.key("prompt")))
    g = ctx.generator()
    x_t = algorithms.forward(backend, x0, t0, randn(x0.shape, g, x0.device))
    clean, frames = algorithms.iterative_denoise(backend, x_t, ts, eps_fn, g, i_start=i_start, keep_every=every)
    ways = {  # noisy, then the three ways to clean it: the metrics mse_<way> and the columns of the comparison figure
        "noisy": x_t,
        "iterative": clean,
        "one_step": algorithms.one_step(backend, x_t, t0, eps_fn),
        "blur": lowpass(x_t, k, s),
    }
    show = min(len(x0), p["num_shown"])
    result = Result(
        text=(
            f"Iterative denoising over the strided timesteps {ts[0]}, {ts[1]}, …, {ts[-1]} from i_start = {i_start} "
            f"(t = {t0}), prompt {p['prompt']!r}, every {every}th frame shown; compared with one-step denoising and "
            f"Gaussian blur (kernel {k}, σ {s})."
        ),
        params={
            "images": p["images"],
            "i_start": i_start,
            "t_start": t0,
            "prompt": p["prompt"],
            "show_every": every,
            "timesteps_start": ts[0],
            "timesteps_stride": ts[0] - ts[1],
            "blur_kernel_size": k,
            "blur_sigma": s,
            "seed": ctx.seed,
        },
    )
    frame_rows = [[as_shown(backend, x[i]) for _, x in frames] + [as_shown(backend, clean[i])] for i in range(show)]
    result.figures.append(
        (
            "iterative_frames.png",
            grid(frame_rows, inputs.names[:show], [f"t = {t}" for t, _ in frames] + ["t = 0"], cell_size(backend)),
            f"The denoising loop every {every}th step from t = {t0}",
        )
    )
    result.figures.append(compare_figure(backend, inputs, show, t0, ways))
    result.metrics.update({f"mse_{way}": image_mse(as_shown(backend, x), inputs.images) for way, x in ways.items()})
    return result


def compare_figure(backend: Backend, inputs: Inputs, show: int, t0: int, ways: dict[str, torch.Tensor]) -> Figure:
    """The first ``show`` inputs, noisy at t0 and cleaned each way, side by side."""
    rows = [[inputs.images[i], *(as_shown(backend, x[i]) for x in ways.values())] for i in range(show)]
    columns = ["original", f"noisy (t = {t0})", "iterative", "one-step", "blur"]
    return (
        "iterative_compare.png",
        grid(rows, inputs.names[:show], columns, cell_size(backend)),
        "Iteratively denoised, one-step denoised and blurred, side by side",
    )
