"""Speed of the sampling-side UNet knobs, each as an interleaved A/B ratio (this VM's speed drifts by ±15 %).

    python bench/inference_knobs.py [--params params.yaml] [--rounds 20]

For the class_cond UNet (data/models' final checkpoint; a randomly initialised one if absent) at the batch one
sampler call sees (sample.class_cond.batch_size, doubled by CFG's two passes), prints the median speed ratio, knob on
vs off, of ``--rounds`` A-B-B-A rounds of 5 forward passes each: ``fold_batchnorm`` and channels-last memory format.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fundiff.nets.fold_batchnorm import fold_batchnorm  # noqa: E402
from fundiff.nets.unets import ClassConditionalUNet  # noqa: E402
from fundiff.partB.checkpoints import load_model  # noqa: E402


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    st = yaml.safe_load(open(args.params))["sample"]["class_cond"]
    if Path("data/models/class_cond/checkpoints/final").is_dir():
        model, source = load_model("data/models", "class_cond"), "trained checkpoint"
    else:
        torch.manual_seed(0)
        model, source = ClassConditionalUNet(num_hiddens=16).eval(), "random init, D=16 (no checkpoint)"
    n = 2 * st["batch_size"] if st["guidance_scale"] != 1 else st["batch_size"]
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
