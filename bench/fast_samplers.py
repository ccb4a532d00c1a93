"""The course's strided sampler beside diffusers' DDIM and DPM-Solver++ on the trained DDPMs, at several step counts.

    python bench/fast_samplers.py [--steps 10 20 30] [--samples 300] [--models data/models]

Needs the outputs of `dvc repro` (data/mnist, data/models/{time_cond,class_cond,classifier}). For every model, sampler
and step count, fresh samples (one noise seed for all) read by the pipeline's judge (fundiff.judge.reading). Each model
samples with ``sample.<model>``'s fast settings as the sample stage takes them (fundiff.partB.sample_settings:
class_cond's CFG at γ in its guidance interval, time_cond's autoguidance); only the sampler and the step count change:

* class_cond: accuracy against the requested digit, share read with confidence >= 0.9, FID;
* time_cond: share read with confidence >= 0.9, the smallest and largest digit share, FID;

with Algorithm 2 (``sample.<model>``'s full sampler, all T steps) as the reference row, each row's network calls per
image (a CFG step is one batched call of both passes) and wall time, and the FID floor of as many real training digits,
drawn as the pipeline draws them (fundiff.judge.reading.RealDigits from the params' seed). Nothing in the workspace is
written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from arglists import count
from common import MODELS, DdpmSampler, JudgeWithFloor, ddpm_settings, one_line_errors

from fundiff.diffusion.diffusers_schedulers import FAST_SAMPLERS
from fundiff.metrics import class_accuracy
from fundiff.partB.sample_settings import DdpmSampleParams
from fundiff.partB.sampling import SamplerSettings
from stages._cli import load_params

HEADER = (
    f"{'sampler':>11s} {'steps':>5s} {'calls':>5s} {'accuracy':>8s} {'conf≥0.9':>8s} {'digit min/max':>13s} "
    f"{'FID':>6s} {'s':>6s}"
)


def rows(p: DdpmSampleParams, steps: list[int], full: bool) -> list[SamplerSettings]:
    """The params' full sampler (unless not ``full``), then their fast sampler as each sampler at each step count."""
    settings = [p.full.replace(frame_count=0)] if full else []
    return settings + [
        p.fast.replace(sampler=sampler, num_steps=k, frame_count=0) for k in steps for sampler in FAST_SAMPLERS
    ]


def bench_model(p: DdpmSampleParams, args, judge: JudgeWithFloor) -> None:
    guide = None if p.conditional else p.autoguide_epoch  # the pipeline's autoguidance, as in params
    sampler = DdpmSampler.load(p, args.models, guide_epoch=guide)
    n = args.samples
    if p.conditional:
        lo, hi = p.fast.guidance_interval
        how = f", γ = {p.fast.guidance_scale:g} in [{lo:g}, {hi:g}]"
    else:
        how = "" if guide is None else f", autoguided by epoch {guide} at w = {p.fast.autoguide_weight:g}"
    print(f"\n{p.kind} ({n} samples per row{how})")
    print(HEADER)
    for settings in rows(p, args.steps, not args.no_full):
        result, seconds = sampler.draw(settings, n, args.seed)
        reading = judge.read(result.images)
        accuracy = class_accuracy(reading.digits, result.labels.numpy())[0] if p.conditional else float("nan")
        shares = reading.digit_shares()
        print(
            f"{settings.sampler:>11s} {len(result.timesteps):5d} {result.unet_calls_per_image:5d} {accuracy:8.1%} "
            f"{reading.confident_share:8.1%} {shares.min():6.1%}/{shares.max():6.1%} "
            f"{judge.real.fid_at(reading, n):6.1f} {seconds:6.1f}"
        )


@one_line_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=count, nargs="+", default=[10, 20, 30])
    parser.add_argument("--samples", type=count, default=300, help="per model, sampler and step count")
    parser.add_argument("--models", type=Path, default=MODELS)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--kinds", nargs="+", default=["time_cond", "class_cond"], choices=("time_cond", "class_cond"))
    parser.add_argument("--no-full", action="store_true", help="skip the Algorithm-2 reference row")
    args = parser.parse_args()
    params = load_params(Path(args.params))
    settings = [ddpm_settings(params, kind) for kind in args.kinds]  # every section checked before any work
    judge = JudgeWithFloor.load(params, args.models)
    n = judge.real.count(args.samples)
    print(
        f"FID floor ({n} real training digits, the pipeline's draw, vs {len(judge.test)} test digits; each FID reads "
        f"the first {n} samples): {judge.real.floor(args.samples):.1f}"
    )
    for p in settings:
        bench_model(p, args, judge)


if __name__ == "__main__":
    main()
