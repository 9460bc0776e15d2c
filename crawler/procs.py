"""Whether a process still runs: for the store (the crawl holding a source's lease, the digest holding a
recipient's) and for the extraction workers (the crawl that owns their pool). Apart from both, so that a
worker never loads the store and the store none of the page work."""

from __future__ import annotations

import os
from pathlib import Path


def process_alive(pid: int | None) -> bool:
    """Whether a process with this id runs on this host (one we may not signal counts as running; one
    that has exited but not yet been collected by its parent, a zombie, does not)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return not _exited(pid)


def _exited(pid: int) -> bool:
    """Whether the process has ended and only its entry is left (Linux's /proc; elsewhere: not known, False).

    A crawl killed along with the daemon that started it is collected by init, which may take a while
    (seconds in some containers, never under an init that does not reap): until then its pid still
    answers signals, and its leases must not hold a restarted daemon's polls back.
    """
    try:
        line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = line[line.rfind(")") + 2 :].split()
    return bool(fields) and fields[0] in ("Z", "X")
