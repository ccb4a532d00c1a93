"""Classifier-free guidance (docs/course.md, A 1.6): the one place where conditional and unconditional passes are
batched. Anagrams (several views of x, A 1.8) and hybrids (two prompts, A 1.9) are the same batching with more terms."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch


class NoisePredictor(Protocol):
    """What guidance needs of a model: ε̂ (and a learned variance or None) for a batch, and its conditions."""

    def predict(self, x_t: torch.Tensor, t: int, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]: ...

    def null_condition(self) -> torch.Tensor: ...

    def batch_condition(self, cond: torch.Tensor, n: int) -> torch.Tensor: ...


class View(Protocol):
    def view(self, x: torch.Tensor, center: float | torch.Tensor = 0.0) -> torch.Tensor: ...

    def inverse_view(self, eps: torch.Tensor) -> torch.Tensor: ...

    def inverse_view_variance(self, variance: torch.Tensor) -> torch.Tensor: ...


def guided(eps_cond: torch.Tensor, eps_uncond: torch.Tensor, scale: float) -> torch.Tensor:
    """Classifier-free guidance: ε_u + γ(ε_c - ε_u). γ = 1 is the conditional estimate, γ = 0 the unconditional."""
    return eps_uncond + scale * (eps_cond - eps_uncond)


def guided_terms(
    model: NoisePredictor,
    x: torch.Tensor,
    t: int,
    terms: Sequence[tuple[View | None, torch.Tensor]],
    scale: float | None,
    center: float | torch.Tensor = 0.0,
) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    """For each (view, cond): the noise estimate of ``view(x)`` (CFG-guided with γ = ``scale`` unless None) mapped back
    to x's frame, with the conditional pass's variance. Every pass goes through the model in ONE batched call:
    [view_1(x), ..., view_k(x)] with their conditions, then the same images with the null condition.
    ``center`` is the point the views reflect about (see fundiff.partA.views)."""
    n = x.shape[0]
    xs = [x if view is None else view.view(x, center) for view, _ in terms]
    conds = [model.batch_condition(cond, n) for _, cond in terms]
    if scale is not None:
        null = model.batch_condition(model.null_condition(), n)
        xs, conds = xs + xs, conds + [null] * len(terms)
    eps_all, var_all = model.predict(torch.cat(xs), t, torch.cat(conds))
    out = []
    for k, (view, _) in enumerate(terms):
        eps = eps_all[k * n : (k + 1) * n]
        var = None if var_all is None else var_all[k * n : (k + 1) * n]
        if scale is not None:
            j = len(terms) + k
            eps = guided(eps, eps_all[j * n : (j + 1) * n], scale)
        if view is not None:
            eps = view.inverse_view(eps)
            var = None if var is None else view.inverse_view_variance(var)
        out.append((eps, var))
    return out


def eps_fn_for(net, labels: torch.Tensor | None, guidance_scale: float = 1.0, interval=(0.0, 1.0)):
    """ε̂(x_t, t) of a batch: for a class-conditioned net, CFG toward ``labels`` with γ = ``guidance_scale`` (both
    passes in one forward call) where the network's time (t+1)/T lies in ``interval`` = (lo, hi), and the conditional
    pass alone elsewhere (guidance at high noise costs variety, at low noise it does little). For a time-conditioned
    net, the plain prediction."""
    if not net.conditional:
        return lambda x, t: net.predict(x, t, None)
    cond = net.labels_condition(labels)
    lo, hi = interval
    T = net.num_timesteps

    def eps(x: torch.Tensor, t: int):
        if lo <= (t + 1) / T <= hi:
            return guided_terms(net, x, t, [(None, cond)], guidance_scale)[0]
        return net.predict(x, t, cond)

    return eps
