"""Our time- or class-conditioned UNet seen as a noise predictor ε̂(x_t, t, cond): the interface of the reverse loop
(fundiff.diffusion.reverse) and of classifier-free guidance (fundiff.diffusion.guidance). Part B's samplers and Part A's
MNIST backend both call the network through it."""

from __future__ import annotations

import torch

from fundiff.diffusion.flow import flow_time
from fundiff.diffusion.guidance import guided
from fundiff.diffusion.noise_schedule import normalized_time
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

    def time_input(self, t: int, n: int) -> torch.Tensor:
        """What the network's t input is at the loop's step t: the normalised time t/T (the DDPM edition)."""
        return normalized_time(torch.full((n,), t), self.num_timesteps)

    @torch.no_grad()
    def predict(self, x_t: torch.Tensor, t: int, cond: torch.Tensor | None) -> tuple[torch.Tensor, None]:
        n = x_t.shape[0]
        if self.memory_format is not None:
            x_t = x_t.to(self.device).contiguous(memory_format=self.memory_format)
        t_in = self.time_input(int(t), n).to(x_t.device, x_t.dtype)
        if not self.conditional:
            return self.model(x_t, t_in), None
        if cond is None:
            raise FundiffError("the class-conditioned UNet needs a class condition to sample")
        return self.model(x_t, t_in, self.batch_condition(cond, n).to(x_t.device)).float(), None


class FlowVelocityPredictor(UNetNoisePredictor):
    """A flow-matching UNet seen through the same interface: ``predict(x, k, cond)`` is the velocity u_θ(x, t_k) at
    the loop's step k of an Euler sampler with ``num_ts`` steps (fundiff.diffusion.flow.flow_time), handed to the loop
    and to classifier-free guidance in place of ε̂ (guidance is the same formula on velocities, Algorithm B.4)."""

    def time_input(self, t: int, n: int) -> torch.Tensor:
        return torch.full((n,), flow_time(t, self.num_timesteps))


class AutoGuided:
    """Autoguidance (Karras et al. 2024, "Guiding a Diffusion Model with a Bad Version of Itself") of an unconditional
    UNet: ε̂ = ε̂_bad + w·(ε̂_good − ε̂_bad), the formula of classifier-free guidance
    (fundiff.diffusion.guidance.guided) with a weaker model of the same task, here an earlier snapshot of the same
    training run, in place of the unconditional pass. w = 1 is the good model alone. Where the weak model errs (blurry,
    broken strokes), the difference points away from its mistakes; no class label is involved."""

    conditional = False

    def __init__(self, good: UNetNoisePredictor, bad: UNetNoisePredictor, weight: float):
        if good.conditional or bad.conditional:
            raise FundiffError("autoguidance here is for the unconditional (time-conditioned) UNet")
        self.good, self.bad, self.weight = good, bad, float(weight)
        self.num_timesteps = good.num_timesteps

    def predict(self, x_t: torch.Tensor, t: int, cond: None = None) -> tuple[torch.Tensor, None]:
        eps_good, _ = self.good.predict(x_t, t, None)
        if self.weight == 1.0:
            return eps_good, None
        eps_bad, _ = self.bad.predict(x_t, t, None)
        return guided(eps_good, eps_bad, self.weight), None
