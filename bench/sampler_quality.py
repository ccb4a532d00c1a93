"""Class-conditioned samples judged by an independent, stricter judge; full vs fast sampler at their UNet-call costs.

    python bench/sampler_quality.py [--per-digit 30] [--params params.yaml]

Needs the outputs of `dvc repro` (data/mnist, data/models/class_cond, reports/partB/class_cond/samples.npz). Trains the
judge of bench/judge.py on first use (cached in .fundiff/bench/). Prints, in one run:

* the judge's own unanimous accuracy on the held-out test digits (the ceiling any sampler can reach);
* accuracy of the pipeline's samples.npz, by the strict judge and by the pipeline's own classifier;
* accuracy of fresh samples from the full sampler (Algorithm 2, every timestep) and from the fast strided sampler, both
  with the params.yaml settings, with network evaluations per image (CFG's two passes count as two), wall time, and
  the ratios between the two.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from judge import strict_judge  # noqa: E402

from fundiff.data import load_splits, to_tensor_images  # noqa: E402
from fundiff.judge.model import classify, load_classifier  # noqa: E402
from fundiff.partB.checkpoints import (
    load_train_config,  # noqa: E402
    schedule_of,  # noqa: E402
)
from fundiff.partB.results_common import load_for_sampling  # noqa: E402
from fundiff.partB.sampling import balanced_labels, ddpm_sample, strided_sample  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-digit", type=int, default=30, help="fresh samples of every digit per sampler")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--seed", type=int, default=12345, help="noise seed of the fresh samples (not the pipeline's)")
    args = parser.parse_args()
    params = yaml.safe_load(open(args.params))
    st = params["sample"]["class_cond"]
    judge = strict_judge()
    splits = load_splits("data/mnist")
    test_x, test_y = to_tensor_images(splits.test_images), torch.from_numpy(splits.test_labels)
    print(
        f"strict judge ({len(judge.members)} members, unanimous): {judge.accuracy(test_x, test_y):.2%} "
        f"on the {len(test_y)} held-out test digits"
    )
    own = load_classifier("data/models/classifier/weights")

    npz = np.load("reports/partB/class_cond/samples.npz")
    images, labels = torch.from_numpy(npz["images"]).unsqueeze(1), torch.from_numpy(npz["labels"])
    own_pred, _ = classify(own, images)
    print(
        f"pipeline samples.npz ({len(labels)} samples, {st['npz_sampler']} sampler): strict judge "
        f"{judge.accuracy(images, labels):.2%}, pipeline classifier {(own_pred == labels).float().mean():.2%}"
    )

    config = load_train_config("data/models", "class_cond")
    acp = schedule_of(config, "class_cond")
    model = load_for_sampling(Path("data/models"), "class_cond", "final", "cpu", st.get("fold_batchnorm", True))
    n = 10 * args.per_digit
    common = dict(
        labels=balanced_labels(n),
        guidance_scale=st["guidance_scale"],
        clip_x0=st["clip_x0"],
        batch_size=st["batch_size"],
        progress=False,
        channels_last=st["channels_last"],
    )
    runs = {}
    for name in ("full", "fast"):
        generator = torch.Generator().manual_seed(args.seed)
        start = time.perf_counter()
        if name == "full":
            result = ddpm_sample(model, acp, n, generator, variance=st["variance"], **common)
        else:
            result = strided_sample(
                model, acp, n, st["fast_num_steps"], generator, variance=st["fast_variance"], **common
            )
        seconds = time.perf_counter() - start
        calls = len(result.timesteps) * (2 if st["guidance_scale"] != 1 else 1)
        acc = judge.accuracy(result.images, result.labels)
        runs[name] = (acc, calls, seconds)
        print(
            f"{name:4s} sampler: {len(result.timesteps)} steps, {calls} network evaluations per image, "
            f"{n} samples in {seconds:.1f} s ({n / seconds:.1f} img/s); strict judge {acc:.2%}"
        )
    (a_full, c_full, s_full), (a_fast, c_fast, s_fast) = runs["full"], runs["fast"]
    print(
        f"fast vs full: {c_full / c_fast:.1f}x fewer network evaluations, {s_full / s_fast:.1f}x less wall time, "
        f"accuracy {100 * (a_fast - a_full):+.1f} points"
    )


if __name__ == "__main__":
    main()
