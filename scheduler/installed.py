"""The newswatch installation a process runs from: whether it was installed anew since the process started.

`pip install -U` over a running daemon replaces the files under it: the daemon goes on with the code it loaded,
while each crawl child it starts, and each module it imports late, comes from the new files. pip writes a new
`newswatch-VERSION.dist-info` folder with every install (its RECORD lists the files it wrote), so the daemon
compares that folder's name and its RECORD and METADATA files' sizes and times with what they were at its start.
Editing the files of a checkout (an editable install) is no install: a developer's edits restart nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import crawler


@dataclass(frozen=True)
class Installation:
    """What pip left of one install of newswatch: its version, dist-info folder and the stat of its record files."""

    version: str
    where: str
    stamp: tuple[tuple[str, int, int], ...]


def current() -> Installation | None:
    """The newswatch distribution installed now, as the first entry of sys.path holding one finds it (a new process
    would import that one); None when newswatch runs from a checkout never installed."""
    try:
        dist = metadata.distribution("newswatch")
    except metadata.PackageNotFoundError:
        return None
    folder = getattr(dist, "_path", None)  # a dist-info folder (PathDistribution); anything else: no stamp
    stamp: list[tuple[str, int, int]] = []
    if isinstance(folder, Path):
        for name in ("METADATA", "RECORD"):
            try:
                st = (folder / name).stat()
            except OSError:  # being replaced right now
                continue
            stamp.append((name, st.st_size, st.st_mtime_ns))
    return Installation(dist.version or crawler.__version__, str(folder), tuple(stamp))
