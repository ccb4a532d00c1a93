"""Resource limits met while writing: a file-size limit (what a quota gives, EFBIG) during a stage that writes figures
is one line naming the output, exit 2, and the previous outputs stay as they were. Run in a subprocess under
`ulimit -f` (RLIMIT_FSIZE; Python ignores SIGXFSZ, so the write fails with EFBIG instead of killing the process)."""

from __future__ import annotations

import hashlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from workspace import make_workspace

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return make_workspace(tmp_path_factory.mktemp("limits") / "repo")


def files(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".fundiff" not in p.parts
    }


def run_limited(root: Path, argv: list[str], max_file_bytes: int) -> subprocess.CompletedProcess:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))

    env = {**os.environ, "TQDM_DISABLE": "1", "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    env.pop("FUNDIFF_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", *argv], cwd=root, env=env, capture_output=True, text=True, preexec_fn=limit, timeout=300
    )


@pytest.mark.parametrize(
    "argv, output",
    [
        (["stages.sample_denoiser", "--out", "reports/partB/denoiser"], "reports/partB/denoiser"),
        (["stages.report"], "reports/"),  # its first output, reports/assets, already meets the limit
    ],
)
def test_a_file_size_limit_is_one_line_and_keeps_the_previous_output(template, tmp_path, argv, output):
    root = tmp_path / "repo"
    shutil.copytree(template, root)
    (root / output).parent.mkdir(parents=True, exist_ok=True)
    before = files(root)
    done = run_limited(root, argv, 4096)
    err = [line for line in done.stderr.strip().splitlines() if not line.startswith("note:")]
    assert done.returncode == 2, done.stderr[-2000:]
    assert len(err) == 1 and err[0].startswith("error: cannot write "), err
    assert "File too large" in err[0] and output in err[0], err[0]
    assert files(root) == before, "a failed stage changed the workspace"
    assert not [p for p in root.rglob(".*.tmp-*")], "a failed stage left a temp dir"


def stage_env() -> dict[str, str]:
    env = {**os.environ, "TQDM_DISABLE": "1", "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    env.pop("FUNDIFF_DEBUG", None)
    return env


def one_line(done_or_err) -> str:
    err = [line for line in done_or_err.strip().splitlines() if not line.startswith("note:")]
    assert len(err) == 1 and err[0].startswith("error: ") and "Traceback" not in err[0], err
    return err[0]


@pytest.fixture
def immutable():
    """chattr +i on paths (an immutable --out, or a read-only folder), undone afterwards; skipped where chattr is not
    available to this user (it needs root, and a filesystem that keeps the flag)."""
    made: list[Path] = []

    def apply(path: Path) -> None:
        done = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
        if done.returncode != 0:
            pytest.skip("chattr +i is not available here")
        made.append(path)

    yield apply
    for path in made:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)


@pytest.mark.parametrize(
    "argv, locked",
    [
        (["stages.sample_denoiser"], "reports/partB/denoiser"),  # an immutable --out: refused before the work
        (["stages.partA", "cfg"], "reports/partA"),  # a read-only folder the output goes in
    ],
)
def test_an_unwritable_output_is_refused_before_the_work(template, tmp_path, immutable, argv, locked):
    root = tmp_path / "repo"
    shutil.copytree(template, root)
    (root / locked).mkdir(parents=True, exist_ok=True)
    before = files(root)
    immutable(root / locked)
    done = subprocess.run(
        [sys.executable, "-m", *argv], cwd=root, env=stage_env(), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 2, done.stderr[-2000:]
    line = one_line(done.stderr)
    assert line.startswith("error: cannot write ") and locked in line, line
    assert files(root) == before and not [p for p in root.rglob(".*.tmp-*")]


def test_ctrl_c_mid_write_is_one_line_and_keeps_the_previous_output(template, tmp_path):
    """SIGINT while the results dir is being written: exit 130, one line, no temp left, the previous output kept."""
    root = tmp_path / "repo"
    shutil.copytree(template, root)
    (root / "reports/partB/denoiser").mkdir(parents=True)
    (root / "reports/partB/denoiser/manifest.json").write_text("{}\n")
    before = files(root)
    for _ in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-m", "stages.sample_denoiser"],
            cwd=root,
            env=stage_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        while proc.poll() is None and not list((root / "reports/partB").glob(".denoiser.tmp-*")):
            time.sleep(0.001)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 130, err[-2000:]
            assert one_line(err) == "error: interrupted; the previous outputs are kept, rerun the stage"
            assert files(root) == before and not [p for p in root.rglob(".*.tmp-*")]
            return
        proc.communicate()
        shutil.rmtree(root)
        shutil.copytree(template, root)
        (root / "reports/partB/denoiser").mkdir(parents=True)
        (root / "reports/partB/denoiser/manifest.json").write_text("{}\n")
    pytest.skip("the stage finished before the signal could land mid-write")
