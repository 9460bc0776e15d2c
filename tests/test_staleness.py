"""Staleness as a health state, and robots.txt Crawl-delay: the pure rules, then real crawls of the sample site."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from crawler import staleness
from crawler.config import load_config
from crawler.health import source_health
from crawler.store import Store, iso
from scheduler.cli import cli
from tests.support.articles import dated_rss
from tests.support.sitesrv import SiteServer


def days(*ages: float) -> list[timedelta]:
    return [timedelta(days=d) for d in ages]


NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
DAY = 86400.0
SITE = Path(__file__).resolve().parent.parent / "fixtures" / "site"


def ago(days: float, now: datetime = NOW) -> datetime:
    return now - timedelta(days=days)


# -- the pure rules -----------------------------------------------------------------------------


def assess(dates: list[datetime], **kw: object) -> staleness.Freshness:
    args = {"now": NOW, "kind": "feed", "entry_dates": dates, "last_new": None, "links": len(dates), "every": 900.0}
    return staleness.assess(**{**args, **kw})  # type: ignore[arg-type]


def test_a_busy_feed_is_stale_after_a_few_of_its_usual_gaps_but_never_before_a_day() -> None:
    hourly = [ago(0.5 + h / 24) for h in range(24)]  # one an hour, the newest 12 h ago
    assert not assess(hourly).stale
    quiet = [ago(1.5 + h / 24) for h in range(24)]  # the same feed, silent for a day and a half
    verdict = assess(quiet)
    assert verdict.stale and verdict.allowed == DAY
    assert verdict.reason.startswith(f"newest entry {ago(1.5).date().isoformat()} (36 h old; allowed 24 h)")
    assert verdict.rate_per_day is not None and 0.7 < verdict.rate_per_day < 0.9  # 24 in the last 30 days


def test_seven_days_cap_a_slow_cadence_and_stale_after_sets_a_sources_own_limit() -> None:
    weekly = [ago(3 + 7 * w) for w in range(6)]  # one a week, the newest 3 days ago
    assert not assess(weekly).stale
    assert assess(weekly, stale_after=2 * DAY).stale
    monthly = [ago(9 + 30 * m) for m in range(6)]
    assert assess(monthly).stale, "at most stale_after (7d), however slow the cadence"
    assert not assess(monthly, stale_after=60 * DAY).stale
    quiet_hourly = [ago(1.5 + h / 24) for h in range(24)]
    assert assess(quiet_hourly).stale and not assess(quiet_hourly, stale_after=3 * DAY).stale


def test_a_feed_years_old_a_pattern_that_takes_nothing_and_an_undated_listing() -> None:
    frozen = [datetime(2018, 1, d, 8, tzinfo=UTC) for d in (2, 3, 4, 5)]
    verdict = assess(frozen)
    assert verdict.stale and "2018-01-05" in verdict.reason and "8 years old" in verdict.reason
    empty = assess([], kind="listing", links=0)
    assert empty.stale and empty.reason == "its follow pattern matched no link on the page"
    assert assess([], links=0).reason == "the feed has no entries"
    assert not assess([], kind="listing", links=12, last_new=ago(2)).stale
    old_links = assess([], kind="listing", links=12, last_new=ago(9))
    assert old_links.stale and old_links.reason.startswith("last new entry")


def test_health_state_order() -> None:
    assert staleness.health_state(active=False, failures=3, polled=True, stale=True) == "inactive"
    assert staleness.health_state(active=True, failures=1, polled=True, stale=True) == "failing"
    assert staleness.health_state(active=True, failures=0, polled=True, stale=True) == "stale"
    assert staleness.health_state(active=True, failures=0, polled=True, stale=False) == "ok"
    assert staleness.health_state(active=True, failures=0, polled=False, stale=False) == "new"


def test_future_dates_count_as_now_and_dates_merge_newest_first() -> None:
    merged = staleness.merge_dates([ago(3), ago(1)], [ago(-2), ago(1)], NOW)
    assert merged == [NOW, ago(1), ago(3)]


# -- real crawls ----------------------------------------------------------------------------------


def write_config(directory: Path, sources: list[str]) -> Path:
    path = directory / "newswatch.toml"
    path.write_text(
        '[storage]\ndatabase = "nw.db"\n\n[crawl]\nuser_agent = "newswatch-staletest/1.0"\ntimeout = "3s"\n'
        "allow_private = true\n\n" + "\n".join(sources),
        encoding="utf-8",
    )
    return path


def run(cfg: Path, *args: str) -> Result:
    res = CliRunner().invoke(cli, ["-c", str(cfg), *args], env={"NEWSWATCH_WORKERS": "0"})
    assert "Traceback" not in res.output, res.output
    return res


@dataclass
class Stale:
    """One crawl of sources fresh and stale, with a topic and a digest, shared by the tests that read it."""

    site: SiteServer
    config: Path
    crawled: Result


@pytest.fixture(scope="module")
def stale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stale]:
    with SiteServer(SITE) as site:
        site.set_route("/feeds/fresh.xml", body=dated_rss(days(0.1, 0.3, 0.6)))
        site.set_route("/feeds/weekly.xml", body=dated_rss(days(3, 10, 17, 24)))
        cfg = write_config(
            tmp_path_factory.mktemp("stale"),
            [
                f'[[sources]]\nname = "frozen"\nkind = "feed"\nurl = "{site.url("/frozen/rss.xml")}"\n',
                f'[[sources]]\nname = "fresh"\nkind = "feed"\nurl = "{site.url("/feeds/fresh.xml")}"\n',
                f'[[sources]]\nname = "weekly"\nkind = "feed"\nurl = "{site.url("/feeds/weekly.xml")}"\n',
                f'[[sources]]\nname = "weekly-strict"\nkind = "feed"\nurl = "{site.url("/feeds/weekly.xml")}"\n'
                'stale_after = "2d"\n',
                f'[[sources]]\nname = "badfollow"\nkind = "listing"\nurl = "{site.url("/academy/news/index.html")}"\n'
                "follow = '/activities/news/[^/]+/?$'\n",
                f'[[sources]]\nname = "goodfollow"\nkind = "listing"\nurl = "{site.url("/academy/news/index.html")}"\n'
                "follow = '/academy/news/\\d{4}/\\d{2}/'\n"
                'stale_after = "3650d"\n',  # its articles are from November 2026, whenever this runs
                '[[topics]]\nname = "t"\nquery = "laboratory"\n',
                '[digest]\nsend_empty = true\nmax_age = "3650d"\n\n[[digest.recipients]]\nemail = "a@example.org"\n',
            ],
        )
        yield Stale(site, cfg, run(cfg, "crawl"))


def test_stale_sources_are_named_at_once_and_in_sources(stale: Stale) -> None:
    cfg, crawled = stale.config, stale.crawled
    assert crawled.exit_code == 0, crawled.output
    assert "frozen: warning: looks dead: newest entry 2018-01-05" in crawled.output
    assert "badfollow: warning: its follow pattern matched no link on the page" in crawled.output
    for name in ("fresh", "weekly", "goodfollow"):
        assert f"{name}: warning" not in crawled.output

    listed = {s["name"]: s for s in json.loads(run(cfg, "sources", "--json").output)}
    states = {n: s["state"] for n, s in listed.items()}
    assert states == {
        "frozen": "stale",
        "fresh": "ok",
        "weekly": "ok",
        "weekly-strict": "stale",
        "badfollow": "stale",
        "goodfollow": "ok",
    }
    assert listed["frozen"]["newest_entry"] == "2018-01-05T08:30:00+00:00"
    assert listed["frozen"]["entries_per_day"] == 0 and listed["fresh"]["entries_per_day"] > 0
    assert listed["weekly-strict"]["stale_after"] == 2 * DAY and listed["weekly"]["stale_after"] is None
    assert listed["weekly"]["allowed_silence"] == 7 * DAY  # four weekly gaps, capped at 7 days
    assert listed["badfollow"]["links"] == 0 and listed["goodfollow"]["links"] == 2
    assert listed["goodfollow"]["newest_entry"].startswith("2026-11-19"), "a listing is dated by its articles"

    table = run(cfg, "sources").output
    frozen_line = next(line for line in table.splitlines() if line.startswith("frozen "))
    assert " STALE " in frozen_line and "2018-01-05" in frozen_line
    assert "frozen: stale: newest entry 2018-01-05 (8 years old" in table
    assert "badfollow: stale: its follow pattern matched no link on the page (by its cadence, at most 7d)" in table
    assert " ok " in next(line for line in table.splitlines() if line.startswith("fresh "))

    # A later poll: a 304 keeps what the last document said.
    again = run(cfg, "crawl", "frozen")
    assert again.exit_code == 0
    assert json.loads(run(cfg, "sources", "--json").output)[0]["state"] == "stale"


def test_health_of_a_source_never_polled_is_new(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, ['[[sources]]\nname = "x"\nkind = "feed"\nurl = "https://example.org/rss"\n'])
    config = load_config(cfg)
    with Store(config.storage.database) as store:
        (h,) = source_health(config, store, NOW)
    assert h.state == "new" and h.newest_entry is None and h.stale_reason is None


def test_crawl_delay_spaces_requests_to_a_host_and_is_shown(tmp_path: Path, fixtures_dir: Path) -> None:
    times: list[float] = []
    lock = threading.Lock()

    def page(path: str) -> tuple[int, dict[str, str], bytes]:
        with lock:
            times.append(time.monotonic())
        n = path.rsplit("/", 1)[-1]
        body = f"<html><head><title>Page {n}</title></head><body><article><h1>Page {n}</h1>"
        body += "".join(f"<p>Paragraph {i} of page {n} about joint research and laboratories.</p>" for i in range(8))
        return 200, {"Content-Type": "text/html; charset=utf-8"}, (body + "</article></body></html>").encode()

    with SiteServer(fixtures_dir / "site").start() as slow:
        slow.set_route("/robots.txt", body=b"User-agent: *\nCrawl-delay: 1\n")
        items = [{"title": f"P{i}", "link": f"__BASE__/gen/{i}", "guid": f"p{i}"} for i in range(3)]
        feed = '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        feed += "".join(
            f"<item><title>{i['title']}</title><link>{i['link']}</link><guid>{i['guid']}</guid></item>" for i in items
        )
        slow.set_route("/feeds/slow.xml", body=(feed + "</channel></rss>").encode())
        slow.add_generated("/gen/", page)
        cfg = write_config(
            tmp_path, [f'[[sources]]\nname = "slow"\nkind = "feed"\nurl = "{slow.url("/feeds/slow.xml")}"\n']
        )
        res = run(cfg, "crawl")
        assert res.exit_code == 0, res.output
    assert len(times) == 3
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps) >= 0.9, f"requests to a Crawl-delay: 1 host came {gaps} s apart"
    shown = run(cfg, "sources")
    assert "slow: robots.txt asks for Crawl-delay 1s on its host" in shown.output
    assert json.loads(run(cfg, "sources", "--json").output)[0]["crawl_delay"] == 1.0


def test_the_digest_health_box_names_a_stale_source(stale: Stale, tmp_path: Path) -> None:
    cfg, site = stale.config, stale.site
    assert stale.crawled.exit_code == 0, stale.crawled.output
    out = tmp_path / "digest.html"
    res = run(cfg, "digest", "--output", str(out))
    assert res.exit_code == 0, res.output
    html = out.read_text(encoding="utf-8")
    box = html[html.index("Sources in trouble") :]
    assert "frozen: stale, newest entry 2018-01-05 (8 years old" in box
    assert f"newswatch probe {site.url('/frozen/rss.xml')}" in box.replace("&#39;", "'")
    assert "fresh:" not in box


def test_health_and_the_digest_box_show_a_source_whose_url_changed_as_it_will_be_polled(tmp_path: Path) -> None:
    # `flaky` failed twice and `gone` was deactivated by a 410 at their old urls; the user then fixed both urls, so
    # crawl and the daemon poll them at once, their failures counted from none (polling.as_configured)
    from zoneinfo import ZoneInfo

    from crawler.polling import SourceState, poll_target
    from scheduler.compose import _health

    def config(flaky: str, gone: str) -> Path:
        feeds = [
            f'[[sources]]\nname = "{n}"\nkind = "feed"\nurl = "https://example.org/{u}"\n'
            for n, u in (("flaky", flaky), ("gone", gone))
        ]
        return write_config(tmp_path, feeds)

    old = load_config(config("old-flaky.xml", "old-gone.xml"))
    failed_at = NOW - timedelta(days=2)
    with Store(old.storage.database) as store:
        for s in old.sources:
            after = SourceState(s.name, last_attempt=failed_at, last_error_at=failed_at, polls=2)
            if s.name == "flaky":
                after = replace(
                    after,
                    failures=2,
                    failing_since=failed_at,
                    last_error="HTTP 500 Internal Server Error",
                    next_poll=failed_at + timedelta(hours=1),
                )
            else:
                after = replace(after, active=False, inactive_reason="HTTP 410 Gone", last_error="HTTP 410 Gone")
            store.record_poll(s.name, SourceState(s.name), after, poll_target(s))
        before = {h.name: h for h in source_health(old, store, NOW)}
        assert before["flaky"].state == "failing" and before["gone"].state == "inactive"
        assert len(_health(old, store, NOW, ZoneInfo("UTC"))) == 2

        fixed = load_config(config("new-flaky.xml", "new-gone.xml"))
        health = {h.name: h for h in source_health(fixed, store, NOW)}
        box = _health(fixed, store, NOW, ZoneInfo("UTC"))
    for name in ("flaky", "gone"):
        h = health[name]
        assert h.active and h.failures == 0 and h.state == "new", h
        assert h.next_poll == iso(NOW), "due at once, as the daemon and crawl take it"
        assert h.error_before_change, "the old url's error is kept as history, labelled so"
    assert box == (), "neither is failing nor disabled as configured now"
    shown = run(tmp_path / "newswatch.toml", "sources").output
    assert "FAILING" not in shown and "INACTIVE" not in shown and "--reset" not in shown, shown
    assert "flaky: last error before its url, kind or spider changed" in shown, shown
