"""The ``mnist`` backend of Part A: the class-conditioned DDPM of Part B (docs/course.md, B 2.4) as a pretrained model.

Images live in [0, 1]; prompts name a digit ("7", "seven", "a handwritten 7"); the network, its one-hot class
conditions and the all-zero null condition are those of fundiff.nets.eps_predictor.UNetNoisePredictor, exactly as Part
B's samplers call it; the variance is fixed (fundiff.diffusion.reverse.step_variance: "posterior" β̃ or "beta").
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from fundiff.diffusion.noise_schedule import scaled_timesteps, strided_timesteps
from fundiff.diffusion.reverse import VARIANCES, step_variance
from fundiff.errors import require
from fundiff.nets.eps_predictor import UNetNoisePredictor
from fundiff.nets.fold_batchnorm import fold_batchnorm as fold
from fundiff.nets.pretrained import load_pretrained
from fundiff.nets.unets import ClassConditionalUNet
from fundiff.partA import algorithms
from fundiff.partA.backends.base import Backend, Prediction
from fundiff.partA.prompts import parse_digit_prompt
from fundiff.partB.checkpoints import read_train_config, required_sha256, schedule_of


def mnist_fit(gray01: np.ndarray, box: int = 20, size: int = 28) -> np.ndarray:
    """MNIST's own preprocessing for a user drawing (light ink on dark, float in [0, 1]): crop the ink's bounding box,
    scale its longer side to ``box`` pixels, and paste it into a size×size canvas centred on its centre of mass."""
    ink = gray01 > 0.2 * max(float(gray01.max()), 1e-6)
    if not ink.any():
        return np.asarray(Image.fromarray((gray01 * 255).astype(np.uint8)).resize((size, size), Image.LANCZOS)) / 255.0
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    crop = gray01[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = crop.shape
    scale = box / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = np.asarray(Image.fromarray((crop * 255).astype(np.uint8)).resize((nw, nh), Image.LANCZOS)) / 255.0
    mass = small.sum()
    cy = (small.sum(1) * np.arange(nh)).sum() / mass if mass > 0 else nh / 2
    cx = (small.sum(0) * np.arange(nw)).sum() / mass if mass > 0 else nw / 2
    top = int(np.clip(round(size / 2 - cy), 0, size - nh))
    left = int(np.clip(round(size / 2 - cx), 0, size - nw))
    canvas = np.zeros((size, size), dtype=np.float64)
    canvas[top : top + nh, left : left + nw] = small
    return canvas


class MnistBackend(Backend):
    """The class-conditioned UNet of Part B as a Part A backend (see the module docstring)."""

    name = "mnist"

    def __init__(
        self,
        model: torch.nn.Module,
        alphas_cumprod: torch.Tensor,
        *,
        timesteps: Sequence[int] | None = None,
        variance: str = "posterior",
        device: str | torch.device = "cpu",
        invert: str = "auto",
        fold_batchnorm: bool = True,
        channels_last: bool = True,
    ):
        require(variance in VARIANCES, f"variance={variance!r}: use one of {', '.join(VARIANCES)}")
        require(invert in ("auto", "always", "never"), f"invert={invert!r}: use auto, always or never")
        self.model = model.to(device).eval()
        if fold_batchnorm:  # the same function with one op fewer per layer
            fold(self.model)
        memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.model.to(memory_format=memory_format)
        self.alphas_cumprod = alphas_cumprod.detach().to("cpu", torch.float32)
        self.net = UNetNoisePredictor(self.model, self.num_timesteps, memory_format=memory_format)
        self.variance = variance
        self.invert = invert
        self.device = torch.device(device)
        self.image_shape = (1, 28, 28)
        self.value_range = (0.0, 1.0)
        self.default_timesteps = list(timesteps) if timesteps is not None else scaled_timesteps(self.num_timesteps)

    @classmethod
    def from_checkpoint(
        cls, checkpoint: str | Path, train_config: str | Path, *, param: str = "partA.backends.mnist", **kwargs
    ) -> MnistBackend:
        """The class_cond checkpoint of Part B (a save_pretrained dir) and the schedule in its train_config.json."""
        fix = "run `dvc repro train@class_cond`"
        require(
            (Path(checkpoint) / "config.json").exists(),
            f"{param}.checkpoint: {checkpoint} is not a saved ClassConditionalUNet; {fix}",
        )
        config = read_train_config(Path(train_config), "class_cond", f"{param}.train_config: ")
        same_run = Path(checkpoint).resolve().parent == Path(train_config).resolve().parent
        sha = required_sha256(config, Path(checkpoint).name, Path(train_config), fix) if same_run else None
        schedule = schedule_of(config, "class_cond")
        model = load_pretrained(ClassConditionalUNet, Path(checkpoint), f"{fix} ({param}.checkpoint)", sha)
        return cls(model, schedule, **kwargs)

    def encode(self, prompt: str) -> torch.Tensor:
        digit = parse_digit_prompt(prompt)
        return self.null_condition() if digit is None else self.net.labels_condition(torch.tensor([digit]))

    def null_condition(self) -> torch.Tensor:
        return self.net.null_condition()

    def predict(self, x_t: torch.Tensor, t: int, cond: torch.Tensor) -> Prediction:
        return self.net.predict(x_t, t, cond)

    def add_variance(self, mean, t, t_prev, variance, noise):
        """The fixed σ² of the step (fundiff.diffusion.reverse.step_variance), as Part B's samplers add it."""
        sigma2 = step_variance(t, t_prev, self.alphas_cumprod.to(mean.device), self.variance)
        return mean + sigma2.sqrt() * noise

    def prepare_image(self, image: Image.Image) -> torch.Tensor:
        gray = np.asarray(image.convert("L"), dtype=np.float64) / 255.0
        if self.invert == "always" or (self.invert == "auto" and _border_mean(gray) > 0.5):
            gray = 1.0 - gray  # dark ink on light paper -> MNIST's light ink on black
        if gray.shape != (28, 28):
            # paper is not black: stretch so the background (border median) is 0 and the brightest ink 1, like MNIST
            background = float(np.median(np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])))
            gray = np.clip((gray - background) / max(float(gray.max()) - background, 1e-6), 0.0, 1.0)
            gray = mnist_fit(gray)
        return torch.from_numpy(gray.astype(np.float32)).clamp(0, 1).unsqueeze(0)

    @torch.no_grad()
    def pipeline_samples(self, prompts, num_inference_steps, seed, guidance_scale):
        """No stock pipeline for our DDPM: Part A's sampling loop (fundiff.partA.algorithms.sample) with CFG over
        ``num_inference_steps`` timesteps spaced as diffusers' DDPMScheduler spaces them by default ("leading": stride
        T // steps from 0 up, so 270, 240, ..., 0 for 10 of T = 300; not Part B's fast_timesteps, which start at T-1),
        ending with a noiseless step to x̂0."""
        T = self.num_timesteps
        require(1 <= num_inference_steps <= T, f"num_inference_steps={num_inference_steps} must be in 1..{T}")
        stride = T // num_inference_steps
        timesteps = strided_timesteps(stride * (num_inference_steps - 1), stride) + [-1]
        conds = torch.cat([self.encode(p) for p in prompts])
        eps_fn = algorithms.cfg(self, conds, guidance_scale)
        x = algorithms.sample(self, len(prompts), timesteps, eps_fn, torch.Generator().manual_seed(seed))
        return self.to_unit(x).cpu(), None


def _border_mean(gray: np.ndarray) -> float:
    return float(np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]]).mean())
