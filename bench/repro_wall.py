"""Wall time of the whole pipeline from a fresh clone: `dvc repro` with an empty DVC cache and no resume state.

    python bench/repro_wall.py [--dir /tmp/fundiff-repro] [--keep] [--set key=value ...] [--targets stage ...]

Clones this checkout's HEAD into --dir (a new directory), runs `dvc repro` there with this checkout's virtual
environment on PATH, and prints the total wall time, every stage's own wall time (from the stages' timing log,
.fundiff/timings.json) and the share of the total spent outside the stages (DVC, Python start-up). ``--set`` composes
params.yaml with Hydra overrides first (e.g. ``--set profile=faithful``), like `dvc exp run -S`. ``--targets`` times
`dvc repro <targets>` (those stages and what they depend on) instead of the whole pipeline.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from arglists import override
from common import compose_into, one_line_errors

from fundiff.errors import FundiffError

ROOT = Path(__file__).resolve().parents[1]


def run(cmd: list[str], cwd: Path, env: dict) -> None:
    subprocess.run(cmd, cwd=cwd, env=env, check=True)


@one_line_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/fundiff-repro"))
    parser.add_argument("--keep", action="store_true", help="keep the clone afterwards")
    parser.add_argument("--set", nargs="*", type=override, default=[], metavar="OVERRIDE")
    parser.add_argument("--targets", nargs="*", default=[], metavar="STAGE", help="default: the whole pipeline")
    args = parser.parse_args()
    if args.dir.exists():
        parser.error(f"--dir {args.dir} exists; pass a new directory or remove it")
    timings_file = args.dir / ".fundiff" / "timings.json"  # the clone's own, whatever FUNDIFF_TIMINGS said
    env = {
        **os.environ,
        "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}",
        "TQDM_DISABLE": "1",
        "FUNDIFF_TIMINGS": str(timings_file),
    }
    run(["git", "clone", "--quiet", str(ROOT), str(args.dir)], ROOT, env)
    if args.set:  # the clone's params.yaml: its conf/ composed as `dvc exp run -S` composes it
        try:
            compose_into(args.dir / "params.yaml", args.set, conf_dir=args.dir / "conf")
        except FundiffError as error:
            shutil.rmtree(args.dir)
            parser.error(str(error))
    start = time.perf_counter()
    run(["dvc", "repro", "--quiet", *args.targets], args.dir, env)
    total = time.perf_counter() - start
    timings = json.loads(timings_file.read_text())
    inside = 0.0
    print(f"{'stage':32s} {'seconds':>8s}")
    for name, entry in sorted(timings.items(), key=lambda kv: kv[1]["finished_utc"]):
        inside += entry["seconds"]
        print(f"{name:32s} {entry['seconds']:8.1f}")
    print(f"{'sum of stages':32s} {inside:8.1f}")
    print(f"{'outside stages (DVC, start-up)':32s} {total - inside:8.1f}")
    what = f"`dvc repro {' '.join(args.targets)}`" if args.targets else "whole `dvc repro`"
    print(
        f"{what} from a fresh clone: {total:.0f} s = {total / 60:.1f} min "
        f"({len(timings)} stages, {os.cpu_count()} cores)"
    )
    if not args.keep:
        shutil.rmtree(args.dir)


if __name__ == "__main__":
    main()
