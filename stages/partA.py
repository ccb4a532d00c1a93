"""DVC stage `partA@<experiment>`: one experiment of Part A (docs/course.md, A 0 and 1.1-1.9) on `partA.backend`.

    python -m stages.partA iterative --out reports/partA/iterative --metrics reports/partA/iterative.metrics.json

Its code is fundiff/partA/experiments/<experiment>.py. Params: `seed`, `partA.backend`, `partA.backends.<backend>`,
`partA.experiments.<experiment>.<backend>`. The experiment runs in memory; the directory appears whole or not at all.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fundiff.partA.registry import EXPERIMENTS
from fundiff.partA.runner import run_and_write
from stages._cli import (
    allow_long_runs_of,
    check_outputs,
    entrypoint,
    load_params,
    pick_device,
    section,
    seed_everything,
    seed_of,
    use_one_core,
)


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
    use_one_core()
    pick_device(params)  # checks the top-level `device`; a backend's own device: auto follows it
    out = args.out or Path("reports/partA") / args.experiment
    metrics = args.metrics or Path("reports/partA") / f"{args.experiment}.metrics.json"
    check_outputs(dirs=[out], files=[metrics])
    long_ok = allow_long_runs_of(params)
    partA = section(params, "partA")
    print(run_and_write(partA, args.experiment, seed, out, metrics, params.get("device", "auto"), long_ok))


if __name__ == "__main__":
    main()
