"""Training throughput of the Part B UNets at the params.yaml settings, as a share of this machine's FP32 matmul rate.

    python bench/train_throughput.py [--params params.yaml] [--models class_cond] [--set num_hiddens=64 ...]

For each model this runs the real training loop (``fundiff.partB.training.train``: shuffling, noise, Adam, EMA, the epoch's
test loss) for one epoch on data/mnist's training split (random digits if data/mnist is absent) and prints images/s,
the model's FLOPs per training image (``torch.utils.flop_counter``, forward + backward), the achieved GFLOP/s and its
ratio to the FP32 matmul rate (2048², best of 5) measured just before and just after, in the same process. A second
line per model is the ratio's ceiling: a ``torch.profiler`` run of training steps times the convolution kernels alone
(forward and backward), i.e. the share of matmul the loop would reach if every other op (BatchNorm, GELU, Adam, ...)
were free.
``--set key=value`` overrides a train.<model> param for every model (e.g. to compare widths or batch sizes; a dotted
key is a Hydra override as it stands): the params are then conf/ composed with the overrides, as `dvc exp run -S`
composes params.yaml. Each recipe is checked and mapped by fundiff.partB.config.config_from_params, for one epoch.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from arglists import name_list, override
from common import one_line_errors, params_for, train_overrides, training_data
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

from fundiff.params import section, seed_of
from fundiff.partB.config import KINDS, config_from_params
from fundiff.partB.training import loss_on_batch, make_model, train


def matmul_gflops(n: int = 2048, repeats: int = 5, trials: int = 5) -> float:
    """Best of ``trials`` timings of ``repeats`` n×n FP32 matmuls (best-of: the ceiling, not the noise)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    rates = []
    for _ in range(trials):
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        rates.append(2 * n**3 * repeats / (time.perf_counter() - start) / 1e9)
    return max(rates)


def profile_training_steps(config, steps: int = 30) -> tuple[float, float, float]:
    """From training steps of ``config`` on random digits: (FLOPs per training image, share of a step's time spent in
    convolution kernels, their GFLOP/s). The last is the rate the loop would reach if every other op took no time."""
    torch.manual_seed(0)
    model = make_model(config)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator, acp = torch.Generator().manual_seed(0), config.alphas_cumprod()
    x = torch.rand(config.batch_size, 1, 28, 28)
    x = x.contiguous(memory_format=torch.channels_last) if config.channels_last else x
    y = torch.randint(0, 10, (config.batch_size,))

    def step():
        loss = loss_on_batch(model, config, x, y, generator, acp)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(10):  # warm-up: oneDNN picks and JITs its kernels on the first calls
        step()
    with FlopCounterMode(display=False) as counter:
        step()
    conv_flops = sum(f for op, f in counter.get_flop_counts()["Global"].items() if "convolution" in str(op))
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    events = prof.key_averages()
    total_us = sum(e.self_cpu_time_total for e in events)
    conv_us = sum(e.self_cpu_time_total for e in events if "convolution" in e.key.lower())
    return counter.get_total_flops() / config.batch_size, conv_us / total_us, conv_flops * steps / (conv_us / 1e6) / 1e9


@one_line_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", help="a params file as it stands (default: params.yaml)")
    parser.add_argument("--models", type=name_list(KINDS, "model"), default=["denoiser", "time_cond", "class_cond"])
    parser.add_argument("--set", nargs="*", type=override, default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    params = params_for(parser, train_overrides(args.set), args.params)
    seed = seed_of(params)
    configs = [  # every section checked before any work; one epoch of each recipe
        config_from_params(kind, {**section(params, f"train.{kind}"), "epochs": 1, "snapshot_epochs": []}, seed)
        for kind in args.models
    ]
    train_x, train_y, test_x, test_y = training_data()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {len(train_x)} training images")
    ratios = []
    for config in configs:
        kind = config.kind
        flops, conv_share, conv_gflops = profile_training_steps(config)
        before = matmul_gflops()
        start = time.perf_counter()
        train(config, train_x, train_y, test_x, test_y, progress=False)
        seconds = time.perf_counter() - start
        after = matmul_gflops()
        peak = (before + after) / 2
        images_per_s = len(train_x) / seconds
        gflops = images_per_s * flops / 1e9
        ratios.append(gflops / peak)
        print(
            f"{kind:10s} D={config.num_hiddens:<3d} batch={config.batch_size:<4d} ema={config.ema_decay}  "
            f"{images_per_s:6.1f} img/s  {flops / 1e9:.3f} GFLOP/img  {gflops:6.1f} GFLOP/s  "
            f"matmul {before:.0f}/{after:.0f} GFLOP/s (before/after)  = {gflops / peak:.0%} of matmul"
        )
        print(
            f"{'':10s} ceiling: convolutions take {conv_share:.0%} of a step and run at {conv_gflops:.0f} GFLOP/s = "
            f"{conv_gflops / peak:.0%} of matmul (the most the loop could reach if every other op were free)"
        )
    print(f"mean share of matmul: {statistics.mean(ratios):.0%}")


if __name__ == "__main__":
    main()
