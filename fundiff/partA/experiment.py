"""The frame every Part A experiment runs in (docs/course.md, Part A): the :class:`Context` (backend, seed, judge), the
:class:`Result` an experiment returns, the helpers they share, and running and writing one experiment.

Each experiment is one module of fundiff.partA.experiments (``<name>.py``, the name of its DVC stage ``partA@<name>``)
with ``KEYS`` (its params, name -> type), optionally ``DEFAULTS`` (the values of the keys params.yaml may leave out) and
``run(ctx, p) -> Result``. Its section title comes from fundiff.titles.

Metrics are in [0, 1] image units (MSE of clamped images, as a viewer sees them) and, with the MNIST backend and a
digit classifier, success rates: the share of outputs the classifier reads as the prompted digit.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from PIL import Image

from fundiff.errors import FundiffError, require
from fundiff.figures.grids import grid, save_png
from fundiff.params import ParamSection
from fundiff.partA import denoising as loop
from fundiff.partA.backends.base import Backend
from fundiff.partA.inputs import load_inputs
from fundiff.partA.prompts import parse_digit_prompt
from fundiff.result_dirs import manifest_for, write_result
from fundiff.titles import PART_A

Classifier = Callable[[torch.Tensor], torch.Tensor]  # images N×1×28×28 in [0, 1] -> the judge's probabilities N×10
EXPERIMENTS: tuple[str, ...] = tuple(PART_A)  # one module each in fundiff/partA/experiments/


@dataclass
class Context:
    backend: Backend
    seed: int
    classify: Classifier | None = None
    root: Path = Path(".")
    mnist_dir: str = "data/mnist"

    def generator(self) -> torch.Generator:
        """One seed for all of Part A: every experiment starts from the same generator state."""
        return torch.Generator().manual_seed(self.seed)

    @property
    def timesteps(self) -> list[int]:
        return self.backend.default_timesteps

    @property
    def measures_digits(self) -> bool:
        return self.classify is not None and self.backend.image_shape == (1, 28, 28)

    def encode(self, prompt: Any, where: str) -> torch.Tensor:
        require(isinstance(prompt, str), f"{where}={prompt!r} must be a string")
        try:
            return self.backend.encode(prompt)
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

    def every_way(self, readings: Sequence[tuple[torch.Tensor, str]]) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Per image, whether the judge reads each image set of ``readings`` (images, prompt) as its prompt's digit
        (an illusion legible every way: both ways for anagrams and hybrids, K ways for a K-component decomposition),
        and how surely: the product of its probabilities of each prompt's digit in its images. None when the outputs
        cannot be measured."""
        digits = [self.digit(prompt) for _, prompt in readings]
        if any(d is None for d in digits):
            return None
        ok, score = None, None
        for (images, _), d in zip(readings, digits):
            p = self.probabilities(images)  # one judge pass per image set
            hit, sure = p.argmax(dim=1) == d, p[:, d]
            ok, score = (hit, sure) if ok is None else (ok & hit, score * sure)
        return ok, score

    def probabilities(self, images01: torch.Tensor) -> torch.Tensor:
        assert self.classify is not None
        probs = torch.as_tensor(self.classify(images01.detach().cpu().float())).float().cpu()
        return probs.reshape(len(images01), -1)

    def read(self, images01: torch.Tensor) -> torch.Tensor:
        return self.probabilities(images01).argmax(dim=1)


@dataclass
class Result:
    text: str
    params: dict[str, Any]
    figures: list[tuple[str, Image.Image, str]] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class BothWays:
    """Success rates of illusions that must read one way and another (anagrams, hybrids; K ways for a K-component
    decomposition), and judge-guided best-of-N: with ``per`` > 1, each requested output is the candidate, of ``per``
    drawn in a row, that the judge reads most surely every way (the product of its probabilities).
    ``success_rate_<key>`` is the rate of what is kept, ``success_rate_<key>_drawn`` that of every candidate drawn (the
    rate before selection)."""

    ctx: Context
    per: int = 1
    metrics: dict[str, float] = field(default_factory=dict)
    tally: dict[str, list[int]] = field(default_factory=lambda: {"kept": [0, 0], "drawn": [0, 0]})

    def check(self, where: str) -> None:
        require(
            self.per == 1 or self.ctx.measures_digits,
            f"{where}={self.per}: best-of-N selection needs the judge (the mnist backend with a classifier); set it to 1",
        )

    def select(
        self, key: str, first: torch.Tensor, prompt_first: str, second: torch.Tensor, prompt_second: str
    ) -> torch.Tensor:
        """Indices of the outputs to keep (all when ``per`` = 1), recording the success rates: :meth:`select_all`
        of the two readings."""
        return self.select_all(key, [(first, prompt_first), (second, prompt_second)])

    def select_all(self, key: str, readings: Sequence[tuple[torch.Tensor, str]]) -> torch.Tensor:
        """Indices of the outputs to keep (all when ``per`` = 1), recording the success rates: an output succeeds when
        the judge reads every (images, prompt) of ``readings`` as its prompt (Context.every_way)."""
        read = self.ctx.every_way(readings)
        keep = torch.arange(len(readings[0][0]))
        if read is None:
            require(
                self.per == 1,
                f"best-of-N needs digit prompts the judge can read, got {', '.join(repr(q) for _, q in readings)}",
            )
            return keep
        ok, score = read
        if self.per > 1:
            keep = best_of(score, self.per)
            self._count(f"success_rate_{key}_drawn", "drawn", ok)
        self._count(f"success_rate_{key}", "kept", ok[keep])
        return keep

    def _count(self, name: str, tally: str, ok: torch.Tensor) -> None:
        self.metrics[name] = rounded(ok.float().mean())
        self.tally[tally][0] += int(ok.sum())
        self.tally[tally][1] += len(ok)

    def finish(self) -> dict[str, float]:
        """The per-key rates, and the overall ``success_rate`` (and ``success_rate_drawn``) when anything was read."""
        for tally, name in (("kept", "success_rate"), ("drawn", "success_rate_drawn")):
            hits, count = self.tally[tally]
            if count:
                self.metrics[name] = rounded(hits / count)
        return self.metrics


def selection_text(legible: BothWays, ways: int = 2) -> str:
    """What the report says of best-of-N selection of illusions read ``ways`` ways (nothing when every drawn output is
    shown)."""
    if legible.per == 1:
        return ""
    surely = "both ways (the product of its two" if ways == 2 else f"every way (the product of its {ways}"
    return (
        f" Judge-guided best-of-{legible.per}: {legible.per} candidates are drawn for every output shown, and the one "
        f"the judge reads most surely {surely} probabilities) is kept; 'success_rate' is the "
        "rate of the kept outputs, 'success_rate_drawn' that of all candidates (before selection)."
    )


def best_of(score: torch.Tensor, per: int) -> torch.Tensor:
    """Judge-guided best-of-N: ``score`` holds ``per`` candidates of each requested output, consecutively; the index
    of the highest-scoring candidate of each group (the first one on a tie)."""
    groups = score.reshape(-1, per)
    return groups.argmax(dim=1) + torch.arange(len(groups)) * per


def rounded(value: float) -> float:
    return round(float(value), 6)


def image_mse(a01: torch.Tensor, b01: torch.Tensor) -> float:
    return rounded(((a01.detach().cpu().clamp(0, 1) - b01.detach().cpu().clamp(0, 1)) ** 2).mean())


def guidance(p: ParamSection, name: str = "guidance_scale") -> float:
    return p.number(name, 0)


def timesteps_param(ctx: Context, p: ParamSection, name: str) -> list[int]:
    values = p[name]
    require(len(values) > 0, f"{p.key(name)} must be a non-empty list")
    for t in values:
        require(
            isinstance(t, int) and 0 <= t < ctx.backend.num_timesteps,
            f"{p.key(name)} has {t!r}; timesteps are integers in 0..{ctx.backend.num_timesteps - 1}",
        )
    return values


def i_start_param(ctx: Context, p: ParamSection, name: str, value: Any | None = None) -> int:
    value = p[name] if value is None else value
    loop.check_i_start(value, ctx.timesteps, p.key(name))
    return value


def noisy_images(ctx: Context, x0: torch.Tensor, timesteps: list[int]) -> list[torch.Tensor]:
    """The same noisy images in 1.1, 1.2 and 1.3: one generator, one draw per timestep, in order."""
    g = ctx.generator()
    return [loop.forward(ctx.backend, x0, t, loop.randn(x0.shape, g, x0.device)) for t in timesteps]


def load_images(ctx: Context, p: ParamSection, name: str = "images"):
    inputs = load_inputs(ctx.backend, p[name], p.key(name), root=ctx.root, mnist_dir=ctx.mnist_dir)
    return inputs, ctx.backend.to_model(inputs.images).to(ctx.backend.device)


def cell_size(backend: Backend) -> int:
    return 112 if backend.image_shape[-1] <= 32 else 128


def as_shown(backend: Backend, x: torch.Tensor) -> torch.Tensor:
    return backend.to_unit(x.detach().float()).cpu()


def digit_accuracy(ctx: Context, images01: torch.Tensor, prompt: str, result: Result, key: str = "accuracy") -> None:
    digit = ctx.digit(prompt)
    if digit is not None:
        result.metrics[key] = rounded((ctx.read(images01) == digit).float().mean())


def i_starts_param(ctx: Context, p: ParamSection) -> list[int]:
    values = p["i_starts"]
    require(len(values) > 0, f"{p.key('i_starts')} must be a non-empty list")
    for value in values:
        loop.check_i_start(value, ctx.timesteps, p.key("i_starts"))
    return values


def img2img(ctx: Context, p: ParamSection, figure: str, caption: str, text: str) -> Result:
    backend = ctx.backend
    inputs, x0 = load_images(ctx, p)
    i_starts = i_starts_param(ctx, p)
    scale = guidance(p)
    eps_fn = loop.cfg(backend, ctx.encode(p["prompt"], p.key("prompt")), scale)
    g = ctx.generator()
    outputs = {i: as_shown(backend, loop.sdedit(backend, x0, ctx.timesteps, i, eps_fn, g)) for i in i_starts}
    show = min(len(x0), p["num_shown"])
    rows = [[outputs[i][r] for i in i_starts] + [inputs.images[r]] for r in range(show)]
    cols = [f"i_start {i} (t = {ctx.timesteps[i]})" for i in i_starts] + ["original"]
    result = Result(
        text=text.format(prompt=p["prompt"], scale=scale, i_starts=", ".join(map(str, i_starts))),
        params={
            "images": p["images"],
            "i_starts": i_starts,
            "prompt": p["prompt"],
            "guidance_scale": scale,
            "seed": ctx.seed,
        },
    )
    result.figures.append((figure, grid(rows, inputs.names[:show], cols, cell_size(backend)), caption))
    digit = ctx.digit(p["prompt"])
    for i in i_starts:
        result.metrics[f"mse_to_input_i_start_{i:02d}"] = image_mse(outputs[i], inputs.images)
        if digit is not None:
            result.metrics[f"success_rate_i_start_{i:02d}"] = rounded((ctx.read(outputs[i]) == digit).float().mean())
    if digit is not None:
        result.metrics["success_rate"] = rounded(
            sum(result.metrics[f"success_rate_i_start_{i:02d}"] for i in i_starts) / len(i_starts)
        )
    return result


def classifier_fn(path: str | None, param: str) -> Classifier | None:
    """Part B's digit classifier as images01 -> probabilities N×10 (loaded on first use), or None when the param is
    null."""
    if not path:
        return None
    require(Path(path).exists(), f"{param}: {path} not found; run `dvc repro classifier` or set it to null")
    model = None

    def judge(images01: torch.Tensor) -> torch.Tensor:
        nonlocal model
        from fundiff.judge.model import load_classifier, probabilities

        if model is None:
            model = load_classifier(path)
        return probabilities(model, images01)

    return judge


def context_from_params(partA: Any, seed: int, root: Path = Path("."), device: str = "auto") -> Context:
    """The Context of the backend named by ``partA.backend`` (the params section ``partA``); a backend whose own
    ``device`` is auto runs on ``device`` (the top-level param)."""
    from fundiff.params import section
    from fundiff.partA.backends import BACKENDS, load_backend

    name = section(partA, "backend")
    require(name in BACKENDS, f"partA.backend={name!r} is unknown; use one of {', '.join(BACKENDS)}")
    settings = section({"partA": partA}, f"partA.backends.{name}")
    backend = load_backend(name, settings, default_device=device)
    classify = None
    if name == "mnist":
        classify = classifier_fn(settings.get("classifier"), "partA.backends.mnist.classifier")
    return Context(backend=backend, seed=seed, classify=classify, root=root)


def module(name: str) -> ModuleType:
    """The experiment's module, imported on demand: a stage imports only its own experiment (and so depends on it
    alone in dvc.yaml)."""
    require(name in EXPERIMENTS, f"unknown Part A experiment {name!r}; use one of {', '.join(EXPERIMENTS)}")
    return importlib.import_module(f"fundiff.partA.experiments.{name}")


def run_experiment(name: str, ctx: Context, raw_params: dict[str, Any], prefix: str) -> Result:
    """Validate ``raw_params`` (the section ``prefix``) against the experiment's keys, then run it."""
    experiment = module(name)
    if isinstance(raw_params, dict):  # optional keys take their defaults (a non-mapping is ParamSection's error)
        raw_params = {**getattr(experiment, "DEFAULTS", {}), **raw_params}
    params = ParamSection(raw_params, prefix, experiment.KEYS)
    if "num_shown" in experiment.KEYS:
        params.integer("num_shown", 1)
    with torch.no_grad():
        result = experiment.run(ctx, params)
    result.params = {"backend": ctx.backend.name, **result.params}
    return result


def write_experiment(name: str, result: Result, out: str | Path, metrics_file: str | Path) -> None:
    """PNGs + manifest.json (what the report reads) + metrics.json, atomically (fundiff.result_dirs.write_result)."""
    manifest = manifest_for(PART_A[name], result.text, _flat_params(result.params))

    def fill(directory: Path) -> None:
        for filename, image, caption in result.figures:
            save_png(image, directory / filename)
            manifest.add_figure(filename, caption)

    write_result(out, metrics_file, manifest, dict(result.metrics), fill)


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
