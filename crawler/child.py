"""The parent's side of a crawl in a child process: `run_in_child` and the summary it returns.

Kept apart from crawler.run (which the child runs) so that a process that only starts crawls
(the CLI, the daemon) loads neither the store, the page processing nor asyncio to do it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from crawler import notices
from crawler.config import Config, SourceConfig, checked_digest
from crawler.errors import NewswatchError, StoreError, UsageError, did_you_mean

Event = dict[str, Any]


@dataclass
class SourceStats:
    name: str
    fetched: int = 0
    new: int = 0
    duplicates: int = 0
    matched: int = 0
    errors: int = 0
    queued: int = 0
    status: str = "pending"  # ok | not-modified | failed | gone | skipped
    message: str | None = None
    warnings: list[str] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)


@dataclass
class CrawlSummary:
    sources: list[SourceStats]
    run_id: int | None = None
    new_article_ids: list[int] = field(default_factory=list)
    storage_error: str | None = None  # a write failed: the crawl failed, whatever the sources did

    @property
    def polled(self) -> list[SourceStats]:
        """The sources this crawl tried (not those it skipped as not yet due)."""
        return [s for s in self.sources if s.status != "skipped"]

    @property
    def all_failed(self) -> bool:
        tried = self.polled
        return bool(tried) and all(s.status in ("failed", "gone") for s in tried)

    def totals(self) -> dict[str, int]:
        keys = ("fetched", "new", "duplicates", "matched", "errors")
        return {k: sum(getattr(s, k) for s in self.sources) for k in keys}

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "sources": [asdict(s) for s in self.sources],
            "new_article_ids": self.new_article_ids,
            "storage_error": self.storage_error,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CrawlSummary:
        return cls(
            [SourceStats(**s) for s in data["sources"]],
            data.get("run_id"),
            list(data.get("new_article_ids", [])),
            data.get("storage_error"),
        )


def select_sources(config: Config, names: Sequence[str]) -> list[SourceConfig]:
    """The named sources (all when none); unknown names are a usage error."""
    if not names:
        return list(config.sources)
    known = {s.name: s for s in config.sources}
    unknown = [n for n in names if n not in known]
    if unknown:
        listing = ", ".join(sorted(known)) or "none configured"
        hint = did_you_mean(unknown[0], list(known))
        raise UsageError(f"unknown source {unknown[0]!r}; {hint}configured sources: {listing}")
    return [known[n] for n in dict.fromkeys(names)]


class CrawlStopped(NewswatchError):
    """A crawl child was killed (deadline) or died; ``finished`` names the sources whose polls were written."""

    def __init__(self, message: str, finished: set[str], started: set[str]) -> None:
        super().__init__(message)
        self.finished = finished
        self.started = started


def run_in_child(
    config_path: Path,
    source_names: Sequence[str] = (),
    urls: Sequence[str] = (),
    *,
    trigger: str = "cli",
    on_event: Callable[[Event], None] = lambda e: None,
    timeout: float | None = None,
    extra_env: dict[str, str] | None = None,
    source_deadline: float | None = None,
    started: datetime | None = None,
) -> CrawlSummary:
    """Runs crawl_once in a fresh `python -m crawler.run` child; kills it after `timeout` seconds.

    The child leads its own process group with its extraction workers; when it ends (or dies),
    the group is killed, and its death is noticed at once rather than when its pipe closes.
    """
    args = ["--config", str(config_path), "--trigger", trigger]
    for n in source_names:
        args += ["--source", n]
    for u in urls:
        args += ["--url", u]
    if source_deadline:
        args += ["--source-deadline", str(source_deadline)]
    if started is not None:
        args += ["--started", started.isoformat()]
    summary: CrawlSummary | None = None
    error: dict[str, Any] | None = None
    finished: set[str] = set()
    started: set[str] = set()

    def on_line(raw: bytes) -> None:
        nonlocal summary, error
        try:
            event = json.loads(raw)
        except ValueError:
            return
        kind = event.get("event")
        if kind == "summary":
            summary = CrawlSummary.from_json(event["summary"])
        elif kind == "error":
            error = event
        elif kind == "upgrade":  # the child upgraded the database first: said as this process would say it
            notices.upgrading(Path(event["database"]), event["migrations"], event["seconds"])
        else:
            if kind == "done":
                finished.add(event.get("source"))
            elif event.get("source"):
                started.add(event["source"])
            on_event(event)

    proc = _start("crawler.run", config_path, args, extra_env)
    killed, stderr_lines = _watch(proc, on_line, timeout)
    if killed:
        raise CrawlStopped(
            f"the crawl did not finish within {int(timeout or 0)}s and was stopped", finished, started - finished
        )
    if error is not None:
        cls = UsageError if error.get("usage") else NewswatchError
        raise cls(error["message"])
    if summary is None:
        raise CrawlStopped(
            f"the crawl process failed: {_death(proc.returncode, stderr_lines[-20:])}", finished, started - finished
        )
    return summary


def rematch_in_child(config_path: Path, *, timeout: float | None = None) -> int:
    """Brings the stored topic matches up to date with the config at ``config_path`` for what a digest may mail, in a
    fresh `python -m crawler.rematch` child (this process loads no topics); returns how many articles it matched.
    A NewswatchError says why it could not, a StoreError when the database could not be used (what it matched
    before is kept, the rest is done next time)."""
    said: dict[str, Any] = {}

    def on_line(raw: bytes) -> None:
        try:
            event = json.loads(raw)
        except ValueError:
            return
        if event.get("event") in ("synced", "error"):
            said.update(event)

    proc = _start("crawler.rematch", config_path, ["--config", str(config_path)])
    killed, stderr_lines = _watch(proc, on_line, timeout)
    if killed:
        raise NewswatchError(f"matching did not finish within {int(timeout or 0)}s and was stopped")
    if said.get("event") == "error":
        raise (StoreError if said.get("database") else NewswatchError)(said["message"])
    if "looked" not in said:
        raise NewswatchError(f"the matching process failed: {_death(proc.returncode, stderr_lines[-20:])}")
    return int(said["looked"])


def _start(
    module: str, config_path: Path, args: Sequence[str], extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """``python -m module args`` from this installation, leading its own process group (its workers with it)."""
    checked = checked_digest(config_path)  # this process found the file valid: the child need not compile its queries
    cmd = [sys.executable, "-m", module, *args, *(["--config-checked", checked] if checked else [])]
    env = {**os.environ, **(extra_env or {})}
    pkg_root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = pkg_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True)


def _watch(
    proc: subprocess.Popen[bytes], on_line: Callable[[bytes], None], timeout: float | None
) -> tuple[bool, list[str]]:
    """Reads the child's event lines until it exits, killing its group after ``timeout`` seconds; (whether it was
    killed, its stderr lines). When it ends (or dies), the group is killed, and its death is noticed at once rather
    than when its pipe closes."""
    killed = threading.Event()

    def _kill() -> None:
        killed.set()
        _kill_group(proc.pid)

    timer = threading.Timer(timeout, _kill) if timeout else None
    if timer:
        timer.daemon = True
        timer.start()
    stderr_lines: list[str] = []
    try:
        _pump(proc, on_line, stderr_lines.append)
    except BaseException:
        _kill()
        proc.wait()
        raise
    finally:
        if timer:
            timer.cancel()
        _kill_group(proc.pid)  # workers a dead child left behind
    return killed.is_set(), stderr_lines


def _death(code: int | None, tail: Sequence[str]) -> str:
    """Why a child ended without its summary: the signal that killed it, else the last error it wrote."""
    if code is not None and code < 0:  # what it wrote before says nothing of the kill
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}" + (" (the out-of-memory killer, or kill -9)" if -code == signal.SIGKILL else "")
    # a log line below WARNING (every child writes Scrapy's 'Using AsyncCrawlerProcess' first) is no reason
    said = [line for line in "".join(tail).strip().splitlines() if not line.startswith(("DEBUG ", "INFO "))]
    return said[-1] if said else f"exit code {code}"


def _pump(proc: subprocess.Popen[bytes], on_line: Callable[[bytes], None], on_err: Callable[[str], None]) -> None:
    """Reads the child's event lines and stderr until it exits; never waits on a pipe a grandchild holds."""
    import selectors

    assert proc.stdout is not None and proc.stderr is not None
    sel = selectors.DefaultSelector()
    buffers = {proc.stdout.fileno(): b"", proc.stderr.fileno(): b""}
    for f in (proc.stdout, proc.stderr):
        os.set_blocking(f.fileno(), False)
        sel.register(f.fileno(), selectors.EVENT_READ)

    def drain(fd: int) -> bool:
        """Reads what is there; False at EOF."""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                return True
            if not chunk:
                return False
            data = buffers[fd] + chunk
            *lines, buffers[fd] = data.split(b"\n")
            for line in lines:
                if fd == proc.stdout.fileno():  # type: ignore[union-attr]
                    on_line(line)
                else:
                    on_err(line.decode("utf-8", "replace") + "\n")

    try:
        open_fds = set(buffers)
        while open_fds:
            for key, _ in sel.select(timeout=0.2):
                if not drain(key.fd):
                    sel.unregister(key.fd)
                    open_fds.discard(key.fd)
            if proc.poll() is not None:
                for fd in list(open_fds):
                    drain(fd)  # what the child wrote before it exited; a grandchild may keep the pipe open
                break
        proc.wait()
        if buffers[proc.stdout.fileno()]:
            on_line(buffers[proc.stdout.fileno()])
    finally:
        sel.close()
        proc.stdout.close()
        proc.stderr.close()


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
