"""What stands in the way of a file newswatch is to write: kept apart from the store, whose import costs
`newswatch check` (scheduler.advice asks the same questions) a quarter of a second."""

from __future__ import annotations

import os
from pathlib import Path


def file_in_the_way(path: Path) -> Path | None:
    """The file standing where a folder of ``path`` should be (``[storage] database = "notes.txt/nw.db"``)."""
    for folder in path.parents:
        if folder.exists():
            return None if folder.is_dir() else folder
    return None


LOW_SPACE = 1 << 20  # bytes: below this the database's disk is full for SQLite (a page, a WAL frame, a journal)


def low_space(path: Path) -> int | None:
    """The bytes free on the file system holding ``path`` (or the nearest folder of it that exists) when fewer than
    ``LOW_SPACE``, else None: a write that failed there failed for want of space, whatever SQLite called it
    ("disk I/O error" when it could not grow its -wal or -shm file)."""
    for at in (path, *path.parents):
        try:
            st = os.statvfs(at)
        except FileNotFoundError:
            continue
        except OSError:
            return None
        free = st.f_bavail * st.f_frsize
        return free if free < LOW_SPACE else None
    return None


def on_read_only_mount(path: Path) -> bool:
    """Whether ``path``, or the nearest folder of it that exists, lies on a file system mounted read-only: a
    read-only disk, or /etc for a service that systemd's ProtectSystem=strict lets write only its StateDirectory
    (no permission would help there)."""
    for at in (path, *path.parents):
        try:
            return bool(os.statvfs(at).f_flag & os.ST_RDONLY)
        except FileNotFoundError:
            continue
        except OSError:
            return False
    return False


def service_folder() -> str:
    """Where the newswatch service may write: its StateDirectory, as systemd tells it, else the shipped unit's."""
    return os.environ.get("STATE_DIRECTORY", "").split(":")[0] or "/var/lib/newswatch"
