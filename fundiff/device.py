"""The one device rule of the project: a `device` setting of auto | cpu | cuda, and the dtype that goes with it."""

from __future__ import annotations

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
