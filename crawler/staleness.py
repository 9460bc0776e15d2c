"""Is a source still delivering? Pure rules: dates in, a verdict out (no I/O, no clock of its own).

A source is *stale* when it answers but has produced nothing new for longer than its usual cadence
allows, and never longer than 7 days; a source's configured ``stale_after`` replaces that rule with
its own limit. The cadence is the typical gap between its entries' dates; a day of silence alone is
never stale (nights, weekends, holidays).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

from crawler.wording import count

DEFAULT_STALE_AFTER = 7 * 86400.0
MIN_SILENCE = 86400.0  # never stale after less than a day of silence
CADENCE_FACTOR = 4.0  # silence allowed, in typical gaps between entries
RATE_WINDOW = 30 * 86400.0  # the "recent" in "recent rate of new entries"
KEEP_DATES = 50  # entry dates remembered per source


@dataclass(frozen=True)
class Freshness:
    """The verdict on one source; ``reason`` says why it is stale (None when it is not)."""

    stale: bool
    newest: datetime | None  # the newest entry's date (or, without dates, when a new entry last appeared)
    rate_per_day: float | None  # new entries per day over the last 30 days, when dates are known
    allowed: float  # seconds of silence this source is allowed
    reason: str | None = None


def merge_dates(old: Iterable[datetime], new: Iterable[datetime], now: datetime) -> list[datetime]:
    """The newest KEEP_DATES distinct entry dates of both lists, newest first; future dates count as now."""
    seen = {min(d, now) for d in (*old, *new)}
    return sorted(seen, reverse=True)[:KEEP_DATES]


def typical_gap(dates: Sequence[datetime]) -> float | None:
    """The median gap in seconds between consecutive distinct dates, or None with fewer than three."""
    ordered = sorted(set(dates), reverse=True)
    if len(ordered) < 3:
        return None
    return median((a - b).total_seconds() for a, b in zip(ordered, ordered[1:]))


def rate_per_day(dates: Sequence[datetime], now: datetime) -> float | None:
    if not dates:
        return None
    since = now - timedelta(seconds=RATE_WINDOW)
    return sum(1 for d in dates if d >= since) / (RATE_WINDOW / 86400)


def allowed_silence(dates: Sequence[datetime], every: float, stale_after: float | None) -> float:
    """How long a source may go without a new entry.

    A configured ``stale_after`` is exactly that; otherwise the source's cadence decides (four
    typical gaps between entries, at least a day and two polls), at most DEFAULT_STALE_AFTER.
    """
    if stale_after is not None:
        return stale_after
    gap = typical_gap(dates)
    usual = max(MIN_SILENCE, 2 * every, CADENCE_FACTOR * gap if gap else DEFAULT_STALE_AFTER)
    return min(DEFAULT_STALE_AFTER, usual)


def assess(
    *,
    now: datetime,
    kind: str,
    entry_dates: Sequence[datetime],
    last_new: datetime | None,
    links: int | None,
    every: float,
    stale_after: float | None = None,
) -> Freshness:
    """The freshness of a source that answered at its last poll.

    ``entry_dates``: dates of the entries it listed (feed items, sitemap dates, its articles' dates);
    ``last_new``: when an entry never seen before last appeared; ``links``: entries (a listing:
    links its ``follow`` took) in the last document read, None when none was read yet.
    """
    dates = sorted((min(d, now) for d in entry_dates), reverse=True)
    rate = rate_per_day(dates, now)
    allowed = allowed_silence(dates, every, stale_after)
    if links == 0:
        what = {
            "listing": "its follow pattern matched no link on the page",
            "sitemap": "the sitemap lists no URLs",
        }.get(kind, "the feed has no entries")
        return Freshness(True, dates[0] if dates else last_new, rate, allowed, what)
    newest = dates[0] if dates else last_new
    if newest is None:
        return Freshness(False, None, rate, allowed)
    silence = (now - newest).total_seconds()
    if silence <= allowed:
        return Freshness(False, newest, rate, allowed)
    what = "newest entry" if dates else "last new entry"
    return Freshness(
        True,
        newest,
        rate,
        allowed,
        f"{what} {newest.date().isoformat()} ({describe_age(silence)} old; allowed {describe_age(allowed)})",
    )


def health_state(*, active: bool, failures: int, polled: bool, stale: bool) -> str:
    """ok | failing | stale | inactive, or 'new' for a source never polled."""
    if not active:
        return "inactive"
    if failures:
        return "failing"
    if not polled:
        return "new"
    return "stale" if stale else "ok"


def describe_age(seconds: float) -> str:
    """A rough human age: 45 min, 5 h, 3 days, 7 months, 8 years."""
    seconds = max(0.0, seconds)
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 2 * 86400:
        return f"{int(seconds // 3600)} h"
    days = seconds / 86400
    if days < 60:
        return f"{int(days)} days"  # 2 days or more
    if days < 730:
        return count(int(days // 30.4), "month")
    return count(int(days // 365.25), "year")
