"""How good a DDPM's samples get with more training compute: params.yaml's recipe for the model (train.<model>, its
one-cycle schedule stretched over the epochs) at several epoch counts, each sampled as the pipeline samples it.

    python bench/train_compute.py [--model time_cond] [--epochs 24,72] [--seeds 180] [--samples 500]
                                  [--noise-seed 7] [--device auto]
    python bench/train_compute.py --model class_cond --epochs 25,75 --samples 4500
    python bench/train_compute.py --epochs 24 --seeds 180,181,182     # the spread between training runs

Per epoch count and training seed (``--seeds``, default params.yaml's ``seed``: the weights' init, the shuffling, the
noise and the timesteps of training all follow it):

* train through ``fundiff.partB.fit.train_and_save`` (what the train stage runs) into a scratch folder,
  ``.fundiff/bench/train_compute/<model>-e<N>-s<seed>`` (replaced each run); time_cond also keeps a snapshot at
  ``sample.time_cond.autoguide_epoch``;
* draw ``--samples`` samples with the params' fast sampler (``sample.<model>`` as the sample stage takes it,
  fundiff.partB.sample_settings): time_cond unguided, then autoguided by that snapshot at ``autoguide_weight``;
  class_cond conditional only (γ = 1), then with the params' guidance (γ and interval), the digits balanced;
* read them with the pipeline's judge: the share read with confidence >= 0.9 (issue 13: >= 90 % for time_cond), the
  smallest and largest digit share (5-15 %), class_cond's accuracy (>= 97 %), and FID against the real test digits
  beside the floor of as many real training digits, drawn as the pipeline draws them (fundiff.judge.reading.RealDigits
  from params.yaml's seed; time_cond <= 3x, class_cond <= 2x; at most as many samples as there are training digits).

Needs `dvc repro`'s data/mnist and judge. On the 2-core CPU, time_cond's 24 and 72 epochs train in about 200 s and
540 s, class_cond's 25 and 75 in about 210 s and 630 s; the default profile trains 24 and 25. A GPU runs the same
command in seconds per epoch (``--device cuda``).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import torch
from arglists import count, epoch_list, seed_list
from common import DATA, DdpmSampler, JudgeWithFloor, ddpm_settings, one_line_errors

from fundiff.device import configure_determinism, resolve_device
from fundiff.metrics import class_accuracy
from fundiff.params import section, seed_of
from fundiff.partB.config import config_from_params
from fundiff.partB.fit import train_and_save
from fundiff.partB.sample_settings import DdpmSampleParams
from fundiff.partB.sampling import SamplerSettings
from stages._cli import load_params

SCRATCH = Path(".fundiff/bench/train_compute")


def sampling_rows(p: DdpmSampleParams, guided: bool) -> list[tuple[str, SamplerSettings, bool]]:
    """(label, the params' fast sampler as the row varies it, autoguided?) of each row."""
    fast = p.fast.replace(frame_count=0)
    if p.conditional:
        lo, hi = fast.guidance_interval
        return [
            ("conditional only (γ 1)", fast.replace(guidance_scale=1.0), False),
            (f"γ {fast.guidance_scale:g} in [{lo:g}, {hi:g}]", fast, False),
        ]
    rows = [("unguided", fast, False)]
    if guided:
        rows.append((f"autoguided (ep {p.autoguide_epoch}, w {fast.autoguide_weight:g})", fast, True))
    return rows


def train_and_read(p: DdpmSampleParams, recipe: dict, epochs: int, seed: int, args, judge: JudgeWithFloor) -> None:
    """Train ``recipe`` for ``epochs`` from ``seed`` into the scratch folder, then sample and read every row."""
    guide_epoch = p.autoguide_epoch
    guided = guide_epoch is not None and guide_epoch < epochs
    snapshots = sorted({guide_epoch, epochs}) if guided else [epochs]
    config = config_from_params(p.kind, {**recipe, "epochs": epochs, "snapshot_epochs": snapshots}, seed)
    out = SCRATCH / f"{p.kind}-e{epochs}-s{seed}"
    print(f"training seed {seed}:")
    shutil.rmtree(out, ignore_errors=True)
    torch.manual_seed(config.seed)
    print(train_and_save(config, DATA, out / p.kind, out / "resume", str(args.device)))  # time, test loss
    print(f"  {'sampling':<34} {'confident':>9} {'accuracy':>8} {'digit shares':>13} {'FID':>6} {'/ floor':>7}")
    sampler = DdpmSampler.load(p, out, args.device, guide_epoch if guided else None)
    floor = judge.real.floor(args.samples)
    for what, settings, autoguided in sampling_rows(p, guided):
        result, _ = sampler.draw(settings, args.samples, args.noise_seed, guided=autoguided)
        reading = judge.read(result.images)
        shares = reading.digit_shares()
        accuracy = f"{class_accuracy(reading.digits, result.labels.numpy())[0]:.1%}" if p.conditional else "-"
        value = judge.real.fid_at(reading, args.samples)  # balanced_labels: a balanced prefix
        print(
            f"  {what:<34} {reading.confident_share:>9.1%} {accuracy:>8} "
            f"{f'{shares.min():.1%}-{shares.max():.1%}':>13} {value:>6.1f} {value / floor:>6.2f}x",
            flush=True,
        )


@one_line_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=("time_cond", "class_cond"), default="time_cond")
    parser.add_argument("--epochs", type=epoch_list, default=[24, 72], help="comma-separated epoch counts")
    parser.add_argument("--seeds", type=seed_list, help="comma-separated training seeds (default: params.yaml's seed)")
    parser.add_argument("--samples", type=count, default=500)
    parser.add_argument("--noise-seed", type=int, default=7)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    args.device = resolve_device(args.device, "--device")
    configure_determinism(args.device, False)
    params = load_params()
    kind = args.model
    p = ddpm_settings(params, kind)
    recipe = section(params, f"train.{kind}")
    config_from_params(kind, recipe, seed_of(params))  # the recipe checked before any training
    judge = JudgeWithFloor.load(params, device=args.device)
    n_fid = judge.real.count(args.samples)
    fast = p.fast
    print(
        f"torch {torch.__version__} on {args.device}; {kind}; {len(judge.real.images)} training digits; "
        f"{args.samples} samples per row (noise seed {args.noise_seed}, {fast.sampler} sampler, {fast.num_steps} "
        f"steps, {fast.variance} variance); real test digits: {judge.test.confident_share:.1%} confident (the judge's "
        f"ceiling); FID on {n_fid} samples, floor of {n_fid} real training digits {judge.real.floor(args.samples):.1f}"
    )
    seeds = [seed_of(params)] if args.seeds is None else args.seeds
    for epochs, seed in ((e, s) for e in args.epochs for s in seeds):
        train_and_read(p, recipe, epochs, seed, args, judge)


if __name__ == "__main__":
    main()
