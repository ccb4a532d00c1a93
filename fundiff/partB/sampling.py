"""Sampling the Part B DDPMs: one frozen :class:`SamplerSettings` and one :func:`sample` call.

The samplers (``SamplerSettings.sampler``) differ only in their timestep list (:meth:`SamplerSettings.timesteps`, the
one place it is chosen) and, for diffusers' two, in the step function:

* ``algorithm2``: t = T-1, T-2, ..., 0 (0-based; the course's T..1), one UNet call per step (DDPM Algorithm 2);
* ``course``: ``num_steps`` timesteps evenly spaced from T-1 down to 0 (``fast_timesteps``), each step jumping
  t -> t' < t with ᾱ_t/ᾱ_t' as the step's α: the strided update of Part A 1.4, exactly diffusers' ``DDPMScheduler``
  with ``custom_timesteps``. With ``num_steps = T`` it *is* Algorithm 2;
* ``ddim`` / ``dpm_solver``: diffusers' DDIM (η = 0) and DPM-Solver++ (2M) over their own ``num_steps`` timesteps,
  built from the DDPM scheduler config saved beside the checkpoint (fundiff.diffusion.diffusers_schedulers).

Every one is a step of THE reverse loop (fundiff.diffusion.reverse.reverse_process). The last step goes to "t = -1"
(ᾱ = 1, the clean image) without noise, like ``DDPMScheduler.step`` at t = 0.

Randomness: the initial x_T and every z come from one CPU ``torch.Generator`` in a fixed order (per batch: x_T, then one
z per step except the last), so CPU and GPU runs draw the same noise (results agree up to float rounding).
Models see images in their training range ([0, 1] for our MNIST UNets); the returned images are clamped to [0, 1].
``clip_x0=True`` also clamps every step's x̂0 to that range (diffusers' ``clip_sample``); False is the course's update.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import torch
from tqdm.auto import tqdm

from fundiff.diffusion.diffusers_schedulers import FAST_SAMPLERS, DiffusersSampler
from fundiff.diffusion.flow import EulerFlow
from fundiff.diffusion.guidance import eps_fn_for
from fundiff.diffusion.noise_schedule import fast_timesteps, full_timesteps
from fundiff.diffusion.reverse import VARIANCES, denoise_step, reverse_process
from fundiff.errors import require
from fundiff.nets.eps_predictor import AutoGuided, FlowVelocityPredictor, UNetNoisePredictor
from fundiff.partB.sample_result import SampleResult, _step_observer, balanced_labels

DATA_RANGE = (0.0, 1.0)  # what our MNIST UNets were trained on
ALGORITHM2 = "algorithm2"
EULER = "euler"  # flow matching's sampler (Algorithm B.2, fundiff.diffusion.flow.EulerFlow); num_steps = num_ts
SAMPLERS = (ALGORITHM2, *FAST_SAMPLERS, EULER)
DIFFUSERS_SAMPLERS = ("ddim", "dpm_solver")


@dataclass(frozen=True)
class SamplerSettings:
    """How to draw samples from a Part B DDPM, checked once when made.

    ``guidance_scale`` (γ; 1 = conditional only) and ``guidance_interval`` = (lo, hi), the network's times (t+1)/T where
    classifier-free guidance applies (Kynkäänniemi et al. 2024; (0, 1) = every step, the course's CFG), concern
    class-conditioned models; ``autoguide_weight`` (w; 1 = the final model alone) concerns a ``guide`` given to
    :func:`sample`. ``frame_count`` samples of the first batch are kept every ``frame_every`` steps (the GIFs)."""

    sampler: str = ALGORITHM2
    num_steps: int | None = None  # the fast samplers' step count; None for Algorithm 2 (every timestep)
    variance: str = "beta"  # σ_t² = β_t ("beta", Algorithm 2) or β̃_t ("posterior"); diffusers' samplers ignore it
    clip_x0: bool = False
    guidance_scale: float = 1.0
    guidance_interval: tuple[float, float] = (0.0, 1.0)
    autoguide_weight: float = 1.0
    batch_size: int = 100
    channels_last: bool = False
    frame_count: int = 0
    frame_every: int = 1

    def __post_init__(self) -> None:
        require(self.sampler in SAMPLERS, f"sampler={self.sampler!r} is unknown; use one of {', '.join(SAMPLERS)}")
        if self.sampler == ALGORITHM2:
            require(self.num_steps is None, "Algorithm 2 takes every timestep: num_steps must be None")
        else:
            require(isinstance(self.num_steps, int) and self.num_steps >= 1, f"num_steps={self.num_steps} must be >= 1")
        require(self.variance in VARIANCES, f"variance={self.variance!r} is unknown; use one of {', '.join(VARIANCES)}")
        require(
            float(self.guidance_scale) >= 0,
            f"guidance_scale={self.guidance_scale} must be >= 0 (γ of classifier-free guidance; 1 = conditional)",
        )
        object.__setattr__(self, "guidance_interval", _interval(self.guidance_interval))
        require(
            float(self.autoguide_weight) >= 0,
            f"autoguide_weight={self.autoguide_weight} must be >= 0 (w of autoguidance; 1 = the final model alone)",
        )
        require(self.batch_size >= 1, f"batch_size={self.batch_size} must be >= 1")
        require(self.frame_count >= 0 and self.frame_every >= 1, "frame_count must be >= 0 and frame_every >= 1")

    def replace(self, **changes: Any) -> SamplerSettings:
        return dataclasses.replace(self, **changes)

    @property
    def uses_diffusers(self) -> bool:
        return self.sampler in DIFFUSERS_SAMPLERS

    @property
    def flow(self) -> bool:
        """Euler on a flow-matching model's velocity instead of a DDPM sampler."""
        return self.sampler == EULER

    def timesteps(self, num_timesteps: int, scheduler: DiffusersSampler | None = None) -> list[int]:
        """Where the network is evaluated, descending and 0-based (the loop appends the final step to -1); for Euler,
        the loop's steps num_ts - 1 .. 0 (fundiff.diffusion.flow)."""
        if self.sampler == ALGORITHM2:
            return full_timesteps(num_timesteps)
        if self.flow:
            return EulerFlow(self.num_steps).timesteps()
        require(self.num_steps <= num_timesteps, f"num_steps={self.num_steps} must be <= T={num_timesteps}")
        if scheduler is not None:
            return scheduler.timesteps()
        return fast_timesteps(num_timesteps, self.num_steps)

    def describe(self) -> str:
        return {ALGORITHM2: "DDPM", EULER: "Euler"}.get(self.sampler, self.sampler) + " sampling"


def _interval(interval) -> tuple[float, float]:
    values = [float(v) for v in interval]
    require(
        len(values) == 2 and 0 <= values[0] < values[1] <= 1,
        f"guidance_interval={values} must be [lo, hi] with 0 <= lo < hi <= 1 (the share of the timesteps, (t+1)/T, "
        "where guidance applies; [0, 1] = every step)",
    )
    return values[0], values[1]


def sample(
    model: torch.nn.Module,
    alphas_cumprod: torch.Tensor | None,
    settings: SamplerSettings,
    num_samples: int,
    generator: torch.Generator,
    labels: torch.Tensor | None = None,
    guide: torch.nn.Module | None = None,
    scheduler_config: dict[str, Any] | None = None,
    progress: bool = True,
) -> SampleResult:
    """``num_samples`` images from our time- or class-conditioned UNet (eval mode, in ``settings``' memory format, on
    its device) with ``settings``. Class-conditioned models need ``labels``. With a ``guide`` (a weaker snapshot of the
    same unconditional UNet), autoguided with ``settings.autoguide_weight``. diffusers' samplers need the DDPM
    ``scheduler_config`` saved beside the checkpoint (fundiff.diffusion.diffusers_schedulers.load_scheduler_config).
    Euler (``settings.flow``) samples a flow-matching UNet: no ``alphas_cumprod`` (None), T = num_ts."""
    scheduler: DiffusersSampler | EulerFlow | None = None
    predictor = UNetNoisePredictor
    if settings.flow:
        scheduler, predictor, T = EulerFlow(settings.num_steps), FlowVelocityPredictor, settings.num_steps
    else:
        require(alphas_cumprod is not None, f"{settings.describe()} needs the DDPM's schedule (alphas_cumprod)")
        T = len(alphas_cumprod)
    if settings.uses_diffusers:
        require(scheduler_config is not None, f"the {settings.sampler} sampler needs the checkpoint's scheduler config")
        scheduler = DiffusersSampler(settings.sampler, scheduler_config, settings.num_steps)
    memory_format = torch.channels_last if settings.channels_last else torch.contiguous_format
    for m in (model, guide):
        if m is not None:
            m.eval()  # BatchNorm must use its running statistics: samples in a batch may not interact
            m.to(memory_format=memory_format)
    net: UNetNoisePredictor | AutoGuided = predictor(model, T)
    if guide is not None:
        net = AutoGuided(net, predictor(guide, T), settings.autoguide_weight)
    timesteps = settings.timesteps(T, scheduler)
    return run_sampler(
        net,
        alphas_cumprod,
        timesteps,
        num_samples,
        generator,
        settings,
        labels=labels,
        shape=(model.config.in_channels, 28, 28),
        device=next(model.parameters()).device,
        scheduler=scheduler,
        progress=progress,
        desc=f"{settings.describe()}, {len(timesteps)} steps",
    )


def timed_draw(
    model: torch.nn.Module,
    alphas_cumprod: torch.Tensor,
    settings: SamplerSettings,
    num_samples: int,
    seed: int,
    conditional: bool,
    guide: torch.nn.Module | None = None,
    scheduler_config: dict[str, Any] | None = None,
    progress: bool = True,
) -> tuple[SampleResult, float]:
    """:func:`sample` from the noise seed ``seed``, the digits balanced (0..9, 0..9, ...) when ``conditional``, and
    its wall time in seconds (what the stage and the bench scripts print, never write)."""
    started = time.perf_counter()
    result = sample(
        model,
        alphas_cumprod,
        settings,
        num_samples,
        torch.Generator().manual_seed(seed),
        labels=balanced_labels(num_samples) if conditional else None,
        guide=guide,
        scheduler_config=scheduler_config,
        progress=progress,
    )
    return result, time.perf_counter() - started


def _check_run(net, acp, timesteps, num_samples, labels, shape, x_start, scheduler) -> torch.Tensor | None:
    T = len(acp) if acp is not None else net.num_timesteps  # a DDPM's T, or a flow sampler's num_ts
    require(len(timesteps) >= 1, "timesteps is empty")
    require(all(0 <= t < T for t in timesteps), f"timesteps must lie in 0..{T - 1}")
    require(all(a > b for a, b in zip(timesteps, timesteps[1:])), "timesteps must be strictly descending")
    require(num_samples >= 1, f"num_samples={num_samples} must be >= 1")
    if x_start is not None:
        expected = (num_samples, *shape)
        require(tuple(x_start.shape) == expected, f"x_start has shape {tuple(x_start.shape)}, expected {expected}")
    if labels is not None:
        labels = torch.as_tensor(labels, dtype=torch.int64).reshape(-1)
        require(len(labels) == num_samples, f"{len(labels)} labels for {num_samples} samples")
    if net.conditional:
        require(labels is not None, "the class-conditioned UNet needs labels to sample")
    if scheduler is not None:
        require(timesteps == scheduler.timesteps(), f"timesteps are not those of the {scheduler.name} scheduler")
    return labels


def run_sampler(
    net: UNetNoisePredictor,
    alphas_cumprod: torch.Tensor | None,
    timesteps: list[int],
    num_samples: int,
    generator: torch.Generator,
    settings: SamplerSettings = SamplerSettings(),
    labels: torch.Tensor | None = None,
    shape: tuple[int, ...] = (1, 28, 28),
    device: str | torch.device = "cpu",
    scheduler: DiffusersSampler | EulerFlow | None = None,
    x_start: torch.Tensor | None = None,
    clamp: bool = True,
    progress: bool = True,
    desc: str = "sampling",
) -> SampleResult:
    """The reverse process over ``timesteps`` (descending, 0-based) and a final noiseless step to x̂0 for
    ``num_samples`` images in batches of ``settings.batch_size``, for any noise predictor ``net``; :func:`sample` is
    the entry for our UNets. ``x_start`` (N×C×H×W): start from these x_{timesteps[0]} instead of pure noise.
    ``clamp=False`` returns the final x unclamped (for exact comparisons). ``scheduler``: each step is that diffusers
    sampler's (``timesteps`` must be its own; ``variance`` and ``clip_x0`` do not apply)."""
    timesteps = [int(t) for t in timesteps]
    labels = _check_run(net, alphas_cumprod, timesteps, num_samples, labels, shape, x_start, scheduler)
    acp = None if alphas_cumprod is None else alphas_cumprod.to(torch.float32)
    clip = DATA_RANGE if settings.clip_x0 else None
    result = SampleResult(torch.empty(0), labels, timesteps=timesteps)
    batch_size = settings.batch_size
    total = len(timesteps) * ((num_samples + batch_size - 1) // batch_size)
    bar = tqdm(total=total, desc=desc, unit="step", dynamic_ncols=True, **({} if progress else {"disable": True}))

    def course_step(x, eps, var, t, t_prev, noise):
        return denoise_step(x, eps, t, t_prev, acp, noise, variance=settings.variance, clip_x0=clip)[0]

    outputs: list[torch.Tensor] = []
    with torch.inference_mode():
        for start in range(0, num_samples, batch_size):
            n = min(batch_size, num_samples - start)
            if x_start is None:
                x = torch.randn((n, *shape), generator=generator).to(device)
            else:
                x = x_start[start : start + n].to(device, torch.float32)
            if settings.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            batch_labels = None if labels is None else labels[start : start + n]
            eps_fn = eps_fn_for(net, batch_labels, settings.guidance_scale, settings.guidance_interval)
            on_step = _step_observer(result, settings, min(settings.frame_count, n) if start == 0 else 0, bar)
            step = course_step if scheduler is None else scheduler.step_fn()
            noisy = getattr(scheduler, "draws_noise", True)
            x = reverse_process(x, timesteps + [-1], eps_fn, step, generator, on_step=on_step, draws_noise=noisy)
            outputs.append((x.clamp(0, 1) if clamp else x).float().cpu())
            if start == 0 and settings.frame_count:
                result.frames.append(outputs[0][: settings.frame_count])
                result.frame_timesteps.append(-1)
            result.batches += 1
    bar.close()  # TQDM_DISABLE=1 silences the bar too
    result.images = torch.cat(outputs)
    return result
