"""Class-conditioned samples judged by an independent, stricter judge; full vs fast sampler at their network-call costs.

    python bench/sampler_quality.py [--per-digit 30] [--params params.yaml]

Needs the outputs of `dvc repro` (data/mnist, data/models/class_cond, reports/partB/class_cond/samples.npz). Trains the
judge of bench/strict_judge.py on first use (cached in .fundiff/bench/). Prints, in one run:

* the judge's own unanimous accuracy on the held-out test digits (the ceiling any sampler can reach);
* accuracy of the pipeline's samples.npz, by the strict judge and by the pipeline's own classifier;
* accuracy of fresh samples from the full sampler (Algorithm 2, every timestep) and from the fast sampler, both with
  ``sample.class_cond``'s settings exactly as the sample stage takes them (fundiff.partB.sample_settings: γ and its
  guidance interval, variance, clip_x0, ...), with network calls per image (``SampleResult.unet_calls_per_image``: a
  CFG step is ONE batched call of both passes), wall time, and the ratios between the two.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from arglists import count
from common import DATA, MODELS, DdpmSampler, ddpm_settings, one_line_errors
from strict_judge import strict_judge

from fundiff.data import load_splits, to_tensor_images
from fundiff.judge.model import load_classifier
from fundiff.judge.reading import judge_images
from stages._cli import load_params

NPZ = "reports/partB/class_cond/samples.npz"


@one_line_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-digit", type=count, default=30, help="fresh samples of every digit per sampler")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--seed", type=int, default=12345, help="noise seed of the fresh samples (not the pipeline's)")
    args = parser.parse_args()
    p = ddpm_settings(load_params(Path(args.params)), "class_cond")
    judge = strict_judge()
    splits = load_splits(DATA)
    test_x, test_y = to_tensor_images(splits.test_images), torch.from_numpy(splits.test_labels)
    print(
        f"strict judge ({len(judge.members)} members, unanimous): {judge.accuracy(test_x, test_y):.2%} "
        f"on the {len(test_y)} held-out test digits"
    )
    with np.load(NPZ) as npz:
        images, labels = torch.from_numpy(npz["images"]).unsqueeze(1), torch.from_numpy(npz["labels"])
    own = judge_images(load_classifier(MODELS / "classifier/weights"), images)
    print(
        f"pipeline samples.npz ({len(labels)} samples, {p.npz_sampler} sampler): strict judge "
        f"{judge.accuracy(images, labels):.2%}, pipeline classifier {(own.digits == labels.numpy()).mean():.2%}"
    )

    sampler = DdpmSampler.load(p)
    n = 10 * args.per_digit
    lo, hi = p.fast.guidance_interval
    print(f"fresh samples: γ = {p.fast.guidance_scale:g} where (t+1)/T is in [{lo:g}, {hi:g}] (the params' settings)")
    runs = {}
    for name, settings in (("full", p.full), ("fast", p.fast)):
        result, seconds = sampler.draw(settings.replace(frame_count=0), n, args.seed)
        calls = result.unet_calls_per_image
        accuracy = judge.accuracy(result.images, result.labels)
        runs[name] = (accuracy, calls, seconds)
        print(
            f"{name:4s} sampler ({settings.describe()}): {len(result.timesteps)} steps, {calls} network calls per "
            f"image (a CFG step: one batched call of both passes), {n} samples in {seconds:.1f} s "
            f"({n / seconds:.1f} img/s); strict judge {accuracy:.2%}"
        )
    (a_full, c_full, s_full), (a_fast, c_fast, s_fast) = runs["full"], runs["fast"]
    print(
        f"fast vs full: {c_full / c_fast:.1f}x fewer network calls, {s_full / s_fast:.1f}x less wall time, "
        f"accuracy {100 * (a_fast - a_full):+.1f} points"
    )


if __name__ == "__main__":
    main()
