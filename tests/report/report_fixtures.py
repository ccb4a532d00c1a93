"""Fake-but-real inputs for the report tests: results dirs with real PNG/GIF files and manifests, DVCLive logs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from fundiff.result_dirs import Manifest
from fundiff.titles import PART_A, PART_B, Title


def _png(path: Path, width: int, height: int, seed: int, mode: str = "L") -> None:
    rng = np.random.default_rng(seed)
    shape = (height, width) if mode == "L" else (height, width, 3)
    Image.fromarray(rng.integers(0, 256, size=shape, dtype=np.uint8), mode=mode).save(path)


def _gif(path: Path, size: int, frames: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    images = [Image.fromarray(rng.integers(0, 256, size=(size, size), dtype=np.uint8), mode="L") for _ in range(frames)]
    images[0].save(path, save_all=True, append_images=images[1:], duration=80, loop=0)


def _manifest(title: Title, text: str, params: dict) -> Manifest:
    """A manifest titled from the registry, as the results writers make it."""
    return Manifest(title.section, title.title, title.order, text, params)


def make_results(root: Path) -> dict[str, Path]:
    """reports/ with three Part A experiments and two Part B models (the rest of the sections "not run"), and
    data/models/<model>/live for two of the three models. Returns the paths."""
    reports, models = root / "reports", root / "data" / "models"
    made = {}

    forward = reports / "partA" / "forward"
    forward.mkdir(parents=True)
    _png(forward / "noisy.png", 3 * 28, 28, 1)
    m = _manifest(
        PART_A["forward"],
        "The test digit noised at three timesteps.",
        {"timesteps": [100, 200, 250], "backend": "mnist"},
    )
    m.add_figure("noisy.png", "x_t at t = 100, 200, 250")
    m.write(forward)

    iterative = reports / "partA" / "iterative"
    iterative.mkdir(parents=True)
    _png(iterative / "steps.png", 5 * 64, 64, 2, mode="RGB")
    _gif(iterative / "denoise.gif", 28, 6, 3)
    m = _manifest(
        PART_A["iterative"],
        "Strided denoising from i_start.\n\nSecond <paragraph> & more.",
        {"i_start": 10, "stride": 10},
    )
    m.add_figure("steps.png", "every 5th step")
    m.add_figure("denoise.gif", "the whole loop as a GIF")
    m.metrics = {"mse_iterative": 0.0123, "mse_one_step": 0.0456, "mse_blur": 0.0789}
    m.write(iterative)

    anagrams = reports / "partA" / "anagrams"
    anagrams.mkdir(parents=True)
    _png(anagrams / "flip.png", 2 * 28, 28, 4)
    m = _manifest(PART_A["anagrams"], "", {"views": "flip"})
    m.add_figure("flip.png", "3 upright, 8 flipped")
    m.metrics = {"anagram_success": 0.5}
    m.write(anagrams)

    class_cond = reports / "partB" / "class_cond"
    class_cond.mkdir(parents=True)
    _png(class_cond / "samples_epoch_005.png", 280, 112, 5)
    _gif(class_cond / "sampling.gif", 28, 4, 6)
    m = _manifest(PART_B["class_cond"], "CFG samples.", {"guidance_scale": 5.0, "num_steps": 300})
    m.add_figure("samples_epoch_005.png", "4 samples of every digit after epoch 5")
    m.add_figure("sampling.gif", "Algorithm 2 from T to 1")
    m.metrics = {f"accuracy/{d}": 0.9 + d / 100 for d in range(10)} | {
        "accuracy": 0.945,
        "fid": 12.5,
        "images_per_s": 1234.5,
    }
    m.write(class_cond)
    (class_cond / "metrics.json").write_text(json.dumps(m.metrics, sort_keys=True))

    denoiser = reports / "partB" / "denoiser"
    denoiser.mkdir(parents=True)
    _png(denoiser / "sigmas.png", 7 * 28, 28, 7)
    m = _manifest(PART_B["denoiser"], "", {"sigma": 0.5})
    m.add_figure("sigmas.png", "sigma in {0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0}")
    m.metrics = {"mse_sigma_0.5": 0.0088}
    m.write(denoiser)

    for model, steps, epochs in (("denoiser", 40, 2), ("class_cond", 60, 3)):
        live = models / model / "live"
        (live / "plots" / "metrics" / "train").mkdir(parents=True)
        (live / "plots" / "metrics" / "test").mkdir(parents=True)
        rng = np.random.default_rng(len(model))
        losses = 0.05 * np.exp(-np.arange(steps) / 20) + 0.01 + 0.002 * rng.random(steps)
        (live / "plots" / "metrics" / "train" / "loss.tsv").write_text(
            "step\tloss\n" + "".join(f"{i}\t{v}\n" for i, v in enumerate(losses))
        )
        per_epoch = steps // epochs
        (live / "plots" / "metrics" / "test" / "loss.tsv").write_text(
            "step\tloss\n" + "".join(f"{(e + 1) * per_epoch - 1}\t{0.03 / (e + 1)}\n" for e in range(epochs))
        )
        (live / "metrics.json").write_text(
            json.dumps(
                {
                    "train": {"loss": float(losses[-10:].mean())},
                    "test": {"loss": 0.03 / epochs},
                    "epochs": epochs,
                    "steps": steps,
                },
                indent=4,
            )
        )
    made.update(reports=reports, models=models, iterative=iterative)
    return made


PARAMS = """seed: 180
profile_name: tiny
partA:
  backend: mnist
train:
  denoiser: {epochs: 2}
  time_cond: {epochs: 3}
  class_cond: {epochs: 3}
"""


def make_workspace(root: Path) -> dict[str, Path]:
    """A directory laid out like the repo root (params.yaml, reports/, data/models/) to run `stages.report` in."""
    made = make_results(root)
    (root / "params.yaml").write_text(PARAMS)
    return made
