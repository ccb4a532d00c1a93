"""Samplers for the Part B DDPMs: Algorithm 2 (every timestep) and the strided update of Part A 1.4 (few timesteps).

Both are the same thin loop over :func:`fundiff.diffusion.reverse.denoise_step`; they differ only in the timestep list:

* ``ddpm_sample``: t = T-1, T-2, ..., 0 (0-based; the course's T..1), one UNet call per step;
* ``strided_sample``: ``num_steps`` timesteps evenly spaced from T-1 down to 0 (``fast_timesteps``), each step jumping
  t -> t' < t with ᾱ_t/ᾱ_t' as the step's α (exactly diffusers' ``DDPMScheduler`` with ``custom_timesteps``).

The last step of both goes to "t = -1" (ᾱ = 1, the clean image) without noise, like ``DDPMScheduler.step`` at t = 0.
With ``num_steps = T`` the strided sampler *is* Algorithm 2.

Randomness: the initial x_T and every z come from one CPU ``torch.Generator`` in a fixed order (per batch: x_T, then one
z per step except the last), so CPU and GPU runs draw the same noise (results agree up to float rounding).
Models see images in their training range ([0, 1] for our MNIST UNets); the returned images are clamped to [0, 1].
``clip_x0=True`` also clamps every step's x̂0 to that range (diffusers' ``clip_sample``); False is the course's update.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from fundiff.diffusion.diffusers_schedulers import DiffusersSampler
from fundiff.diffusion.guidance import guided_terms
from fundiff.diffusion.noise_schedule import fast_timesteps, full_timesteps
from fundiff.diffusion.reverse import VARIANCES, EpsFn, denoise_step, reverse_process
from fundiff.errors import require
from fundiff.nets.eps_predictor import AutoGuided, UNetNoisePredictor

DATA_RANGE = (0.0, 1.0)  # what our MNIST UNets were trained on
FULL_INTERVAL = (0.0, 1.0)  # classifier-free guidance at every step


def eps_fn_for(
    net: UNetNoisePredictor, labels: torch.Tensor | None, guidance_scale: float = 1.0, interval=FULL_INTERVAL
) -> EpsFn:
    """ε̂(x_t, t) of a batch: for a class-conditioned net, CFG toward ``labels`` with γ = ``guidance_scale`` (both
    passes in one forward call) where the network's time (t+1)/T lies in ``interval`` = (lo, hi), and the conditional
    pass alone elsewhere (Kynkäänniemi et al. 2024: guidance at high noise costs variety, at low noise it does little);
    the default (0, 1) guides every step, the course's CFG. For a time-conditioned net, the plain prediction."""
    if not net.conditional:
        return lambda x, t: net.predict(x, t, None)
    cond = net.labels_condition(labels)
    lo, hi = interval
    T = net.num_timesteps

    def eps(x: torch.Tensor, t: int):
        if lo <= (t + 1) / T <= hi:
            return guided_terms(net, x, t, [(None, cond)], guidance_scale)[0]
        return net.predict(x, t, cond)

    return eps


def check_guidance_interval(interval) -> tuple[float, float]:
    lo, hi = (float(v) for v in interval)
    require(0 <= lo < hi <= 1, f"guidance_interval={list(interval)} must be [lo, hi] with 0 <= lo < hi <= 1")
    return lo, hi


def check_guidance_scale(scale: float) -> None:
    require(float(scale) >= 0, f"guidance_scale={scale} must be >= 0 (1 = purely conditional, 0 = unconditional)")


@dataclass
class SampleResult:
    images: torch.Tensor  # N×1×H×W, float32 on CPU, clamped to [0, 1] (unless run_sampler(clamp=False))
    labels: torch.Tensor | None  # N int64 (class-conditioned) or None
    frames: list[torch.Tensor] = field(default_factory=list)  # each K×1×H×W in [0, 1]: x_t of the first K samples
    frame_timesteps: list[int] = field(default_factory=list)  # the t each frame shows (-1 = final image)
    unet_calls: int = 0  # forward calls of the network (a CFG call counts once: both passes are one batch)
    timesteps: list[int] = field(default_factory=list)


def run_sampler(
    net: UNetNoisePredictor,
    alphas_cumprod: torch.Tensor,
    timesteps: Sequence[int],
    num_samples: int,
    generator: torch.Generator,
    labels: torch.Tensor | None = None,
    shape: tuple[int, ...] = (1, 28, 28),
    variance: str = "posterior",
    clip_x0: bool = False,
    batch_size: int = 100,
    device: str | torch.device = "cpu",
    frame_count: int = 0,
    frame_every: int = 1,
    progress: bool = True,
    desc: str = "sampling",
    x_start: torch.Tensor | None = None,
    clamp: bool = True,
    channels_last: bool = False,
    guidance_scale: float = 1.0,
    scheduler: DiffusersSampler | None = None,
    guidance_interval: tuple[float, float] = FULL_INTERVAL,
) -> SampleResult:
    """The reverse process over ``timesteps`` (descending, 0-based) and a final noiseless step to x̂0, for
    ``num_samples`` images in batches. With a class-conditioned ``net``, classifier-free guidance with
    ``guidance_scale`` (the conditional and unconditional passes in one batch).

    ``x_start`` (N×C×H×W): start from these x_{timesteps[0]} (e.g. a noised test image, for iterative denoising)
    instead of drawing pure noise. ``clamp=False`` returns the final x unclamped (for exact comparisons).
    ``channels_last`` hands x to the model in channels-last memory format (faster convolutions on CPU).
    ``guidance_interval``: (lo, hi) of the network's time (t+1)/T where CFG applies (see :func:`eps_fn_for`).
    ``scheduler``: take each step with one of diffusers' fast samplers (DDIM, DPM-Solver++; a fresh scheduler per
    batch) instead of the course's update; ``timesteps`` must then be that scheduler's, and ``variance`` and
    ``clip_x0`` do not apply (both are deterministic, and their x̂0 clipping assumes data in [-1, 1]).
    """
    timesteps = [int(t) for t in timesteps]
    T = len(alphas_cumprod)
    require(len(timesteps) >= 1, "timesteps is empty")
    require(all(0 <= t < T for t in timesteps), f"timesteps must lie in 0..{T - 1}")
    require(all(a > b for a, b in zip(timesteps, timesteps[1:])), "timesteps must be strictly descending")
    require(variance in VARIANCES, f"variance={variance!r} is unknown; use one of {', '.join(VARIANCES)}")
    require(num_samples >= 1, f"num_samples={num_samples} must be >= 1")
    require(batch_size >= 1, f"batch_size={batch_size} must be >= 1")
    require(frame_every >= 1, f"frame_every={frame_every} must be >= 1")
    if x_start is not None:
        require(
            tuple(x_start.shape) == (num_samples, *shape),
            f"x_start has shape {tuple(x_start.shape)}, expected {(num_samples, *shape)}",
        )
    if labels is not None:
        labels = torch.as_tensor(labels, dtype=torch.int64).reshape(-1)
        require(len(labels) == num_samples, f"{len(labels)} labels for {num_samples} samples")
    if net.conditional:
        check_guidance_scale(guidance_scale)
        guidance_interval = check_guidance_interval(guidance_interval)
        require(labels is not None, "the class-conditioned UNet needs labels to sample")
    if scheduler is not None:
        require(timesteps == scheduler.timesteps(), f"timesteps are not those of the {scheduler.name} scheduler")
    acp = alphas_cumprod.to(torch.float32)
    schedule = timesteps + [-1]
    outputs: list[torch.Tensor] = []
    frames: list[torch.Tensor] = []
    frame_ts: list[int] = []
    calls = 0
    bar = tqdm(
        total=len(timesteps) * ((num_samples + batch_size - 1) // batch_size),
        desc=desc,
        unit="step",
        dynamic_ncols=True,
        **({} if progress else {"disable": True}),
    )  # TQDM_DISABLE=1 still silences it

    def step(x, eps, var, t, t_prev, noise):
        return denoise_step(x, eps, t, t_prev, acp, noise, variance=variance, clip_x0=DATA_RANGE if clip_x0 else None)[
            0
        ]

    with torch.inference_mode():
        for start in range(0, num_samples, batch_size):
            n = min(batch_size, num_samples - start)
            if x_start is None:
                x = torch.randn((n, *shape), generator=generator).to(device)
            else:
                x = x_start[start : start + n].to(device, torch.float32)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            batch_labels = None if labels is None else labels[start : start + n]
            eps_fn = eps_fn_for(net, batch_labels, guidance_scale, guidance_interval)
            batch_step = step if scheduler is None else scheduler.step_fn()
            keep = min(frame_count, n) if start == 0 else 0

            def on_step(i: int, t: int, xt: torch.Tensor, keep: int = keep) -> None:
                nonlocal calls
                if keep and i % frame_every == 0:
                    frames.append(xt[:keep].clamp(0, 1).float().cpu())
                    frame_ts.append(t)
                calls += 1
                bar.update()

            x = reverse_process(x, schedule, eps_fn, batch_step, generator, on_step=on_step)
            final = (x.clamp(0, 1) if clamp else x).float().cpu()
            if keep:
                frames.append(final[:keep])
                frame_ts.append(-1)
            outputs.append(final)
    bar.close()
    return SampleResult(torch.cat(outputs), labels, frames, frame_ts, calls, timesteps)


def _sample_unet(
    model: torch.nn.Module,
    alphas_cumprod: torch.Tensor,
    timesteps: list[int],
    desc: str,
    channels_last: bool,
    guide: torch.nn.Module | None = None,
    guide_weight: float = 1.0,
    **kwargs,
) -> SampleResult:
    """run_sampler over ``timesteps`` with our UNet (in eval mode, in the requested memory format, on its device);
    with a ``guide`` (a weaker snapshot of the same unconditional UNet), autoguided with weight ``guide_weight``."""
    T = len(alphas_cumprod)
    for m in (model, guide):
        if m is not None:
            m.eval()  # BatchNorm must use its running statistics: samples in a batch may not interact
            m.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    net: UNetNoisePredictor | AutoGuided = UNetNoisePredictor(model, T)
    if guide is not None:
        net = AutoGuided(net, UNetNoisePredictor(guide, T), guide_weight)
    return run_sampler(
        net,
        alphas_cumprod,
        timesteps,
        shape=(model.config.in_channels, 28, 28),
        device=next(model.parameters()).device,
        desc=desc,
        channels_last=channels_last,
        **kwargs,
    )


def ddpm_sample(
    model: torch.nn.Module,
    alphas_cumprod: torch.Tensor,
    num_samples: int,
    generator: torch.Generator,
    labels: torch.Tensor | None = None,
    guidance_scale: float = 5.0,
    guidance_interval: tuple[float, float] = FULL_INTERVAL,
    variance: str = "beta",
    clip_x0: bool = False,
    batch_size: int = 100,
    frame_count: int = 0,
    frame_every: int = 10,
    progress: bool = True,
    channels_last: bool = False,
    guide: torch.nn.Module | None = None,
    guide_weight: float = 1.0,
) -> SampleResult:
    """Algorithm 2 of DDPM (ancestral sampling, every timestep T-1..0) with our time- or class-conditioned UNet.

    ``variance``: "beta" (σ_t² = β_t, the course's Algorithm 2) or "posterior" (σ_t² = β̃_t). Class-conditioned models
    need ``labels`` and use classifier-free guidance with ``guidance_scale`` (γ; 1 = conditional only).
    """
    return _sample_unet(
        model,
        alphas_cumprod,
        full_timesteps(len(alphas_cumprod)),
        f"DDPM {len(alphas_cumprod)} steps",
        channels_last,
        guide=guide,
        guide_weight=guide_weight,
        num_samples=num_samples,
        generator=generator,
        labels=labels,
        variance=variance,
        clip_x0=clip_x0,
        batch_size=batch_size,
        frame_count=frame_count,
        frame_every=frame_every,
        progress=progress,
        guidance_scale=guidance_scale,
        guidance_interval=guidance_interval,
    )


def strided_sample(
    model: torch.nn.Module,
    alphas_cumprod: torch.Tensor,
    num_samples: int,
    num_steps: int,
    generator: torch.Generator,
    labels: torch.Tensor | None = None,
    guidance_scale: float = 5.0,
    guidance_interval: tuple[float, float] = FULL_INTERVAL,
    variance: str = "posterior",
    clip_x0: bool = False,
    batch_size: int = 100,
    frame_count: int = 0,
    frame_every: int = 1,
    progress: bool = True,
    channels_last: bool = False,
    scheduler: DiffusersSampler | None = None,
    guide: torch.nn.Module | None = None,
    guide_weight: float = 1.0,
) -> SampleResult:
    """The strided update of Part A 1.4 on our DDPM: ``num_steps`` timesteps from T-1 to 0 instead of all T; or,
    with ``scheduler``, one of diffusers' fast samplers over its own ``num_steps`` timesteps."""
    if scheduler is not None:
        require(
            scheduler.num_steps == num_steps, f"the {scheduler.name} scheduler is set for {scheduler.num_steps} steps"
        )
    return _sample_unet(
        model,
        alphas_cumprod,
        fast_timesteps(len(alphas_cumprod), num_steps) if scheduler is None else scheduler.timesteps(),
        f"{'strided' if scheduler is None else scheduler.name} {num_steps} steps",
        channels_last,
        guide=guide,
        guide_weight=guide_weight,
        scheduler=scheduler,
        num_samples=num_samples,
        generator=generator,
        labels=labels,
        variance=variance,
        clip_x0=clip_x0,
        batch_size=batch_size,
        frame_count=frame_count,
        frame_every=frame_every,
        progress=progress,
        guidance_scale=guidance_scale,
        guidance_interval=guidance_interval,
    )


def balanced_labels(num_samples: int, num_classes: int = 10) -> torch.Tensor:
    """0, 1, ..., 9, 0, 1, ...: every prefix of length k·num_classes holds k samples of every class."""
    return torch.arange(num_samples, dtype=torch.int64) % num_classes
