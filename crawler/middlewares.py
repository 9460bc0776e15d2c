"""Downloader middleware: only http(s), and no private addresses unless the config allows them.

Runs for every request, redirect hops included (Scrapy sends each hop through the chain again).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.httpobj import urlparse_cached
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
    """Scrapy's robots.txt middleware, fixed for requests that wait on one robots.txt together.

    Awaiting the shared Deferred hands the parser to the first waiter only (the others get None and
    would be let through); once it has fired, the parser is in ``_parsers``, so read it from there.
    """

    async def robot_parser(self, request: Any) -> Any:
        parser = await super().robot_parser(request)
        current = self._parsers.get(urlparse_cached(request).netloc)
        return parser if isinstance(current, Deferred) else current
