"""The backend interface of Part A: a pretrained noise-predicting diffusion model seen through the few things Part A's
algorithms need (fundiff.partA.algorithms). Every Part A experiment is written once against :class:`Backend`:

- ``predict(x_t, t, cond) -> (eps, variance)``: the noise estimate for a batch at one 0-based timestep t, plus the model's
  predicted variance (DeepFloyd's 3 extra output channels) or ``None`` when the model has a fixed variance;
- ``add_variance(mean, t, t_prev, variance, noise)``: how the reverse step t -> t_prev adds its noise, so a learned
  variance (DeepFloyd, ``learned_range``) and a fixed one (our MNIST DDPM) share one loop;
- ``alphas_cumprod`` (float32, CPU, length T), ``image_shape`` (C, H, W), ``value_range`` (what x_0 spans in model space);
- ``encode(prompt)`` and ``null_condition()``: conditions of shape (1, ...) that broadcast over a batch;
- ``prepare_image(pil)``: any user image -> (C, H, W) in [0, 1] at the model's resolution;
- ``default_timesteps``: the strided timesteps of the iterative experiments;
- ``pipeline_samples(prompts, steps, seed)``: the experiment "0" samples (DeepFloyd: the stock IF pipelines).

Backends: ``mnist`` (fundiff.partA.backends.mnist: our class-conditioned DDPM of Part B; prompts name a digit) and
``deepfloyd`` (fundiff.partA.backends.deepfloyd: IF stage I, optional stage II, through diffusers).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

import torch
from PIL import Image

from fundiff.diffusion.reverse import denoise_step

Prediction = tuple[torch.Tensor, "torch.Tensor | None"]


class Backend(abc.ABC):
    """A noise-predicting diffusion model seen through the few things Part A's algorithms need."""

    name: str
    alphas_cumprod: torch.Tensor
    image_shape: tuple[int, int, int]
    value_range: tuple[float, float]
    device: torch.device
    default_timesteps: list[int]

    @property
    def num_timesteps(self) -> int:
        return int(self.alphas_cumprod.shape[0])

    @property
    def value_mid(self) -> float:
        return 0.5 * (self.value_range[0] + self.value_range[1])

    # conditions -------------------------------------------------------------------------------------------------
    @abc.abstractmethod
    def encode(self, prompt: str) -> torch.Tensor:
        """The condition (shape (1, ...)) for a prompt; FundiffError when the backend cannot read it."""

    @abc.abstractmethod
    def null_condition(self) -> torch.Tensor:
        """The unconditional ("") condition used by classifier-free guidance."""

    # the model ---------------------------------------------------------------------------------------------------
    @abc.abstractmethod
    def predict(self, x_t: torch.Tensor, t: int, cond: torch.Tensor) -> Prediction:
        """(eps, variance-or-None) for a batch x_t (N, C, H, W, float32, model range) at timestep t; cond (1|N, ...)."""

    @abc.abstractmethod
    def add_variance(
        self, mean: torch.Tensor, t: int, t_prev: int, variance: torch.Tensor | None, noise: torch.Tensor
    ) -> torch.Tensor:
        """The sample of the step t -> t_prev around its mean; ``noise`` is a standard normal draw like ``mean``."""

    # images ------------------------------------------------------------------------------------------------------
    def to_model(self, images01: torch.Tensor) -> torch.Tensor:
        lo, hi = self.value_range
        return images01 * (hi - lo) + lo

    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        lo, hi = self.value_range
        return ((x - lo) / (hi - lo)).clamp(0, 1)

    @abc.abstractmethod
    def prepare_image(self, image: Image.Image) -> torch.Tensor:
        """Any PIL image -> (C, H, W) float32 in [0, 1] at the model's resolution."""

    # experiment 0 ------------------------------------------------------------------------------------------------
    @abc.abstractmethod
    def pipeline_samples(
        self, prompts: Sequence[str], num_inference_steps: int, seed: int, guidance_scale: float
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Samples for experiment 0: (images in [0, 1] at model resolution, upsampled images in [0, 1] or None)."""

    # shared helpers ----------------------------------------------------------------------------------------------
    def batch_condition(self, cond: torch.Tensor, n: int) -> torch.Tensor:
        return cond.expand(n, *cond.shape[1:]) if cond.shape[0] == 1 else cond

    def step(
        self,
        x_t: torch.Tensor,
        eps: torch.Tensor,
        variance: torch.Tensor | None,
        t: int,
        t_prev: int,
        noise: torch.Tensor | None,
        clip_x0: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One reverse update t -> t_prev (docs/course.md, A 1.4) with this model's variance. Returns (x_{t_prev}, x̂0).
        ``clip_x0`` clamps x̂0 to the model's value range first."""
        mean, x0_hat = denoise_step(
            x_t, eps, t, t_prev, self.alphas_cumprod, None, clip_x0=tuple(self.value_range) if clip_x0 else None
        )
        if noise is None or t_prev < 0:
            return mean, x0_hat
        return self.add_variance(mean, t, t_prev, variance, noise), x0_hat
