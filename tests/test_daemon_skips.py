"""A daemon batch whose sources were all skipped (held by another crawl, or told to wait) is no
success and no failure: each source's failure count and backoff, and the daemon's run of failed
jobs, stay as they were. The daemon runs in-process; its batch is a real crawl child against the
sample site and a real SQLite file."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from crawler.dates import iso, utcnow
from crawler.store import RESET_KEY, Store, process_alive
from scheduler.daemon import SKIPPED_RETRY, Daemon
from tests.support.daemonworld import GLOBALWIRE, VESTNIK, far_schedule, wait_until, write_config
from tests.support.sitesrv import SiteServer

KEPT = ("failures", "failing_since", "next_poll", "last_error", "last_attempt", "retry_after")


NAMES = ["globalwire", "vestnik"]


@pytest.fixture
def daemon(tmp_path: Path, site: SiteServer, monkeypatch: Any) -> Iterator[Daemon]:
    """An in-process daemon over the sample site's globalwire and vestnik; its batches run in a crawl child."""
    monkeypatch.setenv("NEWSWATCH_WORKERS", "0")
    cfg = write_config(tmp_path / "nw.toml", site.base_url, 25, sources=GLOBALWIRE + VESTNIK, schedule=far_schedule())
    d = Daemon(cfg)
    try:
        yield d
    finally:
        d._batch_pool.shutdown()
        d._cleanup()


def failing(store: Store, name: str, *, retry_after: bool) -> None:
    """A source that failed twice in a row and is backing off (optionally with a Retry-After ahead)."""
    now = utcnow()
    store.update_source(
        name,
        failures=2,
        failing_since=iso(now - timedelta(hours=1)),
        last_attempt=iso(now - timedelta(minutes=40)),
        last_error="HTTP 503",
        last_error_at=iso(now - timedelta(minutes=40)),
        next_poll=iso(now - timedelta(minutes=10)),
        retry_after=iso(now + timedelta(hours=1)) if retry_after else None,
    )


def test_a_batch_whose_sources_were_all_skipped_changes_no_failure_count(daemon: Daemon, site: SiteServer) -> None:
    # One batch, each source skipped for one of the two reasons: globalwire is held by another crawl,
    # vestnik was told to wait (a Retry-After ahead).
    with Store(daemon.config.storage.database) as store:
        failing(store, "globalwire", retry_after=False)
        failing(store, "vestnik", retry_after=True)
        assert store.claim_sources(["globalwire"]) == {}  # this live process holds its lease
        before = {n: {k: store.source_state(n)[k] for k in KEPT} for n in NAMES}
    daemon._job_failed("crawl globalwire", "HTTP 503")
    daemon._job_failed("crawl vestnik", "HTTP 503")
    site.clear_log()
    daemon._crawl_batch(daemon.config, daemon.snapshot, NAMES, utcnow())
    assert site.hits("/globalwire") == 0 and site.hits("/vestnik") == 0  # nothing was polled
    with Store(daemon.config.storage.database) as store:
        assert {n: {k: store.source_state(n)[k] for k in KEPT} for n in NAMES} == before
    assert daemon.failures.count == 2, daemon.status_line()
    assert daemon.status_line() == "FAILING: 2 jobs in a row, latest crawl vestnik: HTTP 503; last crawl none yet"


def test_a_skipped_batch_started_ahead_of_its_time_logs_no_negative_duration(
    daemon: Daemon, site: SiteServer, caplog: Any
) -> None:
    # The crawl child starts ahead of its batch's time; when it skips every source it ends before that time,
    # and the batch's line must not read "-4.2s".
    with Store(daemon.config.storage.database) as store:
        assert store.claim_sources(NAMES) == {}  # this live process holds both
    caplog.set_level(logging.INFO, logger="newswatch.daemon")
    daemon._crawl_batch(daemon.config, daemon.snapshot, NAMES, utcnow() + timedelta(seconds=20))
    assert site.hits("/globalwire") == 0 and site.hits("/vestnik") == 0
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("crawl batch of 2:")]
    assert line.startswith("crawl batch of 2: 0 polled, 0 failed;") and line.endswith("; 0.0s"), line


def test_sources_another_crawl_held_are_looked_at_again_as_soon_as_it_ends(daemon: Daemon, site: SiteServer) -> None:
    # Another crawl process holds both sources: the daemon's batch skips them and looks again SKIPPED_RETRY
    # later at the latest. Once that process has ended, each follows its stored state at once: vestnik, which
    # the other crawl polled, at its next poll; globalwire, which it never got to, now.
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with Store(daemon.config.storage.database) as store:
            assert store.claim_sources(NAMES) == {}
            store.conn.execute("UPDATE _source_leases SET pid = ?", [holder.pid])
        began = utcnow()
        daemon._crawl_batch(daemon.config, daemon.snapshot, NAMES, began)
        assert site.hits("/globalwire") == 0 and site.hits("/vestnik") == 0  # nothing was polled
        later = {n: daemon._due[n] for n in NAMES}
        assert all(at >= began + timedelta(seconds=SKIPPED_RETRY) for at in later.values()), later
        daemon._look_again_when_released()
        assert {n: daemon._due[n] for n in NAMES} == later  # it still runs: nothing changes

        with Store(daemon.config.storage.database) as store:  # the other crawl polled vestnik
            store.update_source("vestnik", last_attempt=iso(utcnow()), last_success=iso(utcnow()), polls=1)
        holder.kill()
        wait_until(lambda: not process_alive(holder.pid), 10, "the other crawl to end")
        daemon._look_again_when_released()
        now = utcnow()
        assert daemon._due["globalwire"] <= now
        assert daemon._due["vestnik"] >= now + timedelta(minutes=14)  # every 15m, from its poll
    finally:
        holder.kill()
        holder.wait()


def test_the_daemon_drops_the_reset_notes_of_sources_no_longer_configured(daemon: Daemon) -> None:
    # `sources --reset` leaves a note for a running daemon; a source since removed from the config kept its
    # note for ever, and one re-added under the same name found it there
    with Store(daemon.config.storage.database) as store:
        for name in ("globalwire", "removed-long-ago"):
            store.set_state(RESET_KEY + name, iso(utcnow()))
    daemon._schedule_sources(daemon.config, initial=True)  # at start, and at each reload
    with Store(daemon.config.storage.database) as store:
        assert set(store.source_resets()) == {"globalwire"}
    assert set(daemon._resets) == {"globalwire"}


def test_dropping_reset_notes_with_none_to_drop_takes_no_write_lock(tmp_path: Path) -> None:
    # forget_resets opened a write transaction (BEGIN IMMEDIATE) at each daemon start and reload and each
    # `sources --reset`, with nothing to delete as a rule: it waited behind any other writer for the lock
    db = tmp_path / "nw.db"
    with Store(db) as store:
        store.set_state(RESET_KEY + "globalwire", iso(utcnow()))
    writer = sqlite3.connect(db, isolation_level=None)  # another process writing, for long
    try:
        with Store(db) as store:
            store.conn.execute("PRAGMA busy_timeout = 50")
            before = store.conn.total_changes
            writer.execute("BEGIN IMMEDIATE")
            assert store.forget_resets({"globalwire", "vestnik"}) == []  # before: database is locked
            writer.execute("ROLLBACK")
            assert store.conn.total_changes == before
            store.set_state(RESET_KEY + "removed", iso(utcnow()))
            writer.execute("BEGIN IMMEDIATE")
            with pytest.raises(sqlite3.OperationalError, match="locked"):  # a note to drop: it writes
                store.forget_resets({"globalwire"})
            writer.execute("ROLLBACK")
            assert store.forget_resets({"globalwire"}) == ["removed"]
            assert set(store.source_resets()) == {"globalwire"}
    finally:
        writer.close()
