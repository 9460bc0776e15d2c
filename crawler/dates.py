"""Every date newswatch reads or writes: the one home for parsing, the plausible window and the stored form.

Feeds, sitemaps, pages and HTTP headers carry dates such as ``0000-00-00T00:00:00Z`` (a MySQL
zero date), ``9999-12-31`` or ``<date> -0000``. A date before 1990 or more than two days ahead is
treated as unknown for ordering and display: it never reaches the store, and a stored one is
never converted into a time zone where it would overflow.

- outside dates: ``parse_published`` (a page's, feed's or sitemap's date, any usual form),
  ``parse_http_date`` (RFC 9110/2822), ``parse_iso_date`` (ISO 8601/W3C), ``from_struct_time``
  (feedparser), all None when unreadable;
- the stored form: ``iso`` writes UTC ISO 8601 to the second, ``parse_iso`` reads it back;
- a user's ``--since``/``--until`` date: ``parse_user_date``, which says why it refused;
- display: ``local``.
"""

from __future__ import annotations

import calendar
import re
import time
from datetime import UTC, datetime, timedelta, tzinfo
from email.utils import parsedate_to_datetime

EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=2)
_YEAR_OR_MONTH = re.compile(r"\d{4}(-\d{2})?")


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime | None) -> str | None:
    """The stored form: ISO 8601 with a UTC offset, seconds precision (a naive datetime is UTC)."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat(timespec="seconds")


def parse_iso(value: str | None) -> datetime | None:
    """A stored date (as ``iso`` wrote it) back as an aware datetime; ValueError when it is not one."""
    if not value:
        return None
    dt = datetime.fromisoformat(value)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


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
        return parse_user_date(value.replace("z", "Z"))
    except (ValueError, TypeError, OverflowError):
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


def parse_published(value: str | None) -> datetime | None:
    """When a page, feed entry or sitemap says it was published, as plausible aware UTC; else None.

    Takes ISO 8601 and the W3C forms (a year, a year-month, a date, a datetime with or without an
    offset; no offset means UTC) and RFC 2822. A 9999-12-31 or 0001-01-01 page has no known date.
    """
    value = (value or "").strip()
    if not value:
        return None
    if _YEAR_OR_MONTH.fullmatch(value):
        value += "-01-01" if len(value) == 4 else "-01"
    return plausible(parse_iso_date(value) or parse_http_date(value))


def parse_user_date(value: str) -> datetime:
    """A date or time a user typed (``2026-11-01``, ``2026-11-01T08:00+03:00``) as aware UTC.

    No offset means UTC. Raises ValueError when it is not an ISO 8601 date, OverflowError when it
    cannot be expressed in UTC (the first and last hours of the calendar).
    """
    dt = datetime.fromisoformat(value.strip())
    dt = dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)
