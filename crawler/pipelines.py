"""Item pipelines, one step each: process a page (in worker processes), then store it."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from typing import Any

from crawler import envsettings, urls
from crawler.longlived import matching_batch
from crawler.process import (
    WALL_HINT,
    FeedInfo,
    PageJob,
    Processed,
    feed_only,
    needs_language_model,
    process_page,
    settle_topics,
    worker_start,
)
from crawler.spiders import FeedOnlyItem, PageItem


def worker_count() -> int:
    """Worker processes for extraction: one per core (at most 8), or $NEWSWATCH_WORKERS (0 = in-process, at most 64)."""
    return envsettings.whole("NEWSWATCH_WORKERS", max(1, min(os.cpu_count() or 1, 8)))


def make_pool(workers: int, *, language_model: bool = True, encoder: bool = False) -> Executor | None:
    """Extraction workers forked from a warmed-up forkserver; with ``language_model`` it loads the
    language detector's model too, which the workers then share (else each loads it on its first
    page that needs it), and with ``encoder`` a topic model's sentence encoder (crawler.warmup_encoder)."""
    if workers <= 0:
        return None
    ctx = multiprocessing.get_context("forkserver")
    # crawler.warmup last: it freezes what the others loaded (crawler.longlived)
    preload = ["crawler.process", "crawler.extract"]
    preload += ["crawler.warmup_langid"] if language_model else []
    preload += ["crawler.warmup_encoder"] if encoder else []
    ctx.set_forkserver_preload([*preload, "crawler.warmup"])
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=worker_start, initargs=(os.getpid(),))


def retire(pool: Any) -> Callable[[], None]:
    """Shuts down a broken pool at once; returns a call that kills whatever of it is still alive.

    When a worker dies, the pool's manager thread sends the other workers SIGTERM and then waits
    for each of them, and the interpreter's exit waits for that thread. A worker that was being
    started as the pool broke can miss that signal and wait on its task queue for ever, so the
    crawl would never end: the returned call SIGKILLs any such worker (run it again at the crawl's end).
    """
    workers = getattr(pool, "_processes", None)  # the manager thread's own dict: later starts land in it too
    pool.shutdown(wait=False, cancel_futures=True)

    def kill_leftovers() -> None:
        for proc in list((workers or {}).values()):
            try:
                if proc.is_alive():
                    proc.kill()
            except (OSError, ValueError):
                pass  # already reaped

    kill_leftovers()
    return kill_leftovers


class CrawlerStep:
    """An item pipeline step that reaches the run's CrawlContext through its crawler's spider."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> Any:
        return cls(crawler)

    @property
    def ctx(self) -> Any:
        return self.crawler.spider.ctx


class ProcessPipeline(CrawlerStep):
    """Decode, extract, fingerprint and match a page off the reactor thread, in a worker process.

    A worker that dies (an OOM kill) breaks the pool: the pool is started again and the page
    retried once; a page that still cannot be processed is kept from its feed and retried on the
    next poll, never dropped. Without a pool ($NEWSWATCH_WORKERS=0, feed-only items before one starts)
    they are processed in this process, still off the reactor thread (``CrawlContext.here``), and
    matched as a batch (``crawler.longlived``).
    """

    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        self._settled = False

    async def process_item(self, item: Any) -> Any:
        try:
            return await self._process(item)
        except Exception as exc:  # never lose an entry silently: its poll keeps no validators
            source = _source_of(item)
            if source is not None:
                self.ctx.unresolved(source, f"{_url_of(item)}: processing failed ({type(exc).__name__}: {exc})")
                return item, None
            raise

    async def _process(self, item: Any) -> Any:
        topics = self.ctx.config.topics
        if isinstance(item, PageItem):
            pool = await self.ctx.get_pool(needs_language_model(item.job))
            if pool is None and not self.ctx.pool_exhausted:
                return await self._kept(item, await self._inline(item, topics), topics)
            for _attempt in range(2):
                if pool is None:
                    break
                try:
                    fut = pool.submit(process_page, item.job, topics)
                    return await self._kept(item, await asyncio.wrap_future(fut), topics)
                except BrokenProcessPool:
                    pool = self.ctx.replace_pool(pool)
                except Exception as exc:  # a page that crashes the extractor costs that page only
                    return await self._kept(item, self._failed(exc), topics)
            return await self._worker_died(item, topics)
        if isinstance(item, FeedOnlyItem):
            # In the pool when one runs: its workers have the run's topics compiled, which this
            # process would otherwise compile for a page that failed (~0.3 s for the default topic).
            pool = await self.ctx.running_pool()
            if pool is not None:
                try:
                    args, kwargs = self._feed_only_args(item, topics)
                    return item, await asyncio.wrap_future(pool.submit(feed_only, *args, **kwargs))
                except Exception:  # a broken pool: this item is processed here instead, as without one
                    pass
            return item, await self._feed_only(item, topics)
        return item

    async def _here(self, topics: Any, work: Callable[[], Processed]) -> Processed:
        """Processed in this process, on the run's extraction thread: the run's topics settled and frozen before the
        first, each matched as a batch."""

        def batch() -> Processed:
            if not self._settled:
                self._settled = True
                settle_topics(topics)
            with matching_batch():
                return work()

        return await self.ctx.here(batch)

    async def _inline(self, item: PageItem, topics: Any) -> Processed:
        try:  # the topics' settling and the matching batch around the page too: any error of its work fails the page
            return await self._here(topics, lambda: process_page(item.job, topics))
        except Exception as exc:
            return self._failed(exc)

    def _failed(self, exc: BaseException) -> Processed:
        return Processed(None, (), f"extraction failed ({type(exc).__name__})")

    async def _kept(self, item: PageItem, processed: Processed, topics: Any) -> Any:
        """A page that answered without article text (all script, binary, a paywall) or that the extractor
        could not read: its feed entry is kept with the feed's title and summary, as when the page failed to
        load; the page is not fetched again. Without a feed entry to keep, the page counts as an error."""
        job = item.job
        if processed.record is not None:
            own = {urls.canonicalize(job.url), urls.canonicalize(job.final_url)}
            if self.ctx.false_canonical(processed.record, own):
                # a template (or a hostile site) declaring one article's URL as every page's rel=canonical: each page
                # was stored as that one article, every story but the first lost and the first under the wrong link
                page = urls.canonicalize(job.final_url)
                record = replace(processed.record, canonical_url=page, aliases=tuple(own - {page}))
                processed = replace(processed, record=record)
                self.ctx.note_false_canonical(job.source)
        if job.feed is None or not (job.feed.title or job.feed.summary):
            return item, processed
        if processed.record is not None:
            other, stored = self.ctx.repeated_text(processed.record, job.url, job.feed)
            for page in stored:  # taken for stories before the next pages of the same wall came
                try:
                    await self._demote(job.source, page)
                except Exception as exc:  # that page stays as it was stored; this one is still kept from its feed
                    self.ctx.warn(job.source, f"{page.url}: its feed entry could not replace it ({exc!r:.200})")
            if other is not None:
                # a wall that shows each story's headline above the same text (a paywall, a consent page): each was
                # taken for its story, the same words stored under every headline
                processed = Processed(
                    None, (), f"the page shows, besides its headline, the same text as {other}{WALL_HINT}"
                )
            elif (other := self.ctx.shared_body(processed.record, job.url, job.feed.title)) is not None:
                # one text showing nothing of many headlines is no article but what the site shows instead of each (a
                # login, cookie or subscription wall): folded into one article as the same page, every story but one
                # was lost
                processed = Processed(
                    None, (), f"the page shows the same text as {other} under another headline{WALL_HINT}"
                )
            else:
                return item, processed
        error = f"{job.final_url}: {processed.reason}"
        self.ctx.page_error(job.source, error, job.url)
        return await self._process(_from_feed(job, error, pending=False))

    async def _demote(self, source: str, page: Any) -> None:
        """A page stored as its story is the same wall as a later one: its entry is kept from its feed instead."""
        feed = page.feed or self.ctx.entries_listed.get(source, {}).get(urls.canonicalize(page.url))
        feed = feed or FeedInfo(title=page.headline)  # no longer listed: its headline, all that is known of it
        error = f"{page.url}: the page shows, besides its headline, what later pages show{WALL_HINT}"
        item = FeedOnlyItem(
            source=source,
            url=page.listed or page.url,
            feed=feed,
            fetched=self.ctx.now(),
            pending=False,
            backlog=False,
            error=error,
        )
        _item, processed = await self._process(item)
        self.ctx.demote(source, page, item, processed)

    async def _feed_only(self, item: FeedOnlyItem, topics: Any) -> Processed:
        args, kwargs = self._feed_only_args(item, topics)
        return await self._here(topics, lambda: feed_only(*args, **kwargs))

    def _feed_only_args(self, item: FeedOnlyItem, topics: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        language = self.ctx.source_language(item.source)
        kwargs = {"backlog": item.backlog, "pending": item.pending, "source_language": language}
        return (item.source, item.url, item.feed, item.fetched, topics), kwargs

    async def _worker_died(self, item: PageItem, topics: Any) -> Any:
        job = item.job
        error = f"{job.final_url}: the extraction worker died (out of memory?); the page is fetched again next poll"
        if job.feed is None or not (job.feed.title or job.feed.summary):
            self.ctx.unresolved(job.source, error)
            return item, None
        self.ctx.page_error(job.source, error, job.url)
        fallback = _from_feed(job, error, pending=True)
        return fallback, await self._feed_only(fallback, topics)


def _from_feed(job: PageJob, error: str, *, pending: bool) -> FeedOnlyItem:
    """A page's feed entry kept in its place (``pending``: its page is fetched again at the next poll)."""
    return FeedOnlyItem(
        source=job.source,
        url=job.url,
        feed=job.feed,
        fetched=job.fetched,
        pending=pending,
        backlog=job.backlog,
        error=error,
    )


class StorePipeline(CrawlerStep):
    """Writes the processed article, its story, aliases, matches and feed entry in one transaction."""

    def process_item(self, pair: Any) -> Any:
        if not isinstance(pair, tuple):
            return None
        item, processed = pair
        try:
            if processed is not None:
                self.ctx.store_processed(item, processed)
        finally:
            source = _source_of(item)
            if source is not None:
                self.ctx.release(source)
        return None


def _source_of(item: Any) -> str | None:
    if isinstance(item, PageItem):
        return item.job.source
    if isinstance(item, FeedOnlyItem):
        return item.source
    return None


def _url_of(item: Any) -> str:
    return item.job.final_url if isinstance(item, PageItem) else getattr(item, "url", "?")
