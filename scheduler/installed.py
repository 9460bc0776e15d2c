"""The newswatch installation a process runs from: whether it was installed anew since the process started.

`pip install -U` over a running daemon replaces the files under it: the daemon goes on with the code it loaded,
while each crawl child it starts, and each module it imports late, comes from the new files. pip writes a new
`newswatch-VERSION.dist-info` folder with every install (its RECORD lists the files it wrote), so the daemon
compares that folder's name and its RECORD and METADATA files' sizes and times with what they were at its start.
Editing the files of a checkout (an editable install) is no install: a developer's edits restart nothing.

A checkout never installed (run with PYTHONPATH or `python -m`) has no dist-info to go by, while its crawl children
start from its files as they are now: there the code files themselves are compared (their sizes and times), so a
`git pull` under a running daemon is seen as an install is.
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
    checkout: bool = False  # a checkout never installed: ``where`` is its folder, ``stamp`` its code files'

    def changed_files(self, other: Installation) -> list[str]:
        """The files whose stamp differs between two looks at one checkout (changed, added or removed)."""
        return sorted({name for name, *_ in set(self.stamp) ^ set(other.stamp)})


def current() -> Installation | None:
    """The newswatch distribution installed now, as the first entry of sys.path holding one finds it (a new process
    would import that one); without one, the checkout this process runs from (`checkout`), or None when its code is
    gone."""
    try:
        dist = metadata.distribution("newswatch")
    except metadata.PackageNotFoundError:
        return checkout()
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


def checkout() -> Installation | None:
    """The checkout this process imported newswatch from, as its code files are now (None when none is left)."""
    root = Path(crawler.__file__).resolve().parent.parent
    stamp: list[tuple[str, int, int]] = []
    for package in ("crawler", "scheduler"):
        for path in sorted((root / package).rglob("*.py")):
            try:
                st = path.stat()
            except OSError:  # being replaced right now
                continue
            stamp.append((path.relative_to(root).as_posix(), st.st_size, st.st_mtime_ns))
    if not stamp:
        return None
    return Installation(crawler.__version__, str(root), tuple(stamp), checkout=True)
