"""Training one Part B model as the `train@<model>` stage does: DVCLive logs, resume state, checkpoints.

Writes ``<out>/checkpoints/`` (``final/`` + ``epoch_NNN/`` snapshots as diffusers save_pretrained dirs, ``scheduler/``
(diffusers' DDPMScheduler config for a DDPM, fundiff.diffusion.diffusers_schedulers; FlowMatchEulerDiscreteScheduler's
for a flow model, fundiff.diffusion.flow) and ``train_config.json``) and ``<out>/live/`` (DVCLive: per-step train loss, per-epoch test loss, final metrics), both
atomically. The resume state lives in ``<resume_root>/<model>-<key>/``, outside DVC's outputs, keyed by the params and
the data (fundiff.partB.resume).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

import torch

from fundiff import budget
from fundiff.data import load_splits, to_tensor_images
from fundiff.diffusion.diffusers_schedulers import SCHEDULER_DIR, save_ddpm_scheduler
from fundiff.diffusion.flow import save_flow_scheduler
from fundiff.io import atomic_outputs
from fundiff.partB.checkpoints import record_sha256
from fundiff.partB.config import TrainConfig, resume_key, train_record
from fundiff.partB.training import make_model, train


def digest_dir(path: Path) -> str:
    digest = hashlib.sha256()
    for file in sorted(path.glob("*.npy")):
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def train_and_save(
    config: TrainConfig,
    data_dir: str | Path,
    out: str | Path,
    resume_root: str | Path,
    device: str,
    deterministic: bool = False,
    allow_long_runs: bool = False,
) -> str:
    """Train ``config.kind`` on the splits in ``data_dir`` and write its checkpoints and logs; returns a summary line.
    A run over memory, or over a day unless ``allow_long_runs``, is refused before the model is made (fundiff.budget)."""
    splits = load_splits(data_dir)
    budget.check(config.costs(len(splits.train_labels), torch.device(device).type), allow_long_runs)
    key = resume_key(config, digest_dir(Path(data_dir)), torch.device(device).type)
    resume_dir = Path(resume_root) / f"{config.kind}-{key}"
    out = Path(out)
    started = time.perf_counter()
    with atomic_outputs() as staged:  # the checkpoints and their training log appear together
        ckpt_dir, live_dir = staged.dir(out / "checkpoints"), staged.dir(out / "live")
        from dvclive import Live

        live = Live(str(live_dir), dvcyaml=False, save_dvc_exp=False, report=None, monitor_system=False)

        def on_step(step: int, loss: float) -> None:
            live.step = step
            live.log_metric("train/loss", loss)

        def on_epoch(epoch: int, test_loss: float) -> None:
            live.log_metric("test/loss", test_loss)

        result = train(
            config,
            to_tensor_images(splits.train_images),
            torch.from_numpy(splits.train_labels),
            to_tensor_images(splits.test_images),
            torch.from_numpy(splits.test_labels),
            device=device,
            resume_dir=resume_dir,
            on_step=on_step,
            on_epoch=on_epoch,
            deterministic=deterministic,
        )
        live.summary = {
            "train": {"loss": sum(result.train_losses[-20:]) / len(result.train_losses[-20:])},
            "test": {"loss": result.test_losses[-1]},
            "epochs": config.epochs,
            "steps": len(result.train_losses),
        }
        live.make_summary()
        live.end()
        _save_checkpoints(ckpt_dir, config, result)
    shutil.rmtree(resume_dir, ignore_errors=True)
    elapsed = time.perf_counter() - started
    images = len(splits.train_images) * (config.epochs - result.resumed_from_epoch)
    return (
        f"train@{config.kind}: epochs {result.resumed_from_epoch + 1}..{config.epochs} in {elapsed:.1f} s on {device} "
        f"({images / elapsed:.0f} training images/s), test loss {result.test_losses[-1]:.5f} -> {out}"
    )


def _save_checkpoints(ckpt_dir: Path, config: TrainConfig, result) -> None:
    model = result.model.to("cpu", memory_format=torch.contiguous_format)
    model.save_pretrained(ckpt_dir / "final")
    for epoch, state in sorted(result.snapshots.items()):
        snapshot = make_model(config)
        snapshot.load_state_dict(state)
        snapshot.save_pretrained(ckpt_dir / f"epoch_{epoch:03d}")
    if config.objective == "ddpm":  # diffusers' DDPMScheduler of the training schedule beside the weights
        save_ddpm_scheduler(ckpt_dir / SCHEDULER_DIR, config.num_timesteps, config.beta_start, config.beta_end)
    elif config.objective == "flow":  # diffusers' FlowMatchEulerDiscreteScheduler that integrates the flow
        save_flow_scheduler(ckpt_dir / SCHEDULER_DIR)
    record = {**train_record(config), "weights_sha256": record_sha256(ckpt_dir)}  # verified by every loader
    (ckpt_dir / "train_config.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
