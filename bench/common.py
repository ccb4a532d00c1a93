"""What the bench scripts share, so that none of them reads params, samples or draws a floor its own way:

* params read as a stage reads them (``stages._cli.load_params``) and checked by fundiff's own validators;
* variants (``--set``, ``--profile``) composed as `dvc exp run -S` composes params.yaml: DVC's Hydra composition of
  conf/ (:func:`compose_into`, :func:`composed_params`);
* a DDPM checkpoint loaded and sampled as the sample stage does it (:class:`DdpmSampler`: ``sample.<model>``'s
  settings from ``fundiff.partB.sample_settings``, one ``fundiff.partB.sampling.sample`` call);
* the pipeline's judge with its FID floor (:class:`JudgeWithFloor`: ``fundiff.judge.reading.RealDigits`` from the
  params' seed, so a bench floor equals the pipeline's at the same count);
* one-line errors, exit 2 (:func:`one_line_errors`).

Run the scripts from the repository root (``python bench/<script>.py``): their paths are relative to it.
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from fundiff.data import load_splits, to_tensor_images
from fundiff.diffusion.diffusers_schedulers import load_scheduler_config
from fundiff.errors import FundiffError
from fundiff.judge.model import MnistClassifier, load_classifier
from fundiff.judge.reading import Reading, RealDigits, judge_images
from fundiff.params import section, seed_of
from fundiff.partB.checkpoints import checkpoint_dir, epoch_name, load_for_sampling, load_train_config, schedule_of
from fundiff.partB.config import KINDS
from fundiff.partB.sample_result import SampleResult
from fundiff.partB.sample_settings import DdpmSampleParams, sample_params
from fundiff.partB.sampling import SamplerSettings, timed_draw
from stages._cli import PARAMS_FILE, load_params

CONF = Path("conf")
DATA = Path("data/mnist")
MODELS = Path("data/models")


def one_line_errors(main: Callable[[], None]) -> Callable[[], None]:
    """Run ``main``; bad params or missing pipeline outputs are one line on stderr and exit 2, like a stage's
    (``FUNDIFF_DEBUG=1`` keeps the traceback). Unlike ``stages._cli.entrypoint``, no stage timing is recorded."""

    @functools.wraps(main)
    def wrapper() -> None:
        try:
            main()
        except (FundiffError, FileNotFoundError) as error:
            if os.environ.get("FUNDIFF_DEBUG") == "1":
                raise
            if isinstance(error, FileNotFoundError):
                error = f"{error.filename} is missing; run `make repro` (or `dvc repro`) first"
            print(f"error: {error}", file=sys.stderr)
            sys.exit(2)

    return wrapper


def compose_into(out: Path, overrides: Sequence[str], conf_dir: Path = CONF) -> None:
    """Write to ``out`` conf/config.yaml composed with the Hydra ``overrides``: what `dvc exp run -S` writes to
    params.yaml (Hydra is enabled in .dvc/config)."""
    from dvc.utils.hydra import compose_and_dump
    from hydra.errors import HydraException

    try:
        compose_and_dump(out, str(Path(conf_dir).resolve()), None, "config", "", list(overrides))
    except HydraException as error:
        lines = str(error).split("Config search path")[0].splitlines()
        reason = " ".join(line.strip() for line in lines if line.strip())
        raise FundiffError(f"conf/ composed with {' '.join(overrides)}: {reason}") from None


def composed_params(overrides: Sequence[str]) -> dict[str, Any]:
    """The params that `dvc exp run -S <overrides>` would run with, read by ``load_params``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "params.yaml"
        compose_into(out, overrides)
        return load_params(out)


def train_overrides(items: Sequence[str]) -> list[str]:
    """The training benches' ``--set``: ``key=value`` sets ``train.<model>.key`` of every model; a dotted key
    (``train.class_cond.lr=3e-3``, ``sample.class_cond.batch_size=100``) is a Hydra override as it stands."""
    overrides = []
    for item in items:
        key, value = item.split("=", 1)
        overrides += [item] if "." in key else [f"train.{kind}.{key}={value}" for kind in KINDS]
    return overrides


def params_for(parser, overrides: Sequence[str], params_file: str | None = None) -> dict[str, Any]:
    """``params_file`` (default params.yaml) as it stands, or, given ``overrides``, conf/ composed with them; a bad
    override is argparse's one-line error."""
    if not overrides:
        return load_params(Path(params_file) if params_file else PARAMS_FILE)
    if params_file is not None:
        parser.error("--set composes conf/ as `dvc exp run -S` does, not --params FILE: pass one of the two")
    try:
        return composed_params(overrides)
    except FundiffError as error:
        parser.error(str(error))


def training_data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """data/mnist's training and test splits as tensors, or random digits when data/mnist is absent."""
    if (DATA / "train_images.npy").exists():
        s = load_splits(DATA)
        return (
            to_tensor_images(s.train_images),
            torch.from_numpy(s.train_labels),
            to_tensor_images(s.test_images),
            torch.from_numpy(s.test_labels),
        )
    g = torch.Generator().manual_seed(0)
    return (
        torch.rand(4500, 1, 28, 28, generator=g),
        torch.arange(4500) % 10,
        torch.rand(500, 1, 28, 28),
        torch.arange(500) % 10,
    )


@dataclass
class JudgeWithFloor:
    """The pipeline's judge, its reading of the real test digits, and the real training digits of the FID floor."""

    judge: MnistClassifier
    test: Reading  # the real test digits: the FID's reference features
    real: RealDigits

    @classmethod
    def load(
        cls, params: dict[str, Any], models_dir: Path = MODELS, device: str | torch.device = "cpu"
    ) -> JudgeWithFloor:
        """As the sample stage loads them (fundiff.partB.sample_ddpm.load), the floor from the params' ``seed``."""
        judge = load_classifier(Path(models_dir) / "classifier/weights", device)
        splits = load_splits(DATA)
        test = judge_images(judge, to_tensor_images(splits.test_images))
        return cls(judge, test, RealDigits(judge, splits.train_images, test.features, seed_of(params)))

    def read(self, images) -> Reading:
        return judge_images(self.judge, images)


def ddpm_settings(params: dict[str, Any], kind: str, objective: str = "ddpm") -> DdpmSampleParams:
    """``sample.<kind>`` checked into fundiff.partB.sample_settings.DdpmSampleParams: the sampler settings (of a flow
    model's section when ``objective`` is flow)."""
    return sample_params(section(params, f"sample.{kind}"), kind, objective)


@dataclass
class DdpmSampler:
    """A DDPM (or flow) checkpoint loaded as the sample stage loads it, with its ``sample.<model>`` settings (``p``)."""

    p: DdpmSampleParams
    model: torch.nn.Module
    alphas_cumprod: torch.Tensor | None  # None for a flow model
    scheduler_config: dict[str, Any] | None
    guide: torch.nn.Module | None = None

    @classmethod
    def load(
        cls, p: DdpmSampleParams, models_dir: Path = MODELS, device: str | torch.device = "cpu", guide_epoch=None
    ) -> DdpmSampler:
        """The final checkpoint of ``p.kind`` under ``models_dir`` (BatchNorm folded as ``p`` says), its schedule and
        saved DDPM scheduler config (diffusers' samplers need it); ``guide_epoch``: that snapshot as the autoguide.
        A flow model (``p.flow``) has neither: Euler needs no schedule."""
        acp = scheduler_config = None
        if not p.flow:
            acp = schedule_of(load_train_config(models_dir, p.kind), p.kind)
            p.for_checkpoint(len(acp))
            fix = f"run `dvc repro train@{p.kind}`"
            scheduler_config = load_scheduler_config(checkpoint_dir(models_dir, p.kind).parent, acp, fix=fix)
        model = load_for_sampling(models_dir, p.kind, "final", device, p.fold_batchnorm)
        guide = None
        if guide_epoch is not None:
            guide = load_for_sampling(models_dir, p.kind, epoch_name(guide_epoch), device, p.fold_batchnorm)
        return cls(p, model, acp, scheduler_config, guide)

    def draw(self, settings: SamplerSettings, n: int, seed: int, guided: bool = True) -> tuple[SampleResult, float]:
        """``n`` samples with ``settings`` (class_cond: balanced digits 0..9, 0..9, ...) from the noise seed ``seed``,
        autoguided when a guide was loaded and ``guided``: (fundiff.partB.sampling.SampleResult, seconds)."""
        guide = self.guide if guided else None
        args = (self.model, self.alphas_cumprod, settings, n, seed, self.p.conditional, guide, self.scheduler_config)
        return timed_draw(*args, progress=False)
