"""The daemon (`newswatch run`) as systemd runs it: a real subprocess, a real NOTIFY_SOCKET datagram
socket, real HTTP (the sample site) and real SMTP (aiosmtpd), a real SQLite file.

Conditions are polled with bounded deadlines; nothing sleeps for a schedule. Env knobs the daemon
honours for tests: NEWSWATCH_START_SPREAD=0 (poll overdue sources at once) and
NEWSWATCH_CRAWL_TIMEOUT (kill a hung crawl sooner than the default 5 minutes).
"""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crawler.config import load_config
from crawler.store import Store, iso
from scheduler.config_snapshot import dumps, load_snapshot
from scheduler.daemon import (
    DigestSlot,
    crawl_children,
    digest_trigger,
    last_fire_at_or_before,
    missed_digest,
)
from scheduler.notify import Notifier
from tests.support.cli import newswatch
from tests.support.daemonworld import (
    GLOBALWIRE,
    NO_WORKERS,
    SLOW,
    VESTNIK,
    Daemon,
    far_schedule,
    integrity,
    slow_site,
    unit_with_stand_in,
    wait_until,
    write_config,
)

ROOT = Path(__file__).resolve().parent.parent


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
        "RestartPreventExitStatus=2",
        "StartLimitIntervalSec=600",
        "StartLimitBurst=5",
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


HUAXIA = """
[[sources]]
name = "huaxia"
url = "__BASE__/huaxia/atom.xml"
every = "15m"
"""


def test_ready_watchdog_status_reload_and_clean_stop(
    tmp_path: Path, site: Any, smtp: Any, daemons: Callable[..., Daemon]
) -> None:
    # One daemon run: READY, watchdog, STATUS, the CLI beside it, then SIGHUP with a good and a broken
    # config, then SIGTERM.
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
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        for command in (["sources"], ["search", "China"], ["backup", str(tmp_path / "copy.db")]):
            # the CLI (in this process, not the daemon's) shares the database with the daemon and its
            # crawls: no "database is locked"
            cli = pool.submit(newswatch, *command, "-c", cfg)
            deadline = time.monotonic() + 60
            # keep reading notifications meanwhile: the socket queues only a few, and the watchdog pings fast
            while not cli.done():
                d.notifications()
                assert time.monotonic() < deadline, f"{command} did not finish"
                time.sleep(0.05)
            result = cli.result()
            assert result.returncode == 0, (command, result.stderr)
    d.wait_log("crawl globalwire: ok")
    d.wait_log("crawl vestnik: ok")
    wait_until(
        lambda: any("STATUS=" in n and "last crawl" in n and " new" in n for n in d.notifications()),
        30,
        "a STATUS= line naming the last crawl",
    )

    # SIGHUP. From here the test reads no notifications until the added source's crawl has ended: the
    # socket's queue fills up with WATCHDOG=1, and the daemon must go on (a blocking send would stall its loop).
    assert not site.hits("/huaxia/")
    write_config(cfg, site.base_url, smtp.port, sources=GLOBALWIRE + VESTNIK + HUAXIA, schedule=far_schedule())
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log("config reloaded: 3 sources; added huaxia", read_notes=False)
    d.wait_log("crawl huaxia: ok", read_notes=False)  # the new job runs: a never-polled source is polled at once

    cfg.write_text(cfg.read_text() + "\n[crawl2]\nbogus = 1\n")  # broken: an unknown table
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log("config reload rejected")
    assert "crawl2" in d.log()
    assert f"config reload rejected, still running the previous config: {cfg}: " in d.log()  # the file, named
    wait_until(
        lambda: any("STATUS=" in n and "config reload rejected" in n and "crawl2" in n for n in d.notifications()),
        20,
        "STATUS naming the rejected reload",
    )
    pings = sum("WATCHDOG=1" in n for n in d.notifications())
    wait_until(lambda: sum("WATCHDOG=1" in n for n in d.notifications()) > pings + 1, 10, "still alive")
    assert d.proc.poll() is None

    assert d.terminate() == 0
    assert d.noted("STOPPING=1")
    log = d.log()
    assert "stopped" in log and "Traceback" not in log
    with Store(tmp_path / "nw.db") as store:  # polled once each, next poll stored in the future
        for name in ("globalwire", "vestnik", "huaxia"):
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


def _signal_on_import(sig: str, modules: tuple[str, ...]) -> str:
    """A daemon's prelude: the process sends itself ``sig`` as it first imports each of ``modules``, a moment
    of its start-up (``click``: the CLI loading; ``scheduler.daemon``: `run` loading the daemon)."""
    return f"""
import importlib.abc, os, signal, sys
class SignalOnImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in {modules!r}:
            os.kill(os.getpid(), signal.{sig})
        return None
sys.meta_path.insert(0, SignalOnImport())
"""


def test_a_reload_during_start_up_is_taken_once_the_daemon_runs(
    tmp_path: Path, smtp: Any, daemons: Callable[..., Daemon]
) -> None:
    # `systemctl reload` or a config-management run right after start: SIGHUP's default action would end
    # the daemon; it is held until the loop handles it, then the config is read again
    cfg = write_config(tmp_path / "nw.toml", "http://127.0.0.1:9", smtp.port, sources="", schedule=far_schedule())
    moments = ("click", "scheduler.daemon", "apscheduler.schedulers.asyncio")
    d = daemons(cfg, env=NO_WORKERS, prelude=_signal_on_import("SIGHUP", moments))
    d.wait_note("READY=1")
    d.wait_log("config reloaded")
    assert d.proc.poll() is None
    assert d.terminate() == 0
    assert "Traceback" not in d.log()


@pytest.mark.parametrize("moment", ["click", "scheduler.daemon"])
def test_a_stop_during_start_up_ends_the_daemon_cleanly(
    tmp_path: Path, smtp: Any, daemons: Callable[..., Daemon], moment: str
) -> None:
    # systemd's stop (SIGTERM) before the daemon has its handlers: exit 0 as after any stop, the work
    # folder removed, no traceback
    cfg = write_config(tmp_path / "nw.toml", "http://127.0.0.1:9", smtp.port, sources="", schedule=far_schedule())
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    d = daemons(cfg, env={**NO_WORKERS, "TMPDIR": str(tmp)}, prelude=_signal_on_import("SIGTERM", (moment,)))
    assert d.proc.wait(timeout=60) == 0
    log = d.log()
    assert "stopping (SIGTERM)" in log and "stopped" in log and "Traceback" not in log
    assert not list(tmp.iterdir())


def test_reloads_keep_one_config_snapshot_not_one_each(
    tmp_path: Path, site: Any, smtp: Any, daemons: Callable[..., Daemon]
) -> None:
    # a config-management run that sends SIGHUP every time: the snapshots crawl children read live in the
    # RuntimeDirectory (memory, under systemd); an unchanged config adds none, a changed one replaces the old
    # once no crawl child reads it, a rejected one leaves none behind
    run = tmp_path / "run"
    run.mkdir()
    cfg = write_config(tmp_path / "nw.toml", site.base_url, smtp.port, sources=GLOBALWIRE, schedule=far_schedule())
    d = daemons(cfg, env={**NO_WORKERS, "RUNTIME_DIRECTORY": str(run)})
    d.wait_note("READY=1")
    d.wait_log("globalwire: ")  # its first poll has ended

    def reload(n: int) -> None:
        d.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: d.log().count("config reload") >= n, 30, f"reload {n}")

    for n in range(1, 4):
        reload(n)
    assert [p.name for p in run.glob("config-*")] == ["config-1"]
    cfg.write_text(cfg.read_text().replace('every = "15m"', 'every = "20m"'))
    reload(4)
    wait_until(lambda: [p.name for p in run.glob("config-*")] == ["config-5"], 30, "the old snapshot to go")
    cfg.write_text(cfg.read_text().replace('database = "nw.db"', 'database = "other.db"'))
    reload(5)
    assert "config reload rejected" in d.log()
    wait_until(lambda: [p.name for p in run.glob("config-*")] == ["config-5"], 30, "the rejected snapshot to go")
    assert d.terminate() == 0


def test_a_second_run_on_the_same_database_is_refused(
    tmp_path: Path, site: Any, smtp: Any, daemons: Callable[..., Daemon]
) -> None:
    # Started by mistake beside the first, a second daemon would poll every source and send every digest
    # again: it says which process holds the database and exits 2, and the first goes on.
    cfg = write_config(tmp_path / "nw.toml", site.base_url, smtp.port, sources=GLOBALWIRE, schedule=far_schedule())
    first = daemons(cfg, env=NO_WORKERS)
    first.wait_note("READY=1")
    second = daemons(cfg, env=NO_WORKERS)
    assert second.proc.wait(timeout=60) == 2
    log = second.log()
    assert f"another 'newswatch run' (pid {first.proc.pid}) is already using the database" in log
    assert "Traceback" not in log and "READY=1" not in "".join(second.notifications())
    assert first.proc.poll() is None
    assert first.terminate() == 0
    third = daemons(cfg, env=NO_WORKERS)  # the lock goes with the process that held it
    third.wait_note("READY=1")
    assert third.terminate() == 0


def test_a_daemon_without_sources_says_so(tmp_path: Path, smtp: Any, daemons: Callable[..., Daemon]) -> None:
    cfg = write_config(tmp_path / "nw.toml", "http://127.0.0.1:9", smtp.port, sources="", schedule=far_schedule())
    d = daemons(cfg, env=NO_WORKERS)
    d.wait_log("the config has no [[sources]]: nothing will be polled; add one with 'newswatch sources add NAME URL'")
    assert d.terminate() == 0


def test_a_missing_smtp_password_stops_the_daemon_at_start(
    tmp_path: Path, site: Any, smtp: Any, daemons: Callable[..., Daemon]
) -> None:
    # said at once, with the fix, rather than at the first digest hours later
    cfg = write_config(tmp_path / "nw.toml", site.base_url, smtp.port, sources=GLOBALWIRE, schedule=far_schedule())
    cfg.write_text(cfg.read_text() + 'username = "alerts"\npassword_env = "NW_TEST_NO_SUCH_PASSWORD"\n')
    d = daemons(cfg, env={"NW_TEST_NO_SUCH_PASSWORD": ""})
    assert d.proc.wait(timeout=60) == 2
    log = d.log()
    assert "error: smtp.username: 'alerts' is set but no SMTP password was found; set $NW_TEST_NO_SUCH_PASSWORD" in log
    assert "Traceback" not in log and not site.hits("/globalwire/")


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
    d.wait_log("crawl hung: failed")
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
