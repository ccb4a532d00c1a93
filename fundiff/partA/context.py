"""What every Part A experiment runs in (docs/course.md, Part A): the :class:`Context`, i.e. the backend, the one seed
and the judge, built from the params section ``partA`` by :func:`context_from_params`.

The judge is Part B's digit classifier (MNIST backend only): it reads outputs as digits, for the success rates, and
ranks candidates for best-of-N selection (fundiff.partA.best_of).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from fundiff.errors import FundiffError, require
from fundiff.params import section
from fundiff.partA.backends import BACKENDS, load_backend
from fundiff.partA.backends.base import Backend
from fundiff.partA.prompts import parse_digit_prompt

Classifier = Callable[[torch.Tensor], torch.Tensor]  # images N×1×28×28 in [0, 1] -> the judge's probabilities N×10


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

    def judged_digits(self, images01: torch.Tensor) -> torch.Tensor:
        """The digit the judge reads in each image (int64 N)."""
        return self.probabilities(images01).argmax(dim=1)


def lazy_judge(path: str | None, param: str) -> Classifier | None:
    """Part B's digit classifier as images01 -> probabilities N×10 (loaded on first use), or None when the param is
    null."""
    if not path:
        return None
    require(Path(path).exists(), f"{param}: {path} not found; run `dvc repro classifier` or set it to null")
    model = None

    def judge(images01: torch.Tensor) -> torch.Tensor:
        nonlocal model
        from fundiff.judge.model import load_classifier
        from fundiff.judge.reading import judge_images

        if model is None:
            model = load_classifier(path)
        return torch.from_numpy(judge_images(model, images01).probabilities)

    return judge


def context_from_params(partA: Any, seed: int, root: Path = Path("."), device: str = "auto") -> Context:
    """The Context of the backend named by ``partA.backend`` (the params section ``partA``); a backend whose own
    ``device`` is auto runs on ``device`` (the top-level param)."""
    name = section(partA, "backend")
    require(name in BACKENDS, f"partA.backend={name!r} is unknown; use one of {', '.join(BACKENDS)}")
    settings = section({"partA": partA}, f"partA.backends.{name}")
    backend = load_backend(name, settings, default_device=device)
    classify = None
    if name == "mnist":
        classify = lazy_judge(settings.get("classifier"), "partA.backends.mnist.classifier")
    return Context(backend=backend, seed=seed, classify=classify, root=root)
