"""Part A 1.4, experiment `iterative` (docs/course.md, A 1.4): see :func:`run`."""

from __future__ import annotations

from fundiff.figures.filters import check_kernel, lowpass
from fundiff.figures.grids import grid
from fundiff.params import ParamSection
from fundiff.partA import denoising as loop
from fundiff.partA.experiment import Context, Result, as_shown, cell_size, i_start_param, image_mse, load_images

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
    check_kernel(k, s, backend.image_shape[-1], p.prefix + ".blur")
    ts = ctx.timesteps
    t0 = ts[i_start]
    eps_fn = loop.conditional(backend, ctx.encode(p["prompt"], p.key("prompt")))
    g = ctx.generator()
    x_t = loop.forward(backend, x0, t0, loop.randn(x0.shape, g, x0.device))
    clean, frames = loop.iterative_denoise(backend, x_t, ts, eps_fn, g, i_start=i_start, keep_every=every)
    one = loop.one_step(backend, x_t, t0, eps_fn)
    blurred = lowpass(x_t, k, s)
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
    compare = [
        [
            inputs.images[i],
            as_shown(backend, x_t[i]),
            as_shown(backend, clean[i]),
            as_shown(backend, one[i]),
            as_shown(backend, blurred[i]),
        ]
        for i in range(show)
    ]
    result.figures.append(
        (
            "iterative_compare.png",
            grid(
                compare,
                inputs.names[:show],
                ["original", f"noisy (t = {t0})", "iterative", "one-step", "blur"],
                cell_size(backend),
            ),
            "Iteratively denoised, one-step denoised and blurred, side by side",
        )
    )
    result.metrics.update(
        {
            "mse_noisy": image_mse(as_shown(backend, x_t), inputs.images),
            "mse_iterative": image_mse(as_shown(backend, clean), inputs.images),
            "mse_one_step": image_mse(as_shown(backend, one), inputs.images),
            "mse_blur": image_mse(as_shown(backend, blurred), inputs.images),
        }
    )
    return result
