"""The course's flip and visual_anagrams' rotations and negative (docs/course.md, A 1.8)."""

from __future__ import annotations

import torch

from fundiff.partA.views.base import View


class IdentityView(View):
    name = "identity"


class FlipView(View):
    """Upside down (the course's ``torch.flip`` over the height axis)."""

    name = "flip"

    def permute(self, x):
        return torch.flip(x, dims=[-2])

    unpermute = permute


class Rotate90CWView(View):
    """A quarter turn clockwise."""

    name = "rotate_cw"

    def permute(self, x):
        return torch.rot90(x, k=-1, dims=(-2, -1))

    def unpermute(self, x):
        return torch.rot90(x, k=1, dims=(-2, -1))


class Rotate90CCWView(Rotate90CWView):
    name = "rotate_ccw"

    permute, unpermute = Rotate90CWView.unpermute, Rotate90CWView.permute


class Rotate180View(View):
    name = "rotate_180"

    def permute(self, x):
        return torch.rot90(x, k=2, dims=(-2, -1))

    unpermute = permute


class NegateView(View):
    """The photographic negative (about the centre of the value range)."""

    name = "negate"
    sign = -1.0
