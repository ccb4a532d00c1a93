"""Training loops for the three Part B models, resumable and deterministic.

All randomness (shuffling, noise, timesteps, class dropout) is drawn from one seeded CPU ``torch.Generator`` whose state
is saved with the resume state, so a run killed after epoch k and resumed ends with the same bytes as one that was not.
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

from fundiff.diffusion.noising import add_noise, add_sigma_noise
from fundiff.diffusion.schedule import normalized_time
from fundiff.nets.unets import MODEL_CLASSES, one_hot
from fundiff.partB.config import TrainConfig
from fundiff.partB.resume import cpu_state, load_resume_state, save_resume_state


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
    """The objective of each model: L2 to the clean image (denoiser) or to the true noise (Algorithm 1 of DDPM)."""
    device = x0.device
    noise = torch.randn(x0.shape, generator=generator).to(device)
    if config.kind == "denoiser":
        return nn.functional.mse_loss(model(add_sigma_noise(x0, config.sigma, noise)), x0)
    n = x0.shape[0]
    t = torch.randint(0, config.num_timesteps, (n,), generator=generator)
    x_t = add_noise(x0, noise, t, alphas_cumprod)
    t_in = normalized_time(t, config.num_timesteps).to(device)
    if config.kind == "time_cond":
        return nn.functional.mse_loss(model(x_t, t_in), noise)
    keep = torch.rand(n, generator=generator) >= config.p_uncond
    c = one_hot(labels, 10, keep).to(device)
    return nn.functional.mse_loss(model(x_t, t_in, c), noise)


@torch.no_grad()
def evaluate(model: nn.Module, config: TrainConfig, images: torch.Tensor, labels: torch.Tensor, seed: int) -> float:
    """Test loss with a fixed noise draw (same seed every epoch), so epochs are comparable."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    alphas_cumprod = config.alphas_cumprod()
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
) -> TrainResult:
    """Train ``config.kind`` on images in [0, 1] (N×1×28×28); resumable from ``resume_dir`` at epoch boundaries.

    ``on_step(step, loss)`` and ``on_epoch(epoch, test_loss)`` are replayed for resumed epochs, so a logger sees the
    same sequence of calls as in an uninterrupted run.
    """
    torch.manual_seed(config.seed)  # weight init
    model = make_model(config).to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
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
    generator = torch.Generator().manual_seed(config.seed + 1)
    alphas_cumprod = config.alphas_cumprod()
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
        for step, loss in enumerate(train_losses):  # replay the log of the finished epochs
            on_step and on_step(step, loss)
            if on_epoch and (step + 1) % steps_per_epoch == 0:
                on_epoch((step + 1) // steps_per_epoch, test_losses[(step + 1) // steps_per_epoch - 1])

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
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, config.batch_size):
            idx = order[start : start + config.batch_size]
            x0 = _to_model(train_images[idx], model, config)
            loss = loss_on_batch(model, config, x0, train_labels[idx], generator, alphas_cumprod)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if config.lr_schedule == "onecycle":
                scheduler.step()
            if ema is not None:
                ema.update_parameters(model)
            value = loss.item()
            train_losses.append(value)
            on_step and on_step(len(train_losses) - 1, value)
            bar.set_postfix(epoch=epoch, loss=f"{value:.4f}", refresh=False)
            bar.update()
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
