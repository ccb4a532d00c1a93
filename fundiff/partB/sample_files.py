"""Step 6 of ``sample@<model>`` (fundiff.partB.sample_ddpm): the results directory, all or nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fundiff.figures.gifs import save_gif
from fundiff.figures.grids import save_grid
from fundiff.figures.judge_plots import save_guidance_plot, save_histograms
from fundiff.io import save_npz
from fundiff.partB.checkpoints import epoch_name
from fundiff.partB.guidance_sweep import guidance_csv
from fundiff.partB.live_log import add_loss_curve
from fundiff.partB.sample_captions import (
    fast_name,
    full_name,
    full_steps,
    grid_caption,
    histogram_caption,
    section_text,
    sweep_caption,
)
from fundiff.partB.sample_settings import DdpmSampleParams
from fundiff.partB.sample_state import Drawn, Judged, Loaded
from fundiff.result_dirs import Manifest, manifest_for, write_result
from fundiff.titles import PART_B


def _manifest(p: DdpmSampleParams, loaded: Loaded, drawn: Drawn, seed: int) -> Manifest:
    config = loaded.config
    if p.flow:
        trained = {"objective": "flow", "modulation": config.get("modulation"), "lr_schedule": config["lr_schedule"]}
    else:
        schedule = ("num_timesteps", "beta_start", "beta_end")
        trained = {"num_timesteps": loaded.num_timesteps, **{k: config[k] for k in schedule[1:]}}
    params = {**p.values, **trained, "num_hiddens": config["num_hiddens"], "epochs": config["epochs"], "seed": seed}
    return manifest_for(PART_B[p.kind], text=section_text(p, loaded, drawn), params=params)


def _samplers(p: DdpmSampleParams, loaded: Loaded, drawn: Drawn, directory: Path, manifest: Manifest) -> None:
    nrow = 10 if p.conditional else 8
    for epoch in loaded.epochs:
        name = f"samples_{epoch_name(epoch)}.png"
        save_grid(drawn.grids[epoch], directory / name, nrow=nrow, scale=2)
        manifest.add_figure(name, grid_caption(p, loaded, epoch))
    for name, result, steps in (("full", drawn.full, full_steps(p, loaded)), ("fast", drawn.fast, p.fast.num_steps)):
        save_grid(result.images[: p.grid_samples], directory / f"samples_final_{name}.png", nrow=nrow, scale=2)
        sampler = full_name(p) if name == "full" else fast_name(p)
        manifest.add_figure(f"samples_final_{name}.png", f"Final model, {sampler}, {steps} steps.")
        gif_samples = p.full.frame_count
        gif = directory / f"sampling_{name}.gif"
        save_gif(result.frames, gif, nrow=min(nrow, gif_samples), duration_ms=60 if name == "full" else 150)
        shown = "every step" if name == "fast" else f"every {p.full.frame_every} steps"
        manifest.add_figure(
            f"sampling_{name}.gif",
            f"The {'flow' if p.flow else 'denoising process'} ({steps}-step sampler, x_t {shown}, from pure noise to "
            "the final image).",
        )


def write_files(
    p: DdpmSampleParams,
    loaded: Loaded,
    drawn: Drawn,
    judged: Judged,
    models_dir: Path,
    out: Path,
    metrics_file: Path,
    seed: int,
) -> None:
    manifest = _manifest(p, loaded, drawn, seed)
    title = PART_B[p.kind].title
    tests = len(loaded.real_test)

    def fill(directory: Path) -> None:
        _samplers(p, loaded, drawn, directory, manifest)
        add_loss_curve(directory, models_dir, p.kind, manifest, title)
        save_npz(
            directory / "samples.npz",
            images=judged.bulk[:, 0].numpy().astype(np.float32),
            labels=judged.bulk_labels,
            confidence=judged.bulk_reading.confidence,
        )
        save_histograms(
            judged.bulk_reading, directory / "judge_histograms.png", f"{title}, samples.npz", loaded.real_test
        )
        manifest.add_figure("judge_histograms.png", histogram_caption(p, tests))
        if drawn.sweep:
            n_sweep = 10 * p.sweep_samples_per_digit
            floor = judged.metrics["sweep_fid_train_digits"]
            plot = directory / "guidance_tradeoff.png"
            save_guidance_plot(drawn.sweep, floor, plot, f"{n_sweep // 10} per digit")
            (directory / "guidance_sweep.csv").write_text(guidance_csv(drawn.sweep))
            manifest.add_figure("guidance_tradeoff.png", sweep_caption(p, int(judged.metrics["sweep_fid_samples"])))

    write_result(out, metrics_file, manifest, judged.metrics, fill)
