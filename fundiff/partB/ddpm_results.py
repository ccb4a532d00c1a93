"""The results of Part B 2 and 2.4, the DDPMs (docs/course.md, B 2 and B 2.4): samples of every snapshot, the full
(Algorithm 2) and fast (strided) samplers with their GIFs, accuracy and FID by the judge, and class_cond's samples.npz
(``images`` float32 N×28×28 in [0, 1], ``labels`` int64 N).

Timing (images/s) goes into the returned summary line, never into a file: it differs run to run and would make DVC see
changed outputs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fundiff.data import load_splits, to_tensor_images
from fundiff.diffusion.diffusers_schedulers import FAST_SAMPLERS, DiffusersSampler, load_scheduler_config
from fundiff.diffusion.reverse import VARIANCES
from fundiff.errors import FundiffError
from fundiff.figures.gifs import save_gif
from fundiff.figures.grids import save_grid
from fundiff.io import save_npz
from fundiff.judge.model import load_classifier
from fundiff.metrics import class_accuracy, fid
from fundiff.nets.pretrained import WEIGHTS_NAME
from fundiff.params import ParamSection
from fundiff.partB.checkpoints import (
    checkpoint_dir,
    epoch_name,
    load_train_config,
    schedule_of,
    snapshot_epochs,
)
from fundiff.partB.quality import (
    CONFIDENT,
    guidance_csv,
    read,
    reading_metrics,
    save_guidance_plot,
    save_histograms,
    sweep_guidance,
)
from fundiff.partB.results_common import FAST, FULL, REAL_SUBSET, SNAPSHOT, SWEEP, load_for_sampling, loss_curve
from fundiff.partB.sampling import SampleResult, balanced_labels, ddpm_sample, strided_sample
from fundiff.result_dirs import manifest_for, write_result
from fundiff.titles import PART_B

SAMPLERS = ("full", "fast")
DDPM_KEYS = (
    "variance",
    "clip_x0",
    "fast_num_steps",
    "fast_variance",
    "metric_samples",
    "gif_samples",
    "gif_every",
    "batch_size",
    "channels_last",
    "fold_batchnorm",
    "fast_sampler",
    "npz_sampler",
)
TIME_KEYS = DDPM_KEYS + ("samples_per_grid", "npz_samples", "autoguide_epoch", "autoguide_weight")
CLASS_KEYS = DDPM_KEYS + (
    "guidance_scale",
    "grid_samples_per_digit",
    "samples_per_digit",
    "guidance_sweep",
    "sweep_samples_per_digit",
    "guidance_interval",
)


def settings_from_params(raw: Any, kind: str, num_timesteps: int) -> dict:
    """The section ``sample.<kind>``, checked (``fast_num_steps`` against the checkpoint's T)."""
    prefix = f"sample.{kind}"
    s = ParamSection(raw, prefix, CLASS_KEYS if kind == "class_cond" else TIME_KEYS)
    settings = dict(
        variance=s.choice("variance", VARIANCES),
        clip_x0=s.boolean("clip_x0", default=False),
        fast_num_steps=s.integer(
            "fast_num_steps", 1, num_timesteps, hint=f" (T={num_timesteps} training timesteps of the checkpoint)"
        ),
        fast_variance=s.choice("fast_variance", VARIANCES),
        metric_samples=s.integer("metric_samples", 10),
        gif_samples=s.integer("gif_samples", 1, 100),
        gif_every=s.integer("gif_every", 1),
        batch_size=s.integer("batch_size", 1),
        channels_last=s.boolean("channels_last", default=True),
        fold_batchnorm=s.boolean("fold_batchnorm", default=True),
        fast_sampler=s.choice("fast_sampler", FAST_SAMPLERS, default="course"),
        npz_sampler=s.choice("npz_sampler", SAMPLERS),
    )
    if kind == "class_cond":
        settings.update(
            guidance_scale=s.number("guidance_scale", 0.0, hint=" (γ of classifier-free guidance; 1 = conditional)"),
            grid_samples_per_digit=s.integer("grid_samples_per_digit", 1),
            samples_per_digit=s.integer("samples_per_digit", 1),
            guidance_sweep=s.numbers("guidance_sweep", 0.0, default=[], allow_empty=True),
            sweep_samples_per_digit=s.integer("sweep_samples_per_digit", 1, default=10),
            guidance_interval=s.numbers("guidance_interval", 0.0, default=[0.0, 1.0]),
        )
        lo_hi = settings["guidance_interval"]
        if len(lo_hi) != 2 or not 0 <= lo_hi[0] < lo_hi[1] <= 1:
            raise FundiffError(
                f"{prefix}.guidance_interval={lo_hi} must be [lo, hi] with 0 <= lo < hi <= 1 (the share of the "
                "timesteps, (t+1)/T, where guidance applies; [0, 1] = every step)"
            )
        if settings["metric_samples"] % 10:
            raise FundiffError(
                f"{prefix}.metric_samples={settings['metric_samples']} must be a multiple of 10 "
                "(the same number of samples of every digit)"
            )
    else:
        settings["samples_per_grid"] = s.integer("samples_per_grid", 1)
        settings["npz_samples"] = s.integer("npz_samples", 10)
        settings["autoguide_epoch"] = s.optional_integer("autoguide_epoch", 1, default=None)
        settings["autoguide_weight"] = s.number(
            "autoguide_weight", 0.0, default=1.0, hint=" (w of autoguidance; 1 = the final model alone)"
        )
    return settings


def same_weights(models_dir: Path, kind: str, name: str) -> bool:
    a = checkpoint_dir(models_dir, kind, name) / WEIGHTS_NAME
    b = checkpoint_dir(models_dir, kind, "final") / WEIGHTS_NAME
    return a.read_bytes() == b.read_bytes()


def timed(fn) -> tuple[SampleResult, float]:
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def write_ddpm_results(
    raw: Any,
    kind: str,
    seed: int,
    data_dir: Path,
    models_dir: Path,
    classifier: Path,
    out: Path,
    metrics_file: Path,
    device: str,
    progress: bool = True,
) -> str:
    """Samples, GIFs, accuracy and FID of the ``kind`` DDPM into ``out``; returns a summary line."""
    settings_from_params(raw, kind, num_timesteps=10**9)  # every key checked before anything is read
    config = load_train_config(models_dir, kind)
    acp = schedule_of(config, kind)
    T = len(acp)
    st = settings_from_params(raw, kind, T)  # now also fast_num_steps <= T
    conditional = kind == "class_cond"
    epochs = snapshot_epochs(config, kind)
    fold = st["fold_batchnorm"]
    snapshots = {e: load_for_sampling(models_dir, kind, epoch_name(e), device, fold) for e in epochs}
    final = load_for_sampling(models_dir, kind, "final", device, fold)
    judge = load_classifier(classifier, device)
    splits = load_splits(data_dir)
    test = to_tensor_images(splits.test_images)
    real_test = read(judge, test)  # the judge's reading of the real test digits: FID's reference, the ceiling
    test_features = real_test.features

    m = st["metric_samples"]
    n_bulk = 10 * st["samples_per_digit"] if conditional else st["npz_samples"]
    n_full = max(m, n_bulk) if st["npz_sampler"] == "full" else m
    n_fast = max(m, n_bulk) if st["npz_sampler"] == "fast" else m
    gamma = st.get("guidance_scale", 1.0)
    scheduler = None
    if st["fast_sampler"] != "course":
        saved = load_scheduler_config(checkpoint_dir(models_dir, kind).parent, acp, fix=f"run `dvc repro train@{kind}`")
        scheduler = DiffusersSampler(st["fast_sampler"], saved, st["fast_num_steps"])
    guide = None
    if st.get("autoguide_epoch") is not None:
        epoch = st["autoguide_epoch"]
        if epoch not in epochs:
            raise FundiffError(
                f"sample.{kind}.autoguide_epoch={epoch} is not a snapshot of the checkpoint (epochs "
                f"{', '.join(map(str, epochs))}); pick one of them, or add it to train.{kind}.snapshot_epochs"
            )
        guide = snapshots[epoch]
    interval = tuple(st.get("guidance_interval", (0.0, 1.0)))
    common = dict(
        guidance_scale=gamma,
        guidance_interval=interval,
        guide=guide,
        guide_weight=st.get("autoguide_weight", 1.0),
        clip_x0=st["clip_x0"],
        batch_size=st["batch_size"],
        frame_count=st["gif_samples"],
        progress=progress,
        channels_last=st["channels_last"],
    )
    full, t_full = timed(
        lambda: ddpm_sample(
            final,
            acp,
            n_full,
            torch.Generator().manual_seed(seed + FULL),
            labels=balanced_labels(n_full) if conditional else None,
            variance=st["variance"],
            frame_every=st["gif_every"],
            **common,
        )
    )
    fast, t_fast = timed(
        lambda: strided_sample(
            final,
            acp,
            n_fast,
            st["fast_num_steps"],
            torch.Generator().manual_seed(seed + FAST),
            labels=balanced_labels(n_fast) if conditional else None,
            variance=st["fast_variance"],
            frame_every=1,
            scheduler=scheduler,
            **common,
        )
    )

    metrics: dict[str, float] = {}
    train_images = splits.train_images
    order = torch.randperm(len(train_images), generator=torch.Generator().manual_seed(seed + REAL_SUBSET)).numpy()
    real_cache: dict[int, np.ndarray] = {}

    def real_features(count: int) -> np.ndarray:
        """Judge features of the first ``count`` real training digits of one fixed order (each count read once), at
        most the whole training split (4,500 in mnist5k): an FID against them reads as many samples, since FIDs compare
        only at the same count."""
        count = min(count, len(train_images))
        if count not in real_cache:
            real_cache[count] = read(judge, to_tensor_images(train_images[order[:count]])).features
        return real_cache[count]

    real_m = real_features(m)
    metrics["fid_train_digits"] = fid(real_m, test_features)
    readings = {"full": read(judge, full.images), "fast": read(judge, fast.images)}  # each sample read once
    for name, result in (("full", full), ("fast", fast)):
        reading = readings[name]
        metrics[f"fid_{name}"] = fid(reading.features[: len(real_m)], test_features)
        if conditional:
            overall, per_digit = class_accuracy(reading.digits, result.labels.numpy())
            metrics[f"accuracy_{name}"] = overall
            metrics.update({f"accuracy_{name}_digit{d}": a for d, a in enumerate(per_digit)})
            metrics[f"samples_{name}"] = int(len(reading.digits))

    # samples.npz: the bulk samples of the chosen sampler, as the judge read them (confidence, digit shares, FID)
    chosen = full if st["npz_sampler"] == "full" else fast
    if conditional:
        take = torch.sort(
            torch.cat([torch.nonzero(chosen.labels == d).flatten()[: st["samples_per_digit"]] for d in range(10)])
        ).values  # samples_per_digit of each digit, in order
    else:
        take = torch.arange(n_bulk)
    bulk = chosen.images[take]
    reading = readings[st["npz_sampler"]].subset(take.numpy())
    metrics.update(reading_metrics(reading, "npz"))
    metrics["real_confident"] = real_test.confident_share
    metrics["npz_samples"] = int(len(take))
    real_npz = real_features(len(take))  # a larger samples.npz: its first samples (a balanced prefix for class_cond)
    metrics["npz_fid_samples"] = len(real_npz)
    metrics["npz_fid"] = fid(reading.features[: len(real_npz)], test_features)
    metrics["npz_fid_train_digits"] = fid(real_npz, test_features)

    sweep: list = []
    if conditional and st["guidance_sweep"]:
        n_sweep = 10 * st["sweep_samples_per_digit"]
        real_sweep = real_features(n_sweep)  # each point's FID reads as many of its samples
        sweep = sweep_guidance(judge, final, acp, st, scheduler, seed + SWEEP, test_features, len(real_sweep), progress)
        sweep_floor = fid(real_sweep, test_features)
        metrics["sweep_fid_train_digits"] = sweep_floor
        metrics["sweep_fid_samples"] = len(real_sweep)
        for point in sweep:
            g = f"{point.guidance_scale:g}".replace(".", "p")
            metrics[f"sweep_accuracy_gamma{g}"] = point.accuracy
            metrics[f"sweep_fid_gamma{g}"] = point.fid
    metrics["fid_samples"] = len(real_m)
    metrics["fid_test_images"] = int(len(test))
    # network calls per image (one call serves a whole batch; with CFG both passes share that one call)
    metrics["unet_calls_full"] = full.unet_calls // ((n_full + st["batch_size"] - 1) // st["batch_size"])
    metrics["unet_calls_fast"] = fast.unet_calls // ((n_fast + st["batch_size"] - 1) // st["batch_size"])

    # Per-snapshot grids with Algorithm 2; a snapshot identical to the final weights reuses the final samples.
    grid_n = 10 * st["grid_samples_per_digit"] if conditional else st["samples_per_grid"]
    grids: dict[int, torch.Tensor] = {}
    for epoch in epochs:
        if grid_n <= n_full and same_weights(models_dir, kind, epoch_name(epoch)):
            grids[epoch] = full.images[:grid_n]
            continue
        grids[epoch] = ddpm_sample(
            snapshots[epoch],
            acp,
            grid_n,
            torch.Generator().manual_seed(seed + SNAPSHOT + epoch),
            labels=balanced_labels(grid_n) if conditional else None,
            variance=st["variance"],
            guidance_scale=gamma,
            guidance_interval=interval,
            clip_x0=st["clip_x0"],
            batch_size=st["batch_size"],
            progress=progress,
            channels_last=st["channels_last"],
        ).images

    title = PART_B[kind].title
    cfg_text = ""
    if conditional:
        cfg_text = f" with classifier-free guidance γ = {gamma:g} (conditional and unconditional passes in one batch"
        if interval != (0.0, 1.0):
            cfg_text += (
                f"; applied only where the network's time (t+1)/T lies in [{interval[0]:g}, {interval[1]:g}], the "
                "conditional pass alone elsewhere: guidance in a limited interval, Kynkäänniemi et al. 2024"
            )
        cfg_text += ")"
    if guide is not None and st["autoguide_weight"] != 1.0:
        cfg_text_final = (
            f" with autoguidance (Karras et al. 2024: ε̂ = ε̂_bad + w(ε̂_final − ε̂_bad), w = "
            f"{st['autoguide_weight']:g}, the epoch-{st['autoguide_epoch']} snapshot of the same run as the bad model; "
            "the per-epoch grids show each snapshot alone)"
        )
    else:
        cfg_text_final = cfg_text
    fast_name = {"course": "the strided update of Part A 1.4", "ddim": "diffusers' DDIM (η = 0)"}.get(
        st["fast_sampler"], "diffusers' DPM-Solver++ (2M)"
    )
    sampler_of_npz = "full Algorithm-2" if st["npz_sampler"] == "full" else f"fast ({st['fast_sampler']})"
    bulk_text = (
        f" samples.npz holds {n_bulk} samples ({st['samples_per_digit']} of every digit) from the {sampler_of_npz} "
        f"sampler; accuracy is measured on all samples of each sampler ({n_full} full, {n_fast} fast)."
        if conditional
        else f" samples.npz holds {n_bulk} samples of the {sampler_of_npz} sampler, labelled with the judge's reading."
    )
    bulk_text += (
        f" On those {n_bulk} samples: 'npz_confident' is the share the judge reads with confidence >= {CONFIDENT:g} "
        f"(top softmax probability), 'npz_share' the share read as each digit (10 % each for a perfect sampler), "
        f"'npz_fid' their FID (on the first 'npz_fid_samples' of them: at most as many as there are real training "
        f"digits) and 'npz_fid_train_digits' the floor for as many real digits. 'real_confident' is "
        f"'npz_confident' for the {len(test)} real test digits: the judge's own ceiling, what samples as legible "
        "as MNIST itself would score."
    )
    if sweep:
        bulk_text += (
            f" The guidance sweep draws {n_sweep} fresh fast samples at every γ of "
            f"{', '.join(f'{p.guidance_scale:g}' for p in sweep)} from the same checkpoint: 'sweep_accuracy' and "
            f"'sweep_fid' per γ (on the first 'sweep_fid_samples' of them), against the floor "
            f"'sweep_fid_train_digits'. γ = 0 is the unconditional model, "
            f"γ = 1 the purely conditional one; larger γ trades variety (FID) for legibility (accuracy). With "
            f"{n_sweep} samples a point's accuracy p is known to about ±√(p(1−p)/{n_sweep}) (±"
            f"{100 * (0.95 * 0.05 / n_sweep) ** 0.5:.1f} points at p = 95 %): read the trend, and the accuracy of γ = "
            f"{gamma:g} from 'accuracy_fast' ({n_fast} samples)."
            + (
                f" Each γ applies inside the guidance interval [{interval[0]:g}, {interval[1]:g}] only; outside it "
                "every point uses the conditional pass, so γ = 0 is unconditional only there."
                if interval != (0.0, 1.0)
                else ""
            )
        )
    manifest = manifest_for(
        PART_B[kind],
        text=(
            f"A {'class' if conditional else 'time'}-conditioned UNet (D={config['num_hiddens']}, T={T}, β linear "
            f"{config['beta_start']:g}..{config['beta_end']:g}, {config['epochs']} epochs) sampled{cfg_text_final} with "
            f"DDPM Algorithm 2 (all {T} steps, σ_t² = {'β_t' if st['variance'] == 'beta' else 'β̃_t'}) and with "
            f"{fast_name} ({st['fast_num_steps']} steps). Timesteps are 0-based "
            f"(t = 0..T-1; the network sees (t+1)/T). FID is the Fréchet distance in the feature space of our own "
            f"MNIST classifier between the first {len(real_m)} samples of each sampler and the {len(test)} test digits; 'fid_train_digits' is "
            f"the same distance for {len(real_m)} real training digits, the floor at this sample size.{bulk_text}"
        ),
        params={
            **st,
            "num_timesteps": T,
            "beta_start": config["beta_start"],
            "beta_end": config["beta_end"],
            "num_hiddens": config["num_hiddens"],
            "epochs": config["epochs"],
            "seed": seed,
        },
    )
    nrow = 10 if conditional else 8

    def fill(directory: Path) -> None:
        for epoch in epochs:
            name = f"samples_{epoch_name(epoch)}.png"
            save_grid(grids[epoch], directory / name, nrow=nrow, scale=2)
            what = (
                f"{st['grid_samples_per_digit']} samples of every digit (columns 0..9)"
                if conditional
                else f"{grid_n} samples"
            )
            manifest.add_figure(name, f"{what} after epoch {epoch}, DDPM Algorithm 2 ({T} steps){cfg_text}.")
        for name, result, steps in (("full", full, T), ("fast", fast, st["fast_num_steps"])):
            count = min(len(result.images), 10 * st.get("grid_samples_per_digit", 4) if conditional else 40)
            save_grid(result.images[:count], directory / f"samples_final_{name}.png", nrow=nrow, scale=2)
            manifest.add_figure(
                f"samples_final_{name}.png",
                f"Final model, {'Algorithm 2' if name == 'full' else fast_name}, {steps} steps.",
            )
            save_gif(
                result.frames,
                directory / f"sampling_{name}.gif",
                nrow=min(nrow, st["gif_samples"]),
                duration_ms=60 if name == "full" else 150,
            )
            shown = "every step" if name == "fast" else f"every {st['gif_every']} steps"
            manifest.add_figure(
                f"sampling_{name}.gif",
                f"The denoising process ({steps}-step sampler, x_t {shown}, from pure noise to the final image).",
            )
        loss_curve(directory, models_dir, kind, manifest, title)
        save_npz(
            directory / "samples.npz",
            images=bulk[:, 0].numpy().astype(np.float32),
            labels=(chosen.labels[take].numpy() if conditional else reading.digits).astype(np.int64),
            confidence=reading.confidence,
        )
        save_histograms(reading, directory / "judge_histograms.png", f"{title}, samples.npz", real_test)
        manifest.add_figure(
            "judge_histograms.png",
            f"How the judge reads the {n_bulk} samples of samples.npz: its confidence (the share above "
            f"{CONFIDENT:g} is 'npz_confident'; the outline, the {len(test)} real test digits scaled to as many "
            "samples) and the digit it sees (a perfect sampler gives 10 % each).",
        )
        if sweep:
            save_guidance_plot(sweep, sweep_floor, directory / "guidance_tradeoff.png", f"{n_sweep // 10} per digit")
            (directory / "guidance_sweep.csv").write_text(guidance_csv(sweep))
            manifest.add_figure(
                "guidance_tradeoff.png",
                f"Accuracy (judge) of {n_sweep} fast samples and FID of the first {metrics['sweep_fid_samples']} "
                "against the guidance scale γ, one checkpoint; the dotted line is the FID of as many real training "
                "digits.",
            )

    write_result(out, metrics_file, manifest, metrics, fill)
    return (
        f"{kind}: full sampler {n_full / t_full:.1f} images/s ({T} steps, {n_full} samples, {t_full:.1f} s), "
        f"fast sampler {n_fast / t_fast:.1f} images/s ({st['fast_num_steps']} steps, {n_fast} samples, "
        f"{t_fast:.1f} s) on {device}; " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items() if not k[-1].isdigit())
    )
