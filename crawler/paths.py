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
