"""`newswatch run`: the long-running daemon (APScheduler on an asyncio loop, sd_notify, signals).

The only module that imports APScheduler's scheduler (the config imports its cron parser to
validate schedules). Crawls run in short-lived child processes (crawler.child.run_in_child): a
Twisted reactor cannot restart, long-lived Scrapy processes grow, and a child that hangs or
crashes is killed without harming the daemon. The child's start-up is paid per *batch*: every
tick, once a source is due, all sources due within the next few seconds go to one child (up to
a batch size). The child is started ahead of the batch by its recent start-up time and waits
for the batch's time, so polls begin on schedule however long Python and Scrapy take to load.
Inside it each source has its own deadline and its result is written and
reported as soon as it finishes, so a stalled source never holds the others. A child that
overruns is killed; its unfinished sources are polled again, each on its own, so the one that
hangs is named in the log and in `newswatch sources`. Digests and alerts run in this process, in
worker threads, each with its own database handle. This process loads no topics: a digest whose matches are not in
step with its config (a topic a reload edited, text an upgrade cleaned, no crawl since) has them made in a child
first (crawler.rematch); alerts follow a crawl, whose child matched with the same config.

Schedule state that matters lives in SQLite, not in APScheduler's memory: each source's last
attempt, backoff and Retry-After (crawler.polling decides when it is due, with the configured
interval, so a changed `every` applies on reload and restart) and the last digest slot handled
(``daemon.digest`` in the ``_state`` key/value table), so a restart polls overdue sources and sends a missed
digest exactly once.

Environment knobs (for tests and benchmarks; production needs none):
  NEWSWATCH_START_SPREAD   seconds over which overdue sources are spread at start (default 60)
  NEWSWATCH_CRAWL_TIMEOUT  seconds a source's poll may take before it fails (default max(5 min, 10 × crawl.timeout));
                           its batch's crawl child is killed 60 s after that
  NEWSWATCH_CRAWL_WORKERS  crawl children (batches) run at once (default 3)
  NEWSWATCH_START_LEAD     seconds a crawl child starts ahead of its batch until start-ups are measured (default 5)
  NEWSWATCH_BATCH_AHEAD    seconds: sources due this soon join the batch starting now (default 10)
  NEWSWATCH_BATCH_SIZE     sources per crawl child at most (default 500)
  NEWSWATCH_BATCH_TIMEOUT  seconds before a batch's crawl child (or a digest's matching child) is killed
                           (default: the above + 60)
  NEWSWATCH_MAX_FAILURES   jobs failing in a row before the daemon says so loudly and checks that it
                           can still use its database, exiting 1 when it cannot (default 5); a database whose
                           write lock another process holds is waited out instead (see `DatabaseWait`)
  NEWSWATCH_DB_WAIT        seconds before a database held locked is tried again, the first time (default 30;
                           the wait doubles, up to 10 minutes)
Each is read by crawler.envsettings, which says what it allows (inf: its longest or largest; a value it does not
allow is one line before any command runs).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from crawler import envsettings
from crawler.config import Config, SourceConfig
from crawler.errors import ConfigError, NewswatchError, StoreError, UsageError
from crawler.polling import (
    MAX_BACKOFF,
    PollOutcome,
    SourceState,
    after_poll,
    as_configured,
    backoff,
    due_at,
    poll_target,
)
from crawler.store import (
    BUSY_TIMEOUT_MS,
    RESET_LOOK,
    NewerDatabase,
    Store,
    UpgradeWatch,
    database_problem,
    iso,
    parse_iso,
    process_alive,
    utcnow,
)
from crawler.wording import count, noun
from scheduler import installed, ledger
from scheduler.changes import other_changes, source_changes
from scheduler.config_snapshot import load_snapshot
from scheduler.launch import release_signals
from scheduler.notify import Notifier

log = logging.getLogger("newswatch.daemon")

DIGEST_STATE_KEY = "daemon.digest"
STOP_GRACE = 20.0  # seconds in-flight work gets after SIGTERM (systemd waits TimeoutStopSec=90)
DIGEST_RETRIES = 3
DIGEST_RETRY_AFTER = timedelta(minutes=15)
TICK = 1.0  # seconds between looks at which sources are due
BATCH_AHEAD = 10.0  # seconds: sources due this soon join a batch that starts now
BATCH_SIZE = 500  # sources per crawl child at most
WARNINGS_SHOWN = 5  # a source's crawl warnings logged at most, the rest counted
BATCH_GRACE = 60.0  # seconds a batch child gets beyond the per-source deadline to start and finish
SKIPPED_RETRY = 30.0  # seconds before a skipped source is looked at again (a held one: sooner if its holder ends)
START_LEAD = 5.0  # seconds a crawl child is started ahead of its batch, until start-ups are measured
MAX_LEAD = 30.0  # seconds a crawl child is started ahead at most
UPGRADE_LOOK = 0.2  # seconds between looks at a database upgrade running before READY=1
UPGRADE_NOTE_EVERY = 5.0  # seconds between two EXTEND_TIMEOUT_USEC= while the upgrade progresses
UPGRADE_EXTEND = (
    60.0  # seconds systemd is asked to wait for the next one (a stalled step: the busy timeout, a slow disk)
)
CODE_LOOK = 5.0  # seconds between looks at whether newswatch was installed anew under the daemon
CODE_SETTLE = 2.0  # seconds the installed files must stay as they are before the daemon acts on a change
UPGRADED_EXIT = 75  # the daemon's status when newswatch was upgraded under it (EX_TEMPFAIL): systemd restarts it
DB_WAIT_FIRST = 30.0  # seconds before a database another process holds locked is tried again, the first time
DB_WAIT_MAX = 600.0  # seconds between two tries at most


# -- cron helpers ------------------------------------------------------------------------------


def digest_trigger(config: Config) -> CronTrigger:
    assert config.digest is not None
    return CronTrigger.from_crontab(config.digest.schedule, timezone=ZoneInfo(config.digest.timezone))


def last_fire_at_or_before(trigger: CronTrigger, now: datetime) -> datetime | None:
    """The latest time the cron trigger fired at or before ``now`` (within about 400 days)."""
    for lookback in (
        timedelta(minutes=2),
        timedelta(hours=1),
        timedelta(days=1),
        timedelta(days=8),
        timedelta(days=32),
        timedelta(days=400),
    ):
        t = trigger.get_next_fire_time(None, now - lookback)
        if t is None or t > now:
            continue
        while True:
            nxt = trigger.get_next_fire_time(None, t + timedelta(microseconds=1))
            if nxt is None or nxt > now:
                return t
            t = nxt
    return None


class StaleMatches(NewswatchError):
    """The topic matches a digest would choose its stories by could not be brought up to date with its config."""


@dataclass(frozen=True)
class DigestSlot:
    """The last digest slot the daemon took on: its scheduled time, when the run began, whether it ended."""

    slot: datetime
    started: datetime
    done: bool

    @classmethod
    def load(cls, store: Store) -> DigestSlot | None:
        try:
            d = json.loads(store.get_state(DIGEST_STATE_KEY) or "null")
            return cls(parse_iso(d["slot"]), parse_iso(d["started"]), bool(d["done"]))  # type: ignore[arg-type]
        except (ValueError, TypeError, KeyError):
            return None

    def save(self, store: Store) -> None:
        store.set_state(
            DIGEST_STATE_KEY, json.dumps({"slot": iso(self.slot), "started": iso(self.started), "done": self.done})
        )


def missed_digest(store: Store, trigger: CronTrigger, now: datetime) -> datetime | None:
    """The slot to send at once on start, if a digest was due while the daemon was down.

    On a first start (no digest ever sent or scheduled) nothing is missed: the slot is recorded.
    """
    from scheduler.digest import last_digest_at

    prev = last_fire_at_or_before(trigger, now)
    if prev is None:
        return None
    state = DigestSlot.load(store)
    if state is not None and not state.done:
        return max(prev, state.slot)  # a run was interrupted: finish it
    handled = [t for t in (state.slot if state else None, last_digest_at(store)) if t is not None]
    if not handled:
        DigestSlot(prev, now, True).save(store)
        return None
    return prev if prev > max(handled) else None


# -- child processes ---------------------------------------------------------------------------


def crawl_children(parent: int | None = None, module: bytes = b"crawler.run") -> list[int]:
    """PIDs of this process's crawl children (``python -m crawler.run``; ``module``: others), from /proc."""
    parent = os.getpid() if parent is None else parent
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            if ppid == parent and module in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def kill_group(pid: int) -> None:
    """SIGKILL a crawl child and its extraction workers (the child leads its own process group)."""
    try:
        os.killpg(pid, signal.SIGKILL) if os.getpgid(pid) == pid else os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# -- batches -----------------------------------------------------------------------------------


async def stop_scheduler(scheduler: AsyncIOScheduler) -> None:
    """Stop starting jobs, let a job already handed to the event loop take its step, then shut down.

    APScheduler's asyncio executor cancels the jobs it has started but the loop has not yet run, and
    logs each as a job that raised CancelledError, with a traceback: a stop at the wrong moment would
    look like a crash in the journal. The daemon's loop jobs finish in one step (``_dispatch`` does not
    wait on anything), so one turn of the loop lets them end on their own.
    """
    scheduler.pause()
    await asyncio.sleep(0)
    scheduler.shutdown(wait=False)


def pick_batch(
    due: dict[str, datetime],
    running: Collection[str],
    now: datetime,
    ahead: float,
    size: int,
    alone: set[str] = frozenset(),  # type: ignore[assignment]
) -> list[str]:
    """The next crawl batch: once the earliest source is due, every source due within ``ahead`` seconds.

    Earliest first, at most ``size``; a source in ``alone`` (its last batch was killed) runs by itself.
    Sources in ``running`` are never picked twice.
    """
    horizon = now + timedelta(seconds=ahead)
    ready = sorted((at, name) for name, at in due.items() if name not in running and at <= horizon)
    if not ready or ready[0][0] > now:
        return []
    for at, name in ready:
        if name in alone and at <= now:
            return [name]
    return [name for _, name in ready if name not in alone][: max(1, size)]


def next_poll_line(source: SourceConfig, state: SourceState, when: datetime | None, now: datetime) -> str:
    """A source's start-up line: its next poll and the interval after it, with the reason when that is not its
    ``every``: a failing source backs off (the wait doubles with each failure), a server asked to wait
    (Retry-After), a deactivated source is not polled at all."""
    name = source.name
    if not state.active:
        return (
            f"source {name}: inactive ({_clip(state.inactive_reason or 'deactivated')}); not polled until "
            f"'newswatch sources --reset {name}' re-enables it"
        )
    if when is None:
        return f"source {name}: not scheduled"
    line = f"source {name}: next poll {iso(when)} (in {_human(max(0.0, (when - now).total_seconds()))})"
    if state.retry_after is not None and state.retry_after > now and when >= state.retry_after:
        line += ", when the server asked to be polled again (Retry-After)"
    every = _human(source.every)
    if not state.failures:
        return f"{line}, then every {every}"
    failures = f"{state.failures} failure{'s' if state.failures != 1 else ''} in a row"
    again = _human(backoff(source.every, state.failures + 1))
    most = _human(max(MAX_BACKOFF, source.every))
    return (
        f"{line}; failing ({failures}, latest: {_clip(state.last_error or 'unknown error')}), so backing off: "
        f"{again} later if it fails again (the wait doubles, at most {most}), every {every} once it succeeds"
    )


def _clip(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _next_look(state: SourceState, every: float, now: datetime) -> datetime:
    """When the daemon looks at a source next: when it is due, or, deactivated, an interval later
    (so a source re-enabled with `sources --reset` is polled again without a restart)."""
    return due_at(state, every, now) or now + timedelta(seconds=every)


class StartupLead:
    """How long before a batch is due its crawl child starts: the slowest recent start-up, with a margin.

    The child says when it is ready and waits for the batch's time, so polls begin on time; a
    machine that grows busier (slower start-ups) lengthens the lead at the next batch.
    """

    def __init__(self, initial: float, keep: int = 8) -> None:
        self.initial = max(0.0, initial)
        self.recent: deque[float] = deque(maxlen=keep)

    def observe(self, seconds: float) -> None:
        self.recent.append(max(0.0, seconds))

    def seconds(self) -> float:
        if not self.recent:
            return self.initial
        return min(MAX_LEAD, 1.5 * max(self.recent) + 1.0)


class _OneSource:
    """A finished source's event, shaped as a one-source summary for the log line."""

    def __init__(self, event: dict[str, Any]) -> None:
        from crawler.child import SourceStats

        self.sources = [SourceStats(**event["stats"])] if event.get("stats") else []


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.read_bytes() == b.read_bytes()
    except OSError:  # one of them is gone (the folder cleaned by hand): keep the new one
        return False


def _label(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"batch of {len(names)}"


class UpgradeNotes:
    """What the daemon tells systemd while migrations run before READY=1: at each new migration, and then every
    ``every`` seconds as long as SQLite makes progress on it, a STATUS= line to send with EXTEND_TIMEOUT_USEC=.
    A stuck upgrade is not kept alive: systemd's start timeout then applies again."""

    def __init__(self, began: float, every: float = UPGRADE_NOTE_EVERY) -> None:
        self.began = began
        self.every = every
        self._name: str | None = None
        self._progress = -1
        self._said = 0.0

    def due(self, watch: UpgradeWatch, now: float) -> str | None:
        """The status to send now, or None."""
        name = watch.migration
        if name is None or (name == self._name and (watch.progress == self._progress or now - self._said < self.every)):
            return None
        self._name, self._progress, self._said = name, watch.progress, now
        return f"upgrading the database: migration {name}, {_human(now - self.began)} so far"


# -- the daemon --------------------------------------------------------------------------------


@dataclass
class DatabaseWait:
    """The daemon waiting for another process (a long backup, export or prune, datasette or sqlite3 holding a write
    transaction) to release its database's write lock: polls pause, every source keeping its place, and the
    database is tried again after ``delay`` seconds, the delay doubling up to DB_WAIT_MAX."""

    since: datetime
    delay: float
    tries: int = 0
    next_try: datetime | None = None


class Daemon:
    def __init__(self, config_path: Path, notifier: Notifier | None = None) -> None:
        self.config_path = config_path
        self.notifier = notifier or Notifier()
        self.workdir = Path(
            os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0] or tempfile.mkdtemp(prefix="newswatch-run-")
        )
        self._own_workdir = "RUNTIME_DIRECTORY" not in os.environ
        self._generation = 0
        try:
            self.config, self.snapshot = self._load()
        except BaseException:
            self._cleanup()
            raise
        self.scheduler: AsyncIOScheduler | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stopping = threading.Event()
        self._stop_requested: asyncio.Event | None = None
        self._busy = 0
        self._busy_lock = threading.Lock()
        self._last_crawl = "none yet"
        self._spread = envsettings.seconds("NEWSWATCH_START_SPREAD", 60.0)
        self._ahead = envsettings.seconds("NEWSWATCH_BATCH_AHEAD", BATCH_AHEAD)
        self._batch_size = envsettings.whole("NEWSWATCH_BATCH_SIZE", BATCH_SIZE)
        self._batch_slots = max(1, envsettings.whole("NEWSWATCH_CRAWL_WORKERS", 3))
        self._lead = StartupLead(envsettings.seconds("NEWSWATCH_START_LEAD", START_LEAD))
        self._batch_pool = concurrent.futures.ThreadPoolExecutor(self._batch_slots, thread_name_prefix="crawl")
        self._due: dict[str, datetime] = {}  # source -> when it is next due (not while it runs)
        # source -> the batch polling it (its list of names, as _requeue is given it): a batch's end takes back only
        # its own, not those a later batch picked once their results were taken in
        self._running: dict[str, list[str]] = {}
        self._alone: set[str] = set()  # unfinished when their batch was killed: each polled by itself next
        self._held_by: dict[str, int] = {}  # skipped while another crawl process held them: its pid
        self._resets: dict[str, str] = {}  # when `sources --reset` last reset each source, as last looked at
        self._next_reset_look = 0.0
        self._batches = 0
        self._due_lock = threading.Lock()
        self._status_at = 0.0
        self._refused_lock = threading.Lock()
        self._refused_said = False  # the encoder's refused copy is logged once (_say_refused_copy)
        self._warned: dict[str, tuple[str, ...]] = {}  # per source: its last poll's warnings, logged when they change
        self.failures = FailureCount(envsettings.whole("NEWSWATCH_MAX_FAILURES", 5))
        self._db_wait: DatabaseWait | None = None  # set while another process holds the database locked
        # digest jobs that met the lock, by job id: run as soon as the database is free (`_resume_put_off`)
        self._put_off: dict[str, tuple[Any, list[Any]]] = {}
        self._code = installed.current()  # the installation this daemon started from
        self._code_seen: tuple[installed.Installation | None, float] | None = None  # a change seen, and when
        self._next_code_look = 0.0
        self._reload_problem: str | None = None
        self._snapshot_lock = threading.Lock()
        self._snapshot_users: dict[Path, int] = {}  # config snapshots crawl children were started with
        self.exit_code = 0

    # -- config ----------------------------------------------------------------------------

    def _load(self) -> tuple[Config, Path]:
        self._generation += 1
        config, snapshot = load_snapshot(self.config_path, self.workdir / f"config-{self._generation}")
        return config, snapshot

    def _adopt(self, config: Config, snapshot: Path) -> None:
        """Makes a reloaded config current; a snapshot the same as the current one is not kept twice."""
        with self._snapshot_lock:
            if _same_file(snapshot, self.snapshot):
                shutil.rmtree(snapshot.parent, ignore_errors=True)
                snapshot = self.snapshot
            self.config, self.snapshot = config, snapshot
        self._drop_snapshots()

    @contextmanager
    def _current(self) -> Iterator[tuple[Config, Path]]:
        """The current config and its snapshot, kept on disk while a crawl child may read it."""
        with self._snapshot_lock:
            config, snapshot = self.config, self.snapshot
            self._snapshot_users[snapshot] = self._snapshot_users.get(snapshot, 0) + 1
        try:
            yield config, snapshot
        finally:
            with self._snapshot_lock:
                self._snapshot_users[snapshot] -= 1
                if not self._snapshot_users[snapshot]:
                    del self._snapshot_users[snapshot]
            if self.loop is not None and not self.stopping.is_set():
                try:
                    self.loop.call_soon_threadsafe(self._drop_snapshots)
                except RuntimeError:  # the loop has closed: the work folder goes with the daemon
                    pass

    def _drop_snapshots(self) -> None:
        """Removes the snapshots of earlier configs no crawl child reads any more: a daemon reloaded every
        hour for a year keeps one or two, not thousands, in its RuntimeDirectory (memory, under systemd).
        Runs on the loop, as reload does, so it never removes the snapshot a reload is writing."""
        with self._snapshot_lock:
            keep = {self.snapshot.parent, *(s.parent for s in self._snapshot_users)}
            for folder in self.workdir.glob("config-*"):
                if folder not in keep:
                    shutil.rmtree(folder, ignore_errors=True)

    def crawl_timeout(self, config: Config) -> float:
        return envsettings.seconds("NEWSWATCH_CRAWL_TIMEOUT", max(300.0, 10 * config.crawl.timeout))

    # -- lifecycle ---------------------------------------------------------------------------

    async def serve(self) -> int:
        self.loop = asyncio.get_running_loop()
        self._stop_requested = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            self.loop.add_signal_handler(sig, self.request_stop, sig)
        self.loop.add_signal_handler(signal.SIGHUP, self.reload)
        # held since start-up (scheduler.launch): a stop that came early is taken now, a reload once the jobs are
        # scheduled (a long database upgrade may come first; systemd itself sends no reload before READY=1)
        release_signals(signal.SIGTERM)

        catch_up = await self._prepare_database()
        if self.stopping.is_set():  # stopped while the database was opened: nothing was scheduled
            self._cleanup()
            log.info("stopped")
            return self.exit_code
        self.scheduler = AsyncIOScheduler(
            event_loop=self.loop,
            timezone=UTC,
            executors={"default": AsyncIOExecutor(), "digest": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self._schedule_sources(self.config, initial=True)
        # the first look at which sources are due is at start, not a tick later: overdue sources are polled at once
        self.scheduler.add_job(
            self._dispatch, IntervalTrigger(seconds=TICK), id="crawl-dispatch", name="crawl", next_run_time=utcnow()
        )
        if mails(self.config):
            self._schedule_digest(self.config)
        if catch_up is not None:
            log.info("a digest was due at %s while newswatch was not running; sending it now", iso(catch_up))
            self.scheduler.add_job(
                self._digest_job,
                "date",
                run_date=utcnow(),
                args=[catch_up],
                id="digest-catch-up",
                executor="digest",
                replace_existing=True,
            )
        self.scheduler.start()
        release_signals()
        if mails(self.config):
            log.info(
                "newswatch running: %d %s, digest %r (%s); database %s",
                len(self.config.sources),
                noun(len(self.config.sources), "source"),
                self.config.digest.schedule,  # type: ignore[union-attr]
                self.config.digest.timezone,  # type: ignore[union-attr]
                self.config.storage.database,
            )
        else:
            log.info(
                "newswatch running in archive mode (%s): %d %s crawled and stored, no mail is sent; database %s",
                archive_reason(self.config),
                len(self.config.sources),
                noun(len(self.config.sources), "source is", "sources are"),
                self.config.storage.database,
            )
        self._log_next_polls(self.config)
        if self._code is not None and self._code.checkout:
            log.info(
                "newswatch runs from a checkout never installed (%s): a change of its code files (a git pull, an edit) "
                "stops this daemon as an upgrade does, since its crawl processes would start from the new files",
                self._code.where,
            )
        if not self.config.sources:
            log.warning(
                "the config has no [[sources]]: nothing will be polled; add one with 'newswatch sources add NAME URL' "
                "and reload (systemctl reload newswatch, or SIGHUP)"
            )
        self.notifier.ready(self.status_line())
        self._watchdog_tick()

        await self._stop_requested.wait()
        return await self._shutdown()

    async def _prepare_database(self) -> datetime | None:
        """Opens the database and applies the migrations a new version brings, before READY=1; returns the digest
        slot missed while newswatch was down. Off the event loop, so that a long upgrade (an archive indexed
        again) keeps systemd told (`UpgradeNotes`) and a stop is taken at once: the upgrade is one transaction,
        so the database stays as it was and is upgraded again at the next start."""
        config, watch, notes = self.config, UpgradeWatch(), UpgradeNotes(time.monotonic())
        try:
            made = config.storage.database.stat().st_size > 0  # else its migrations make it: nothing to say
        except OSError:
            made = False

        def prepare() -> datetime | None:
            with Store(config.storage.database, watch=watch) as store:
                ledger.prepare(store)
                return missed_digest(store, digest_trigger(config), utcnow()) if mails(config) else None

        async def report() -> None:
            logged = None
            while True:
                await asyncio.sleep(UPGRADE_LOOK)
                status = notes.due(watch, time.monotonic())
                if status is None:
                    continue
                if made and watch.migration != logged:
                    logged = watch.migration
                    log.info(
                        "upgrading the database %s: migration %s; on a large archive this takes minutes, and systemd "
                        "is asked to wait while it progresses (a stop or kill now keeps the database as it was, to be "
                        "upgraded again at the next start)",
                        config.storage.database,
                        logged,
                    )
                self.notifier.extend_start(UPGRADE_EXTEND, status)

        assert self._stop_requested is not None
        opening = asyncio.ensure_future(asyncio.to_thread(prepare))
        waits = [asyncio.ensure_future(report()), asyncio.ensure_future(self._stop_requested.wait())]
        try:
            await asyncio.wait([opening, waits[1]], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
        if not opening.done():
            log.warning(
                "stopped while %s",
                f"upgrading the database (migration {watch.migration}); nothing of the upgrade is kept, it starts "
                "again at the next start"
                if watch.migration
                else "opening the database",
            )
            self._cleanup()
            logging.shutdown()
            os._exit(self.exit_code)  # the thread is inside SQLite: the process ends, its transaction with it
        if made and watch.applied:
            log.info("database upgraded in %s (%s)", _human(time.monotonic() - notes.began), ", ".join(watch.applied))
        try:
            return opening.result()
        except StoreError as exc:  # a config problem found only on opening it (another program's file) is one too
            raise unusable_database(config.storage.database, exc) or exc from None

    def request_stop(self, sig: int | None = None) -> None:
        if self.stopping.is_set():
            return
        self.stopping.set()
        log.info("stopping (%s)", signal.Signals(sig).name if sig else "requested")
        self.notifier.stopping("stopping")
        assert self._stop_requested is not None
        self._stop_requested.set()

    async def _shutdown(self) -> int:
        assert self.scheduler is not None and self.loop is not None
        await stop_scheduler(self.scheduler)
        self._batch_pool.shutdown(wait=False, cancel_futures=True)
        children = crawl_children()
        for pid in children:  # their writes are transactional: killing them loses nothing stored
            kill_group(pid)
        if children:
            log.info("stopped %d crawl process(es); their sources are polled again on the next start", len(children))
        for pid in crawl_children(module=b"crawler.rematch"):  # a digest's: what it matched stays, it goes on at start
            kill_group(pid)
        deadline = time.monotonic() + STOP_GRACE
        while self._busy and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self._busy:
            log.warning("work still running after %.0fs; exiting anyway", STOP_GRACE)
            self._cleanup()
            logging.shutdown()
            os._exit(self.exit_code)  # worker threads are not daemonic; do not wait for a stuck SMTP server
        self._cleanup()
        log.info("stopped")
        return self.exit_code

    def _cleanup(self) -> None:
        self.notifier.close()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _watchdog_tick(self) -> None:
        interval = self.notifier.watchdog_interval
        if interval is None or self.stopping.is_set() or self.loop is None:
            return
        # Runs on the scheduler's event loop: if the loop is stuck, systemd stops hearing from us.
        if self.scheduler is not None and self.scheduler.running:
            self.notifier.watchdog()
        self.loop.call_later(interval, self._watchdog_tick)

    def reload(self) -> None:
        """SIGHUP: adopt a valid new config and reschedule; keep the old one if the new one is broken."""
        if self.stopping.is_set():
            return
        try:
            config, snapshot = self._load()
        except (ConfigError, UsageError) as exc:
            problems = getattr(exc, "problems", None) or [str(exc)]
            where = getattr(exc, "path", None)  # the file, as `newswatch check` names it
            self._reload_rejected((f"{where}: " if where else "") + "; ".join(problems))
            return
        except OSError as exc:
            self._reload_rejected(str(exc))
            return
        if config.storage.database != self.config.storage.database:
            self._reload_rejected(
                f"[storage] database changed ({self.config.storage.database} → {config.storage.database}); "
                "restart newswatch to switch databases"
            )
            return
        self._reload_problem = None
        old = self.config
        self._adopt(config, snapshot)
        changes = self._schedule_sources(config, initial=False, old=old)
        # topics, sets, [crawl], [digest] and [smtp] apply from the next crawl or digest on
        changes += other_changes(old, config, schedule_said=mails(config))
        if not mails(config):
            if mails(old):
                self._remove_job("digest")
                changes.append(f"archive mode ({archive_reason(config)}): no mail")
        elif not mails(old) or (old.digest.schedule, old.digest.timezone) != (  # type: ignore[union-attr]
            config.digest.schedule,  # type: ignore[union-attr]
            config.digest.timezone,  # type: ignore[union-attr]
        ):
            self._schedule_digest(config)
            changes.append(f"digest schedule {config.digest.schedule!r} ({config.digest.timezone})")  # type: ignore[union-attr]
        n = len(config.sources)
        log.info("config reloaded: %d %s; %s", n, noun(n, "source"), "; ".join(changes) or "nothing changed")
        self.notifier.status(self.status_line())

    def _reload_rejected(self, problem: str) -> None:
        log.error("config reload rejected, still running the previous config: %s", problem)
        self._reload_problem = f"{_clock()} config reload rejected: {problem}"
        self.notifier.status(self.status_line())
        self._drop_snapshots()  # one written before the rejection (a changed database)

    # -- scheduling --------------------------------------------------------------------------

    def _schedule_sources(self, config: Config, *, initial: bool, old: Config | None = None) -> list[str]:
        """Computes every source's due time from its stored state and the configured ``every``.

        On a reload, a changed interval takes effect at once (it counts from the last poll), not
        after the poll the old interval had stored.
        """
        before = {s.name: s for s in (old.sources if old else ())}
        after = {s.name: s for s in config.sources}
        changes = source_changes(old, config) if old is not None and not initial else []
        todo = [s for s in config.sources if initial or before.get(s.name) != s]  # the rest keep their time
        with Store(config.storage.database) as store:
            store.forget_resets(after)  # a removed source's note would stay for ever
            if initial:  # resets made before this start are in the stored state read below
                self._resets = store.source_resets()
            with self._due_lock:
                # The stored state is read under the lock that a poll's intake (_source_done) takes: read before it, a
                # result taken in meanwhile (its next poll set by the new config) was overwritten by a due time from
                # the poll before, and the source was polled again at once
                due = self._initial_due(store, todo, utcnow())
                for name in before.keys() - after.keys():
                    self._due.pop(name, None)
                for name, at in due.items():
                    if name not in self._running:
                        if at is None:
                            self._due.pop(name, None)
                        else:
                            self._due[name] = at
        return changes

    def _log_next_polls(self, config: Config) -> None:
        """One line per source at start: when it is polled next, so an operator knows what to expect."""
        now = utcnow()
        with self._due_lock:
            due = dict(self._due)
        with Store(config.storage.database) as store:
            states = {s.name: as_configured(store.poll_state(s.name), s) for s in config.sources}
        for s in config.sources:
            log.info("%s", next_poll_line(s, states[s.name], due.get(s.name), now))

    def _initial_due(self, store: Store, sources: Sequence[SourceConfig], now: datetime) -> dict[str, datetime | None]:
        """Each source's next poll by the rules; never polled or overdue ones soon, spread out."""
        out: dict[str, datetime | None] = {}
        overdue = []
        for s in sources:
            at = _next_look(as_configured(store.poll_state(s.name), s), s.every, now)
            if at is None or at > now:
                out[s.name] = at
            else:
                overdue.append(s)
        for i, s in enumerate(overdue):
            window = min(self._spread, s.every)
            out[s.name] = now + timedelta(seconds=window * i / len(overdue))
        return out

    def _schedule_digest(self, config: Config) -> None:
        assert self.scheduler is not None
        self.scheduler.add_job(
            self._digest_job,
            digest_trigger(config),
            id="digest",
            name="digest",
            executor="digest",
            replace_existing=True,
        )

    @contextmanager
    def _work(self) -> Iterator[None]:
        with self._busy_lock:
            self._busy += 1
        try:
            yield
        finally:
            with self._busy_lock:
                self._busy -= 1

    # -- crawl batches -------------------------------------------------------------------------

    async def _dispatch(self) -> None:
        """Every tick: start a batch of the sources now due (and those due within BATCH_AHEAD) if a slot is free."""
        if self.stopping.is_set() or self.loop is None or self._upgraded_under_us():
            return
        if self._db_wait is not None:
            return  # while the database is held locked, no crawl child is started only to fail after the busy timeout
        if self._held_by:
            self._look_again_when_released()
        if time.monotonic() >= self._next_reset_look:
            self._next_reset_look = time.monotonic() + RESET_LOOK
            self._look_at_resets()
        while self._batches < self._batch_slots:
            with self._due_lock:
                # A child starts its usual start-up time ahead of the batch and waits for it, so the
                # polls begin on time, whatever the start-up cost (and intervals count from the schedule).
                now = utcnow() + timedelta(seconds=self._lead.seconds())
                names = pick_batch(self._due, self._running, now, self._ahead, self._batch_size, self._alone)
                if not names:
                    return
                scheduled = min(self._due[n] for n in names)
                if self._upgraded_under_us(force=True):  # its crawl child would run the new code
                    return
                self._running.update(dict.fromkeys(names, names))
                self._alone.difference_update(names)
                self._batches += 1
            self.loop.run_in_executor(self._batch_pool, self._batch_job, names, scheduled)

    def _upgraded_under_us(self, *, force: bool = False) -> bool:
        """Whether newswatch was installed anew under this daemon (and the daemon is stopping for it); looks at the
        installation every CODE_LOOK seconds, or now with ``force``. A change is acted on once the installation has
        stayed as it is for CODE_SETTLE seconds (pip writes its files one by one); until then no crawl starts."""
        if self.stopping.is_set():
            return self.exit_code == UPGRADED_EXIT
        if self._code is None:  # its code could not be found at start: nothing to compare
            return False
        now = time.monotonic()
        if not force and now < self._next_code_look and self._code_seen is None:
            return False
        self._next_code_look = now + CODE_LOOK
        current = installed.current()
        if current == self._code:
            self._code_seen = None
            return False
        if self._code_seen is None or self._code_seen[0] != current:
            self._code_seen = (current, now)  # still being written, perhaps: looked at again at the next tick
            return True
        if now - self._code_seen[1] < CODE_SETTLE:
            return True
        if current is None or (current.checkout and not self._code.checkout):
            what = f"newswatch {self._code.version} was uninstalled under this daemon ({self._code.where} is gone)"
        elif self._code.checkout and current.checkout:
            files = current.changed_files(self._code)
            shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
            what = f"the code of newswatch in the checkout {current.where} was changed under this daemon ({shown})"
        elif current.version != self._code.version:
            what = f"newswatch {current.version} was installed over this daemon's {self._code.version}"
        else:
            what = f"newswatch {current.version} was installed anew under this daemon (the same version)"
        if os.environ.get("INVOCATION_ID") or os.environ.get("NOTIFY_SOCKET"):
            then = f"exiting with status {UPGRADED_EXIT} so that systemd starts the new version"
        else:
            then = "stopping: start 'newswatch run' again to run the new version"
        log.warning(
            "%s: its crawl processes would run the new code under this older one (and fail on a database upgrade "
            "the new version brings); %s, which upgrades the database first if it must",
            what,
            then,
        )
        self.exit_code = UPGRADED_EXIT
        self._call_on_loop(self.request_stop)
        return True

    def _look_at_resets(self) -> None:
        """A source reset by `newswatch sources --reset` meanwhile (its backoff cleared, or re-enabled after a 410)
        follows its stored state again, within RESET_LOOK: not the look the daemon had scheduled, up to a day's
        backoff later."""
        config = self.config
        try:  # a look every RESET_LOOK that only reads: no write handle, and the daemon migrated at its start
            with Store(config.storage.database, readonly=True, upgrade=False) as store:
                resets = store.source_resets()
                fresh = [n for n, at in resets.items() if self._resets.get(n) != at]
                self._resets = resets
                now = utcnow()
                for name in fresh:
                    try:
                        source = config.source(name)
                    except KeyError:  # not (or no longer) configured
                        continue
                    at = _next_look(as_configured(store.poll_state(name), source), source.every, now)
                    with self._due_lock:
                        if name not in self._due or name in self._running:
                            continue  # a poll under way sets its own next one
                        self._due[name] = at
                    log.info("source %s: reset by 'newswatch sources --reset'; next poll %s", name, iso(max(at, now)))
        except NewswatchError as exc:
            log.error("cannot look for sources reset by 'newswatch sources --reset': %s", exc)

    def _look_again_when_released(self) -> None:
        """Sources skipped because another crawl process held them follow their stored state as soon as that
        process has ended (polled now if it did not poll them, else at their next poll), not SKIPPED_RETRY later."""
        with self._due_lock:
            ended = [name for name, pid in self._held_by.items() if not process_alive(pid)]
            for name in ended:
                del self._held_by[name]
        if not ended:
            return
        config = self.config
        try:
            with Store(config.storage.database) as store:
                now = utcnow()
                for name in ended:
                    try:
                        source = config.source(name)
                    except KeyError:  # removed by a reload meanwhile
                        continue
                    at = _next_look(as_configured(store.poll_state(name), source), source.every, now)
                    with self._due_lock:
                        if name in self._due and name not in self._running:
                            self._due[name] = at
        except NewswatchError as exc:  # they keep their later look
            log.error("crawl: cannot reschedule %s: %s", ", ".join(ended), exc)

    def _batch_job(self, names: list[str], scheduled: datetime) -> None:
        try:
            with self._work(), self._current() as (config, snapshot):
                self._crawl_batch(config, snapshot, names, scheduled)
                self._say_refused_copy(config)
        except (sqlite3.Error, StoreError) as exc:
            problem = database_problem(self.config.storage.database, exc)
            log.error("crawl %s: failed: %s", _label(names), problem)
            self._job_failed(f"crawl {_label(names)}", problem)
        except NewswatchError as exc:
            log.error("crawl %s: failed: %s", _label(names), exc)
            self._job_failed(f"crawl {_label(names)}", str(exc))
        except Exception as exc:
            log.exception("crawl %s: unexpected error (the daemon goes on)", _label(names))
            self._job_failed(f"crawl {_label(names)}", f"{type(exc).__name__}: {exc}")
        finally:
            self._requeue(names)

    def _say_refused_copy(self, config: Config) -> None:
        """Logs once, after the crawl whose worker found it, that the sentence encoder's copy in the cache folder was
        refused (a package whose layout it cannot hold), and what to do; `newswatch check` says it too."""
        from crawler.encoder import refused_copy_message

        with self._refused_lock:
            if self._refused_said:
                return
            for i, t in enumerate(config.topics):
                if t.model is not None and t.model.encoder is not None:
                    line = refused_copy_message(f"topics[{i}] ({t.name}).model")
                    if line is not None:
                        self._refused_said = True
                        log.warning("%s", line)
                    return

    def _crawl_batch(self, config: Config, snapshot: Path, names: list[str], scheduled: datetime) -> None:
        """Polls the batch in one crawl child; each source's result is logged and rescheduled as it finishes."""
        from crawler.child import CrawlStopped, run_in_child

        known = {s.name for s in config.sources}
        names = [n for n in names if n in known]  # a reload may have removed some
        with Store(config.storage.database) as store:  # a deactivated source needs no crawl child
            states = {n: store.poll_state(n) for n in names}
        idle = [n for n in names if not as_configured(states[n], config.source(n)).active]
        if idle:
            now = utcnow()
            with self._due_lock:
                # The current config, read under the lock a reload's rescheduling takes (as _source_done reads it), not
                # the batch's: a source a reload removed meanwhile was put back in the schedule, and picked for a batch
                # with nothing to poll (it is not configured) about twice a second, for as long as the daemon ran; one
                # given another url meanwhile is no longer held back by its old url's 410, and is polled at once
                current = self.config
                for n in idle:
                    self._running.pop(n, None)
                    try:
                        source = current.source(n)
                    except KeyError:  # removed by a reload meanwhile: not looked at again
                        self._due.pop(n, None)
                    else:
                        self._due[n] = _next_look(as_configured(states[n], source), source.every, now)
            names = [n for n in names if n not in idle]
        if not names or self.stopping.is_set():
            return
        spawned = time.monotonic()
        early = max(0.0, (scheduled - utcnow()).total_seconds())
        started = spawned + early  # when the polls begin

        def since_start() -> float:  # a child that skips every source ends before its polls would have begun
            return max(0.0, time.monotonic() - started)

        deadline = self.crawl_timeout(config)
        finished: dict[str, dict[str, Any]] = {}
        with Store(config.storage.database) as store:

            def on_event(event: dict[str, Any]) -> None:
                if event.get("event") == "ready":
                    self._lead.observe(time.monotonic() - spawned)
                elif event.get("event") == "done" and event.get("source") in known:
                    finished[event["source"]] = event
                    self._source_done(store, event, since_start(), alone=len(names) == 1)

            try:
                summary = run_in_child(
                    snapshot,
                    names,
                    trigger="daemon",
                    on_event=on_event,
                    timeout=envsettings.seconds("NEWSWATCH_BATCH_TIMEOUT", deadline + BATCH_GRACE) + early,
                    source_deadline=deadline,
                    started=scheduled,
                )
            except CrawlStopped as exc:
                took = since_start()
                stuck = [n for n in names if n not in finished]
                if self.stopping.is_set():
                    log.info("crawl %s: stopped by shutdown after %.1fs", _label(names), took)
                    return
                if not stuck:
                    log.debug("crawl %s: the crawl process ended badly after its work: %s", _label(names), exc)
                    return
                if len(names) > 1:
                    # Who held the batch cannot be told apart from who waited behind it: each unfinished
                    # source is polled again alone, so a source that hangs again is named by its own run.
                    log.warning(
                        "crawl batch of %d: %s after %.1fs; unfinished: %s; each is polled again on its own",
                        len(names),
                        exc,
                        took,
                        ", ".join(stuck),
                    )
                    with self._due_lock:
                        self._alone.update(stuck)
                        for n in stuck:
                            self._due[n] = utcnow()
                    self._job_failed(f"crawl batch of {len(names)}", str(exc))
                    return
                name = stuck[0]
                message = f"the crawl process was stopped after {took:.0f}s while polling it ({exc})"
                self._record_failure(config, store, name, message)
                log.error("crawl %s: failed after %.1fs: %s", name, took, exc)
                self._last_crawl = f"{_clock()} {name} failed"
                self._job_failed(f"crawl {name}", str(exc))
                return
            took = since_start()
            t = summary.totals()
            polled = summary.polled
            failed = [s for s in polled if s.status in ("failed", "gone")]
            if len(names) > 1:
                log.info(
                    "crawl batch of %d: %d polled, %d failed; fetched %d, new %d, errors %d; %.1fs",
                    len(names),
                    len(polled),
                    len(failed),
                    t["fetched"],
                    t["new"],
                    t["errors"],
                    took,
                )
            verdict = "failed" if summary.all_failed or summary.storage_error else "ok"
            if polled or summary.storage_error:  # a batch that polled nothing leaves the last crawl shown
                self._last_crawl = f"{_clock()} {_label(names)} {verdict} {t['new']} new"
            if summary.new_article_ids and not self.stopping.is_set() and mails(config):
                self._alerts(config, store)
        if summary.storage_error:
            self._job_failed(f"crawl {_label(names)}", summary.storage_error)
        elif summary.all_failed:
            problem = "; ".join(s.message for s in failed if s.message)
            self._job_failed(f"crawl {_label(names)}", problem or "every fetch failed")
        elif polled:
            self._job_ok()
        # else every source was skipped (held by another crawl, or told to wait): nothing was tried,
        # so the run of failed jobs stays as it was, as each source's failures and backoff do

    def _source_done(self, store: Store, event: dict[str, Any], took: float, *, alone: bool) -> None:
        """One source of a batch finished: log it and set its next poll (while the others go on).

        Its line is at INFO when it stored something, met an error or was polled alone; a quiet poll
        in a batch of several is at DEBUG, the batch's own line counting it.
        """
        name = event["source"]
        st = event.get("stats") or {}
        status = event.get("status", "?")
        now = utcnow()
        if status == "skipped":
            # Held by another crawl (polled meanwhile) or told to wait: the rules decide below.
            log.info("crawl %s: skipped: %s", name, st.get("message") or "")
        elif alone or status in ("failed", "gone") or st.get("new") or st.get("errors"):
            level = logging.ERROR if status in ("failed", "gone") else logging.INFO
            errors = _error_names(_OneSource(event))
            log.log(
                level,
                # one form for every verdict, its duration once at the end ('failed after 1.3s; …; 1.3s' said it twice)
                "crawl %s: %s; fetched %d, new %d, duplicates %d, matched %d, errors %d%s; %.1fs%s",
                name,
                status,
                st.get("fetched", 0),
                st.get("new", 0),
                st.get("duplicates", 0),
                st.get("matched", 0),
                st.get("errors", 0),
                f" ({errors})" if errors else "",
                took,
                f" ({st['message']})" if st.get("message") else "",
            )
        else:
            log.debug("crawl %s: %s; %.1fs", name, status, took)
        if status != "skipped":
            # What the crawl command prints as 'NAME: warning: ...' (a malformed feed read anyway, entries skipped,
            # new entries left for the next polls, a canonical naming another story) reached no log: said when
            # it differs from the source's last poll, not every 15 minutes for a feed broken for good
            warnings = tuple(st.get("warnings") or ())
            if warnings != self._warned.get(name, ()):
                for text in warnings[:WARNINGS_SHOWN]:
                    log.warning("crawl %s: warning: %s", name, text)
                if len(warnings) > WARNINGS_SHOWN:
                    more = len(warnings) - WARNINGS_SHOWN
                    log.warning("crawl %s: … and %d more %s", name, more, noun(more, "warning"))
            self._warned[name] = warnings
            verdict = "failed" if status in ("failed", "gone") else "ok"
            self._last_crawl = f"{_clock()} {name} {verdict} {st.get('new', 0)} new"
            if time.monotonic() - self._status_at >= 1.0:  # STATUS= at most once a second from a batch
                self._status_at = time.monotonic()
                self._update_status()
        state = store.poll_state(name)
        with self._due_lock:
            # The source's settings are read under the lock that a reload's rescheduling takes once its config is
            # adopted, so a reload while the batch ran counts from this poll, also one landing while this result is
            # logged: read before the lock, the old interval was set after the reload had passed the source by (still
            # running), and a source whose `every` went from 1h to 5s was polled again an hour later; one whose url a
            # reload fixed while this poll of the old url failed waited out the old url's backoff
            at: datetime | None
            try:
                source = self.config.source(name)
            except KeyError:  # removed by a reload meanwhile: not looked at again
                at = None
            else:
                every = source.every
                at = _next_look(as_configured(state, source), every, now)
                if status == "skipped" and at <= now:
                    at = now + timedelta(seconds=min(every, SKIPPED_RETRY))
            self._running.pop(name, None)
            if event.get("holder"):
                self._held_by[name] = int(event["holder"])
            else:
                self._held_by.pop(name, None)
            if at is None:
                self._due.pop(name, None)
            else:
                self._due[name] = at

    def _record_failure(self, config: Config, store: Store, name: str, message: str) -> None:
        """A source whose crawl process had to be killed: its failure, backoff and reason go into `sources`."""
        source = config.source(name)
        stored = store.poll_state(name)
        now = utcnow()
        after = after_poll(as_configured(stored, source), source.every, PollOutcome("failed", error=message), now, now)
        store.record_poll(name, stored, after, poll_target(source))

    def _requeue(self, names: list[str]) -> None:
        """After a batch: any source not rescheduled by its own result follows its stored state."""
        with self._due_lock:
            self._batches -= 1
            # Its own only: a source whose result was taken in may have been picked by a later batch meanwhile; taken
            # back here, it was picked again while that batch polled it (skipped there as held by another crawl)
            left = [n for n in names if self._running.get(n) is names]
            for n in left:
                del self._running[n]
        if left and not self.stopping.is_set():
            database = self.config.storage.database  # the same in every config a reload adopts
            try:
                with Store(database) as store:
                    states = {name: store.poll_state(name) for name in left}
                    now = utcnow()
                    with self._due_lock:
                        # The config is read under the lock a reload's rescheduling takes once its config is adopted
                        # (as _source_done reads it): read before it, a reload landing once these sources were no
                        # longer running, which set their new interval, was overwritten with the old one
                        config = self.config
                        for name in left:
                            if name in self._alone:
                                continue
                            try:
                                source = config.source(name)
                            except KeyError:  # removed by a reload meanwhile: not looked at again
                                self._due.pop(name, None)
                                continue
                            every = source.every
                            at = _next_look(as_configured(states[name], source), every, now)
                            # never sooner than a short pause: a batch that failed outright is not retried in a loop
                            self._due[name] = max(at, now + timedelta(seconds=min(every, SKIPPED_RETRY)))
            except (sqlite3.Error, NewswatchError) as exc:
                log.error(
                    "crawl: cannot reschedule %s: %s; looked at again in %.0f s",
                    ", ".join(left),
                    database_problem(database, exc),
                    SKIPPED_RETRY,
                )
                at = utcnow() + timedelta(seconds=SKIPPED_RETRY)  # not again at the next tick, in a loop
                with self._due_lock:
                    for name in left:
                        if name in self._due:
                            self._due[name] = max(self._due[name], at)
        if self.loop is not None and not self.stopping.is_set():
            self.loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._dispatch()))

    def _alerts(self, config: Config, store: Store) -> None:
        from scheduler.digest import send_alerts

        try:
            results = send_alerts(config, store)
        except NewswatchError as exc:
            log.error("alerts: not sent: %s", exc)
            return
        for r in results:
            if r.status == "sent":
                log.info("alert: %s: sent %d %s", r.email, r.stories, noun(r.stories, "story", "stories"))
            else:
                log.error("alert: %s: not sent: %s", r.email, r.error)

    def _digest_job(self, slot: datetime | None = None, attempt: int = 0) -> None:
        if self.stopping.is_set() or self._upgraded_under_us(force=True):
            return  # upgraded: the new version's start sends a digest missed meanwhile
        with self._current() as (config, snapshot):  # the snapshot stays for its matching child (_match_first)
            self._digest_slot(config, snapshot, slot, attempt)

    def _digest_slot(self, config: Config, snapshot: Path, slot: datetime | None, attempt: int) -> None:
        if slot is None:
            slot = last_fire_at_or_before(digest_trigger(config), utcnow()) or utcnow()
        self._put_off.pop("digest-again", None)  # this run takes the slot of one put off, or a newer one
        if self._db_wait is not None:
            # another process holds the write lock: trying would only fail after the busy timeout, counted as one
            # more failure; the digest waits as the polls do and runs the moment the lock is released
            self._put_off["digest-again"] = (self._digest_job, [slot, attempt])
            log.warning(
                "digest %s: waits for the database %s, whose write lock another process holds; it is sent as soon as "
                "the lock is released (a restart meanwhile sends it at start)",
                iso(slot),
                config.storage.database,
            )
            self._update_status()
            return
        with self._work():
            try:
                self._digest(config, snapshot, slot)
            except StaleMatches as exc:
                # its stories are chosen by matches of the config it runs under, else an edited topic's no longer
                # matching ones went out and those it now matches waited: tried again as after a database problem
                log.error("digest %s: not sent: %s; %s", iso(slot), exc, self._digest_again(slot, attempt + 1))
                self._job_failed("digest", str(exc))
            except (sqlite3.Error, StoreError) as exc:
                # one line, no traceback: which file, why, and when the digest is tried again
                problem = database_problem(config.storage.database, exc)
                if _lock_held(str(exc)):  # also sent the moment a wait for the lock ends, not only on the timer
                    self._put_off["digest-again"] = (self._digest_job, [slot, attempt + 1])
                log.error("digest %s: not sent: %s; %s", iso(slot), problem, self._digest_again(slot, attempt + 1))
                self._job_failed("digest", problem)
            except NewswatchError as exc:
                log.error("digest: failed: %s", exc)
                self._job_failed("digest", str(exc))
            except Exception as exc:
                log.exception("digest: unexpected error (the daemon goes on)")
                self._job_failed("digest", f"{type(exc).__name__}: {exc}")

    def _digest_again(self, slot: datetime, attempt: int) -> str:
        """Schedules the digest of ``slot`` again after a database problem; says when, or why not."""
        if self.scheduler is None or self.stopping.is_set():
            return "it is sent when the daemon starts again"
        if attempt > DIGEST_RETRIES:
            job = self.scheduler.get_job("digest")
            upcoming = f" at {iso(job.next_run_time)}" if job is not None and job.next_run_time else ""
            if "digest-again" in self._put_off:
                return (
                    f"tried {DIGEST_RETRIES + 1} times; it is sent once the other process releases the database's "
                    f"write lock, else its stories stay due for the next digest{upcoming} (or a restart, which sends it)"
                )
            return (
                f"tried {DIGEST_RETRIES + 1} times, given up; its stories stay due for the next digest{upcoming}"
                " (or a restart, which sends it)"
            )
        at = utcnow() + DIGEST_RETRY_AFTER
        self.scheduler.add_job(
            self._digest_job,
            "date",
            run_date=at,
            args=[slot, attempt],
            id="digest-again",
            executor="digest",
            replace_existing=True,
        )
        return f"trying again at {iso(at)} (retry {attempt} of {DIGEST_RETRIES})"

    def _digest(self, config: Config, snapshot: Path, slot: datetime) -> None:
        from scheduler.digest import run_digest

        now = utcnow()
        assert config.digest is not None
        started = time.monotonic()
        with Store(config.storage.database) as store:
            state = DigestSlot.load(store)
            if state is not None and state.done and state.slot >= slot:
                log.info("digest for %s already sent", iso(slot))
                return
            # before the slot is taken on: killed meanwhile, the start sends the digest as one missed
            self._match_first(config, snapshot, store, "digest")
            resume = state is not None and not state.done and state.slot == slot
            run_started = state.started if resume and state else now
            DigestSlot(slot, run_started, False).save(store)
            done = _digest_recipients_since(store, run_started) if resume else set()
            todo = [r.email for r in config.digest.recipients if r.email.lower() not in done]
            results = []
            try:
                if done:
                    for email in todo:
                        results.extend(run_digest(config, store, recipient=email).results)
                else:
                    results.extend(run_digest(config, store).results)
            except NewswatchError as exc:
                log.error("digest: not sent: %s", exc)
                results = []
                todo_failed = todo
                digest_error: str | None = str(exc)
            else:
                todo_failed = [r.email for r in results if r.status == "failed"]
                digest_error = next((f"{r.email}: {r.error}" for r in results if r.status == "failed"), None)
            DigestSlot(slot, run_started, True).save(store)
        sent = [r for r in results if r.status == "sent"]
        near = sum(r.near for r in sent)
        took = time.monotonic() - started
        # none reached: said at ERROR as a failed poll is, with what stays due and when it is tried again (an INFO
        # line of '3 recipients, 0 sent, 0 stories, 3 failed' read as a quiet day to an alert on errors)
        nothing_sent = bool(todo) and len(todo_failed) == len(todo)
        if nothing_sent:
            again = self._schedule_retry(todo_failed, 1, say=False) if not self.stopping.is_set() else None
            log.error(
                "digest %s: not sent to %s; %s; %s; %.1fs",
                iso(slot),
                f"any of its {count(len(todo), 'recipient')}" if len(todo) > 1 else "its recipient",
                _left_due(results, len(todo)),
                again or "they go with the next digest",
                took,
            )
        else:
            log.log(
                logging.WARNING if todo_failed else logging.INFO,
                "digest %s: %d %s, %d sent, %d %s%s, %d failed%s; %.1fs",
                iso(slot),
                len(todo),
                noun(len(todo), "recipient"),
                len(sent),
                sum(r.stories for r in sent),
                noun(sum(r.stories for r in sent), "story", "stories"),
                f" and {count(near, 'near miss', 'near misses')}" if near else "",
                len(todo_failed),
                f" (already sent to {len(done)} before a restart)" if done else "",
                took,
            )
        for r in results:
            if r.status == "failed":
                log.error("digest: %s: not sent: %s", r.email, r.error)
        if nothing_sent:
            self._job_failed("digest", digest_error or "no recipient was reached")
            return
        if todo_failed and not self.stopping.is_set():
            self._schedule_retry(todo_failed, 1)
        self._job_ok()

    def _match_first(self, config: Config, snapshot: Path, store: Store, job: str) -> None:
        """Brings the topic matches a digest chooses its stories by up to date with ``config`` when they are not (a
        topic edited by a reload, or an upgrade's cleaned text, before any crawl matched them again), in a child
        started on its snapshot, as crawls are (this process loads no topics); StaleMatches when it cannot."""
        from crawler.child import rematch_in_child
        from crawler.topicstate import changed_topics, rematch_due, window_start

        changed, removed = changed_topics(config, store)
        cleaned = rematch_due(store, window_start(config, utcnow()))
        if not (changed or removed or cleaned):
            return
        what = []
        if changed:
            what.append(f"{noun(len(changed), 'topic')} {', '.join(t.name for t in changed)} new or changed")
        if removed:
            what.append(f"{noun(len(removed), 'topic')} {', '.join(removed)} removed")
        if cleaned:
            what.append(f"{count(cleaned, 'article')} whose text an upgrade changed")
        began = time.monotonic()
        timeout = envsettings.seconds("NEWSWATCH_BATCH_TIMEOUT", self.crawl_timeout(config) + BATCH_GRACE)
        try:
            looked = rematch_in_child(snapshot, timeout=timeout)
        except StoreError:
            raise  # a database problem, as the digest's own would be (a write lock another process holds: waited out)
        except NewswatchError as exc:
            problem = f"its topic matches could not be brought up to date ({'; '.join(what)}): {exc}"
            raise StaleMatches(problem) from None
        log.info(
            "%s: topic matches brought up to date first (%s): %s matched again; %.1fs",
            job,
            "; ".join(what),
            count(looked, "article"),
            time.monotonic() - began,
        )

    def _schedule_retry(self, emails: Sequence[str], attempt: int, *, say: bool = True) -> str | None:
        """Tries ``emails`` again later; returns when ('trying again at …'), None when it does not (``say``: logs it)."""
        if self.scheduler is None or attempt > DIGEST_RETRIES:
            if attempt > DIGEST_RETRIES:
                log.error(
                    "digest: %s: tried %d times, given up; their stories stay due for the next digest",
                    ", ".join(emails),
                    DIGEST_RETRIES + 1,
                )
            return None
        at = utcnow() + DIGEST_RETRY_AFTER
        if say:
            log.info("digest: retrying %s at %s", ", ".join(emails), iso(at))
        self.scheduler.add_job(
            self._retry_job,
            "date",
            run_date=at,
            args=[list(emails), attempt],
            id="digest-retry",
            executor="digest",
            replace_existing=True,
        )
        return f"trying again at {iso(at)} (retry {attempt} of {DIGEST_RETRIES})"

    def _retry_job(self, emails: list[str], attempt: int) -> None:
        if self.stopping.is_set():
            return
        self._put_off.pop("digest-retry", None)
        if self._db_wait is not None:
            self._put_off["digest-retry"] = (self._retry_job, [emails, attempt])
            log.info("digest retry: %s: waits for the database's write lock to be released", ", ".join(emails))
            return
        with self._current() as (config, snapshot):
            self._retry(config, snapshot, emails, attempt)

    def _retry(self, config: Config, snapshot: Path, emails: list[str], attempt: int) -> None:
        from scheduler.digest import run_digest

        failed: list[str] = []
        with self._work():
            try:
                with Store(config.storage.database) as store:
                    self._match_first(config, snapshot, store, "digest retry")
                    for email in emails:
                        try:
                            result = run_digest(config, store, recipient=email).results
                        except (sqlite3.Error, StoreError):
                            raise
                        except NewswatchError as exc:
                            log.error("digest retry: %s: %s", email, exc)
                            failed.append(email)
                            continue
                        for r in result:
                            log.info(
                                "digest retry: %s: %s %d %s%s",
                                r.email,
                                r.status,
                                r.stories,
                                noun(r.stories, "story", "stories"),
                                f" ({r.error})" if r.error else "",
                            )
                            if r.status == "failed":
                                failed.append(email)
            except StaleMatches as exc:
                log.error("digest retry: not sent: %s", exc)
                failed = list(emails)
            except (sqlite3.Error, StoreError) as exc:
                log.error("digest retry: not sent: %s", database_problem(config.storage.database, exc))
                failed = list(emails)  # a recipient it reached before is no longer due: nothing goes twice
        if failed:
            self._schedule_retry(failed, attempt + 1)

    # -- status ------------------------------------------------------------------------------

    def _job_ok(self) -> None:
        self.failures.ok()
        self._update_status()

    def _job_failed(self, job: str, reason: str) -> None:
        """Counts a failed job; at the limit says so at critical priority and tests the database: one held locked by
        another process is waited out (`_wait_for_database`), one it cannot use at all makes the daemon exit."""
        if self.stopping.is_set():
            return
        if self.failures.failed(f"{job}: {reason}"):
            log.critical(
                "newswatch is not working: the last %s failed (latest: %s); "
                "see 'newswatch sources' and the errors above",
                count(self.failures.count, "job"),
                self.failures.last,
            )
            if self._db_wait is None:
                found = self._database_problem()
                if found is not None:
                    kind, problem = found
                    if kind == "locked":
                        self._call_on_loop(lambda: self._wait_for_database(problem))
                    else:
                        self._exit_unusable(kind, problem)
                    return
        self._update_status()

    def _exit_unusable(self, kind: str, problem: str) -> None:
        """The database cannot be used at all: the daemon stops, with 1 (systemd restarts it) or, for a database a
        newer newswatch upgraded, 2 (it does not: the same older code would refuse it again)."""
        if kind == "newer":
            log.critical("%s; exiting with status 2, which systemd does not restart", problem)
            self.exit_code = 2
        else:
            log.critical("cannot use the database: %s; exiting so that systemd restarts and reports it", problem)
            self.exit_code = 1
        self._call_on_loop(self.request_stop)

    def _call_on_loop(self, fn: Any) -> None:
        if self.loop is not None:
            try:
                self.loop.call_soon_threadsafe(fn)
            except RuntimeError:  # the loop has closed: the daemon is ending anyway
                pass

    def _database_problem(self) -> tuple[str, str] | None:
        """Why the daemon cannot write its database, or None when a test write succeeds: ("locked", ...) when another
        process held its write lock past the busy timeout, ("newer", ...) for one a newer newswatch upgraded,
        ("unusable", ...) for anything else."""
        database = self.config.storage.database
        try:
            with Store(database) as store:
                store.set_state("daemon.alive", iso(utcnow()))
        except NewerDatabase as exc:
            return "newer", str(exc)
        except Exception as exc:  # any error here means the same: no work can be stored
            text = str(exc)
            return ("locked", text) if _lock_held(text) else ("unusable", f"{database}: {exc}")
        return None

    def _wait_for_database(self, problem: str) -> None:
        """Another process holds the database's write lock: wait it out (on the loop). Exiting would not free it:
        systemd would restart the daemon into the same lock, five times in ten minutes, then leave it failed."""
        if self._db_wait is not None or self.stopping.is_set() or self.scheduler is None:
            return
        first = envsettings.seconds("NEWSWATCH_DB_WAIT", DB_WAIT_FIRST)
        self._db_wait = DatabaseWait(utcnow(), first)
        log.warning(
            "waiting for the database %s: another process has held its write lock longer than %g s in each of the "
            "last %s (%s: a long backup, export or prune, or a program such as datasette or sqlite3 keeping a "
            "write transaction open); newswatch does not exit: polls pause, each source keeping its place, and the "
            "database is tried again in %s, then less and less often (at most every %s); polls resume once it is free",
            self.config.storage.database,
            BUSY_TIMEOUT_MS / 1000,
            count(self.failures.count, "job"),
            problem,
            _human(first),
            _human(DB_WAIT_MAX),
        )
        self._schedule_database_try()

    def _schedule_database_try(self) -> None:
        wait = self._db_wait
        if wait is None or self.scheduler is None:
            return
        wait.next_try = utcnow() + timedelta(seconds=wait.delay)
        self.scheduler.add_job(
            self._try_database, "date", run_date=wait.next_try, id="database-wait", replace_existing=True
        )
        self.notifier.status(self.status_line())

    async def _try_database(self) -> None:
        """Tries the database again while waiting for its lock: a look at the lock (a second at most, so that a stop
        meanwhile is not held up by the busy timeout), then, once it is free, a test write."""
        wait = self._db_wait
        if wait is None or self.stopping.is_set():
            return
        if await asyncio.to_thread(_write_lock_held, self.config.storage.database):
            found: tuple[str, str] | None = ("locked", "database is locked")
        else:
            found = await asyncio.to_thread(self._database_problem)
        if self.stopping.is_set():
            return
        wait.tries += 1
        if found is None:
            self._db_wait = None
            log.warning(
                "the database %s is free again after %s (tried %s); polls resume",
                self.config.storage.database,
                _human((utcnow() - wait.since).total_seconds()),
                count(wait.tries, "time"),
            )
            self._resume_put_off()
            self.notifier.status(self.status_line())
            await self._dispatch()
            return
        kind, problem = found
        if kind != "locked":
            self._exit_unusable(kind, problem)
            return
        log.debug("the database is still held locked: %s", problem)
        wait.delay = min(wait.delay * 2, max(DB_WAIT_MAX, wait.delay))
        self._schedule_database_try()

    def _resume_put_off(self) -> None:
        """Runs now the digest jobs that waited for the database's write lock (each replaces its timed retry)."""
        if self.scheduler is None:
            return
        for job_id in list(self._put_off):
            entry = self._put_off.pop(job_id, None)  # a digest thread may have taken it meanwhile
            if entry is None:
                continue
            fn, args = entry
            if job_id == "digest-again":
                log.info("digest %s: the database is free: sending it now", iso(args[0]))
            self.scheduler.add_job(
                fn, "date", run_date=utcnow(), args=args, id=job_id, executor="digest", replace_existing=True
            )

    def status_line(self) -> str:
        parts = []
        if self._reload_problem:
            parts.append(self._reload_problem)
        wait = self._db_wait
        if wait is not None:
            since = wait.since.astimezone().strftime("%H:%M")
            again = f", next try {wait.next_try.astimezone():%H:%M:%S}" if wait.next_try else ""
            put_off = self._put_off.get("digest-again")
            digest = f", the digest of {put_off[1][0].astimezone():%Y-%m-%d %H:%M} waits for it" if put_off else ""
            parts.append(
                f"WAITING: another process holds the database's write lock (since {since}{again}); polls paused{digest}"
            )
        if self.failures.count:
            parts.append(f"FAILING: {count(self.failures.count, 'job')} in a row, latest {self.failures.last}")
        job = self.scheduler.get_job("digest") if self.scheduler is not None else None
        if job is not None and job.next_run_time is not None and self.config.digest is not None:
            local = job.next_run_time.astimezone(ZoneInfo(self.config.digest.timezone))
            parts.append(f"next digest {local:%Y-%m-%d %H:%M} {local.tzname()}")
        parts.append(f"last crawl {self._last_crawl}")
        return "; ".join(parts)

    def _update_status(self) -> None:
        if self.loop is not None and not self.stopping.is_set():
            # get_job and the notifier's socket are used from the loop thread only
            self.loop.call_soon_threadsafe(lambda: self.notifier.status(self.status_line()))


def _lock_held(error: str) -> bool:
    """Whether a database error says another process held the write lock past the busy timeout."""
    return "database is locked" in error or "another newswatch process has held it" in error


def _write_lock_held(database: Path, wait: float = 1.0) -> bool:
    """Whether another process holds the database's write lock (waiting ``wait`` seconds for it at most); False
    when it is free, and when the file cannot be opened at all (the test write then says why)."""
    try:
        conn = sqlite3.connect(database.resolve().as_uri() + "?mode=rw", uri=True, timeout=wait, isolation_level=None)
    except sqlite3.Error:
        return False
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return False
    except sqlite3.Error as exc:
        return "locked" in str(exc)
    finally:
        conn.close()


def mails(config: Config) -> bool:
    """Whether `run` sends digests and alerts; without [digest] or [smtp] it only archives."""
    return config.digest is not None and config.smtp is not None


def archive_reason(config: Config) -> str:
    missing = [n for n, v in (("[digest]", config.digest), ("[smtp]", config.smtp)) if v is None]
    return "no " + " and no ".join(missing) + " in the config"


def _error_names(summary: Any, shown: int = 3) -> str:
    """The crawl's page errors for its log line: the first few, and how many more."""
    samples: list[str] = []
    for s in summary.sources:
        samples += [e for e in s.error_samples if e != s.message]
    total = sum(s.errors for s in summary.sources) - sum(1 for s in summary.sources if s.message)
    if not samples:
        return ""
    more = max(total, len(samples)) - min(shown, len(samples))
    return "; ".join(samples[:shown]) + (f"; … and {more} more" if more > 0 else "")


def _human(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts)


class FailureCount:
    """Jobs failed in a row (any success resets it); ``failed`` is true each time the count reaches a multiple of the limit."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.count = 0
        self.last = ""
        self._lock = threading.Lock()

    def ok(self) -> None:
        with self._lock:
            self.count = 0

    def failed(self, reason: str) -> bool:
        with self._lock:
            self.count += 1
            self.last = reason
            return self.count % self.limit == 0


def _clock() -> str:
    return datetime.now().astimezone().strftime("%H:%M")


def _left_due(results: Sequence[Any], recipients: int) -> str:
    """What a digest that reached none of its recipients left due: 'their 2 stories stay due' (each recipient's
    digest has its own topics, so with several the largest is given: 'up to 5 stories each')."""
    due = sorted({r.stories + r.held for r in results if r.status == "failed"})
    whose = "their " if recipients > 1 else "its "
    if not due:  # the digest failed before any message was made: how many were due is not known
        return whose + "stories stay due"
    if len(due) == 1:
        return whose + f"{count(due[0], 'story', 'stories')} stay{'s' if due[0] == 1 else ''} due"
    return whose + f"stories stay due (up to {count(due[-1], 'story', 'stories')} each)"


def _digest_recipients_since(store: Store, since: datetime) -> set[str]:
    """Recipients a digest reached at or after ``since`` (to resume an interrupted run)."""
    cutoff = iso(since) or ""
    return {
        str(m["recipient"]).lower()
        for m in ledger.messages(store)
        if m["kind"] == "digest" and m["status"] == "sent" and str(m["sent"] or "") >= cutoff
    }


# -- entry point -------------------------------------------------------------------------------


def setup_logging(debug: bool = False, quiet: bool = False) -> None:
    """One line per event on stderr; journald adds its own timestamps, so none under it (``quiet``: warnings
    and errors only)."""
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(_JournalFormatter("%(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.INFO if debug else logging.WARNING)


class _JournalFormatter(logging.Formatter):
    """Prefixes syslog priorities (<3> error, <4> warning, …) that journald turns into levels."""

    _PRIORITY: ClassVar[dict[int, int]] = {
        logging.CRITICAL: 2,
        logging.ERROR: 3,
        logging.WARNING: 4,
        logging.INFO: 6,
        logging.DEBUG: 7,
    }

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record).replace("\n", "\n  ")
        return f"<{self._PRIORITY.get(record.levelno, 6)}>{text}"


def hold_database(database: Path) -> int | None:
    """Takes the daemon's lock on ``database``: ``<database>.lock`` beside it, held (flock) while this process lives.

    Returns the open lock's descriptor, or None when the lock file cannot be made or opened (the store then
    reports the folder's problem). A second `newswatch run` on the same database is refused: two daemons would
    poll every source and send every digest twice over.
    """
    import fcntl

    lock_path = Path(f"{database}.lock")
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)  # as the store makes it
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        try:
            fd = os.open(lock_path, os.O_RDONLY)
        except OSError:
            return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        try:
            holder = os.read(fd, 32).decode("ascii", "replace").strip()
        except OSError:
            holder = ""
        os.close(fd)
        who = f" (pid {holder})" if holder.isdigit() else ""
        raise UsageError(
            f"another 'newswatch run'{who} is already using the database {database}; stop it first "
            "(under systemd: systemctl stop newswatch), or give this config its own [storage] database"
        ) from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except OSError:
        pass  # a lock file this user may only read still locks; the pid is only for the message
    return fd


def unusable_database(database: Path, exc: StoreError | None = None) -> UsageError | None:
    """A database the daemon cannot use where the config puts it, as a config problem (exit 2, which systemd does
    not restart: starting again cannot fix it): what `newswatch check` warns of (no permission, a read-only file
    system, a folder), or, from ``exc``, another program's file or one a newer newswatch upgraded. None when a
    restart may help (a lock, a full disk)."""
    from scheduler.advice import database_write_problem

    problem = database_write_problem(database)
    if (
        problem is None
        and exc is not None
        and ("is not a newswatch database" in str(exc) or isinstance(exc, NewerDatabase))
    ):
        return UsageError(str(exc))  # a newer newswatch's database: this older one, restarted, would refuse it again
    if problem is None:
        return None
    return UsageError(
        f"storage.database: {problem} ('newswatch check' warns of it too); fix it, then start newswatch again"
    )


def run_daemon(config_path: Path, debug: bool = False, quiet: bool = False) -> int:
    """Runs the daemon until SIGTERM/SIGINT; returns the exit code (0 on a clean stop)."""
    setup_logging(debug, quiet)
    daemon = Daemon(Path(config_path))
    try:
        if mails(daemon.config):
            from scheduler.mail import smtp_password

            # a password that cannot be found is said now, not at the first digest hours later
            smtp_password(daemon.config.smtp)  # type: ignore[arg-type]
        unusable = unusable_database(daemon.config.storage.database)
        if unusable is not None:
            raise unusable
        lock = hold_database(daemon.config.storage.database)
    except BaseException:
        daemon._cleanup()
        raise
    try:
        return asyncio.run(daemon.serve())
    except BaseException:
        daemon._cleanup()
        raise
    finally:
        if lock is not None:
            os.close(lock)
