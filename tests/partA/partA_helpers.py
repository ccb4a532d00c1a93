"""Shared fixtures' builders for the Part A tests (no trained weights, no data/ outputs needed)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]


def make_mnist_dir(out: Path) -> Path:
    """The bundled 5k MNIST split like the data stage does it (10 test digits per class is plenty here)."""
    from fundiff.data import prepare, save_splits

    save_splits(prepare("mnist5k", out / "raw", False, test_per_class=10, seed=0), out)
    return out


def make_class_cond_checkpoint(out: Path, num_hiddens: int = 4) -> Path:
    """A randomly initialised ClassConditionalUNet saved like the train stage saves it."""
    from fundiff.partB.config import TrainConfig
    from fundiff.partB.training import make_model

    config = TrainConfig(kind="class_cond", num_hiddens=num_hiddens, epochs=1, batch_size=8, lr=1e-3)
    torch.manual_seed(0)
    make_model(config).save_pretrained(out / "final")
    from fundiff.partB.checkpoints import record_sha256

    record = {**asdict(config), "weights_sha256": record_sha256(out)}  # as the train stage records it
    (out / "train_config.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return out


def proposed_params() -> dict:
    import yaml

    return yaml.safe_load((REPO / "conf/partA/default.yaml").read_text())


def inpaint_before_repaint(backend, x0, mask, timesteps, eps_fn, generator, i_start=0):
    """The inpainting of A 1.7.2 as it was before RePaint's resampling (issue 15), written out as a plain loop with the
    same draws in the same order: fundiff.partA.algorithms.inpaint with jump_n_sample = 1 must reproduce it bit for
    bit."""
    from fundiff.partA.algorithms import forward

    def draw():
        return torch.randn(tuple(x0.shape), generator=generator).to(x0.device)

    mask = mask.to(x0.device, x0.dtype)
    x = draw() if i_start == 0 else forward(backend, x0, timesteps[i_start], draw())
    for i in range(i_start, len(timesteps) - 1):
        t, t_prev = int(timesteps[i]), int(timesteps[i + 1])
        eps, var = eps_fn(x, t)
        noise = draw() if t_prev >= 0 else None
        x = backend.step(x, eps, var, t, t_prev, noise)[0]
        known = x0 if t_prev < 0 else forward(backend, x0, t_prev, draw())
        x = mask * x + (1 - mask) * known
    return x


def hybrid_before_decompositions(backend, cond_low, cond_high, scale, kernel_size, sigma):
    """fundiff.partA.algorithms.hybrid as it was before decompositions (issue 15), ε = lowpass(ε_1) + highpass(ε_2)
    with the mean of the two conditional variances: the lowhigh decomposition must reproduce it bit for bit."""
    from fundiff.figures.filters import highpass, lowpass
    from fundiff.partA.algorithms import guided_terms

    def eps_fn(x, t):
        (e1, v1), (e2, v2) = guided_terms(backend, x, t, [(None, cond_low), (None, cond_high)], scale)
        variance = None if v1 is None else torch.stack([v1, v2]).mean(0)
        return lowpass(e1, kernel_size, sigma) + highpass(e2, kernel_size, sigma), variance

    return eps_fn


def make_partA_root(root: Path) -> Path:
    """A directory laid out like the repository for Part A: data/mnist, data/images/shipped, a tiny class_cond
    checkpoint."""
    from fundiff.partA.shipped import write_shipped

    make_mnist_dir(root / "data" / "mnist")
    (root / "data/images/shipped").mkdir(parents=True)
    write_shipped(root / "data/images/shipped", root / "data/mnist")
    make_class_cond_checkpoint(root / "data/models/class_cond/checkpoints")
    return root


def mnist_settings(root: Path) -> dict:
    """The MNIST backend's proposed settings with the checkpoint under ``root`` and 4 strided steps."""
    settings = proposed_params()["backends"]["mnist"]
    settings.update(
        checkpoint=str(root / settings["checkpoint"]),
        train_config=str(root / settings["train_config"]),
        timesteps={"start": 297, "stride": 99},
    )
    return settings
