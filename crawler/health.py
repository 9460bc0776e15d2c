"""Each configured source's health as users see it: state, last success, newest entry, Crawl-delay.

Reads the store; the verdicts themselves come from the pure rules in ``crawler.staleness``.
`newswatch sources` (table and --json) and the digest's source-health box both use this.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from crawler import staleness
from crawler.config import Config, SourceConfig
from crawler.dates import parse_iso_date
from crawler.polling import SourceState, as_configured, due_at, target_changed
from crawler.store import Store, iso, parse_iso


@dataclass(frozen=True)
class SourceHealth:
    name: str
    kind: str
    url: str
    every: float
    state: str  # ok | failing | stale | inactive | new (never polled)
    active: bool
    last_success: str | None
    last_error: str | None
    last_error_at: str | None
    failing_since: str | None
    failures: int
    next_poll: str | None
    articles: int
    newest_entry: str | None
    entries_per_day: float | None
    stale_after: float | None  # as configured (None: by cadence, at most 7 days)
    allowed_silence: float | None  # the limit in force: stale after this long without a new entry
    stale_reason: str | None
    links: int | None
    crawl_delay: float | None
    # last_error (and last_error_at) was met polling another url, kind or spider than configured now: history; the
    # state, failures and next poll are those of the source as configured (polled at once, as never polled)
    error_before_change: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def merge_stored_dates(stored: Sequence[str], new: Sequence[datetime], now: datetime) -> list[str]:
    old = [d for d in (parse_iso(x) for x in stored) if d]
    return [iso(d) or "" for d in staleness.merge_dates(old, new, now)]


def first_look(
    source: SourceConfig, dates: Sequence[datetime], links: int, now: datetime, *, first_poll: bool
) -> str | None:
    """What to tell the user right after a poll: a pattern that took nothing, or a feed years out of date."""
    if links == 0:
        return _assess(source, now, dates, None, links).reason
    if first_poll and dates:
        verdict = _assess(source, now, dates, None, links)
        if verdict.stale:
            return f"looks dead: {verdict.reason}; newswatch will keep polling it, but check its url"
    return None


def _assess(
    source: SourceConfig, now: datetime, dates: Sequence[datetime], last_new: datetime | None, links: int | None
) -> staleness.Freshness:
    return staleness.assess(
        now=now,
        kind=source.kind,
        entry_dates=dates,
        last_new=last_new,
        links=links,
        every=source.every,
        stale_after=source.stale_after,
    )


def source_health(config: Config, store: Store | None, now: datetime) -> list[SourceHealth]:
    """Every configured source's health, in config order (all never polled without a database)."""
    rows = store.source_rows() if store else {}
    fresh = store.freshness_rows() if store else {}
    out = []
    for s in config.sources:
        r = rows.get(s.name, {})
        f = fresh.get(s.name, {})
        stored = store.poll_state(s.name) if store else SourceState(s.name)
        changed = target_changed(stored, s)
        state = as_configured(stored, s)  # what crawl and the daemon go by
        polled = not changed and bool(r.get("polls") or r.get("last_success"))
        dates = [d for d in (parse_iso(x) for x in f.get("entry_dates", [])) if d]
        if not dates and polled and store:  # listings: their articles' own dates
            dates = [d for d in (parse_iso_date(x) for x in store.article_dates(s.name)) if d]
        verdict = _assess(s, now, dates, parse_iso(f.get("last_new")), f.get("links")) if polled else None
        url = r.get("current_url") if r.get("configured_url") == s.url and r.get("current_url") else s.url
        active, failures = state.active, state.failures
        due = due_at(state, s.every, now) if changed or state.last_attempt else None
        out.append(
            SourceHealth(
                name=s.name,
                kind=s.kind,
                url=url,
                every=s.every,
                state=staleness.health_state(
                    active=active, failures=failures, polled=polled, stale=bool(verdict and verdict.stale)
                ),
                active=active,
                last_success=r.get("last_success"),
                last_error=r.get("last_error"),
                last_error_at=r.get("last_error_at"),
                failing_since=r.get("failing_since"),
                failures=failures,
                next_poll=iso(due) if due else r.get("next_poll") if active else None,
                articles=int(r.get("articles") or 0),
                newest_entry=iso(verdict.newest) if verdict and verdict.newest else None,
                entries_per_day=round(verdict.rate_per_day, 2)
                if verdict and verdict.rate_per_day is not None
                else None,
                stale_after=s.stale_after,
                allowed_silence=verdict.allowed if verdict else None,
                stale_reason=verdict.reason if verdict and verdict.stale else None,
                links=f.get("links"),
                crawl_delay=f.get("crawl_delay"),
                error_before_change=changed and bool(r.get("last_error")),
            )
        )
    return out
