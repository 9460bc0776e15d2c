"""Fuzzing what servers send: feed entries, sitemap entries, HTTP headers and dates (Hypothesis).

The invariant everywhere: no traceback (only the documented FetchError for a document that is not
a feed or sitemap), nothing outside the plausible date window, and every healthy entry kept. The
budget is fixed and the examples derandomized, so CI runs the same inputs every time; the counts
per target are in EXAMPLES (the ``thorough`` profile's; the default run takes a share of them, see
tests/support/fuzzbudget.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawler import dates
from crawler.errors import FetchError
from crawler.feeds import parse_feed
from crawler.polling import PollOutcome, SourceState, after_poll, classify, due_at, parse_retry_after
from crawler.sitemaps import parse_sitemap
from crawler.store import Store
from crawler.urls import is_http_url
from tests.support.fuzzbudget import examples
from tests.support.sitesrv import SiteServer

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = {"feed": 300, "sitemap": 300, "header": 1000, "date": 1000, "rules": 500, "crawl": 4}
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def budget(target: str) -> settings:
    return settings(
        max_examples=examples(EXAMPLES[target]),
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# -- building blocks ---------------------------------------------------------------------------------

ODD_DATES = st.sampled_from(
    [
        "0000-00-00T00:00:00Z",
        "0000-00-00 00:00:00",
        "9999-12-31T23:59:59Z",
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "Sat, 28 Nov 2026 13:00:00 -0000",
        "Mon, 01 Jan 0001 00:00:00 +0000",
        "2026-02-30T10:00:00+03:00",
        "1969-12-31T23:59:59Z",
        "2024-05-13",
        "2024-05",
        "2024",
        "yesterday",
        "",
        "Thu, 01 Jan 1970 00:00:00 +2500",
        "2026-11-28T12:00:00+99:99",
    ]
)
DATE_TEXT = st.one_of(ODD_DATES, st.text(max_size=40))
ODD_LINKS = st.sampled_from(
    [
        "http://127.0.0.1:99999/x",
        "http://host:abc/x",
        "http://[::1/x",
        "javascript:alert(1)",
        "mailto:a@b.c",
        "//example.org/rel",
        "/relative/path",
        "http://пример.рф/статья",
        "https://example.org/a b",
        "http://example.org/%zz",
        "",
        "http://",
        "ftp://example.org/f",
    ]
)
LINK_TEXT = st.one_of(ODD_LINKS, st.text(max_size=60))
SAFE_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=50)


@st.composite
def feed_items(draw: st.DrawFn) -> tuple[str, list[str]]:
    """An RSS feed of hostile and healthy items; returns (xml, links of the healthy ones)."""
    items, healthy = [], []
    for i in range(draw(st.integers(0, 6))):
        if draw(st.booleans()):
            link = f"https://example.org/news/{i}.html"
            healthy.append(link)
        else:
            link = draw(LINK_TEXT)
        parts = [f"<title>{escape(draw(SAFE_TEXT))}</title>", f"<link>{escape(link)}</link>"]
        if draw(st.booleans()):
            parts.append(f"<pubDate>{escape(draw(DATE_TEXT))}</pubDate>")
        if draw(st.booleans()):
            parts.append(f"<guid>{escape(draw(SAFE_TEXT))}</guid>")
        if draw(st.booleans()):
            parts.append(f"<description>{escape(draw(SAFE_TEXT))}</description>")
        items.append("<item>" + "".join(parts) + "</item>")
    xml = '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>F</title>' + "".join(items)
    return xml + "</channel></rss>", healthy


# -- feeds and sitemaps ------------------------------------------------------------------------------


@budget("feed")
@given(feed_items())
def test_fuzzed_feed_entries_never_crash_and_keep_every_healthy_entry(feed: tuple[str, list[str]]) -> None:
    xml, healthy = feed
    parsed = parse_feed(xml.encode("utf-8"), "https://example.org/feed.xml", "application/rss+xml")
    links = [e.link for e in parsed.entries]
    for link in healthy:
        assert link in links
    for e in parsed.entries:
        assert e.link is None or is_http_url(e.link)
        assert e.published is None or dates.plausible(e.published) == e.published


@budget("feed")
@given(st.binary(max_size=300))
def test_fuzzed_feed_bytes_are_a_feed_or_a_clear_error(body: bytes) -> None:
    try:
        parse_feed(body, "https://example.org/feed.xml", None)
    except FetchError as exc:
        assert "example.org/feed.xml" in str(exc)


@st.composite
def sitemap_docs(draw: st.DrawFn) -> tuple[str, list[str]]:
    urls, healthy = [], []
    for i in range(draw(st.integers(0, 6))):
        if draw(st.booleans()):
            loc = f"https://example.org/s/{i}.html"
            healthy.append(loc)
        else:
            loc = draw(LINK_TEXT)
        parts = [f"<loc>{escape(loc)}</loc>"]
        if draw(st.booleans()):
            parts.append(f"<lastmod>{escape(draw(DATE_TEXT))}</lastmod>")
        if draw(st.booleans()):
            parts.append(
                "<news:news><news:publication><news:language>"
                f"{escape(draw(SAFE_TEXT))}</news:language></news:publication>"
                f"<news:publication_date>{escape(draw(DATE_TEXT))}</news:publication_date>"
                f"<news:title>{escape(draw(SAFE_TEXT))}</news:title></news:news>"
            )
        urls.append("<url>" + "".join(parts) + "</url>")
    doc = (
        '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">' + "".join(urls) + "</urlset>"
    )
    return doc, healthy


@budget("sitemap")
@given(sitemap_docs())
def test_fuzzed_sitemap_entries_never_crash_and_keep_every_healthy_entry(doc: tuple[str, list[str]]) -> None:
    text, healthy = doc
    parsed = parse_sitemap(text.encode("utf-8"), "https://example.org/sitemap.xml")
    locs = [e.loc for e in parsed.entries]
    for loc in healthy:
        assert loc in locs
    for e in parsed.entries:
        for when in (e.lastmod, e.news_published):
            assert when is None or dates.plausible(when) == when


@budget("sitemap")
@given(st.binary(max_size=300))
def test_fuzzed_sitemap_bytes_are_a_sitemap_or_a_clear_error(body: bytes) -> None:
    try:
        parse_sitemap(body, "https://example.org/sitemap.xml")
    except FetchError as exc:
        assert "example.org/sitemap.xml" in str(exc)


# -- headers, dates and the poll rules ---------------------------------------------------------------


@budget("header")
@given(st.one_of(DATE_TEXT, st.binary(max_size=40), st.integers(-(10**30), 10**30).map(str)))
def test_fuzzed_retry_after_is_never_a_crash_and_never_beyond_a_week(value: str | bytes) -> None:
    when = parse_retry_after(value, NOW)
    assert when is None or NOW <= when <= NOW + timedelta(days=7)


@budget("header")
@given(st.integers(0, 1000))
def test_every_status_has_a_verdict(status: int) -> None:
    assert classify(status) in ("ok", "not-modified", "failed", "gone")


@budget("date")
@given(DATE_TEXT, st.sampled_from(["UTC", "Europe/Moscow", "Pacific/Kiritimati", "Etc/GMT+12", "Asia/Shanghai"]))
def test_fuzzed_dates_parse_and_render_without_a_crash(text: str, zone: str) -> None:
    for parsed in (dates.parse_iso_date(text), dates.parse_http_date(text)):
        shown = dates.local(parsed, ZoneInfo(zone))
        if shown is not None:
            assert dates.EARLIEST <= shown <= datetime.now(UTC) + dates.FUTURE_SLACK


@budget("date")
@given(st.tuples(*(st.integers(-(10**6), 10**6) for _ in range(9))))
def test_fuzzed_struct_times_are_plausible_or_unknown(value: tuple[int, ...]) -> None:
    dt = dates.from_struct_time(value)
    assert dt is None or dates.plausible(dt) == dt


@budget("rules")
@given(
    st.sampled_from(["ok", "not-modified", "failed", "gone"]),
    st.integers(0, 60),
    st.floats(1, 10 * 86400),
    st.one_of(
        st.none(), st.datetimes(timezones=st.just(UTC), min_value=datetime(1990, 1, 1), max_value=datetime(2200, 1, 1))
    ),
)
def test_fuzzed_poll_outcomes_always_give_a_next_poll_after_the_start(
    verdict: str, failures: int, every: float, retry_after: datetime | None
) -> None:
    state = SourceState("s", failures=failures, etag='"e"')
    started, now = NOW - timedelta(seconds=3), NOW
    after = after_poll(state, every, PollOutcome(verdict, error="x", retry_after=retry_after), started, now)  # type: ignore[arg-type]
    if verdict == "gone":
        assert not after.active and due_at(after, every, now) is None
    else:
        assert after.next_poll is not None and after.next_poll >= now
        assert after.retry_after is None or after.retry_after <= now + timedelta(days=7)
        assert due_at(after, every, now) is not None


# -- end to end: a hostile feed through a real crawl -------------------------------------------------


@settings(
    max_examples=examples(EXAMPLES["crawl"]),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(feed_items())
def test_fuzzed_feed_through_a_crawl_exits_cleanly_and_stores_every_healthy_entry(
    tmp_path_factory: object, feed: tuple[str, list[str]]
) -> None:
    xml, healthy = feed
    tmp = tmp_path_factory.mktemp("fuzz")  # type: ignore[attr-defined]
    with SiteServer(ROOT / "fixtures" / "site") as site:
        base = site.base_url
        body = xml.replace("https://example.org/news/", f"{base}/fuzz/")

        def handler(path: str) -> tuple[int, dict[str, str], bytes]:
            if path.startswith("/fuzz/feed.xml"):
                return 200, {"Content-Type": "application/rss+xml"}, body.encode("utf-8")
            return (
                200,
                {"Content-Type": "text/html"},
                b"<html><body><article><h1>Page</h1>"
                + b"<p>Text.</p>" * 30
                + (f"<p>{path}</p></article></body></html>".encode()),
            )

        site.add_generated("/fuzz/", handler)
        cfg = tmp / "nw.toml"
        cfg.write_text(
            f'[storage]\ndatabase = "nw.db"\n[crawl]\nuser_agent = "fuzz/1 (+mailto:a@b.c)"\nallow_private = true\n'
            f'[[sources]]\nname = "fuzz"\nurl = "{base}/fuzz/feed.xml"\n',
            encoding="utf-8",
        )
        res = subprocess.run(
            [sys.executable, "-c", "from scheduler.cli import main; main()", "-c", str(cfg), "crawl"],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONPATH": str(ROOT), "NEWSWATCH_WORKERS": "0"},
        )
    assert res.returncode in (0, 1, 2) and "Traceback" not in res.stderr, res.stderr
    assert res.returncode == 0, res.stderr
    with Store(tmp / "nw.db") as store:
        stored = {r["url"] for r in store.query("SELECT url FROM articles")}
    for link in healthy:
        assert link.replace("https://example.org/news/", f"{base}/fuzz/") in stored
