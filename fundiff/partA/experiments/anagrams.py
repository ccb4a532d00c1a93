"""Part A 1.8, experiment `anagrams` (docs/course.md, A 1.8): see :func:`run`."""

from __future__ import annotations

from fundiff.errors import require
from fundiff.figures.grids import grid
from fundiff.params import ParamSection
from fundiff.partA import algorithms
from fundiff.partA.best_of import Legibility
from fundiff.partA.context import Context
from fundiff.partA.experiment_params import guidance_param
from fundiff.partA.result import Result, as_shown, cell_size
from fundiff.partA.views import VIEWS, IdentityView, get_view

KEYS = {"illusions": list, "num_samples": int, "guidance_scale": float, "best_of": int}


def run(ctx: Context, p: ParamSection) -> Result:
    backend = ctx.backend
    n = p.integer("num_samples", 1)
    scale = guidance_param(p)
    legible = Legibility(ctx, p.integer("best_of", 1, default=1))
    illusions = p["illusions"]
    require(len(illusions) > 0, f"{p.key('illusions')} must be a non-empty list")
    parsed = []
    for k, item in enumerate(illusions):
        where = f"{p.key('illusions')}[{k}]"
        require(
            isinstance(item, dict)
            and {"view", "prompts"} <= set(item)
            and isinstance(item["prompts"], list)
            and len(item["prompts"]) == 2,
            f"{where} must be {{view: <{'|'.join(VIEWS)}>, prompts: [upright, viewed]}} and the view's arguments",
        )
        args = {key: value for key, value in item.items() if key not in ("view", "prompts")}
        view = get_view(item["view"], f"{where}.view", args, where)
        view.check(backend.image_shape, where)
        conds = [ctx.encode(q, f"{where}.prompts[{j}]") for j, q in enumerate(item["prompts"])]
        parsed.append((view, item["prompts"], conds))
    legible.check(p.key("best_of"))  # after the prompts: a bad prompt is the first thing to fix
    result = Result(
        text=(
            f"Visual anagrams: ε = ½[ε̂(x_t, p₁) + view⁻¹(ε̂(view(x_t), p₂))], CFG γ = {scale} on each; "
            f"{n} sample(s) per illusion; the second row shows each image through its view.{legible.text()}"
        ),
        params={
            "num_samples": n,
            "best_of": legible.per,
            "guidance_scale": scale,
            "seed": ctx.seed,
            **{f"illusion_{k + 1}": f"{v.label}: {q[0]} / {q[1]}" for k, (v, q, _) in enumerate(parsed)},
        },
    )
    for k, (view, prompts, conds) in enumerate(parsed):
        eps_fn = algorithms.anagram(backend, [(IdentityView(), conds[0]), (view, conds[1])], scale)
        x = algorithms.sample(backend, n * legible.per, ctx.timesteps, eps_fn, ctx.generator())
        upright = as_shown(backend, x)
        viewed = as_shown(backend, view.view(x, backend.value_mid))
        keep = legible.select(f"{k + 1}_{view.name}", upright, prompts[0], viewed, prompts[1])
        upright, viewed = upright[keep], viewed[keep]
        name = f"anagram_{k + 1}_{view.name}.png"
        result.figures.append(
            (
                name,
                grid(
                    [list(upright), list(viewed)], [prompts[0], f"{view.name}: {prompts[1]}"], None, cell_size(backend)
                ),
                f"Anagram {k + 1} ({view.label}): {prompts[0]!r} / {prompts[1]!r}",
            )
        )
    result.metrics.update(legible.finish())
    result.metrics["num_images"] = n * len(parsed)
    return result
