"""DVC stage `report`: reports/index.html (+ reports/assets/: the training curves) from every results dir and DVCLive log.

Reads reports/partA/*/manifest.json and reports/partB/*/manifest.json (outputs of other stages: only read, never
written here) and data/models/<model>/live/. The page links the figures where they are, so reports/ must be kept
whole. Writes atomically; a corrupt manifest is a one-line error naming the file (exit 2), a stage that has not run
is a "not run" section. Also writes the untracked reports/timings.js (stage wall times; see fundiff/timings.py).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from fundiff import timings
from fundiff.io import atomic_dir, atomic_file
from fundiff.report import MODELS, Header, render_report
from stages.common import entrypoint, load_params

PARTS = ("partA", "partB")
ASSETS = "assets"
TIMINGS_JS = "timings.js"


def git_commit(cwd: Path = Path(".")) -> str:
    """Short SHA of HEAD (the commit the pipeline ran on top of; the page cannot name the commit that will contain it)."""
    try:
        proc = subprocess.run(["git", "rev-parse", "--short=7", "HEAD"], cwd=cwd, capture_output=True, text=True,
                              timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "unknown (git not available)"
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else "unknown (not a git repository)"


def discover_result_dirs(reports: Path) -> list[Path]:
    """Every non-hidden dir under reports/partA and reports/partB (atomic_dir's .tmp dirs are hidden), sorted."""
    found = []
    for part in PARTS:
        root = reports / part
        if root.is_dir():
            found += [d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")]
    return sorted(found, key=lambda p: p.as_posix())


def live_dirs(models_root: Path) -> dict[str, Path]:
    """data/models/<model>/live of the three Part B models (the `train` foreach of dvc.yaml); a missing one is shown
    as "not run". A fixed list, not params' train keys, so the stage need not depend on every training param."""
    return {model: models_root / model / "live" for model in MODELS}


@entrypoint
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", default="reports", help="dir holding partA/, partB/; the page goes here")
    parser.add_argument("--models", default="data/models", help="dir holding <model>/live/ (DVCLive logs)")
    args = parser.parse_args()
    started = time.perf_counter()

    params = load_params()
    backend = (params.get("partA") or {}).get("backend", "not configured (no partA section in params)")
    header = Header(
        profile=str(params.get("profile_name", "unnamed")),
        backend=str(backend),
        commit=git_commit(),
        experiment=os.environ.get("DVC_EXP_NAME") or "workspace",
        seed=params.get("seed", "not set"),
    )
    reports = Path(args.reports)
    result_dirs = discover_result_dirs(reports)
    with atomic_dir(reports / ASSETS) as assets:
        html = render_report(result_dirs, live_dirs(Path(args.models)), header, page_dir=reports,
                             assets_dir=assets, assets_href=ASSETS, timings_href=TIMINGS_JS)
        with atomic_file(reports / "index.html", "w") as handle:
            handle.write(html)
    elapsed = time.perf_counter() - started

    try:  # informational only: a read-only .fundiff/ must not fail the stage after the page is written
        timings.record("report", elapsed)
        with atomic_file(reports / TIMINGS_JS, "w") as handle:
            handle.write(timings.to_script(timings.load()))
    except OSError as error:
        print(f"report: warning: wall times not recorded ({error})", file=sys.stderr)
    size = (reports / "index.html").stat().st_size + sum(f.stat().st_size for f in (reports / ASSETS).iterdir())
    print(f"report: {len(result_dirs)} results dirs ({', '.join(sorted({d.parent.name for d in result_dirs})) or 'none'})"
          f" -> {reports / 'index.html'} ({size / 1024:.0f} KiB with {ASSETS}/) in {elapsed:.1f} s")


if __name__ == "__main__":
    main()
