"""A source's poll lifecycle rules (crawler.polling) and date handling (crawler.dates), as pure functions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from crawler import dates
from crawler.config import SourceConfig
from crawler.polling import (
    MAX_BACKOFF,
    PollOutcome,
    SourceState,
    after_poll,
    as_configured,
    backoff,
    classify,
    due_at,
    parse_retry_after,
    poll_target,
    skip_reason,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
STARTED = NOW - timedelta(seconds=5)
EVERY = 900.0


def polled(**kw: object) -> SourceState:
    base = {"name": "s", "etag": '"old"', "last_modified": "Mon, 01 Jan 2024 00:00:00 GMT", "polls": 3}
    return SourceState(**{**base, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "verdict"),
    [(200, "ok"), (304, "not-modified"), (410, "gone"), (404, "failed"), (429, "failed"), (503, "failed")],
)
def test_classify(status: int, verdict: str) -> None:
    assert classify(status) == verdict


def test_a_200_keeps_its_validators_counts_a_poll_and_schedules_from_the_start() -> None:
    state = polled(failures=2, failing_since=NOW - timedelta(hours=1), retry_after=NOW - timedelta(minutes=1))
    after = after_poll(state, EVERY, PollOutcome("ok", validators=('"new"', "Tue")), STARTED, NOW)
    assert (after.etag, after.last_modified) == ('"new"', "Tue")
    assert after.failures == 0 and after.failing_since is None and after.retry_after is None
    assert after.polls == 4 and after.last_success == STARTED == after.last_attempt
    assert after.next_poll == STARTED + timedelta(seconds=EVERY)


def test_an_incomplete_200_keeps_no_validators_so_the_next_poll_reads_everything_again() -> None:
    after = after_poll(polled(), EVERY, PollOutcome("ok", validators=('"new"', "Tue"), complete=False), STARTED, NOW)
    assert after.etag is None and after.last_modified is None


def test_a_304_keeps_the_stored_validators() -> None:
    after = after_poll(polled(), EVERY, PollOutcome("not-modified"), STARTED, NOW)
    assert after.etag == '"old"' and after.polls == 4


def test_failures_back_off_exponentially_capped_at_a_day_and_never_below_the_interval() -> None:
    assert [backoff(EVERY, n) for n in (1, 2, 3)] == [900, 1800, 3600]
    assert backoff(EVERY, 40) == MAX_BACKOFF
    assert backoff(3 * 86400, 5) == 3 * 86400  # an interval longer than a day is the cap
    state = polled()
    for n in range(1, 4):
        state = after_poll(state, EVERY, PollOutcome("failed", error="HTTP 500"), STARTED, NOW)
        assert state.failures == n and state.last_error == "HTTP 500"
        assert state.next_poll == STARTED + timedelta(seconds=backoff(EVERY, n))
    assert state.failing_since == NOW and state.etag == '"old"'  # a failure keeps the validators


def test_a_429_with_retry_after_waits_at_least_that_long() -> None:
    later = NOW + timedelta(hours=5)
    after = after_poll(polled(), EVERY, PollOutcome("failed", error="HTTP 429", retry_after=later), STARTED, NOW)
    assert after.next_poll == later and after.retry_after == later
    assert skip_reason(after, NOW) is not None and "Retry-After" in (skip_reason(after, NOW) or "")
    assert skip_reason(after, later + timedelta(seconds=1)) is None


def test_a_410_deactivates_and_a_301_moves() -> None:
    gone = after_poll(polled(), EVERY, PollOutcome("gone", error="410 Gone"), STARTED, NOW)
    assert not gone.active and gone.inactive_reason == "410 Gone"
    assert due_at(gone, EVERY, NOW) is None and "deactivated" in (skip_reason(gone, NOW) or "")
    moved = after_poll(polled(), EVERY, PollOutcome("ok", moved_to="https://new/feed"), STARTED, NOW)
    assert moved.current_url == "https://new/feed"
    assert SourceState("s", configured_url="https://old", current_url="https://new").poll_url("https://old") == (
        "https://new"
    )
    assert SourceState("s", configured_url="https://old", current_url="https://new").poll_url("https://edit") == (
        "https://edit"
    )


def test_due_at_applies_the_configured_interval_so_a_changed_every_takes_effect() -> None:
    state = after_poll(SourceState("s"), EVERY, PollOutcome("ok"), STARTED, NOW)
    assert due_at(SourceState("s"), EVERY, NOW) == NOW  # never polled: now
    assert due_at(state, EVERY, NOW) == STARTED + timedelta(seconds=EVERY)
    assert due_at(state, 60, NOW) == STARTED + timedelta(seconds=60)  # shortened in the config
    failing = after_poll(state, EVERY, PollOutcome("failed", error="x"), STARTED, NOW)
    assert due_at(failing, EVERY, NOW) == failing.next_poll  # the backoff stored by its poll
    twice = after_poll(failing, EVERY, PollOutcome("failed", error="x"), STARTED, NOW)
    # a changed every changes the backoff too, its failures in a row kept: 2 x 60 s, not 2 x 15 min
    assert due_at(twice, 60, NOW) == STARTED + timedelta(seconds=backoff(60, 2)) == STARTED + timedelta(seconds=120)
    waiting = after_poll(twice, EVERY, PollOutcome("failed", retry_after=NOW + timedelta(hours=5)), STARTED, NOW)
    assert due_at(waiting, 60, NOW) == NOW + timedelta(hours=5)  # a server's Retry-After still holds


def source(url: str, kind: str = "feed") -> SourceConfig:
    return SourceConfig(name="s", kind=kind, url=url, every=EVERY)


@pytest.mark.parametrize(
    "outcome",
    [
        PollOutcome("failed", error="HTTP 500"),
        PollOutcome("failed", error="HTTP 503", retry_after=NOW + timedelta(days=2)),
        PollOutcome("gone", error="HTTP 410 Gone"),
    ],
)
def test_a_source_held_back_polling_another_url_or_kind_starts_afresh(outcome: PollOutcome) -> None:
    old, fixed = source("https://old/feed"), source("https://new/feed")
    state = polled()
    for _ in range(3):  # held back at its old url: failing 3 times in a row (or told to wait, or a 410)
        state = after_poll(state, EVERY, outcome, STARTED, NOW)
    state = replace(state, held_as=poll_target(old))  # as Store.record_poll notes it
    assert as_configured(state, old) is state and due_at(state, EVERY, NOW) != NOW  # still held back there
    afresh = as_configured(state, fixed)
    assert afresh.active and afresh.failures == 0 and afresh.retry_after is None and afresh.failing_since is None
    assert due_at(afresh, EVERY, NOW) == NOW and skip_reason(afresh, NOW) is None  # polled at once
    failed = after_poll(afresh, EVERY, PollOutcome("failed", error="HTTP 404"), STARTED, NOW)
    assert failed.failures == 1  # its failures in a row count from its fixed url's first
    assert as_configured(state, source("https://old/feed", kind="sitemap")).failures == 0  # another kind: afresh
    assert as_configured(replace(state, held_as=None), fixed) == replace(state, held_as=None)  # noted by no poll yet
    healthy = replace(after_poll(polled(), EVERY, PollOutcome("ok"), STARTED, NOW), held_as=poll_target(old))
    assert as_configured(healthy, fixed) is healthy  # held back by nothing: its interval counts from its last poll


def test_source_state_round_trips_a_row_and_keeps_columns_it_does_not_own() -> None:
    row = {
        "name": "s",
        "etag": '"e"',
        "last_attempt": "2026-11-28T11:00:00+00:00",
        "active": 1,
        "failures": 0,
        "polls": 2,
        "stale_since": "2026-11-01T00:00:00+00:00",  # a column another part of newswatch adds
    }
    state = SourceState.from_row(row)
    assert state.last_attempt == datetime(2026, 11, 28, 11, tzinfo=UTC)
    assert state.extra == {"stale_since": "2026-11-01T00:00:00+00:00"}
    assert "stale_since" not in state.to_row()
    assert state.changes(state) == {}


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", NOW + timedelta(seconds=120)),
        ("99999999999999999999", NOW + timedelta(days=7)),  # capped
        ("Sat, 28 Nov 2026 13:00:00 GMT", NOW + timedelta(hours=1)),
        ("Sat, 28 Nov 2026 13:00:00 -0000", NOW + timedelta(hours=1)),  # "-0000": a naive date before
        ("Fri, 31 Dec 9999 23:59:59 GMT", NOW + timedelta(days=7)),  # a year-9999 date is capped too
        ("Sat, 28 Nov 2026 11:00:00 GMT", None),  # in the past
        ("-5", None),
        ("soon", None),
        ("Sat, 99 Nov 2026 13:00:00 GMT", None),
        ("", None),
        (b"\xff\xfe", None),
    ],
)
def test_retry_after_forms_are_parsed_safely_and_capped(header: str | bytes, expected: datetime | None) -> None:
    assert parse_retry_after(header, NOW) == expected


def test_dates_outside_the_plausible_window_are_unknown_never_a_crash() -> None:
    assert dates.plausible(datetime(9999, 12, 31, 23, 59, tzinfo=UTC)) is None
    assert dates.plausible(datetime(1970, 1, 1, tzinfo=UTC)) is None
    assert dates.plausible(datetime(2024, 5, 1)) == datetime(2024, 5, 1, tzinfo=UTC)
    assert dates.from_struct_time((-1, 11, 30, 0, 0, 0, 1, 334, 0)) is None  # feedparser's 0000-00-00
    assert dates.from_struct_time((9999, 12, 31, 23, 59, 59, 4, 365, 0)) is None
    moscow = ZoneInfo("Europe/Moscow")
    assert dates.local(datetime(9999, 12, 31, 23, 59, tzinfo=UTC), moscow) is None  # OverflowError before
    assert dates.local(datetime(2024, 5, 1, 21, tzinfo=UTC), moscow).day == 2  # type: ignore[union-attr]
    assert dates.parse_http_date("Sat, 28 Nov 2026 13:00:00 -0000") == datetime(2026, 11, 28, 13, tzinfo=UTC)
    assert dates.parse_iso_date("0000-00-00T00:00:00Z") is None
