"""The course's strided sampler beside diffusers' DDIM and DPM-Solver++ on the trained DDPMs, at several step counts.

    python bench/fast_samplers.py [--steps 10 20 30] [--samples 300] [--models data/models]

Needs the outputs of `dvc repro` (data/mnist, data/models/{time_cond,class_cond,classifier}). For every model, sampler
and step count, fresh samples (one noise seed for all) read by the pipeline's judge (fundiff.partB.quality):

Each model samples with its params' settings (class_cond: CFG at γ and its guidance interval; time_cond: its
autoguidance), only the sampler and the step count change.

* class_cond (CFG at the params' γ): accuracy against the requested digit, share read with confidence >= 0.9, FID;
* time_cond: share read with confidence >= 0.9, the largest and smallest digit share, FID;

with Algorithm 2 (all T steps) as the reference row, the wall time of each run, and the FID of as many real training
digits (the floor). Nothing in the workspace is written.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fundiff.data import load_splits, to_tensor_images  # noqa: E402
from fundiff.diffusion.diffusers_schedulers import DiffusersSampler, load_scheduler_config  # noqa: E402
from fundiff.judge.model import load_classifier  # noqa: E402
from fundiff.metrics import class_accuracy, fid  # noqa: E402
from fundiff.partB.checkpoints import checkpoint_dir, epoch_name, load_train_config, schedule_of  # noqa: E402
from fundiff.partB.quality import read  # noqa: E402
from fundiff.partB.results_common import load_for_sampling  # noqa: E402
from fundiff.partB.sampling import balanced_labels, ddpm_sample, strided_sample  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, nargs="+", default=[10, 20, 30])
    parser.add_argument("--samples", type=int, default=300, help="per model, sampler and step count (multiple of 10)")
    parser.add_argument("--models", type=Path, default=Path("data/models"))
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--kinds", nargs="+", default=["time_cond", "class_cond"])
    parser.add_argument("--no-full", action="store_true", help="skip the Algorithm-2 reference row")
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    params = yaml.safe_load(open(args.params))
    judge = load_classifier(args.models / "classifier/weights")
    splits = load_splits("data/mnist")
    test_features = read(judge, to_tensor_images(splits.test_images)).features
    real = torch.randperm(len(splits.train_images), generator=torch.Generator().manual_seed(0))[: args.samples]
    floor = fid(read(judge, to_tensor_images(splits.train_images[real.numpy()])).features, test_features)
    print(f"FID floor ({args.samples} real training digits vs {len(test_features)} test digits): {floor:.1f}")
    n = args.samples
    for kind in args.kinds:
        st = params["sample"][kind]
        conditional = kind == "class_cond"
        acp = schedule_of(load_train_config(args.models, kind), kind)
        saved = load_scheduler_config(checkpoint_dir(args.models, kind).parent, acp, fix=f"dvc repro train@{kind}")
        model = load_for_sampling(args.models, kind, "final", "cpu", st.get("fold_batchnorm", True))
        guide = None
        if not conditional and st.get("autoguide_epoch") is not None:  # the pipeline's autoguidance, as in params
            guide = load_for_sampling(args.models, kind, epoch_name(st["autoguide_epoch"]), "cpu", True)
        common = dict(
            labels=balanced_labels(n) if conditional else None,
            guidance_scale=st.get("guidance_scale", 1.0),
            guidance_interval=tuple(st.get("guidance_interval", (0.0, 1.0))),
            guide=guide,
            guide_weight=st.get("autoguide_weight", 1.0),
            batch_size=st["batch_size"],
            progress=False,
            channels_last=st["channels_last"],
        )
        runs = [("algorithm2", len(acp))] if not args.no_full else []
        runs += [(s, k) for k in args.steps for s in ("course", "ddim", "dpm_solver")]
        gamma = f", γ = {common['guidance_scale']:g}" if conditional else ""
        print(f"\n{kind} ({n} samples per row{gamma})")
        print(
            f"{'sampler':>11s} {'steps':>5s} {'accuracy':>8s} {'conf≥0.9':>8s} {'digit min/max':>13s} {'FID':>6s} {'s':>6s}"
        )
        for sampler, steps in runs:
            generator = torch.Generator().manual_seed(args.seed)
            started = time.perf_counter()
            if sampler == "algorithm2":
                result = ddpm_sample(model, acp, n, generator, variance=st["variance"], **common)
            else:
                scheduler = None if sampler == "course" else DiffusersSampler(sampler, saved, steps)
                result = strided_sample(
                    model, acp, n, steps, generator, variance=st["fast_variance"], scheduler=scheduler, **common
                )
            seconds = time.perf_counter() - started
            reading = read(judge, result.images)
            accuracy = class_accuracy(reading.digits, result.labels.numpy())[0] if conditional else float("nan")
            shares = reading.digit_shares()
            print(
                f"{sampler:>11s} {steps:5d} {accuracy:8.1%} {reading.confident_share:8.1%} "
                f"{shares.min():6.1%}/{shares.max():6.1%} {fid(reading.features, test_features):6.1f} {seconds:6.1f}"
            )


if __name__ == "__main__":
    main()
