"""`newswatch run`: the long-running daemon (APScheduler on an asyncio loop, sd_notify, signals).

The only module that imports APScheduler's scheduler (the config imports its cron parser to
validate schedules). Every crawl runs in a short-lived child process (crawler.run.run_in_child):
a Twisted reactor cannot restart, long-lived Scrapy processes grow, and a child that hangs or
crashes is killed without harming the daemon. Digests and alerts run in this process, in worker
threads, each with its own database handle.

Schedule state that matters lives in SQLite, not in APScheduler's memory: each source's next
poll (written by every crawl) and the last digest slot handled (``daemon.digest`` in the state
table), so a restart polls overdue sources and sends a missed digest exactly once.

Environment knobs (for tests and benchmarks; production needs none):
  NEWSWATCH_START_SPREAD   seconds over which overdue sources are spread at start (default 60)
  NEWSWATCH_CRAWL_TIMEOUT  seconds before a crawl child is killed (default max(5 min, 10 × crawl.timeout))
  NEWSWATCH_CRAWL_WORKERS  crawls run at once (default 2)
  NEWSWATCH_MAX_FAILURES   jobs failing in a row before the daemon says so loudly and checks that it
                           can still use its database, exiting 1 when it cannot (default 5)
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from crawler.config import Config, SourceConfig
from crawler.errors import ConfigError, NewswatchError, UsageError
from crawler.store import Store, iso, parse_iso, utcnow
from scheduler import ledger
from scheduler.config_snapshot import load_snapshot
from scheduler.notify import Notifier

log = logging.getLogger("newswatch.daemon")

DIGEST_STATE_KEY = "daemon.digest"
STOP_GRACE = 20.0  # seconds in-flight work gets after SIGTERM (systemd waits TimeoutStopSec=90)
DIGEST_RETRIES = 3
DIGEST_RETRY_AFTER = timedelta(minutes=15)
DUE_TOLERANCE = 1.0  # a poll this close to its stored next_poll runs now


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ[name])
    except (KeyError, ValueError):
        return default


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


def crawl_children(parent: int | None = None) -> list[int]:
    """PIDs of this process's crawl children (``python -m crawler.run``), from /proc."""
    parent = os.getpid() if parent is None else parent
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            if ppid == parent and b"crawler.run" in (entry / "cmdline").read_bytes():
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


# -- the daemon --------------------------------------------------------------------------------


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
        self._spread = _env_float("NEWSWATCH_START_SPREAD", 60.0)
        self.failures = FailureCount(int(_env_float("NEWSWATCH_MAX_FAILURES", 5)))
        self._reload_problem: str | None = None
        self.exit_code = 0

    # -- config ----------------------------------------------------------------------------

    def _load(self) -> tuple[Config, Path]:
        self._generation += 1
        config, snapshot = load_snapshot(self.config_path, self.workdir / f"config-{self._generation}")
        return config, snapshot

    def crawl_timeout(self, config: Config) -> float:
        return _env_float("NEWSWATCH_CRAWL_TIMEOUT", max(300.0, 10 * config.crawl.timeout))

    # -- lifecycle ---------------------------------------------------------------------------

    async def serve(self) -> int:
        self.loop = asyncio.get_running_loop()
        self._stop_requested = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            self.loop.add_signal_handler(sig, self.request_stop, sig)
        self.loop.add_signal_handler(signal.SIGHUP, self.reload)

        with Store(self.config.storage.database) as store:  # opens and migrates before READY=1
            ledger.prepare(store)
            catch_up = missed_digest(store, digest_trigger(self.config), utcnow()) if mails(self.config) else None
        workers = int(_env_float("NEWSWATCH_CRAWL_WORKERS", 2))
        self.scheduler = AsyncIOScheduler(
            event_loop=self.loop,
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(max(1, workers)), "digest": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self._schedule_sources(self.config, initial=True)
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
        if mails(self.config):
            log.info(
                "newswatch running: %d sources, digest %r (%s); database %s",
                len(self.config.sources),
                self.config.digest.schedule,  # type: ignore[union-attr]
                self.config.digest.timezone,  # type: ignore[union-attr]
                self.config.storage.database,
            )
        else:
            log.info(
                "newswatch running in archive mode (%s): %d sources are crawled and stored, no mail is sent; "
                "database %s",
                archive_reason(self.config),
                len(self.config.sources),
                self.config.storage.database,
            )
        self._log_next_polls(self.config)
        self.notifier.ready(self.status_line())
        self._watchdog_tick()

        await self._stop_requested.wait()
        return await self._shutdown()

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
        self.scheduler.shutdown(wait=False)
        children = crawl_children()
        for pid in children:  # their writes are transactional: killing them loses nothing stored
            kill_group(pid)
        if children:
            log.info("stopped %d crawl process(es); their sources are polled again on the next start", len(children))
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
            self._reload_rejected("; ".join(problems))
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
        self.config, self.snapshot = config, snapshot
        changes = self._schedule_sources(config, initial=False, old=old)
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
        log.info("config reloaded: %d sources; %s", len(config.sources), "; ".join(changes) or "no schedule changes")
        self.notifier.status(self.status_line())

    def _reload_rejected(self, problem: str) -> None:
        log.error("config reload rejected, still running the previous config: %s", problem)
        self._reload_problem = f"{_clock()} config reload rejected: {problem}"
        self.notifier.status(self.status_line())

    # -- scheduling --------------------------------------------------------------------------

    def _schedule_sources(self, config: Config, *, initial: bool, old: Config | None = None) -> list[str]:
        assert self.scheduler is not None
        before = {s.name: s for s in (old.sources if old else ())}
        after = {s.name: s for s in config.sources}
        changes: list[str] = []
        for name in before.keys() - after.keys():
            self._remove_job(f"source:{name}")
            changes.append(f"removed {name}")
        todo = [s for s in config.sources if before.get(s.name) != s]
        for s in todo:
            if s.name in before:
                changes.append(f"changed {s.name}")
            elif not initial:
                changes.append(f"added {s.name}")
        with Store(config.storage.database) as store:
            firsts = self._first_polls(store, todo, utcnow())
        for s in todo:
            self.scheduler.add_job(
                self._crawl_job,
                IntervalTrigger(seconds=s.every),
                args=[s.name],
                id=f"source:{s.name}",
                name=s.name,
                next_run_time=firsts[s.name],
                replace_existing=True,
            )
        return changes

    def _log_next_polls(self, config: Config) -> None:
        """One line per source at start: when it is polled next, so an operator knows what to expect."""
        assert self.scheduler is not None
        now = utcnow()
        for s in config.sources:
            job = self.scheduler.get_job(f"source:{s.name}")
            when = job.next_run_time if job is not None else None
            if when is None:
                log.info("source %s: not scheduled", s.name)
                continue
            wait = max(0.0, (when - now).total_seconds())
            log.info(
                "source %s: next poll %s (in %s), then every %s",
                s.name,
                iso(when),
                _human(wait),
                _human(s.every),
            )

    def _first_polls(self, store: Store, sources: Sequence[SourceConfig], now: datetime) -> dict[str, datetime]:
        """Each source's first run: its stored next_poll, or, when never polled or overdue, soon and spread out."""
        out: dict[str, datetime] = {}
        overdue = []
        for s in sources:
            next_poll = parse_iso(store.source_state(s.name).get("next_poll"))
            if next_poll is not None and next_poll > now:
                out[s.name] = next_poll
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

    def _remove_job(self, job_id: str) -> None:
        assert self.scheduler is not None
        try:
            self.scheduler.remove_job(job_id)
        except JobLookupError:
            pass

    @contextmanager
    def _work(self) -> Iterator[None]:
        with self._busy_lock:
            self._busy += 1
        try:
            yield
        finally:
            with self._busy_lock:
                self._busy -= 1

    # -- jobs (worker threads) -----------------------------------------------------------------

    def _crawl_job(self, name: str) -> None:
        if self.stopping.is_set():
            return
        config, snapshot = self.config, self.snapshot
        try:
            source = config.source(name)
        except KeyError:
            return  # removed by a reload while this run was queued
        with self._work():
            try:
                self._crawl(config, snapshot, source)
            except NewswatchError as exc:
                log.error("crawl %s: failed: %s", name, exc)
                self._job_failed(f"crawl {name}", str(exc))
            except Exception as exc:
                log.exception("crawl %s: unexpected error (the daemon goes on)", name)
                self._job_failed(f"crawl {name}", f"{type(exc).__name__}: {exc}")

    def _crawl(self, config: Config, snapshot: Path, source: SourceConfig) -> None:
        from crawler.run import run_in_child

        name = source.name
        with Store(config.storage.database) as store:
            state = store.source_state(name)
            now = utcnow()
            next_poll = parse_iso(state.get("next_poll"))
            if not state["active"]:
                log.debug("crawl %s: skipped, the source is deactivated", name)
                return
            if next_poll is not None and (next_poll - now).total_seconds() > DUE_TOLERANCE:
                # Polled meanwhile (a CLI crawl), backing off, or told to wait: follow the stored time.
                self._realign(name, next_poll)
                return
        started = time.monotonic()
        try:
            summary = run_in_child(snapshot, [name], trigger="daemon", timeout=self.crawl_timeout(config))
        except NewswatchError as exc:
            took = time.monotonic() - started
            if self.stopping.is_set():
                log.info("crawl %s: stopped by shutdown after %.1fs", name, took)
            else:
                log.error("crawl %s: failed after %.1fs: %s", name, took, exc)
                self._last_crawl = f"{_clock()} {name} failed"
                self._job_failed(f"crawl {name}", str(exc))
            return
        took = time.monotonic() - started
        t = summary.totals()
        statuses = sorted({s.status for s in summary.sources})
        problem = "; ".join(s.message for s in summary.sources if s.message)
        errors = _error_names(summary)
        log.log(
            logging.ERROR if summary.all_failed else logging.INFO,
            "crawl %s: %s; fetched %d, new %d, duplicates %d, matched %d, errors %d%s; %.1fs%s",
            name,
            "/".join(statuses),
            t["fetched"],
            t["new"],
            t["duplicates"],
            t["matched"],
            t["errors"],
            f" ({errors})" if errors else "",
            took,
            f" ({problem})" if problem else "",
        )
        self._last_crawl = f"{_clock()} {name} {'failed' if summary.all_failed else 'ok'} {t['new']} new"
        with Store(config.storage.database) as store:
            self._realign(name, parse_iso(store.source_state(name).get("next_poll")))
            if summary.new_article_ids and not self.stopping.is_set() and mails(config):
                self._alerts(config, store)
        if summary.all_failed:
            self._job_failed(f"crawl {name}", problem or "every fetch failed")
        else:
            self._job_ok()

    def _realign(self, name: str, next_poll: datetime | None) -> None:
        """Move the source's next run to the stored next_poll (intervals count from a crawl's end; backoff)."""
        if self.scheduler is None or next_poll is None or next_poll <= utcnow() or self.stopping.is_set():
            return
        try:
            self.scheduler.modify_job(f"source:{name}", next_run_time=next_poll)
        except JobLookupError:
            pass

    def _alerts(self, config: Config, store: Store) -> None:
        from scheduler.digest import send_alerts

        try:
            results = send_alerts(config, store)
        except NewswatchError as exc:
            log.error("alerts: not sent: %s", exc)
            return
        for r in results:
            if r.status == "sent":
                log.info("alert: %s: sent %d stories", r.email, r.stories)
            else:
                log.error("alert: %s: not sent: %s", r.email, r.error)

    def _digest_job(self, slot: datetime | None = None) -> None:
        if self.stopping.is_set():
            return
        config = self.config
        with self._work():
            try:
                self._digest(config, slot)
            except NewswatchError as exc:
                log.error("digest: failed: %s", exc)
                self._job_failed("digest", str(exc))
            except Exception as exc:
                log.exception("digest: unexpected error (the daemon goes on)")
                self._job_failed("digest", f"{type(exc).__name__}: {exc}")

    def _digest(self, config: Config, slot: datetime | None) -> None:
        from scheduler.digest import run_digest

        now = utcnow()
        if slot is None:
            slot = last_fire_at_or_before(digest_trigger(config), now) or now
        assert config.digest is not None
        started = time.monotonic()
        with Store(config.storage.database) as store:
            state = DigestSlot.load(store)
            if state is not None and state.done and state.slot >= slot:
                log.info("digest for %s already sent", iso(slot))
                return
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
        log.info(
            "digest %s: %d recipients, %d sent, %d stories, %d failed%s; %.1fs",
            iso(slot),
            len(todo),
            len(sent),
            sum(r.stories for r in sent),
            len(todo_failed),
            f" (already sent to {len(done)} before a restart)" if done else "",
            time.monotonic() - started,
        )
        for r in results:
            if r.status == "failed":
                log.error("digest: %s: not sent: %s", r.email, r.error)
        if todo_failed and not self.stopping.is_set():
            self._schedule_retry(todo_failed, 1)
        if digest_error and len(todo_failed) == len(todo):
            self._job_failed("digest", digest_error)
        else:
            self._job_ok()

    def _schedule_retry(self, emails: Sequence[str], attempt: int) -> None:
        if self.scheduler is None or attempt > DIGEST_RETRIES:
            return
        at = utcnow() + DIGEST_RETRY_AFTER
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

    def _retry_job(self, emails: list[str], attempt: int) -> None:
        from scheduler.digest import run_digest

        if self.stopping.is_set():
            return
        config = self.config
        failed: list[str] = []
        with self._work(), Store(config.storage.database) as store:
            for email in emails:
                try:
                    result = run_digest(config, store, recipient=email).results
                except NewswatchError as exc:
                    log.error("digest retry: %s: %s", email, exc)
                    failed.append(email)
                    continue
                for r in result:
                    log.info(
                        "digest retry: %s: %s %d stories%s",
                        r.email,
                        r.status,
                        r.stories,
                        f" ({r.error})" if r.error else "",
                    )
                    if r.status == "failed":
                        failed.append(email)
        if failed:
            self._schedule_retry(failed, attempt + 1)

    # -- status ------------------------------------------------------------------------------

    def _job_ok(self) -> None:
        self.failures.ok()
        self._update_status()

    def _job_failed(self, job: str, reason: str) -> None:
        """Counts a failed job; at the limit says so at critical priority and exits if the database is unusable."""
        if self.stopping.is_set():
            return
        if self.failures.failed(f"{job}: {reason}"):
            log.critical(
                "newswatch is not working: the last %d jobs failed (latest: %s); "
                "see 'newswatch sources' and the errors above",
                self.failures.count,
                self.failures.last,
            )
            problem = self._database_problem()
            if problem is not None:
                log.critical("cannot use the database: %s; exiting so that systemd restarts and reports it", problem)
                self.exit_code = 1
                if self.loop is not None:
                    self.loop.call_soon_threadsafe(self.request_stop)
                return
        self._update_status()

    def _database_problem(self) -> str | None:
        """Why the daemon cannot write its database, or None when a test write succeeds."""
        try:
            with Store(self.config.storage.database) as store:
                store.set_state("daemon.alive", iso(utcnow()))
        except Exception as exc:  # any error here means the same: no work can be stored
            return f"{self.config.storage.database}: {exc}"
        return None

    def status_line(self) -> str:
        parts = []
        if self._reload_problem:
            parts.append(self._reload_problem)
        if self.failures.count:
            parts.append(f"FAILING: {self.failures.count} jobs in a row, latest {self.failures.last}")
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


def _digest_recipients_since(store: Store, since: datetime) -> set[str]:
    """Recipients a digest reached at or after ``since`` (to resume an interrupted run)."""
    cutoff = iso(since) or ""
    return {
        str(m["recipient"]).lower()
        for m in ledger.messages(store)
        if m["kind"] == "digest" and m["status"] == "sent" and str(m["sent"] or "") >= cutoff
    }


# -- entry point -------------------------------------------------------------------------------


def setup_logging(debug: bool = False) -> None:
    """One line per event on stderr; journald adds its own timestamps, so none under it."""
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(_JournalFormatter("%(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
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


def run_daemon(config_path: Path, debug: bool = False) -> int:
    """Runs the daemon until SIGTERM/SIGINT; returns the exit code (0 on a clean stop)."""
    setup_logging(debug)
    daemon = Daemon(Path(config_path))
    try:
        return asyncio.run(daemon.serve())
    except BaseException:
        daemon._cleanup()
        raise
