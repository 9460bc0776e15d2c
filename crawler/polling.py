"""A source's poll lifecycle in one place: its stored state and the rules that move it.

"What happens after a 429?" is answered here: every rule is a pure function of the state before
a poll, what the poll found (a ``PollOutcome``) and the clock. The spider classifies responses
with ``classify``, the crawl writes ``after_poll``'s result, and the daemon asks ``due_at``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from crawler.dates import iso, parse_http_date, parse_iso

if TYPE_CHECKING:
    from crawler.config import SourceConfig

MAX_BACKOFF = 24 * 3600.0  # seconds: a failing source is still tried at least daily
MAX_RETRY_AFTER = 7 * 86400.0  # seconds: the longest a server's Retry-After is honoured
PERMANENT_REDIRECTS = frozenset({301, 308})
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 522, 524})

Verdict = Literal["ok", "not-modified", "failed", "gone"]


def _parse(value: Any) -> datetime | None:
    if isinstance(value, datetime) or value is None:
        return value
    try:
        return parse_iso(str(value))
    except ValueError:
        return None


_DATETIME_FIELDS = (
    "last_attempt",
    "last_success",
    "last_error_at",
    "failing_since",
    "next_poll",
    "retry_after",
)


@dataclass(frozen=True)
class SourceState:
    """A source's row in the ``sources`` table, typed. Columns this module does not know stay in ``extra``."""

    name: str
    configured_url: str | None = None  # the config's url when current_url was set
    current_url: str | None = None  # after permanent (301/308) redirects
    etag: str | None = None
    last_modified: str | None = None
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    failures: int = 0
    failing_since: datetime | None = None
    next_poll: datetime | None = None
    retry_after: datetime | None = None
    active: bool = True
    inactive_reason: str | None = None
    polls: int = 0
    held_as: str | None = None  # the poll_target its failures, Retry-After or 410 were met with (not a column)
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> SourceState:
        known = {f.name for f in fields(cls)} - {"extra"}
        values: dict[str, Any] = {}
        for key in known:
            if key in row:
                values[key] = _parse(row[key]) if key in _DATETIME_FIELDS else row[key]
        values["active"] = bool(row.get("active", 1))
        values["failures"] = int(row.get("failures") or 0)
        values["polls"] = int(row.get("polls") or 0)
        return cls(**values, extra={k: v for k, v in row.items() if k not in known})

    def to_row(self) -> dict[str, Any]:
        """The columns this record owns, ready for ``Store.update_source`` (``extra`` is not written)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name in ("name", "held_as", "extra"):
                continue
            value = getattr(self, f.name)
            out[f.name] = iso(value) if f.name in _DATETIME_FIELDS else (int(value) if f.name == "active" else value)
        return out

    def changes(self, before: SourceState) -> dict[str, Any]:
        """Columns whose value differs from ``before`` (what a poll must write)."""
        mine, theirs = self.to_row(), before.to_row()
        return {k: v for k, v in mine.items() if theirs.get(k) != v}

    def poll_url(self, configured: str) -> str:
        """The URL to poll: a stored 301/308 target, unless the config's URL changed since."""
        if self.current_url and self.configured_url == configured:
            return self.current_url
        return configured


def read_as(source: SourceConfig) -> str:
    """The settings that decide what a poll takes from a source's document: its validators (ETag, Last-Modified) hold
    for these only. A sitemap whose window was widened answered 304 to them, and its older entries were never taken;
    so did a listing whose follow, follow_css or depth changed, its new pattern's links never taken; a changed URL
    sent the old URL's Last-Modified to the new one. A feed takes every entry whatever its other settings. A spider
    source keeps no validators, but its spider decides what it takes: a poll with another is backlog as well."""
    settings: list[Any] = [source.kind, source.url, source.window if source.kind == "sitemap" else None]
    if source.kind == "listing":  # noted as before for the other kinds: their validators still hold
        settings.append([source.follow, source.follow_css, source.depth])
    elif source.kind == "spider":
        settings.append(source.spider)
    return json.dumps(settings)


def settings_changed(noted: str | None, source: SourceConfig) -> bool:
    """Whether ``noted`` (read_as at the source's last complete poll) says its settings changed since. No note (a
    database from before 31a85d7) and a spider source's note from before its spider was in it say nothing of them."""
    if noted is None or noted == read_as(source):
        return False
    return not (source.kind == "spider" and noted == json.dumps([source.kind, source.url, None]))


def poll_target(source: SourceConfig) -> str:
    """What a poll of a source fetches: its kind, url and a spider's class. A failure, its backoff, a server's
    Retry-After and a 410 say something of these only (``as_configured``)."""
    return json.dumps([source.kind, source.url, source.spider if source.kind == "spider" else None])


def held_back(state: SourceState) -> bool:
    """Whether a source's state keeps it from its regular polls: deactivated, failing (backing off) or told to wait."""
    return not state.active or bool(state.failures) or state.retry_after is not None


def target_changed(state: SourceState, source: SourceConfig) -> bool:
    """Whether what holds ``state`` back was met polling another kind, url or spider than ``source`` configures now:
    ``as_configured`` then takes it afresh, and its stored failures, backoff and error are the old target's."""
    return state.held_as is not None and state.held_as != poll_target(source) and held_back(state)


def as_configured(state: SourceState, source: SourceConfig) -> SourceState:
    """``state`` as the polls of ``source`` as configured now take it: when what holds it back (failures and their
    backoff, a Retry-After, a 410) was met polling another kind, url or spider, it starts afresh, due at once as a
    source never polled, its failures counted from none: a user who fixes a failing source's url does not wait out the
    old url's backoff. Held back with no note of its target (a database from before it): as stored."""
    if not target_changed(state, source):
        return state
    return replace(
        state,
        active=True,
        inactive_reason=None,
        failures=0,
        failing_since=None,
        next_poll=None,
        retry_after=None,
        last_attempt=None,
    )


@dataclass(frozen=True)
class PollOutcome:
    """What one poll of a source found; ``after_poll`` turns it into the next state."""

    verdict: Verdict
    error: str | None = None
    retry_after: datetime | None = None
    validators: tuple[str | None, str | None] | None = None  # (ETag, Last-Modified) of a complete 200
    complete: bool = True  # every entry stored or recorded pending
    moved_to: str | None = None  # a permanent redirect's target
    # failed on our side (the database could not be written; nothing of it was kept): the source answered, so its
    # failures, backoff and last error stay as they were, and it is polled again at its interval
    ours: bool = False


def classify(status: int) -> Verdict:
    """A source document's HTTP status: 304 not modified, 410 gone, any other 4xx/5xx failed, else ok."""
    if status == 304:
        return "not-modified"
    if status == 410:
        return "gone"
    if status >= 400:
        return "failed"
    return "ok"


def parse_retry_after(value: str | bytes | None, now: datetime) -> datetime | None:
    """A ``Retry-After`` header (seconds or an HTTP date) as the time to wait until, capped at 7 days.

    Anything unreadable, negative or in the past means no wait. Never raises.
    """
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("latin-1", "replace")
    value = value.strip()
    if not value:
        return None
    cap = now + timedelta(seconds=MAX_RETRY_AFTER)
    if value.isascii() and value.isdigit():
        return now + timedelta(seconds=min(int(value[:12]), MAX_RETRY_AFTER))
    when = parse_http_date(value)
    if when is None or when <= now:
        return None
    return min(when, cap)


def backoff(every: float, failures: int) -> float:
    """Seconds before polling a source again after its ``failures``-th failure in a row."""
    if failures <= 0:
        return every
    return min(every * 2 ** min(failures - 1, 16), max(MAX_BACKOFF, every))


def after_poll(state: SourceState, every: float, outcome: PollOutcome, started: datetime, now: datetime) -> SourceState:
    """The state after a poll that began at ``started`` and ended at ``now``."""
    base = replace(state, last_attempt=started)
    if outcome.moved_to and outcome.verdict in ("ok", "not-modified"):
        base = replace(base, current_url=outcome.moved_to)
    if outcome.verdict in ("ok", "not-modified"):
        etag, modified = state.etag, state.last_modified
        if outcome.verdict == "ok":
            # An incomplete poll keeps no validators: the next poll must read the whole document again.
            etag, modified = (outcome.validators or (None, None)) if outcome.complete else (None, None)
        return replace(
            base,
            last_success=started,
            failures=0,
            failing_since=None,
            retry_after=None,
            next_poll=max(started + timedelta(seconds=every), now),
            polls=state.polls + 1,
            etag=etag,
            last_modified=modified,
        )
    if outcome.verdict == "gone":
        return replace(
            base,
            active=False,
            inactive_reason=outcome.error,
            last_error=outcome.error,
            last_error_at=now,
            failing_since=state.failing_since or now,
        )
    if outcome.ours:
        return replace(base, next_poll=max(started + timedelta(seconds=backoff(every, state.failures)), now))
    failures = state.failures + 1
    next_poll = max(started + timedelta(seconds=backoff(every, failures)), now)
    retry_after = outcome.retry_after
    if retry_after is not None:
        retry_after = min(retry_after, now + timedelta(seconds=MAX_RETRY_AFTER))
        next_poll = max(next_poll, retry_after)
    return replace(
        base,
        failures=failures,
        last_error=outcome.error,
        last_error_at=now,
        failing_since=state.failing_since or now,
        next_poll=next_poll,
        retry_after=retry_after,
    )


def pending_retry_at(every: float, attempts: int, now: datetime) -> datetime:
    """When a page kept from its feed after a transient failure is fetched again.

    One poll interval after it failed, doubling with each failed retry, at most a day: an
    immediate re-crawl of unchanged sources never waits on pages that just timed out.
    """
    return now + timedelta(seconds=backoff(every, attempts + 1))


def skip_reason(state: SourceState, now: datetime) -> str | None:
    """Why a crawl must not poll this source now (deactivated, or asked to wait), else None."""
    if not state.active:
        return f"deactivated: {state.inactive_reason}"
    if state.retry_after is not None and state.retry_after > now:
        return f"server asked to wait until {iso(state.retry_after)} (Retry-After)"
    return None


def due_at(state: SourceState, every: float, now: datetime) -> datetime | None:
    """When the daemon should poll next: None when deactivated; the interval counts from the last attempt.

    The configured ``every`` is applied here, so a changed interval takes effect on reload and restart: a failing
    source's backoff too (its failures in a row kept, the wait its new every's), and a server's Retry-After is honoured.
    """
    if not state.active:
        return None
    if state.last_attempt is None:
        return now
    # a failing source's stored next_poll is its backoff by the every of the poll that failed (after_poll's)
    due = state.last_attempt + timedelta(seconds=backoff(every, state.failures))
    if state.retry_after is not None and state.retry_after > due:
        due = state.retry_after
    return due
