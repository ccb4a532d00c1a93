"""DVC stage `train@<model>`: train one Part B UNet (denoiser | time_cond | class_cond).

Writes data/models/<model>/checkpoints/ (final/ + epoch_NNN/ snapshots as diffusers save_pretrained dirs, and
train_config.json) and data/models/<model>/live/ (DVCLive: per-step train loss, per-epoch test loss, final metrics).
Resume state lives in .fundiff/resume/<model>-<key>/, outside DVC's outputs, keyed by the params and the data.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import torch

from fundiff.data import load_splits, to_tensor_images
from fundiff.errors import FundiffError
from fundiff.io import atomic_dir
from fundiff.training import KINDS, TrainConfig, make_model, resume_key, train
from stages.common import entrypoint, load_params, pick_device, section, seed_everything

RESUME_ROOT = Path(".fundiff/resume")


def config_from_params(kind: str, params: dict) -> TrainConfig:
    """Map the params.yaml section train.<kind> onto a TrainConfig, rejecting unknown keys."""
    raw = dict(section(params, f"train.{kind}"))
    prefix = f"train.{kind}"
    epochs = raw.get("epochs", 0)
    lr_decay_total = raw.pop("lr_decay_total", 1.0)
    if not 0 < lr_decay_total <= 1:
        raise FundiffError(f"{prefix}.lr_decay_total={lr_decay_total} must be in (0, 1] (the lr factor after all epochs)")
    known = set(TrainConfig.__dataclass_fields__) - {"kind", "seed", "lr_decay"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise FundiffError(f"{prefix}.{unknown[0]} is not a known key; known keys: {', '.join(sorted(known))}")
    if not isinstance(epochs, int) or epochs < 1:
        raise FundiffError(f"{prefix}.epochs={epochs} must be an integer >= 1")
    raw["snapshot_epochs"] = tuple(raw.get("snapshot_epochs", ()))
    config = TrainConfig(kind=kind, seed=params["seed"], lr_decay=lr_decay_total ** (1.0 / epochs), **raw)
    config.validate(prefix)
    return config


def digest_dir(path: Path) -> str:
    digest = hashlib.sha256()
    for file in sorted(path.glob("*.npy")):
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


@entrypoint
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", choices=KINDS)
    parser.add_argument("--data", default="data/mnist")
    parser.add_argument("--out", default="data/models")
    args = parser.parse_args()

    params = load_params()
    config = config_from_params(args.model, params)
    splits = load_splits(args.data)
    seed_everything(config.seed)
    torch.set_num_threads(os.cpu_count() or 1)
    device = pick_device()

    resume_dir = RESUME_ROOT / f"{args.model}-{resume_key(config, digest_dir(Path(args.data)))}"
    out = Path(args.out) / args.model
    started = time.perf_counter()
    with atomic_dir(out / "checkpoints") as ckpt_dir, atomic_dir(out / "live") as live_dir:
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
    print(
        f"train@{args.model}: epochs {result.resumed_from_epoch + 1}..{config.epochs} in {elapsed:.1f} s on {device} "
        f"({images / elapsed:.0f} training images/s), test loss {result.test_losses[-1]:.5f} -> {out}"
    )


def _save_checkpoints(ckpt_dir: Path, config: TrainConfig, result) -> None:
    model = result.model.to("cpu", memory_format=torch.contiguous_format)
    model.save_pretrained(ckpt_dir / "final")
    for epoch, state in sorted(result.snapshots.items()):
        snapshot = make_model(config)
        snapshot.load_state_dict(state)
        snapshot.save_pretrained(ckpt_dir / f"epoch_{epoch:03d}")
    (ckpt_dir / "train_config.json").write_text(json.dumps(asdict(config), indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
