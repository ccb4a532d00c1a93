"""Running one Part A experiment and writing its result: the params section checked against the experiment's keys
(fundiff.partA.registry), the run without gradients, and the PNGs + manifest.json + metrics.json the report reads,
written atomically (fundiff.result_dirs.write_result)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch

from fundiff import budget
from fundiff.device import resolve_device
from fundiff.figures.grids import save_png
from fundiff.params import ParamSection, section
from fundiff.partA.context import Context, context_from_params
from fundiff.partA.costs import COUNT_KEYS, experiment_costs
from fundiff.partA.registry import experiment_module
from fundiff.partA.result import Result
from fundiff.result_dirs import manifest_for, write_result
from fundiff.titles import PART_A


def experiment_section(name: str, raw_params: Any, prefix: str) -> ParamSection:
    """The section ``prefix`` of experiment ``name``, checked without a backend: a mapping of the experiment's keys
    (optional ones take their defaults), each of its declared type; counts (``num_*``, ``best_of``) at least 1. What
    needs the backend (timesteps, prompts, images) the experiment checks as it runs."""
    experiment = experiment_module(name)
    if isinstance(raw_params, dict):  # optional keys take their defaults (a non-mapping is ParamSection's error)
        raw_params = {**getattr(experiment, "DEFAULTS", {}), **raw_params}
    params = ParamSection(raw_params, prefix, experiment.KEYS)
    for key, kind in experiment.KEYS.items():
        if params.values.get(key) is None:
            continue  # an optional key left out (or null): the experiment's default
        if kind is int and (key.startswith("num_") or key in COUNT_KEYS):
            params.integer(key, 1)
        else:
            params[key]
    return params


def run_experiment(name: str, ctx: Context, raw_params: dict[str, Any], prefix: str) -> Result:
    """Validate ``raw_params`` (the section ``prefix``) against the experiment's keys, then run it."""
    experiment = experiment_module(name)
    params = experiment_section(name, raw_params, prefix)
    with torch.no_grad():
        result = experiment.run(ctx, params)
    result.params = {"backend": ctx.backend.name, **result.params}
    return result


def write_experiment(name: str, result: Result, out: str | Path, metrics_file: str | Path) -> None:
    """PNGs + manifest.json (what the report reads) + metrics.json, atomically (fundiff.result_dirs.write_result)."""
    manifest = manifest_for(PART_A[name], result.text, _flat_params(result.params))

    def fill(directory: Path) -> None:
        for filename, image, caption in result.figures:
            save_png(image, directory / filename)
            manifest.add_figure(filename, caption)

    write_result(out, metrics_file, manifest, dict(result.metrics), fill)


def run_and_write(
    partA: Any,
    name: str,
    seed: int,
    out: Path,
    metrics_file: Path,
    device: str = "auto",
    allow_long_runs: bool = False,
) -> str:
    """The stage ``partA@<name>``: the experiment ``name`` on the backend of the params section ``partA``
    (``partA.experiments.<name>.<backend>``), written to ``out`` and ``metrics_file``. ``device``: the top-level
    param, for a backend whose own device is auto. A request over memory, or over a day unless
    ``allow_long_runs``, is refused first (fundiff.budget). Returns the summary line."""
    started = time.perf_counter()
    costs = experiment_costs(partA, name, _mnist_width(partA), resolve_device(device, "device").type)
    budget.check(costs, allow_long_runs)  # before the backend loads its model
    ctx = context_from_params(partA, seed, device=device)
    prefix = f"partA.experiments.{name}.{ctx.backend.name}"
    result = run_experiment(name, ctx, section({"partA": partA}, prefix), prefix)
    write_experiment(name, result, out, metrics_file)
    numbers = ", ".join(f"{k} {v:g}" for k, v in sorted(result.metrics.items()))
    return (
        f"partA@{name} ({ctx.backend.name}, {ctx.backend.device}): {time.perf_counter() - started:.1f} s "
        f"-> {out}  [{numbers}]"
    )


def _mnist_width(partA: Any) -> int:
    """The width D of the mnist backend's UNet, from the train_config.json beside its checkpoint (16 where it cannot
    be read: loading the backend then says why)."""
    try:
        config = json.loads(Path(partA["backends"]["mnist"]["train_config"]).read_text())
        return max(int(config["num_hiddens"]), 1)
    except (OSError, ValueError, KeyError, TypeError):
        return 16


def _flat_params(params: dict[str, Any]) -> dict[str, Any]:
    flat = {}
    for key, value in params.items():
        if isinstance(value, (list, tuple)) and all(isinstance(v, (int, float, str, bool)) for v in value):
            flat[key] = list(value)
        elif isinstance(value, (dict, list, tuple)):
            flat[key] = json.dumps(value, sort_keys=True)
        else:
            flat[key] = value
    return flat
