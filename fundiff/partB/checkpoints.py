"""Part B's checkpoints: where they live, what train_config.json records beside them (the schedule, the snapshots, the
weights' sha256), and loading one verified against it (fundiff.nets.pretrained.load_pretrained: strict and offline).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from fundiff.diffusion.noise_schedule import alphas_cumprod_from_betas, linear_betas
from fundiff.errors import FundiffError, shown
from fundiff.nets.fold_batchnorm import fold_batchnorm
from fundiff.nets.pretrained import WEIGHTS_NAME, file_sha256, load_pretrained


def checkpoint_dir(models_dir: str | Path, kind: str, name: str = "final") -> Path:
    """data/models/<kind>/checkpoints/<name> where name is "final" or "epoch_NNN"."""
    return Path(models_dir) / kind / "checkpoints" / name


def epoch_name(epoch: int) -> str:
    return f"epoch_{epoch:03d}"


def load_train_config(models_dir: str | Path, kind: str) -> dict:
    """The TrainConfig the training stage stored beside its checkpoints (as a dict), checked to be of ``kind``."""
    return read_train_config(Path(models_dir) / kind / "checkpoints" / "train_config.json", kind)


def read_train_config(path: Path, kind: str, where: str = "") -> dict:
    """``train_config.json`` at ``path`` as a dict, checked to describe a ``kind`` model (``where`` prefixes errors)."""
    fix = f"run `dvc repro train@{kind}`"
    if not path.is_file():
        raise FundiffError(f"{where}{path} is missing; {fix}")
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise FundiffError(f"{where}{path} is not valid JSON ({error}); {fix}") from None
    if not isinstance(config, dict) or config.get("kind") != kind:
        found = config.get("kind") if isinstance(config, dict) else None
        raise FundiffError(f"{where}{path} describes a {found!r} model, not {kind!r}; {fix}")
    return config


def schedule_of(config: dict, kind: str) -> torch.Tensor:
    """ᾱ of a DDPM checkpoint, from the schedule its train_config.json records."""
    try:
        T, b0, b1 = int(config["num_timesteps"]), float(config["beta_start"]), float(config["beta_end"])
    except (KeyError, TypeError, ValueError) as error:
        raise FundiffError(
            f"data/models/{kind}/checkpoints/train_config.json lacks the schedule ({error}); "
            f"run `dvc repro train@{kind}`"
        ) from None
    return alphas_cumprod_from_betas(linear_betas(T, b0, b1))


def num_hiddens_of(config: dict, kind: str) -> int:
    """The width D of a checkpoint's UNet, from its train_config.json (what fundiff.budget sizes a run by)."""
    value = config.get("num_hiddens")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise FundiffError(
            f"data/models/{kind}/checkpoints/train_config.json has num_hiddens={value!r}, not a width >= 1; "
            f"run `dvc repro train@{kind}`"
        )
    return value


def snapshot_epochs(config: dict, kind: str) -> list[int]:
    """The epochs whose snapshots the training stage saved (``epoch_NNN/``), sorted."""
    epochs = config.get("snapshot_epochs", [])
    if not isinstance(epochs, list) or not all(isinstance(e, int) and e >= 1 for e in epochs):
        raise FundiffError(
            f"data/models/{kind}/checkpoints/train_config.json has snapshot_epochs={epochs!r}, not a "
            f"list of epochs; run `dvc repro train@{kind}`"
        )
    return sorted(set(epochs))


def model_class(config: dict, kind: str) -> type:
    """The UNet class of model ``kind`` as its train_config.json describes it (fundiff.partB.models)."""
    from fundiff.nets.unets import MODEL_CLASSES, TIME_MODULATIONS
    from fundiff.partB.config import modulation_of
    from fundiff.partB.models import architecture_of

    architecture = architecture_of(kind)
    if architecture != "time_cond":
        return MODEL_CLASSES[architecture]
    modulation = modulation_of(config, kind)
    if modulation not in TIME_MODULATIONS:
        raise FundiffError(
            f"data/models/{kind}/checkpoints/train_config.json records modulation={shown(modulation)}, not one of "
            f"{', '.join(TIME_MODULATIONS)}; run `dvc repro train@{kind}`"
        )
    return TIME_MODULATIONS[modulation]


def load_model(models_dir: str | Path, kind: str, name: str = "final", device: str | torch.device = "cpu"):
    """One Part B UNet checkpoint of model ``kind`` (fundiff.partB.models: denoiser, time_cond, flow_time_cond ...)."""
    from fundiff.partB.models import spec

    fix = f"run `dvc repro train@{kind}`"
    spec(kind)  # an unknown name is one line
    recorded = Path(models_dir) / kind / "checkpoints" / "train_config.json"
    config, sha = {}, None
    if recorded.is_file():
        config = load_train_config(models_dir, kind)
        sha = required_sha256(config, name, recorded, fix)
    cls = model_class(config, kind)
    return load_pretrained(cls, checkpoint_dir(models_dir, kind, name), fix, sha).to(device)


def load_for_sampling(
    models_dir: str | Path, kind: str, name: str, device: str | torch.device, fold: bool
) -> torch.nn.Module:
    """A checkpoint in eval mode, its BatchNorms folded into the convolutions when ``fold`` (same function, faster)."""
    model = load_model(models_dir, kind, name, device)
    return fold_batchnorm(model) if fold else model


def recorded_sha256(config: dict, name: str) -> str | None:
    """The sha256 of checkpoint ``name``'s weights that train_config.json records (None for older checkpoints)."""
    table = config.get("weights_sha256")
    return table.get(name) if isinstance(table, dict) and isinstance(table.get(name), str) else None


def required_sha256(config: dict, name: str, where: Path, fix: str) -> str:
    """The recorded sha256 of checkpoint ``name``; a record without it is refused, since damaged weights would then
    load unnoticed (every checkpoint the pipeline writes records one)."""
    sha = recorded_sha256(config, name)
    if sha is None:
        raise FundiffError(
            f"{where} records no sha256 of checkpoint {name!r} (weights_sha256), so damaged weights could not be "
            f"told apart: {fix}"
        )
    return sha


def record_sha256(checkpoints: Path) -> dict[str, str]:
    """{"final": sha256, "epoch_NNN": sha256, ...} of the weights saved under ``checkpoints``."""
    return {
        d.name: file_sha256(d / WEIGHTS_NAME) for d in sorted(checkpoints.iterdir()) if (d / WEIGHTS_NAME).is_file()
    }
