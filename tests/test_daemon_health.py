"""The daemon tells systemd when it is not working: failing jobs reach STATUS and the error log,
and a daemon that cannot use its database exits non-zero so that Restart= and alerting apply.
`systemctl reload` checks the config first (a rejected reload shows in STATUS: test_daemon.py's SIGHUP test)."""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from crawler.procs import ends_with_this_process
from scheduler.daemon import stop_scheduler
from tests.support.cli import newswatch
from tests.support.daemonworld import (
    GLOBALWIRE,
    NO_WORKERS,
    ROOT,
    Daemon,
    far_schedule,
    unit_with_stand_in,
    wait_until,
    write_config,
)

STALLED = """
[[sources]]
name = "stalled1"
url = "__BASE__/_fault/stall?seconds=120"
every = "3s"

[[sources]]
name = "stalled2"
url = "__BASE__/_fault/stall?seconds=120"
every = "3s"
"""


def test_failing_jobs_reach_status_and_an_unusable_database_stops_the_daemon(
    tmp_path: Path, site: Any, smtp: Any, daemons: Callable[..., Daemon]
) -> None:
    # Each poll fails at its 1 s deadline, well before the stalled request's 5 s request timeout: the deadline
    # gives up the request in flight, which frees the batch's crawl child. One child at a time: no batch of
    # sources skipped because the other child holds them (a job that succeeds) comes between two failing ones.
    cfg = write_config(
        tmp_path / "nw.toml", site.base_url, smtp.port, sources=STALLED, schedule=far_schedule(), timeout="5s"
    )
    env = {"NEWSWATCH_CRAWL_TIMEOUT": "1", "NEWSWATCH_MAX_FAILURES": "2", "NEWSWATCH_CRAWL_WORKERS": "1", **NO_WORKERS}
    d = daemons(cfg, env=env)
    d.wait_note("READY=1")
    d.wait_log("newswatch is not working: the last 2 jobs failed")
    assert "ERROR crawl stalled" in d.log() and "CRITICAL newswatch is not working" in d.log()
    wait_until(
        lambda: any("STATUS=FAILING: " in n and "did not finish" in n for n in d.notifications()),
        10,
        "a STATUS= line with the failure's reason",
    )
    assert d.proc.poll() is None  # the database is fine: a network-side failure does not stop it

    db = tmp_path / "nw.db"

    def replaced_by_a_folder() -> bool:  # a crawl child may create the file again between unlink and mkdir
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        try:
            db.mkdir()  # no database can be opened here any more
        except FileExistsError:
            return False
        return True

    wait_until(replaced_by_a_folder, 10, "the database replaced by a folder")
    assert d.proc.wait(60) == 1
    log = d.log()
    assert "cannot use the database" in log and "exiting so that systemd restarts" in log
    assert "Traceback" not in log


QUICK = """
[[sources]]
name = "globalwire"
url = "__BASE__/globalwire/rss.xml"
every = "2s"

[[sources]]
name = "vestnik"
url = "__BASE__/vestnik/rss.xml"
every = "2s"
"""


def test_a_database_held_locked_by_another_process_is_waited_out_not_a_restart_loop(
    tmp_path: Path, site: Any, smtp: Any, daemons: Callable[..., Daemon]
) -> None:
    # another process (a long backup, export or prune; datasette or sqlite3 keeping a write transaction open) holds
    # the write lock past the busy timeout in each of the jobs in a row that make the daemon test its database: it
    # exited 1, and systemd restarted it into the same lock, five times in ten minutes, then left the unit failed
    cfg = write_config(tmp_path / "nw.toml", site.base_url, smtp.port, sources=QUICK, schedule=far_schedule())
    env = {
        "NEWSWATCH_BUSY_TIMEOUT": "0.3",
        "NEWSWATCH_MAX_FAILURES": "2",
        "NEWSWATCH_DB_WAIT": "0.3",
        "NEWSWATCH_CRAWL_WORKERS": "1",
        **NO_WORKERS,
    }
    d = daemons(cfg, env=env)
    d.wait_note("READY=1")
    d.wait_log("crawl batch of 2: 2 polled, 0 failed")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); c.execute('BEGIN IMMEDIATE');"
            " print('held', flush=True); sys.stdin.read()",
            str(tmp_path / "nw.db"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=ends_with_this_process(),
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        d.wait_log("waiting for the database")
        # it keeps trying, less and less often, each try a STATUS= line; and it does not exit
        wait_until(
            lambda: (
                sum("STATUS=WAITING: another process holds the database's write lock" in n for n in d.notifications())
                >= 3
                or d.proc.poll() is not None
            ),
            60,
            "three tries of the locked database",
        )
        assert d.proc.poll() is None, d.log()
        log = d.log()
        assert log.count("waiting for the database") == 1, log  # said once, not at every try
        assert "exiting" not in log
        assert "newswatch does not exit: polls pause, each source keeping its place" in log
    finally:
        assert holder.stdin is not None
        holder.stdin.close()  # the holder ends: its transaction and the lock go with it
        holder.wait(30)
    d.wait_log("is free again after")
    free = d.log().index("is free again after")
    wait_until(lambda: "2 polled, 0 failed" in d.log()[free:], 60, "a crawl after the lock went")
    assert d.terminate() == 0
    assert "Traceback" not in d.log()


def test_systemctl_reload_runs_check_first(tmp_path: Path) -> None:
    """ExecReload= runs `newswatch check` before signalling: a broken config makes the reload fail."""
    unit = (ROOT / "config" / "newswatch.service").read_text().splitlines()
    reloads = [line.split("=", 1)[1] for line in unit if line.startswith("ExecReload=")]
    assert reloads[0].split()[:2] == ["/opt/newswatch/bin/newswatch", "check"]
    assert reloads[-1] == "/bin/kill -HUP $MAINPID"
    bad = tmp_path / "nw.toml"
    bad.write_text('[storage]\ndatabase = "nw.db"\n[crawl2]\n')
    args = reloads[0].split()[1:]
    env = {"NEWSWATCH_CONFIG": str(bad)}  # as the unit sets it
    out = newswatch(*args, env=env)
    assert out.returncode == 2 and "crawl2" in out.stderr
    write_config(bad, "http://127.0.0.1:1", 25, sources=GLOBALWIRE)
    out = newswatch(*args, env=env)
    assert out.returncode == 0, out.stderr


def test_unit_hardening_exposure_at_most_1_1(tmp_path: Path) -> None:
    """`systemd-analyze security` of the shipped unit (1.7 before the syscall filter, PrivateUsers, PrivateMounts)."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed")
    copy = unit_with_stand_in((ROOT / "config" / "newswatch.service").read_text(), tmp_path)
    out = subprocess.run(
        [tool, "security", "--offline=yes", "--no-pager", str(copy)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    score = re.search(r"Overall exposure level for \S+: ([\d.]+)", out.stdout)
    assert score is not None, out.stdout + out.stderr
    assert float(score.group(1)) <= 1.1, out.stdout


def test_a_stop_while_a_job_is_being_handed_to_the_loop_logs_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    # the stop comes in the loop turn in which the scheduler hands a due job to the event loop: the job must
    # not be cancelled half-started and logged as a crash (a CancelledError traceback in the journal)
    async def job() -> None:
        pass

    async def main() -> None:
        scheduler = AsyncIOScheduler(executors={"default": AsyncIOExecutor()})
        scheduler.start()
        scheduler.add_job(job, IntervalTrigger(hours=1), next_run_time=datetime.now(UTC))
        await stop_scheduler(scheduler)
        await asyncio.sleep(0.05)  # whatever was started has ended and been logged

    with caplog.at_level(logging.ERROR):
        asyncio.run(main())
    assert not [r for r in caplog.records if r.exc_info], "a cancelled job was logged as a crash"


def test_a_database_error_during_the_digest_is_one_line_saying_what_why_and_when_again(
    tmp_path: Path, smtp: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # another process holds the database's write lock past the busy timeout (a long prune): the digest's first
    # write fails with SQLite's "database is locked", which was logged as an unexpected error with a traceback
    import sqlite3

    from crawler import store as store_module
    from crawler.store import Store
    from scheduler.daemon import DIGEST_RETRIES, Daemon

    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 200)
    monkeypatch.setenv("NEWSWATCH_BUSY_TIMEOUT", "0.2")  # the digest's matching child (its topic is new) meets it first
    for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "RUNTIME_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    cfg = write_config(
        tmp_path / "nw.toml", "http://127.0.0.1:9", smtp.port, sources=GLOBALWIRE, schedule=far_schedule()
    )
    daemon = Daemon(cfg)
    daemon.scheduler = AsyncIOScheduler()  # not started: the retry it is given waits in its list
    db = daemon.config.storage.database
    Store(db).close()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    slot = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)
    try:
        with caplog.at_level(logging.INFO, logger="newswatch.daemon"):
            daemon._digest_job(slot)
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert not [r for r in errors if r.exc_info], "logged with a traceback"
        assert len(errors) == 1, [r.getMessage() for r in errors]
        line = errors[0].getMessage()
        assert line.startswith(f"digest 2026-01-05T04:00:00+00:00: not sent: cannot use the database {db}: ")
        assert "database is locked (another process held its write lock for 0.2 s" in line
        again = daemon.scheduler.get_job("digest-again")
        assert again is not None and list(again.args) == [slot, 1]
        assert "; trying again at " in line and line.endswith(" (retry 1 of 3)")

        caplog.clear()
        with caplog.at_level(logging.INFO, logger="newswatch.daemon"):
            daemon._digest_job(slot, DIGEST_RETRIES + 1)  # the last retry fails too
        # the lock, not the timer, decides: once a wait for it ends (`_try_database`), the digest is sent at once
        line = caplog.records[-1].getMessage()
        assert "tried 4 times; it is sent once the other process releases the database's write lock" in line
        assert daemon._put_off["digest-again"][1] == [slot, DIGEST_RETRIES + 2]
    finally:
        holder.close()
    daemon.scheduler.remove_job("digest-again")  # a started scheduler replaces it; this one keeps both in its list
    daemon._resume_put_off()
    again = daemon.scheduler.get_job("digest-again")
    assert again is not None and list(again.args) == [slot, DIGEST_RETRIES + 2] and not daemon._put_off
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="newswatch.daemon"):
        daemon._digest_job(*again.args)  # the retry, with the lock gone
    assert len(smtp.messages) == 1, [r.getMessage() for r in caplog.records]
    daemon._batch_pool.shutdown()
    daemon._cleanup()


def test_a_daemon_setting_of_inf_is_never_reached(monkeypatch: pytest.MonkeyPatch) -> None:
    # NEWSWATCH_MAX_FAILURES=inf (README: every N failures in a row it logs a critical line): the daemon's start
    # raised OverflowError; it now never reaches it
    from crawler import envsettings
    from scheduler.daemon import FailureCount

    monkeypatch.setenv("NEWSWATCH_MAX_FAILURES", "inf")
    failures = FailureCount(envsettings.whole("NEWSWATCH_MAX_FAILURES", 5))
    assert not any(failures.failed("crawl x: HTTP 500") for _ in range(100))
    monkeypatch.setenv("NEWSWATCH_MAX_FAILURES", "nan")  # no number: refused in one line (tests/test_envsettings.py)
    with pytest.raises(envsettings.SettingError):
        envsettings.whole("NEWSWATCH_MAX_FAILURES", 5)


def test_a_failed_poll_says_its_duration_once(
    tmp_path: Path, site: Any, smtp: Any, daemons: Callable[..., Daemon]
) -> None:
    """A failed poll's line reads as an ok one does, its duration once at the end: `crawl broken: failed; fetched 1,
    …; 0.3s (HTTP 500 …)`, where it read `failed after 0.3s; …; 0.3s (…)`."""
    broken = '[[sources]]\nname = "broken"\nurl = "__BASE__/_fault/status/500"\nevery = "15m"\n'
    cfg = write_config(tmp_path / "nw.toml", site.base_url, smtp.port, sources=broken, schedule=far_schedule())
    d = daemons(cfg, env=NO_WORKERS)
    d.wait_note("READY=1")
    d.wait_log("crawl broken: failed")
    line = next(ln for ln in d.log().splitlines() if "crawl broken: failed" in ln)
    assert re.search(r"ERROR crawl broken: failed; fetched \d+, new 0, duplicates 0, matched 0, errors \d+", line), line
    assert len(re.findall(r"\b\d+\.\ds\b", line)) == 1, line
    assert d.terminate() == 0


def test_a_digest_that_reached_no_recipient_says_so_at_error_with_what_stays_due_and_when_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every recipient failed (the mail server is down): the digest's line is an ERROR saying so, how many stories
    stay due and when it is tried again, where it was 'INFO digest …: 3 recipients, 0 sent, 0 stories, 3 failed'."""
    import socket

    from crawler.store import Store, iso
    from scheduler.daemon import Daemon
    from tests.support.articles import article_record

    for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "RUNTIME_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as s:  # a port nothing listens on: each recipient's mail is refused
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    cfg = write_config(tmp_path / "nw.toml", "http://127.0.0.1:9", closed, sources=GLOBALWIRE, schedule=far_schedule())
    one = '[[digest.recipients]]\nemail = "analyst@example.org"\n'
    three = "".join(one.replace("analyst", who) for who in ("analyst", "editor", "desk"))
    cfg.write_text(cfg.read_text().replace(one, three))
    daemon = Daemon(cfg)
    daemon.scheduler = AsyncIOScheduler()  # not started: the retry it is given waits in its list
    with Store(daemon.config.storage.database) as store:
        for n in range(2):
            aid = store.add_article(article_record(n, f"China and Russia deal {n}", f"China and Russia agree {n}."))
            store.set_matches(aid.article_id, [("china-russia", 5.0, ["china", "russia"])])
    slot = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)
    with caplog.at_level(logging.INFO, logger="newswatch.daemon"):
        daemon._digest_job(slot)
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    summary = [(level, text) for level, text in lines if text.startswith("digest 2026-01-05T04:00:00+00:00: ")]
    assert len(summary) == 1, lines
    level, text = summary[0]
    assert level == "ERROR", lines
    assert re.match(
        r"digest 2026-01-05T04:00:00\+00:00: not sent to any of its 3 recipients; their 2 stories stay due; "
        r"trying again at \S+ \(retry 1 of 3\); \d+\.\ds$",
        text,
    ), text
    retry = daemon.scheduler.get_job("digest-retry")
    assert retry is not None and sorted(retry.args[0]) == [
        "analyst@example.org",
        "desk@example.org",
        "editor@example.org",
    ]
    assert f"; trying again at {iso(retry.trigger.run_date)} (retry 1 of 3)" in text
    assert [t for lv, t in lines if lv == "ERROR" and ": not sent: " in t and "@example.org" in t], lines  # each why
    assert not [t for _lv, t in lines if t.startswith("digest: retrying ")], lines  # the summary said when
