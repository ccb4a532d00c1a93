"""The report of a workspace, as the `report` stage makes it: find the results dirs (reports/partA/*, reports/partB/*)
and the DVCLive dirs (data/models/<model>/live), name the run in the header (profile, backend, seed), write
reports/index.html and reports/assets/ atomically, then the untracked reports/timings.js (fundiff.timings): stage wall
times and the run's provenance (git commit, DVC experiment). Neither is a DVC input, so neither may be in the tracked
page: a new commit must not change index.html, and a run-cache restore must not show a stale commit."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fundiff import timings
from fundiff.io import atomic_file, atomic_outputs
from fundiff.params import edition_of
from fundiff.report.build import render_report
from fundiff.report.sections import Header
from fundiff.titles import EDITIONS, SAMPLED, expected_sections

RESULT_PARTS = ("partA", "partB")
ASSETS = "assets"
PAGE = "index.html"
TIMINGS_JS = "timings.js"


def git_commit(cwd: Path = Path(".")) -> str:
    """Short SHA of HEAD (the commit the pipeline ran on top of; the page cannot name the commit that will contain it)."""
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "--short=7", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown (git not available)"
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else "unknown (not a git repository)"


def discover_result_dirs(reports: Path, edition: str = "ddpm") -> list[Path]:
    """Every non-hidden dir under reports/partA and those of the ``edition``'s models (and CAS) under reports/partB
    (atomic_dir's .tmp dirs are hidden), sorted: a workspace that ran the other edition before keeps its results, but
    this edition's page does not show them."""
    found = []
    for part in RESULT_PARTS:
        root = reports / part
        if root.is_dir():
            found += [d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")]
    ours = {*SAMPLED[edition], "cas"}
    return sorted((d for d in found if d.parent.name != "partB" or d.name in ours), key=lambda p: p.as_posix())


def live_dirs(models_root: Path, edition: str = "ddpm") -> dict[str, Path]:
    """data/models/<model>/live of the edition's Part B models (fundiff.titles.EDITIONS, the `train` foreach of
    dvc.yaml); a missing one is shown as "not run". A fixed list per edition, not params' train keys, so the stage
    need not depend on every training param."""
    return {model: models_root / model / "live" for model in EDITIONS[edition]}


def header_for(params: Mapping[str, Any]) -> Header:
    """The run the page describes, from params.yaml: profile, Part A backend and seed."""
    backend = (params.get("partA") or {}).get("backend", "not configured (no partA section in params)")
    return Header(
        profile=str(params.get("profile_name", "unnamed")),
        backend=str(backend),
        seed=params.get("seed", "not set"),
        edition=edition_of(params),
    )


def provenance(cwd: Path = Path(".")) -> dict[str, str]:
    """What the run was built from, outside DVC's inputs: the git commit of ``cwd`` and the DVC experiment name
    (``DVC_EXP_NAME``, set by `dvc exp run`; else "workspace")."""
    return {"commit": git_commit(cwd), "experiment": os.environ.get("DVC_EXP_NAME") or "workspace"}


def write_report(reports: Path, models: Path, params: Mapping[str, Any]) -> str:
    """Write ``reports/index.html`` and ``reports/assets/`` (atomically: a FundiffError leaves the previous page) and
    ``reports/timings.js``; return a one-line summary."""
    started = time.perf_counter()
    header = header_for(params)
    result_dirs = discover_result_dirs(reports, header.edition)
    with atomic_outputs() as staged:  # the page and its curves appear together
        assets = staged.dir(reports / ASSETS)
        html = render_report(
            result_dirs,
            live_dirs(models, header.edition),
            header,
            page_dir=reports,
            assets_dir=assets,
            assets_href=ASSETS,
            timings_href=TIMINGS_JS,
            expected=expected_sections(header.edition),
        )
        staged.file(reports / PAGE, html)
    elapsed = time.perf_counter() - started

    try:  # informational only: a read-only .fundiff/ must not fail the stage after the page is written
        timings.record("report", elapsed)
        with atomic_file(reports / TIMINGS_JS, "w") as handle:
            handle.write(timings.to_script(timings.load(), provenance()))
    except OSError as error:
        print(f"report: warning: wall times not recorded ({error})", file=sys.stderr)
    size = (reports / PAGE).stat().st_size + sum(f.stat().st_size for f in (reports / ASSETS).iterdir())
    parts = ", ".join(sorted({d.parent.name for d in result_dirs})) or "none"
    return (
        f"report: {len(result_dirs)} results dirs ({parts}) -> {reports / PAGE} ({size / 1024:.0f} KiB with "
        f"{ASSETS}/) in {elapsed:.1f} s"
    )
