"""Downloader middleware: only http(s), and no private addresses unless the config allows them;
robots.txt with Crawl-delay; meta-refresh redirects read from a page's start.

Runs for every request, redirect hops included (Scrapy sends each hop through the chain again).
"""

from __future__ import annotations

import codecs
from typing import Any
from urllib.parse import urlsplit

from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware as ScrapyMetaRefreshMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.response import get_meta_refresh
from twisted.internet.defer import Deferred

from crawler.errors import FetchError
from crawler.urls import check_url


class RefusedURL(IgnoreRequest):
    """A URL newswatch will not fetch (scheme or address); the message says why."""


class SafetyMiddleware:
    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._verdicts: dict[tuple[str, str], str | None] = {}

    @classmethod
    def from_crawler(cls, crawler: Any) -> SafetyMiddleware:
        return cls(crawler.settings.getbool("NEWSWATCH_ALLOW_PRIVATE"))

    def process_request(self, request: Any) -> None:
        parts = urlsplit(request.url)
        key = (parts.scheme.lower(), (parts.hostname or "").lower())
        if self._verdicts.get(key, True) is not None:
            try:
                check_url(request.url, self.allow_private)
                self._verdicts[key] = None
            except FetchError as exc:
                self._verdicts[key] = str(exc)
                raise RefusedURL(str(exc)) from None
        return None


class RobotsMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, fixed for requests that wait on one robots.txt together, and
    honouring ``Crawl-delay``.

    Awaiting the shared Deferred hands the parser to the first waiter only (the others get None and
    would be let through); once it has fired, the parser is in ``_parsers``, so read it from there.
    A host's ``Crawl-delay`` becomes its download slot's minimum gap, one request at a time, with no
    random jitter below it and no AutoThrottle shortening it.
    """

    async def process_request(self, request: Any) -> None:
        if request.meta.get("dont_obey_robotstxt") or not request.url.startswith(("http://", "https://")):
            return
        rp = await self.robot_parser(request)
        self.process_request_2(rp, request)
        delay = crawl_delay(rp, self._robotstxt_useragent or self._default_useragent)
        if delay:
            self._slow_down(request, delay)

    async def robot_parser(self, request: Any) -> Any:
        parser = await super().robot_parser(request)
        current = self._parsers.get(urlparse_cached(request).netloc)
        return parser if isinstance(current, Deferred) else current

    def _slow_down(self, request: Any, delay: float) -> None:
        downloader = self.crawler.engine.downloader
        key = downloader.get_slot_key(request)
        downloader.per_slot_settings[key] = {"delay": delay, "concurrency": 1, "jitter": 0.0}
        slot = downloader.slots.get(key)
        if slot is not None and (slot.delay < delay or slot.concurrency != 1 or slot.jitter):
            slot.delay, slot.concurrency, slot.jitter = max(slot.delay, delay), 1, 0.0
        request.meta["autothrottle_dont_adjust_delay"] = True
        ctx = getattr(self.crawler.spider, "ctx", None)
        if ctx is not None and hasattr(ctx, "note_crawl_delay"):
            ctx.note_crawl_delay((urlparse_cached(request).hostname or "").lower(), delay)


def crawl_delay(parser: Any, user_agent: str) -> float | None:
    """The robots.txt Crawl-delay for our user agent, in seconds (None when not set or unreadable)."""
    if parser is None:
        return None
    try:
        delay = parser.crawl_delay(user_agent)
    except (AttributeError, ValueError, TypeError):
        return None
    return float(delay) if delay and delay > 0 else None


class MetaRefreshMiddleware(ScrapyMetaRefreshMiddleware):
    """Scrapy's meta-refresh redirects, looked for in the start of the page only.

    Scrapy reads the tag from the page's first 4,096 characters but decodes the whole page to get
    them (~0.3 ms of the crawl process for a 130 KB article, which its extraction worker decodes
    again). A page with a declared encoding is checked from the bytes that hold its first 4,096
    characters; only a page that has the tag, or whose encoding Scrapy infers from the whole body,
    goes through Scrapy's own check.
    """

    def process_response(self, request: Any, response: Any, spider: Any = None) -> Any:
        if isinstance(response, HtmlResponse) and len(response.body) > _HEAD_BYTES_UTF8:
            encoding = response._declared_encoding()  # None: Scrapy infers it from the whole body
            if encoding:
                size = _HEAD_BYTES_UTF8 if _is_utf8(encoding) else _HEAD_BYTES
                if len(response.body) > size:
                    head = response.replace(body=response.body[:size])
                    if get_meta_refresh(head, ignore_tags=self._ignore_tags)[1] is None:
                        return response
        return super().process_response(request, response)


_HEAD_BYTES_UTF8 = 4 * 4096  # a UTF-8 character takes at most 4 bytes
_HEAD_BYTES = 65536  # enough for 4,096 characters in any encoding a page declares


def _is_utf8(encoding: str) -> bool:
    try:
        return codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False
