"""The registry of Part A's experiments: one module of fundiff.partA.experiments per experiment (``<name>.py``, the
name of its DVC stage ``partA@<name>``), imported by name so that a stage imports only its own experiment (and so
depends on it alone in dvc.yaml).

An experiment module has ``KEYS`` (its params, name -> type), optionally ``DEFAULTS`` (the values of the keys
params.yaml may leave out) and ``run(ctx, p) -> Result`` (fundiff.partA.context.Context, fundiff.params.ParamSection,
fundiff.partA.result.Result). Its section title comes from fundiff.titles.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from fundiff.errors import require
from fundiff.titles import PART_A

EXPERIMENTS: tuple[str, ...] = tuple(PART_A)  # one module each in fundiff/partA/experiments/


def experiment_module(name: str) -> ModuleType:
    """The experiment's module, imported on demand."""
    require(name in EXPERIMENTS, f"unknown Part A experiment {name!r}; use one of {', '.join(EXPERIMENTS)}")
    return importlib.import_module(f"fundiff.partA.experiments.{name}")
