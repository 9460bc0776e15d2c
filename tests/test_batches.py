"""Crawl batches in the daemon, one crawl at a time per source, and cheap re-crawls.

The batch picker is a pure function tested with an injected clock; the rest runs the real daemon
and CLI against the local test server and a real SQLite file, with bounded waits on conditions.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from crawler.store import Store
from scheduler.daemon import MAX_LEAD, StartupLead, pick_batch
from tests.support.cli import newswatch
from tests.support.daemonworld import Daemon, wait_until
from tests.support.sitesrv import SiteServer
from tests.test_daemon import NO_WORKERS, far_schedule, write_config

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


# -- the batch picker (pure) -------------------------------------------------------------------------


def test_a_batch_starts_when_the_earliest_source_is_due_and_takes_those_due_soon() -> None:
    due = {"a": at(0), "b": at(3), "c": at(9), "d": at(30)}
    assert pick_batch(due, set(), at(-1), 10, 100) == []  # nothing due yet
    assert pick_batch(due, set(), NOW, 10, 100) == ["a", "b", "c"]
    assert pick_batch(due, {"a"}, NOW, 10, 100) == []  # the earliest left is not due yet
    assert pick_batch(due, set(), NOW, 10, 2) == ["a", "b"]  # at most the batch size, earliest first


def test_a_source_whose_batch_was_killed_runs_alone() -> None:
    due = {"a": at(0), "b": at(0), "stuck": at(0)}
    assert pick_batch(due, set(), NOW, 10, 100, {"stuck"}) == ["stuck"]
    assert pick_batch(due, {"stuck"}, NOW, 10, 100, {"stuck"}) == ["a", "b"]


def test_a_batch_child_starts_ahead_by_its_slowest_recent_start_up() -> None:
    lead = StartupLead(5.0, keep=3)
    assert lead.seconds() == 5.0  # nothing measured yet
    for seconds in (4.0, 2.0, 1.0):
        lead.observe(seconds)
    assert lead.seconds() == 1.5 * 4.0 + 1.0  # the slowest of the last three, with a margin
    lead.observe(1.0)  # the slow one drops out of the window
    assert lead.seconds() == 1.5 * 2.0 + 1.0
    lead.observe(1000.0)
    assert lead.seconds() == MAX_LEAD


def test_a_crawl_started_ahead_of_its_schedule_waits_for_it(tmp_path: Path, site: SiteServer) -> None:
    from crawler.run import run_in_child

    seen: list[float] = []

    def handler(path: str) -> tuple[int, dict[str, str], bytes]:
        seen.append(time.time())
        return 304, {"ETag": '"x"'}, b""

    site.add_generated("/ahead/", handler)
    cfg = crawl_config(tmp_path, f'[[sources]]\nname = "ahead"\nurl = "{site.base_url}/ahead/feed.xml"\n')
    scheduled = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
    events: list[dict[str, Any]] = []
    summary = run_in_child(
        cfg, ["ahead"], trigger="daemon", started=scheduled, on_event=events.append, extra_env=NO_WORKERS
    )
    assert summary.sources[0].status == "not-modified"
    assert events[0]["event"] == "ready"  # the daemon measures the child's start-up by it
    assert seen and min(seen) >= scheduled.timestamp(), "the feed was polled before its scheduled time"
    assert states(tmp_path / "nw.db")["ahead"]["last_attempt"] == scheduled.isoformat()


# -- the daemon's batches ----------------------------------------------------------------------------


def feeds(site: SiteServer, n: int) -> str:
    """`n` small feeds on the test server (one entry each), as config [[sources]]."""

    def handler(path: str) -> tuple[int, dict[str, str], bytes]:
        i = int(path.split("/")[2])
        if path.endswith("feed.xml"):
            item = (
                f"<item><title>China and Russia item {i}</title><link>{site.base_url}/many/{i}/a.html</link>"
                f"<guid>many-{i}</guid><description>China and Russia agree on project {i}</description></item>"
            )
            xml = f'<?xml version="1.0"?><rss version="2.0"><channel><title>F{i}</title>{item}</channel></rss>'
            return 200, {"Content-Type": "application/rss+xml", "ETag": f'"f{i}"'}, xml.encode()
        html = (
            f"<html><head><title>Item {i}</title></head><body><article><h1>China and Russia item {i}</h1>"
            + f"<p>Scientists of China and Russia agreed on joint project number {i} in materials.</p>" * 5
            + "</article></body></html>"
        )
        return 200, {"Content-Type": "text/html; charset=utf-8"}, html.encode()

    site.add_generated("/many/", handler)
    return "".join(
        f'[[sources]]\nname = "f{i:02d}"\nurl = "__BASE__/many/{i}/feed.xml"\nevery = "1h"\n' for i in range(n)
    )


STALL = '[[sources]]\nname = "stalled"\nurl = "__BASE__/_fault/stall?seconds=120"\nevery = "1h"\n'


def states(db: Path) -> dict[str, dict[str, Any]]:
    with Store(db) as st:
        return {r["name"]: r for r in st.query("SELECT * FROM sources")}


def stalled_batch(tmp_path: Path, site: SiteServer, smtp: Any, healthy: int, **env: str) -> tuple[Path, Daemon]:
    """A daemon polling the stalled source and `healthy` small feeds (one batch); the config's path and the daemon."""
    cfg = write_config(
        tmp_path / "nw.toml", site.base_url, smtp.port, sources=STALL + feeds(site, healthy), schedule=far_schedule()
    )
    return cfg, Daemon(tmp_path, cfg, env={"NEWSWATCH_CRAWL_TIMEOUT": "100", **NO_WORKERS, **env})


def test_a_stalled_source_in_a_batch_of_50_does_not_delay_the_other_49(
    tmp_path: Path, site: SiteServer, smtp: Any
) -> None:
    db = tmp_path / "nw.db"
    _cfg, d = stalled_batch(tmp_path, site, smtp, 49)
    try:
        d.wait_note("READY=1")

        def others_done() -> bool:
            rows = states(db)
            return sum(1 for n, r in rows.items() if n != "stalled" and r["last_success"]) == 49

        wait_until(others_done, 90, "the 49 healthy sources written")
        rows = states(db)
        assert rows.get("stalled", {}).get("last_attempt") is None  # still stalled, 100 s deadline
        with Store(db) as st:
            runs = st.query("SELECT trigger FROM crawl_runs")
        assert len(runs) == 1, "all 50 sources ran in one crawl child"
        assert "crawl batch of 50" not in d.log()  # the batch itself is still running
        assert d.terminate() == 0
    finally:
        d.close()


def test_a_batch_child_killed_at_its_deadline_requeues_its_unfinished_sources(
    tmp_path: Path, site: SiteServer, smtp: Any
) -> None:
    db = tmp_path / "nw.db"
    cfg, d = stalled_batch(tmp_path, site, smtp, 3, NEWSWATCH_BATCH_TIMEOUT="8")
    try:
        d.wait_note("READY=1")
        d.wait_log("unfinished: stalled; each is polled again on its own", 90)
        d.wait_log("crawl stalled: failed after", 90)  # polled again alone, and named
        rows = states(db)
        assert rows["stalled"]["failures"] == 1 and "stopped" in rows["stalled"]["last_error"]
        assert all(rows[f"f{i:02d}"]["polls"] == 1 for i in range(3)), "finished sources are not polled again"
        shown = newswatch("-c", cfg, "sources")
        assert "stalled" in shown.stdout and "stopped" in shown.stdout
        assert d.terminate() == 0
    finally:
        d.close()


def reload_every(
    tmp_path: Path,
    site: SiteServer,
    smtp: Any,
    source: tuple[str, str],
    reload_when: tuple[Callable[[], Any], str],
    then: tuple[Callable[[], Any], str],
) -> None:
    """The daemon polls (name, path) every hour; once `reload_when` holds, a SIGHUP makes it 5 s; `then` must follow."""
    name, path = source
    one = f'[[sources]]\nname = "{name}"\nurl = "__BASE__{path}"\nevery = "__EVERY__"\n'

    def config(every: str) -> Path:
        return write_config(
            tmp_path / "nw.toml",
            site.base_url,
            smtp.port,
            sources=one.replace("__EVERY__", every),
            schedule=far_schedule(),
        )

    d = Daemon(tmp_path, config("1h"), env=NO_WORKERS)
    try:
        d.wait_note("READY=1")
        wait_until(reload_when[0], 60, reload_when[1])
        config("5s")
        d.proc.send_signal(signal.SIGHUP)
        d.wait_log(f"changed {name}")
        wait_until(then[0], 60, then[1])
        assert d.terminate() == 0
    finally:
        d.close()


def test_a_changed_every_takes_effect_on_reload(tmp_path: Path, site: SiteServer, smtp: Any) -> None:
    db = tmp_path / "nw.db"
    reload_every(
        tmp_path,
        site,
        smtp,
        ("gw", "/globalwire/rss.xml"),
        (lambda: states(db).get("gw", {}).get("polls") == 1, "the first poll"),
        (lambda: states(db)["gw"]["polls"] >= 2, "a poll at the new interval"),
    )


def test_an_every_changed_while_the_source_is_being_polled_counts_from_that_poll(
    tmp_path: Path, site: SiteServer, smtp: Any
) -> None:
    """A reload that lands while the source's batch is still fetching its pages is not undone when it ends."""

    def handler(path: str) -> tuple[int, dict[str, str], bytes]:
        item = (
            f"<item><title>Slow page</title><link>{site.base_url}/_fault/stall?seconds=6&amp;n=slow</link>"
            "<guid>slow-1</guid><description>A page that takes a while</description></item>"
        )
        return 200, {"Content-Type": "application/rss+xml"}, f"<rss><channel>{item}</channel></rss>".encode()

    site.add_generated("/slowfeed/", handler)
    reload_every(
        tmp_path,
        site,
        smtp,
        ("slow", "/slowfeed/feed.xml"),
        (lambda: site.hits("/_fault/stall"), "the batch fetching the slow page"),  # the reload lands mid-batch
        (lambda: site.hits("/slowfeed/feed.xml") >= 2, "a poll at the new interval after the batch"),
    )


# -- one crawl at a time per source; cheap re-crawls --------------------------------------------------


def cli(cfg: Path, *args: str, **kw: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", "from scheduler.cli import main; main()", "-c", str(cfg), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "NEWSWATCH_WORKERS": "0"},
        **kw,
    )


def crawl_config(tmp_path: Path, sources: str, timeout: str = "3s") -> Path:
    cfg = tmp_path / "newswatch.toml"
    cfg.write_text(
        f"""
[storage]
database = "nw.db"

[crawl]
user_agent = "newswatch-test/1.0 (+mailto:ops@example.org)"
timeout = "{timeout}"
allow_private = true

{sources}
""",
        encoding="utf-8",
    )
    return cfg


def test_two_crawl_commands_at_once_fetch_each_page_once(tmp_path: Path, site: SiteServer) -> None:
    second_done = threading.Event()

    def handler(path: str) -> tuple[int, dict[str, str], bytes]:
        if path.endswith("feed.xml"):
            items = "".join(
                f"<item><title>Item {i}</title><link>{site.base_url}/twice/{i}.html</link><guid>t{i}</guid></item>"
                for i in range(12)
            )
            return 200, {"Content-Type": "application/rss+xml"}, f"<rss><channel>{items}</channel></rss>".encode()
        second_done.wait(1.5)  # the first crawl's pages are slow while the second crawl runs
        body = "<html><body><article><h1>Item</h1>" + "<p>Joint research of two academies.</p>" * 8
        return 200, {"Content-Type": "text/html"}, (body + f"<p>{path}</p></article></body></html>").encode()

    site.add_generated("/twice/", handler)
    cfg = crawl_config(tmp_path, f'[[sources]]\nname = "twice"\nurl = "{site.base_url}/twice/feed.xml"\n')
    first = cli(cfg, "crawl")
    try:
        wait_until(lambda: site.hits("/twice/feed.xml"), 60, "the first crawl's feed request")
        second = cli(cfg, "crawl")
        out2, err2 = second.communicate(timeout=120)
        second_done.set()
        out1, err1 = first.communicate(timeout=120)
    finally:
        second_done.set()
        for p in (first,):
            if p.poll() is None:
                p.kill()
    assert first.returncode == 0, err1
    assert second.returncode == 0, err2
    assert "being polled by another crawl" in out2 + err2, (out2, err2)
    for i in range(12):
        assert site.hits(f"/twice/{i}.html") == 1, f"page {i} fetched more than once"


def test_a_recrawl_does_not_wait_on_pending_retries(tmp_path: Path, site: SiteServer) -> None:
    def handler(path: str) -> tuple[int, dict[str, str], bytes]:
        items = "".join(
            f"<item><title>Stalled item {i}</title><link>{site.base_url}/_fault/stall?seconds=30&amp;n={i}</link>"
            f"<guid>p{i}</guid><description>Summary {i}</description></item>"
            for i in range(2)
        )
        return (
            200,
            {"Content-Type": "application/rss+xml", "ETag": '"same"'},
            f"<rss><channel>{items}</channel></rss>".encode(),
        )

    site.add_generated("/pend/", handler)
    # each stalled page fails after its three tries of 1 s and is kept from the feed, pending a retry
    cfg = crawl_config(tmp_path, f'[[sources]]\nname = "pend"\nurl = "{site.base_url}/pend/feed.xml"\n', timeout="1s")
    newswatch("-c", cfg, "crawl", env=NO_WORKERS)
    with Store(tmp_path / "nw.db") as st:
        assert st.scalar("SELECT count(*) FROM articles WHERE page_pending = 1") == 2  # kept from the feed
    stalls = site.hits("/_fault/stall")
    again = newswatch("-c", cfg, "crawl", env=NO_WORKERS)
    assert again.returncode == 0, again.stderr
    assert site.hits("/_fault/stall") == stalls, "a pending page was retried before its retry was due"
