"""Memory and run-length estimates of a stage, made from its params before any model loads (rough, on purpose).

A request that cannot fit (``partA.experiments.cfg.mnist.num_samples: 100000000``) would otherwise end in torch's
"can't allocate memory" after the model has loaded, and one that fits but takes weeks
(``sample.class_cond.samples_per_digit: 10000000``) would start without a word. :func:`check` turns both into one
line naming the key that drives the estimate and the fix; a run over :data:`LONG_RUN_S` runs only when the top-level
param ``allow_long_runs`` is true.

The model of cost (measured on the project's 2-core CPU, bench/README.md; good to a factor of a few, which is all a
bound of "fits in memory" and "ends within a day" needs):

* memory: every image a stage keeps costs :data:`HELD_BYTES` (the 28×28 float32 image, the judge's features and
  probabilities); every image inside one network call costs :data:`ACTIVATION_MAPS` (no gradients) or
  :data:`TRAIN_MAPS` (training) float32 feature maps of D×28×28 (D = the UNet's ``num_hiddens``);
* time: one image through a D = 16 UNet costs :data:`SECONDS_PER_CALL` on the CPU, scaling with D² (its FLOPs), and
  :data:`CUDA_SPEEDUP` times less on a GPU; a training image costs three calls (forward and backward); classifier-free
  guidance two.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from fundiff.errors import FundiffError, shown

IMAGE_BYTES = 28 * 28 * 4
HELD_BYTES = 4096  # per kept image: the image, the judge's features and probabilities, its label
ACTIVATION_MAPS = 12  # peak of one no-grad UNet forward pass, per image (measured: 11 maps of D×28×28 at D = 16, 32)
TRAIN_MAPS = 40  # with autograd's saved tensors
SECONDS_PER_CALL = 1 / 1500  # one 28×28 image through a D = 16 UNet on 2 CPU cores (≈ 400 training images/s)
CUDA_SPEEDUP = 20  # a GPU is at least this much faster (bench/README.md, The GPU path: far more on an H100)
LONG_RUN_S = 24 * 3600  # a run estimated longer than a day needs `allow_long_runs: true`
FIX_LONG = "lower it, or set the top-level param allow_long_runs: true to run it anyway"


@dataclass(frozen=True)
class Term:
    """One part of a stage's cost, driven by the params key ``key`` (whose value is ``value``)."""

    key: str
    value: object
    held_bytes: float = 0.0  # kept in host memory at once
    working_bytes: float = 0.0  # inside one network call (on the device)
    seconds: float = 0.0  # on this machine's device, roughly


def seconds_per_call(num_hiddens: int, device: str = "cpu") -> float:
    """One 28×28 image through a UNet of width ``num_hiddens`` (rough; see the module docstring)."""
    cost = SECONDS_PER_CALL * (max(num_hiddens, 1) / 16) ** 2
    return cost / CUDA_SPEEDUP if device.startswith("cuda") else cost


def activation_bytes(num_hiddens: int, images: int, training: bool = False) -> float:
    """Peak bytes of one network call on ``images`` 28×28 images."""
    return images * (TRAIN_MAPS if training else ACTIVATION_MAPS) * max(num_hiddens, 1) * IMAGE_BYTES


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_available() -> int | None:
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit == "max":
            return None
        used = int(Path("/sys/fs/cgroup/memory.current").read_text())
        return max(int(limit) - used, 0)
    except (OSError, ValueError):
        return None


def available_memory() -> int:
    """Bytes this process may still use: the least of the machine's available memory (``MemAvailable``, else free
    pages), the cgroup's limit (a container) and the address-space limit (``ulimit -v``)."""
    candidates = [_meminfo_available(), _cgroup_available()]
    if candidates[0] is None:
        try:
            candidates[0] = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError):
            pass
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        candidates.append(soft)
    known = [c for c in candidates if c is not None]
    return min(known) if known else 1 << 62


def _size(n: float) -> str:
    if n >= 1e15:
        return f"{n:.1e} bytes"
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n / 1e3:.0f} kB"


def _duration(seconds: float) -> str:
    return f"{seconds / 86400:.0f} days" if seconds >= 10 * 86400 else f"{seconds / 3600:.0f} hours"


def check(terms: Iterable[Term], allow_long_runs: bool = False, available: int | None = None) -> None:
    """Refuse, in one line naming the key that costs most, a stage whose ``terms`` need more memory than
    ``available`` (default: :func:`available_memory`), or more than a day unless ``allow_long_runs``."""
    terms = list(terms)
    if not terms:
        return
    memory = sum(t.held_bytes + t.working_bytes for t in terms)
    available = available_memory() if available is None else available
    if memory > available:
        worst = max(terms, key=lambda t: t.held_bytes + t.working_bytes)
        raise FundiffError(
            f"{worst.key}={shown(worst.value)} needs about {_size(memory)} of memory at once, more than the "
            f"{_size(available)} available; lower it (a rough estimate made before any model loads)"
        )
    seconds = sum(t.seconds for t in terms)
    if seconds > LONG_RUN_S and not allow_long_runs:
        worst = max(terms, key=lambda t: t.seconds)
        raise FundiffError(
            f"{worst.key}={shown(worst.value)} makes a run of about {_duration(seconds)} on this machine (a rough "
            f"estimate, over the bound of one day); {FIX_LONG}"
        )


def allow_long_runs_of(params: object) -> bool:
    """The top-level param ``allow_long_runs`` (default false): true or false."""
    value = params.get("allow_long_runs", False) if isinstance(params, dict) else False
    if not isinstance(value, bool):
        raise FundiffError(f"allow_long_runs={shown(value)} must be true or false")
    return value
