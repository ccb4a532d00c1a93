"""The results of Part B 1, the single-step denoiser (docs/course.md, B 1): noising figures, denoised test digits after
each snapshot epoch and on out-of-distribution σ, and the test MSE at every σ beside a Gaussian blur's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from fundiff.data import load_splits, to_tensor_images
from fundiff.errors import FundiffError
from fundiff.figures.filters import lowpass
from fundiff.figures.grids import save_table
from fundiff.metrics import blur_mse, denoise_mse, fixed_noise
from fundiff.params import ParamSection
from fundiff.partB.checkpoints import epoch_name, load_for_sampling, load_train_config, snapshot_epochs
from fundiff.partB.live_log import add_loss_curve
from fundiff.result_dirs import manifest_for, write_result
from fundiff.streams import NOISE_TEST
from fundiff.titles import PART_B

KEYS = ("sigmas", "num_digits", "blur_kernel_size", "blur_sigma", "batch_size", "fold_batchnorm")


def first_of_each_digit(labels: np.ndarray, count: int) -> list[int]:
    """Indices of the first test image of digits 0, 1, ... (count of them, cycling through the digits)."""
    picks, used = [], set()
    while len(picks) < count:
        for digit in range(10):
            idx = next((i for i in np.flatnonzero(labels == digit) if i not in used), None)
            if idx is not None and len(picks) < count:
                picks.append(int(idx))
                used.add(int(idx))
        if len(used) == len(labels):
            break
    return picks


def sigma_tag(sigma: float) -> str:
    return f"{sigma:g}".replace(".", "p")


def settings_from_params(raw: Any) -> dict[str, Any]:
    """The section ``sample.denoiser``, checked."""
    s = ParamSection(raw, "sample.denoiser", KEYS)
    sigmas = s.numbers("sigmas", 0.0)
    num_digits = s.integer("num_digits", 1, 50)
    kernel = s.integer("blur_kernel_size", 1, 27)
    if kernel % 2 == 0:
        raise FundiffError(f"sample.denoiser.blur_kernel_size={kernel} must be odd")
    blur_sigma = s.number("blur_sigma", 0, lo_open=True)
    batch_size = s.integer("batch_size", 1, default=500)
    fold = s.boolean("fold_batchnorm", default=True)
    return dict(
        sigmas=sigmas, num_digits=num_digits, kernel=kernel, blur_sigma=blur_sigma, batch_size=batch_size, fold=fold
    )


def write_denoiser_results(
    raw: Any, seed: int, data_dir: Path, models_dir: Path, out: Path, metrics_file: Path, device: str
) -> str:
    """Part B 1's figures and test MSE per σ (with Gaussian blur's beside it) into ``out``; returns a summary line."""
    st = settings_from_params(raw)
    sigmas, num_digits, kernel, blur_sigma, batch_size, fold = (
        st["sigmas"],
        st["num_digits"],
        st["kernel"],
        st["blur_sigma"],
        st["batch_size"],
        st["fold"],
    )
    config = load_train_config(models_dir, "denoiser")
    train_sigma = float(config.get("sigma", 0.5))
    epochs = snapshot_epochs(config, "denoiser")
    snapshots = {e: load_for_sampling(models_dir, "denoiser", epoch_name(e), device, fold) for e in epochs}
    final = load_for_sampling(models_dir, "denoiser", "final", device, fold)
    splits = load_splits(data_dir)
    test = to_tensor_images(splits.test_images)
    noise = fixed_noise(test.shape, seed + NOISE_TEST)
    picks = first_of_each_digit(splits.test_labels, num_digits)
    x, eps = test[picks], noise[picks]

    unet = denoise_mse(final, test, sigmas, noise, batch_size)
    blur = blur_mse(test, sigmas, noise, kernel, blur_sigma)
    metrics: dict[str, float] = {}
    for sigma, u, b in zip(sigmas, unet, blur):
        metrics[f"mse_unet_sigma_{sigma_tag(sigma)}"] = u
        metrics[f"mse_blur_sigma_{sigma_tag(sigma)}"] = b
    for epoch, model in snapshots.items():
        metrics[f"mse_unet_epoch_{epoch}_sigma_{sigma_tag(train_sigma)}"] = denoise_mse(
            model, test, [train_sigma], noise, batch_size
        )[0]
    metrics["test_images"] = int(len(test))

    manifest = manifest_for(
        PART_B["denoiser"],
        text=(
            f"An unconditional UNet (D={config['num_hiddens']}) trained for {config['epochs']} epochs to map "
            f"z = x + σ·ε with σ = {train_sigma:g} back to x (L2 loss). Test MSE over all {len(test)} test digits, "
            f"with one fixed noise draw ε for every σ; the classical baseline is a Gaussian blur "
            f"(kernel {kernel}, σ_blur {blur_sigma:g}) of the same noisy digits."
        ),
        params={
            "sigmas": sigmas,
            "num_digits": num_digits,
            "blur_kernel_size": kernel,
            "blur_sigma": blur_sigma,
            "train_sigma": train_sigma,
            "num_hiddens": config["num_hiddens"],
            "epochs": config["epochs"],
            "seed": seed,
        },
    )
    labels = [f"sigma={s:g}" for s in sigmas]  # figure text in ASCII: PIL's built-in font has no Greek

    def fill(directory: Path) -> None:
        rows = [[(x[i] + sigma * eps[i]) for sigma in sigmas] for i in range(len(picks))]
        save_table(
            [torch.stack(r) for r in rows],
            directory / "noising.png",
            col_labels=labels,
            title="Noising z = x + sigma * eps",
        )
        manifest.add_figure("noising.png", "Test digits noised with z = x + σ·ε at every σ of the list.")
        z = x + train_sigma * eps
        for epoch, model in snapshots.items():
            with torch.inference_mode():
                out = model(z.to(device)).cpu()
            name = f"denoised_{epoch_name(epoch)}.png"
            save_table(
                [z, out, x],
                directory / name,
                row_labels=["noisy", "denoised", "clean"],
                title=f"After epoch {epoch} (sigma = {train_sigma:g})",
            )
            manifest.add_figure(
                name,
                f"Test digits noised at σ = {train_sigma:g}, denoised by the model after epoch "
                f"{epoch}, and the clean digits.",
            )
        rows, names = [], []
        for i in range(len(picks)):
            noisy = torch.stack([x[i] + sigma * eps[i] for sigma in sigmas])
            with torch.inference_mode():
                rows += [noisy, final(noisy.to(device)).cpu(), lowpass(noisy, kernel, blur_sigma)]
            names += ["noisy", "UNet", "blur"]
        save_table(
            rows,
            directory / "out_of_distribution.png",
            row_labels=names,
            col_labels=labels,
            title=f"Final model (trained at sigma = {train_sigma:g}) at other sigma",
        )
        manifest.add_figure(
            "out_of_distribution.png",
            f"The final model (trained only at σ = {train_sigma:g}) on "
            "noise levels it never saw, beside a Gaussian blur.",
        )
        add_loss_curve(directory, models_dir, "denoiser", manifest, "Single-step denoiser")

    write_result(out, metrics_file, manifest, metrics, fill)
    return "denoiser: " + ", ".join(f"σ={s:g} UNet {u:.4f} blur {b:.4f}" for s, u, b in zip(sigmas, unet, blur))
