"""The daemon (`newswatch run`) stopped hard and started again: a digest missed while it was down is
sent once on start, a crawl killed midway loses no article, a digest killed mid-send goes out once.

Real subprocesses, real HTTP (the sample site), real SMTP (aiosmtpd), a real SQLite file; conditions are
polled with bounded deadlines.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crawler.config import load_config
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
