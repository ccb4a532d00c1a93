"""The resume state of a training run: saved after every epoch, outside DVC's outputs, so a killed run continues from its
last finished epoch and ends with the same bytes as an uninterrupted one.

Loaded with ``torch.load(weights_only=True)``: tensors, numbers, strings and containers only, so a planted file cannot
run code. An unreadable, corrupt or foreign state is discarded with a one-line warning and training starts afresh.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fundiff.io import atomic_file

STATE_NAME = "state.pt"
KEYS = ("model", "optimizer", "scheduler", "generator", "snapshots", "train_losses", "test_losses", "epoch", "ema")


def cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}


def load_resume_state(resume_dir: str | Path | None) -> dict[str, Any] | None:
    """The state saved in ``resume_dir``, or None (nothing saved, or a bad state, which is removed with a warning)."""
    if resume_dir is None:
        return None
    path = Path(resume_dir) / STATE_NAME
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or set(KEYS) - set(state) or not isinstance(state["epoch"], int):
            raise ValueError("not a fundiff resume state")
    except Exception as error:  # unpickling refuses code, truncated zip, wrong structure: all mean "start afresh"
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:160]
        print(f"warning: discarding the resume state {path} ({reason}); training starts from epoch 1", file=sys.stderr)
        shutil.rmtree(path.parent, ignore_errors=True)
        return None
    return state


def save_resume_state(
    resume_dir: str | Path,
    model,
    optimizer,
    scheduler,
    generator,
    snapshots,
    train_losses,
    test_losses,
    epoch,
    ema=None,
) -> None:
    state = {
        "model": cpu_state(model),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "generator": generator.get_state(),
        "snapshots": snapshots,
        "train_losses": train_losses,
        "test_losses": test_losses,
        "epoch": epoch,
        "ema": None if ema is None else cpu_state(ema),
    }
    with atomic_file(Path(resume_dir) / STATE_NAME) as handle:  # a kill mid-save leaves the previous state intact
        torch.save(state, handle)
