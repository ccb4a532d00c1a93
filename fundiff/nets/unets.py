"""The UNets of Part B (both editions), saved in diffusers' format (config.json + safetensors: deterministic bytes, loadable by
anyone with diffusers) by fundiff.nets.pretrained, which does not import diffusers."""

from __future__ import annotations

import torch
from torch import nn

from fundiff.nets.blocks import ConvBlock, DownBlock, FCBlock, Flatten, Unflatten, UpBlock
from fundiff.nets.pretrained import Pretrained, register_config


class _UNetBody(nn.Module):
    """The shared encoder/decoder; conditioning hooks modulate the unflattened bottleneck and the first up block."""

    def __init__(self, in_channels: int, num_hiddens: int):
        super().__init__()
        d = num_hiddens
        self.conv_in = ConvBlock(in_channels, d)  # 28²
        self.down1 = DownBlock(d, d)  # 14²
        self.down2 = DownBlock(d, 2 * d)  # 7²
        self.flatten = Flatten()  # 1²
        self.unflatten = Unflatten(2 * d)  # 7²
        self.up1 = UpBlock(4 * d, d)  # 14²
        self.up2 = UpBlock(2 * d, d)  # 28²
        self.conv_mid = ConvBlock(2 * d, d)
        self.conv_out = nn.Conv2d(d, in_channels, 3, 1, 1)

    def forward(self, x, modulate_bottleneck=None, modulate_up1=None):
        e1 = self.conv_in(x)
        e2 = self.down1(e1)
        e3 = self.down2(e2)
        b = self.unflatten(self.flatten(e3))
        if modulate_bottleneck is not None:
            b = modulate_bottleneck(b)
        u1 = self.up1(torch.cat([b, e3], dim=1))
        if modulate_up1 is not None:
            u1 = modulate_up1(u1)
        u2 = self.up2(torch.cat([u1, e2], dim=1))
        return self.conv_out(self.conv_mid(torch.cat([u2, e1], dim=1)))


class UnconditionalUNet(Pretrained):
    """Single-step denoiser: noisy image -> clean image."""

    @register_config
    def __init__(self, in_channels: int = 1, num_hiddens: int = 128):
        super().__init__()
        self.body = _UNetBody(in_channels, num_hiddens)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class TimeConditionalUNet(Pretrained):
    """Predicts the noise of x_t; t enters as the normalised time (N, 1), added after unflatten and up1."""

    @register_config
    def __init__(self, in_channels: int = 1, num_hiddens: int = 64):
        super().__init__()
        self.body = _UNetBody(in_channels, num_hiddens)
        self.t1 = FCBlock(1, 2 * num_hiddens)
        self.t2 = FCBlock(1, num_hiddens)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = t.reshape(-1, 1).to(x.dtype)
        return self.body(x, lambda b: b + self.t1(t), lambda u: u + self.t2(t))


class MultiplicativeTimeUNet(TimeConditionalUNet):
    """The flow-matching edition's time-conditioned UNet: t scales instead of shifting, unflatten·t1(t), up1·t2(t)
    (docs/course.md, "The flow-matching edition"). Same layers and weights' shapes as :class:`TimeConditionalUNet`."""

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = t.reshape(-1, 1).to(x.dtype)
        return self.body(x, lambda b: b * self.t1(t), lambda u: u * self.t2(t))


class ClassConditionalUNet(Pretrained):
    """Adds a one-hot class c (all zeros = unconditional): unflatten·c1(c) + t1(t), up1·c2(c) + t2(t)."""

    @register_config
    def __init__(self, in_channels: int = 1, num_hiddens: int = 64, num_classes: int = 10):
        super().__init__()
        self.body = _UNetBody(in_channels, num_hiddens)
        self.t1 = FCBlock(1, 2 * num_hiddens)
        self.t2 = FCBlock(1, num_hiddens)
        self.c1 = FCBlock(num_classes, 2 * num_hiddens)
        self.c2 = FCBlock(num_classes, num_hiddens)

    def forward(self, x: torch.Tensor, t: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        t = t.reshape(-1, 1).to(x.dtype)
        c = c.to(x.dtype)
        return self.body(x, lambda b: self.c1(c) * b + self.t1(t), lambda u: self.c2(c) * u + self.t2(t))


def one_hot(labels: torch.Tensor, num_classes: int = 10, keep: torch.Tensor | None = None) -> torch.Tensor:
    """One-hot class vectors; rows where ``keep`` is False become the null (all-zero) condition."""
    c = nn.functional.one_hot(labels.long(), num_classes).float()
    return c if keep is None else c * keep.reshape(-1, 1).to(c.dtype)


MODEL_CLASSES = {
    "denoiser": UnconditionalUNet,
    "time_cond": TimeConditionalUNet,
    "class_cond": ClassConditionalUNet,
}
# The time-conditioned UNet by how t enters (train.<model>.modulation): the DDPM edition adds, the flow edition scales.
TIME_MODULATIONS = {"add": TimeConditionalUNet, "multiply": MultiplicativeTimeUNet}
