"""The whole params mapping checked at once, by the validators the stages themselves use (fundiff.params and each
section's reader), for the `check_params` stage that DVC runs before any other: a bad value given to `dvc repro` or
`dvc exp run -S` is then one line before DVC has deleted any stage's outputs.

Every section present is checked: ``data``, every model under ``train``, ``classifier``, every model under ``sample``
(a DDPM's checks that need its checkpoint take ``train.<model>``'s own T and snapshots), and, for the backend
``partA.backend``, its settings and every experiment's section; then each stage's memory and run length
(fundiff.budget). What needs a loaded model (a Part A prompt naming a digit, an i_start within the strided timesteps,
an input image) is still checked by the stage, before its model runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fundiff import budget
from fundiff.data import data_settings, train_size
from fundiff.errors import FundiffError
from fundiff.judge.train import config_from_params as classifier_config
from fundiff.params import edition_of, section, seed_of
from fundiff.partA.backends import backend_settings
from fundiff.partA.costs import experiment_costs
from fundiff.partA.registry import EXPERIMENTS
from fundiff.partA.runner import experiment_section
from fundiff.partB.config import TrainConfig, config_from_params
from fundiff.partB.sample_denoiser import settings_from_params
from fundiff.partB.sample_pure_noise import pure_noise_settings
from fundiff.partB.sample_settings import MODELS, sample_params, section_objective


def _mapping(params: Any, dotted: str) -> dict:
    value = section(params, dotted)
    if not isinstance(value, dict):
        raise FundiffError(f"params.yaml: {dotted} must be a mapping of keys to values, got {type(value).__name__}")
    return value


def check_train(params: dict, device: str, long_ok: bool) -> dict[str, TrainConfig]:
    """Every ``train.<model>``, and its training's cost on the training split ``data`` gives."""
    n_train = train_size(data_settings(section(params, "data")))
    configs = {}
    for kind, raw in _mapping(params, "train").items():
        configs[kind] = config_from_params(str(kind), raw, seed_of(params))
        budget.check(configs[kind].costs(n_train, device), long_ok)
    return configs


def _check_ddpm_sampling(kind: str, raw: Any, configs: dict[str, TrainConfig], device: str, long_ok: bool) -> None:
    """A DDPM's or a flow model's ``sample.<kind>`` (its keys say which), against ``train.<kind>``."""
    p = sample_params(raw, kind, section_objective(raw, kind))
    config = configs.get(kind)
    if config is None:
        return  # no train.<kind>: the sample stage reads the checkpoint's own record
    p.for_objective(config.objective, f"train.{kind}.objective is {config.objective}")
    if p.flow:
        budget.check(p.costs(config.num_hiddens, None, device), long_ok)
        return
    p.for_checkpoint(config.num_timesteps)
    if p.autoguide_epoch is not None and p.autoguide_epoch not in config.snapshot_epochs:
        raise FundiffError(
            f"sample.{kind}.autoguide_epoch={p.autoguide_epoch} is not a snapshot of train.{kind} (epochs "
            f"{', '.join(map(str, config.snapshot_epochs))}); pick one of them, or add it to "
            f"train.{kind}.snapshot_epochs"
        )
    budget.check(p.costs(config.num_hiddens, config.num_timesteps, device), long_ok)


def check_sample(params: dict, configs: dict[str, TrainConfig], device: str, long_ok: bool) -> None:
    """Every ``sample.<model>`` known to a sample stage (a section of a model without one is left to its stage)."""
    for kind, raw in _mapping(params, "sample").items():
        if kind == "denoiser":
            settings_from_params(raw)
        elif kind == "pure_noise":
            pure_noise_settings(raw)
        elif kind in MODELS:
            _check_ddpm_sampling(kind, raw, configs, device, long_ok)


def check_partA(params: dict, configs: dict[str, TrainConfig], device: str, long_ok: bool) -> None:
    """The backend ``partA.backend``'s settings and, on it, every experiment's section and cost."""
    partA = _mapping(params, "partA")
    name = section(params, "partA.backend")
    backend_settings(name, section(params, f"partA.backends.{name}"))
    width = configs["class_cond"].num_hiddens if "class_cond" in configs else 16
    for experiment in _mapping(params, "partA.experiments"):
        if experiment not in EXPERIMENTS:
            raise FundiffError(
                f"partA.experiments.{experiment} is not a Part A experiment; use one of {', '.join(EXPERIMENTS)}"
            )
        prefix = f"partA.experiments.{experiment}.{name}"
        experiment_section(experiment, section(params, prefix), prefix)
        budget.check(experiment_costs(partA, experiment, width, device), long_ok)


CHECKS: tuple[Callable[[dict, dict, str, bool], None], ...] = (check_sample, check_partA)


def check_params(params: dict, device: str = "cpu") -> str:
    """Every section of ``params`` through its stage's validator (one line naming the first bad key); ``device``:
    the resolved top-level device, which the run-length estimates are for. Returns a summary line."""
    seed_of(params)
    edition_of(params)
    long_ok = budget.allow_long_runs_of(params)
    data_settings(section(params, "data"))
    classifier_config(section(params, "classifier"), seed_of(params))
    configs = check_train(params, device, long_ok)
    for check in CHECKS:
        check(params, configs, device, long_ok)
    counted = len(configs) + len(_mapping(params, "sample")) + len(_mapping(params, "partA.experiments"))
    return f"check_params: params.yaml checked ({counted} model, sampler and Part A sections)"
