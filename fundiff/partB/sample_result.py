"""What a Part B sampler returns (:class:`SampleResult`), the observer that fills its frames and counts, and the
balanced labels of a class-conditioned draw."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class SampleResult:
    images: torch.Tensor  # N×1×H×W, float32 on CPU, clamped to [0, 1] (unless run_sampler(clamp=False))
    labels: torch.Tensor | None  # N int64 (class-conditioned) or None
    frames: list[torch.Tensor] = field(default_factory=list)  # each K×1×H×W in [0, 1]: x_t of the first K samples
    frame_timesteps: list[int] = field(default_factory=list)  # the t each frame shows (-1 = final image)
    unet_calls: int = 0  # forward calls of the network (a CFG call counts once: both passes are one batch)
    timesteps: list[int] = field(default_factory=list)
    batches: int = 0

    @property
    def unet_calls_per_image(self) -> int:
        """Network calls each image took (one call serves a whole batch; CFG's two passes share that one call)."""
        return self.unet_calls // max(1, self.batches)


def _step_observer(result: SampleResult, settings, keep: int, bar):
    """on_step for reverse_process: counts network calls, ticks the bar, keeps x_t of the first ``keep`` samples
    every ``settings.frame_every`` steps (``settings``: fundiff.partB.sampling.SamplerSettings)."""

    def on_step(i: int, t: int, xt: torch.Tensor) -> None:
        if keep and i % settings.frame_every == 0:
            result.frames.append(xt[:keep].clamp(0, 1).float().cpu())
            result.frame_timesteps.append(t)
        result.unet_calls += 1
        bar.update()

    return on_step


def balanced_labels(num_samples: int, num_classes: int = 10) -> torch.Tensor:
    """0, 1, ..., 9, 0, 1, ...: every prefix of length k·num_classes holds k samples of every class."""
    return torch.arange(num_samples, dtype=torch.int64) % num_classes
