"""DVC stage `partA@<experiment>`: one experiment of Part A (docs/course.md, A 0 and 1.1-1.9) on `partA.backend`.

    python -m stages.partA iterative --out reports/partA/iterative --metrics reports/partA/iterative.metrics.json

Its code is fundiff/partA/experiments/<experiment>.py. Params: `seed`, `partA.backend`, `partA.backends.<backend>`,
`partA.experiments.<experiment>.<backend>`. The experiment runs in memory; the directory appears whole or not at all.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from fundiff.params import section
from fundiff.partA.experiment import EXPERIMENTS, context_from_params, run_experiment, write_experiment
from stages._cli import entrypoint, load_params, pick_device, seed_everything, seed_of


@entrypoint
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("experiment", choices=EXPERIMENTS)
    parser.add_argument("--out", type=Path, help="default: reports/partA/<experiment>")
    parser.add_argument("--metrics", type=Path, help="default: reports/partA/<experiment>.metrics.json")
    args = parser.parse_args()

    params = load_params()
    seed = seed_of(params)
    seed_everything(seed)
    if "OMP_NUM_THREADS" not in os.environ:
        import torch

        # Batches of a few dozen 28×28 (or 64×64 on a GPU) images: extra CPU threads mostly spin. Measured on the
        # shared 2-core machine: text_img2img 29 s with 1 thread, 110 s with 2. Set OMP_NUM_THREADS to override.
        torch.set_num_threads(1)
    started = time.perf_counter()
    pick_device(params)  # checks the top-level `device`; a backend's own device: auto follows it
    ctx = context_from_params(section(params, "partA"), seed, device=params.get("device", "auto"))
    prefix = f"partA.experiments.{args.experiment}.{ctx.backend.name}"
    result = run_experiment(args.experiment, ctx, section(params, prefix), prefix)
    out = args.out or Path("reports/partA") / args.experiment
    write_experiment(
        args.experiment, result, out, args.metrics or Path("reports/partA") / f"{args.experiment}.metrics.json"
    )
    numbers = ", ".join(f"{k} {v:g}" for k, v in sorted(result.metrics.items()))
    print(
        f"partA@{args.experiment} ({ctx.backend.name}, {ctx.backend.device}): {time.perf_counter() - started:.1f} s "
        f"-> {out}  [{numbers}]"
    )


if __name__ == "__main__":
    main()
