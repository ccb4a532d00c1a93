"""Views for visual anagrams (docs/course.md, A 1.8), as small classes in the manner of dangeng/visual_anagrams.

A view is an orthogonal map of the image: a pixel permutation P (flip, rotation) and/or a sign s (negation). The anagram
denoiser evaluates the model on ``view(x_t)`` and maps its noise estimate back with ``inverse_view``:

    view(x)          = c + s·P(x − c)
    inverse_view(ε)  = s·P⁻¹(ε)
    inverse_view_variance(v) = P⁻¹(v)        (a predicted variance is never negated, as in visual_anagrams)

c is the centre of the model's value range scaled by √ᾱ_t (the signal part of a pure mid-grey image). For DeepFloyd's
[−1, 1] range c = 0, which is exactly the course's and visual_anagrams' ``-x``; for our [0, 1] MNIST model it makes
"negate" the photographic negative 1 − x_0 while keeping the noise a standard normal draw (−ε). Flips and rotations
commute with constants, so c does not matter for them.
"""

from __future__ import annotations

import torch


class View:
    name = "view"
    sign = 1.0

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
        return f"{type(self).__name__}()"


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


VIEWS: dict[str, type[View]] = {
    cls.name: cls for cls in (IdentityView, FlipView, Rotate90CWView, Rotate90CCWView, Rotate180View, NegateView)
}


def get_view(name: str, param: str = "view") -> View:
    from fundiff.errors import FundiffError

    if name not in VIEWS:
        raise FundiffError(f"{param}={name!r} is not a known view; use one of {', '.join(VIEWS)}")
    return VIEWS[name]()
