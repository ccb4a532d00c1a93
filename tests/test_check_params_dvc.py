"""The `check_params` stage under the real DVC, on the tiny profile (a throwaway git repo that runs `data` and
`train@denoiser` only, to stay cheap): a bad value given to `dvc repro` or to `dvc exp run -S` stops in check_params,
before DVC deletes any stage's outputs, so every previous output stays in place; a killed writer's temp leftover is swept
even where DVC restores the stage from its run cache without running it; and a no-op rerun changes nothing git tracks."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_pipeline_e2e import RAN, copy_checkout, git, run

TARGET = "train@denoiser"


def outputs(work: Path) -> dict[str, str]:
    return {
        p.relative_to(work).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for root in ("data", "reports")
        for p in sorted((work / root).rglob("*"))
        if p.is_file()
    }


def failing(cmd: list[str], work: Path) -> str:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": ""}
    proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("check") / "repo"
    copy_checkout(work)
    git(work, "init", "-q")
    git(work, "add", "-A")
    git(work, "commit", "-qm", "the code")
    run(["dvc", "repro", TARGET], work)
    git(work, "add", "-A")
    git(work, "commit", "-qm", "the tiny run of data and train@denoiser")
    return work


@pytest.mark.slow
@pytest.mark.parametrize("how", ["repro", "exp run -S"])
def test_a_bad_value_stops_before_dvc_deletes_any_output(work, how):
    before = outputs(work)
    assert "data/models/denoiser/checkpoints/final/diffusion_pytorch_model.safetensors" in before
    if how == "repro":
        text = (work / "params.yaml").read_text()
        (work / "params.yaml").write_text(text.replace("epochs: 1\n", "epochs: 0\n", 1))
        printed = failing(["dvc", "repro", TARGET], work)
    else:
        printed = failing(["dvc", "exp", "run", "-S", "profile=tiny", "-S", "train.denoiser.epochs=0"], work)
    assert "error: train.denoiser.epochs=0 must be >= 1" in printed, printed
    assert RAN.findall(printed) == ["check_params"], printed
    assert outputs(work) == before, "a failed param check lost outputs"
    # docs/pipeline.md: undo the bad value exp run leaves in params.yaml (`git checkout params.yaml` may see no change
    # when the bad file has the good one's size and time stamp, so the committed bytes are written back here)
    (work / "params.yaml").write_text(git(work, "show", "HEAD:params.yaml"))
    assert git(work, "status", "--porcelain") == "" and "epochs: 0" not in (work / "params.yaml").read_text()


@pytest.mark.slow
def test_leftovers_go_even_when_the_stage_comes_from_the_run_cache_and_a_noop_changes_nothing(work):
    lock = (work / "dvc.lock").read_text()
    again = run(["dvc", "repro", TARGET], work)
    assert RAN.findall(again) == ["check_params"], again  # the check runs every time; nothing else reruns
    assert (work / "dvc.lock").read_text() == lock and git(work, "status", "--porcelain") == ""
    # a writer killed mid-write left its temps; DVC had deleted the outputs before running the stage
    models = work / "data/models/denoiser"
    (models / ".checkpoints.tmp-killed/final").mkdir(parents=True)
    (models / ".live.tmp-killed").mkdir()
    (work / "reports/partB").mkdir(parents=True, exist_ok=True)
    (work / "reports/partB/.denoiser.metrics.json.tmp-killed").write_text("{")
    shutil.rmtree(models / "checkpoints")
    restored = run(["dvc", "repro", TARGET], work)
    assert "Restored stage 'train@denoiser' from run-cache" in restored or "is cached" in restored, restored
    assert RAN.findall(restored) == ["check_params"], restored
    assert not list(work.rglob(".*.tmp-*")), sorted(work.rglob(".*.tmp-*"))
    assert (work / "dvc.lock").read_text() == lock and git(work, "status", "--porcelain") == ""
