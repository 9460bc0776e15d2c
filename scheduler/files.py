"""Files written whole: a temporary file beside the target, flushed to disk, then renamed over it.

A reader (or a crash) sees the old file or the new one, never half of one: the data is fsynced
before the rename, and the folder after it, so the rename itself survives a power cut.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from crawler.errors import UsageError

__all__ = ["replacing", "write_atomic"]


@contextmanager
def replacing(path: Path, mode: int = 0o666) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; on success it replaces ``path``, on error it is removed.

    ``mode`` is the new file's permissions before the umask, as for a file opened for writing.
    """
    path = Path(path)
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    except OSError as exc:  # the folder refused: said of the file asked for, not of a temporary name
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, mode & ~_umask())
        _fsync(tmp, os.O_RDONLY)
        try:
            os.replace(tmp, path)
        except OSError as exc:  # the target refused (another user's file in a sticky folder, immutable, a folder)
            raise OSError(exc.errno, exc.strerror, str(path)) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:
        _fsync(path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        pass  # some filesystems cannot sync a folder; the file itself is on disk


def write_atomic(path: Path, data: bytes | str, mode: int = 0o666) -> None:
    """Writes ``data`` (text as UTF-8) to ``path`` whole; see :func:`replacing`."""
    with replacing(path, mode) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def _fsync(path: Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_output_folder(option: str, path: Path) -> None:
    """Refuses an output file whose folder is missing (a typo in the path, more likely than a folder to make)."""
    if not path.parent.is_dir():
        raise UsageError(f"{option} {path}: the folder {path.parent} does not exist; create it first")
