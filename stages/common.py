"""What every stage entry shares: reading params.yaml, one-line errors, seeding, device choice."""

from __future__ import annotations

import functools
import os
import random
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import yaml

from fundiff.errors import FundiffError
from fundiff.timings import timed_stage

PARAMS_FILE = Path(os.environ.get("FUNDIFF_PARAMS", "params.yaml"))


def load_params(path: Path = PARAMS_FILE) -> dict[str, Any]:
    if not path.exists():
        raise FundiffError(f"{path} not found; run the stage from the repository root")
    with open(path) as handle:
        return yaml.safe_load(handle)


def section(params: dict[str, Any], dotted: str) -> dict[str, Any]:
    node: Any = params
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            raise FundiffError(f"params.yaml has no {dotted!r} section; restore it from git (`git checkout params.yaml`)")
        node = node[key]
    return node


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def pick_device() -> str:
    """CUDA when present, else CPU. The device is never a param: results are keyed by params, not hardware."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def entrypoint(main: Callable[..., None]) -> Callable[..., None]:
    """Run ``main``, recording its wall time (untracked, see fundiff.timings); a FundiffError becomes one line on
    stderr and exit status 2."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            with timed_stage():
                main(*args, **kwargs)
        except FundiffError as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(2)

    return wrapper
