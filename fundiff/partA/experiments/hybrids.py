"""Part A 1.9, experiment `hybrids` (docs/course.md, A 1.9), and beyond it factorized diffusion (Geng et al. 2024):
see :func:`run` and fundiff.partA.decompositions."""

from __future__ import annotations

import torch

from fundiff.errors import require
from fundiff.figures.grids import grid
from fundiff.params import ParamSection
from fundiff.partA import algorithms
from fundiff.partA.backends.base import Backend
from fundiff.partA.best_of import Legibility
from fundiff.partA.context import Context
from fundiff.partA.decompositions import OWN_KEYS, Decomposition, decomposition_from_params
from fundiff.partA.experiment_params import guidance_param, load_images
from fundiff.partA.result import Figure, Result, as_shown, cell_size

AFAR = 2  # a viewer from afar: the low-pass image at half the resolution


def from_afar(lowpassed01: torch.Tensor) -> torch.Tensor:
    """The hybrid as a distant viewer sees it: its low-pass image downsampled AFAR× (antialiased, torchvision), and
    brought back to the full size for the judge (the detail lost on the way stays lost)."""
    from torchvision.transforms.v2 import functional as TF

    h, w = lowpassed01.shape[-2:]
    small = TF.resize(lowpassed01, [h // AFAR, w // AFAR], antialias=True)
    return TF.resize(small, [h, w], antialias=True).clamp(0, 1)


KEYS = {
    "pairs": list,
    "num_samples": int,
    "guidance_scale": float,
    "blur_kernel_size": int,
    "blur_sigma": float,
    "best_of": int,
    "decomposition": str,
    **dict.fromkeys(OWN_KEYS, object),  # a decomposition's own keys (fundiff.partA.decompositions), null = unset
    "reference": object,
    "reference_component": object,
}
# Beyond the course, every key params.yaml may leave out: the course's hybrid, from prompts alone.
DEFAULTS = {"decomposition": "lowhigh", **dict.fromkeys(OWN_KEYS), "reference": None, "reference_component": None}


def prompts_of(ctx: Context, p: ParamSection, d: Decomposition) -> list[tuple[list[str], list[torch.Tensor]]]:
    """Per entry of ``pairs``: its prompts in the decomposition's component order, and their conditions."""
    pairs = p["pairs"]
    require(len(pairs) > 0, f"{p.key('pairs')} must be a non-empty list")
    parsed = []
    for j, item in enumerate(pairs):
        where = f"{p.key('pairs')}[{j}]"
        require(
            isinstance(item, dict) and set(item) == set(d.names),
            f"{where} must be {{{', '.join(f'{name}: prompt' for name in d.names)}}} (decomposition {d.name})",
        )
        prompts = [item[name] for name in d.names]
        parsed.append((prompts, [ctx.encode(q, f"{where}.{name}") for q, name in zip(prompts, d.names)]))
    return parsed


def reference_of(ctx: Context, p: ParamSection, d: Decomposition) -> tuple[str, int, torch.Tensor] | None:
    """The reference image (``reference``: one path or mnist-test:<digit>:1, as in the other experiments' ``images``)
    and the index of the component it fixes (``reference_component``), or None without a reference."""
    spec, component = p.values.get("reference"), p.values.get("reference_component")
    if spec is None:
        require(component is None, f"{p.key('reference_component')} needs {p.key('reference')} (an image); set both")
        return None
    require(isinstance(spec, str), f"{p.key('reference')}={spec!r} must be one image: a path or mnist-test:<digit>:1")
    require(
        component in d.names,
        f"{p.key('reference_component')}={component!r} must name a component of {d.name}: {', '.join(d.names)}",
    )
    inputs, x0 = load_images(ctx, ParamSection({"reference": [spec]}, p.prefix, {"reference": list}), "reference")
    require(len(x0) == 1, f"{p.key('reference')}={spec!r} names {len(x0)} images; use one (mnist-test:<digit>:1)")
    return spec, d.names.index(component), x0


def describe(d: Decomposition, scale: float, reference: tuple[str, int, torch.Tensor] | None) -> str:
    """The report's text: the formula, the rows and what the judge measures."""
    if d.name == "lowhigh":
        rows = "the hybrid, its low-pass (seen from afar) and high-pass (+0.5) parts"
        success = (
            f"the low prompt's digit from afar (the low-pass image downsampled {AFAR}×, as a distant viewer sees it) "
            "and the high prompt's digit in the hybrid itself, up close"
        )
    else:
        rows = f"the image and its {len(d.names)} components ({', '.join(d.labels)}; zero-mean ones +0.5)"
        seen = []
        for i, name in enumerate(d.names):
            if i == len(d.names) - 1:
                seen.append(f"the {name} prompt's digit in the image itself, up close")
            elif i == 0 and d.from_afar:
                seen.append(f"the {name} prompt's digit from afar (the {d.labels[0]} image downsampled {AFAR}×)")
            else:
                seen.append(f"the {name} prompt's digit in the {' + '.join(d.names[: i + 1])} image")
        success = ", ".join(seen[:-1]) + " and " + seen[-1]
    text = f"{'Hybrid images' if d.name == 'lowhigh' else f'Factorized diffusion ({d.name})'}: {d.formula()}, "
    text += f"CFG γ = {scale}. Rows: {rows}. Success means the judge reads {success}."
    if reference is not None:
        spec, i, _ = reference
        text += (
            f" From a reference image: the {d.names[i]} component is that of {spec} (after every step, x_t's "
            f"{d.names[i]} component is replaced by the reference's, noised to the same timestep, as inpainting "
            "pastes the known pixels)."
        )
    return text


def run(ctx: Context, p: ParamSection) -> Result:
    backend = ctx.backend
    n = p.integer("num_samples", 1)
    scale = guidance_param(p)
    legible = Legibility(ctx, p.integer("best_of", 1, default=1))
    d = decomposition_from_params(p, backend.image_shape)
    parsed = prompts_of(ctx, p, d)
    reference = reference_of(ctx, p, d)
    legible.check(p.key("best_of"))  # after the prompts: a bad prompt is the first thing to fix
    params = {
        f"pair_{j + 1}": " / ".join(f"{name} {q}" for name, q in zip(d.names, prompts))
        for j, (prompts, _) in enumerate(parsed)
    }
    if reference is not None:
        params.update(reference=reference[0], reference_component=d.names[reference[1]])
    result = Result(
        text=describe(d, scale, reference) + legible.text(len(d.names)),
        params={
            "num_samples": n,
            "best_of": legible.per,
            "guidance_scale": scale,
            **d.params(),
            "seed": ctx.seed,
            **params,
        },
    )
    if reference is not None:
        result.figures.append(reference_figure(backend, d, reference))
    for j, (prompts, conds) in enumerate(parsed):
        eps_fn = algorithms.hybrid(backend, d, conds, scale)
        if reference is None:
            x = algorithms.sample(backend, n * legible.per, ctx.timesteps, eps_fn, ctx.generator())
        else:
            _, i, x_ref = reference
            x = algorithms.sample_with_component(
                backend, n * legible.per, ctx.timesteps, eps_fn, ctx.generator(), d, i, x_ref
            )
        image = as_shown(backend, x)
        parts = d.components(image)
        seen = d.seen(image, parts)
        if d.from_afar:
            seen[0] = from_afar(seen[0])
        seen = [view.clamp(0, 1) for view in seen]  # partial sums may round past [0, 1]
        keep = legible.select_all(str(j + 1), list(zip(seen, prompts)))
        result.figures.append(hybrid_figure(backend, d, j, prompts, image[keep], [part[keep] for part in parts]))
    result.metrics.update(legible.finish())
    result.metrics["num_images"] = n * len(parsed)
    return result


def reference_figure(backend: Backend, d: Decomposition, reference: tuple[str, int, torch.Tensor]) -> Figure:
    """The reference image and its components."""
    spec, i, x_ref = reference
    ref01 = as_shown(backend, x_ref)
    return (
        "reference.png",
        grid(
            [[ref01[0], *(part[0] for part in d.shown(d.components(ref01)))]],
            ["reference"],
            ["image", *d.labels],
            cell_size(backend),
        ),
        f"The reference image {spec} and its components; its {d.names[i]} component is kept",
    )


def hybrid_figure(
    backend: Backend, d: Decomposition, j: int, prompts: list[str], image: torch.Tensor, parts: list[torch.Tensor]
) -> Figure:
    """The kept hybrids of pair ``j`` (0-based) in [0, 1], and below them their components."""
    return (
        f"hybrid_{j + 1}.png",
        grid(
            [list(image), *(list(row) for row in d.shown(parts))],
            ["hybrid", *(f"{label}: {q}" for label, q in zip(d.labels, prompts))],
            None,
            cell_size(backend),
        ),
        f"Hybrid {j + 1}: " + ", ".join(f"{q!r} {where}" for q, where in zip(prompts, d.where_seen)),
    )
