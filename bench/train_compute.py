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
* draw ``--samples`` samples with the params' fast sampler: time_cond unguided, then autoguided by that snapshot at
  ``autoguide_weight``; class_cond conditional only (γ = 1), then with the params' guidance (γ and interval), the
  digits balanced;
* read them with the pipeline's judge: the share read with confidence >= 0.9 (issue 13: >= 90 % for time_cond), the
  smallest and largest digit share (5-15 %), class_cond's accuracy (>= 97 %), and FID against the real test digits
  beside the floor of as many real training digits (time_cond <= 3x, class_cond <= 2x; at most as many samples as
  there are training digits).

Needs `dvc repro`'s data/mnist and judge. On the 2-core CPU, time_cond's 24 and 72 epochs train in about 200 s and
540 s, class_cond's 25 and 75 in about 210 s and 630 s; the default profile trains 24 and 25. A GPU runs the same
command in seconds per epoch (``--device cuda``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from arglists import epoch_list, seed_list  # noqa: E402  (bench/arglists.py, beside this script)

from fundiff.data import load_splits, to_tensor_images  # noqa: E402
from fundiff.device import configure_determinism, resolve_device  # noqa: E402
from fundiff.judge.model import load_classifier  # noqa: E402
from fundiff.metrics import class_accuracy, fid  # noqa: E402
from fundiff.partB.checkpoints import epoch_name, load_train_config, schedule_of  # noqa: E402
from fundiff.partB.config import config_from_params  # noqa: E402
from fundiff.partB.fit import train_and_save  # noqa: E402
from fundiff.partB.quality import read  # noqa: E402
from fundiff.partB.results_common import load_for_sampling  # noqa: E402
from fundiff.partB.sampling import balanced_labels, strided_sample  # noqa: E402

SCRATCH = ROOT / ".fundiff/bench/train_compute"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=("time_cond", "class_cond"), default="time_cond")
    parser.add_argument("--epochs", type=epoch_list, default=[24, 72], help="comma-separated epoch counts")
    parser.add_argument("--seeds", type=seed_list, help="comma-separated training seeds (default: params.yaml's seed)")
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--noise-seed", type=int, default=7)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = resolve_device(args.device)
    configure_determinism(device, False)
    kind, n = args.model, args.samples
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    recipe, st = params["train"][kind], params["sample"][kind]
    conditional = kind == "class_cond"
    guide_epoch = None if conditional else st["autoguide_epoch"]
    data_dir = ROOT / "data/mnist"

    judge = load_classifier(ROOT / "data/models/classifier/weights", device)
    splits = load_splits(data_dir)
    test = read(judge, to_tensor_images(splits.test_images))
    n_fid = min(n, len(splits.train_images))  # FIDs compare at the same count: the floor has this many real digits
    order = np.random.default_rng(0).permutation(len(splits.train_images))[:n_fid]
    floor = fid(read(judge, to_tensor_images(splits.train_images[order])).features, test.features)
    print(
        f"torch {torch.__version__} on {device}; {kind}; {len(splits.train_images)} training digits; {n} samples per "
        f"row (noise seed {args.noise_seed}, {st['fast_num_steps']} strided steps, {st['fast_variance']} variance); "
        f"real test digits: {test.confident_share:.1%} confident (the judge's ceiling); FID on {n_fid} samples, floor "
        f"of {n_fid} real training digits {floor:.1f}"
    )
    labels = balanced_labels(n) if conditional else None
    seeds = [params["seed"]] if args.seeds is None else args.seeds
    for epochs, seed in ((e, s) for e in args.epochs for s in seeds):
        snapshots = sorted({guide_epoch, epochs}) if guide_epoch is not None and guide_epoch < epochs else [epochs]
        config = config_from_params(kind, {**recipe, "epochs": epochs, "snapshot_epochs": snapshots}, seed)
        out = SCRATCH / f"{kind}-e{epochs}-s{seed}"
        print(f"training seed {seed}:")
        shutil.rmtree(out, ignore_errors=True)
        torch.manual_seed(config.seed)
        print(train_and_save(config, data_dir, out / kind, out / "resume", str(device)))  # time, test loss
        print(f"  {'sampling':<34} {'confident':>9} {'accuracy':>8} {'digit shares':>13} {'FID':>6} {'/ floor':>7}")
        acp = schedule_of(load_train_config(out, kind), kind)
        final = load_for_sampling(out, kind, "final", device, st["fold_batchnorm"])
        if conditional:
            gamma, interval = st["guidance_scale"], tuple(st["guidance_interval"])
            rows = [
                ("conditional only (γ 1)", dict(guidance_scale=1.0)),
                (
                    f"γ {gamma:g} in [{interval[0]:g}, {interval[1]:g}]",
                    dict(guidance_scale=gamma, guidance_interval=interval),
                ),
            ]
        else:
            rows = [("unguided", {})]
            if len(snapshots) == 2:
                guide = load_for_sampling(out, kind, epoch_name(guide_epoch), device, st["fold_batchnorm"])
                weight = st["autoguide_weight"]
                rows.append((f"autoguided (ep {guide_epoch}, w {weight:g})", dict(guide=guide, guide_weight=weight)))
        for what, options in rows:
            result = strided_sample(
                final,
                acp,
                n,
                st["fast_num_steps"],
                torch.Generator().manual_seed(args.noise_seed),
                labels=labels,
                variance=st["fast_variance"],
                clip_x0=st["clip_x0"],
                batch_size=st["batch_size"],
                progress=False,
                channels_last=st["channels_last"],
                **options,
            )
            reading = read(judge, result.images)
            shares = reading.digit_shares()
            accuracy = f"{class_accuracy(reading.digits, labels.numpy())[0]:.1%}" if conditional else "-"
            value = fid(reading.features[:n_fid], test.features)  # balanced_labels: a balanced prefix
            print(
                f"  {what:<34} {reading.confident_share:>9.1%} {accuracy:>8} "
                f"{f'{shares.min():.1%}-{shares.max():.1%}':>13} {value:>6.1f} {value / floor:>6.2f}x",
                flush=True,
            )


if __name__ == "__main__":
    main()
