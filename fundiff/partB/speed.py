"""The speed knobs of a training run (``train.<model>.precision | compile | tf32 | log_every``), resolved for its device.

``auto`` turns a knob on for CUDA and off on the CPU:

* ``precision: bf16``: the forward pass and the loss under ``torch.autocast(bfloat16)``; the weights, the gradients,
  Adam and the test loss stay float32 (mixed precision, not bf16 training).
* ``compile: on``: ``torch.compile`` of the network; on CUDA with CUDA graphs (``mode="reduce-overhead"``), which
  replays a step's hundreds of small kernel launches as one. Off when the run must be deterministic.
* ``tf32: on``: TensorFloat-32 for float32 matmuls and convolutions (CUDA only; a no-op on the CPU).
* ``log_every: N``: the train loss stays on the device and is read back (one sync) and logged every N steps, as the mean
  of those steps. 1 = every step, the course's curve.

On the CPU every ``auto`` resolves to off, so the default profile's bytes are those of the plain float32 loop.
bench/train_knobs.py measures each knob's speed and its test loss against the plain float32 run at equal steps.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass

import torch
from torch import nn

from fundiff.partB.config import TrainConfig


@dataclass(frozen=True)
class Speed:
    device: torch.device
    bf16: bool
    compile_mode: str | None  # None (eager) | "default" | "reduce-overhead"
    tf32: bool
    log_every: int

    def autocast(self) -> contextlib.AbstractContextManager:
        if not self.bf16:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def compiled(self, model: nn.Module) -> nn.Module:
        """What the training step calls: ``model`` itself, or its compiled wrapper (same parameters)."""
        # dynamic=False: the epoch's last, smaller batch gets a graph of its own rather than dynamic-shape kernels
        return model if self.compile_mode is None else torch.compile(model, mode=self.compile_mode, dynamic=False)

    def begin_step(self) -> None:
        """CUDA graphs: mark a new iteration, so the previous step's graph outputs may be overwritten."""
        if self.compile_mode == "reduce-overhead":
            torch.compiler.cudagraph_mark_step_begin()

    def describe(self) -> str:
        parts = [
            "bf16 autocast" if self.bf16 else "fp32",
            f"compiled ({self.compile_mode})" if self.compile_mode else "eager",
        ]
        if self.device.type == "cuda":
            parts.append("TF32" if self.tf32 else "no TF32")
        parts.append("loss read every step" if self.log_every == 1 else f"loss read every {self.log_every} steps")
        return f"{self.device.type}: " + ", ".join(parts)


def resolve_speed(config: TrainConfig, device: str | torch.device, deterministic: bool = False) -> Speed:
    """The knobs of ``config`` on ``device``; ``deterministic`` (the top-level param) keeps compilation off."""
    device = torch.device(device)
    cuda = device.type == "cuda"

    def on(value: str) -> bool:
        return value == "on" or (value == "auto" and cuda)

    bf16 = config.precision == "bf16" or (config.precision == "auto" and cuda)
    compile_on = on(config.compile)
    if compile_on and deterministic:
        if config.compile == "on":
            print(f"note: train.{config.kind}.compile: on is ignored because deterministic: true", file=sys.stderr)
        compile_on = False
    mode = ("reduce-overhead" if cuda else "default") if compile_on else None
    return Speed(device=device, bf16=bf16, compile_mode=mode, tf32=cuda and on(config.tf32), log_every=config.log_every)


def apply_backend_flags(speed: Speed) -> None:
    """TF32 on or off for CUDA's float32 matmuls and cuDNN convolutions (process-wide, set before training)."""
    if speed.device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = speed.tf32
        torch.backends.cudnn.allow_tf32 = speed.tf32
