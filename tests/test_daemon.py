"""The daemon (`newswatch run`) as systemd runs it: a real subprocess, a real NOTIFY_SOCKET datagram
socket, real HTTP (the sample site) and real SMTP (aiosmtpd), a real SQLite file.

Conditions are polled with bounded deadlines; nothing sleeps for a schedule. Env knobs the daemon
honours for tests: NEWSWATCH_START_SPREAD=0 (poll overdue sources at once) and
NEWSWATCH_CRAWL_TIMEOUT (kill a hung crawl sooner than the default 5 minutes).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crawler.config import load_config
from crawler.store import Store, iso
from scheduler import ledger
from scheduler.config_snapshot import dumps, load_snapshot
from scheduler.daemon import (
    DigestSlot,
    crawl_children,
    digest_trigger,
    last_fire_at_or_before,
    missed_digest,
)
from scheduler.notify import Notifier
from tests.support.daemonworld import WORDS, Daemon, daemon_config, unit_with_stand_in, wait_until
from tests.support.sitesrv import SiteServer

ROOT = Path(__file__).resolve().parent.parent
TOPIC = """
[[topics]]
name = "china-russia"
query = '(China OR Chinese OR Beijing) AND (Russia OR Russian OR Moscow)'
"""


# -- helpers ---------------------------------------------------------------------------------------


def write_config(
    path: Path,
    base_url: str,
    smtp_port: int,
    *,
    sources: str,
    schedule: str = "0 7 * * *",
    extra_topics: str = "",
    timeout: str = "10s",
) -> Path:
    text = daemon_config(
        sources=sources.replace("__BASE__", base_url),
        topics=TOPIC + extra_topics,
        smtp_port=smtp_port,
        schedule=schedule,
        send_empty=True,
        timeout=timeout,
    )
    path.write_text(text, encoding="utf-8")
    return path


GLOBALWIRE = """
[[sources]]
name = "globalwire"
url = "__BASE__/globalwire/rss.xml"
every = "15m"
"""
VESTNIK = """
[[sources]]
name = "vestnik"
url = "__BASE__/vestnik/rss.xml"
every = "15m"
"""


# For daemons whose tests are not about extraction workers: each crawl child extracts its pages itself,
# without starting a pool of workers (the tests of kills and hung crawls keep the workers).
NO_WORKERS = {"NEWSWATCH_WORKERS": "0"}


def far_schedule() -> str:
    """A daily cron time 12 hours away, so no regular digest fires during a test."""
    return f"0 {(datetime.now(UTC).hour + 12) % 24} * * *"


def integrity(db: Path) -> str:
    conn = sqlite3.connect(str(db))
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


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


# -- pieces, in-process --------------------------------------------------------------------------


def test_notifier_sends_to_abstract_socket_and_honours_watchdog_pid() -> None:
    name = f"nw-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.settimeout(2)
        n = Notifier({"NOTIFY_SOCKET": "@" + name, "WATCHDOG_USEC": "3000000", "WATCHDOG_PID": str(os.getpid())})
        assert n.watchdog_interval == 1.5
        assert n.ready("starting\nup")
        assert sock.recv(100) == b"READY=1\nSTATUS=starting up"
        n.close()
    assert Notifier({"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "3000000", "WATCHDOG_PID": "1"}).watchdog_interval is None
    assert not Notifier({}).enabled and not Notifier({}).ready()
    gone = Notifier({"NOTIFY_SOCKET": "/nonexistent/notify"})
    assert gone.enabled and not gone.watchdog()  # logged, never raised


def test_last_fire_in_the_digest_timezone() -> None:
    from zoneinfo import ZoneInfo

    from apscheduler.triggers.cron import CronTrigger

    msk = CronTrigger.from_crontab("0 7 * * *", timezone=ZoneInfo("Europe/Moscow"))
    now = datetime(2026, 11, 25, 3, 59, tzinfo=UTC)  # 06:59 in Moscow: today's 07:00 has not come
    assert last_fire_at_or_before(msk, now) == datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
    assert last_fire_at_or_before(msk, now + timedelta(minutes=1)) == datetime(2026, 11, 25, 4, 0, tzinfo=UTC)
    weekly = CronTrigger.from_crontab("30 6 * * mon", timezone=UTC)
    assert last_fire_at_or_before(weekly, now) == datetime(2026, 11, 23, 6, 30, tzinfo=UTC)
    minutely = CronTrigger.from_crontab("* * * * *", timezone=UTC)
    assert last_fire_at_or_before(minutely, now + timedelta(seconds=30)) == now


def test_missed_digest_decisions(tmp_path: Path, site: Any) -> None:
    cfg = load_config(write_config(tmp_path / "nw.toml", site.base_url, 25, sources=GLOBALWIRE))
    trigger = digest_trigger(cfg)
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    with Store(cfg.storage.database) as store:
        assert missed_digest(store, trigger, now) is None  # first start: nothing was due, slot recorded
        assert DigestSlot.load(store) == DigestSlot(datetime(2026, 11, 25, 7, 0, tzinfo=UTC), now, True)
        later = now + timedelta(days=2)
        assert missed_digest(store, trigger, later) == datetime(2026, 11, 27, 7, 0, tzinfo=UTC)  # one, not two
        DigestSlot(datetime(2026, 11, 27, 7, 0, tzinfo=UTC), later, False).save(store)  # a run was cut short
        assert missed_digest(store, trigger, later) == datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
        DigestSlot(datetime(2026, 11, 27, 7, 0, tzinfo=UTC), later, True).save(store)
        assert missed_digest(store, trigger, later) is None


def test_config_snapshot_keeps_paths_and_values(tmp_path: Path) -> None:
    conf = tmp_path / "etc" / "nw.toml"
    conf.parent.mkdir()
    write_config(conf, "http://127.0.0.1:1", 25, sources=GLOBALWIRE + VESTNIK)
    text = conf.read_text().replace('timeout = "10s"', 'timeout = "10s"\nconcurrency = 3')
    text += 'username = "u"\npassword_file = "secret \\"pw\\".txt"\n'
    conf.write_text(text)
    config, snap = load_snapshot(conf, tmp_path / "run")
    assert snap.parent == tmp_path / "run" and config.path == conf
    original = load_config(conf)
    assert config.storage.database == original.storage.database == conf.parent / "nw.db"
    assert config.smtp is not None and config.smtp.password_file == conf.parent / 'secret "pw".txt'
    assert (config.sources, config.topics, config.digest, config.crawl) == (
        original.sources,
        original.topics,
        original.digest,
        original.crawl,
    )
    assert (
        dumps({"a b": [1, 2.5, True], "t": {"x": "line\nbreak"}})
        == '"a b" = [1, 2.5, true]\nt = {x = "line\\nbreak"}\n'
    )


def test_unit_file_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    unit = (ROOT / "config" / "newswatch.service").read_text()
    for line in (
        "Type=notify",
        "ExecStart=/opt/newswatch/bin/newswatch run",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Environment=NEWSWATCH_CONFIG=/etc/newswatch/newswatch.toml",
        "User=newswatch",
        "Group=newswatch",
        "StateDirectory=newswatch",
        "UMask=0007",
        "Restart=on-failure",
        "KillMode=mixed",
        "LoadCredential=smtp-password:/etc/newswatch/smtp-password",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "NoNewPrivileges=yes",
        "PrivateDevices=yes",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
        "SystemCallFilter=@system-service",
    ):
        assert line in unit.splitlines(), line
    assert any(x.startswith("WatchdogSec=") for x in unit.splitlines())
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed")
    copy = unit_with_stand_in(unit, tmp_path)
    out = subprocess.run([tool, "verify", str(copy)], check=False, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "newswatch.service" not in out.stderr, out.stderr


# -- the daemon as a process -----------------------------------------------------------------------


def test_ready_watchdog_status_and_clean_stop(
    tmp_path: Path, site: Any, smtp: Any, daemons: Callable[..., Daemon]
) -> None:
    cfg = write_config(
        tmp_path / "nw.toml", site.base_url, smtp.port, sources=GLOBALWIRE + VESTNIK, schedule=far_schedule()
    )
    d = daemons(cfg, watchdog_usec=200_000, env=NO_WORKERS)
    d.wait_note("READY=1")
    assert "crawl globalwire:" not in d.log()  # READY comes before the first crawl ends
    ready = next(n for n in d.notifications() if "READY=1" in n)
    assert "STATUS=next digest" in ready
    d.wait_note("WATCHDOG=1")
    count = sum("WATCHDOG=1" in n for n in d.notifications())
    wait_until(lambda: sum("WATCHDOG=1" in n for n in d.notifications()) >= count + 2, 30, "more watchdog pings")
    wait_until(lambda: site.hits("/globalwire/") and site.hits("/vestnik/"), 30, "both sources polled at start")
    for command in (["sources"], ["search", "China"], ["backup", str(tmp_path / "copy.db")]):
        # the CLI shares the database with the daemon and its crawls: no "database is locked"
        cli = subprocess.Popen(
            [sys.executable, "-c", "from scheduler.cli import main; main()", *command, "-c", str(cfg)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=str(tmp_path),
        )
        deadline = time.monotonic() + 60
        while True:  # keep reading notifications: the socket queues only a few, and the watchdog pings fast
            try:
                _, err = cli.communicate(timeout=0.1)
                break
            except subprocess.TimeoutExpired:
                d.notifications()
                if time.monotonic() > deadline:
                    cli.kill()
                    raise
        assert cli.returncode == 0, (command, err)
    d.wait_log("crawl globalwire: ok")
    d.wait_log("crawl vestnik: ok")
    wait_until(
        lambda: any("STATUS=" in n and "last crawl" in n and " new" in n for n in d.notifications()),
        30,
        "a STATUS= line naming the last crawl",
    )
    assert d.terminate() == 0
    assert d.noted("STOPPING=1")
    log = d.log()
    assert "stopped" in log and "Traceback" not in log
    with Store(tmp_path / "nw.db") as store:  # polled once each, next poll stored in the future
        for name in ("globalwire", "vestnik"):
            state = store.source_state(name)
            assert state["polls"] == 1 and state["next_poll"] > iso(datetime.now(UTC))


def test_sigterm_mid_crawl_exits_zero_and_leaves_no_crawl_process(
    tmp_path: Path, site: Any, smtp: Any, daemons: Callable[..., Daemon]
) -> None:
    slow_site(site, pages=6, delay=2.0)
    cfg = write_config(tmp_path / "nw.toml", site.base_url, smtp.port, sources=SLOW, schedule=far_schedule())
    d = daemons(cfg)
    d.wait_note("READY=1")
    wait_until(lambda: site.hits("/slow/a/"), 30, "the crawl to fetch pages")
    children = crawl_children(d.proc.pid)
    assert children
    assert d.terminate() == 0
    assert d.noted("STOPPING=1")
    for pid in children:
        wait_until(lambda pid=pid: "Z" in _proc_state(pid), 10, f"crawl {pid} gone")
    assert integrity(tmp_path / "nw.db") == "ok"
    with Store(tmp_path / "nw.db") as store:  # stopped mid-crawl: the slow pages were not waited out
        assert store.count("articles") < 6


def test_a_hung_crawl_is_killed_and_the_daemon_goes_on(
    tmp_path: Path, site: Any, smtp: Any, daemons: Callable[..., Daemon]
) -> None:
    hung = """
[[sources]]
name = "hung"
url = "__BASE__/_fault/stall?seconds=120"
every = "15m"
"""
    cfg = write_config(
        tmp_path / "nw.toml", site.base_url, smtp.port, sources=hung + GLOBALWIRE, schedule=far_schedule()
    )
    d = daemons(cfg, env={"NEWSWATCH_CRAWL_TIMEOUT": "8"})  # before Scrapy gives up (10s × 3 tries)
    d.wait_note("READY=1")
    d.wait_log("crawl hung: failed after")
    assert "did not finish within 8s" in d.log()
    d.wait_log("crawl globalwire: ok")
    assert d.proc.poll() is None
    assert d.terminate() == 0


def _proc_state(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "Z"
    return stat[stat.rindex(")") + 2]


def test_sighup_reloads_a_good_config_and_rejects_a_broken_one(
    tmp_path: Path, site: Any, smtp: Any, daemons: Callable[..., Daemon]
) -> None:
    cfg = write_config(tmp_path / "nw.toml", site.base_url, smtp.port, sources=GLOBALWIRE, schedule=far_schedule())
    d = daemons(cfg, watchdog_usec=300_000, env=NO_WORKERS)
    d.wait_note("READY=1")
    # From here the test reads no notifications for a while: the socket's queue fills up with
    # WATCHDOG=1, and the daemon must go on (a blocking send would stall its loop).
    d.wait_log("crawl globalwire: ok", read_notes=False)
    assert not site.hits("/vestnik/")

    write_config(cfg, site.base_url, smtp.port, sources=GLOBALWIRE + VESTNIK, schedule=far_schedule())
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log("config reloaded: 2 sources; added vestnik", read_notes=False)
    d.wait_log("crawl vestnik: ok")  # the new job runs: a never-polled source is polled at once

    cfg.write_text(cfg.read_text() + "\n[crawl2]\nbogus = 1\n")  # broken: an unknown table
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log("config reload rejected")
    assert "crawl2" in d.log()
    wait_until(
        lambda: any("STATUS=" in n and "config reload rejected" in n and "crawl2" in n for n in d.notifications()),
        20,
        "STATUS naming the rejected reload",
    )
    pings = sum("WATCHDOG=1" in n for n in d.notifications())
    wait_until(lambda: sum("WATCHDOG=1" in n for n in d.notifications()) > pings + 1, 10, "still alive")
    assert d.proc.poll() is None
    assert d.terminate() == 0


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
    d.wait_log(f"digest {iso(slot)}: 1 recipients, 1 sent")
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

SLOW = """
[[sources]]
name = "slow"
url = "__BASE__/slow/feed.xml"
every = "15m"
"""


def slow_site(site: Any, pages: int, delay: float) -> None:
    """A feed of `pages` articles under /slow/, each page answering after `delay` seconds."""

    def handler(path: str) -> tuple[int, dict[str, str], bytes]:
        if path.startswith("/slow/feed.xml"):
            items = "".join(
                f"<item><title>Joint project {i} of China and Russia</title><link>{site.base_url}/slow/a/{i}.html</link>"
                f"<guid>slow-{i}</guid><pubDate>Mon, 23 Nov 2026 10:0{i % 10}:00 +0000</pubDate></item>"
                for i in range(pages)
            )
            body = (
                f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Slow</title>'
                f"<link>{site.base_url}/slow/</link><description>slow</description>{items}</channel></rss>"
            )
            return 200, {"Content-Type": "application/rss+xml"}, body.encode()
        i = int(path.rsplit("/", 1)[-1].split(".")[0])
        time.sleep(delay)
        words = [WORDS[(i * 7 + k * (i + 3)) % len(WORDS)] for k in range(60)]
        paras = "".join(
            f"<p>Scientists from China and Russia in project {i} reported progress on "
            f"{' '.join(words[j : j + 12])} at laboratory {i * 13 + j}.</p>"
            for j in range(0, 60, 6)
        )
        html = (
            f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Joint project {i}</title>'
            f"</head><body><article><h1>Joint project {i} of China and Russia</h1>{paras}</article></body></html>"
        )
        return 200, {"Content-Type": "text/html; charset=utf-8"}, html.encode()

    site.add_generated("/slow/", handler)


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

    again = daemons(cfg)
    again.wait_note("READY=1")
    again.wait_log("crawl slow: ok", 90)
    assert again.terminate() == 0
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
