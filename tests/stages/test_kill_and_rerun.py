"""SIGKILL in a sampling, a Part A and the report stage, then a rerun: the outputs are byte-identical to an
uninterrupted run and no temp dir is left behind (training's kill-and-resume test is in test_train_stage.py).

DVC deletes a stage's outputs before it runs it; a killed stage therefore leaves no outputs at all, and `dvc checkout
<stage>` (or the run cache) brings back the last good ones. These tests exercise the stages themselves: the directory
they replace appears whole, or the old one stays."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from workspace import REPO, make_workspace

STAGES = {
    "sample": (["sample", "class_cond", "--no-progress"], "reports/partB/class_cond"),
    "partA": (["partA", "cfg"], "reports/partA/cfg"),
    "report": (["report"], "reports/index.html"),
}


def command(argv: list[str]) -> list[str]:
    return [sys.executable, "-m", f"stages.{argv[0]}", *argv[1:]]


def environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1"}


def tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".fundiff" not in p.parts and p.name != "timings.js"
    }


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return make_workspace(tmp_path_factory.mktemp("kill") / "repo")


@pytest.mark.parametrize("name", sorted(STAGES))
def test_sigkill_then_rerun_gives_the_uninterrupted_bytes(name, template, tmp_path):
    argv, out = STAGES[name]
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    shutil.copytree(template, clean)
    shutil.copytree(template, killed)
    started = time.perf_counter()
    subprocess.run(command(argv), cwd=clean, env=environment(), check=True, capture_output=True)
    duration = time.perf_counter() - started

    proc = subprocess.Popen(
        command(argv), cwd=killed, env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    parent = (killed / out).parent
    deadline = time.perf_counter() + duration
    while proc.poll() is None and time.perf_counter() < deadline:  # kill while the output is being written, if seen
        if any(parent.glob(f".{Path(out).name}.tmp-*")):
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    subprocess.run(command(argv), cwd=killed, env=environment(), check=True, capture_output=True)

    assert tree(killed) == tree(clean)
    assert not list(killed.rglob(".*.tmp-*")), "a temp dir of the killed run survived the rerun"
