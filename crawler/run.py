"""Run sources once: in this process (`crawl_once`) or, isolated, in a child process (`run_in_child`).

A Twisted reactor cannot restart and long-lived Scrapy processes grow, so the CLI and the daemon
both crawl in a short-lived child (`python -m crawler.run`) that reports JSON events on stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawler.config import Config, SourceConfig, load_config
from crawler.errors import NewswatchError, UsageError
from crawler.process import Processed
from crawler.store import Store, iso, parse_iso, utcnow

log = logging.getLogger("newswatch.crawl")
MAX_BACKOFF = 24 * 3600.0
BATCH_SIZE = 25  # articles per commit
BATCH_SECONDS = 0.5  # longest a batch stays open
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

    @property
    def all_failed(self) -> bool:
        tried = [s for s in self.sources if s.status != "skipped"]
        return bool(tried) and all(s.status in ("failed", "gone") for s in tried)

    def totals(self) -> dict[str, int]:
        keys = ("fetched", "new", "duplicates", "matched", "errors")
        return {k: sum(getattr(s, k) for s in self.sources) for k in keys}

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "sources": [asdict(s) for s in self.sources],
            "new_article_ids": self.new_article_ids,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CrawlSummary:
        return cls(
            [SourceStats(**s) for s in data["sources"]], data.get("run_id"), list(data.get("new_article_ids", []))
        )


class CrawlContext:
    """Everything one run shares between the spider and the pipelines."""

    def __init__(
        self,
        config: Config,
        store: Store,
        sources: Sequence[SourceConfig],
        urls: Sequence[str],
        emit: Callable[[Event], None],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.config = config
        self.store = store
        self.sources = list(sources)
        self.urls = list(urls)
        self.emit = emit
        self.now = clock
        self.pool: Any = None
        self.source_by_name = {s.name: s for s in self.sources}
        self.state = {s.name: store.source_state(s.name) for s in self.sources}
        self._first_poll = {s.name: not self.state[s.name]["polls"] for s in self.sources}
        self._stats: dict[str, SourceStats] = {s.name: SourceStats(s.name) for s in self.sources}
        self._seen: dict[str, set[str]] = {}
        self._pending: dict[str, set[str]] = {}
        self._validators: dict[str, tuple[str | None, str | None]] = {}
        self.keys_in_flight: set[str] = set()
        self.listing_pages_seen: set[str] = set()
        self.new_article_ids: list[int] = []
        self._batch_open = False
        self._batched = 0
        self._documents: dict[str, tuple[list[datetime], int]] = {}
        self.crawl_delays: dict[str, float] = {}

    # -- lookups -----------------------------------------------------------------------------

    def stats(self, name: str) -> SourceStats:
        if name not in self._stats:
            self._stats[name] = SourceStats(name, status="ok")
        return self._stats[name]

    def adhoc_source(self, url: str) -> str:
        """The source name of a --url page: its host, so digests still name the outlet."""
        host = (urlsplit(url).hostname or "url").lower()
        return host[4:] if host.startswith("www.") else host

    def source_language(self, name: str) -> str | None:
        s = self.source_by_name.get(name)
        return s.language if s else None

    def is_first_poll(self, name: str) -> bool:
        return self._first_poll.get(name, False)

    def seen_entries(self, name: str) -> set[str]:
        if name not in self._seen:
            self._seen[name] = self.store.seen_entries(name)
        return self._seen[name]

    def pending_urls(self, name: str) -> set[str]:
        if name not in self._pending:
            self._pending[name] = {r["canonical_url"] for r in self.store.pending_pages(name)}
        return self._pending[name]

    def known_urls(self, urls: Sequence[str]) -> dict[str, int]:
        return self.store.known_urls(list(dict.fromkeys(urls)))

    def clear_pending(self, url: str) -> None:
        self.store.clear_pending(url)

    def mark_entry(self, source: str, key: str, article_id: int | None) -> None:
        if source in self.source_by_name:
            self.store.mark_entries(source, [key], article_id)
            self.seen_entries(source).add(key)

    # -- source health -------------------------------------------------------------------------

    def _event(self, kind: str, source: str, **data: Any) -> None:
        self.emit({"event": kind, "source": source, **data})

    def source_ok(self, name: str, not_modified: bool = False) -> None:
        st = self.stats(name)
        if st.status in ("pending", "failed"):
            st.status = "not-modified" if not_modified else "ok"
            st.message = None
        self._event("source", name, status=st.status)

    def source_failed(self, name: str, error: str, retry_after: datetime | None = None) -> None:
        st = self.stats(name)
        st.errors += 1
        st.error_samples.append(error)
        if st.status in ("pending", "failed"):
            st.status = "failed"
            st.message = error
        self.state[name]["_retry_after"] = retry_after
        self._event("source", name, status="failed", error=error)

    def source_gone(self, name: str, error: str) -> None:
        st = self.stats(name)
        st.status, st.message = (
            "gone",
            f"{error}; the source is deactivated (re-enable: newswatch sources --reset {name})",
        )
        st.errors += 1
        self._event("source", name, status="gone", error=error)

    def source_moved(self, name: str, configured: str, new_url: str) -> None:
        if new_url != self.state[name].get("current_url"):
            self.store.update_source(name, configured_url=configured, current_url=new_url)
            self.warn(name, f"{configured} moved permanently to {new_url}; newswatch will poll the new URL")

    def note_validators(self, name: str, etag: str | None, modified: str | None) -> None:
        self._validators[name] = (etag, modified)

    def note_document(self, name: str, dates: Sequence[datetime | None], links: int) -> None:
        """A source document was read: its entries' dates and how many entries (links) it gave."""
        if name in self.source_by_name:
            old_dates, old_links = self._documents.get(name, ([], 0))
            self._documents[name] = (old_dates + [d for d in dates if d], old_links + links)

    def note_crawl_delay(self, host: str, delay: float) -> None:
        self.crawl_delays[host] = delay

    def warn(self, name: str, message: str) -> None:
        self.stats(name).warnings.append(message)
        log.warning("%s: %s", name, message)
        self._event("warning", name, message=message)

    def page_error(self, name: str, error: str) -> None:
        st = self.stats(name)
        st.errors += 1
        if len(st.error_samples) < 20:
            st.error_samples.append(error)
        self._event("page", name, status="error", error=error)

    # -- storing -------------------------------------------------------------------------------

    def store_processed(self, item: Any, processed: Processed) -> None:
        from crawler.spiders import FeedOnlyItem, PageItem

        if isinstance(item, PageItem):
            source, key = item.job.source, (item.job.feed.key if item.job.feed else None)
            key = key or _entry_key(item.job.url)
        else:
            assert isinstance(item, FeedOnlyItem)
            source, key = item.source, item.feed.key or _entry_key(item.url)
        st = self.stats(source)
        if processed.record is None:
            st.errors += 1
            st.error_samples.append(f"{getattr(item, 'job', item).url}: {processed.reason}")
            self.mark_entry(source, key, None)
            self._event("page", source, status="empty")
            return
        self._open_batch()
        with self.store.transaction():  # a savepoint in the open batch: one article is all or nothing
            result = self.store.add_article(processed.record)
            if result.status in ("new", "updated"):
                self.store.set_matches(result.article_id, processed.matches)
            self.mark_entry(source, key, result.article_id)
        self._batched += 1
        if self._batched >= BATCH_SIZE:
            self.flush()
        if result.status == "new":
            st.new += 1
            self.new_article_ids.append(result.article_id)
            if result.story != str(result.article_id):
                st.duplicates += 1
        elif result.status == "duplicate":
            st.duplicates += 1
        if processed.matches and result.status in ("new", "updated"):
            st.matched += 1
        url = item.job.url if isinstance(item, PageItem) else item.url
        self._event(
            "page", source, status=result.status, matched=bool(processed.matches), article_id=result.article_id, url=url
        )

    def _open_batch(self) -> None:
        # Articles are committed in small batches (a commit per article was the crawl process's
        # largest cost); a timer commits a partial batch so the write lock is never held for long.
        if not self._batch_open:
            from twisted.internet import reactor

            self.store.begin_batch()
            self._batch_open, self._batched = True, 0
            reactor.callLater(BATCH_SECONDS, self.flush)

    def flush(self) -> None:
        """Commits the open batch of articles (a kill before this loses them; they are fetched again)."""
        if self._batch_open:
            self.store.commit_batch()
            self._batch_open = False

    def finish(self) -> CrawlSummary:
        """Writes every source's health and returns the run's summary."""
        self.flush()
        now = self.now()
        for s in self.sources:
            st = self.stats(s.name)
            state = self.state[s.name]
            fields: dict[str, Any] = {"last_attempt": iso(now)}
            if st.status in ("ok", "not-modified"):
                etag, modified = self._validators.get(s.name, (state.get("etag"), state.get("last_modified")))
                fields.update(
                    last_success=iso(now),
                    failures=0,
                    failing_since=None,
                    retry_after=None,
                    next_poll=iso(now + timedelta(seconds=s.every)),
                    polls=state["polls"] + 1,
                    etag=etag,
                    last_modified=modified,
                )
            elif st.status == "failed":
                failures = state["failures"] + 1
                backoff = min(s.every * 2 ** min(failures - 1, 16), max(MAX_BACKOFF, s.every))
                next_poll = now + timedelta(seconds=backoff)
                retry_after = state.get("_retry_after")
                if retry_after and retry_after > next_poll:
                    next_poll = retry_after
                fields.update(
                    failures=failures,
                    last_error=st.message,
                    last_error_at=iso(now),
                    failing_since=state.get("failing_since") or iso(now),
                    next_poll=iso(next_poll),
                    retry_after=iso(retry_after) if retry_after else None,
                )
            elif st.status == "gone":
                fields.update(
                    active=0,
                    inactive_reason=st.message,
                    last_error=st.message,
                    last_error_at=iso(now),
                    failing_since=state.get("failing_since") or iso(now),
                )
            if st.status != "skipped":
                self.store.update_source(s.name, **fields)
            if st.status == "ok":
                self._record_freshness(s, now)
        extra = [st for name, st in self._stats.items() if name not in self.source_by_name]
        for st in extra:  # --url pages: ok unless every page failed
            st.status = "failed" if st.errors and not (st.new or st.duplicates) else "ok"
        return CrawlSummary([self.stats(s.name) for s in self.sources] + extra, new_article_ids=self.new_article_ids)

    def _record_freshness(self, source: SourceConfig, now: datetime) -> None:
        """Keeps what the source's documents held, and says at once when it looks dead."""
        from crawler import health

        doc = self._documents.get(source.name)
        host = (urlsplit(source.url).hostname or "").lower()
        fields: dict[str, Any] = {}
        if host in self.crawl_delays:
            fields["crawl_delay"] = self.crawl_delays[host]
        if doc is not None:
            dates, links = doc
            fields.update(
                entry_dates=health.merge_stored_dates(self.store.stored_entry_dates(source.name), dates, now),
                links=links,
                checked=iso(now),
            )
            problem = health.first_look(source, dates, links, now, first_poll=self.is_first_poll(source.name))
            if problem:
                self.warn(source.name, problem)
        if fields:
            self.store.record_freshness(source.name, **fields)


def _entry_key(url: str) -> str:
    from crawler.urls import canonicalize

    return canonicalize(url)


def select_sources(config: Config, names: Sequence[str]) -> list[SourceConfig]:
    """The named sources (all when none); unknown names are a usage error."""
    if not names:
        return list(config.sources)
    known = {s.name: s for s in config.sources}
    unknown = [n for n in names if n not in known]
    if unknown:
        listing = ", ".join(sorted(known)) or "none configured"
        raise UsageError(f"unknown source {unknown[0]!r}; configured sources: {listing}")
    return [known[n] for n in dict.fromkeys(names)]


def crawl_once(
    config: Config,
    source_names: Sequence[str] = (),
    urls: Sequence[str] = (),
    *,
    trigger: str = "cli",
    emit: Callable[[Event], None] = lambda e: None,
    workers: int | None = None,
) -> CrawlSummary:
    """One pass over the sources in THIS process (the reactor can run only once per process)."""
    from scrapy.crawler import AsyncCrawlerProcess

    from crawler.custom import user_spider_class
    from crawler.matching import sync_topics
    from crawler.pipelines import make_pool, worker_count
    from crawler.settings import scrapy_settings
    from crawler.spiders import NewsSpider

    # URLs alone fetch only those pages; naming sources as well polls them too
    sources = [] if urls and not source_names else select_sources(config, source_names)
    store = Store(config.storage.database)
    sync_topics(config, store)  # a changed query re-matches recent articles before new ones arrive
    skipped: list[SourceStats] = []
    polled: list[SourceConfig] = []
    now = utcnow()
    for s in sources:
        state = store.source_state(s.name)
        retry_after = parse_iso(state.get("retry_after"))
        if not state["active"]:
            skipped.append(SourceStats(s.name, status="skipped", message=f"deactivated: {state['inactive_reason']}"))
        elif retry_after and retry_after > now:
            skipped.append(
                SourceStats(
                    s.name, status="skipped", message=f"server asked to wait until {iso(retry_after)} (Retry-After)"
                )
            )
        else:
            polled.append(s)
    run_id = store.start_run(trigger)
    ctx = CrawlContext(config, store, polled, urls, emit)
    settings = scrapy_settings(config.crawl)
    settings["NEWSWATCH_ALLOW_PRIVATE"] = config.crawl.allow_private
    settings["LOG_INSTALL_ROOT_HANDLER"] = False
    process = AsyncCrawlerProcess(settings)
    _quiet_scrapy_logs()  # Scrapy's logging setup just set its loggers to DEBUG again
    ctx.pool = make_pool(worker_count() if workers is None else workers)
    try:
        crawls = 0
        if urls or any(s.kind != "spider" for s in polled):
            process.crawl(NewsSpider, ctx=ctx)
            crawls += 1
        for s in polled:
            if s.kind != "spider":
                continue
            try:
                spider_class = user_spider_class(s)
            except NewswatchError as exc:  # a spider that cannot be loaded fails its source only
                ctx.source_failed(s.name, str(exc))
                continue
            process.crawl(spider_class, ctx=ctx, source=s)
            crawls += 1
        if crawls:
            process.start(install_signal_handlers=False)
    finally:
        if ctx.pool is not None:
            ctx.pool.shutdown(wait=True, cancel_futures=True)
    summary = ctx.finish()
    summary.sources = summary.sources + skipped
    summary.run_id = run_id
    status = (
        "failed" if summary.all_failed else ("partial" if any(s.status == "failed" for s in summary.sources) else "ok")
    )
    store.finish_run(run_id, status, summary.to_json())
    store.close()
    return summary


# -- the child process ---------------------------------------------------------------------------


def run_in_child(
    config_path: Path,
    source_names: Sequence[str] = (),
    urls: Sequence[str] = (),
    *,
    trigger: str = "cli",
    on_event: Callable[[Event], None] = lambda e: None,
    timeout: float | None = None,
    extra_env: dict[str, str] | None = None,
) -> CrawlSummary:
    """Runs crawl_once in a fresh `python -m crawler.run` child; kills it after `timeout` seconds."""
    cmd = [sys.executable, "-m", "crawler.run", "--config", str(config_path), "--trigger", trigger]
    for n in source_names:
        cmd += ["--source", n]
    for u in urls:
        cmd += ["--url", u]
    env = {**os.environ, **(extra_env or {})}
    pkg_root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = pkg_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True)
    killed = threading.Event()

    def _kill() -> None:
        killed.set()
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    timer = threading.Timer(timeout, _kill) if timeout else None
    if timer:
        timer.daemon = True
        timer.start()
    stderr_lines: list[str] = []
    err_thread = threading.Thread(
        target=lambda: stderr_lines.extend(line.decode("utf-8", "replace") for line in proc.stderr), daemon=True
    )  # type: ignore[union-attr]
    err_thread.start()
    summary: CrawlSummary | None = None
    error: dict[str, Any] | None = None
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            try:
                event = json.loads(raw)
            except ValueError:
                continue
            if event.get("event") == "summary":
                summary = CrawlSummary.from_json(event["summary"])
            elif event.get("event") == "error":
                error = event
            else:
                on_event(event)
        proc.wait()
    except BaseException:
        _kill()
        proc.wait()
        raise
    finally:
        if timer:
            timer.cancel()
        err_thread.join(timeout=5)
    if killed.is_set():
        raise NewswatchError(f"the crawl did not finish within {int(timeout or 0)}s and was stopped")
    if error is not None:
        cls = UsageError if error.get("usage") else NewswatchError
        raise cls(error["message"])
    if summary is None:
        tail = "".join(stderr_lines[-5:]).strip().splitlines()
        detail = tail[-1] if tail else f"exit code {proc.returncode}"
        raise NewswatchError(f"the crawl process failed: {detail}")
    return summary


def _quiet_scrapy_logs() -> None:
    # Scrapy's own per-request errors are reported through the summary; its log stays for --debug.
    quiet = logging.DEBUG if os.environ.get("NEWSWATCH_DEBUG") else logging.CRITICAL
    for name in ("scrapy", "twisted", "py.warnings"):
        logging.getLogger(name).setLevel(quiet)


def _exit_with_parent() -> None:
    """A crawl child whose parent died (a SIGKILLed daemon) stops too; SQLite rolls back its open write."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawler.run")
    parser.add_argument("--config", required=True)
    parser.add_argument("--trigger", default="cli")
    parser.add_argument("--source", action="append", default=[])
    parser.add_argument("--url", action="append", default=[])
    args = parser.parse_args(argv)
    _exit_with_parent()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    _quiet_scrapy_logs()
    out = sys.stdout
    lock = threading.Lock()

    def emit(event: Event) -> None:
        with lock:
            out.write(json.dumps(event, ensure_ascii=False, default=str) + "\n")
            out.flush()

    try:
        config = load_config(args.config)
        summary = crawl_once(config, args.source, args.url, trigger=args.trigger, emit=emit)
    except NewswatchError as exc:
        emit({"event": "error", "message": str(exc), "usage": exc.exit_code == 2})
        return exc.exit_code
    emit({"event": "summary", "summary": summary.to_json()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
