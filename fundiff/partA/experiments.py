"""Every experiment of SPEC Part A (0, 1.1-1.9) as one function over the denoiser interface.

``run_experiment(name, ctx, params, prefix)`` returns a :class:`Result` (figures, captions, flat metrics, the params
that made them); ``write_result`` puts it in a directory with ``manifest.json`` and ``metrics.json``. The stage
(``python -m stages.partA <name>``) only picks the backend, the params section and the output directory.

Metrics are in [0, 1] image units (MSE of clamped images, as a viewer sees them) and, with the MNIST backend and a
digit classifier, success rates: the share of outputs the classifier reads as the prompted digit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from PIL import Image

from fundiff.denoiser import Denoiser, parse_digit_prompt
from fundiff.errors import FundiffError, require
from fundiff.manifest import Manifest
from fundiff.partA import loop
from fundiff.partA.filters import check_kernel, highpass, lowpass
from fundiff.partA.grid import grid
from fundiff.partA.inputs import load_inputs, load_mask
from fundiff.partA.views import VIEWS, IdentityView, get_view

Classifier = Callable[[torch.Tensor], torch.Tensor]  # images N×1×28×28 in [0, 1] -> predicted digits (N,)


@dataclass
class Context:
    den: Denoiser
    seed: int
    classify: Classifier | None = None
    root: Path = Path(".")
    mnist_dir: str = "data/mnist"

    def generator(self) -> torch.Generator:
        """One seed for all of Part A: every experiment starts from the same generator state."""
        return torch.Generator().manual_seed(self.seed)

    @property
    def timesteps(self) -> list[int]:
        return self.den.default_timesteps

    @property
    def measures_digits(self) -> bool:
        return self.classify is not None and self.den.image_shape == (1, 28, 28)

    def encode(self, prompt: Any, where: str) -> torch.Tensor:
        require(isinstance(prompt, str), f"{where}={prompt!r} must be a string")
        try:
            return self.den.encode(prompt)
        except FundiffError as error:
            raise FundiffError(f"{where}: {error}") from error

    def digit(self, prompt: str) -> int | None:
        """The digit a prompt names, when outputs can be measured by the classifier."""
        if not self.measures_digits:
            return None
        try:
            return parse_digit_prompt(prompt)
        except FundiffError:
            return None

    def read(self, images01: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(self.classify(images01.detach().cpu().float())).reshape(-1).long().cpu()


@dataclass
class Result:
    text: str
    params: dict[str, Any]
    figures: list[tuple[str, Image.Image, str]] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)


class Params:
    """An experiment's params section: unknown keys and wrong types fail with the dotted key named."""

    def __init__(self, raw: Any, prefix: str, known: dict[str, type | tuple]):
        require(isinstance(raw, dict), f"params.yaml has no {prefix} section (a mapping)")
        unknown = sorted(set(raw) - set(known))
        require(not unknown, f"{prefix}.{unknown[0] if unknown else ''} is not a known key; known: {', '.join(sorted(known))}")
        missing = sorted(set(known) - set(raw))
        require(not missing, f"{prefix}.{missing[0] if missing else ''} is missing")
        self.raw, self.prefix, self.known = raw, prefix, known

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}"

    def __getitem__(self, name: str) -> Any:
        value, kind = self.raw[name], self.known[name]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        require(isinstance(value, kind) and not (kind is int and isinstance(value, bool)),
                f"{self.key(name)}={value!r} has the wrong type (want {getattr(kind, '__name__', kind)})")
        return value


def _r(value: float) -> float:
    return round(float(value), 6)


def _mse(a01: torch.Tensor, b01: torch.Tensor) -> float:
    return _r(((a01.detach().cpu().clamp(0, 1) - b01.detach().cpu().clamp(0, 1)) ** 2).mean())


def _positive_int(p: Params, name: str) -> int:
    value = p[name]
    require(value >= 1, f"{p.key(name)}={value} must be >= 1")
    return value


def _scale(p: Params, name: str = "guidance_scale") -> float:
    value = p[name]
    require(value >= 0, f"{p.key(name)}={value} must be >= 0")
    return value


def _timesteps_list(ctx: Context, p: Params, name: str) -> list[int]:
    values = p[name]
    require(len(values) > 0, f"{p.key(name)} must be a non-empty list")
    for t in values:
        require(isinstance(t, int) and 0 <= t < ctx.den.num_timesteps,
                f"{p.key(name)} has {t!r}; timesteps are integers in 0..{ctx.den.num_timesteps - 1}")
    return values


def _i_start(ctx: Context, p: Params, name: str, value: Any | None = None) -> int:
    value = p[name] if value is None else value
    loop.check_i_start(value, ctx.timesteps, p.key(name))
    return value


def _noisy(ctx: Context, x0: torch.Tensor, timesteps: list[int]) -> list[torch.Tensor]:
    """The same noisy images in 1.1, 1.2 and 1.3: one generator, one draw per timestep, in order."""
    g = ctx.generator()
    return [loop.forward(ctx.den, x0, t, loop.randn(x0.shape, g, x0.device)) for t in timesteps]


def _inputs(ctx: Context, p: Params, name: str = "images"):
    inputs = load_inputs(ctx.den, p[name], p.key(name), root=ctx.root, mnist_dir=ctx.mnist_dir)
    return inputs, ctx.den.to_model(inputs.images).to(ctx.den.device)


def _cell(den: Denoiser) -> int:
    return 112 if den.image_shape[-1] <= 32 else 128


def _show(den: Denoiser, x: torch.Tensor) -> torch.Tensor:
    return den.to_unit(x.detach().float()).cpu()


# ---- 0: sampling with the stock pipeline ---------------------------------------------------------------------------


def run_pipeline(ctx: Context, p: Params) -> Result:
    den = ctx.den
    prompts = p["prompts"]
    for k, prompt in enumerate(prompts):
        ctx.encode(prompt, f"{p.key('prompts')}[{k}]")
    steps_list = p["num_inference_steps"]
    for steps in steps_list:
        require(isinstance(steps, int) and 1 <= steps <= den.num_timesteps,
                f"{p.key('num_inference_steps')} has {steps!r}; use integers in 1..{den.num_timesteps}")
    per_prompt = _positive_int(p, "num_per_prompt")
    scale = _scale(p)
    repeated = [prompt for prompt in prompts for _ in range(per_prompt)]
    result = Result(
        text=(f"Samples of the stock sampler ({'IF stage I then stage II' if den.name == 'deepfloyd' else 'our strided DDPM loop with CFG'}) "
              f"for {len(prompts)} prompts at {', '.join(map(str, steps_list))} steps; seed {ctx.seed}."),
        params={"prompts": prompts, "num_inference_steps": steps_list, "num_per_prompt": per_prompt,
                "guidance_scale": scale, "seed": ctx.seed},
    )
    correct_all, total_all = 0, 0
    for steps in steps_list:
        low, high = den.pipeline_samples(repeated, steps, ctx.seed, scale)
        rows = [list(low)] + ([list(high)] if high is not None else [])
        labels = [f"{den.image_shape[-1]}px"] + ([f"{high.shape[-1]}px (stage II)"] if high is not None else [])
        name = f"samples_{steps:03d}_steps.png"
        result.figures.append((name, grid(rows, labels, repeated, cell=_cell(den)),
                               f"{steps} inference steps, seed {ctx.seed}: one column per prompt"))
        digits = [ctx.digit(prompt) for prompt in repeated]
        if ctx.measures_digits and all(d is not None for d in digits):
            hits = (ctx.read(low) == torch.tensor(digits)).sum().item()
            result.metrics[f"accuracy_steps_{steps}"] = _r(hits / len(digits))
            correct_all, total_all = correct_all + hits, total_all + len(digits)
    if total_all:
        result.metrics["accuracy"] = _r(correct_all / total_all)
    result.metrics["num_images"] = len(repeated) * len(steps_list)
    return result


# ---- 1.1 forward, 1.2 blur, 1.3 one-step --------------------------------------------------------------------------


def run_forward(ctx: Context, p: Params) -> Result:
    den = ctx.den
    inputs, x0 = _inputs(ctx, p)
    ts = _timesteps_list(ctx, p, "timesteps")
    noisy = _noisy(ctx, x0, ts)
    show = min(len(x0), p["num_shown"])
    rows = [[inputs.images[i]] + [_show(den, x[i]) for x in noisy] for i in range(show)]
    result = Result(
        text="The forward process x_t = √ᾱ_t·x_0 + √(1−ᾱ_t)·ε on the test image(s).",
        params={"images": p["images"], "timesteps": ts, "seed": ctx.seed},
    )
    result.figures.append(("forward.png", grid(rows, inputs.names[:show], ["clean"] + [f"t = {t}" for t in ts], _cell(den)),
                           f"Noised at t = {', '.join(map(str, ts))} (of T = {den.num_timesteps})"))
    for t, x in zip(ts, noisy):
        result.metrics[f"mse_noisy_t{t}"] = _mse(_show(den, x), inputs.images)
    return result


def run_blur(ctx: Context, p: Params) -> Result:
    den = ctx.den
    inputs, x0 = _inputs(ctx, p)
    ts = _timesteps_list(ctx, p, "timesteps")
    k, s = p["kernel_size"], p["sigma"]
    check_kernel(k, s, den.image_shape[-1], p.prefix)
    noisy = _noisy(ctx, x0, ts)
    blurred = [lowpass(x, k, s) for x in noisy]
    show = min(len(x0), p["num_shown"])
    rows = []
    for i in range(show):
        rows.append([_show(den, x[i]) for x in noisy])
        rows.append([_show(den, x[i]) for x in blurred])
    labels = [label for i in range(show) for label in (f"{inputs.names[i]}: noisy", f"{inputs.names[i]}: blurred")]
    result = Result(
        text=f"Classical denoising: Gaussian blur (kernel {k}, σ {s}) of each noisy image.",
        params={"images": p["images"], "timesteps": ts, "kernel_size": k, "sigma": s, "seed": ctx.seed},
    )
    result.figures.append(("blur.png", grid(rows, labels, [f"t = {t}" for t in ts], _cell(den)),
                           f"Noisy images and their Gaussian blur (kernel {k}, σ {s})"))
    for t, x, b in zip(ts, noisy, blurred):
        result.metrics[f"mse_noisy_t{t}"] = _mse(_show(den, x), inputs.images)
        result.metrics[f"mse_blur_t{t}"] = _mse(_show(den, b), inputs.images)
    return result


def run_one_step(ctx: Context, p: Params) -> Result:
    den = ctx.den
    inputs, x0 = _inputs(ctx, p)
    ts = _timesteps_list(ctx, p, "timesteps")
    eps_fn = loop.conditional(den, ctx.encode(p["prompt"], p.key("prompt")))
    noisy = _noisy(ctx, x0, ts)
    denoised = [loop.one_step(den, x, t, eps_fn) for t, x in zip(ts, noisy)]
    show = min(len(x0), p["num_shown"])
    rows = []
    for i in range(show):
        rows.append([_show(den, x[i]) for x in noisy])
        rows.append([_show(den, x[i]) for x in denoised])
    labels = [label for i in range(show) for label in (f"{inputs.names[i]}: noisy", f"{inputs.names[i]}: one-step")]
    result = Result(
        text=f"One-step denoising x̂0 = (x_t − √(1−ᾱ_t)·ε̂)/√ᾱ_t with ε̂ = UNet(x_t, t, {p['prompt']!r}).",
        params={"images": p["images"], "timesteps": ts, "prompt": p["prompt"], "seed": ctx.seed},
    )
    result.figures.append(("one_step.png", grid(rows, labels, [f"t = {t}" for t in ts], _cell(den)),
                           "Noisy images and their one-step estimate of the clean image"))
    for t, x, d in zip(ts, noisy, denoised):
        result.metrics[f"mse_noisy_t{t}"] = _mse(_show(den, x), inputs.images)
        result.metrics[f"mse_one_step_t{t}"] = _mse(_show(den, d), inputs.images)
    return result


# ---- 1.4 iterative -------------------------------------------------------------------------------------------------


def run_iterative(ctx: Context, p: Params) -> Result:
    den = ctx.den
    inputs, x0 = _inputs(ctx, p)
    i_start = _i_start(ctx, p, "i_start")
    every = _positive_int(p, "show_every")
    k, s = p["blur_kernel_size"], p["blur_sigma"]
    check_kernel(k, s, den.image_shape[-1], p.prefix + ".blur")
    ts = ctx.timesteps
    t0 = ts[i_start]
    eps_fn = loop.conditional(den, ctx.encode(p["prompt"], p.key("prompt")))
    g = ctx.generator()
    x_t = loop.forward(den, x0, t0, loop.randn(x0.shape, g, x0.device))
    clean, frames = loop.iterative_denoise(den, x_t, ts, eps_fn, g, i_start=i_start, keep_every=every)
    one = loop.one_step(den, x_t, t0, eps_fn)
    blurred = lowpass(x_t, k, s)
    show = min(len(x0), p["num_shown"])
    result = Result(
        text=(f"Iterative denoising over the strided timesteps {ts[0]}, {ts[1]}, …, {ts[-1]} from i_start = {i_start} "
              f"(t = {t0}), prompt {p['prompt']!r}, every {every}th frame shown; compared with one-step denoising and "
              f"Gaussian blur (kernel {k}, σ {s})."),
        params={"images": p["images"], "i_start": i_start, "t_start": t0, "prompt": p["prompt"], "show_every": every,
                "timesteps_start": ts[0], "timesteps_stride": ts[0] - ts[1], "blur_kernel_size": k, "blur_sigma": s,
                "seed": ctx.seed},
    )
    frame_rows = [[_show(den, x[i]) for _, x in frames] + [_show(den, clean[i])] for i in range(show)]
    result.figures.append(("iterative_frames.png",
                           grid(frame_rows, inputs.names[:show], [f"t = {t}" for t, _ in frames] + ["t = 0"], _cell(den)),
                           f"The denoising loop every {every}th step from t = {t0}"))
    compare = [[inputs.images[i], _show(den, x_t[i]), _show(den, clean[i]), _show(den, one[i]), _show(den, blurred[i])]
               for i in range(show)]
    result.figures.append(("iterative_compare.png",
                           grid(compare, inputs.names[:show], ["original", f"noisy (t = {t0})", "iterative", "one-step",
                                                               "blur"], _cell(den)),
                           "Iteratively denoised, one-step denoised and blurred, side by side"))
    result.metrics.update({
        "mse_noisy": _mse(_show(den, x_t), inputs.images),
        "mse_iterative": _mse(_show(den, clean), inputs.images),
        "mse_one_step": _mse(_show(den, one), inputs.images),
        "mse_blur": _mse(_show(den, blurred), inputs.images),
    })
    return result


# ---- 1.5 sampling, 1.6 CFG -----------------------------------------------------------------------------------------


def _accuracy(ctx: Context, images01: torch.Tensor, prompt: str, result: Result, key: str = "accuracy") -> None:
    digit = ctx.digit(prompt)
    if digit is not None:
        result.metrics[key] = _r((ctx.read(images01) == digit).float().mean())


def run_sampling(ctx: Context, p: Params) -> Result:
    den = ctx.den
    n = _positive_int(p, "num_samples")
    eps_fn = loop.conditional(den, ctx.encode(p["prompt"], p.key("prompt")))
    samples = _show(den, loop.sample(den, n, ctx.timesteps, eps_fn, ctx.generator()))
    result = Result(
        text=f"{n} samples from pure noise (i_start = 0) with prompt {p['prompt']!r}, no guidance.",
        params={"prompt": p["prompt"], "num_samples": n, "seed": ctx.seed},
    )
    result.figures.append(("samples.png", grid([list(samples)], None, None, _cell(den)), f"{n} samples, prompt {p['prompt']!r}"))
    result.metrics["num_samples"] = n
    _accuracy(ctx, samples, p["prompt"], result)
    return result


def run_cfg(ctx: Context, p: Params) -> Result:
    den = ctx.den
    n = _positive_int(p, "num_samples")
    scale = _scale(p)
    eps_fn = loop.cfg(den, ctx.encode(p["prompt"], p.key("prompt")), scale)
    samples = _show(den, loop.sample(den, n, ctx.timesteps, eps_fn, ctx.generator()))
    result = Result(
        text=f"{n} samples with classifier-free guidance γ = {scale} (null prompt ''), prompt {p['prompt']!r}.",
        params={"prompt": p["prompt"], "guidance_scale": scale, "num_samples": n, "seed": ctx.seed},
    )
    result.figures.append(("cfg_samples.png", grid([list(samples)], None, None, _cell(den)),
                           f"{n} CFG samples (γ = {scale}), prompt {p['prompt']!r}"))
    result.metrics["num_samples"] = n
    _accuracy(ctx, samples, p["prompt"], result)
    return result


# ---- 1.7 SDEdit, 1.7.3 text-conditional ----------------------------------------------------------------------------


def _i_starts(ctx: Context, p: Params) -> list[int]:
    values = p["i_starts"]
    require(len(values) > 0, f"{p.key('i_starts')} must be a non-empty list")
    for value in values:
        loop.check_i_start(value, ctx.timesteps, p.key("i_starts"))
    return values


def _img2img(ctx: Context, p: Params, figure: str, caption: str, text: str) -> Result:
    den = ctx.den
    inputs, x0 = _inputs(ctx, p)
    i_starts = _i_starts(ctx, p)
    scale = _scale(p)
    eps_fn = loop.cfg(den, ctx.encode(p["prompt"], p.key("prompt")), scale)
    g = ctx.generator()
    outputs = {i: _show(den, loop.sdedit(den, x0, ctx.timesteps, i, eps_fn, g)) for i in i_starts}
    show = min(len(x0), p["num_shown"])
    rows = [[outputs[i][r] for i in i_starts] + [inputs.images[r]] for r in range(show)]
    cols = [f"i_start {i} (t = {ctx.timesteps[i]})" for i in i_starts] + ["original"]
    result = Result(
        text=text.format(prompt=p["prompt"], scale=scale, i_starts=", ".join(map(str, i_starts))),
        params={"images": p["images"], "i_starts": i_starts, "prompt": p["prompt"], "guidance_scale": scale,
                "seed": ctx.seed},
    )
    result.figures.append((figure, grid(rows, inputs.names[:show], cols, _cell(den)), caption))
    digit = ctx.digit(p["prompt"])
    for i in i_starts:
        result.metrics[f"mse_to_input_i_start_{i:02d}"] = _mse(outputs[i], inputs.images)
        if digit is not None:
            result.metrics[f"success_rate_i_start_{i:02d}"] = _r((ctx.read(outputs[i]) == digit).float().mean())
    if digit is not None:
        result.metrics["success_rate"] = _r(sum(result.metrics[f"success_rate_i_start_{i:02d}"] for i in i_starts) / len(i_starts))
    return result


def run_sdedit(ctx: Context, p: Params) -> Result:
    return _img2img(ctx, p, "sdedit.png", "SDEdit of each image (rows) from each i_start (columns)",
                    "Image-to-image translation (SDEdit): each image noised to the strided timestep i_start ∈ "
                    "{{{i_starts}}} and denoised with CFG (γ = {scale}), prompt {prompt!r}: the smaller i_start (the "
                    "noisier the start), the more the model invents. Rows: the test image, a web image and hand-drawn images.")


def run_text_img2img(ctx: Context, p: Params) -> Result:
    return _img2img(ctx, p, "text_img2img.png", "Text-conditional image-to-image: rows are inputs, columns i_start",
                    "Text-conditional image-to-image: SDEdit toward the prompt {prompt!r} (CFG γ = {scale}) from "
                    "i_start ∈ {{{i_starts}}}.")


# ---- 1.7.2 inpainting -----------------------------------------------------------------------------------------------


def run_inpainting(ctx: Context, p: Params) -> Result:
    den = ctx.den
    inputs, x0 = _inputs(ctx, p)
    mask = load_mask(den, p["mask"], p.key("mask"), root=ctx.root)
    scale = _scale(p)
    eps_fn = loop.cfg(den, ctx.encode(p["prompt"], p.key("prompt")), scale)
    out = _show(den, loop.inpaint(den, x0, mask, ctx.timesteps, eps_fn, ctx.generator()))
    show = min(len(x0), p["num_shown"])
    m = mask[0].expand(den.image_shape[0], -1, -1).cpu()
    rows = [[inputs.images[i], m, inputs.images[i] * (1 - m), out[i]] for i in range(show)]
    result = Result(
        text=(f"Inpainting (RePaint-style): from pure noise, after every step the unmasked part is replaced by the "
              f"original noised to the same timestep; prompt {p['prompt']!r}, CFG γ = {scale}."),
        params={"images": p["images"], "mask": p["mask"], "prompt": p["prompt"], "guidance_scale": scale,
                "seed": ctx.seed},
    )
    result.figures.append(("inpainting.png", grid(rows, inputs.names[:show], ["original", "mask", "kept", "inpainted"],
                                                  _cell(den)), "White in the mask = new content"))
    keep = (1 - mask[0]).cpu()
    diff = ((out - inputs.images) ** 2 * keep).sum() / (keep.sum() * out.shape[0] * out.shape[1])
    result.metrics["mse_outside_mask"] = _r(diff)
    result.metrics["num_images"] = len(x0)
    digit = ctx.digit(p["prompt"])
    if digit is not None:
        result.metrics["success_rate"] = _r((ctx.read(out) == digit).float().mean())
    return result


# ---- 1.8 visual anagrams -------------------------------------------------------------------------------------------


def run_anagrams(ctx: Context, p: Params) -> Result:
    den = ctx.den
    n = _positive_int(p, "num_samples")
    scale = _scale(p)
    illusions = p["illusions"]
    require(len(illusions) > 0, f"{p.key('illusions')} must be a non-empty list")
    parsed = []
    for k, item in enumerate(illusions):
        where = f"{p.key('illusions')}[{k}]"
        require(isinstance(item, dict) and set(item) == {"view", "prompts"} and isinstance(item["prompts"], list)
                and len(item["prompts"]) == 2, f"{where} must be {{view: <{'|'.join(VIEWS)}>, prompts: [upright, viewed]}}")
        view = get_view(item["view"], f"{where}.view")
        conds = [ctx.encode(q, f"{where}.prompts[{j}]") for j, q in enumerate(item["prompts"])]
        parsed.append((view, item["prompts"], conds))
    result = Result(
        text=(f"Visual anagrams: ε = ½[ε̂(x_t, p₁) + view⁻¹(ε̂(view(x_t), p₂))], CFG γ = {scale} on each; "
              f"{n} sample(s) per illusion; the second row shows each image through its view."),
        params={"num_samples": n, "guidance_scale": scale, "seed": ctx.seed,
                **{f"illusion_{k + 1}": f"{v.name}: {q[0]} / {q[1]}" for k, (v, q, _) in enumerate(parsed)}},
    )
    hits_all, count_all = 0, 0
    for k, (view, prompts, conds) in enumerate(parsed):
        eps_fn = loop.anagram(den, [(IdentityView(), conds[0]), (view, conds[1])], scale)
        x = loop.sample(den, n, ctx.timesteps, eps_fn, ctx.generator())
        upright = _show(den, x)
        viewed = _show(den, view.view(x, den.value_mid))
        name = f"anagram_{k + 1}_{view.name}.png"
        result.figures.append((name, grid([list(upright), list(viewed)], [prompts[0], f"{view.name}: {prompts[1]}"], None,
                                          _cell(den)), f"Anagram {k + 1} ({view.name}): {prompts[0]!r} / {prompts[1]!r}"))
        d1, d2 = ctx.digit(prompts[0]), ctx.digit(prompts[1])
        if d1 is not None and d2 is not None:
            ok = (ctx.read(upright) == d1) & (ctx.read(viewed) == d2)
            result.metrics[f"success_rate_{k + 1}_{view.name}"] = _r(ok.float().mean())
            hits_all, count_all = hits_all + int(ok.sum()), count_all + len(ok)
    if count_all:
        result.metrics["success_rate"] = _r(hits_all / count_all)
    result.metrics["num_images"] = n * len(parsed)
    return result


# ---- 1.9 hybrid images ---------------------------------------------------------------------------------------------


def run_hybrids(ctx: Context, p: Params) -> Result:
    den = ctx.den
    n = _positive_int(p, "num_samples")
    scale = _scale(p)
    k, s = p["kernel_size"], p["sigma"]
    check_kernel(k, s, den.image_shape[-1], p.prefix)
    pairs = p["pairs"]
    require(len(pairs) > 0, f"{p.key('pairs')} must be a non-empty list")
    parsed = []
    for j, item in enumerate(pairs):
        where = f"{p.key('pairs')}[{j}]"
        require(isinstance(item, dict) and set(item) == {"low", "high"}, f"{where} must be {{low: prompt, high: prompt}}")
        parsed.append((item["low"], item["high"], ctx.encode(item["low"], f"{where}.low"),
                       ctx.encode(item["high"], f"{where}.high")))
    result = Result(
        text=(f"Hybrid images: ε = lowpass(ε̂(p_low)) + highpass(ε̂(p_high)), Gaussian kernel {k}, σ {s}, CFG γ = "
              f"{scale}. Rows: the hybrid, its low-pass (seen from afar) and high-pass (+0.5) parts."),
        params={"num_samples": n, "guidance_scale": scale, "kernel_size": k, "sigma": s, "seed": ctx.seed,
                **{f"pair_{j + 1}": f"low {lo} / high {hi}" for j, (lo, hi, _, _) in enumerate(parsed)}},
    )
    hits_all, count_all = 0, 0
    for j, (lo, hi, c_lo, c_hi) in enumerate(parsed):
        x = loop.sample(den, n, ctx.timesteps, loop.hybrid(den, c_lo, c_hi, scale, k, s), ctx.generator())
        image = _show(den, x)
        far = lowpass(image, k, s)
        near = (highpass(image, k, s) + 0.5).clamp(0, 1)
        result.figures.append((f"hybrid_{j + 1}.png", grid([list(image), list(far), list(near)],
                                                           ["hybrid", f"low-pass: {lo}", f"high-pass: {hi}"], None, _cell(den)),
                               f"Hybrid {j + 1}: {lo!r} from afar, {hi!r} up close"))
        d_lo, d_hi = ctx.digit(lo), ctx.digit(hi)
        if d_lo is not None and d_hi is not None:
            ok = (ctx.read(far) == d_lo) & (ctx.read(image) == d_hi)
            result.metrics[f"success_rate_{j + 1}"] = _r(ok.float().mean())
            hits_all, count_all = hits_all + int(ok.sum()), count_all + len(ok)
    if count_all:
        result.metrics["success_rate"] = _r(hits_all / count_all)
    result.metrics["num_images"] = n * len(parsed)
    return result


# ---- registry ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Experiment:
    name: str
    section: str
    title: str
    order: int
    run: Callable[[Context, Params], Result]
    keys: dict[str, Any]


_IMG = {"images": list, "num_shown": int}
EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in (
        Experiment("pipeline", "A 0", "Sampling from the pretrained model", 0, run_pipeline,
                   {"prompts": list, "num_inference_steps": list, "num_per_prompt": int, "guidance_scale": float}),
        Experiment("forward", "A 1.1", "The forward process", 110, run_forward, {**_IMG, "timesteps": list}),
        Experiment("blur", "A 1.2", "Classical denoising", 120, run_blur,
                   {**_IMG, "timesteps": list, "kernel_size": int, "sigma": float}),
        Experiment("one_step", "A 1.3", "One-step denoising", 130, run_one_step, {**_IMG, "timesteps": list, "prompt": str}),
        Experiment("iterative", "A 1.4", "Iterative denoising", 140, run_iterative,
                   {**_IMG, "i_start": int, "prompt": str, "show_every": int, "blur_kernel_size": int, "blur_sigma": float}),
        Experiment("sampling", "A 1.5", "Diffusion model sampling", 150, run_sampling, {"prompt": str, "num_samples": int}),
        Experiment("cfg", "A 1.6", "Classifier-free guidance", 160, run_cfg,
                   {"prompt": str, "num_samples": int, "guidance_scale": float}),
        Experiment("sdedit", "A 1.7", "Image-to-image translation (SDEdit)", 170, run_sdedit,
                   {**_IMG, "i_starts": list, "prompt": str, "guidance_scale": float}),
        Experiment("inpainting", "A 1.7.2", "Inpainting", 172, run_inpainting,
                   {**_IMG, "mask": str, "prompt": str, "guidance_scale": float}),
        Experiment("text_img2img", "A 1.7.3", "Text-conditional image-to-image translation", 173, run_text_img2img,
                   {**_IMG, "i_starts": list, "prompt": str, "guidance_scale": float}),
        Experiment("anagrams", "A 1.8", "Visual anagrams", 180, run_anagrams,
                   {"illusions": list, "num_samples": int, "guidance_scale": float}),
        Experiment("hybrids", "A 1.9", "Hybrid images", 190, run_hybrids,
                   {"pairs": list, "num_samples": int, "guidance_scale": float, "kernel_size": int, "sigma": float}),
    )
}


def run_experiment(name: str, ctx: Context, raw_params: dict[str, Any], prefix: str) -> Result:
    """Validate ``raw_params`` (the section ``prefix``) against the experiment's keys, then run it."""
    require(name in EXPERIMENTS, f"unknown Part A experiment {name!r}; use one of {', '.join(EXPERIMENTS)}")
    experiment = EXPERIMENTS[name]
    params = Params(raw_params, prefix, experiment.keys)
    if "num_shown" in experiment.keys:
        _positive_int(params, "num_shown")
    with torch.no_grad():
        result = experiment.run(ctx, params)
    result.params = {"backend": ctx.den.name, **result.params}
    return result


def write_result(name: str, result: Result, directory: str | Path) -> None:
    """PNGs + manifest.json (what the report reads) + metrics.json (flat, sorted: the DVC metrics file)."""
    directory = Path(directory)
    experiment = EXPERIMENTS[name]
    manifest = Manifest(section=experiment.section, title=experiment.title, order=experiment.order, text=result.text,
                        params=_flat_params(result.params), metrics=dict(result.metrics))
    for filename, image, caption in result.figures:
        image.save(directory / filename, format="PNG", optimize=False)
        manifest.add_figure(filename, caption)
    manifest.write(directory)
    (directory / "metrics.json").write_text(json.dumps(result.metrics, indent=2, sort_keys=True, allow_nan=False) + "\n")


def _flat_params(params: dict[str, Any]) -> dict[str, Any]:
    flat = {}
    for key, value in params.items():
        if isinstance(value, (list, tuple)) and all(isinstance(v, (int, float, str, bool)) for v in value):
            flat[key] = list(value)
        elif isinstance(value, (dict, list, tuple)):
            flat[key] = json.dumps(value, sort_keys=True)
        else:
            flat[key] = value
    return flat
