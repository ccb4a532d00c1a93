"""fundiff.io: outputs that appear together or not at all, and output locations checked before any work."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fundiff.errors import FundiffError
from fundiff.io import atomic_outputs, check_outputs
from fundiff.result_dirs import Manifest, write_result


def previous(root: Path) -> tuple[Path, Path]:
    out, metrics = root / "reports/x", root / "reports/x.metrics.json"
    out.mkdir(parents=True)
    (out / "old.png").write_bytes(b"old")
    metrics.write_text('{"old": 1}\n')
    return out, metrics


def test_a_failed_rename_of_the_results_dir_leaves_no_new_metrics_file(tmp_path, monkeypatch):
    """The final rename of the results dir fails (an immutable --out): the new metrics file must not be left."""
    out, metrics = previous(tmp_path)
    real_replace = os.replace

    def refuse_the_dir(src, dst):
        if Path(dst) == out and not str(src).endswith("-old"):  # the new dir's rename, not the roll-back
            raise PermissionError(1, "Operation not permitted")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", refuse_the_dir)
    manifest = Manifest(section="x", title="x", order=1)
    with pytest.raises(FundiffError, match="cannot write .*reports/x \\(Operation not permitted\\)"):
        write_result(out, metrics, manifest, {"new": 2}, lambda d: (d / "new.png").write_bytes(b"new"))
    assert metrics.read_text() == '{"old": 1}\n' and sorted(p.name for p in out.iterdir()) == ["old.png"]
    assert not list(tmp_path.rglob(".*.tmp-*"))


def test_a_failed_metrics_rename_puts_the_previous_results_dir_back(tmp_path, monkeypatch):
    out, metrics = previous(tmp_path)
    real_replace = os.replace

    def refuse_the_metrics(src, dst):
        if Path(dst) == metrics and not str(src).endswith("-old"):
            raise OSError(27, "File too large")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", refuse_the_metrics)
    with pytest.raises(FundiffError, match="File too large"):
        with atomic_outputs() as staged:
            (staged.dir(out) / "new.png").write_bytes(b"new")
            staged.file(metrics, '{"new": 2}\n')
    assert metrics.read_text() == '{"old": 1}\n' and sorted(p.name for p in out.iterdir()) == ["old.png"]
    assert not list(tmp_path.rglob(".*.tmp-*"))


def test_outputs_appear_together_and_stale_temps_go(tmp_path):
    out, metrics = previous(tmp_path)
    (out.parent / ".x.tmp-killed").mkdir()  # what a SIGKILL left
    with atomic_outputs() as staged:
        (staged.dir(out) / "new.png").write_bytes(b"new")
        staged.file(metrics, "{}\n")
    assert sorted(p.name for p in out.iterdir()) == ["new.png"] and metrics.read_text() == "{}\n"
    assert not list(tmp_path.rglob(".*.tmp-*"))
    assert oct(out.stat().st_mode & 0o777) == "0o755" and oct(metrics.stat().st_mode & 0o777) == "0o644"


def test_an_existing_file_at_a_results_dir_is_refused(tmp_path):
    (tmp_path / "out").write_text("mine")
    with pytest.raises(FundiffError, match="it is an existing file, not a results directory"):
        check_outputs(dirs=[tmp_path / "out"])
    assert (tmp_path / "out").read_text() == "mine"


def test_a_directory_at_a_file_output_and_a_file_above_an_output_are_refused(tmp_path):
    (tmp_path / "m.json").mkdir()
    with pytest.raises(FundiffError, match="m.json: it is a directory"):
        check_outputs(files=[tmp_path / "m.json"])
    (tmp_path / "plain").write_text("")
    with pytest.raises(FundiffError, match="plain is a file, not a folder"):
        check_outputs(dirs=[tmp_path / "plain/sub/out"])


def test_a_symlink_at_a_results_dir_is_replaced_not_followed(tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "keep").write_text("keep")
    (tmp_path / "out").symlink_to(target)
    check_outputs(dirs=[tmp_path / "out"])
    with atomic_outputs() as staged:
        (staged.dir(tmp_path / "out") / "new").write_text("new")
    assert not (tmp_path / "out").is_symlink() and (tmp_path / "out/new").exists()
    assert sorted(p.name for p in target.iterdir()) == ["keep"]


def test_nothing_is_left_by_the_check(tmp_path):
    check_outputs(dirs=[tmp_path / "a/b/c"], files=[tmp_path / "a/m.json"])
    assert list(tmp_path.iterdir()) == []
