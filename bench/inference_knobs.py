"""Speed of the sampling-side UNet knobs, each as an interleaved A/B ratio (this VM's speed drifts by ±15 %).

    python bench/inference_knobs.py [--params params.yaml] [--rounds 20]

For the class_cond UNet (data/models' final checkpoint; a randomly initialised one if absent) at the batch of one
guided sampler call (``sample.class_cond``'s batch_size, fundiff.partB.sample_settings, doubled: a CFG step passes
both halves in one batched call), prints the median speed ratio, knob on vs off, of ``--rounds`` A-B-B-A rounds of 5
forward passes each: ``fold_batchnorm`` and channels-last memory format.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from pathlib import Path

import torch
from arglists import count
from common import MODELS, ddpm_settings, one_line_errors

from fundiff.nets.fold_batchnorm import fold_batchnorm
from fundiff.nets.unets import ClassConditionalUNet
from fundiff.partB.checkpoints import checkpoint_dir, load_model
from stages._cli import load_params


def images_per_second(model, x, t, c, calls: int = 5) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        model(x, t, c)
    return calls * len(x) / (time.perf_counter() - start)


def ab_ratio(off, on, inputs_off, inputs_on, rounds: int) -> list[float]:
    """Speed of ``on`` over ``off`` in A-B-B-A rounds, so a drift in machine speed cancels within each round."""
    ratios = []
    with torch.inference_mode():
        off(*inputs_off), on(*inputs_on)  # warm-up: oneDNN picks its kernels on the first call
        for _ in range(rounds):
            a1, b1 = images_per_second(off, *inputs_off), images_per_second(on, *inputs_on)
            b2, a2 = images_per_second(on, *inputs_on), images_per_second(off, *inputs_off)
            ratios.append((b1 + b2) / (a1 + a2))
    return ratios


@one_line_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--rounds", type=count, default=20)
    args = parser.parse_args()
    settings = ddpm_settings(load_params(Path(args.params)), "class_cond").fast
    if checkpoint_dir(MODELS, "class_cond").is_dir():
        model, source = load_model(MODELS, "class_cond"), "trained checkpoint"
    else:
        torch.manual_seed(0)
        model, source = ClassConditionalUNet(num_hiddens=16).eval(), "random init, D=16 (no checkpoint)"
    n = 2 * settings.batch_size  # within the guidance interval, each call batches the CFG step's two passes
    g = torch.Generator().manual_seed(0)
    x, t, c = torch.randn(n, 1, 28, 28, generator=g), torch.rand(n, 1, generator=g), torch.eye(10)[torch.arange(n) % 10]
    x_cl = x.contiguous(memory_format=torch.channels_last)
    plain_cl = copy.deepcopy(model).to(memory_format=torch.channels_last)
    folded_cl = fold_batchnorm(copy.deepcopy(model)).to(memory_format=torch.channels_last)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; class_cond UNet ({source}), {n} images per call"
    )
    for knob, ratios in (
        ("fold_batchnorm (channels-last both)", ab_ratio(plain_cl, folded_cl, (x_cl, t, c), (x_cl, t, c), args.rounds)),
        (
            "channels_last (BatchNorm folded both)",
            ab_ratio(fold_batchnorm(copy.deepcopy(model)), folded_cl, (x, t, c), (x_cl, t, c), args.rounds),
        ),
    ):
        q1, median, q3 = statistics.quantiles(ratios, n=4)
        print(f"{knob:40s} on/off speed: median {median:.3f}x (quartiles {q1:.3f}-{q3:.3f}, {len(ratios)} rounds)")


if __name__ == "__main__":
    main()
