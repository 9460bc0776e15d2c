"""newswatch's settings in the environment (``NEWSWATCH_*`` numbers): each one's meaning, default and allowed values,
read in one place. Production needs none of them but ``NEWSWATCH_WORKERS`` and ``NEWSWATCH_MAX_FAILURES``; the rest
are for tests and benchmarks.

Each is read alike: unset or empty, its default; ``inf``, or any value beyond its longest or largest (``1e400``),
that longest or largest (its "never" or "no limit"); a value that is no number (``nan``, ``5m``), below its lowest
(a negative wait, ``-inf``) or, for a count, not whole, an error naming the setting and what it allows, which the CLI
says in one line before any command runs (exit 2), so no process of newswatch meets it later.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass

from crawler.errors import UsageError

# The longest wait a setting in seconds may ask: 2**31-1 ms (24.8 days), what SQLite's busy timeout (a C int of
# milliseconds) and the system's poll and epoll waits take at most; inf, or longer, is this.
LONGEST_WAIT = (2**31 - 1) / 1000


@dataclass(frozen=True)
class Setting:
    """One ``NEWSWATCH_*`` number: what it is, its unit, its default, the lowest value allowed (``above``: the lowest
    itself is not), and the largest, which inf and anything beyond it mean."""

    name: str
    meaning: str
    unit: str  # "seconds", or what a whole number counts
    default: str  # as its error says it (the reader gives the value)
    lowest: float
    largest: float
    largest_means: str
    above: bool = False
    whole: bool = False

    def allowed(self) -> str:
        """What the setting takes, for its error: '0 or more seconds (inf: 24.8 days, the longest wait)'."""
        if self.whole:
            low = f"a whole number of {self.unit}, {self.lowest:g} or more"
        else:
            low = f"{'more than' if self.above else 'at least'} {self.lowest:g} {self.unit}"
        return f"{low} (inf: {self.largest_means}), or unset for the default ({self.default})"


SETTINGS = (
    Setting(
        "NEWSWATCH_WORKERS",
        "extraction worker processes of a crawl (0: in the crawl process)",
        "workers",
        "one per core, at most 8",
        0,
        64,
        "64, the most",
        whole=True,
    ),
    Setting(
        "NEWSWATCH_MAX_FAILURES",
        "jobs failing in a row before the daemon says so loudly",
        "jobs",
        "5",
        1,
        sys.maxsize,
        "never",
        whole=True,
    ),
    Setting(
        "NEWSWATCH_BUSY_TIMEOUT",
        "how long a write waits for another process's write lock",
        "seconds",
        "30",
        0,
        LONGEST_WAIT,
        "24.8 days, SQLite's longest wait",
    ),
    Setting(
        "NEWSWATCH_START_SPREAD",
        "time over which the daemon spreads overdue sources at start",
        "seconds",
        "60",
        0,
        LONGEST_WAIT,
        "each source's interval, at most 24.8 days",
    ),
    Setting(
        "NEWSWATCH_CRAWL_TIMEOUT",
        "how long a source's poll may take before it fails (newswatch demo: its whole crawl)",
        "seconds",
        "5 minutes or 10 crawl.timeout, the longer; newswatch demo: 5 minutes",
        0,
        LONGEST_WAIT,
        "24.8 days, the longest wait",
        above=True,
    ),
    Setting(
        "NEWSWATCH_BATCH_TIMEOUT",
        "how long a batch's crawl child (or a digest's matching child) may run before it is killed",
        "seconds",
        "NEWSWATCH_CRAWL_TIMEOUT + 60",
        0,
        LONGEST_WAIT,
        "24.8 days, the longest wait",
        above=True,
    ),
    Setting(
        "NEWSWATCH_CRAWL_WORKERS",
        "crawl children (batches) the daemon runs at once",
        "children",
        "3",
        1,
        sys.maxsize,
        "no limit",
        whole=True,
    ),
    Setting(
        "NEWSWATCH_START_LEAD",
        "how long before its batch a crawl child starts, until start-ups are measured",
        "seconds",
        "5",
        0,
        30,
        "30 s, the longest lead a measured start-up gets",
    ),
    Setting(
        "NEWSWATCH_BATCH_AHEAD",
        "how soon a source must be due to join the batch starting now",
        "seconds",
        "10",
        0,
        LONGEST_WAIT,
        "24.8 days",
    ),
    Setting(
        "NEWSWATCH_BATCH_SIZE",
        "sources in one crawl child at most",
        "sources",
        "500",
        1,
        sys.maxsize,
        "no limit",
        whole=True,
    ),
    Setting(
        "NEWSWATCH_DB_WAIT",
        "how long before a database held locked is tried again, the first time",
        "seconds",
        "30",
        0,
        LONGEST_WAIT,
        "24.8 days, the longest wait",
        above=True,
    ),
    Setting(
        "NEWSWATCH_MAX_FEED_ENTRIES",
        "entries of one feed document read at most",
        "entries",
        "5000",
        1,
        sys.maxsize,
        "no limit",
        whole=True,
    ),
    Setting(
        "NEWSWATCH_MAX_NEW_PAGES",
        "pages of new entries one poll of a source fetches at most",
        "pages",
        "1000",
        1,
        sys.maxsize,
        "no limit",
        whole=True,
    ),
)
_BY_NAME = {s.name: s for s in SETTINGS}


class SettingError(UsageError):
    """A ``NEWSWATCH_*`` setting in the environment that newswatch cannot take; the message says what it allows."""


def _read(setting: Setting, default: float) -> float:
    """The setting's value, ``default`` when it is unset or empty; SettingError when it takes no such value."""
    text = os.environ.get(setting.name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    shown = text if len(text) <= 40 else text[:37] + "..."
    problem = None
    if math.isnan(value):
        problem = "is no number"
    elif value < setting.lowest or (setting.above and value == setting.lowest):
        problem = "is too low"
    elif value >= setting.largest:
        return setting.largest
    elif setting.whole and not value.is_integer():
        problem = "is not whole"
    if problem:
        raise SettingError(f"{setting.name}={shown!r} {problem}: {setting.meaning}, {setting.allowed()}")
    return value


def seconds(name: str, default: float) -> float:
    """The setting ``name`` (in seconds) from the environment, else ``default``; SettingError when it is not allowed."""
    return float(_read(_BY_NAME[name], default))


def whole(name: str, default: int) -> int:
    """The whole-number setting ``name`` from the environment, else ``default``; SettingError when it is not allowed."""
    return int(_read(_BY_NAME[name], default))


def problem() -> str | None:
    """The first setting in the environment newswatch cannot take, said in one line; None when every one is fine."""
    for setting in SETTINGS:
        try:
            _read(setting, 0)
        except SettingError as exc:
            return str(exc)
    return None
