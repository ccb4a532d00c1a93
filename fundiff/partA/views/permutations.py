"""Pixel-permutation views beyond the course, after visual_anagrams: skew, patch and pixel permutations, a turning inner
disc. Each builds its permutation per image size (fundiff.partA.views.base.PermutationView), so it is exact."""

from __future__ import annotations

import torch

from fundiff.errors import require
from fundiff.partA.views.base import PermutationView, SeededPermutationView, seeded


class SkewView(PermutationView):
    """A shear as a permutation: row i rolls circularly by round(factor·(i − h//2)) pixels (integer shifts)."""

    name = "skew"
    ARGS = ("factor",)

    def __init__(self, factor: float = 1.5):
        self.factor = float(factor)

    @classmethod
    def from_params(cls, p):
        return cls(p.number("factor", default=1.5))

    def indices(self, h, w):
        rows = torch.arange(h)
        shifts = torch.round(self.factor * (rows - h // 2).double()).long()
        cols = (torch.arange(w)[None, :] - shifts[:, None]) % w  # torch.roll(row, shift): out[j] = row[j - shift]
        return (rows[:, None] * w + cols).flatten()


class PatchPermuteView(PermutationView):
    """The image cut into num_patches × num_patches equal patches, shuffled by a seeded permutation."""

    name = "patch_permute"
    ARGS = ("num_patches", "seed")

    def __init__(self, num_patches: int = 4, seed: int = 0):
        self.num_patches, self.seed = int(num_patches), int(seed)

    @classmethod
    def from_params(cls, p):
        return cls(p.integer("num_patches", 1, default=4), p.integer("seed", 0, default=0))

    def check(self, image_shape, where):
        h, w = image_shape[-2:]
        require(
            h % self.num_patches == 0 and w % self.num_patches == 0,
            f"{where}.num_patches={self.num_patches} must divide the image side (the images are {h}×{w})",
        )

    def indices(self, h, w):
        self.check((h, w), self.name)
        n = self.num_patches
        order = torch.randperm(n * n, generator=seeded(self.seed))
        patches = torch.arange(h * w).reshape(n, h // n, n, w // n).transpose(1, 2).reshape(n * n, h // n, w // n)
        return patches[order].reshape(n, n, h // n, w // n).transpose(1, 2).flatten()


class PixelPermuteView(SeededPermutationView):
    """A seeded random permutation of all pixels (visual_anagrams' 1-pixel patch permutation)."""

    name = "pixel_permute"

    def indices(self, h, w):
        return torch.randperm(h * w, generator=seeded(self.seed))


class InnerRotateView(PermutationView):
    """The pixels inside a central disc (radius: a fraction of the side) turn by ``degrees`` clockwise; the rest stays.
    Distances from the centre are measured in half pixels (exact integers), so the disc is the same set after any
    quarter turn of the grid and the map is an exact permutation (visual_anagrams' inner circle: 180°, radius 3/8)."""

    name = "inner_rotate"
    ARGS = ("degrees", "radius")

    def __init__(self, degrees: int = 180, radius: float = 0.375):
        require(degrees in (90, 180, 270), f"inner_rotate: degrees={degrees!r} must be 90, 180 or 270")
        self.degrees, self.radius = int(degrees), float(radius)

    @classmethod
    def from_params(cls, p):
        degrees = p.integer("degrees", default=180)
        require(degrees in (90, 180, 270), f"{p.key('degrees')}={degrees} must be 90, 180 or 270")
        return cls(degrees, p.number("radius", 0.0, lo_open=True, hi=1.0, default=0.375))

    def check(self, image_shape, where):
        h, w = image_shape[-2:]
        require(h == w, f"{where}.view=inner_rotate needs square images, not {h}×{w}")

    def indices(self, h, w):
        self.check((h, w), self.name)
        twice = 2 * torch.arange(h) - (h - 1)  # twice the distance of each row (column) from the centre
        inside = twice[:, None] ** 2 + twice[None, :] ** 2 < (2 * self.radius * h) ** 2
        grid = torch.arange(h * w).reshape(h, w)
        return torch.where(inside, torch.rot90(grid, k=-self.degrees // 90, dims=(0, 1)), grid).flatten()
