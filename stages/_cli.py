"""What every stage entry shares: reading params.yaml, one-line errors (exit 2), seeding, threads, the device."""

from __future__ import annotations

import functools
import os
import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fundiff.budget import allow_long_runs_of
from fundiff.errors import FundiffError
from fundiff.io import WRITE_ERRNOS, check_outputs
from fundiff.params import deterministic_of, parse_yaml, section, seed_of
from fundiff.timings import timed_stage

PARAMS_FILE = Path(os.environ.get("FUNDIFF_PARAMS", "params.yaml"))

__all__ = [
    "PARAMS_FILE",
    "allow_long_runs_of",
    "check_outputs",
    "load_params",
    "section",
    "seed_of",
    "seed_everything",
    "pick_device",
    "deterministic_of",
    "use_all_cores",
    "use_one_core",
    "entrypoint",
]


def load_params(path: Path = PARAMS_FILE) -> dict[str, Any]:
    """params.yaml as a mapping; a missing, empty or malformed file is one line naming it."""
    import yaml

    if not path.exists():
        raise FundiffError(f"{path} not found; run the stage from the repository root")
    if not path.is_file():
        raise FundiffError(f"{path} is not a file; restore it (`git checkout {path}`)")
    try:
        with open(path) as handle:
            params = parse_yaml(handle, str(path))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        where = getattr(error, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        raise FundiffError(f"{path} is not valid YAML{at}; fix it or restore it (`git checkout {path}`)") from None
    if not isinstance(params, dict):
        raise FundiffError(f"{path} holds no mapping of params; restore it (`git checkout {path}`)")
    return params


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def use_all_cores() -> None:
    import torch

    torch.set_num_threads(os.cpu_count() or 1)


def use_one_core() -> None:
    """For stages of many small batches (Part A: a few dozen 28×28 images per network call), where extra CPU threads
    mostly spin: one thread, unless OMP_NUM_THREADS is set. Measured on the shared 2-core machine: partA@text_img2img
    29 s with 1 thread, 110 s with 2."""
    import torch

    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(1)


def pick_device(params: dict[str, Any]) -> str:
    """The top-level params ``device`` (auto | cpu | cuda; auto = CUDA when a GPU is visible), the one device setting
    of every stage, and ``deterministic`` (true | false), applied to the process (fundiff.device)."""
    from fundiff.device import configure_determinism, resolve_device

    device = resolve_device(params.get("device", "auto"), "device")
    configure_determinism(device, deterministic_of(params))
    return str(device)


# Errors of the machine, not of the code: a directory that cannot be written, a full disk. One line, like bad input.
ENVIRONMENT_ERRNOS = WRITE_ERRNOS  # the writer's (fundiff.io): what it did not already turn into one line


def entrypoint(main: Callable[..., None]) -> Callable[..., None]:
    """Run ``main``, recording its wall time (untracked, see fundiff.timings). A FundiffError (bad params or input
    files) or an unwritable/full output location becomes one line on stderr and exit status 2; every other exception is
    a bug and keeps its traceback. ``FUNDIFF_DEBUG=1`` shows the traceback of any error."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            with timed_stage():
                main(*args, **kwargs)
        except KeyboardInterrupt:  # Ctrl-C: every writer has removed its temps and kept the previous outputs
            print("error: interrupted; the previous outputs are kept, rerun the stage", file=sys.stderr)
            sys.exit(130)
        except (FundiffError, OSError) as error:
            if os.environ.get("FUNDIFF_DEBUG") == "1":
                raise
            if isinstance(error, OSError):
                if error.errno not in ENVIRONMENT_ERRNOS:
                    raise
                where = error.filename or "the output location"
                message = f"cannot write {where} ({error.strerror}); make it writable or free space, then rerun"
            else:
                message = str(error)
            print(f"error: {message}", file=sys.stderr)
            sys.exit(2)

    return wrapper
