"""DVC stages `sample_denoiser` and `sample@<model>`: the figures and numbers of Part B for one trained model.

    python -m stages.sample_partB denoiser|time_cond|class_cond

Reads data/mnist, data/models/<model>/checkpoints (final/, epoch_NNN/, train_config.json), the DVCLive logs in
data/models/<model>/live/ and, for the DDPMs, the judge in data/models/classifier/weights. Writes, atomically:

* reports/partB/<model>/: PNG figures, GIFs, manifest.json (for the report), metrics.json (same numbers), and for
  class_cond samples.npz (``images`` float32 N×28×28 in [0, 1], ``labels`` int64 N);
* reports/partB/<model>.metrics.json: the flat DVC metrics file (beside the directory: DVC forbids a metrics file
  inside a tracked output directory).

Timing (images/s) is printed, never written: it differs run to run and would make DVC see changed outputs.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from fundiff.checkpoints import WEIGHTS_NAME, checkpoint_dir, epoch_name, load_model, load_train_config
from fundiff.data import load_splits, to_tensor_images
from fundiff.errors import FundiffError
from fundiff.figures import save_gif, save_grid, save_image_table, save_loss_curve
from fundiff.inference import fold_batchnorm
from fundiff.io import atomic_dir, atomic_file, save_npz
from fundiff.manifest import Manifest
from fundiff.metrics import blur_mse, class_accuracy, classify, denoise_mse, fid, fixed_noise, gaussian_blur, \
    load_classifier
from fundiff.samplers import SampleResult, balanced_labels, ddpm_sample, strided_sample
from fundiff.sampling import VARIANCES
from fundiff.schedules import alphas_cumprod_from_betas, linear_betas
from stages.common import entrypoint, load_params, pick_device, section, seed_everything
from stages.param_checks import Section

MODELS = ("denoiser", "time_cond", "class_cond")
SAMPLERS = ("full", "fast")
DENOISER_KEYS = ("sigmas", "num_digits", "blur_kernel_size", "blur_sigma", "batch_size", "fold_batchnorm")
DDPM_KEYS = ("variance", "clip_x0", "fast_num_steps", "fast_variance", "metric_samples", "gif_samples", "gif_every",
             "batch_size", "channels_last", "fold_batchnorm")
TIME_KEYS = DDPM_KEYS + ("samples_per_grid",)
CLASS_KEYS = DDPM_KEYS + ("guidance_scale", "grid_samples_per_digit", "samples_per_digit", "npz_sampler")
# Separate random streams (offsets to the shared seed), so changing one figure never changes another.
NOISE_TEST, REAL_SUBSET, FULL, FAST, SNAPSHOT = 1, 2, 11, 12, 100


def snapshot_epochs(config: dict, kind: str) -> list[int]:
    epochs = config.get("snapshot_epochs", [])
    if not isinstance(epochs, list) or not all(isinstance(e, int) and e >= 1 for e in epochs):
        raise FundiffError(f"data/models/{kind}/checkpoints/train_config.json has snapshot_epochs={epochs!r}, not a "
                           f"list of epochs; run `dvc repro train@{kind}`")
    return sorted(set(epochs))


def load_for_sampling(models_dir: Path, kind: str, name: str, device: str, fold: bool) -> torch.nn.Module:
    """A checkpoint in eval mode, its BatchNorms folded into the convolutions when ``fold`` (same function, faster)."""
    model = load_model(models_dir, kind, name, device)
    return fold_batchnorm(model) if fold else model


def sigma_tag(sigma: float) -> str:
    return f"{sigma:g}".replace(".", "p")


def write_outputs(out: Path, metrics_file: Path, manifest: Manifest, metrics: dict, fill) -> None:
    """All or nothing: ``fill(directory)`` writes the figures into a temp dir that replaces ``out`` at the end."""
    text = json.dumps(metrics, indent=2, sort_keys=True, allow_nan=False) + "\n"
    with atomic_dir(out) as directory:
        fill(directory)
        manifest.metrics = metrics
        manifest.write(directory)
        (directory / "metrics.json").write_text(text)
        with atomic_file(metrics_file, "w") as handle:
            handle.write(text)


def loss_curve(directory: Path, models_dir: Path, kind: str, manifest: Manifest, title: str) -> None:
    plots = models_dir / kind / "live" / "plots" / "metrics"
    train_tsv = plots / "train" / "loss.tsv"
    if not train_tsv.is_file():
        raise FundiffError(f"{train_tsv} is missing (the DVCLive log of training); run `dvc repro train@{kind}`")
    save_loss_curve(train_tsv, directory / "loss_curve.png", title, test_tsv=plots / "test" / "loss.tsv")
    manifest.add_figure("loss_curve.png", f"{title}: training loss per step (and its moving average), test loss "
                                          "after every epoch, from the DVCLive logs.")


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


# ------------------------------------------------------------------------------------------------------ denoiser
def run_denoiser(params: dict, args, device: str) -> None:
    seed = params["seed"]
    s = Section(section(params, "sample.denoiser"), "sample.denoiser", DENOISER_KEYS)
    sigmas = s.numbers("sigmas", 0.0)
    num_digits = s.integer("num_digits", 1, 50)
    kernel = s.integer("blur_kernel_size", 1, 27)
    if kernel % 2 == 0:
        raise FundiffError(f"sample.denoiser.blur_kernel_size={kernel} must be odd")
    blur_sigma = s.number("blur_sigma", 0, lo_open=True)
    batch_size = s.integer("batch_size", 1, default=500)
    fold = s.boolean("fold_batchnorm", default=True)

    config = load_train_config(args.models, "denoiser")
    train_sigma = float(config.get("sigma", 0.5))
    epochs = snapshot_epochs(config, "denoiser")
    snapshots = {e: load_for_sampling(args.models, "denoiser", epoch_name(e), device, fold) for e in epochs}
    final = load_for_sampling(args.models, "denoiser", "final", device, fold)
    splits = load_splits(args.data)
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
            model, test, [train_sigma], noise, batch_size)[0]
    metrics["test_images"] = int(len(test))

    manifest = Manifest(
        section="B 1", title="Single-step denoising UNet", order=100,
        text=(f"An unconditional UNet (D={config['num_hiddens']}) trained for {config['epochs']} epochs to map "
              f"z = x + σ·ε with σ = {train_sigma:g} back to x (L2 loss). Test MSE over all {len(test)} test digits, "
              f"with one fixed noise draw ε for every σ; the classical baseline is a Gaussian blur "
              f"(kernel {kernel}, σ_blur {blur_sigma:g}) of the same noisy digits."),
        params={"sigmas": sigmas, "num_digits": num_digits, "blur_kernel_size": kernel, "blur_sigma": blur_sigma,
                "train_sigma": train_sigma, "num_hiddens": config["num_hiddens"], "epochs": config["epochs"],
                "seed": seed},
    )
    labels = [f"σ={s:g}" for s in sigmas]

    def fill(directory: Path) -> None:
        rows = [[(x[i] + sigma * eps[i]) for sigma in sigmas] for i in range(len(picks))]
        save_image_table([torch.stack(r) for r in rows], directory / "noising.png", col_labels=labels,
                         title="Noising z = x + σ·ε")
        manifest.add_figure("noising.png", "Test digits noised with z = x + σ·ε at every σ of the list.")
        z = x + train_sigma * eps
        for epoch, model in snapshots.items():
            with torch.inference_mode():
                out = model(z.to(device)).cpu()
            name = f"denoised_{epoch_name(epoch)}.png"
            save_image_table([z, out, x], directory / name, row_labels=["noisy", "denoised", "clean"],
                             title=f"After epoch {epoch} (σ = {train_sigma:g})")
            manifest.add_figure(name, f"Test digits noised at σ = {train_sigma:g}, denoised by the model after epoch "
                                      f"{epoch}, and the clean digits.")
        rows, names = [], []
        for i in range(len(picks)):
            noisy = torch.stack([x[i] + sigma * eps[i] for sigma in sigmas])
            with torch.inference_mode():
                rows += [noisy, final(noisy.to(device)).cpu(), gaussian_blur(noisy, kernel, blur_sigma)]
            names += ["noisy", "UNet", "blur"]
        save_image_table(rows, directory / "out_of_distribution.png", row_labels=names, col_labels=labels,
                         title=f"Final model (trained at σ = {train_sigma:g}) at other σ")
        manifest.add_figure("out_of_distribution.png", f"The final model (trained only at σ = {train_sigma:g}) on "
                                                       "noise levels it never saw, beside a Gaussian blur.")
        loss_curve(directory, args.models, "denoiser", manifest, "Single-step denoiser")

    write_outputs(args.out / "denoiser", args.out / "denoiser.metrics.json", manifest, metrics, fill)
    print("denoiser: " + ", ".join(f"σ={s:g} UNet {u:.4f} blur {b:.4f}" for s, u, b in zip(sigmas, unet, blur)))


# ----------------------------------------------------------------------------------------------------------- DDPMs
def ddpm_settings(params: dict, kind: str, num_timesteps: int) -> dict:
    prefix = f"sample.{kind}"
    s = Section(section(params, prefix), prefix, CLASS_KEYS if kind == "class_cond" else TIME_KEYS)
    settings = dict(
        variance=s.choice("variance", VARIANCES),
        clip_x0=s.boolean("clip_x0", default=False),
        fast_num_steps=s.integer("fast_num_steps", 1, num_timesteps,
                                 hint=f" (T={num_timesteps} training timesteps of the checkpoint)"),
        fast_variance=s.choice("fast_variance", VARIANCES),
        metric_samples=s.integer("metric_samples", 10),
        gif_samples=s.integer("gif_samples", 1, 100),
        gif_every=s.integer("gif_every", 1),
        batch_size=s.integer("batch_size", 1),
        channels_last=s.boolean("channels_last", default=True),
        fold_batchnorm=s.boolean("fold_batchnorm", default=True),
    )
    if kind == "class_cond":
        settings.update(
            guidance_scale=s.number("guidance_scale", 0.0, hint=" (γ of classifier-free guidance; 1 = conditional)"),
            grid_samples_per_digit=s.integer("grid_samples_per_digit", 1),
            samples_per_digit=s.integer("samples_per_digit", 1),
            npz_sampler=s.choice("npz_sampler", SAMPLERS),
        )
        if settings["metric_samples"] % 10:
            raise FundiffError(f"{prefix}.metric_samples={settings['metric_samples']} must be a multiple of 10 "
                               "(the same number of samples of every digit)")
    else:
        settings["samples_per_grid"] = s.integer("samples_per_grid", 1)
    return settings


def schedule_of(config: dict, kind: str) -> torch.Tensor:
    try:
        T, b0, b1 = int(config["num_timesteps"]), float(config["beta_start"]), float(config["beta_end"])
    except (KeyError, TypeError, ValueError) as error:
        raise FundiffError(f"data/models/{kind}/checkpoints/train_config.json lacks the schedule ({error}); "
                           f"run `dvc repro train@{kind}`") from None
    return alphas_cumprod_from_betas(linear_betas(T, b0, b1))


def same_weights(models_dir: Path, kind: str, name: str) -> bool:
    a = checkpoint_dir(models_dir, kind, name) / WEIGHTS_NAME
    b = checkpoint_dir(models_dir, kind, "final") / WEIGHTS_NAME
    return a.read_bytes() == b.read_bytes()


def timed(fn) -> tuple[SampleResult, float]:
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def run_ddpm(params: dict, args, device: str, kind: str) -> None:
    seed = params["seed"]
    ddpm_settings(params, kind, num_timesteps=10**9)  # every key checked before anything is read
    config = load_train_config(args.models, kind)
    acp = schedule_of(config, kind)
    T = len(acp)
    st = ddpm_settings(params, kind, T)  # now also fast_num_steps <= T
    conditional = kind == "class_cond"
    epochs = snapshot_epochs(config, kind)
    fold = st["fold_batchnorm"]
    snapshots = {e: load_for_sampling(args.models, kind, epoch_name(e), device, fold) for e in epochs}
    final = load_for_sampling(args.models, kind, "final", device, fold)
    judge = load_classifier(args.classifier, device)
    splits = load_splits(args.data)
    test = to_tensor_images(splits.test_images)
    _, test_features = classify(judge, test)

    m = st["metric_samples"]
    n_bulk = 10 * st["samples_per_digit"] if conditional else m
    n_full = max(m, n_bulk) if conditional and st["npz_sampler"] == "full" else m
    n_fast = max(m, n_bulk) if conditional and st["npz_sampler"] == "fast" else m
    gamma = st.get("guidance_scale", 1.0)
    common = dict(guidance_scale=gamma, clip_x0=st["clip_x0"], batch_size=st["batch_size"],
                  frame_count=st["gif_samples"], progress=args.progress, channels_last=st["channels_last"])
    full, t_full = timed(lambda: ddpm_sample(
        final, acp, n_full, torch.Generator().manual_seed(seed + FULL),
        labels=balanced_labels(n_full) if conditional else None, variance=st["variance"],
        frame_every=st["gif_every"], **common))
    fast, t_fast = timed(lambda: strided_sample(
        final, acp, n_fast, st["fast_num_steps"], torch.Generator().manual_seed(seed + FAST),
        labels=balanced_labels(n_fast) if conditional else None, variance=st["fast_variance"], frame_every=1,
        **common))

    metrics: dict[str, float] = {}
    real = torch.randperm(len(splits.train_images), generator=torch.Generator().manual_seed(seed + REAL_SUBSET))[:m]
    _, real_features = classify(judge, to_tensor_images(splits.train_images[real.numpy()]))
    metrics["fid_train_digits"] = fid(real_features.numpy(), test_features.numpy())
    for name, result in (("full", full), ("fast", fast)):
        pred, features = classify(judge, result.images)
        metrics[f"fid_{name}"] = fid(features[:m].numpy(), test_features.numpy())
        if conditional:
            overall, per_digit = class_accuracy(pred.numpy(), result.labels.numpy())
            metrics[f"accuracy_{name}"] = overall
            metrics.update({f"accuracy_{name}_digit{d}": a for d, a in enumerate(per_digit)})
            metrics[f"samples_{name}"] = int(len(pred))
    metrics["fid_samples"] = m
    metrics["fid_test_images"] = int(len(test))
    # network calls per image (one call serves a whole batch; with CFG both passes share that one call)
    metrics["unet_calls_full"] = full.unet_calls // ((n_full + st["batch_size"] - 1) // st["batch_size"])
    metrics["unet_calls_fast"] = fast.unet_calls // ((n_fast + st["batch_size"] - 1) // st["batch_size"])

    # Per-snapshot grids with Algorithm 2; a snapshot identical to the final weights reuses the final samples.
    grid_n = 10 * st["grid_samples_per_digit"] if conditional else st["samples_per_grid"]
    grids: dict[int, torch.Tensor] = {}
    for epoch in epochs:
        if grid_n <= n_full and same_weights(args.models, kind, epoch_name(epoch)):
            grids[epoch] = full.images[:grid_n]
            continue
        grids[epoch] = ddpm_sample(
            snapshots[epoch], acp, grid_n, torch.Generator().manual_seed(seed + SNAPSHOT + epoch),
            labels=balanced_labels(grid_n) if conditional else None, variance=st["variance"],
            guidance_scale=gamma, clip_x0=st["clip_x0"], batch_size=st["batch_size"], progress=args.progress,
            channels_last=st["channels_last"],
        ).images

    title = "Class-conditioned DDPM" if conditional else "Time-conditioned DDPM"
    cfg_text = f" with classifier-free guidance γ = {gamma:g} (conditional and unconditional passes in one batch)" \
        if conditional else ""
    bulk_text = ""
    if conditional:
        bulk_text = (f" samples.npz holds {n_bulk} samples ({st['samples_per_digit']} of every digit) from the "
                     f"{'full Algorithm-2' if st['npz_sampler'] == 'full' else 'fast strided'} sampler; accuracy is "
                     f"measured on all samples of each sampler ({n_full} full, {n_fast} fast).")
    manifest = Manifest(
        section="B 2.4" if conditional else "B 2", title=title, order=240 if conditional else 200,
        text=(f"A {'class' if conditional else 'time'}-conditioned UNet (D={config['num_hiddens']}, T={T}, β linear "
              f"{config['beta_start']:g}..{config['beta_end']:g}, {config['epochs']} epochs) sampled{cfg_text} with "
              f"DDPM Algorithm 2 (all {T} steps, σ_t² = {'β_t' if st['variance'] == 'beta' else 'β̃_t'}) and with "
              f"the strided update of Part A 1.4 ({st['fast_num_steps']} steps). Timesteps are 0-based "
              f"(t = 0..T-1; the network sees (t+1)/T). FID is the Fréchet distance in the feature space of our own "
              f"MNIST classifier between the first {m} samples of each sampler and the {len(test)} test digits; 'fid_train_digits' is "
              f"the same distance for {m} real training digits, the floor at this sample size.{bulk_text}"),
        params={**st, "num_timesteps": T, "beta_start": config["beta_start"], "beta_end": config["beta_end"],
                "num_hiddens": config["num_hiddens"], "epochs": config["epochs"], "seed": seed},
    )
    nrow = 10 if conditional else 8

    def fill(directory: Path) -> None:
        for epoch in epochs:
            name = f"samples_{epoch_name(epoch)}.png"
            save_grid(grids[epoch], directory / name, nrow=nrow, scale=2)
            what = f"{st['grid_samples_per_digit']} samples of every digit (columns 0..9)" if conditional \
                else f"{grid_n} samples"
            manifest.add_figure(name, f"{what} after epoch {epoch}, DDPM Algorithm 2 ({T} steps){cfg_text}.")
        for name, result, steps in (("full", full, T), ("fast", fast, st["fast_num_steps"])):
            count = min(len(result.images), 10 * st.get("grid_samples_per_digit", 4) if conditional else 40)
            save_grid(result.images[:count], directory / f"samples_final_{name}.png", nrow=nrow, scale=2)
            manifest.add_figure(f"samples_final_{name}.png",
                                f"Final model, {'Algorithm 2' if name == 'full' else 'strided sampler'}, "
                                f"{steps} steps.")
            save_gif(result.frames, directory / f"sampling_{name}.gif", nrow=min(nrow, st["gif_samples"]),
                     duration_ms=60 if name == "full" else 150)
            shown = "every step" if name == "fast" else f"every {st['gif_every']} steps"
            manifest.add_figure(f"sampling_{name}.gif", f"The denoising process ({steps}-step sampler, x_t {shown}, "
                                                        f"from pure noise to the final image).")
        loss_curve(directory, args.models, kind, manifest, title)
        if conditional:
            chosen = full if st["npz_sampler"] == "full" else fast
            take = torch.sort(torch.cat([torch.nonzero(chosen.labels == d).flatten()[: st["samples_per_digit"]]
                                         for d in range(10)])).values  # samples_per_digit of each digit, in order
            save_npz(directory / "samples.npz", images=chosen.images[take, 0].numpy().astype(np.float32),
                     labels=chosen.labels[take].numpy().astype(np.int64))

    write_outputs(args.out / kind, args.out / f"{kind}.metrics.json", manifest, metrics, fill)
    print(f"{kind}: full sampler {n_full / t_full:.1f} images/s ({T} steps, {n_full} samples, {t_full:.1f} s), "
          f"fast sampler {n_fast / t_fast:.1f} images/s ({st['fast_num_steps']} steps, {n_fast} samples, "
          f"{t_fast:.1f} s) on {device}; " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items() if not k[-1].isdigit()))


@entrypoint
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", choices=MODELS)
    parser.add_argument("--data", type=Path, default=Path("data/mnist"))
    parser.add_argument("--models", type=Path, default=Path("data/models"))
    parser.add_argument("--classifier", type=Path, default=Path("data/models/classifier/weights"))
    parser.add_argument("--out", type=Path, default=Path("reports/partB"))
    parser.add_argument("--no-progress", dest="progress", action="store_false")
    args = parser.parse_args()

    params = load_params()
    seed = params.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise FundiffError(f"seed={seed!r} must be an integer")
    seed_everything(seed)
    torch.set_num_threads(os.cpu_count() or 1)
    device = pick_device()
    if args.model == "denoiser":
        run_denoiser(params, args, device)
    else:
        run_ddpm(params, args, device, args.model)


if __name__ == "__main__":
    main()
