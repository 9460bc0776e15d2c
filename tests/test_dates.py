"""crawler/dates.py is the one home for dates: every outside form, the stored form, a user's date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from crawler import dates
from crawler.store import iso as store_iso
from crawler.store import parse_iso as store_parse_iso


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-13", datetime(2024, 5, 13, tzinfo=UTC)),
        ("2024-05", datetime(2024, 5, 1, tzinfo=UTC)),  # W3C year-month
        ("2024", datetime(2024, 1, 1, tzinfo=UTC)),  # W3C year
        ("2024-05-13T10:00:00", datetime(2024, 5, 13, 10, tzinfo=UTC)),  # no offset: UTC
        ("2024-05-13T10:00+03:00", datetime(2024, 5, 13, 7, tzinfo=UTC)),
        ("2024-05-13T10:00:00+0300", datetime(2024, 5, 13, 7, tzinfo=UTC)),  # trafilatura's form
        ("2024-05-13T10:00:00Z", datetime(2024, 5, 13, 10, tzinfo=UTC)),
        (" Mon, 13 May 2024 10:00:00 +0300 ", datetime(2024, 5, 13, 7, tzinfo=UTC)),  # RFC 2822
        ("Mon, 13 May 2024 10:00:00 -0000", datetime(2024, 5, 13, 10, tzinfo=UTC)),
    ],
)
def test_a_published_date_in_any_usual_form_is_read_as_utc(text: str, expected: datetime) -> None:
    assert dates.parse_published(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "   ", None, "0000-00-00T00:00:00Z", "9999-12-31", "0001-01-01", "1970-01-01", "yesterday", "2024-13-45"],
)
def test_an_unreadable_or_implausible_published_date_is_unknown(text: str | None) -> None:
    assert dates.parse_published(text) is None


def test_the_stored_form_round_trips_and_the_store_uses_the_same_functions() -> None:
    moment = datetime(2026, 11, 28, 9, 30, 15, 999, tzinfo=timezone(timedelta(hours=8)))
    stored = dates.iso(moment)
    assert stored == "2026-11-28T01:30:15+00:00"
    assert dates.parse_iso(stored) == moment.replace(microsecond=0)
    assert dates.iso(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05+00:00"  # naive is UTC
    assert dates.parse_iso(None) is None and dates.iso(None) is None
    with pytest.raises(ValueError):
        dates.parse_iso("not a date")
    assert store_iso is dates.iso and store_parse_iso is dates.parse_iso


def test_a_users_date_is_utc_and_says_why_it_was_refused() -> None:
    assert dates.parse_user_date("2026-11-01") == datetime(2026, 11, 1, tzinfo=UTC)
    assert dates.parse_user_date("2026-11-01T08:00+03:00") == datetime(2026, 11, 1, 5, tzinfo=UTC)
    with pytest.raises(ValueError):
        dates.parse_user_date("last tuesday")
    with pytest.raises(OverflowError):
        dates.parse_user_date("0001-01-01T00:00+05:00")
