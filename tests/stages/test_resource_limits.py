"""Resource limits met while writing: a file-size limit (what a quota gives, EFBIG) during a stage that writes figures
is one line naming the output, exit 2, and the previous outputs stay as they were. Run in a subprocess under
`ulimit -f` (RLIMIT_FSIZE; Python ignores SIGXFSZ, so the write fails with EFBIG instead of killing the process)."""

from __future__ import annotations

import hashlib
import os
import resource
import shutil
import subprocess
import sys
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
