"""How legible time_cond's samples get with more training compute: params.yaml's recipe (train.time_cond, its
one-cycle schedule stretched over the epochs) at several epoch counts, each sampled as the pipeline samples it.

    python bench/time_cond_compute.py [--epochs 24,72] [--samples 500] [--noise-seed 7] [--device auto]

Per epoch count:

* train through ``fundiff.partB.fit.train_and_save`` (what the train stage runs) into a scratch folder,
  ``.fundiff/bench/time_cond_compute/e<N>`` (replaced each run), with a snapshot at ``sample.time_cond.autoguide_epoch``;
* draw ``--samples`` samples with the params' fast sampler, once unguided and once autoguided by that snapshot at
  ``autoguide_weight``;
* read them with the pipeline's judge: the share read with confidence >= 0.9 (issue 13: >= 90 %), the smallest and
  largest digit share (5-15 %), and FID against the real test digits beside the floor of as many real training digits
  (<= 3x).

Needs `dvc repro`'s data/mnist and judge. On the 2-core CPU, 24 epochs train in about 200 s and 72 in about 540 s; the
default profile's pipeline trains 24. A GPU runs the same command in seconds per epoch (``--device cuda``).
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

from fundiff.data import load_splits, to_tensor_images  # noqa: E402
from fundiff.device import configure_determinism, resolve_device  # noqa: E402
from fundiff.judge.model import load_classifier  # noqa: E402
from fundiff.metrics import fid  # noqa: E402
from fundiff.partB.checkpoints import epoch_name, load_train_config, schedule_of  # noqa: E402
from fundiff.partB.config import config_from_params  # noqa: E402
from fundiff.partB.fit import train_and_save  # noqa: E402
from fundiff.partB.quality import read  # noqa: E402
from fundiff.partB.results_common import load_for_sampling  # noqa: E402
from fundiff.partB.sampling import strided_sample  # noqa: E402

SCRATCH = ROOT / ".fundiff/bench/time_cond_compute"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", default="24,72", help="comma-separated epoch counts")
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--noise-seed", type=int, default=7)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = resolve_device(args.device)
    configure_determinism(device, False)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    recipe, st = params["train"]["time_cond"], params["sample"]["time_cond"]
    guide_epoch, weight = st["autoguide_epoch"], st["autoguide_weight"]
    data_dir, n = ROOT / "data/mnist", args.samples

    judge = load_classifier(ROOT / "data/models/classifier/weights", device)
    splits = load_splits(data_dir)
    test = read(judge, to_tensor_images(splits.test_images))
    order = np.random.default_rng(0).permutation(len(splits.train_images))[:n]
    floor = fid(read(judge, to_tensor_images(splits.train_images[order])).features, test.features)
    print(
        f"torch {torch.__version__} on {device}; {len(splits.train_images)} training digits; {n} samples per row "
        f"(noise seed {args.noise_seed}, {st['fast_num_steps']} strided steps, {st['fast_variance']} variance); "
        f"real test digits: {test.confident_share:.1%} confident (the judge's ceiling); FID floor of {n} real "
        f"training digits {floor:.1f}"
    )
    for epochs in (int(e) for e in args.epochs.split(",")):
        snapshots = sorted({guide_epoch, epochs}) if guide_epoch is not None and guide_epoch < epochs else [epochs]
        config = config_from_params(
            "time_cond", {**recipe, "epochs": epochs, "snapshot_epochs": snapshots}, params["seed"]
        )
        out = SCRATCH / f"e{epochs}"
        shutil.rmtree(out, ignore_errors=True)
        torch.manual_seed(config.seed)
        print(train_and_save(config, data_dir, out / "time_cond", out / "resume", str(device)))  # time, loss
        print(f"  {'sampling':<30} {'confident':>9} {'digit shares':>13} {'FID':>6} {'/ floor':>7}")
        acp = schedule_of(load_train_config(out, "time_cond"), "time_cond")
        final = load_for_sampling(out, "time_cond", "final", device, st["fold_batchnorm"])
        rows = [("unguided", None, 1.0)]
        if len(snapshots) == 2:
            guide = load_for_sampling(out, "time_cond", epoch_name(guide_epoch), device, st["fold_batchnorm"])
            rows.append((f"autoguided (ep {guide_epoch}, w {weight:g})", guide, weight))
        for what, guide, w in rows:
            result = strided_sample(
                final,
                acp,
                n,
                st["fast_num_steps"],
                torch.Generator().manual_seed(args.noise_seed),
                variance=st["fast_variance"],
                clip_x0=st["clip_x0"],
                batch_size=st["batch_size"],
                progress=False,
                channels_last=st["channels_last"],
                guide=guide,
                guide_weight=w,
            )
            reading = read(judge, result.images)
            shares = reading.digit_shares()
            value = fid(reading.features, test.features)
            print(
                f"  {what:<30} {reading.confident_share:>9.1%} "
                f"{f'{shares.min():.1%}-{shares.max():.1%}':>13} {value:>6.1f} {value / floor:>6.2f}x",
                flush=True,
            )


if __name__ == "__main__":
    main()
