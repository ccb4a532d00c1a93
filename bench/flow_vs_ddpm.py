"""Flow matching against DDPM at equal training compute: the same UNet, width, batch, epochs and learning-rate schedule
(params.yaml's DDPM recipe, train.<model>), trained once with ε-prediction (DDPM) and once with the velocity (flow
matching, its section train.flow_<model>: objective flow, and for time_cond t multiplying instead of adding), for
several training seeds; then Euler at several step counts on the flow models.

    python bench/flow_vs_ddpm.py [--models time_cond,class_cond] [--seeds 180,181,182] [--epochs N]
                                 [--samples 500] [--steps 10,20,50,100] [--noise-seed 7] [--device auto]

Per model and training seed, both arms train through ``fundiff.partB.fit.train_and_save`` (what the train stage runs)
into ``.fundiff/bench/flow_vs_ddpm/`` (replaced each run); every training step costs the same in both arms (the same
network on the same batch), so equal epochs are equal training compute. Each arm is sampled as its edition's pipeline
samples it, ``--samples`` samples from the same noise seed, the digits balanced for class_cond:

* DDPM: the params' fast sampler (sample.<model>: the strided update at fast_num_steps; class_cond with its γ and
  guidance interval); time_cond unguided (the pipeline also autoguides it: bench/train_compute.py measures that);
* flow: Euler at sample.flow_<model>.num_ts, and at the DDPM fast sampler's step count (equal sampling compute);
  class_cond with CFG γ on the velocity at every step (the course's), and at that step count also with the DDPM
  arm's guidance (γ in its interval) and with γ = 1 (conditional only).

Each row is read by the pipeline's judge: the confident share (>= 0.9), the smallest and largest digit share, class
accuracy, and FID against the real test digits beside the floor of as many real training digits (the pipeline's
RealDigits). The summary gives each arm's mean and spread over the seeds. Then, on the first seed's flow model,
Euler at every ``--steps``.

Needs `dvc repro`'s data/mnist and judge. On the 2-core CPU each training takes about 200 s at the default profile's
24-25 epochs; a GPU runs it with ``--device cuda``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
from dataclasses import dataclass
from pathlib import Path

import torch
from arglists import count, epoch_list, seed_list
from common import DATA, DdpmSampler, JudgeWithFloor, ddpm_settings, one_line_errors

from fundiff.device import configure_determinism, resolve_device
from fundiff.metrics import class_accuracy
from fundiff.params import section
from fundiff.partB.config import config_from_params
from fundiff.partB.fit import train_and_save
from fundiff.partB.sampling import SamplerSettings
from stages._cli import load_params

SCRATCH = Path(".fundiff/bench/flow_vs_ddpm")


@dataclass
class Row:
    model: str
    arm: str
    seed: int
    confident: float
    low: float
    high: float
    accuracy: float | None
    fid_ratio: float
    calls: int


def read_row(judge: JudgeWithFloor, sampler: DdpmSampler, settings: SamplerSettings, args, tag) -> Row:
    result, seconds = sampler.draw(settings, args.samples, args.noise_seed)
    reading = judge.read(result.images)
    shares = reading.digit_shares()
    accuracy = class_accuracy(reading.digits, result.labels.numpy())[0] if sampler.p.conditional else None
    ratio = judge.real.fid_at(reading, args.samples) / judge.real.floor(args.samples)
    row = Row(*tag, reading.confident_share, shares.min(), shares.max(), accuracy, ratio, result.unet_calls_per_image)
    acc = "-" if accuracy is None else f"{accuracy:.1%}"
    print(
        f"  {row.arm:<28} {row.confident:>9.1%} {acc:>8} {f'{row.low:.1%}-{row.high:.1%}':>13} {row.fid_ratio:>7.2f}x "
        f"{row.calls:>6} {args.samples / seconds:>7.1f}",
        flush=True,
    )
    return row


def train_arm(params: dict, kind: str, epochs: int, seed: int, args) -> Path:
    """Train ``kind`` (a params section: time_cond or flow_time_cond ...) for ``epochs`` from ``seed``."""
    recipe = {**section(params, f"train.{kind}"), "epochs": epochs, "snapshot_epochs": [epochs]}
    config = config_from_params(kind, recipe, seed)
    out = SCRATCH / f"{kind}-e{epochs}-s{seed}"
    shutil.rmtree(out, ignore_errors=True)
    torch.manual_seed(config.seed)
    print(f" {train_and_save(config, DATA, out / kind, out / 'resume', str(args.device))}", flush=True)
    return out


def compare_seed(params: dict, model: str, seed: int, epochs: int, args, judge) -> list[Row]:
    ddpm_p, flow_p = ddpm_settings(params, model), ddpm_settings(params, f"flow_{model}", "flow")
    fast = ddpm_p.fast.replace(frame_count=0)
    euler = flow_p.full.replace(frame_count=0)
    rows = []
    print(f"{model}, training seed {seed}, {epochs} epochs each:")
    ddpm = DdpmSampler.load(ddpm_p, train_arm(params, model, epochs, seed, args), args.device)
    flow = DdpmSampler.load(flow_p, train_arm(params, f"flow_{model}", epochs, seed, args), args.device)
    print(
        f"  {'arm':<28} {'confident':>9} {'accuracy':>8} {'digit shares':>13} {'FID/floor':>8} {'calls':>6} {'img/s':>7}"
    )
    rows.append(read_row(judge, ddpm, fast, args, (model, f"DDPM {fast.sampler} {fast.num_steps}", seed)))
    rows.append(read_row(judge, flow, euler, args, (model, f"flow Euler {euler.num_steps}", seed)))
    same = euler.replace(num_steps=fast.num_steps)
    if fast.num_steps != euler.num_steps:
        rows.append(read_row(judge, flow, same, args, (model, f"flow Euler {same.num_steps}", seed)))
    if ddpm_p.conditional:  # flow guided as the DDPM pipeline guides (γ in its interval), and not guided (γ 1)
        lo, hi = fast.guidance_interval
        interval = same.replace(guidance_scale=fast.guidance_scale, guidance_interval=fast.guidance_interval)
        label = f"flow Euler {same.num_steps}, γ {fast.guidance_scale:g} in [{lo:g}, {hi:g}]"
        rows.append(read_row(judge, flow, interval, args, (model, label, seed)))
        plain = same.replace(guidance_scale=1.0)
        rows.append(read_row(judge, flow, plain, args, (model, f"flow Euler {same.num_steps}, γ 1", seed)))
    if seed == args.seeds[0]:
        print(f"  Euler steps on the flow model (seed {seed}):")
        for steps in args.steps:
            rows.append(read_row(judge, flow, euler.replace(num_steps=steps), args, (model, f"steps {steps}", seed)))
    return rows


def summary(rows: list[Row]) -> None:
    print("\nsummary: mean ± sd over the training seeds")
    print("| model | arm | seeds | confident | accuracy | digit shares (min-max) | FID / floor |")
    print("|---|---|---|---|---|---|---|")
    for model in dict.fromkeys(r.model for r in rows):
        for arm in dict.fromkeys(r.arm for r in rows if r.model == model and not r.arm.startswith("steps")):
            group = [r for r in rows if r.model == model and r.arm == arm]

            def ms(values, pct=True):
                m = statistics.mean(values)
                sd = statistics.stdev(values) if len(values) > 1 else 0.0
                return f"{m:.1%} ± {sd:.1%}" if pct else f"{m:.2f} ± {sd:.2f}"

            acc = ms([r.accuracy for r in group]) if group[0].accuracy is not None else "-"
            shares = f"{min(r.low for r in group):.1%}-{max(r.high for r in group):.1%}"
            print(
                f"| {model} | {arm} | {len(group)} | {ms([r.confident for r in group])} | {acc} | {shares} | "
                f"{ms([r.fid_ratio for r in group], pct=False)} |"
            )


@one_line_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="time_cond,class_cond", help="time_cond, class_cond or both (comma)")
    parser.add_argument("--seeds", type=seed_list, default=[180, 181, 182])
    parser.add_argument("--epochs", type=epoch_list, help="one epoch count for both arms (default: the DDPM recipe's)")
    parser.add_argument("--samples", type=count, default=500)
    parser.add_argument("--steps", type=epoch_list, default=[10, 20, 50, 100], help="Euler step counts")
    parser.add_argument("--noise-seed", type=int, default=7)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    models = [m for m in args.models.split(",") if m]
    if not models or any(m not in ("time_cond", "class_cond") for m in models):
        parser.error(f"--models {args.models}: use time_cond, class_cond or time_cond,class_cond")
    args.device = resolve_device(args.device, "--device")
    configure_determinism(args.device, False)
    params = load_params()
    judge = JudgeWithFloor.load(params, device=args.device)
    n = judge.real.count(args.samples)
    print(
        f"torch {torch.__version__} on {args.device}; {args.samples} samples per row (noise seed {args.noise_seed}); "
        f"real test digits {judge.test.confident_share:.1%} confident; FID on {n}, floor {judge.real.floor(n):.1f}"
    )
    rows: list[Row] = []
    for model in models:
        ddpm_recipe, flow_recipe = section(params, f"train.{model}"), section(params, f"train.flow_{model}")
        for key in ("num_hiddens", "batch_size"):
            if ddpm_recipe[key] != flow_recipe[key]:
                print(f"note: train.{model}.{key} != train.flow_{model}.{key}: the arms' compute differs")
        epochs = args.epochs[0] if args.epochs else ddpm_recipe["epochs"]
        for seed in args.seeds:
            rows += compare_seed(params, model, seed, epochs, args, judge)
    summary(rows)


if __name__ == "__main__":
    main()
