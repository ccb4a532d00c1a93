"""Atomic, deterministic file output: DVC must never cache a half-written or time-stamped file."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
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


def _fresh_dir(final: Path) -> Path:
    """A temp dir beside ``final``, after removing what a killed run left (``.<name>.tmp-*``)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    for stale in final.parent.glob(f".{final.name}.tmp-*"):  # left by a killed run (SIGKILL skips cleanup)
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    os.chmod(tmp, 0o755)  # mkdtemp makes 0700; outputs are meant to be read by others
    return tmp


def _swap_in(tmp: Path, final: Path) -> Path:
    """``tmp`` becomes ``final``; the previous ``final`` is moved to the returned path (or put back on failure)."""
    old = final.parent / f"{tmp.name}-old"  # matches the stale pattern: a kill here is cleaned up next time
    for path in tmp.rglob("*"):  # readable by others, whatever the writer chose (safetensors writes 0600)
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    if final.exists() or final.is_symlink():
        os.replace(final, old)  # the previous output stays whole until the new one is in place
    try:
        os.replace(tmp, final)
    except OSError:
        if old.exists() or old.is_symlink():
            os.replace(old, final)
        raise
    return old


@contextlib.contextmanager
def atomic_dir(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temp dir beside ``final``; on success it replaces ``final``, on error it is removed and ``final``
    is left as it was. Leftovers of a killed run (``.<name>.tmp-*``) are removed first. A write the machine refuses
    (no space, a size limit, no permission: :data:`WRITE_ERRNOS`) is one FundiffError naming ``final``."""
    final = Path(final)
    try:
        tmp = _fresh_dir(final)
    except OSError as error:
        raise write_error(final, error) from None
    try:
        yield tmp
        old = _swap_in(tmp, final)
    except (OSError, WriteError) as error:
        shutil.rmtree(tmp, ignore_errors=True)
        raise write_error(final, error) from None  # name the output, not the temp dir
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old.is_dir() and not old.is_symlink():
        shutil.rmtree(old, ignore_errors=True)
    elif old.exists() or old.is_symlink():
        old.unlink()


@contextlib.contextmanager
def atomic_file(final: str | os.PathLike, mode: str = "wb") -> Iterator[io.IOBase]:
    final = Path(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        for stale in final.parent.glob(f".{final.name}.tmp-*"):  # left by a killed run (SIGKILL skips cleanup)
            if stale.is_file():
                stale.unlink(missing_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.tmp-", dir=final.parent)
        os.chmod(tmp, 0o644)
    except OSError as error:
        raise write_error(final, error) from None
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
        os.replace(tmp, final)
    except (OSError, WriteError) as error:
        Path(tmp).unlink(missing_ok=True)
        raise write_error(final, error) from None  # name the output, not the temp file
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
