"""Our time- or class-conditioned UNet seen as a noise predictor ε̂(x_t, t, cond): the interface of the reverse loop
(fundiff.diffusion.reverse) and of classifier-free guidance (fundiff.diffusion.guidance). Part B's samplers and Part A's
MNIST backend both call the network through it."""

from __future__ import annotations

import torch

from fundiff.diffusion.schedule import normalized_time
from fundiff.errors import FundiffError
from fundiff.nets.unets import ClassConditionalUNet, TimeConditionalUNet, one_hot


class UNetNoisePredictor:
    """``predict(x_t, t, cond) -> (ε̂, None)`` (a fixed variance: nothing learned) for our UNets; ``cond`` is a one-hot
    class batch (N|1, 10) for the class-conditioned UNet, the all-zero vector being the null condition, and None for
    the time-conditioned one. ``memory_format`` (e.g. channels-last) is applied to every input when given."""

    def __init__(self, model: torch.nn.Module, num_timesteps: int, memory_format: torch.memory_format | None = None):
        if not isinstance(model, (ClassConditionalUNet, TimeConditionalUNet)):
            raise FundiffError(f"cannot sample from a {type(model).__name__}; use a Time- or ClassConditionalUNet")
        self.model = model
        self.num_timesteps = int(num_timesteps)
        self.memory_format = memory_format
        self.conditional = isinstance(model, ClassConditionalUNet)
        self.num_classes = int(model.config.num_classes) if self.conditional else 0

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def labels_condition(self, labels: torch.Tensor) -> torch.Tensor:
        """One-hot classes (N, 10) for integer labels (N,)."""
        return one_hot(labels, self.num_classes).to(self.device, torch.float32)

    def null_condition(self) -> torch.Tensor:
        return torch.zeros(1, self.num_classes, device=self.device)

    def batch_condition(self, cond: torch.Tensor | None, n: int) -> torch.Tensor | None:
        if cond is None:
            return None
        return cond.expand(n, *cond.shape[1:]) if cond.shape[0] == 1 else cond

    @torch.no_grad()
    def predict(self, x_t: torch.Tensor, t: int, cond: torch.Tensor | None) -> tuple[torch.Tensor, None]:
        n = x_t.shape[0]
        if self.memory_format is not None:
            x_t = x_t.to(self.device).contiguous(memory_format=self.memory_format)
        t_in = normalized_time(torch.full((n,), int(t)), self.num_timesteps).to(x_t.device, x_t.dtype)
        if not self.conditional:
            return self.model(x_t, t_in), None
        if cond is None:
            raise FundiffError("the class-conditioned UNet needs a class condition to sample")
        return self.model(x_t, t_in, self.batch_condition(cond, n).to(x_t.device)).float(), None
