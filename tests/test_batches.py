"""Crawl batches in the daemon: which sources a batch takes, a batch child started ahead of its
schedule, a stalled source in a batch, a batch child killed at its deadline.

The batch picker is a pure function tested with an injected clock; the rest runs the real daemon
and crawl children against the local test server and a real SQLite file, with bounded waits on
conditions. A source's interval changed on reload is in test_every_reload.py; crawls that meet
other crawls are in test_recrawl.py.
"""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from crawler.store import Store
from scheduler.daemon import MAX_LEAD, StartupLead, pick_batch
from tests.support.cli import newswatch
from tests.support.daemonworld import (
    GLOBALWIRE,
    NO_WORKERS,
    Daemon,
    crawl_config,
    far_schedule,
    source_states,
    wait_until,
    write_config,
)
from tests.support.sitesrv import SiteServer

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
    assert source_states(tmp_path / "nw.db")["ahead"]["last_attempt"] == scheduled.isoformat()


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
            rows = source_states(db)
            return sum(1 for n, r in rows.items() if n != "stalled" and r["last_success"]) == 49

        wait_until(others_done, 90, "the 49 healthy sources written")
        rows = source_states(db)
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
        rows = source_states(db)
        assert rows["stalled"]["failures"] == 1 and "stopped" in rows["stalled"]["last_error"]
        assert all(rows[f"f{i:02d}"]["polls"] == 1 for i in range(3)), "finished sources are not polled again"
        shown = newswatch("-c", cfg, "sources")
        assert "stalled" in shown.stdout and "stopped" in shown.stdout
        assert d.terminate() == 0
    finally:
        d.close()


def test_the_first_batch_starts_as_the_daemon_starts_not_a_tick_later(
    tmp_path: Path, smtp: Any, monkeypatch: Any
) -> None:
    # With looks at due sources an hour apart, a never-polled source is still handed to a batch at start.
    import asyncio

    from scheduler import daemon as daemon_module

    monkeypatch.setattr(daemon_module, "TICK", 3600.0)
    monkeypatch.setenv("NEWSWATCH_START_SPREAD", "0")
    for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "RUNTIME_DIRECTORY"):  # this daemon talks to no service manager
        monkeypatch.delenv(name, raising=False)
    cfg = write_config(
        tmp_path / "nw.toml", "http://127.0.0.1:9", smtp.port, sources=GLOBALWIRE, schedule=far_schedule()
    )
    daemon = daemon_module.Daemon(cfg)
    batches: list[list[str]] = []
    daemon._batch_job = lambda names, scheduled: batches.append(names)  # type: ignore[method-assign]

    async def run() -> int:
        served = asyncio.ensure_future(daemon.serve())
        deadline = time.monotonic() + 30
        while not batches and not served.done() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        daemon.request_stop()
        return await served

    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    try:
        assert asyncio.run(run()) == 0
    finally:  # the daemon's loop took these over while it ran
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert batches == [["globalwire"]]
