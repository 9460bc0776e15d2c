"""The daemon (`newswatch run`) stopped hard and started again: a digest missed while it was down is
sent once on start, a crawl killed midway loses no article, a digest killed mid-send goes out once.

Real subprocesses, real HTTP (the sample site), real SMTP (aiosmtpd), a real SQLite file; conditions are
polled with bounded deadlines.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crawler.config import load_config
from crawler.procs import ends_with_this_process
from crawler.store import Store, iso
from scheduler import ledger
from scheduler.daemon import DigestSlot, digest_trigger, last_fire_at_or_before
from tests.support.daemonworld import (
    GLOBALWIRE,
    NO_WORKERS,
    SLOW,
    Daemon,
    far_schedule,
    integrity,
    slow_site,
    wait_until,
    write_config,
)
from tests.support.sitesrv import SiteServer

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def crawled_globalwire(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SiteServer, Path]]:
    """The sample site for the module, and a database of one crawl of its globalwire feed (stories to send).

    The source is not due again for 15 minutes: a daemon given a copy starts with its digest, not a crawl.
    """
    from crawler.run import run_in_child

    site = SiteServer(ROOT / "fixtures" / "site").start()
    try:
        folder = tmp_path_factory.mktemp("globalwire")
        cfg = write_config(folder / "nw.toml", site.base_url, 25, sources=GLOBALWIRE)
        run_in_child(cfg, ["globalwire"], timeout=120, extra_env=NO_WORKERS)
        yield site, folder / "nw.db"
    finally:
        site.stop()


def copy_database(source: Path, target: Path) -> None:
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


# -- a digest missed while the daemon was down ------------------------------------------------------


def test_catch_up_sends_exactly_one_digest(
    tmp_path: Path, crawled_globalwire: tuple[SiteServer, Path], smtp: Any, daemons: Callable[..., Daemon]
) -> None:
    from scheduler.digest import LAST_SENT_KEY

    site, crawled = crawled_globalwire
    schedule = far_schedule()
    cfg = write_config(tmp_path / "nw.toml", site.base_url, smtp.port, sources=GLOBALWIRE, schedule=schedule)
    config = load_config(cfg)
    copy_database(crawled, config.storage.database)  # stories to send; the source is not due again for 15m
    now = datetime.now(UTC)
    slot = last_fire_at_or_before(digest_trigger(config), now)
    assert slot is not None
    with Store(config.storage.database) as store:
        matched = int(
            store.scalar("SELECT count(DISTINCT a.story) FROM articles a JOIN matches m ON m.article_id = a.id")
        )
        assert matched >= 1
        # The last digest went out the day before, before that day's scheduled time.
        store.set_state(LAST_SENT_KEY, iso(slot - timedelta(days=1, hours=1)))

    d = daemons(cfg, env=NO_WORKERS)
    d.wait_note("READY=1")
    wait_until(lambda: smtp.messages, 30, "the catch-up digest")
    d.wait_log(f"digest {iso(slot)}: 1 recipient, 1 sent")
    assert d.terminate() == 0
    assert len(smtp.messages) == 1
    assert "newswatch" in str(smtp.messages[0].message["Subject"])

    again = daemons(cfg, env=NO_WORKERS)  # a restart sends nothing more
    again.wait_note("READY=1")
    assert again.terminate() == 0
    assert "was due" not in again.log()
    assert len(smtp.messages) == 1
    with Store(config.storage.database) as store:
        rows = [m for m in ledger.messages(store) if m["kind"] == "digest"]
        assert [m["status"] for m in rows] == ["sent"]
        assert ledger.sent_stories(store, "analyst@example.org") and int(rows[0]["story_count"]) == matched


# -- killed mid-crawl and mid-digest ---------------------------------------------------------------


def test_sigkill_mid_crawl_then_restart_loses_nothing(
    tmp_path: Path, site: Any, smtp: Any, daemons: Callable[..., Daemon]
) -> None:
    pages = 6
    slow_site(site, pages=pages, delay=1.0)
    cfg = write_config(tmp_path / "nw.toml", site.base_url, smtp.port, sources=SLOW, schedule=far_schedule())
    db = tmp_path / "nw.db"
    d = daemons(cfg)
    d.wait_note("READY=1")
    wait_until(lambda: site.hits("/slow/a/") >= 3, 60, "pages fetched mid-crawl")
    assert "crawl slow:" not in d.log()
    d.crash()
    assert integrity(db) == "ok"
    with Store(db) as store:
        stored_before = store.count("articles")
        assert store.source_state("slow")["polls"] == 0  # the run never finished

    slow_site(site, pages=pages, delay=0.0)  # the same pages, answered at once: the restart need not wait
    again = daemons(cfg)
    again.wait_note("READY=1")
    again.wait_log("crawl slow: ok", 90)
    assert again.terminate() == 0
    assert "being polled by another crawl" not in again.log()  # the killed crawl's lease held nothing back
    assert integrity(db) == "ok"
    with Store(db) as store:
        urls = [r["url"] for r in store.query("SELECT url FROM articles ORDER BY url")]
        assert urls == sorted(f"{site.base_url}/slow/a/{i}.html" for i in range(pages))  # all, each once
        assert store.source_state("slow")["polls"] == 1
    assert stored_before <= pages


def test_sigkill_mid_digest_then_restart_sends_once(
    tmp_path: Path, crawled_globalwire: tuple[SiteServer, Path], smtp: Any, daemons: Callable[..., Daemon]
) -> None:
    from scheduler.digest import LAST_SENT_KEY

    site, crawled = crawled_globalwire
    cfg = write_config(tmp_path / "nw.toml", site.base_url, smtp.port, sources=GLOBALWIRE, schedule=far_schedule())
    config = load_config(cfg)
    copy_database(crawled, config.storage.database)
    slot = last_fire_at_or_before(digest_trigger(config), datetime.now(UTC))
    assert slot is not None
    with Store(config.storage.database) as store:
        store.set_state(LAST_SENT_KEY, iso(slot - timedelta(hours=1)))
    handler = smtp._controller.handler
    original = handler.handle_DATA
    stall = {"on": True, "seen": 0}

    async def stalled_data(server: Any, session: Any, envelope: Any) -> str:
        stall["seen"] += 1
        while stall["on"]:  # the message arrived; the 250 never comes
            await asyncio.sleep(0.05)
        return "451 4.3.0 try again later"

    handler.handle_DATA = stalled_data
    d = daemons(cfg, env=NO_WORKERS)
    d.wait_note("READY=1")
    wait_until(lambda: stall["seen"], 30, "the digest's DATA to reach the server")
    d.crash()
    stall["on"] = False
    handler.handle_DATA = original
    db = config.storage.database
    assert integrity(db) == "ok"
    with Store(db) as store:
        first = [m for m in ledger.messages(store) if m["kind"] == "digest"]
        assert [m["status"] for m in first] == ["pending"] and not ledger.sent_stories(store, "analyst@example.org")

    again = daemons(cfg, env=NO_WORKERS)
    again.wait_note("READY=1")
    wait_until(lambda: smtp.messages, 30, "the resent digest")
    again.wait_log("digest ")
    assert again.terminate() == 0
    assert len(smtp.messages) == 1
    assert smtp.messages[0].message["Message-ID"] == first[0]["message_id"]  # a resend, recognisable as one
    assert integrity(db) == "ok"
    with Store(db) as store:
        rows = [m for m in ledger.messages(store) if m["kind"] == "digest"]
        assert [m["status"] for m in rows] == ["sent"]
        items = store.query("SELECT story, count(*) AS n FROM delivery_items GROUP BY story")
        assert items and all(r["n"] == 1 for r in items)
        assert DigestSlot.load(store).done  # type: ignore[union-attr]


# -- a digest due while another process holds the database's write lock ------------------------------


def hold_write_lock(db: Path) -> subprocess.Popen[str]:
    """Another process (a long prune, sqlite3 left in a transaction) holding the database's write lock until its
    stdin is closed."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); c.execute('BEGIN IMMEDIATE');"
            " print('held', flush=True); sys.stdin.read()",
            str(db),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=ends_with_this_process(),
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    return holder


# The daemon's prelude: its digest job starts only once the file $NEWSWATCH_TEST_DIGEST_AT exists, so that the
# digest due at start falls due when the test says (once the daemon waits for the database's write lock).
DIGEST_AT_THE_TESTS_TIME = """
import os, time
from pathlib import Path
import scheduler.daemon as daemon
job = daemon.Daemon._digest_job
def at_the_tests_time(self, *args):
    while not Path(os.environ["NEWSWATCH_TEST_DIGEST_AT"]).exists():
        time.sleep(0.05)
    return job(self, *args)
daemon.Daemon._digest_job = at_the_tests_time
"""

QUICK_VESTNIK = """
[[sources]]
name = "vestnik"
url = "__BASE__/vestnik/rss.xml"
every = "2s"
"""


def test_a_digest_due_while_the_database_is_held_locked_waits_for_the_lock_and_is_sent_once_when_it_is_released(
    tmp_path: Path, crawled_globalwire: tuple[SiteServer, Path], smtp: Any, daemons: Callable[..., Daemon]
) -> None:
    # the digest fell due while the daemon waited out another process's write lock: it tried anyway, failed after
    # the busy timeout (30 s), and was tried again only 15 minutes later, three times, then given up until the
    # next day's digest, however soon the lock was released
    from scheduler.digest import LAST_SENT_KEY

    site, crawled = crawled_globalwire
    sources = GLOBALWIRE + QUICK_VESTNIK
    cfg = write_config(tmp_path / "nw.toml", site.base_url, smtp.port, sources=sources, schedule=far_schedule())
    config = load_config(cfg)
    db = config.storage.database
    copy_database(crawled, db)
    slot = last_fire_at_or_before(digest_trigger(config), datetime.now(UTC))
    assert slot is not None
    with Store(db) as store:
        store.set_state(LAST_SENT_KEY, iso(slot - timedelta(hours=1)))  # this slot's digest is due at start
    go = tmp_path / "digest-time"
    env = {
        "NEWSWATCH_BUSY_TIMEOUT": "0.3",
        "NEWSWATCH_MAX_FAILURES": "1",
        "NEWSWATCH_DB_WAIT": "0.3",
        "NEWSWATCH_CRAWL_WORKERS": "1",
        "NEWSWATCH_TEST_DIGEST_AT": str(go),
        **NO_WORKERS,
    }
    d = daemons(cfg, env=env, prelude=DIGEST_AT_THE_TESTS_TIME)
    d.wait_note("READY=1")
    d.wait_log("crawl vestnik: ")
    holder = hold_write_lock(db)
    try:
        d.wait_log("waiting for the database")
        go.touch()  # the digest falls due now, while the daemon waits for the lock
        wait_until(lambda: f"digest {iso(slot)}: " in d.log() or d.proc.poll() is not None, 30, "the digest's turn")
        wait_until(
            lambda: sum("STATUS=WAITING: " in n for n in d.notifications()) >= 3, 30, "three tries of the database"
        )
        log = d.log()
        assert f"digest {iso(slot)}: not sent" not in log, log  # not tried only to fail after the busy timeout
        assert f"digest {iso(slot)}: waits for the database" in log
        assert any("polls paused, the digest of " in n for n in d.notifications())
        assert not smtp.messages and d.proc.poll() is None
    finally:
        assert holder.stdin is not None
        holder.stdin.close()  # the holder ends: its transaction and the lock go with it
        holder.wait(30)
    wait_until(lambda: smtp.messages, 30, "the digest, as soon as the lock was released")
    d.wait_log(f"digest {iso(slot)}: 1 recipient, 1 sent")
    assert d.terminate() == 0
    assert "Traceback" not in d.log()
    again = daemons(cfg, env=NO_WORKERS)  # a restart sends nothing more
    again.wait_note("READY=1")
    assert again.terminate() == 0
    assert "was due" not in again.log()
    assert len(smtp.messages) == 1
    with Store(db) as store:
        assert [m["status"] for m in ledger.messages(store) if m["kind"] == "digest"] == ["sent"]
        state = DigestSlot.load(store)
        assert state is not None and state.done and state.slot == slot
