"""The training configuration of one Part B model (docs/course.md, Part B), read from its params section
``train.<model>`` by the one validation layer (fundiff.params)."""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import asdict, dataclass
from typing import Any

import torch

from fundiff.budget import Term, activation_bytes, seconds_per_call
from fundiff.diffusion.noise_schedule import alphas_cumprod_from_betas, linear_betas
from fundiff.errors import require, shown
from fundiff.params import ParamSection
from fundiff.partB.models import MODULATIONS, NAMES, OBJECTIVES, architecture_of, default_fields, spec

KINDS = NAMES  # the models by name (fundiff.partB.models): denoiser, time_cond, class_cond, the flow edition's
# exponential: the course's per-epoch decay | onecycle: warm-up, cosine to ~0 | constant: warm-up, then the lr throughout
LR_SCHEDULES = ("exponential", "onecycle", "constant")
# The speed knobs (fundiff.partB.speed): "auto" is on for CUDA and off on the CPU, where each would change the bytes
# of the course's fp32 run for no gain (bf16 is slow on most CPUs; compiling costs more than 2-core runs save).
PRECISIONS = ("auto", "fp32", "bf16")
WEIGHTS_PER_D2 = 500  # a Part B UNet of width D has about 500·D² weights (measured at D = 4, 16, 64)


@dataclass(frozen=True)
class TrainConfig:
    kind: str  # the model's name (fundiff.partB.models): "denoiser" | "time_cond" | "class_cond" | "flow_time_cond" ...
    num_hiddens: int
    epochs: int
    batch_size: int
    lr: float
    lr_decay: float = (
        1.0  # per-epoch multiplicative factor (ExponentialLR gamma); the course's DDPMs use 0.1**(1/epochs)
    )
    lr_schedule: str = (
        "exponential"  # exponential (the course: lr_decay per epoch) | onecycle | constant (LR_SCHEDULES)
    )
    warmup: float = 0.1  # onecycle and constant: the fraction of steps spent warming up to lr
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
    precision: str = "auto"  # auto | fp32 | bf16: bf16 autocast of the forward pass and the loss (auto: on CUDA)
    compile: str = "auto"  # auto | on | off: torch.compile; on CUDA with CUDA graphs (mode "reduce-overhead")
    tf32: str = "auto"  # auto | on | off: TensorFloat-32 matmuls and convolutions (CUDA only)
    log_every: int = 1  # the train loss is read back from the device and logged once per this many steps (mean)
    objective: str | None = (
        None  # fundiff.partB.models.OBJECTIVES: denoise | pure_noise | ddpm | flow (None: the model's)
    )
    modulation: str | None = None  # fundiff.partB.models.MODULATIONS: how t enters the UNet (None: the model's)

    def __post_init__(self) -> None:
        if self.kind in KINDS:
            for name in ("objective", "modulation"):
                if getattr(self, name) is None:
                    object.__setattr__(self, name, getattr(spec(self.kind), name))

    @property
    def architecture(self) -> str:
        return architecture_of(self.kind)

    def validate(self, prefix: str) -> None:
        """Fail on bad values before any work, naming the params key (the same rules as ``config_from_params``)."""
        require(self.kind in KINDS, f"{prefix}: unknown model kind {self.kind!r}; use one of {', '.join(KINDS)}")
        for name, table in (("objective", OBJECTIVES), ("modulation", MODULATIONS)):
            options = table[self.architecture]
            require(
                getattr(self, name) in options,
                f"{prefix}.{name}={shown(getattr(self, name))} is not one of the course's for a {self.architecture} "
                f"UNet; use one of {', '.join(options)}",
            )
        values = {name: getattr(self, name) for name in RULES}
        read_fields(ParamSection(values, prefix, RULES))
        require(0 < self.lr_decay <= 1, f"{prefix}.lr_decay={self.lr_decay} must be in (0, 1]")
        for epoch in self.snapshot_epochs:
            require(
                1 <= epoch <= self.epochs,
                f"{prefix}.snapshot_epochs has {epoch}, outside 1..{prefix}.epochs={self.epochs}; drop it or raise epochs",
            )
        require(
            self.beta_start <= self.beta_end,
            f"{prefix}.beta_start={self.beta_start}, beta_end={self.beta_end}: need 0 < beta_start <= beta_end < 1",
        )

    def costs(self, train_images: int, device: str = "cpu") -> list[Term]:
        """What training costs (fundiff.budget): the epochs over ``train_images`` digits (a training image is three
        network calls), one batch with its gradients, and the weights with their gradients and Adam's two moments."""
        key, d = f"train.{self.kind}", self.num_hiddens
        batch = min(self.batch_size, max(train_images, 1))
        return [
            Term(f"{key}.epochs", self.epochs, seconds=self.epochs * train_images * 3 * seconds_per_call(d, device)),
            Term(f"{key}.batch_size", self.batch_size, working_bytes=activation_bytes(d, batch, training=True)),
            Term(f"{key}.num_hiddens", d, held_bytes=WEIGHTS_PER_D2 * d * d * 4 * 4),
        ]

    def alphas_cumprod(self) -> torch.Tensor:
        return alphas_cumprod_from_betas(linear_betas(self.num_timesteps, self.beta_start, self.beta_end))


_OPEN_UNIT = dict(lo=0, lo_open=True, hi=1, hi_open=True)
# How each TrainConfig field is read and checked (fundiff.params.ParamSection method, bounds): the one rule table
# behind both config_from_params (params.yaml) and TrainConfig.validate (a config built in code).
RULES: dict[str, tuple[str, dict[str, Any]]] = {
    "num_hiddens": ("integer", dict(lo=1)),
    "epochs": ("integer", dict(lo=1)),
    "batch_size": ("integer", dict(lo=1)),
    "lr": ("number", dict(lo=0, lo_open=True)),
    "lr_schedule": ("choice", dict(options=LR_SCHEDULES)),
    "warmup": ("number", dict(**_OPEN_UNIT, hint=" (a fraction of all steps)")),
    "ema_decay": ("optional_number", dict(**_OPEN_UNIT, hint=" (or null for no EMA)")),
    "sigma": ("number", dict(lo=0)),
    "num_timesteps": ("integer", dict(lo=2)),
    "beta_start": ("number", _OPEN_UNIT),
    "beta_end": ("number", _OPEN_UNIT),
    "p_uncond": ("number", dict(lo=0, hi=1)),
    "channels_last": ("boolean", {}),
    "eval_batch_size": ("integer", dict(lo=1)),
    "precision": ("choice", dict(options=PRECISIONS)),
    "compile": ("switch", {}),
    "tf32": ("switch", {}),
    "log_every": ("integer", dict(lo=1, hint=" (steps per logged train loss)")),
}
# params.yaml keys of train.<model>: the fields above, the snapshots, and lr_decay as the lr factor after all epochs
PARAM_KEYS = (*RULES, "lr_decay_total", "snapshot_epochs", "objective", "modulation")


def read_fields(s: ParamSection) -> dict[str, Any]:
    """Every field of RULES from ``s`` (TrainConfig's default where the section leaves it out), checked."""
    defaults = TrainConfig.__dataclass_fields__
    return {
        name: getattr(s, method)(name, default=defaults[name].default, **bounds)
        for name, (method, bounds) in RULES.items()
    }


def config_from_params(kind: str, raw: Any, seed: int) -> TrainConfig:
    """Map the params section ``train.<kind>`` onto a TrainConfig; any bad value is one line naming its key."""
    require(kind in KINDS, f"unknown model kind {kind!r}; use one of {', '.join(KINDS)}")
    s = ParamSection(raw, f"train.{kind}", PARAM_KEYS)
    fields = read_fields(s)
    epochs = fields["epochs"]
    lr_decay_total = s.number(
        "lr_decay_total", 0, lo_open=True, hi=1, default=1.0, hint=" (the lr factor after all epochs)"
    )
    snapshots = s.integers("snapshot_epochs", 1, what="epochs") if s.values.get("snapshot_epochs", []) != [] else []
    if any(e > epochs for e in snapshots):  # e.g. `dvc exp run -S train.class_cond.epochs=3` with snapshots [5, 25]
        print(
            f"note: train.{kind}.snapshot_epochs {snapshots}: dropping the epochs past epochs={epochs}", file=sys.stderr
        )
        snapshots = [e for e in snapshots if e <= epochs] or [epochs]
    model = spec(kind)
    objective = s.values.get("objective", model.objective)  # checked, with the options, by validate
    modulation = s.values.get("modulation", model.modulation)
    config = TrainConfig(
        kind=kind, seed=seed, lr_decay=lr_decay_total ** (1.0 / epochs), snapshot_epochs=tuple(snapshots),
        objective=objective, modulation=modulation, **fields,
    )  # fmt: skip
    config.validate(f"train.{kind}")
    return config


def train_record(config: TrainConfig) -> dict[str, Any]:
    """The config as train_config.json records it: objective and modulation only where they differ from the DDPM
    edition's (fundiff.partB.models.default_fields), so those checkpoints keep their bytes and older ones read the
    same."""
    record = asdict(config)
    for name, value in default_fields(config.kind).items():
        if record[name] == value:
            del record[name]
    return record


def objective_of(recorded: dict[str, Any], kind: str) -> str:
    """The objective a train_config.json records (the model's DDPM-edition default where it records none)."""
    return str(recorded.get("objective", default_fields(kind)["objective"]))


def modulation_of(recorded: dict[str, Any], kind: str) -> str:
    return str(recorded.get("modulation", default_fields(kind)["modulation"]))


def resume_key(config: TrainConfig, data_digest: str, device_type: str = "cpu") -> str:
    """Resume state is valid only for the same params, the same data and the same kind of device (the random
    generator's state is the device's)."""
    blob = json.dumps({"config": asdict(config), "data": data_digest, "device": device_type}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
