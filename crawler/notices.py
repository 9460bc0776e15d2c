"""What a long step the library takes on its own (a database upgrade) tells the person waiting on it.

The library never prints: it calls `upgrading`, and whoever runs it listens (`on_upgrade`) and decides
where that goes: the CLI to stderr, a crawl child to its parent as an event (which the parent passes
on to its own listener). Nobody listening, nothing is said (the daemon logs its start-up upgrade itself).
Kept apart from the store so that a process can listen without loading it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

# the database, the migrations applied, and None before they run or the seconds they took after
UpgradeListener = Callable[[Path, Sequence[str], "float | None"], None]

_listener: UpgradeListener | None = None


def on_upgrade(listener: UpgradeListener | None) -> None:
    """Who hears of the upgrades this process applies from now on (None: nobody)."""
    global _listener
    _listener = listener


def upgrading(database: Path, migrations: Sequence[str], seconds: float | None = None) -> None:
    """An upgrade of a database an older newswatch made begins (``seconds`` None) or has ended."""
    if _listener is not None:
        _listener(database, migrations, seconds)
