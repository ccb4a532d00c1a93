"""The results of Part B 1, the single-step denoiser (docs/course.md, B 1): noising figures, denoised test digits after
each snapshot epoch and on out-of-distribution σ, and the test MSE at every σ beside a Gaussian blur's."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fundiff.data import load_splits, to_tensor_images
from fundiff.figures.filters import check_kernel, lowpass
from fundiff.figures.grids import save_table
from fundiff.metrics import blur_mse, denoise_mse, fixed_noise
from fundiff.params import ParamSection
from fundiff.partB.checkpoints import epoch_name, load_for_sampling, load_train_config, snapshot_epochs
from fundiff.partB.live_log import add_loss_curve
from fundiff.result_dirs import Manifest, manifest_for, write_result
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


@dataclass(frozen=True)
class DenoiserSettings:
    """The section ``sample.denoiser``, checked."""

    sigmas: list[float]
    num_digits: int
    kernel: int  # the blur baseline's kernel size
    blur_sigma: float
    batch_size: int
    fold: bool


def settings_from_params(raw: Any) -> DenoiserSettings:
    s = ParamSection(raw, "sample.denoiser", KEYS)
    sigmas = s.numbers("sigmas", 0.0)
    num_digits = s.integer("num_digits", 1, 50)
    kernel, blur_sigma = s.integer("blur_kernel_size", 1), s.number("blur_sigma")
    check_kernel(kernel, blur_sigma, 28, "sample.denoiser")  # MNIST's 28×28 digits
    batch_size = s.integer("batch_size", 1, default=500)
    fold = s.boolean("fold_batchnorm", default=True)
    return DenoiserSettings(sigmas, num_digits, kernel, blur_sigma, batch_size, fold)


@dataclass
class _Loaded:
    config: dict[str, Any]
    train_sigma: float  # the noise level the model was trained at
    snapshots: dict[int, torch.nn.Module]
    final: torch.nn.Module
    test: torch.Tensor  # every test digit, N×1×28×28
    noise: torch.Tensor  # one fixed noise draw per test digit
    picks: list[int]  # the test digits the figures show


def _load(st: DenoiserSettings, seed: int, data_dir: Path, models_dir: Path, device: str) -> _Loaded:
    config = load_train_config(models_dir, "denoiser")
    epochs = snapshot_epochs(config, "denoiser")
    snapshots = {e: load_for_sampling(models_dir, "denoiser", epoch_name(e), device, st.fold) for e in epochs}
    final = load_for_sampling(models_dir, "denoiser", "final", device, st.fold)
    splits = load_splits(data_dir)
    test = to_tensor_images(splits.test_images)
    noise = fixed_noise(test.shape, seed + NOISE_TEST)
    picks = first_of_each_digit(splits.test_labels, st.num_digits)
    return _Loaded(config, float(config.get("sigma", 0.5)), snapshots, final, test, noise, picks)


def _measure(st: DenoiserSettings, ld: _Loaded) -> tuple[dict[str, float], list[float], list[float]]:
    """Test MSE of the final model and of the blur at every σ, and of every snapshot at the training σ."""
    unet = denoise_mse(ld.final, ld.test, st.sigmas, ld.noise, st.batch_size)
    blur = blur_mse(ld.test, st.sigmas, ld.noise, st.kernel, st.blur_sigma)
    metrics: dict[str, float] = {}
    for sigma, u, b in zip(st.sigmas, unet, blur):
        metrics[f"mse_unet_sigma_{sigma_tag(sigma)}"] = u
        metrics[f"mse_blur_sigma_{sigma_tag(sigma)}"] = b
    for epoch, model in ld.snapshots.items():
        mse = denoise_mse(model, ld.test, [ld.train_sigma], ld.noise, st.batch_size)[0]
        metrics[f"mse_unet_epoch_{epoch}_sigma_{sigma_tag(ld.train_sigma)}"] = mse
    metrics["test_images"] = int(len(ld.test))
    return metrics, unet, blur


def _manifest(st: DenoiserSettings, ld: _Loaded, seed: int) -> Manifest:
    config = ld.config
    text = (
        f"An unconditional UNet (D={config['num_hiddens']}) trained for {config['epochs']} epochs to map "
        f"z = x + σ·ε with σ = {ld.train_sigma:g} back to x (L2 loss). Test MSE over all {len(ld.test)} test digits, "
        f"with one fixed noise draw ε for every σ; the classical baseline is a Gaussian blur "
        f"(kernel {st.kernel}, σ_blur {st.blur_sigma:g}) of the same noisy digits."
    )
    params = {
        "sigmas": st.sigmas,
        "num_digits": st.num_digits,
        "blur_kernel_size": st.kernel,
        "blur_sigma": st.blur_sigma,
        "train_sigma": ld.train_sigma,
        "num_hiddens": config["num_hiddens"],
        "epochs": config["epochs"],
        "seed": seed,
    }
    return manifest_for(PART_B["denoiser"], text=text, params=params)


def _noising_figures(st: DenoiserSettings, ld: _Loaded, directory: Path, manifest: Manifest, device: str) -> None:
    """The noising table, and the picked digits denoised after every snapshot epoch."""
    x, eps, sigma = ld.test[ld.picks], ld.noise[ld.picks], ld.train_sigma
    rows = [[(x[i] + s * eps[i]) for s in st.sigmas] for i in range(len(ld.picks))]
    labels = [f"sigma={s:g}" for s in st.sigmas]  # figure text in ASCII: PIL's built-in font has no Greek
    title = "Noising z = x + sigma * eps"
    save_table([torch.stack(r) for r in rows], directory / "noising.png", col_labels=labels, title=title)
    manifest.add_figure("noising.png", "Test digits noised with z = x + σ·ε at every σ of the list.")
    z = x + sigma * eps
    for epoch, model in ld.snapshots.items():
        with torch.inference_mode():
            out = model(z.to(device)).cpu()
        name = f"denoised_{epoch_name(epoch)}.png"
        row_labels = ["noisy", "denoised", "clean"]
        save_table(
            [z, out, x], directory / name, row_labels=row_labels, title=f"After epoch {epoch} (sigma = {sigma:g})"
        )
        manifest.add_figure(
            name,
            f"Test digits noised at σ = {sigma:g}, denoised by the model after epoch {epoch}, and the clean digits.",
        )


def _out_of_distribution(st: DenoiserSettings, ld: _Loaded, directory: Path, manifest: Manifest, device: str) -> None:
    """The final model at every σ of the list, beside a Gaussian blur."""
    x, eps = ld.test[ld.picks], ld.noise[ld.picks]
    rows, names = [], []
    for i in range(len(ld.picks)):
        noisy = torch.stack([x[i] + sigma * eps[i] for sigma in st.sigmas])
        with torch.inference_mode():
            rows += [noisy, ld.final(noisy.to(device)).cpu(), lowpass(noisy, st.kernel, st.blur_sigma)]
        names += ["noisy", "UNet", "blur"]
    save_table(
        rows,
        directory / "out_of_distribution.png",
        row_labels=names,
        col_labels=[f"sigma={s:g}" for s in st.sigmas],
        title=f"Final model (trained at sigma = {ld.train_sigma:g}) at other sigma",
    )
    manifest.add_figure(
        "out_of_distribution.png",
        f"The final model (trained only at σ = {ld.train_sigma:g}) on "
        "noise levels it never saw, beside a Gaussian blur.",
    )


def write_denoiser_results(
    raw: Any, seed: int, data_dir: Path, models_dir: Path, out: Path, metrics_file: Path, device: str
) -> str:
    """Part B 1's figures and test MSE per σ (with Gaussian blur's beside it) into ``out``; returns a summary line."""
    st = settings_from_params(raw)
    ld = _load(st, seed, data_dir, models_dir, device)
    metrics, unet, blur = _measure(st, ld)
    manifest = _manifest(st, ld, seed)

    def fill(directory: Path) -> None:
        _noising_figures(st, ld, directory, manifest, device)
        _out_of_distribution(st, ld, directory, manifest, device)
        add_loss_curve(directory, models_dir, "denoiser", manifest, "Single-step denoiser")

    write_result(out, metrics_file, manifest, metrics, fill)
    return "denoiser: " + ", ".join(f"σ={s:g} UNet {u:.4f} blur {b:.4f}" for s, u, b in zip(st.sigmas, unet, blur))
