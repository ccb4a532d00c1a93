"""The one device rule of the project: a `device` setting of auto | cpu | cuda, and the dtype that goes with it."""

from __future__ import annotations

import os

import torch

from fundiff.errors import FundiffError

DEVICES = ("auto", "cpu", "cuda")
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def resolve_device(value: str, param: str = "device") -> torch.device:
    """``auto``: CUDA when a GPU is visible, else the CPU; ``cuda`` without a visible GPU is a one-line error."""
    if value not in DEVICES:
        raise FundiffError(f"{param}={value!r} is unknown; use one of {', '.join(DEVICES)}")
    if value == "cuda" and not torch.cuda.is_available():
        raise FundiffError(f"{param}=cuda but no CUDA GPU is visible; set {param}: auto or cpu")
    if value == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(value)


def resolve_dtype(value: str, device: torch.device, param: str = "dtype") -> torch.dtype:
    """``auto``: float16 on CUDA (the course's DeepFloyd setting), float32 on the CPU."""
    if value == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    if value not in DTYPES:
        raise FundiffError(f"{param}={value!r} is unknown; use auto or one of {', '.join(DTYPES)}")
    return DTYPES[value]


def configure_determinism(device: torch.device, deterministic: bool) -> None:
    """The top-level param ``deterministic``, applied process-wide before any work.

    On the CPU, runs are deterministic whatever the param says: same params and seed give the same bytes. On CUDA,
    ``deterministic: true`` selects deterministic kernels (``torch.use_deterministic_algorithms``, a fixed cuBLAS
    workspace, no cuDNN autotuning; training also keeps torch.compile off), so the same machine gives the same bytes;
    ``false`` lets cuDNN pick the fastest kernels, and reruns agree only to float rounding (bench/train_knobs.py).
    An op without a deterministic CUDA kernel warns rather than stops the run."""
    if device.type == "cuda" and not deterministic:
        torch.use_deterministic_algorithms(False)
        torch.backends.cudnn.benchmark = True
        return
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # read when cuBLAS starts: before any CUDA work
        torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True, warn_only=True)
