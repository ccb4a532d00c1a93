"""`make gpu-check` (bench/gpu_check.py): its dry run, the same steps on the CPU at tiny sizes, runs every step and
parses every figure, so the GPU path cannot rot where no GPU is lent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "bench/gpu_check.py"
FIGURES = (
    "device",
    "versions",
    "bf16 matmul",
    "training img/s, every knob off",
    "training img/s, every knob auto",
    "bf16 test loss / fp32",
    "TF32 test loss / fp32",
    "CUDA tests (pytest -k cuda)",
    "CUDA determinism",
    "FLOPs per training image",
    "share of bf16 matmul, every knob auto",
    "profile=tiny end to end",
    "train denoiser",
    "outside stages (DVC, start-up)",
)


@pytest.mark.slow
def test_the_dry_run_runs_every_step_and_writes_one_table(tmp_path):
    out = tmp_path / "gpu-check.md"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--dry-run", "--out", str(out)], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    table = out.read_text()
    assert table in proc.stdout and table.startswith("| figure | value | target | result |")
    assert "ERROR" not in table
    missing = [figure for figure in FIGURES if figure not in table]
    assert not missing, f"figures not in the table: {missing}\n{table}"
    assert "n/a (dry run)" in table and "FAIL" not in table


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--dry-run", "--budget", "0"], "--budget 0 must be > 0"),
        (["--dry-run", "--mnist-dir", "/nonexistent"], "no MNIST/raw/ in it"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, fragment):
    proc = subprocess.run([sys.executable, str(SCRIPT), *args], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 2 and fragment in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_without_a_gpu_the_full_run_says_so():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible: the full run would start")
    proc = subprocess.run([sys.executable, str(SCRIPT)], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 2 and "no CUDA GPU visible" in proc.stderr and "--dry-run" in proc.stderr
