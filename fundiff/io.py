"""Atomic, deterministic file output: DVC must never cache a half-written or time-stamped file."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from fundiff.errors import FundiffError

# What writing can meet that is the machine's, not the code's: no space, a file-size limit or quota, a read-only or
# unwritable place, a name too long, an I/O error. Each is one line naming the output; the previous output stays.
WRITE_ERRNOS = {
    errno.ENOSPC,
    errno.EFBIG,
    errno.EDQUOT,
    errno.EROFS,
    errno.EACCES,
    errno.EPERM,
    errno.ENOTDIR,
    errno.EISDIR,
    errno.ENAMETOOLONG,
    errno.EIO,
    errno.EMLINK,
}


class WriteError(FundiffError):
    """A write the machine refused, named by the output it was for (the outermost writer's, not a temp file's)."""

    def __init__(self, final: Path, strerror: str):
        self.strerror = strerror
        super().__init__(
            f"cannot write {final} ({strerror}); make it writable or free space (or lift the file-size limit), "
            "then rerun"
        )


def write_error(final: Path, error: OSError) -> Exception:
    """The one-line WriteError for a write to ``final`` that the machine refused (or that a writer nested inside
    refused), or ``error`` itself (a bug)."""
    if isinstance(error, WriteError):
        return WriteError(final, error.strerror)
    if error.errno not in WRITE_ERRNOS:
        return error
    return WriteError(final, error.strerror)


def _nearest_existing(path: Path) -> Path:
    parent = path.parent
    while not (parent.exists() or parent.is_symlink()) and parent != parent.parent:
        parent = parent.parent
    return parent


def _check_place(path: Path) -> None:
    """The nearest existing folder above ``path`` is a folder where a file can be made (a probe file, removed)."""
    parent = _nearest_existing(path)
    if not parent.is_dir():
        raise FundiffError(
            f"cannot write {path}: {parent} is a file, not a folder; move it away or choose another path"
        )
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.tmp-probe-", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        raise WriteError(path, error.strerror or str(error)) from None


def check_outputs(dirs: Iterable[str | os.PathLike] = (), files: Iterable[str | os.PathLike] = ()) -> None:
    """Before any work: every output of a stage can be written where it goes. A results directory (``dirs``) that
    names an existing file, or a file (``files``) that names an existing directory, is refused rather than replaced;
    an existing directory must be writable (not read-only or immutable), and the folder each output is made in must
    take a new file. One line naming the output; nothing is changed."""
    for path, is_dir in [(Path(d), True) for d in dirs] + [(Path(f), False) for f in files]:
        if path.exists():
            if is_dir and not path.is_dir():
                raise FundiffError(
                    f"cannot write {path}: it is an existing file, not a results directory; move it away or choose "
                    "another output path"
                )
            if not is_dir and path.is_dir():
                raise FundiffError(f"cannot write {path}: it is a directory; remove it or choose another output path")
            if is_dir and not os.access(path, os.W_OK | os.X_OK):
                raise WriteError(path, "not writable: read-only or immutable")
        _check_place(path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)


def remove_stale(final: Path) -> None:
    """Remove what a killed writer of ``final`` left beside it (``.<name>.tmp-*``; SIGKILL skips every clean-up)."""
    for stale in final.parent.glob(f".{final.name}.tmp-*"):
        _remove(stale)


def sweep_stale(roots: Iterable[str | os.PathLike]) -> int:
    """Remove every writer's temp (``.<name>.tmp-*``) under ``roots``: what a killed run left where no writer runs
    again to clean it (DVC restores a stage from its run cache without running it). Returns how many went."""
    found = sorted({p for root in map(Path, roots) if root.is_dir() for p in root.rglob(".*.tmp-*")})
    gone = 0
    for path in found:
        if path.exists() or path.is_symlink():  # not inside one removed already
            _remove(path)
            gone += 1
    return gone


def _readable(tmp: Path) -> None:
    """Outputs are read by others, whatever the writer chose (mkdtemp makes 0700, safetensors writes 0600)."""
    os.chmod(tmp, 0o755 if tmp.is_dir() else 0o644)
    for path in tmp.rglob("*"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)


def _commit(items: list[tuple[Path, Path]]) -> None:
    """Each staged ``tmp`` becomes its ``final``, all of them or none: on a failure the ones already swapped in are
    taken out again and every previous output is put back."""
    done: list[tuple[Path, Path]] = []
    try:
        for tmp, final in items:
            _readable(tmp)
            old = final.parent / f"{tmp.name}-old"  # matches the stale pattern: a kill here is cleaned up next time
            if final.exists() or final.is_symlink():
                os.replace(final, old)  # the previous output stays whole until the new one is in place
            done.append((final, old))
            os.replace(tmp, final)
    except BaseException:  # OSError, or Ctrl-C between two renames: put every previous output back
        for final, old in reversed(done):
            if old.exists() or old.is_symlink():
                _remove(final)
                os.replace(old, final)
            else:
                _remove(final)
        raise
    for _, old in done:
        _remove(old)


class Staged:
    """Outputs written beside their final places (``.<name>.tmp-*``), to appear together: see :func:`atomic_outputs`."""

    def __init__(self) -> None:
        self.items: list[tuple[Path, Path]] = []  # (tmp, final)
        self.finals: list[Path] = []  # every output begun, before its temp exists (a signal may land in between)
        self.current: Path | None = None  # the output being written, named by an error

    def dir(self, final: str | os.PathLike) -> Path:
        """A fresh temp dir beside ``final``, after removing what a killed run left."""
        self.current = final = Path(final)
        self.finals.append(final)
        final.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(final)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
        self.items.append((tmp, final))
        return tmp

    def file(self, final: str | os.PathLike, data: str | bytes) -> None:
        """``data`` written now to a temp file beside ``final``."""
        self.current = final = Path(final)
        self.finals.append(final)
        final.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(final)
        fd, name = tempfile.mkstemp(prefix=f".{final.name}.tmp-", dir=final.parent)
        self.items.append((Path(name), final))
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode() if isinstance(data, str) else data)


@contextlib.contextmanager
def atomic_outputs() -> Iterator[Staged]:
    """Several outputs that appear together or not at all (a results dir and its metrics file; checkpoints and their
    training log): each is staged beside its final place (:meth:`Staged.dir`, :meth:`Staged.file`), and when the
    block ends without error all of them replace their finals (:func:`_commit`); on any error every temp is removed
    and every previous output is left as it was. A write the machine refuses (:data:`WRITE_ERRNOS`) is one
    FundiffError naming the output."""
    staged = Staged()
    try:
        yield staged
        staged.current = None
        _commit(staged.items)
    except (OSError, WriteError) as error:
        final = staged.current or (staged.items[0][1] if staged.items else Path("the output"))
        raise write_error(final, error) from None  # name the output, not a temp path
    finally:
        for tmp, _ in staged.items:
            _remove(tmp)
        for final in staged.finals[len(staged.items) :]:  # begun, its temp made just before a signal: not in items
            remove_stale(final)


@contextlib.contextmanager
def atomic_dir(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temp dir beside ``final``; on success it replaces ``final``, on error it is removed and ``final``
    is left as it was (:func:`atomic_outputs` with one directory)."""
    with atomic_outputs() as staged:
        yield staged.dir(final)


@contextlib.contextmanager
def atomic_file(final: str | os.PathLike, mode: str = "wb") -> Iterator[io.IOBase]:
    """Yield a handle on a temp file beside ``final`` that replaces ``final`` when the block ends without error; on
    any error (Ctrl-C included) the temp is removed and ``final`` is left as it was."""
    final, tmp = Path(final), None
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(final)
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.tmp-", dir=final.parent)
        os.chmod(tmp, 0o644)
        with os.fdopen(fd, mode) as handle:
            yield handle
        os.replace(tmp, final)
    except (OSError, WriteError) as error:
        raise write_error(final, error) from None  # name the output, not the temp file
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        else:
            remove_stale(final)  # none, or one made just before a signal landed


def save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    """Like ``np.savez`` but byte-deterministic: numpy stamps each member with the current time, we use 1980-01-01."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted(arrays):
            member = io.BytesIO()
            np.save(member, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            archive.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), member.getvalue())
    with atomic_file(path) as handle:
        handle.write(buffer.getvalue())
