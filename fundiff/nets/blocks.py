"""The atomic ops and blocks of the Part B UNets, exactly as the assignment lists them."""

from __future__ import annotations

import torch
from torch import nn


class Conv(nn.Sequential):
    """3×3 conv, stride 1, pad 1, BatchNorm, GELU: keeps the resolution."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(nn.Conv2d(in_channels, out_channels, 3, 1, 1), nn.BatchNorm2d(out_channels), nn.GELU())


class DownConv(nn.Sequential):
    """3×3 conv, stride 2, pad 1, BatchNorm, GELU: halves the resolution."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(nn.Conv2d(in_channels, out_channels, 3, 2, 1), nn.BatchNorm2d(out_channels), nn.GELU())


class UpConv(nn.Sequential):
    """4×4 transposed conv, stride 2, pad 1, BatchNorm, GELU: doubles the resolution."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(
            nn.ConvTranspose2d(in_channels, out_channels, 4, 2, 1), nn.BatchNorm2d(out_channels), nn.GELU()
        )


class Flatten(nn.Sequential):
    """7×7 average pool to 1×1, GELU."""

    def __init__(self):
        super().__init__(nn.AvgPool2d(7), nn.GELU())


class Unflatten(nn.Sequential):
    """7×7 transposed conv, stride 7: 1×1 back to 7×7, BatchNorm, GELU."""

    def __init__(self, channels: int):
        super().__init__(nn.ConvTranspose2d(channels, channels, 7, 7, 0), nn.BatchNorm2d(channels), nn.GELU())


class ConvBlock(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(Conv(in_channels, out_channels), Conv(out_channels, out_channels))


class DownBlock(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(DownConv(in_channels, out_channels), ConvBlock(out_channels, out_channels))


class UpBlock(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(UpConv(in_channels, out_channels), ConvBlock(out_channels, out_channels))


class FCBlock(nn.Sequential):
    """Linear, GELU, Linear: embeds a conditioning vector (time or class) into a channel vector."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__(nn.Linear(in_features, out_features), nn.GELU(), nn.Linear(out_features, out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, in) -> (N, out, 1, 1), ready to broadcast
        return super().forward(x)[:, :, None, None]
