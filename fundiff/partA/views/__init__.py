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

One file per family: ``base`` (the interface), ``basic`` (the course's flip, the rotations, the negative),
``permutations`` (skew, patch and pixel permutations, inner rotation) and ``jigsaw``. The views beyond the course take
arguments (a seed, a patch count, ...), which an illusion's params may set next to ``view`` and ``prompts``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fundiff.errors import FundiffError, require
from fundiff.params import ParamSection
from fundiff.partA.views.base import PermutationView, View
from fundiff.partA.views.basic import FlipView, IdentityView, NegateView, Rotate90CCWView, Rotate90CWView, Rotate180View
from fundiff.partA.views.jigsaw import JigsawView
from fundiff.partA.views.permutations import InnerRotateView, PatchPermuteView, PixelPermuteView, SkewView

__all__ = [
    "VIEWS",
    "FlipView",
    "IdentityView",
    "InnerRotateView",
    "JigsawView",
    "NegateView",
    "PatchPermuteView",
    "PermutationView",
    "PixelPermuteView",
    "Rotate90CCWView",
    "Rotate90CWView",
    "Rotate180View",
    "SkewView",
    "View",
    "get_view",
]

VIEWS: dict[str, type[View]] = {
    cls.name: cls
    for cls in (
        IdentityView,
        FlipView,
        Rotate90CWView,
        Rotate90CCWView,
        Rotate180View,
        NegateView,
        SkewView,
        PatchPermuteView,
        PixelPermuteView,
        JigsawView,
        InnerRotateView,
    )
}


def get_view(name: Any, param: str = "view", args: Mapping[Any, Any] | None = None, prefix: str | None = None) -> View:
    """The view called ``name`` (the value of the param ``param``). ``args`` are its arguments from params, named
    ``<prefix>.<arg>`` in errors (``prefix`` defaults to the section holding ``param``); without args, its defaults."""
    if not isinstance(name, str) or name not in VIEWS:
        raise FundiffError(f"{param}={name!r} is not a known view; use one of {', '.join(VIEWS)}")
    cls = VIEWS[name]
    if not args:
        return cls()
    prefix = prefix or param.rpartition(".")[0] or param
    for key in args:
        takes = f"it takes {', '.join(cls.ARGS)}" if cls.ARGS else "it takes none"
        require(key in cls.ARGS, f"{prefix}.{key} is not an argument of the {name} view; {takes}")
    return cls.from_params(ParamSection(dict(args), prefix, cls.ARGS))
