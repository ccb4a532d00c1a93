"""Training throughput of the three Part B UNets at the params.yaml settings, against this machine's matmul ceiling.

    python bench/train_throughput.py [--steps 20] [--params params.yaml]

Prints, per model: images/s, model FLOPs per training image (torch.utils.flop_counter, forward + backward),
achieved GFLOP/s, and the ratio to the FP32 matmul GFLOP/s measured in the same run.
"""

from __future__ import annotations

import argparse
import time

import torch
import yaml
from torch.utils.flop_counter import FlopCounterMode

from stages.train import config_from_params
from fundiff.training import loss_on_batch, make_model


def matmul_gflops(n: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def bench_model(kind: str, params: dict, steps: int) -> dict:
    config = config_from_params(kind, params)
    torch.manual_seed(0)
    model = make_model(config)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(0)
    acp = config.alphas_cumprod()
    x = torch.rand(config.batch_size, 1, 28, 28)
    if config.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (config.batch_size,))

    def step():
        loss = loss_on_batch(model, config, x, y, generator, acp)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    with FlopCounterMode(display=False) as counter:
        step()
    flops_per_image = counter.get_total_flops() / config.batch_size
    for _ in range(3):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    images_per_s = steps * config.batch_size / (time.perf_counter() - start)
    return {"kind": kind, "D": config.num_hiddens, "batch": config.batch_size, "images_per_s": images_per_s,
            "gflop_per_image": flops_per_image / 1e9, "gflops": images_per_s * flops_per_image / 1e9}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    params = yaml.safe_load(open(args.params))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    peak = matmul_gflops()
    print(f"fp32 matmul 2048²: {peak:.1f} GFLOP/s")
    for kind in ("denoiser", "time_cond", "class_cond"):
        r = bench_model(kind, params, args.steps)
        print(f"{kind:10s} D={r['D']:<3d} batch={r['batch']:<4d} {r['images_per_s']:7.1f} img/s  "
              f"{r['gflop_per_image']:.3f} GFLOP/img  {r['gflops']:6.1f} GFLOP/s  = {r['gflops'] / peak:.0%} of matmul")
    print(f"fp32 matmul 2048² (again): {matmul_gflops():.1f} GFLOP/s")


if __name__ == "__main__":
    main()
