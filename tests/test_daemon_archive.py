"""`newswatch run` on a config without mail (the demo's): it archives, and says what it will do."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crawler.store import Store, iso
from scheduler.demo import demo_config_text
from tests.support.articles import RSS, rss_channel
from tests.support.daemonworld import Daemon, crawl_config, wait_until


def test_run_without_smtp_archives_and_logs_each_sources_next_poll_and_errors(
    tmp_path: Path, site: Any, daemons: Callable[..., Daemon]
) -> None:
    cfg = tmp_path / "demo.toml"
    cfg.write_text(demo_config_text(site.base_url), encoding="utf-8")  # [digest] but no [smtp]
    d = daemons(cfg, env={"NEWSWATCH_WORKERS": "0"})  # each crawl child extracts its pages itself
    d.wait_note("READY=1")
    d.wait_log("archive mode (no [smtp] in the config)")
    names = ("globalwire", "vestnik", "huaxia", "huaxia-sitemap", "digestnet", "academy", "frozen")
    for name in names:
        d.wait_log(f"source {name}: next poll ")
    assert re.search(r"source academy: next poll \S+ \(in \d+s\), then every 6h", d.log())
    # One batch polls all seven. A source's own line is at INFO when it stored something or met an
    # error (a feed whose pages its sitemap twin fetched first in the same batch has neither: DEBUG).
    d.wait_log(f"crawl batch of {len(names)}: {len(names)} polled, 0 failed", timeout=120)
    assert d.terminate() == 0
    log = d.log()
    batch = re.search(r"crawl batch of \d+: .*; fetched \d+, new (\d+), errors (\d+);", log)
    assert batch, log
    lines = re.findall(r"\bcrawl (\S+): \w+; fetched \d+, new (\d+), duplicates \d+, matched \d+, errors (\d+)", log)
    assert {name for name, _new, _errors in lines} <= set(names)
    assert len(lines) >= len(names) - 1, log  # at most one twin had nothing of its own
    assert sum(int(new) for _name, new, _errors in lines) == int(batch.group(1)) > 20
    assert sum(int(errors) for _name, _new, errors in lines) == int(batch.group(2)) > 0
    assert "Traceback" not in log
    with Store(tmp_path / "newswatch-demo.db") as store:
        assert store.count("articles") > 20
    # a crawl that counted errors names them (the sample site has broken links on purpose)
    with_errors = re.findall(r"\bcrawl (\S+): .*errors ([1-9]\d*) \((.+?)\); ", log)
    assert with_errors, log
    counted = re.findall(r"\bcrawl (\S+): .*errors ([1-9]\d*)", log)
    assert len(with_errors) == len(counted)
    assert any("http" in text for _name, _n, text in with_errors)


def test_a_source_polled_alone_has_its_line_also_when_nothing_is_new(
    tmp_path: Path, site: Any, daemons: Callable[..., Daemon]
) -> None:
    """A batch's sources with nothing new are counted by the batch's line; a source polled on its own has no
    batch line, so its own says that it was polled (a daemon with one source logged nothing after its first poll)."""
    cfg = crawl_config(
        tmp_path, f'[[sources]]\nname = "gw"\nurl = "{site.base_url}/huaxia/atom.xml"\nevery = "2s"\n', "30s"
    )
    d = daemons(cfg, env={"NEWSWATCH_WORKERS": "0"})
    d.wait_log("crawl gw: ok; fetched ", timeout=120)  # the first poll stores the feed's articles
    d.wait_log("crawl gw: not-modified; fetched 1, new 0, duplicates 0, matched 0, errors 0; ", timeout=120)
    assert d.terminate() == 0
    assert "crawl batch of" not in d.log()


def test_a_sources_crawl_warnings_are_logged_once_while_they_stay_the_same(
    tmp_path: Path, site: Any, daemons: Callable[..., Daemon]
) -> None:
    # `newswatch crawl` prints 'gw: warning: ...' (here an entry with a javascript: link, skipped); the daemon
    # logged nothing of it, nor of a feed read despite its errors or entries left for the next polls
    polls = [0]

    def handler(path: str) -> tuple[int, dict[str, str], bytes]:
        polls[0] += 1  # the feed changes at each poll (no 304), its bad entry stays
        item = "<item><title>Bad link</title><link>javascript:alert(1)</link><guid>bad</guid></item>"
        return 200, RSS, rss_channel(f"{site.base_url}/warned/", item, description=f"poll {polls[0]}")

    site.add_generated("/warned/", handler)
    cfg = crawl_config(
        tmp_path, f'[[sources]]\nname = "gw"\nurl = "{site.base_url}/warned/feed.xml"\nevery = "2s"\n', "30s"
    )
    d = daemons(cfg, env={"NEWSWATCH_WORKERS": "0"})
    d.wait_log("crawl gw: warning: ", timeout=120)
    wait_until(lambda: polls[0] >= 4, timeout=120, what="four polls")
    assert d.terminate() == 0
    warned = re.findall(r"crawl gw: warning: (.*)", d.log())
    assert warned and any("'javascript:alert(1)' is not a valid http(s) URL" in w for w in warned), d.log()
    assert len(warned) == len(set(warned)), d.log()  # once, not at every poll


def test_at_start_a_failing_source_gives_its_real_next_poll_and_backoff_and_an_inactive_one_says_it_waits(
    tmp_path: Path, site: Any, daemons: Callable[..., Daemon]
) -> None:
    sources = (
        '[[sources]]\nname = "gw"\nurl = "__BASE__/globalwire/rss.xml"\nevery = "6h"\n\n'
        '[[sources]]\nname = "failing"\nurl = "__BASE__/nothing-here/rss.xml"\nevery = "15m"\n\n'
        '[[sources]]\nname = "gone"\nurl = "__BASE__/gone/rss.xml"\nevery = "15m"\n'
    )
    cfg = crawl_config(tmp_path, sources.replace("__BASE__", site.base_url))
    now = datetime.now(UTC)  # the stored state is in the daemon's own terms: an hour's backoff after 3 failures
    # (next poll 50 minutes on: the start line rounds, "in 50m" when the daemon is up within the half minute)
    with Store(tmp_path / "nw.db") as store:
        store.update_source(
            "failing",
            failures=3,
            last_attempt=iso(now - timedelta(minutes=10)),
            last_error="HTTP 503 Service Unavailable",
            failing_since=iso(now - timedelta(hours=2)),
            next_poll=iso(now + timedelta(minutes=50)),
        )
        store.update_source("gone", active=0, inactive_reason="HTTP 410 Gone", last_attempt=iso(now))
    d = daemons(cfg, env={"NEWSWATCH_WORKERS": "0"})
    d.wait_note("READY=1")
    d.wait_log("source gone: ")
    log = d.log()
    assert re.search(r"source gw: next poll \S+ \(in \d+s\), then every 6h\n", log), log
    line = re.search(r"source failing: .*", log)
    assert line, log
    assert re.fullmatch(
        r"source failing: next poll \S+ \(in (?:4\d|50)m\); failing \(3 failures in a row, latest: HTTP 503 Service "
        r"Unavailable\), so backing off: 2h later if it fails again \(the wait doubles, at most 1d\), every 15m once "
        r"it succeeds",
        line.group(0),
    ), line.group(0)
    assert "then every 15m" not in line.group(0)
    assert (
        "source gone: inactive (HTTP 410 Gone); not polled until 'newswatch sources --reset gone' re-enables it" in log
    )
    assert d.terminate() == 0


@pytest.mark.parametrize(
    ("state", "line"),
    [
        ({}, "source s: next poll 2026-11-28T06:00:00+00:00 (in 0s), then every 15m"),
        (
            {"failures": 1, "last_error": "timed out"},
            "source s: next poll 2026-11-28T06:00:00+00:00 (in 0s); failing (1 failure in a row, latest: timed out), "
            "so backing off: 30m later if it fails again (the wait doubles, at most 1d), every 15m once it succeeds",
        ),
        (
            {"retry_after": datetime(2026, 11, 28, 8, tzinfo=UTC)},
            "source s: next poll 2026-11-28T08:00:00+00:00 (in 2h), when the server asked to be polled again "
            "(Retry-After), then every 15m",
        ),
        (
            {"active": False, "inactive_reason": None},
            "source s: inactive (deactivated); not polled until 'newswatch sources --reset s' re-enables it",
        ),
    ],
)
def test_the_start_line_of_a_source_in_each_state(state: dict[str, Any], line: str) -> None:
    from crawler.config import SourceConfig
    from crawler.polling import SourceState
    from scheduler.daemon import next_poll_line

    now = datetime(2026, 11, 28, 6, tzinfo=UTC)
    when = state.get("retry_after", now)
    source = SourceConfig(name="s", kind="feed", url="http://127.0.0.1:9/rss.xml", every=900.0)
    assert next_poll_line(source, SourceState(name="s", **state), when, now) == line


def test_sources_reset_while_the_daemon_runs_is_taken_up_without_waiting_out_the_backoff(
    tmp_path: Path, site: Any, daemons: Callable[..., Daemon]
) -> None:
    from tests.support.cli import newswatch

    cfg = crawl_config(
        tmp_path, f'[[sources]]\nname = "gw"\nurl = "{site.base_url}/globalwire/rss.xml"\nevery = "15m"\n'
    )
    now = datetime.now(UTC)  # the site is back, but the stored backoff says: next poll in 20 hours
    with Store(tmp_path / "nw.db") as store:
        store.update_source(
            "gw",
            failures=8,
            last_attempt=iso(now - timedelta(hours=1)),
            last_error="HTTP 503 Service Unavailable",
            failing_since=iso(now - timedelta(days=1)),
            next_poll=iso(now + timedelta(hours=20)),
        )
    d = daemons(cfg, env={"NEWSWATCH_WORKERS": "0"})
    d.wait_note("READY=1")
    d.wait_log("source gw: next poll ")
    assert "failing (8 failures in a row" in d.log() and not site.hits("/globalwire/rss.xml")
    reset = newswatch("-c", cfg, "sources", "--reset", "gw")
    assert reset.returncode == 0 and "backoff cleared after 8 failure(s)" in reset.stdout
    d.wait_log("source gw: reset by 'newswatch sources --reset'; next poll ", timeout=60)
    d.wait_log("crawl gw: ok", timeout=60)  # its interval had passed: polled at once, not 20 hours later
    assert d.terminate() == 0


def test_a_reload_in_archive_mode_names_a_changed_digest_schedule(
    tmp_path: Path, daemons: Callable[..., Daemon]
) -> None:
    # without [smtp] the daemon schedules no digest, so its own "digest schedule ..." line never comes: the
    # [digest] change itself is named, not "nothing changed"
    import signal

    cfg = tmp_path / "nw.toml"
    text = '[storage]\ndatabase = "nw.db"\n[digest]\nschedule = "0 7 * * *"\n[[digest.recipients]]\nemail = "a@b.example"\n'
    cfg.write_text(text, encoding="utf-8")
    d = daemons(cfg, env={"NEWSWATCH_WORKERS": "0"})
    d.wait_note("READY=1")
    cfg.write_text(text.replace('"0 7 * * *"', '"0 9 * * *"\ntimezone = "Europe/Moscow"'), encoding="utf-8")
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log("config reloaded: ")
    assert d.terminate() == 0
    assert (
        "config reloaded: 0 sources; changed [digest] (schedule '0 7 * * *' → '0 9 * * *', timezone 'UTC' → "
        "'Europe/Moscow')" in d.log()
    )
