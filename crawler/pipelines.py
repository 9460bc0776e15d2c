"""Item pipelines, one step each: process a page (in worker processes), then store it."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

from crawler.process import Processed, feed_only, process_page
from crawler.spiders import FeedOnlyItem, PageItem


def worker_count() -> int:
    """Worker processes for extraction: one per core, or $NEWSWATCH_WORKERS (0 = in-process)."""
    env = os.environ.get("NEWSWATCH_WORKERS")
    if env and env.isdigit():
        return int(env)
    return max(1, min(os.cpu_count() or 1, 8))


def make_pool(workers: int) -> Executor | None:
    if workers <= 0:
        return None
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["crawler.process"])
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx)


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
    """Decode, extract, fingerprint and match a page off the reactor thread, in a worker process."""

    async def process_item(self, item: Any) -> Any:
        topics = self.ctx.config.topics
        if isinstance(item, PageItem):
            pool = self.ctx.pool
            if pool is None:
                return item, process_page(item.job, topics)
            fut = pool.submit(process_page, item.job, topics)
            try:
                return item, await asyncio.wrap_future(fut)
            except Exception as exc:  # a page that crashes the extractor costs that page only
                self.ctx.page_error(item.job.source, f"{item.job.final_url}: extraction failed ({type(exc).__name__})")
                return item, Processed(None, (), "extraction failed")
        if isinstance(item, FeedOnlyItem):
            return item, feed_only(
                item.source,
                item.url,
                item.feed,
                item.fetched,
                topics,
                backlog=item.backlog,
                pending=item.pending,
                source_language=self.ctx.source_language(item.source),
            )
        return item


class StorePipeline(CrawlerStep):
    """Writes the processed article, its story, aliases, matches and feed entry in one transaction."""

    def process_item(self, pair: Any) -> Any:
        item, processed = pair
        self.ctx.store_processed(item, processed)
        return None
