"""Training loops for the three Part B models, resumable and deterministic.

All randomness (shuffling, noise, timesteps, class dropout) is drawn from one seeded ``torch.Generator`` on the training
device, whose state is saved with the resume state, so a run killed after epoch k and resumed ends with the same bytes
as one that was not. The training split lives on the device too: a step copies nothing from the host. The speed knobs
(bf16 autocast, torch.compile / CUDA graphs, TF32, how often the loss is read back) are fundiff.partB.speed's.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel
from tqdm.auto import tqdm

from fundiff.diffusion.forward_process import add_noise, add_sigma_noise
from fundiff.diffusion.noise_schedule import normalized_time
from fundiff.nets.unets import MODEL_CLASSES, one_hot
from fundiff.partB.config import TrainConfig
from fundiff.partB.resume import cpu_state, load_resume_state, save_resume_state
from fundiff.partB.speed import Speed, apply_backend_flags, resolve_speed


def make_model(config: TrainConfig) -> nn.Module:
    return MODEL_CLASSES[config.kind](num_hiddens=config.num_hiddens)


def loss_on_batch(
    model: nn.Module,
    config: TrainConfig,
    x0: torch.Tensor,
    labels: torch.Tensor,
    generator: torch.Generator,
    alphas_cumprod: torch.Tensor,
) -> torch.Tensor:
    """The objective of each model: L2 to the clean image (denoiser) or to the true noise (Algorithm 1 of DDPM).
    The random draws come from ``generator`` on its own device (the training device in :func:`train`)."""
    device, drawn = x0.device, generator.device
    noise = torch.randn(x0.shape, generator=generator, device=drawn).to(device)
    if config.kind == "denoiser":
        return nn.functional.mse_loss(model(add_sigma_noise(x0, config.sigma, noise)), x0)
    n = x0.shape[0]
    t = torch.randint(0, config.num_timesteps, (n,), generator=generator, device=drawn).to(device)
    x_t = add_noise(x0, noise, t, alphas_cumprod)
    t_in = normalized_time(t, config.num_timesteps)
    if config.kind == "time_cond":
        return nn.functional.mse_loss(model(x_t, t_in), noise)
    keep = torch.rand(n, generator=generator, device=drawn).to(device) >= config.p_uncond
    c = one_hot(labels.to(device), 10, keep)
    return nn.functional.mse_loss(model(x_t, t_in, c), noise)


@torch.no_grad()
def evaluate(model: nn.Module, config: TrainConfig, images: torch.Tensor, labels: torch.Tensor, seed: int) -> float:
    """Test loss with a fixed noise draw (same seed every epoch), so epochs are comparable."""
    model.eval()
    device = _device_of(model)
    generator = torch.Generator(device).manual_seed(seed)
    alphas_cumprod = config.alphas_cumprod().to(device)
    eval_config = replace(config, p_uncond=0.0)  # test loss of the conditional model: no class dropout
    total, count = 0.0, 0
    for start in range(0, len(images), config.eval_batch_size):
        x0 = images[start : start + config.eval_batch_size]
        y = labels[start : start + config.eval_batch_size]
        loss = loss_on_batch(model, eval_config, _to_model(x0, model, config), y, generator, alphas_cumprod)
        total += loss.item() * len(x0)
        count += len(x0)
    model.train()
    return total / count


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _to_model(x: torch.Tensor, model: nn.Module, config: TrainConfig) -> torch.Tensor:
    x = x.to(_device_of(model))
    return x.contiguous(memory_format=torch.channels_last) if config.channels_last else x


@dataclass
class TrainResult:
    model: nn.Module
    snapshots: dict[int, dict[str, torch.Tensor]]  # epoch -> state_dict (CPU)
    train_losses: list[float]  # one per step
    test_losses: list[float]  # one per epoch
    resumed_from_epoch: int = 0


def train(
    config: TrainConfig,
    train_images: torch.Tensor,
    train_labels: torch.Tensor,
    test_images: torch.Tensor,
    test_labels: torch.Tensor,
    device: str | torch.device = "cpu",
    resume_dir: str | Path | None = None,
    on_step: Callable[[int, float], None] | None = None,
    on_epoch: Callable[[int, float], None] | None = None,
    progress: bool = True,
    deterministic: bool = False,
) -> TrainResult:
    """Train ``config.kind`` on images in [0, 1] (N×1×28×28); resumable from ``resume_dir`` at epoch boundaries.

    ``on_step(step, loss)`` is called once per ``config.log_every`` steps (and at each epoch's end) with the mean loss
    of those steps; ``on_epoch(epoch, test_loss)`` once per epoch. Both are replayed for resumed epochs, so a logger
    sees the same sequence of calls as in an uninterrupted run. ``deterministic``: keep compilation off (CUDA).
    """
    speed = resolve_speed(config, device, deterministic)
    apply_backend_flags(speed)
    device = speed.device
    torch.manual_seed(config.seed)  # weight init (on the CPU: the same weights on every device)
    model = make_model(config).to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    step_model = speed.compiled(model)
    # fused Adam on CUDA: the same update in one kernel instead of one per tensor
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, **({"fused": True} if device.type == "cuda" else {}))
    n = len(train_images)
    steps_per_epoch = (n + config.batch_size - 1) // config.batch_size
    scheduler = make_scheduler(optimizer, config, steps_per_epoch)
    # The EMA copy averages BatchNorm's running statistics too (use_buffers), so it is a complete model to sample from.
    ema = (
        None
        if config.ema_decay is None
        else AveragedModel(model, multi_avg_fn=ema_with_warmup(config.ema_decay), use_buffers=True)
    )
    saved = model if ema is None else ema.module  # what the checkpoints hold, so what the test loss measures
    generator = torch.Generator(device).manual_seed(config.seed + 1)
    alphas_cumprod = config.alphas_cumprod().to(device)
    images, labels = train_images.to(device), train_labels.to(device)
    snapshots: dict[int, dict[str, torch.Tensor]] = {}
    train_losses: list[float] = []
    test_losses: list[float] = []
    start_epoch = 0

    state = load_resume_state(resume_dir)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if ema is not None:
            ema.load_state_dict(state["ema"])
        generator.set_state(state["generator"])
        snapshots, train_losses, test_losses = state["snapshots"], state["train_losses"], state["test_losses"]
        start_epoch = state["epoch"]
        print(f"{config.kind}: resuming from epoch {start_epoch} of {config.epochs} ({resume_dir})", file=sys.stderr)
        for epoch in range(1, start_epoch + 1):  # replay the log of the finished epochs
            _log_window(train_losses, (epoch - 1) * steps_per_epoch, epoch * steps_per_epoch, speed, on_step)
            on_epoch and on_epoch(epoch, test_losses[epoch - 1])

    print(f"{config.kind}: {speed.describe()}", file=sys.stderr)
    model.train()
    bar = tqdm(
        total=config.epochs * steps_per_epoch,
        initial=start_epoch * steps_per_epoch,
        desc=config.kind,
        unit="step",
        dynamic_ncols=True,
        **({} if progress else {"disable": True}),  # TQDM_DISABLE=1 still works
    )
    for epoch in range(start_epoch + 1, config.epochs + 1):
        order = torch.randperm(n, generator=generator, device=device)
        pending: list[torch.Tensor] = []  # this window's losses, still on the device
        for start in range(0, n, config.batch_size):
            idx = order[start : start + config.batch_size]
            x0 = _to_model(images[idx], model, config)
            speed.begin_step()
            with speed.autocast():
                loss = loss_on_batch(step_model, config, x0, labels[idx], generator, alphas_cumprod)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if config.lr_schedule == "onecycle":
                scheduler.step()
            if ema is not None:
                ema.update_parameters(model)
            pending.append(loss.detach().float())
            done = len(train_losses) + len(pending)
            if len(pending) == speed.log_every or start + config.batch_size >= n:  # one sync per window
                train_losses.extend(torch.stack(pending).tolist())
                _log_window(train_losses, done - len(pending), done, speed, on_step)
                bar.set_postfix(epoch=epoch, loss=f"{train_losses[-1]:.4f}", refresh=False)
                bar.update(len(pending))
                pending = []
        if config.lr_schedule == "exponential":
            scheduler.step()
        test_losses.append(evaluate(saved, config, test_images, test_labels, seed=config.seed + 2))
        on_epoch and on_epoch(epoch, test_losses[-1])
        if epoch in config.snapshot_epochs:
            snapshots[epoch] = cpu_state(saved)
        if resume_dir is not None and epoch < config.epochs:
            save_resume_state(
                resume_dir, model, optimizer, scheduler, generator, snapshots, train_losses, test_losses, epoch, ema
            )
    bar.close()
    return TrainResult(saved, snapshots, train_losses, test_losses, resumed_from_epoch=start_epoch)


def _log_window(
    losses: list[float], begin: int, end: int, speed: Speed, on_step: Callable[[int, float], None] | None
) -> None:
    """Log steps begin..end-1 of one epoch: each window of ``log_every`` steps (the last one may be shorter) as its
    mean, at the window's last step. The same windows whether the steps were just run or are replayed on resume."""
    if on_step is None:
        return
    for first in range(begin, end, speed.log_every):
        last = min(first + speed.log_every, end)
        window = losses[first:last]
        on_step(last - 1, window[0] if len(window) == 1 else sum(window) / len(window))


def ema_with_warmup(decay: float):
    """EMA update for ``AveragedModel``: decay min(decay, (1+n)/(10+n)) after n updates (diffusers' EMAModel warm-up).
    Without the warm-up, a short run's average would still hold much of the random initial weights."""

    def update(ema_tensors: list[torch.Tensor], tensors: list[torch.Tensor], num_averaged) -> None:
        n = int(num_averaged)
        d = min(decay, (1 + n) / (10 + n))
        floats = [(e, t) for e, t in zip(ema_tensors, tensors) if e.is_floating_point()]
        if floats:
            torch._foreach_lerp_([e for e, _ in floats], [t for _, t in floats], 1 - d)
        for e, t in zip(ema_tensors, tensors):
            if not e.is_floating_point():
                e.copy_(t)  # counters (BatchNorm's num_batches_tracked) are not averaged

    return update


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int):
    """The course's per-epoch exponential decay, or a per-step one-cycle schedule (linear warm-up, cosine to lr/1e4):
    for short budgets, a warm-up lets a higher peak lr train stably, and annealing to ~0 settles the weights."""
    if config.lr_schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=config.lr,
            total_steps=config.epochs * steps_per_epoch,
            pct_start=config.warmup,
            anneal_strategy="cos",
            div_factor=25.0,
            final_div_factor=1e4 / 25.0,
            cycle_momentum=False,
        )
    return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=config.lr_decay)
