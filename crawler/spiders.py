"""The spider that polls every selected source of one run: feeds, sitemaps, listings, single URLs.

One spider for all sources keeps the global and per-host concurrency limits true across sources.
Spiders only fetch and route; pages go to the item pipelines as PageJob / feed-only items.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.http import Response
from scrapy.linkextractors import LinkExtractor
from twisted.python.failure import Failure

from crawler import envsettings, urls
from crawler.config import SourceConfig
from crawler.errors import FetchError
from crawler.feeds import is_home_page, own_page, parse_feed
from crawler.polling import PERMANENT_REDIRECTS, TRANSIENT_STATUSES, classify, parse_retry_after
from crawler.process import FeedInfo, PageJob
from crawler.settings import HANDLED_CODES
from crawler.sitemaps import entries_hash, entries_since, parse_sitemap, sitemaps_since
from crawler.wording import noun

_NEXT_WORDS = re.compile(r"^\s*(next|older|more|далее|следующая|вперед|вперёд|ещё|еще|下一页|下页|更多|»|›|>)\s*", re.I)
_PAGINATION_URL = re.compile(
    r"([?&](page|p|pg|paged|PAGEN_\d+)=\d+)|(/page[-/]?\d+)|(/\d+/?$)|(index_\d+\.s?html?)|"
    r"(page-\d+\.s?html?)",
    re.I,
)


@dataclass
class PageItem:
    job: PageJob


@dataclass
class FeedOnlyItem:
    source: str
    url: str
    feed: FeedInfo
    fetched: datetime
    pending: bool
    backlog: bool
    error: str


class GivenUp(Exception):
    """A request of a source stopped at its deadline: dropped rather than left to reach its timeout."""


SHARED_PAGE = "shared:"  # an entry key marking a page several entries of its source linked (spiders._parse_feed)
MAX_NEW_PAGES = 1000  # pages of new entries a source's poll fetches at most


def max_new_pages() -> int:
    """MAX_NEW_PAGES, or $NEWSWATCH_MAX_NEW_PAGES (tests)."""
    return envsettings.whole("NEWSWATCH_MAX_NEW_PAGES", MAX_NEW_PAGES)


class StoppableDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP(S) handler, whose requests a source stopped at its deadline gives up at once.

    Each request of a source runs as its own task, kept by the run's context; stopping the source
    cancels those tasks, which closes their connections, so the crawl ends without waiting for them.
    """

    async def download_request(self, request: scrapy.Request) -> Response:
        spider = self._crawler.spider
        ctx = getattr(spider, "ctx", None)
        own = getattr(spider, "newswatch_source", None)
        name = request.meta.get("source") or (own.name if own is not None else None)
        if ctx is None or name is None:
            return await super().download_request(request)
        if name in ctx.stopped:  # queued before its source was stopped: not fetched at all
            raise GivenUp(f"given up: the poll of {name} was stopped at its deadline")
        task = asyncio.ensure_future(super().download_request(request))
        ctx.request_started(name, task)
        try:
            return await task
        except BaseException:
            if ctx.was_given_up(task):
                raise GivenUp(f"given up: the poll of {name} was stopped at its deadline") from None
            raise
        finally:
            ctx.request_ended(name, task)


class NewsSpider(scrapy.Spider):
    """Fetches each selected source once; the CrawlContext (run.py) holds store, stats and clock."""

    name = "newswatch"
    handle_httpstatus_list = HANDLED_CODES

    def __init__(self, ctx: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ctx = ctx

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> NewsSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._request_dropped, signal=scrapy.signals.request_dropped)
        return spider

    def _request_dropped(self, request: scrapy.Request, spider: Any = None) -> None:
        if "source" in request.meta:  # a duplicate the scheduler filtered: no callback will run
            self.ctx.release(request.meta["source"])

    async def start(self) -> AsyncIterator[scrapy.Request]:
        await self.ctx.wait_until_due()  # a crawl started ahead of its schedule polls on time
        for source in self.ctx.sources:
            if source.kind != "spider":  # user spiders run as crawlers of their own
                try:
                    request = self._source_request(source)
                except Exception as exc:  # a URL Scrapy refuses fails its source only
                    self.ctx.source_failed(source.name, f"{source.url}: cannot be requested ({_describe(exc)})")
                    self.ctx.finish_source(source.name)
                    continue
                self.ctx.hold(source.name)
                yield request
        for url in dict.fromkeys(self.ctx.urls):
            yield self._page_request(self.ctx.adhoc_source(url), url, None, backlog=False)

    # -- source documents ------------------------------------------------------------------

    def _source_request(self, source: SourceConfig) -> scrapy.Request:
        state = self.ctx.state[source.name]
        url = state.poll_url(source.url)  # a stored 301/308 target, unless the config changed the URL
        headers = {}
        # conditional GET wherever validators were kept, with the settings they were read with
        if source.kind in ("feed", "sitemap", "listing") and self.ctx.validators_hold(source.name):
            if state.etag:
                headers["If-None-Match"] = state.etag
            if state.last_modified:
                headers["If-Modified-Since"] = state.last_modified
        callback = {"feed": self.parse_feed, "sitemap": self.parse_sitemap, "listing": self.parse_listing}[source.kind]
        return scrapy.Request(
            url,
            callback=callback,
            errback=self.source_failed,
            headers=headers,
            dont_filter=True,
            priority=10,
            meta={"source": source.name, "depth_left": source.depth, "role": "source"},
        )

    def _source(self, response_or_failure: Any) -> SourceConfig:
        return self.ctx.source_by_name[response_or_failure.meta["source"]]

    def _source_response_ok(self, response: Response) -> bool:
        """Handles statuses, redirects and caching headers of a source document; True to parse it."""
        source = self._source(response)
        stats = self.ctx.stats(source.name)
        stats.fetched += 1
        if response.meta.get("role") == "source":
            self._note_redirect(source, response)
        status = response.status
        verdict = classify(status)
        if verdict == "not-modified":
            self.ctx.source_ok(source.name, not_modified=True)
            if response.meta.get("child_url"):
                self.ctx.sitemap_child_read(source.name, response.meta["child_url"], None)
            return False
        if verdict == "gone":
            self.ctx.source_gone(source.name, f"{response.url} answered 410 Gone")
            return False
        if verdict == "failed":
            retry_after = parse_retry_after(response.headers.get(b"Retry-After"), self.ctx.now())
            self.ctx.source_failed(source.name, f"{response.url} answered HTTP {status}", retry_after=retry_after)
            return False
        if response.meta.get("role") == "source":
            etag = response.headers.get(b"ETag")
            modified = response.headers.get(b"Last-Modified")
            self.ctx.note_validators(
                source.name, etag.decode("latin-1") if etag else None, modified.decode("latin-1") if modified else None
            )
        return True

    def _note_redirect(self, source: SourceConfig, response: Response) -> None:
        reasons = response.meta.get("redirect_reasons") or []
        if reasons and all(r in PERMANENT_REDIRECTS for r in reasons):
            self.ctx.source_moved(source.name, source.url, response.url)

    def _retry_pending(self, source: SourceConfig, listed: set[str]) -> Iterator[Any]:
        """Pages that failed transiently on an earlier poll (kept from the feed) are fetched again."""
        for url in sorted(self.ctx.pending_urls(source.name) - listed):
            if url not in self.ctx.keys_in_flight:
                self.ctx.keys_in_flight.add(url)
                yield self._page_request(source.name, url, None, backlog=False, retry=True)

    def _guarded(self, what: str, handler: Callable[..., Any], arg: Any) -> Iterator[Any]:
        """Runs a callback so that any fault costs its own source only, and the request is released."""
        meta = arg.request.meta if isinstance(arg, Failure) else arg.meta
        name = meta["source"]
        url = arg.request.url if isinstance(arg, Failure) else arg.url
        try:
            out = handler(arg)
            if out is not None:
                yield from out
        except Exception as exc:
            if what == "source":
                self.ctx.source_failed(name, f"{url}: cannot be read ({_describe(exc)})")
            else:
                self.ctx.page_error(name, f"{url}: cannot be read ({_describe(exc)})", meta.get("listed_url"))
        finally:
            self.ctx.release(name)

    def source_failed(self, failure: Failure) -> Iterator[Any]:
        return self._guarded("source", self._source_failed, failure)

    def _source_failed(self, failure: Failure) -> None:
        request = failure.request
        source = self.ctx.source_by_name[request.meta["source"]]
        self.ctx.stats(source.name).fetched += 1
        self.ctx.source_failed(source.name, describe_failure(failure, request.url))

    def parse_feed(self, response: Response) -> Iterator[Any]:
        return self._guarded("source", self._parse_feed, response)

    def parse_sitemap(self, response: Response) -> Iterator[Any]:
        return self._guarded("source", self._parse_sitemap, response)

    def parse_listing(self, response: Response) -> Iterator[Any]:
        return self._guarded("source", self._parse_listing, response)

    def parse_page(self, response: Response) -> Iterator[Any]:
        return self._guarded("page", self._parse_page, response)

    def page_failed(self, failure: Failure) -> Iterator[Any]:
        return self._guarded("page", self._page_failed, failure)

    def _parse_feed(self, response: Response) -> Iterator[Any]:
        if (instead := self._unusable(response)) is not None:
            yield from instead
            return
        source = self._source(response)
        try:  # the items read at the last parse and unchanged are not parsed again
            known = self.ctx.feed_items(source.name)
            feed = parse_feed(response.body, response.url, _content_type(response), known=known)
        except FetchError as exc:
            self.ctx.source_failed(source.name, str(exc))
            return
        self.ctx.keep_feed_items(source.name, feed.read)
        if feed.warning:
            self.ctx.warn(source.name, feed.warning)  # names the URL, the fault and the entries kept
        if feed.cut:
            self.ctx.warn(source.name, feed.cut)
        if feed.skipped:
            shown = "; ".join(feed.skipped[:5]) + ("; …" if len(feed.skipped) > 5 else "")
            self.ctx.warn(
                source.name,
                f"{response.url}: {len(feed.skipped)} {noun(len(feed.skipped), 'entry', 'entries')} skipped ({shown})",
            )
        self.ctx.source_ok(source.name)
        self.ctx.note_document(source.name, [e.published for e in feed.entries], len(feed.entries))
        linkless = [e for e in feed.entries if not e.link]
        if linkless:  # nothing to fetch or to point a reader at: said, not silently dropped
            first = (linkless[0].title or linkless[0].summary or "")[:80]
            self.ctx.warn(
                source.name,
                f"{response.url}: {len(linkless)} {noun(len(linkless), 'entry', 'entries')} without a link skipped "
                f"(first: {first!r})",
            )
        seen = self.ctx.seen_entries(source.name)
        infos = []
        shared: dict[str, int] = {}
        for entry in feed.entries:
            if not entry.link:
                continue
            page = _canonical(entry.link)
            if entry.shared_page is None and page is not None and SHARED_PAGE + page in seen:
                entry = own_page(entry, page)  # other entries linked its page on earlier polls: it is not its story
            if entry.shared_page is not None:
                if entry.key not in seen and entry.text_key not in seen:
                    shared[entry.shared_page] = shared.get(entry.shared_page, 0) + 1
                if SHARED_PAGE + entry.shared_page not in seen:
                    self.ctx.mark_entry(source.name, SHARED_PAGE + entry.shared_page, None)
            infos.append(
                (
                    entry.key,
                    entry.link,
                    FeedInfo(
                        key=entry.key,
                        text_key=entry.text_key,
                        title=entry.title,
                        summary=entry.summary,
                        published=entry.published,
                        language=entry.language,
                        shared=entry.shared_page is not None,
                    ),
                )
            )
        for page, n in shared.items():
            what = "the site's home page" if is_home_page(page) else "a page of several stories (a live blog?)"
            self.ctx.warn(
                source.name,
                f"{n} new {'entry links' if n == 1 else 'entries link'} {page}, {what}: each is kept with its own "
                "title and summary from the feed, the page fetched for none",
            )
        yield from self._follow_listed(source, infos)

    def _parse_sitemap(self, response: Response) -> Iterator[Any]:
        if (instead := self._unusable(response)) is not None:
            yield from instead
            return
        source = self._source(response)
        try:
            sm = parse_sitemap(response.body, response.url)
        except FetchError as exc:
            self.ctx.source_failed(source.name, str(exc))
            return
        if sm.sitemaps and response.meta.get("role") == "source":
            # an unchanged index says nothing about its children: always read it whole
            self.ctx.note_validators(source.name, None, None)
        self.ctx.source_ok(source.name)
        self.ctx.note_document(
            source.name, [e.news_published or e.lastmod for e in sm.entries], len(sm.entries) + len(sm.sitemaps)
        )
        depth = response.meta.get("sitemap_depth", 0)
        if response.meta.get("child_url"):
            etag, modified = response.headers.get(b"ETag"), response.headers.get(b"Last-Modified")
            self.ctx.sitemap_child_read(
                source.name,
                response.meta["child_url"],
                (etag.decode("latin-1") if etag else None, modified.decode("latin-1") if modified else None),
                None if sm.sitemaps else entries_hash(sm),
            )
        since = self.ctx.now() - timedelta(seconds=source.window)
        if depth < 3:
            dates = dict(zip(sm.sitemaps, sm.sitemap_dates or (None,) * len(sm.sitemaps), strict=True))
            for child in sitemaps_since(sm, since):
                if urls.is_http_url(child):
                    # an unchanged child costs a 304 (its validators), or nothing at a poll it rests (no validators)
                    due, headers = self.ctx.sitemap_child(source.name, child, dated=dates.get(child) is not None)
                    if not due:
                        continue
                    self.ctx.hold(source.name)
                    yield scrapy.Request(
                        child,
                        callback=self.parse_sitemap,
                        errback=self.source_failed,
                        headers=headers,
                        priority=10,
                        meta={"source": source.name, "sitemap_depth": depth + 1, "role": "child", "child_url": child},
                    )
        infos = []
        for e in entries_since(sm, since):
            key = _canonical(e.loc)
            if key is None:
                continue
            infos.append(
                (
                    key,
                    e.loc,
                    FeedInfo(
                        key=None, title=e.news_title or "", published=e.news_published or e.lastmod, language=e.language
                    ),
                )
            )
        yield from self._follow_listed(source, infos)

    def _parse_listing(self, response: Response) -> Iterator[Any]:
        if (instead := self._unusable(response)) is not None:
            yield from instead
            return
        source = self._source(response)
        if source.follow_css:
            links = []
            try:
                selected = response.css(source.follow_css)
            except Exception as exc:
                self.ctx.source_failed(
                    source.name,
                    f"follow_css {source.follow_css!r} is not a valid CSS selector ({_describe(exc)}); fix the source in the config",
                )
                return
            for sel in selected:
                hrefs = sel.xpath("self::a/@href").getall() or sel.css("a::attr(href)").getall()
                texts = sel.xpath("normalize-space(.)").get() or ""
                links += [(response.urljoin(h), texts) for h in hrefs]
        else:
            extractor = LinkExtractor(allow=source.follow, unique=True)
            links = [(link.url, link.text) for link in extractor.extract_links(response)]
        self.ctx.source_ok(source.name)
        infos = []
        for url, text in links:
            key = _canonical(url) if urls.is_http_url(url) else None
            if key is not None:
                infos.append((key, url, FeedInfo(title=" ".join(text.split()))))
        self.ctx.note_document(source.name, [], len(infos))
        yield from self._follow_listed(source, infos)
        left = response.meta.get("depth_left", 1) - 1
        if left > 0:
            nxt = _next_page(response, {u for u, _ in links})
            if nxt and nxt not in self.ctx.listing_pages_seen:
                self.ctx.listing_pages_seen.add(nxt)
                self.ctx.hold(source.name)
                yield scrapy.Request(
                    nxt,
                    callback=self.parse_listing,
                    errback=self.source_failed,
                    priority=5,
                    meta={"source": source.name, "depth_left": left, "role": "child"},
                )

    def _unusable(self, response: Response) -> Iterator[Any] | None:
        """None for a source document to read; else what to do instead (after a 304: retry its pending pages)."""
        if self._source_response_ok(response):
            return None
        if response.status == 304:
            return self._retry_pending(self._source(response), set())
        return iter(())

    def _follow_listed(self, source: SourceConfig, infos: list[tuple[str, str, FeedInfo]]) -> Iterator[Any]:
        """The new entries a source document lists, then its pending pages it no longer lists."""
        listed = {_canonical(link) for _, link, _ in infos}
        self.ctx.note_listed(source.name, listed)
        entries = self.ctx.entries_listed.setdefault(source.name, {})
        for _key, link, info in infos:  # a page later seen to be a wall keeps its entry's text
            if info.summary and (page := _canonical(link)) is not None:
                entries.setdefault(page, info)
        yield from self._follow_entries(source, infos)
        yield from self._retry_pending(source, listed)

    # -- article pages ---------------------------------------------------------------------

    def _follow_entries(self, source: SourceConfig, infos: list[tuple[str, str, FeedInfo]]) -> Iterator[Any]:
        seen = self.ctx.seen_entries(source.name)
        pending = self.ctx.pending_urls(source.name)
        fresh = []
        own: list[tuple[str, str, FeedInfo]] = []
        skipped: list[str] = []
        for key, link, info in infos:
            canon = _canonical(link) if urls.is_http_url(link) else None
            if canon is None:
                skipped.append(f"{link[:200]}: not a valid http(s) URL")
                continue
            also = info.text_key
            # an entry whose link changes at each poll (a session id) is known by what it says
            if (key in seen or also in seen) and canon not in pending:
                continue
            if key in self.ctx.keys_in_flight or also in self.ctx.keys_in_flight:
                continue
            if also:
                self.ctx.keys_in_flight.add(also)
            if info.shared:  # one page of several stories: each is told by its feed entry, the page fetched for none
                self.ctx.keys_in_flight.add(key)
                if info.title or info.summary:
                    own.append((key, link, info))
                else:
                    self.ctx.mark_entry(source.name, key, None, also)
                continue
            if canon in self.ctx.pages_listed:  # another entry of this run links the same page: it is fetched once
                continue
            self.ctx.keys_in_flight.add(key)
            self.ctx.pages_listed.add(canon)
            fresh.append((key, link, canon, info))
        if skipped:
            self.ctx.warn(
                source.name,
                f"{len(skipped)} {noun(len(skipped), 'entry', 'entries')} skipped ({'; '.join(skipped[:5])})",
            )
        for key, link, info in own:
            self.ctx.hold(source.name)  # released when the item is stored
            yield FeedOnlyItem(
                source=source.name,
                url=link,
                feed=info,
                fetched=self.ctx.now(),
                pending=False,
                backlog=self.ctx.is_backlog(source.name, key, info.text_key),
                error="",
            )
        known = self.ctx.known_urls([c for _, _, c, _ in fresh] + [l for _, l, _, _ in fresh])
        wanted: list[tuple[str, str, FeedInfo]] = []
        for key, link, canon, info in fresh:
            if (canon in known or link in known) and canon not in pending:
                # the same page is already stored (another source or an earlier alias): nothing to fetch
                article = known.get(canon) or known.get(link)
                if article in self.ctx.entry_articles(source.name):
                    # listed by this source before under another id: a feed that gives its entries new ids at
                    # each poll (same links and texts) added a row per entry and poll for ever, each a duplicate
                    continue
                self.ctx.mark_entry(source.name, key, article, info.text_key)
                self.ctx.stats(source.name).duplicates += 1
                continue
            wanted.append((key, link, info))
        limit = max_new_pages()
        budget = max(0, limit - self.ctx.new_pages.get(source.name, 0))  # counted over all the source's documents
        if len(wanted) > budget:
            # A feed of 100,000 entries (broken or hostile) queued 100,000 pages in one poll, its memory growing
            # with them, and filled the database and the digests with its stories; so did a sitemap index of 100
            # children of 1,000 each. The newest go first; the rest are not marked seen, so the next polls take
            # them, as many each.
            wanted.sort(key=lambda w: w[2].published.timestamp() if w[2] and w[2].published else -1e18, reverse=True)
            for key, _link, info in wanted[budget:]:
                self.ctx.keys_in_flight.difference_update((key, info.text_key))
            self.ctx.entries_left(source.name)
            # left by a first poll, they were in the feed then: backlog when a later poll fetches them, not new
            left = [k for key, _link, info in wanted[budget:] for k in (key, info.text_key) if k]
            self.ctx.backlog_left(source.name, left)
            others = limit - budget
            if budget:
                taken = f", {others:,} taken by its other documents" if others else ""
                said = (
                    f"{len(wanted):,} new entries: the {budget:,} newest {noun(budget, 'is', 'are')} fetched now, the "
                    f"other {len(wanted) - budget:,} at the next polls (at most {limit:,} pages a poll{taken})"
                )
            else:
                said = (
                    f"{len(wanted):,} more new {noun(len(wanted), 'entry', 'entries')} at the next polls (at most "
                    f"{limit:,} pages a poll, all taken by its other documents)"
                )
            self.ctx.warn(source.name, said)
            del wanted[budget:]
        self.ctx.new_pages[source.name] = self.ctx.new_pages.get(source.name, 0) + len(wanted)
        for key, link, info in wanted:
            try:
                request = self._page_request(
                    source.name, link, info, backlog=self.ctx.is_backlog(source.name, key, info.text_key)
                )
            except Exception as exc:  # a link Scrapy cannot request costs that entry only
                self.ctx.warn(source.name, f"entry skipped: {link[:200]}: cannot be requested ({_describe(exc)})")
                continue
            yield request

    def _page_request(
        self, source_name: str, url: str, info: FeedInfo | None, *, backlog: bool, retry: bool = False
    ) -> scrapy.Request:
        request = scrapy.Request(
            url,
            callback=self.parse_page,
            errback=self.page_failed,
            # not left to Scrapy's duplicate filter: pages that all redirect to one URL (a login or consent wall)
            # were dropped after the first, their entries lost without a word and fetched again at each poll
            dont_filter=True,
            priority=0,
            meta={
                "source": source_name,
                "info": info,
                "backlog": backlog,
                "listed_url": url,
                "pending_retry": retry,
                "dont_retry": retry,  # a page retried from an earlier poll gets one attempt per poll
            },
        )
        self.ctx.stats(source_name).queued += 1
        self.ctx.hold(source_name)
        return request

    def _parse_page(self, response: Response) -> Iterator[Any]:
        meta = response.meta
        stats = self.ctx.stats(meta["source"])
        stats.fetched += 1
        if response.status >= 400:
            yield from self._page_fallback(
                meta, f"{response.url} answered HTTP {response.status}", transient=response.status in TRANSIENT_STATUSES
            )
            return
        if not isinstance(response, scrapy.http.TextResponse) and not _looks_like_html(response):
            yield from self._page_fallback(meta, f"{response.url} is not an HTML page", transient=False)
            return
        self.ctx.hold(meta["source"])  # released when the item is stored
        yield PageItem(
            PageJob(
                source=meta["source"],
                url=meta["listed_url"],
                final_url=response.url,
                body=response.body,
                content_type=_content_type(response),
                fetched=self.ctx.now(),
                feed=meta.get("info"),
                source_language=self.ctx.source_language(meta["source"]),
                backlog=meta.get("backlog", False),
            )
        )

    def _page_failed(self, failure: Failure) -> Iterator[Any]:
        request = failure.request
        self.ctx.stats(request.meta["source"]).fetched += 1
        from scrapy.exceptions import IgnoreRequest

        refused = isinstance(failure.value, IgnoreRequest)  # robots.txt or RefusedURL: policy, not a fault
        error = describe_failure(failure, request.url)
        too_large = error.endswith(TOO_LARGE)  # as large on the next poll: not fetched again, 5 MB a day for ever
        yield from self._page_fallback(request.meta, error, transient=not (refused or too_large), refused=refused)

    def _page_fallback(
        self, meta: dict[str, Any], error: str, *, transient: bool, refused: bool = False
    ) -> Iterator[Any]:
        source = meta["source"]
        self.ctx.page_error(source, error, meta["listed_url"])
        if meta.get("pending_retry"):
            if not transient:  # gone for good: keep the feed's text, stop retrying
                self.ctx.clear_pending(meta["listed_url"])
            else:
                self.ctx.pending_retry_failed(source, meta["listed_url"])
            return
        info: FeedInfo | None = meta.get("info")
        # A refused link with only a listing's anchor text (no feed summary) is not worth an article.
        if info and (info.summary or (info.title and not refused)):
            self.ctx.hold(source)  # released when the item is stored
            yield FeedOnlyItem(
                source=source,
                url=meta["listed_url"],
                feed=info,
                fetched=self.ctx.now(),
                pending=transient,
                backlog=meta.get("backlog", False),
                error=error,
            )
        elif info and not transient:  # nothing to keep and nothing to retry: not asked for again
            self.ctx.mark_entry(source, info.key or urls.canonicalize(meta["listed_url"]), None, info.text_key)


def _content_type(response: Response) -> str | None:
    value = response.headers.get(b"Content-Type")
    return value.decode("latin-1") if value else None


def _looks_like_html(response: Response) -> bool:
    head = response.body[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head


def _canonical(url: str) -> str | None:
    """The canonical form of a listed URL; None for one that cannot be parsed (a bad entry, skipped)."""
    try:
        return urls.canonicalize(url)
    except (ValueError, UnicodeError):
        return None


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


def _next_page(response: Response, article_links: set[str]) -> str | None:
    rel = response.css('a[rel~="next"]::attr(href), link[rel~="next"]::attr(href)').get()
    if rel:
        return response.urljoin(rel)
    here = urlsplit(response.url)
    for a in response.css("a[href]"):
        href = response.urljoin(a.attrib["href"])
        if href in article_links or href == response.url or urlsplit(href).netloc != here.netloc:
            continue
        text = " ".join(a.css("::text").getall()).strip()
        if _NEXT_WORDS.match(text) and (_PAGINATION_URL.search(href) or text):
            return href
    return None


TOO_LARGE = "page larger than crawl.max_page_size"


def describe_failure(failure: Failure, url: str) -> str:
    """One line naming the URL and what went wrong, without a traceback."""
    exc = failure.value
    name = type(exc).__name__
    text = str(exc).strip()
    if "Timeout" in name or "TimeoutError" in name:
        return f"{url}: timed out (raise crawl.timeout if the server is just slow)"
    if "DNS" in name or "CannotResolveHost" in name:
        return f"{url}: host name not found"
    if "ConnectionRefused" in name:
        return f"{url}: connection refused"
    lowered = text.lower()
    # Scrapy cancels a download without a message only when its body outgrows DOWNLOAD_MAXSIZE.
    if (
        "Cancelled" in name
        and (not text or "maxsize" in lowered or "max size" in lowered)
        or "larger than" in lowered
        or "download_maxsize" in lowered
    ):
        return f"{url}: {TOO_LARGE}"
    if "robots.txt" in text.lower() or name == "IgnoreRequest" and not text:
        return f"{url}: forbidden by robots.txt"
    if text:
        return f"{url}: {text.splitlines()[0][:300]}"
    return f"{url}: {name}"
