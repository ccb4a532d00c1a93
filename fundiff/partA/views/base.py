"""The view interface (see fundiff.partA.views) and the base of the pixel-permutation views."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from fundiff.params import ParamSection


class View:
    name = "view"
    sign = 1.0
    ARGS: tuple[str, ...] = ()  # the view's constructor arguments that an illusion's params may set

    @classmethod
    def from_params(cls, p: ParamSection) -> View:
        """The view built from its (validated) arguments in ``p``; absent ones take their defaults."""
        return cls()

    def check(self, image_shape: tuple[int, ...], where: str) -> None:
        """FundiffError (naming ``where``'s arguments) when the view cannot map images of this (…, H, W) shape."""

    @property
    def label(self) -> str:
        """The name, with the arguments of a view that has any: ``patch_permute(num_patches=4, seed=0)``."""
        if not self.ARGS:
            return self.name
        return f"{self.name}({', '.join(f'{arg}={getattr(self, arg)}' for arg in self.ARGS)})"

    def permute(self, x: torch.Tensor) -> torch.Tensor:  # P
        return x

    def unpermute(self, x: torch.Tensor) -> torch.Tensor:  # P⁻¹
        return x

    def view(self, x: torch.Tensor, center: float | torch.Tensor = 0.0) -> torch.Tensor:
        return center + self.sign * self.permute(x - center)

    def inverse_view(self, eps: torch.Tensor) -> torch.Tensor:
        return self.sign * self.unpermute(eps)

    def inverse_view_variance(self, variance: torch.Tensor) -> torch.Tensor:
        return self.unpermute(variance)

    def inverse_image(self, x: torch.Tensor, center: float | torch.Tensor = 0.0) -> torch.Tensor:
        """The exact inverse of ``view`` on images (what makes the other prompt upright again)."""
        return center + self.sign * self.unpermute(x - center)

    def inverse(self) -> View:
        return _Inverse(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{arg}={getattr(self, arg)!r}' for arg in self.ARGS)})"


class _Inverse(View):
    def __init__(self, base: View):
        self.base = base
        self.name = f"inverse({base.name})"
        self.sign = base.sign

    def permute(self, x):
        return self.base.unpermute(x)

    def unpermute(self, x):
        return self.base.permute(x)

    def inverse(self) -> View:
        return self.base


class PermutationView(View):
    """A fixed permutation of the pixels, the same for every channel and every leading (batch) index, built once per
    image size: ``indices(h, w)[p]`` is the flat index of the input pixel that output pixel p shows. A permutation
    commutes with constants, so ``view`` and ``inverse_image`` skip the centre: both directions are exact copies, and
    view → inverse returns its input bit for bit."""

    def indices(self, h: int, w: int) -> torch.Tensor:
        raise NotImplementedError

    def _lookup(self, x: torch.Tensor, inverse: bool) -> torch.Tensor:
        h, w = x.shape[-2:]
        cache = self.__dict__.setdefault("_cache", {})
        key = (h, w, x.device, inverse)
        if key not in cache:
            index = self.indices(h, w)
            if not torch.equal(index.sort().values, torch.arange(h * w)):
                raise AssertionError(f"{self!r} built no permutation of {h}×{w} pixels")  # a bug, not bad input
            cache[key] = (index.argsort() if inverse else index).to(x.device)
        return cache[key]

    def permute(self, x):
        return x.flatten(-2).index_select(-1, self._lookup(x, False)).reshape(x.shape)

    def unpermute(self, x):
        return x.flatten(-2).index_select(-1, self._lookup(x, True)).reshape(x.shape)

    def view(self, x, center=0.0):
        return self.permute(x)

    def inverse_image(self, x, center=0.0):
        return self.unpermute(x)


def seeded(seed: int) -> torch.Generator:
    """The CPU generator of a seeded view: its permutation depends on the seed only (not on the global RNG)."""
    return torch.Generator().manual_seed(seed)


class SeededPermutationView(PermutationView):
    """A permutation drawn from its own ``seed`` (an argument of the view, not the pipeline's seed)."""

    ARGS = ("seed",)

    def __init__(self, seed: int = 0):
        self.seed = int(seed)

    @classmethod
    def from_params(cls, p):
        return cls(p.integer("seed", 0, default=0))
