"""The params several Part A experiments share, read and checked once: the guidance scale, timesteps, the strided
index i_start (or a list of them) and the input images."""

from __future__ import annotations

import torch

from fundiff.errors import require
from fundiff.params import ParamSection
from fundiff.partA.algorithms import check_i_start
from fundiff.partA.context import Context
from fundiff.partA.inputs import Inputs, load_inputs


def guidance_param(p: ParamSection, name: str = "guidance_scale") -> float:
    return p.number(name, 0)


def timesteps_param(ctx: Context, p: ParamSection, name: str) -> list[int]:
    values = p[name]
    require(len(values) > 0, f"{p.key(name)} must be a non-empty list")
    for t in values:
        require(
            isinstance(t, int) and 0 <= t < ctx.backend.num_timesteps,
            f"{p.key(name)} has {t!r}; timesteps are integers in 0..{ctx.backend.num_timesteps - 1}",
        )
    return values


def i_start_param(ctx: Context, p: ParamSection, name: str = "i_start") -> int:
    value = p[name]
    check_i_start(value, ctx.timesteps, p.key(name))
    return value


def i_starts_param(ctx: Context, p: ParamSection) -> list[int]:
    values = p["i_starts"]
    require(len(values) > 0, f"{p.key('i_starts')} must be a non-empty list")
    for value in values:
        check_i_start(value, ctx.timesteps, p.key("i_starts"))
    return values


def load_images(ctx: Context, p: ParamSection, name: str = "images") -> tuple[Inputs, torch.Tensor]:
    """The images named by ``<p>.<name>``, and the same in the model's range on its device."""
    inputs = load_inputs(ctx.backend, p[name], p.key(name), root=ctx.root, mnist_dir=ctx.mnist_dir)
    return inputs, ctx.backend.to_model(inputs.images).to(ctx.backend.device)
