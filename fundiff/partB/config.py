"""The training configuration of one Part B model (docs/course.md, Part B), read from its params section
``train.<model>`` by the one validation layer (fundiff.params)."""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import asdict, dataclass
from typing import Any

import torch

from fundiff.diffusion.schedule import alphas_cumprod_from_betas, linear_betas
from fundiff.errors import require
from fundiff.params import ParamSection

KINDS = ("denoiser", "time_cond", "class_cond")
LR_SCHEDULES = ("exponential", "onecycle")


@dataclass(frozen=True)
class TrainConfig:
    kind: str  # "denoiser" | "time_cond" | "class_cond"
    num_hiddens: int
    epochs: int
    batch_size: int
    lr: float
    lr_decay: float = (
        1.0  # per-epoch multiplicative factor (ExponentialLR gamma); the course's DDPMs use 0.1**(1/epochs)
    )
    lr_schedule: str = "exponential"  # exponential (the course: lr_decay per epoch) | onecycle (warm-up, cosine to ~0)
    warmup: float = 0.1  # onecycle only: the fraction of steps spent warming up to lr
    ema_decay: float | None = None  # None = the course (save the raw weights); else save an EMA of the weights
    seed: int = 0
    snapshot_epochs: tuple[int, ...] = ()
    sigma: float = 0.5  # denoiser only
    num_timesteps: int = 300  # DDPMs only
    beta_start: float = 1e-4
    beta_end: float = 0.02
    p_uncond: float = 0.1  # class_cond only
    channels_last: bool = False
    eval_batch_size: int = 1000

    def validate(self, prefix: str) -> None:
        """Fail on bad values before any work, naming the params key."""
        require(self.kind in KINDS, f"{prefix}: unknown model kind {self.kind!r}; use one of {', '.join(KINDS)}")
        require(self.epochs >= 1, f"{prefix}.epochs={self.epochs} must be >= 1")
        require(self.batch_size >= 1, f"{prefix}.batch_size={self.batch_size} must be >= 1")
        require(self.num_hiddens >= 1, f"{prefix}.num_hiddens={self.num_hiddens} must be >= 1")
        require(self.lr > 0, f"{prefix}.lr={self.lr} must be > 0")
        require(0 < self.lr_decay <= 1, f"{prefix}.lr_decay={self.lr_decay} must be in (0, 1]")
        require(
            self.lr_schedule in LR_SCHEDULES,
            f"{prefix}.lr_schedule={self.lr_schedule!r} is unknown; use one of {', '.join(LR_SCHEDULES)}",
        )
        require(0 < self.warmup < 1, f"{prefix}.warmup={self.warmup} must be in (0, 1) (a fraction of all steps)")
        require(
            self.ema_decay is None or 0 < self.ema_decay < 1,
            f"{prefix}.ema_decay={self.ema_decay} must be in (0, 1), or null for no EMA",
        )
        for epoch in self.snapshot_epochs:
            require(
                1 <= epoch <= self.epochs,
                f"{prefix}.snapshot_epochs has {epoch}, outside 1..{prefix}.epochs={self.epochs}; drop it or raise epochs",
            )
        if self.kind == "denoiser":
            require(self.sigma >= 0, f"{prefix}.sigma={self.sigma} must be >= 0")
        else:
            require(self.num_timesteps >= 2, f"{prefix}.num_timesteps={self.num_timesteps} must be >= 2")
            require(
                0 < self.beta_start <= self.beta_end < 1,
                f"{prefix}.beta_start={self.beta_start}, beta_end={self.beta_end}: need 0 < beta_start <= beta_end < 1",
            )
        if self.kind == "class_cond":
            require(0 <= self.p_uncond <= 1, f"{prefix}.p_uncond={self.p_uncond} must be in [0, 1]")

    def alphas_cumprod(self) -> torch.Tensor:
        return alphas_cumprod_from_betas(linear_betas(self.num_timesteps, self.beta_start, self.beta_end))


# params.yaml keys of train.<model>: the TrainConfig fields, with lr_decay given as the lr factor after all epochs
PARAM_KEYS = (
    "num_hiddens",
    "epochs",
    "batch_size",
    "lr",
    "lr_decay_total",
    "lr_schedule",
    "warmup",
    "ema_decay",
    "snapshot_epochs",
    "sigma",
    "num_timesteps",
    "beta_start",
    "beta_end",
    "p_uncond",
    "channels_last",
    "eval_batch_size",
)


def config_from_params(kind: str, raw: Any, seed: int) -> TrainConfig:
    """Map the params section ``train.<kind>`` onto a TrainConfig; any bad value is one line naming its key."""
    require(kind in KINDS, f"unknown model kind {kind!r}; use one of {', '.join(KINDS)}")
    s = ParamSection(raw, f"train.{kind}", PARAM_KEYS)
    d = TrainConfig.__dataclass_fields__
    epochs = s.integer("epochs", 1)
    lr_decay_total = s.number(
        "lr_decay_total", 0, lo_open=True, hi=1, default=1.0, hint=" (the lr factor after all epochs)"
    )
    snapshots = s.integers("snapshot_epochs", 1, what="epochs") if s.values.get("snapshot_epochs", []) != [] else []
    if any(e > epochs for e in snapshots):  # e.g. `dvc exp run -S train.class_cond.epochs=3` with snapshots [5, 25]
        print(
            f"note: train.{kind}.snapshot_epochs {snapshots}: dropping the epochs past epochs={epochs}", file=sys.stderr
        )
        snapshots = [e for e in snapshots if e <= epochs] or [epochs]
    config = TrainConfig(
        kind=kind,
        seed=seed,
        epochs=epochs,
        num_hiddens=s.integer("num_hiddens", 1),
        batch_size=s.integer("batch_size", 1),
        lr=s.number("lr", 0, lo_open=True),
        lr_decay=lr_decay_total ** (1.0 / epochs),
        lr_schedule=s.choice("lr_schedule", LR_SCHEDULES, default=d["lr_schedule"].default),
        warmup=s.number("warmup", 0, lo_open=True, hi=1, hi_open=True, default=d["warmup"].default),
        ema_decay=s.optional_number("ema_decay", default=None, lo=0, lo_open=True, hi=1, hi_open=True),
        snapshot_epochs=tuple(snapshots),
        sigma=s.number("sigma", 0, default=d["sigma"].default),
        num_timesteps=s.integer("num_timesteps", 2, default=d["num_timesteps"].default),
        beta_start=s.number("beta_start", 0, lo_open=True, hi=1, hi_open=True, default=d["beta_start"].default),
        beta_end=s.number("beta_end", 0, lo_open=True, hi=1, hi_open=True, default=d["beta_end"].default),
        p_uncond=s.number("p_uncond", 0, hi=1, default=d["p_uncond"].default),
        channels_last=s.boolean("channels_last", default=d["channels_last"].default),
        eval_batch_size=s.integer("eval_batch_size", 1, default=d["eval_batch_size"].default),
    )
    config.validate(f"train.{kind}")
    return config


def resume_key(config: TrainConfig, data_digest: str) -> str:
    """Resume state is valid only for the same params and the same data."""
    blob = json.dumps({"config": asdict(config), "data": data_digest}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
