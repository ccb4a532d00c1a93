"""Training loops for the three Part B models, resumable and deterministic.

All randomness (shuffling, noise, timesteps, class dropout) is drawn from one seeded ``torch.Generator`` on the training
device, whose state is saved with the resume state, so a run killed after epoch k and resumed ends with the same bytes
as one that was not. The training split lives on the device too: a step copies nothing from the host. The speed knobs
(bf16 autocast, torch.compile / CUDA graphs, TF32, how often the loss is read back) are fundiff.partB.speed's.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel
from tqdm.auto import tqdm

from fundiff.nets.unets import MODEL_CLASSES, TIME_MODULATIONS
from fundiff.partB.config import TrainConfig
from fundiff.partB.objectives import loss_on_batch
from fundiff.partB.resume import cpu_state, load_resume_state, save_resume_state
from fundiff.partB.speed import Speed, apply_backend_flags, resolve_speed


def make_model(config: TrainConfig) -> nn.Module:
    """The UNet of ``config``'s model: its architecture, with t entering as ``config.modulation`` says."""
    if config.architecture == "time_cond":
        return TIME_MODULATIONS[config.modulation](num_hiddens=config.num_hiddens)
    return MODEL_CLASSES[config.architecture](num_hiddens=config.num_hiddens)


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


@dataclass
class _Run:
    """One training run's moving parts, built by :func:`_start` and advanced one epoch at a time."""

    config: TrainConfig
    speed: Speed
    model: nn.Module
    step_model: nn.Module  # the model as called in a step (compiled when speed says so)
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    ema: AveragedModel | None
    generator: torch.Generator
    alphas_cumprod: torch.Tensor
    images: torch.Tensor  # the training split, on the device
    labels: torch.Tensor
    steps_per_epoch: int
    snapshots: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)
    train_losses: list[float] = field(default_factory=list)
    test_losses: list[float] = field(default_factory=list)
    start_epoch: int = 0

    @property
    def saved(self) -> nn.Module:
        """What the checkpoints hold, so what the test loss measures: the EMA copy when there is one."""
        return self.model if self.ema is None else self.ema.module


def _start(config: TrainConfig, images: torch.Tensor, labels: torch.Tensor, speed: Speed) -> _Run:
    device = speed.device
    torch.manual_seed(config.seed)  # weight init (on the CPU: the same weights on every device)
    model = make_model(config).to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    step_model = speed.compiled(model)
    # fused Adam on CUDA: the same update in one kernel instead of one per tensor
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, **({"fused": True} if device.type == "cuda" else {}))
    steps_per_epoch = (len(images) + config.batch_size - 1) // config.batch_size
    scheduler = make_scheduler(optimizer, config, steps_per_epoch)
    # The EMA copy averages BatchNorm's running statistics too (use_buffers), so it is a complete model to sample from.
    ema = (
        None
        if config.ema_decay is None
        else AveragedModel(model, multi_avg_fn=ema_with_warmup(config.ema_decay), use_buffers=True)
    )
    generator = torch.Generator(device).manual_seed(config.seed + 1)
    acp = config.alphas_cumprod().to(device)
    return _Run(
        config, speed, model, step_model, optimizer, scheduler, ema, generator, acp, images.to(device),
        labels.to(device), steps_per_epoch,
    )  # fmt: skip


def _resume(run: _Run, resume_dir, on_step, on_epoch) -> None:
    """Continue from the state saved in ``resume_dir``, if any, replaying the log of the finished epochs."""
    state = load_resume_state(resume_dir)
    if state is None:
        return
    run.model.load_state_dict(state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    run.scheduler.load_state_dict(state["scheduler"])
    if run.ema is not None:
        run.ema.load_state_dict(state["ema"])
    run.generator.set_state(state["generator"])
    run.snapshots, run.train_losses, run.test_losses = state["snapshots"], state["train_losses"], state["test_losses"]
    run.start_epoch = state["epoch"]
    config, spe = run.config, run.steps_per_epoch
    print(f"{config.kind}: resuming from epoch {run.start_epoch} of {config.epochs} ({resume_dir})", file=sys.stderr)
    for epoch in range(1, run.start_epoch + 1):
        _log_window(run.train_losses, (epoch - 1) * spe, epoch * spe, run.speed, on_step)
        on_epoch and on_epoch(epoch, run.test_losses[epoch - 1])


def _train_epoch(run: _Run, epoch: int, bar, on_step) -> None:
    """One pass over the shuffled training split, the losses read back once per ``log_every`` steps."""
    config, n = run.config, len(run.images)
    order = torch.randperm(n, generator=run.generator, device=run.speed.device)
    pending: list[torch.Tensor] = []  # this window's losses, still on the device
    for start in range(0, n, config.batch_size):
        idx = order[start : start + config.batch_size]
        x0 = _to_model(run.images[idx], run.model, config)
        run.speed.begin_step()
        with run.speed.autocast():
            loss = loss_on_batch(run.step_model, config, x0, run.labels[idx], run.generator, run.alphas_cumprod)
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        run.optimizer.step()
        if config.lr_schedule != "exponential":  # the per-step schedules
            run.scheduler.step()
        if run.ema is not None:
            run.ema.update_parameters(run.model)
        pending.append(loss.detach().float())
        done = len(run.train_losses) + len(pending)
        if len(pending) == run.speed.log_every or start + config.batch_size >= n:  # one sync per window
            run.train_losses.extend(torch.stack(pending).tolist())
            _log_window(run.train_losses, done - len(pending), done, run.speed, on_step)
            bar.set_postfix(epoch=epoch, loss=f"{run.train_losses[-1]:.4f}", refresh=False)
            bar.update(len(pending))
            pending = []
    if config.lr_schedule == "exponential":
        run.scheduler.step()


def _end_epoch(run: _Run, epoch: int, test_images, test_labels, resume_dir, on_epoch) -> None:
    """Test loss, snapshot and resume state after ``epoch``."""
    config = run.config
    run.test_losses.append(evaluate(run.saved, config, test_images, test_labels, seed=config.seed + 2))
    on_epoch and on_epoch(epoch, run.test_losses[-1])
    if epoch in config.snapshot_epochs:
        run.snapshots[epoch] = cpu_state(run.saved)
    if resume_dir is not None and epoch < config.epochs:
        save_resume_state(
            resume_dir, run.model, run.optimizer, run.scheduler, run.generator, run.snapshots, run.train_losses,
            run.test_losses, epoch, run.ema,
        )  # fmt: skip


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
    run = _start(config, train_images, train_labels, speed)
    _resume(run, resume_dir, on_step, on_epoch)
    print(f"{config.kind}: {speed.describe()}", file=sys.stderr)
    run.model.train()
    bar = tqdm(
        total=config.epochs * run.steps_per_epoch,
        initial=run.start_epoch * run.steps_per_epoch,
        desc=config.kind,
        unit="step",
        dynamic_ncols=True,
        **({} if progress else {"disable": True}),  # TQDM_DISABLE=1 still works
    )
    for epoch in range(run.start_epoch + 1, config.epochs + 1):
        _train_epoch(run, epoch, bar, on_step)
        _end_epoch(run, epoch, test_images, test_labels, resume_dir, on_epoch)
    bar.close()
    return TrainResult(run.saved, run.snapshots, run.train_losses, run.test_losses, resumed_from_epoch=run.start_epoch)


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
    if config.lr_schedule == "constant":  # a linear warm-up over ``warmup`` of the steps, then lr throughout
        warmup_steps = max(1, round(config.warmup * config.epochs * steps_per_epoch))
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warmup_steps))
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
