"""Run sources once: in this process (`crawl_once`) or, isolated, in a child process (`run_in_child`).

A Twisted reactor cannot restart and long-lived Scrapy processes grow, so the CLI and the daemon
both crawl in a short-lived child (`python -m crawler.run`) that reports JSON events on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sqlite3
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from crawler import notices
from crawler.child import (  # noqa: F401  (the parent's side, importable from here as before)
    CrawlStopped,
    CrawlSummary,
    Event,
    SourceStats,
    run_in_child,
    select_sources,
)
from crawler.config import Config, SourceConfig, checked_digest, load_config
from crawler.errors import NewswatchError, StoreError
from crawler.paths import database_write_problem
from crawler.polling import (
    PollOutcome,
    after_poll,
    as_configured,
    backoff,
    pending_retry_at,
    poll_target,
    read_as,
    settings_changed,
    skip_reason,
)
from crawler.process import (
    POOL_TOPICS_ENV,
    FeedInfo,
    Processed,
    own_lines,
    shows_headline,
)
from crawler.procs import exit_with_parent
from crawler.settings import import_tls_early, quiet_scrapy_logs
from crawler.store import REMOVED_KEEP, Store, UpgradeRefused, iso, parse_iso, utcnow
from crawler.walls import Said, Sayings, said

if TYPE_CHECKING:
    from crawler.feeds import ReadItem

log = logging.getLogger("newswatch.crawl")
T = TypeVar("T")
BATCH_SIZE = 25  # articles per commit
BATCH_SECONDS = 0.5  # longest a batch stays open
MAX_POOL_RESTARTS = 3  # extraction pools started again after a worker died, per run
MAX_EARLY = 60.0  # seconds a crawl started ahead of its scheduled poll waits at most
REMATCH_BUDGET = 20.0  # seconds a crawl matches again the articles an upgrade changed the text of (crawler.matching)


class CrawlContext:
    """Everything one run shares between the spider and the pipelines, and each source's poll lifecycle.

    A source's poll is finished (its health, validators and success written) only when every
    request and item it started has been handled and every entry is stored or recorded pending;
    until then nothing about the poll is written, so a kill or a storage error loses no entry.
    """

    def __init__(
        self,
        config: Config,
        store: Store,
        sources: Sequence[SourceConfig],
        urls: Sequence[str],
        emit: Callable[[Event], None],
        clock: Callable[[], datetime] = utcnow,
        source_deadline: float | None = None,
        started: datetime | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.sources = list(sources)
        self.urls = list(urls)
        self.emit = emit
        self.now = clock
        # When the poll is due to begin: the daemon passes its schedule, so intervals do not drift
        # by the crawl child's start-up. A child started ahead of it (the daemon starts children
        # early by their usual start-up time) waits until then before its first request.
        self.began = clock()  # when this process began polling: deadlines count from here
        self.started = self.began if started is None else min(started, self.began + timedelta(seconds=MAX_EARLY))
        self.pool: Any = None
        self.pool_factory: Callable[[bool], Any] | None = None
        self.pool_encoder = False  # its forkserver loads a topic model's sentence encoder (the demo's crawl)
        self.pool_language_model = True
        self._pool_starting: asyncio.Future[Any] | None = None
        self._new_pool: Any = None
        self.pool_restarts = 0
        self._broken_pools: list[Callable[[], None]] = []  # each kills what is left of one broken pool
        self.pool_exhausted = False  # workers kept dying: pages are kept from their feeds instead
        self._here: ThreadPoolExecutor | None = None  # the thread that processes pages without a pool (``here``)
        self.source_by_name = {s.name: s for s in self.sources}
        self._stored = {s.name: store.poll_state(s.name) for s in self.sources}  # as written before this run
        self.state = {s.name: as_configured(self._stored[s.name], s) for s in self.sources}
        self._first_poll = {s.name: not self.state[s.name].polls for s in self.sources}
        self._read_as = {s.name: store.read_as(s.name) for s in self.sources}  # what their validators were read with
        # read with settings changed since the last complete poll (a window widened, a listing's new pattern, another
        # spider): what it newly takes was listed before, as a first poll's entries were (backlog_poll)
        self._new_settings = {
            s.name: settings_changed(self._read_as[s.name], s) and not self._first_poll[s.name] for s in self.sources
        }
        self._stats: dict[str, SourceStats] = {s.name: SourceStats(s.name) for s in self.sources}
        self._seen: dict[str, set[str]] = {}
        self._backlog: dict[str, set[str]] = {}
        self._pending: dict[str, set[str]] = {}
        self._validators: dict[str, tuple[str | None, str | None]] = {}
        self._retry_after: dict[str, datetime | None] = {}
        self._moved: dict[str, str] = {}
        self._outstanding: dict[str, int] = {s.name: 0 for s in self.sources}
        self._unresolved: dict[str, int] = {s.name: 0 for s in self.sources}
        self.finished: set[str] = set()
        self.storage_error: str | None = None
        self._ours: set[str] = set()  # sources whose poll failed only because the database could not be written
        self.deadline = source_deadline
        self.stopped: set[str] = set()  # sources stopped at the deadline: their requests are given up
        self._requests: dict[str, set[asyncio.Future[Any]]] = {}
        self._given_up: set[asyncio.Future[Any]] = set()
        self.keys_in_flight: set[str] = set()
        self.new_pages: dict[str, int] = {}  # per source: pages of new entries requested in this run (max_new_pages)
        self.pages_listed: set[str] = set()  # the canonical URLs of the pages requested for entries in this run
        self.listing_pages_seen: set[str] = set()
        self.new_article_ids: list[int] = []
        self.on_all_finished: Callable[[], None] | None = None
        self._batch_open = False
        self._batched = 0
        # what the open batch counted (source, new, duplicate, matched, article id): taken back if its commit fails
        self._uncommitted: list[tuple[str, bool, bool, bool, int]] = []
        self._documents: dict[str, tuple[list[datetime], int]] = {}
        self.crawl_delays: dict[str, float] = {}
        self._entry_articles: dict[str, set[int]] = {}
        self._listed: dict[str, set[str]] = {}  # per source: the canonical URLs its documents list in this run
        self._false_canonical: set[str] = set()
        self._claims: dict[str, str] = {}  # canonical URL -> the title of the article it names
        # (source, content hash) -> the first page's (url, listed URL; None for one stored by an earlier run)
        self._bodies: dict[tuple[str, str], tuple[str, str | None]] = {}
        self._said: dict[str, Sayings] = {}  # per source: what each page said of its own (crawler.walls)
        self._demoted: dict[str, tuple[Any, Processed]] = {}  # a page's listed URL -> its feed entry, to store instead
        self.entries_listed: dict[str, dict[str, FeedInfo]] = {}  # per source: its entries of this run, by page
        self._feed_items: dict[str, dict[str, str]] = {}  # per source: its feed's items as last read (JSON by hash)
        self._children: dict[str, dict[str, dict[str, Any]]] = {}  # per source: its sitemap children as stored
        self._children_read: dict[str, dict[str, dict[str, Any]]] = {}  # ... as this poll left them
        self._children_listed: dict[str, set[str]] = {}  # ... the children its indexes list in this poll

    # -- lookups -----------------------------------------------------------------------------

    def stats(self, name: str) -> SourceStats:
        if name not in self._stats:
            self._stats[name] = SourceStats(name, status="ok")
        return self._stats[name]

    def adhoc_source(self, url: str) -> str:
        """The source name of a --url page: its host, so digests still name the outlet."""
        try:
            host = (urlsplit(url).hostname or "url").lower()
        except ValueError:
            host = "url"
        return host[4:] if host.startswith("www.") else host

    def source_language(self, name: str) -> str | None:
        s = self.source_by_name.get(name)
        return s.language if s else None

    def is_first_poll(self, name: str) -> bool:
        return self._first_poll.get(name, False)

    def backlog_poll(self, name: str) -> bool:
        """Whether this poll's new entries are backlog (no alert): its first poll, or its first read with settings
        changed since (a sitemap's window widened, a listing's follow, follow_css or depth changed, another spider, its
        kind or url): the older entries it now takes are days old, not news, and go to the digest only."""
        return self.is_first_poll(name) or self._new_settings.get(name, False)

    def validators_hold(self, name: str) -> bool:
        """Whether a poll of ``name`` may send its stored validators (its sitemap children's too): they were read with
        its settings as configured now. Else one unconditional read: a window widened, a URL or kind changed."""
        source = self.source_by_name.get(name)
        return source is not None and self._read_as.get(name) == read_as(source)

    def is_backlog(self, name: str, key: str, also: str | None = None) -> bool:
        """Whether an entry is its source's backlog: listed on its first poll or its first read with new settings
        (backlog_poll: this one, or an earlier one that left it for later polls), so a topic's alert_score does not
        alert on it. ``also``: FeedInfo.text_key."""
        left = self.backlog_entries(name)
        return self.backlog_poll(name) or key in left or also in left

    def backlog_entries(self, name: str) -> set[str]:
        if name not in self._backlog:
            self._backlog[name] = self.store.backlog_entries(name) if name in self.source_by_name else set()
        return self._backlog[name]

    def backlog_left(self, name: str, keys: Sequence[str]) -> None:
        """Entries of a first poll (or a first read with new settings) left for the next polls: they were in the feed
        then, backlog when fetched."""
        if self.backlog_poll(name) and keys:
            self.store.add_backlog_entries(name, keys)
            self.backlog_entries(name).update(keys)

    def seen_entries(self, name: str) -> set[str]:
        if name not in self._seen:
            self._seen[name] = self.store.seen_entries(name)
        return self._seen[name]

    def entry_articles(self, name: str) -> set[int]:
        """The articles a source's entries led to (its entries' article ids)."""
        if name not in self._entry_articles:
            self._entry_articles[name] = self.store.entry_articles(name)
        return self._entry_articles[name]

    def pending_urls(self, name: str) -> set[str]:
        if name not in self._pending:
            self._pending[name] = {r["canonical_url"] for r in self.store.pending_pages(name, self.now())}
        return self._pending[name]

    def known_urls(self, urls: Sequence[str]) -> dict[str, int]:
        return self.store.known_urls(list(dict.fromkeys(urls)))

    def shared_body(self, rec: Any, listed: str, headline: str) -> str | None:
        """The URL of another entry's page of ``rec``'s source with the same text (stored, or processed in this run
        and not stored yet), when that text shows nothing of this entry's ``headline``: a login, cookie or
        subscription wall the site answers every page with; else None. One story's text under two headlines (a
        piece the site runs twice) shows them: it is one story, stored once. ``listed``: the entry's own URL."""
        if not rec.content_hash or rec.text_from != "page":
            return None
        key = (rec.source, rec.content_hash)
        first = self._bodies.get(key)
        if first is None:
            row = self.store.conn.execute(
                "SELECT url FROM articles WHERE content_hash = ? AND source = ? AND text_from = 'page' LIMIT 1",
                list(key),
            ).fetchone()
            self._bodies[key] = first = (row[0], None) if row else (rec.url, listed)
        url, first_listed = first
        if first_listed == listed or shows_headline(headline or rec.title, rec.text, at_least=1):
            return None
        return url

    def repeated_text(self, rec: Any, listed: str, feed: FeedInfo) -> tuple[str | None, list[Said]]:
        """Whether ``rec``'s page says, besides its headline and its feed's summary, what other entries' pages of its
        source say (four fifths of it at least, in lines of 20 characters or more) and nothing of its headline: the
        page of a wall that shows each story's headline (a paywall, a consent page). Returns one such page's URL (else
        None) and the pages taken for stories before (stored, or in this run) that are now seen to be the same wall.
        ``listed``: the entry's URL."""
        sayings = self._said_by(rec.source)
        page = said(
            rec.url,
            listed,
            feed.title or rec.title,
            own_lines(rec.text, (feed.title, rec.title), feed.summary),
            feed,
            # a page under another title than its entry's (one article listed under many headlines) is none of these
            headlined=same_title(feed.title, rec.title)
            or len(own_lines(rec.text, (feed.title,))) < sum(1 for line in rec.text.split("\n") if line.strip()),
        )
        sayings.add(listed, page)
        others = sayings.sharing(listed, page)
        if not others:
            return None, []
        page.walled = True
        victims = []
        for other in sorted(others):
            first = sayings.pages.get(other)
            if first is not None and not first.walled and sayings.sharing(other, first):
                first.walled = True
                victims.append(first)
        return sayings.pages[min(others)].url, victims

    def _said_by(self, name: str) -> Sayings:
        """What the pages of ``name`` said: its last stored pages' (REPEATED_READ), then this run's."""
        if name not in self._said:
            rows = self.store.conn.execute(
                "SELECT url, title, text FROM articles WHERE source = ? AND text_from = 'page' ORDER BY id DESC LIMIT ?",
                [name, REPEATED_READ],
            )  # one text at a time: what is kept of each is its lines' hashes
            self._said[name] = Sayings(
                said(url, None, title, own_lines(text, (title,)), None) for url, title, text in rows
            )
        return self._said[name]

    def demote(self, source: str, page: Said, item: Any, processed: Processed) -> None:
        """A page stored as its entry's story (in this run or before) is the same wall as later ones: its text becomes
        its feed entry's (``item``, ``processed``: that entry kept from its feed), or, when it is not stored yet, its
        entry is stored in its place."""
        article = self.store.known_urls([page.url]).get(page.url)
        if article is None and page.listed is not None:
            self._demoted[page.listed] = (item, processed)  # processed, not stored yet: stored as its feed entry
            return
        row = self.store.conn.execute("SELECT url, text_from FROM articles WHERE id = ?", [article]).fetchone()
        if row is None or tuple(row) != (page.url, "page") or processed.record is None:
            return  # stored as another article's alias (the same text), or already kept from its feed
        try:
            self._open_batch()
            with self.store.transaction():
                self.store.replace_with_feed(article, processed.record)
                self.store.set_matches(article, processed.matches, processed.near)
        except (sqlite3.Error, StoreError) as exc:
            self.storage_failed(source, exc)
            return
        self.warn(
            source,
            f"{page.url} was stored from its page, which says what other pages of the source say under their "
            "headlines (a wall): its text is now its feed entry's",
        )

    def feed_items(self, name: str) -> dict[str, str]:
        """The items ``name``'s feed held at its last parse (``crawler.feeds.parse_feed``'s ``known``)."""
        if name not in self.source_by_name:
            return {}
        if name not in self._feed_items:
            self._feed_items[name] = self.store.feed_items(name)
        return self._feed_items[name]

    def keep_feed_items(self, name: str, read: Mapping[str, ReadItem]) -> None:
        """Keeps the items a parse of ``name``'s feed read, for its next parse; a cache: a write that fails costs a
        whole parse next time, nothing else."""
        if name not in self.source_by_name:
            return
        before = self.feed_items(name)
        added = {h: item.to_json() for h, item in read.items() if h not in before}
        gone = [h for h in before if h not in read]
        if not (added or gone):
            return
        try:
            self.store.keep_feed_items(name, added, gone)
        except (sqlite3.Error, StoreError, UnicodeError, ValueError) as exc:
            log.warning("%s: the feed's items read could not be kept (%s)", name, exc)
            return
        self._feed_items[name] = {h: before.get(h) or added[h] for h in read}

    def sitemap_child(self, name: str, url: str, dated: bool) -> tuple[bool, dict[str, str]]:
        """Whether a child of ``name``'s sitemap index is fetched at this poll, and the headers of its conditional GET
        (its validators). An undated child (no <lastmod> in its index) without validators that was read unchanged at
        two polls or more is fetched less often, twice as rarely each time, at least daily (``sitemap_child_read``)."""
        self._children_listed.setdefault(name, set()).add(url)
        if name not in self._children:
            self._children[name] = self.store.sitemap_children(name) if name in self.source_by_name else {}
        row = self._children[name].get(url)
        if row is None or not self.validators_hold(name):  # a widened window takes its older entries: read it whole
            return True, {}
        if not dated and row["next_fetch"] and parse_iso(row["next_fetch"]) > self.started:
            return False, {}
        headers = {}
        if row["etag"]:
            headers["If-None-Match"] = row["etag"]
        if row["last_modified"]:
            headers["If-Modified-Since"] = row["last_modified"]
        return True, headers

    def sitemap_child_read(
        self, name: str, url: str, validators: tuple[str | None, str | None] | None, entries_hash: str | None = None
    ) -> None:
        """A child of ``name``'s sitemap index answered: 304 (``validators`` None) or 200 with these validators and
        entries (``entries_hash``; None for a child that is an index itself, whose children tell what changed)."""
        source = self.source_by_name.get(name)
        if source is None:
            return
        before = self._children.get(name, {}).get(url)
        if validators is None:  # not modified: as it was
            if before is not None:
                self._children_read.setdefault(name, {})[url] = before
            return
        etag, modified = validators if entries_hash else (None, None)
        unchanged = 0
        if entries_hash and before is not None and before["entries_hash"] == entries_hash:
            unchanged = before["unchanged"] + 1
        next_fetch = None
        if unchanged >= 2 and not (etag or modified):
            # from this poll's start: half an interval early, so that the poll it is due at is not missed by a jitter
            wait = backoff(source.every, unchanged) - source.every / 2
            next_fetch = iso(self.started + timedelta(seconds=wait))
        self._children_read.setdefault(name, {})[url] = {
            "etag": etag,
            "last_modified": modified,
            "entries_hash": entries_hash,
            "unchanged": unchanged,
            "next_fetch": next_fetch,
        }

    def note_false_canonical(self, name: str) -> None:
        """A page of ``name`` declared another story's URL as its canonical: said once per source and run."""
        if name not in self._false_canonical:
            self._false_canonical.add(name)
            self.warn(
                name,
                "its pages declare another story's URL as their canonical (rel=canonical or og:url); each is kept "
                "under its own URL",
            )

    def note_listed(self, name: str, canonicals: set[str | None]) -> None:
        self._listed.setdefault(name, set()).update(c for c in canonicals if c)

    def false_canonical(self, rec: Any, own: set[str]) -> bool:
        """Whether ``rec``'s declared canonical URL, not one of the page's ``own``, names another story: another
        entry its source lists, or an article stored (or declared in this run) under another title."""
        declared = rec.canonical_url
        if declared in own:
            return False
        if declared in self._listed.get(rec.source, ()):
            return True
        title = self._claims.get(declared)
        if title is None:
            row = self.store.conn.execute(
                "SELECT a.title FROM _aliases x JOIN articles a ON a.id = x.article_id WHERE x.url = ?", [declared]
            ).fetchone()
            self._claims[declared] = title = row[0] if row else rec.title
        return not same_title(title, rec.title)

    def clear_pending(self, url: str) -> None:
        self.store.clear_pending(url)

    def pending_retry_failed(self, source: str, url: str) -> None:
        """A pending page failed again, transiently: its next try backs off."""
        s = self.source_by_name.get(source)
        if s is None:
            return
        key = _entry_key(url)
        at = pending_retry_at(s.every, self.store.page_attempts(key), self.now())
        self.store.schedule_page_retry(key, at, failed=True)

    def mark_entry(self, source: str, key: str, article_id: int | None, also: str | None = None) -> None:
        """The entry ``key`` is handled (``also``: its identity from its text, FeedInfo.text_key)."""
        if source in self.source_by_name:
            keys = [key] if also is None or also == key else [key, also]
            self.store.mark_entries(source, keys, article_id)
            self.seen_entries(source).update(keys)
            done = [k for k in keys if k in self.backlog_entries(source)]
            if done:
                self.store.drop_backlog_entries(source, done)
                self._backlog[source].difference_update(done)
            if article_id is not None and source in self._entry_articles:
                self._entry_articles[source].add(article_id)

    async def wait_until_due(self) -> None:
        """Says the crawl is ready, then waits for the scheduled start; deadlines count from there."""
        self.emit({"event": "ready"})
        wait = (self.started - self.now()).total_seconds()
        if wait > 0:
            await asyncio.sleep(wait)
        self.began = max(self.began, self.now())

    async def get_pool(self, language_model: bool = True) -> Any:
        """The extraction worker pool, started on the first page (a run of 304s never starts one).

        Its workers start in a thread: the forkserver's imports take a second or more, and the
        reactor goes on meanwhile with the run's other requests (a batch's feed polls).
        ``language_model``: whether the first page needs the language detector's model (its language
        is declared by neither its feed nor its source); the forkserver then loads it once for all
        workers, else each worker loads it if a later page needs it.
        """
        if self.pool is None and self.pool_factory is not None:
            if self._pool_starting is None:
                self.pool_language_model = language_model
                factory = self.pool_factory
                self._pool_starting = asyncio.ensure_future(
                    asyncio.to_thread(self._start_pool, lambda: factory(language_model))
                )
            pool = await asyncio.shield(self._pool_starting)
            if self.pool is None and self.pool_factory is not None:
                self.pool, self.pool_factory = pool, None
        return self.pool

    async def running_pool(self) -> Any:
        """The extraction pool when one is started or starting; None otherwise (never starts one)."""
        if self.pool is None and self._pool_starting is None:
            return None
        return await self.get_pool(self.pool_language_model)

    def _start_pool(self, factory: Callable[[], Any]) -> Any:
        pool = self._new_pool = factory()
        if pool is not None:
            try:  # each submit starts one worker while none is idle: one per worker starts them all
                for f in [pool.submit(os.getpid) for _ in range(pool._max_workers)]:
                    f.result()
            except Exception:
                pass  # a broken pool is replaced when the first page is submitted
        return pool

    async def here(self, work: Callable[[], T]) -> T:
        """``work`` (a page's extraction and matching in this process: without a worker pool) on the run's one
        extraction thread.

        Not on the reactor's thread: AutoThrottle takes the time from a request to its response's headers for the
        site's latency, and a page extracted on the reactor's thread held every response that came meanwhile, so a
        site that answers at once was slowed to the pace of our extraction. One thread, so that pages are still
        processed one at a time, in the order they came, and the compiled topics (crawler.process) and the
        collector's thresholds (crawler.longlived) are never touched by two threads at once.
        """
        if self._here is None:
            self._here = ThreadPoolExecutor(max_workers=1, thread_name_prefix="newswatch-extract")
        return await asyncio.wrap_future(self._here.submit(work))

    def close_pool(self) -> None:
        """Stops the extraction workers (also a pool still starting when the run ended) and the extraction thread."""
        pool = self.pool if self.pool is not None or self.pool_factory is None else self._new_pool
        from crawler.pipelines import retire

        if self._here is not None:
            self._here.shutdown(wait=True, cancel_futures=True)
        for kill_leftovers in self._broken_pools:
            kill_leftovers()
        if pool is not None:
            if getattr(pool, "_broken", False):  # a worker died after the last page: nothing replaced the pool
                retire(pool)
            else:
                pool.shutdown(wait=True, cancel_futures=True)

    def replace_pool(self, broken: Any) -> Any:
        """A fresh pool after a worker died (at most MAX_POOL_RESTARTS per run); None when out of restarts."""
        if self.pool is not broken:
            return self.pool  # another item already replaced it
        from crawler.pipelines import make_pool, retire

        self._broken_pools.append(retire(broken))
        if self.pool_restarts >= MAX_POOL_RESTARTS:
            self.pool, self.pool_factory, self.pool_exhausted = None, None, True
            return None
        self.pool_restarts += 1
        self.pool = make_pool(broken._max_workers, language_model=self.pool_language_model, encoder=self.pool_encoder)
        return self.pool

    # -- work in flight per source ----------------------------------------------------------------

    def hold(self, name: str) -> None:
        """A request or item of this source's poll has started."""
        if name in self._outstanding:
            self._outstanding[name] += 1

    def release(self, name: str) -> None:
        """A request or item of this source's poll is handled; the poll finishes when none is left."""
        if name not in self._outstanding:
            return
        self._outstanding[name] -= 1
        source = self.source_by_name[name]
        if self._outstanding[name] <= 0 and source.kind != "spider" and self.stats(name).status != "pending":
            self.finish_source(name)

    def unresolved(self, name: str, reason: str) -> None:
        """An entry was neither stored nor recorded pending: the poll must not keep its validators."""
        if name in self._unresolved:
            self._unresolved[name] += 1
        self.page_error(name, reason)

    def entries_left(self, name: str) -> None:
        """New entries were left for the next polls: the poll must not keep its validators (a 304 would hide them)."""
        if name in self._unresolved:
            self._unresolved[name] += 1

    def check_deadlines(self) -> None:
        """Fails every source still polling after the per-source deadline, so it holds no one else."""
        if self.deadline is None:
            return
        if (self.now() - self.began).total_seconds() < self.deadline:
            return
        for s in self.sources:
            if s.name not in self.finished:
                self.stopped.add(s.name)
                self.source_failed(s.name, f"the poll did not finish within {self.deadline:g}s; stopped", force=True)
                self.finish_source(s.name)
        for name in self.stopped:
            self.give_up_requests(name)

    def request_started(self, name: str, download: asyncio.Future[Any]) -> None:
        """A download of this source is in flight (see spiders.StoppableDownloadHandler)."""
        self._requests.setdefault(name, set()).add(download)

    def request_ended(self, name: str, download: asyncio.Future[Any]) -> None:
        self._requests.get(name, set()).discard(download)
        self._given_up.discard(download)

    def was_given_up(self, download: asyncio.Future[Any]) -> bool:
        return download in self._given_up

    def give_up_requests(self, name: str) -> None:
        """Cancels the source's downloads in flight: their connections close and their errbacks run now."""
        for download in self._requests.pop(name, set()):
            if not download.done():
                self._given_up.add(download)
                download.cancel()

    # -- source health -------------------------------------------------------------------------

    def _event(self, kind: str, source: str, **data: Any) -> None:
        self.emit({"event": kind, "source": source, **data})

    def source_ok(self, name: str, not_modified: bool = False) -> None:
        st = self.stats(name)
        if st.status in ("pending", "failed") and name not in self.finished:
            st.status = "not-modified" if not_modified else "ok"
            st.message = None
        self._event("source", name, status=st.status)

    def source_failed(self, name: str, error: str, retry_after: datetime | None = None, *, force: bool = False) -> None:
        st = self.stats(name)
        st.errors += 1
        if len(st.error_samples) < 20:
            st.error_samples.append(error)
        if (st.status in ("pending", "failed") or force) and name not in self.finished:
            if error != self.storage_error:
                self._ours.discard(name)
            elif st.status != "failed":  # it answered (or was cut short): the database failed, not the site
                self._ours.add(name)
            st.status = "failed"
            st.message = error
            self._retry_after[name] = retry_after
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
        state = self.state[name]
        if new_url != state.poll_url(configured):
            self._moved[name] = new_url
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

    def page_error(self, name: str, error: str, url: str | None = None) -> None:
        """A page failed; ``url``, the page's URL as it was listed or given, goes with the event."""
        st = self.stats(name)
        st.errors += 1
        if len(st.error_samples) < 20:
            st.error_samples.append(error)
        self._event("page", name, status="error", error=error, **({"url": url} if url else {}))

    def storage_failed(self, name: str, exc: BaseException) -> None:
        """A write failed (disk full, I/O error): this source's poll and every unfinished one fail loudly."""
        detail = database_write_problem(self.store.path) or str(exc).strip() or type(exc).__name__
        if self.storage_error is None:
            self.storage_error = (
                f"cannot write to the database {self.store.path}: {detail}; free disk space or fix the "
                "database, then crawl again (nothing of this poll was marked as seen)"
            )
            log.error("%s", self.storage_error)
        if name in self._unresolved:
            self._unresolved[name] += 1
        for s in self.sources:
            if s.name not in self.finished:
                self.source_failed(s.name, self.storage_error, force=True)

    # -- storing -------------------------------------------------------------------------------

    def store_processed(self, item: Any, processed: Processed) -> None:
        from crawler.spiders import FeedOnlyItem, PageItem

        if isinstance(item, PageItem) and item.job.url in self._demoted:  # its page is a wall: its feed entry instead
            item, processed = self._demoted.pop(item.job.url)
        if isinstance(item, PageItem):
            source, key = item.job.source, (item.job.feed.key if item.job.feed else None)
            key = key or _entry_key(item.job.url)
            also = item.job.feed.text_key if item.job.feed else None
        else:
            assert isinstance(item, FeedOnlyItem)
            source, key, also = item.source, item.feed.key or _entry_key(item.url), item.feed.text_key
        st = self.stats(source)
        if self.storage_error is not None:  # the store is failing: leave the entry unseen for the next poll
            # the reason is the poll's own error, said once: repeated in each page's sample, the daemon's line for the
            # poll said it four times
            self.unresolved(source, f"{getattr(item, 'job', item).url}: not stored (the database cannot be written)")
            return
        try:
            if processed.record is None:
                st.errors += 1
                if len(st.error_samples) < 20:
                    st.error_samples.append(f"{getattr(item, 'job', item).url}: {processed.reason}")
                self.mark_entry(source, key, None, also)
                if isinstance(item, PageItem):  # a page kept from its feed answered without text: not retried
                    self.clear_pending(item.job.url)
                self._event("page", source, status="empty", url=getattr(item, "job", item).url, error=processed.reason)
                return
            if processed.note:
                self.warn(source, processed.note)
            self._open_batch()
            with self.store.transaction():  # a savepoint in the open batch: one article is all or nothing
                result = self.store.add_article(processed.record)
                if result.status in ("new", "updated"):
                    self.store.set_matches(result.article_id, processed.matches, processed.near)
                if processed.record.page_pending and result.status == "new" and source in self.source_by_name:
                    every = self.source_by_name[source].every
                    at = pending_retry_at(every, 0, self.now())
                    self.store.schedule_page_retry(processed.record.canonical_url, at, failed=False)
                self.mark_entry(source, key, result.article_id, also)
            self._batched += 1
            if self._batched >= BATCH_SIZE:
                self.flush()
        except (sqlite3.Error, StoreError) as exc:
            self.storage_failed(source, exc)
            return
        new = result.status == "new"
        duplicate = result.status == "duplicate" or (new and result.story != str(result.article_id))
        matched = bool(processed.matches) and result.status in ("new", "updated")
        st.new += new
        st.duplicates += duplicate
        st.matched += matched
        if new:
            self.new_article_ids.append(result.article_id)
        if self._batch_open:
            self._uncommitted.append((source, new, duplicate, matched, result.article_id))
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
            reactor.callLater(BATCH_SECONDS, self._timed_flush)

    def _timed_flush(self) -> None:
        try:
            self.flush()
        except (sqlite3.Error, StoreError) as exc:
            self.storage_failed("", exc)

    def flush(self) -> None:
        """Commits the open batch of articles (a kill before this loses them; they are fetched again)."""
        if self._batch_open:
            self._batch_open = False
            counted, self._uncommitted = self._uncommitted, []
            try:
                self.store.commit_batch()
            except (sqlite3.Error, StoreError):
                # rolled back whole: its articles are not stored, so they are not counted (nor alerted) as new
                lost: set[int] = set()
                for source, new, duplicate, matched, article_id in counted:
                    st = self.stats(source)
                    st.new -= new
                    st.duplicates -= duplicate
                    st.matched -= matched
                    if new:
                        lost.add(article_id)
                self.new_article_ids = [i for i in self.new_article_ids if i not in lost]
                raise

    # -- finishing a source's poll ------------------------------------------------------------

    def outcome(self, name: str) -> PollOutcome:
        st = self.stats(name)
        verdict = {"ok": "ok", "not-modified": "not-modified", "gone": "gone"}.get(st.status, "failed")
        error = st.message
        if st.status == "pending":
            error = "the poll ended without an answer from the source"
        return PollOutcome(
            verdict=verdict,  # type: ignore[arg-type]
            error=error,
            retry_after=self._retry_after.get(name),
            validators=self._validators.get(name),
            complete=not self._unresolved.get(name),
            moved_to=self._moved.get(name),
            ours=verdict == "failed" and name in self._ours,
        )

    def finish_source(self, name: str) -> None:
        """Writes one source's poll result, after its articles are committed; once per run."""
        if name in self.finished or name not in self.source_by_name:
            return
        source = self.source_by_name[name]
        st = self.stats(name)
        # committed and judged before it counts as finished: a finished source's status is no longer changed, so a
        # commit of its own articles that failed (a full disk) left it ok, with a last success, and nothing stored
        try:
            self.flush()
        except (sqlite3.Error, StoreError) as exc:
            self.storage_failed(name, exc)
        if self.storage_error is not None and st.status != "failed":
            self.source_failed(name, self.storage_error, force=True)
        self.finished.add(name)
        before = self.state[name]
        outcome = self.outcome(name)
        after = after_poll(before, source.every, outcome, self.started, self.now())
        if outcome.moved_to:
            after = replace(after, configured_url=source.url)
        try:
            stored = self.store.record_poll(name, self._stored[name], after, poll_target(source))
            self._stored[name] = self.state[name] = stored
        except (sqlite3.Error, StoreError) as exc:
            self.storage_failed(name, exc)
        if st.status == "ok" and outcome.complete and name in self._children_listed:
            # as the source's own validators: kept only when every entry its children list is stored or pending
            try:
                self.store.record_sitemap_children(name, self._children_read.get(name, {}), self._children_listed[name])
            except (sqlite3.Error, StoreError) as exc:
                self.storage_failed(name, exc)
        if st.status == "ok" and outcome.complete and not self.validators_hold(name):
            # the validators just kept (and its children's) were read with its settings now: the next poll sends them
            try:
                self.store.note_read_as(name, read_as(source))
            except (sqlite3.Error, StoreError) as exc:
                self.storage_failed(name, exc)
            else:
                self._read_as[name] = read_as(source)
        if st.status == "ok":
            try:
                self._record_freshness(source, self.now())
            except (sqlite3.Error, StoreError) as exc:
                self.storage_failed(name, exc)
        self._event("done", name, status=st.status, stats=asdict(st))
        if len(self.finished) == len(self.sources) and self.on_all_finished is not None:
            self.on_all_finished()

    def finish(self) -> CrawlSummary:
        """Finishes every source's poll still open and returns the run's summary."""
        for s in self.sources:
            if s.name not in self.finished:
                self.finish_source(s.name)
        try:
            self.flush()
        except (sqlite3.Error, StoreError) as exc:
            self.storage_failed("", exc)
        extra = [st for name, st in self._stats.items() if name not in self.source_by_name]
        for st in extra:  # --url pages: ok unless every page failed
            st.status = "failed" if st.errors and not (st.new or st.duplicates) else "ok"
        return CrawlSummary(
            [self.stats(s.name) for s in self.sources] + extra,
            new_article_ids=self.new_article_ids,
            storage_error=self.storage_error,
        )

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


REPEATED_READ = 100  # a source's last stored pages whose texts a new page's is compared with (repeated_text)


def same_title(one: str, other: str) -> bool:
    """Whether two pages' titles are one article's: equal, or one holding the other ('… | Site'), case-folded."""
    a, b = " ".join(one.casefold().split()), " ".join(other.casefold().split())
    return a == b or bool(a and b and (a in b or b in a))


def _entry_key(url: str) -> str:
    from crawler.urls import canonicalize

    return canonicalize(url)


def open_store(config: Config, trigger: str) -> Store:
    """The crawl's database. A daemon's crawl never upgrades it: the daemon did at its start, so a pending migration
    means newswatch was upgraded under a running daemon, whose own code knows nothing of it (and a long upgrade
    would be killed with the batch, to begin again at the next)."""
    try:
        return Store(config.storage.database, upgrade=trigger != "daemon")
    except UpgradeRefused as exc:
        raise StoreError(
            f"the database {exc.path} needs an upgrade ({', '.join(exc.pending)}) that the newswatch installed "
            "since the daemon started brings; the running daemon is older and does not apply it: restart the daemon "
            "(systemctl restart newswatch), which upgrades the database at its start, before it polls again"
        ) from None


def crawl_once(
    config: Config,
    source_names: Sequence[str] = (),
    urls: Sequence[str] = (),
    *,
    trigger: str = "cli",
    emit: Callable[[Event], None] = lambda e: None,
    workers: int | None = None,
    source_deadline: float | None = None,
    started: datetime | None = None,
) -> CrawlSummary:
    """One pass over the sources in THIS process (the reactor can run only once per process).

    Each source is claimed for the run (one crawl at a time per source and database): a source
    another live crawl holds is skipped with a line saying so, so no page is fetched twice.
    """
    from scrapy.crawler import AsyncCrawlerProcess
    from twisted.internet import task

    from crawler.custom import user_spider_class
    from crawler.matching import sync_topics
    from crawler.settings import scrapy_settings
    from crawler.spiders import NewsSpider

    # URLs alone fetch only those pages; naming sources as well polls them too
    sources = [] if urls and not source_names else select_sources(config, source_names)
    store = open_store(config, trigger)
    try:
        # a changed query re-matches recent articles before new ones arrive; the articles an upgrade changed the text
        # of are matched again for REMATCH_BUDGET at most (the next crawl goes on), so that a daemon's crawl child
        # still has its time for its sources after an upgrade of a large archive
        sync_topics(config, store, budget=REMATCH_BUDGET)
        keep = REMOVED_KEEP.days
        for name in store.forget_removed({s.name for s in config.sources}, utcnow()):
            log.info(
                "%s: gone from the config for %d days or more: its crawl state is deleted (its articles stay)",
                name,
                keep,
            )
        skipped: list[SourceStats] = []
        candidates: list[SourceConfig] = []
        now = utcnow()
        for s in sources:
            reason = skip_reason(as_configured(store.poll_state(s.name), s), now)
            if reason:
                skipped.append(SourceStats(s.name, status="skipped", message=reason))
                emit({"event": "done", "source": s.name, "status": "skipped", "stats": asdict(skipped[-1])})
            else:
                candidates.append(s)
        held = store.claim_sources([s.name for s in candidates])
        polled = [s for s in candidates if s.name not in held]
        for s in candidates:
            if s.name in held:
                skipped.append(
                    SourceStats(
                        s.name,
                        status="skipped",
                        message=f"being polled by another crawl ({held[s.name]}); skipped so its pages are fetched once",
                    )
                )
                emit(
                    {
                        "event": "done",
                        "source": s.name,
                        "status": "skipped",
                        "stats": asdict(skipped[-1]),
                        "holder": held[s.name].pid,  # the daemon looks again once that process has ended
                    }
                )
        run_id = store.start_run(trigger)
    except sqlite3.Error as exc:
        store.close()
        # which permission, mount or file is in the way, as 'newswatch check' says it, rather than SQLite's words
        # ('attempt to write a readonly database')
        problem = database_write_problem(config.storage.database) or str(exc)
        raise StoreError(f"cannot write to the database {config.storage.database}: {problem}") from None
    ctx = CrawlContext(config, store, polled, urls, emit, source_deadline=source_deadline, started=started)
    ctx.pool_encoder = encoder = pool_loads_encoder(config, trigger)
    ctx.pool_factory = lambda language_model: _make_pool(workers, language_model, encoder)
    settings = scrapy_settings(config.crawl)
    settings["NEWSWATCH_ALLOW_PRIVATE"] = config.crawl.allow_private
    settings["LOG_INSTALL_ROOT_HANDLER"] = False
    handler = "crawler.spiders.StoppableDownloadHandler"  # a source stopped at its deadline drops its requests
    settings["DOWNLOAD_HANDLERS"] = {"http": handler, "https": handler}
    process = AsyncCrawlerProcess(settings)
    quiet_scrapy_logs()  # Scrapy's logging setup just set its loggers to DEBUG again
    news_crawler: list[Any] = []

    def all_finished() -> None:
        if not ctx.urls:  # every source's poll is written: stragglers of a stopped source need not run on
            for c in news_crawler:
                if getattr(c, "crawling", False):
                    c.stop()

    ctx.on_all_finished = all_finished
    try:
        crawls = 0
        if urls or any(s.kind != "spider" for s in polled):
            crawler = process.create_crawler(NewsSpider)
            news_crawler.append(crawler)
            process.crawl(crawler, ctx=ctx)
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
            ticker = task.LoopingCall(ctx.check_deadlines)
            ticker.start(1.0, now=False)
            process.start(install_signal_handlers=False)
            if ticker.running:
                ticker.stop()
        summary = ctx.finish()
    finally:
        ctx.close_pool()
        try:
            store.release_sources([s.name for s in polled])
        except sqlite3.Error:
            pass  # a lease of a process that is gone is ignored by the next crawl
    summary.sources = summary.sources + skipped
    summary.run_id = run_id
    status = (
        "failed"
        if summary.all_failed or summary.storage_error
        else ("partial" if any(s.status == "failed" for s in summary.sources) else "ok")
    )
    try:
        store.finish_run(run_id, status, summary.to_json())
    except sqlite3.Error:
        pass  # the summary still reaches the caller; the run shows as interrupted
    store.close()
    return summary


def pool_loads_encoder(config: Config, trigger: str) -> bool:
    """Whether a run's extraction pool loads a topic model's sentence encoder in its forkserver, once for all its
    workers: the demo's crawl, which scores gated stories (13 of the sample site's pass the default topic's gate).
    Other crawls' workers load it when a story needs it: most polls bring none, and each pool would pay the load."""
    return trigger == "demo" and any(t.model is not None and t.model.encoder is not None for t in config.topics)


def _make_pool(workers: int | None, language_model: bool = True, encoder: bool = False) -> Any:
    from crawler.pipelines import make_pool, worker_count

    return make_pool(worker_count() if workers is None else workers, language_model=language_model, encoder=encoder)


# -- the child process ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawler.run")
    parser.add_argument("--config", required=True)
    parser.add_argument("--trigger", default="cli")
    parser.add_argument("--source", action="append", default=[])
    parser.add_argument("--url", action="append", default=[])
    parser.add_argument("--source-deadline", type=float, default=None)
    parser.add_argument("--started", type=datetime.fromisoformat, default=None)
    parser.add_argument("--config-checked", default=None)
    args = parser.parse_args(argv)
    exit_with_parent()
    import_tls_early()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    quiet_scrapy_logs()
    out = sys.stdout
    lock = threading.Lock()

    def emit(event: Event) -> None:
        with lock:
            out.write(json.dumps(event, ensure_ascii=False, default=str) + "\n")
            out.flush()

    def upgrading(database: Path, migrations: Sequence[str], seconds: float | None) -> None:
        emit({"event": "upgrade", "database": str(database), "migrations": list(migrations), "seconds": seconds})

    notices.on_upgrade(upgrading)  # the parent says it (crawler.child)

    try:
        config = load_config(args.config, checked=args.config_checked)
        # the extraction pool's forkserver compiles the run's topics from it, once for all workers
        os.environ[POOL_TOPICS_ENV] = f"{checked_digest(args.config) or ''}:{Path(args.config).resolve()}"
        summary = crawl_once(
            config,
            args.source,
            args.url,
            trigger=args.trigger,
            emit=emit,
            source_deadline=args.source_deadline,
            started=args.started,
        )
    except NewswatchError as exc:
        emit({"event": "error", "message": str(exc), "usage": exc.exit_code == 2})
        return exc.exit_code
    emit({"event": "summary", "summary": summary.to_json()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
