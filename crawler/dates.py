"""Dates from the outside world: parsed without crashing, kept only inside a plausible window.

Feeds, sitemaps, pages and HTTP headers carry dates such as ``0000-00-00T00:00:00Z`` (a MySQL
zero date), ``9999-12-31`` or ``<date> -0000``. A date before 1990 or more than two days ahead is
treated as unknown for ordering and display: it never reaches the store, and a stored one is
never converted into a time zone where it would overflow.
"""

from __future__ import annotations

import calendar
import time
from datetime import UTC, datetime, timedelta, tzinfo
from email.utils import parsedate_to_datetime

EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=2)


def plausible(dt: datetime | None, now: datetime | None = None) -> datetime | None:
    """``dt`` as aware UTC when it lies between 1990 and now + 2 days, else None (unknown)."""
    if dt is None:
        return None
    try:
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        dt = dt.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    latest = (now or datetime.now(UTC)) + FUTURE_SLACK
    return dt if EARLIEST <= dt <= latest else None


def from_struct_time(value: time.struct_time | tuple[int, ...] | None) -> datetime | None:
    """A UTC struct_time (as feedparser gives) as a plausible aware datetime, else None."""
    if not value:
        return None
    try:
        return plausible(datetime.fromtimestamp(calendar.timegm(value), tz=UTC))  # type: ignore[arg-type]
    except (OverflowError, ValueError, TypeError, OSError):
        return None


def parse_http_date(value: str) -> datetime | None:
    """An RFC 9110 / RFC 2822 date (``-0000`` and a missing zone read as UTC), aware; None when unreadable.

    No window is applied: callers decide what an early or far-future date means.
    """
    try:
        dt = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if dt is None:
        return None
    try:
        return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def parse_iso_date(value: str) -> datetime | None:
    """A W3C/ISO 8601 date or datetime (``Z`` allowed; no offset means UTC), aware; None when unreadable."""
    try:
        dt = datetime.fromisoformat(value.strip().replace("z", "Z"))
    except (ValueError, TypeError, OverflowError):
        return None
    try:
        return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def local(dt: datetime | None, tz: tzinfo) -> datetime | None:
    """``dt`` in ``tz`` for display; None when it is outside the plausible window (a stored 9999-12-31)."""
    dt = plausible(dt)
    if dt is None:
        return None
    try:
        return dt.astimezone(tz)
    except (OverflowError, ValueError):
        return None
