"""The stage ``sample@<model>``: Part B 2 and 2.4, the DDPMs (docs/course.md, B 2 and B 2.4), and the flow edition's
2.3 and 2.6 (Euler at num_ts steps, fundiff.diffusion.flow), as named steps.

1. settings: ``sample.<model>`` checked (fundiff.partB.sample_settings);
2. load: the checkpoint (final, snapshots, autoguide snapshot), its schedule, the judge and the real digits;
3. draw: the full (Algorithm 2) and fast samplers, the per-snapshot grids and, for class_cond, the guidance sweep;
4. judge: accuracy, confidence, digit shares and FID against the real floor at the same count;
5. captions: the report's prose (fundiff.partB.sample_captions);
6. write: figures, GIFs, samples.npz (``images`` float32 N×28×28 in [0, 1], ``labels`` int64 N, ``confidence``) and
   the metrics, all or nothing (fundiff.result_dirs.write_result).

Timing (images/s) goes into the returned summary line, never into a file: it differs run to run and would make DVC see
changed outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from fundiff import budget
from fundiff.data import load_splits, to_tensor_images
from fundiff.diffusion.diffusers_schedulers import load_scheduler_config
from fundiff.errors import FundiffError
from fundiff.judge.model import load_classifier
from fundiff.judge.reading import Reading, RealDigits, judge_images, reading_metrics
from fundiff.metrics import class_accuracy
from fundiff.nets.pretrained import WEIGHTS_NAME
from fundiff.partB.checkpoints import (
    checkpoint_dir,
    epoch_name,
    load_for_sampling,
    load_train_config,
    num_hiddens_of,
    schedule_of,
    snapshot_epochs,
)
from fundiff.partB.config import objective_of
from fundiff.partB.guidance_sweep import sweep_guidance
from fundiff.partB.sample_captions import summary_line
from fundiff.partB.sample_files import write_files
from fundiff.partB.sample_settings import DdpmSampleParams, sample_params, section_objective
from fundiff.partB.sample_state import Drawn, Judged, Loaded
from fundiff.partB.sampling import SamplerSettings, timed_draw
from fundiff.streams import FAST, FULL, SNAPSHOT, SWEEP


def load(
    p: DdpmSampleParams,
    config: dict[str, Any],
    models_dir: Path,
    classifier: Path,
    data_dir: Path,
    device: str,
    seed: int,
    long_ok: bool,
) -> Loaded:
    """Step 2, for the checkpoint whose train_config.json is ``config``."""
    acp = None if p.flow else schedule_of(config, p.kind)
    if acp is not None:
        p.for_checkpoint(len(acp))
    budget.check(p.costs(num_hiddens_of(config, p.kind), len(acp) if acp is not None else None, device), long_ok)
    epochs = snapshot_epochs(config, p.kind)
    if p.autoguide_epoch is not None and p.autoguide_epoch not in epochs:
        raise FundiffError(
            f"sample.{p.kind}.autoguide_epoch={p.autoguide_epoch} is not a snapshot of the checkpoint (epochs "
            f"{', '.join(map(str, epochs))}); pick one of them, or add it to train.{p.kind}.snapshot_epochs"
        )
    snapshots = {e: load_for_sampling(models_dir, p.kind, epoch_name(e), device, p.fold_batchnorm) for e in epochs}
    scheduler_config = None
    if p.fast.uses_diffusers:
        fix = f"run `dvc repro train@{p.kind}`"
        scheduler_config = load_scheduler_config(checkpoint_dir(models_dir, p.kind).parent, acp, fix=fix)
    judge = load_classifier(classifier, device)
    splits = load_splits(data_dir)
    real_test = judge_images(judge, to_tensor_images(splits.test_images))
    return Loaded(
        config=config,
        alphas_cumprod=acp,
        epochs=epochs,
        final=load_for_sampling(models_dir, p.kind, "final", device, p.fold_batchnorm),
        snapshots=snapshots,
        guide=None if p.autoguide_epoch is None else snapshots[p.autoguide_epoch],
        scheduler_config=scheduler_config,
        judge=judge,
        real_test=real_test,
        real=RealDigits(judge, splits.train_images, real_test.features, seed),
    )


def _timed_sample(p: DdpmSampleParams, loaded: Loaded, which: str, seed: int, progress: bool):
    settings: SamplerSettings = getattr(p, which)
    args = (loaded.final, loaded.alphas_cumprod, settings, p.drawn(which), seed, p.conditional, loaded.guide)
    return timed_draw(*args, loaded.scheduler_config, progress)


def same_weights(models_dir: Path, kind: str, name: str) -> bool:
    a = checkpoint_dir(models_dir, kind, name) / WEIGHTS_NAME
    b = checkpoint_dir(models_dir, kind, "final") / WEIGHTS_NAME
    return a.read_bytes() == b.read_bytes()


def draw(p: DdpmSampleParams, loaded: Loaded, models_dir: Path, seed: int, progress: bool) -> Drawn:
    full, t_full = _timed_sample(p, loaded, "full", seed + FULL, progress)
    fast, t_fast = _timed_sample(p, loaded, "fast", seed + FAST, progress)
    drawn = Drawn(full, fast, {"full": t_full, "fast": t_fast})
    if p.conditional and p.guidance_sweep:
        args = (loaded.judge, loaded.final, loaded.alphas_cumprod, p, loaded.scheduler_config, seed + SWEEP)
        drawn.sweep = sweep_guidance(*args, loaded.real, progress)
    n = p.grid_samples  # per snapshot, Algorithm 2; a snapshot identical to the final weights reuses the final samples
    for epoch in loaded.epochs:
        if n <= len(full.images) and same_weights(models_dir, p.kind, epoch_name(epoch)):
            drawn.grids[epoch] = full.images[:n]
            continue
        args = (loaded.snapshots[epoch], loaded.alphas_cumprod, p.grid_settings(), n, seed + SNAPSHOT + epoch)
        drawn.grids[epoch] = timed_draw(*args, p.conditional, progress=progress)[0].images
    return drawn


def _sampler_metrics(p: DdpmSampleParams, loaded: Loaded, drawn: Drawn, readings: dict[str, Reading]) -> dict:
    real, m = loaded.real, p.metric_samples
    metrics: dict[str, float] = {"fid_train_digits": real.floor(m)}
    for name, result in (("full", drawn.full), ("fast", drawn.fast)):
        reading = readings[name]
        metrics[f"fid_{name}"] = real.fid_at(reading, m)
        if p.conditional:
            overall, per_digit = class_accuracy(reading.digits, result.labels.numpy())
            metrics[f"accuracy_{name}"] = overall
            metrics.update({f"accuracy_{name}_digit{d}": a for d, a in enumerate(per_digit)})
            metrics[f"samples_{name}"] = int(len(reading.digits))
        metrics[f"unet_calls_{name}"] = result.unet_calls_per_image
    metrics["fid_samples"] = real.count(m)
    metrics["fid_test_images"] = int(len(loaded.real_test))
    return metrics


def _sweep_metrics(p: DdpmSampleParams, loaded: Loaded, drawn: Drawn) -> dict[str, float]:
    if not drawn.sweep:
        return {}
    n_sweep = 10 * p.sweep_samples_per_digit
    metrics = {"sweep_fid_train_digits": loaded.real.floor(n_sweep), "sweep_fid_samples": loaded.real.count(n_sweep)}
    for point in drawn.sweep:
        g = f"{point.guidance_scale:g}".replace(".", "p")
        metrics[f"sweep_accuracy_gamma{g}"] = point.accuracy
        metrics[f"sweep_fid_gamma{g}"] = point.fid
    return metrics


def judge(p: DdpmSampleParams, loaded: Loaded, drawn: Drawn) -> Judged:
    readings = {name: judge_images(loaded.judge, r.images) for name, r in (("full", drawn.full), ("fast", drawn.fast))}
    metrics = _sampler_metrics(p, loaded, drawn, readings)
    # samples.npz: the bulk samples of the chosen sampler, as the judge read them (confidence, digit shares, FID)
    chosen = drawn.full if p.npz_sampler == "full" else drawn.fast
    if p.conditional:
        per_digit = [torch.nonzero(chosen.labels == d).flatten()[: p.samples_per_digit] for d in range(10)]
        take = torch.sort(torch.cat(per_digit)).values  # samples_per_digit of each digit, in order
    else:
        take = torch.arange(p.bulk_samples)
    reading = readings[p.npz_sampler].subset(take.numpy())
    metrics.update(reading_metrics(reading, "npz"))
    metrics["real_confident"] = loaded.real_test.confident_share
    metrics["npz_samples"] = int(len(take))
    metrics["npz_fid_samples"] = loaded.real.count(len(take))  # a balanced prefix for class_cond
    metrics["npz_fid"] = loaded.real.fid_at(reading, len(take))
    metrics["npz_fid_train_digits"] = loaded.real.floor(len(take))
    metrics.update(_sweep_metrics(p, loaded, drawn))
    labels = chosen.labels[take].numpy() if p.conditional else reading.digits
    return Judged(metrics, chosen.images[take], labels.astype(np.int64), reading)


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
    allow_long_runs: bool = False,
) -> str:
    """Samples, GIFs, accuracy and FID of the ``kind`` DDPM or flow model into ``out``; returns a summary line. A
    run estimated to take longer than a day (fundiff.budget) is refused unless ``allow_long_runs``."""
    p = sample_params(raw, kind, section_objective(raw, kind))  # every key checked before anything is read
    config = load_train_config(models_dir, kind)
    trained = objective_of(config, kind)
    p.for_objective(trained, f"data/models/{kind} was trained with objective {trained}")
    loaded = load(p, config, models_dir, classifier, data_dir, device, seed, allow_long_runs)
    drawn = draw(p, loaded, models_dir, seed, progress)
    judged = judge(p, loaded, drawn)
    write_files(p, loaded, drawn, judged, models_dir, out, metrics_file, seed)
    return summary_line(p, loaded, drawn, judged.metrics, device)
