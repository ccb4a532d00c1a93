"""Wall time of each pipeline stage, kept OUT of DVC's outputs.

Wall times are measurements of one machine on one day, not results: if they went into a DVC-tracked file, the same
inputs would give different bytes and `dvc repro -f` would change dvc.lock. So each stage appends its wall time to the
untracked ``.fundiff/timings.json`` (git-ignored, never a DVC dep or out), and the report stage copies that into the
untracked ``reports/timings.js``, which ``reports/index.html`` loads to fill its "Stage wall times" table. The page's
bytes stay a pure function of the results; the timings are shown, labelled as "last run of each stage on this machine".

Stage entry points record themselves through ``timed_stage`` (wired into ``stages._cli.entrypoint``).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fundiff.io import atomic_file

TIMINGS_FILE = Path(os.environ.get("FUNDIFF_TIMINGS", ".fundiff/timings.json"))


FOREACH_STAGES = ("train", "sample", "partA")  # dvc.yaml's foreach stages: their first argument is the item


def stage_key(argv: list[str] | None = None) -> str:
    """A readable key for the running stage from its command line: ``python -m stages.train denoiser --data ...`` ->
    ``train denoiser``, ``python -m stages.report reports data/models`` -> ``report``. (DVC does not tell a command its
    stage name; the script and, for a foreach stage, its item identify it.)"""
    argv = sys.argv if argv is None else argv
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    name = spec.name if spec is not None else Path(argv[0]).stem if argv else "unknown"
    name = name.removeprefix("stages.")
    if name in FOREACH_STAGES and len(argv) > 1 and not argv[1].startswith("-"):
        return f"{name} {argv[1]}"
    return name


def load(path: str | os.PathLike = TIMINGS_FILE) -> dict[str, dict[str, Any]]:
    """The recorded timings; a missing or unreadable file is no timings (they are informational only)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): v for k, v in data.items() if isinstance(v, dict) and isinstance(v.get("seconds"), (int, float))}


def record(stage: str, seconds: float, path: str | os.PathLike = TIMINGS_FILE, status: str = "ok") -> None:
    """Set ``stage``'s last wall time (read-modify-write, replaced atomically; stages of one repro run one at a time).
    A failed run does not overwrite the last good time: it marks the entry failed and notes when."""
    data = load(path)
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    previous = data.get(stage, {})
    if status != "ok" and previous.get("status") == "ok":
        data[stage] = {**previous, "status": status, "failed_utc": now}
    else:
        data[stage] = {"seconds": round(float(seconds), 2), "finished_utc": now, "status": status}
    with atomic_file(path, "w") as handle:
        handle.write(json.dumps(data, indent=2, sort_keys=True) + "\n")


@contextlib.contextmanager
def timed_stage(stage: str | None = None, path: str | os.PathLike | None = None) -> Iterator[None]:
    """Record the wall time of the enclosed block under ``stage`` (default: from the command line), also on failure."""
    stage = stage or stage_key()
    started = time.perf_counter()
    status = "failed"
    try:
        yield
        status = "ok"
    finally:
        with contextlib.suppress(OSError):
            record(stage, time.perf_counter() - started, TIMINGS_FILE if path is None else path, status)


def to_script(timings: dict[str, dict[str, Any]], run: dict[str, str] | None = None) -> str:
    """The contents of ``reports/timings.js``: a plain script (not a fetch: file:// pages may not fetch) that sets the
    globals the page reads: the wall times, and ``run``, the provenance of this build (git commit, DVC experiment)."""
    rows = [
        {
            "stage": stage,
            "seconds": entry.get("seconds"),
            "finished_utc": entry.get("finished_utc", ""),
            "status": entry.get("status", "ok"),
        }
        for stage, entry in sorted(timings.items())
    ]
    payload = json.dumps(rows, indent=1, sort_keys=True).replace("</", "<\\/")
    run_payload = json.dumps(run or {}, sort_keys=True).replace("</", "<\\/")
    return (
        "// Written by `python -m stages.report` from .fundiff/timings.json. Untracked on purpose: wall times differ\n"
        "// from run to run, so they live outside the DVC-tracked (byte-deterministic) index.html.\n"
        f"window.FUNDIFF_TIMINGS = {payload};\n"
        f"window.FUNDIFF_RUN = {run_payload};\n"
    )
