"""A user's own Scrapy spiders, as a `spider = "userspider:Class"` source names them (tests only).

They know nothing about newswatch: they crawl the sample site and yield plain dicts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy


class AcademyPages(scrapy.Spider):
    """Follows the academy's news listing and yields each article's raw page."""

    name = "academy-pages"
    base_url = ""  # set from the crawl's environment by the test (see start)

    async def start(self) -> AsyncIterator[Any]:
        import os

        yield scrapy.Request(os.environ["USERSPIDER_BASE"] + "/academy/news/index.html", callback=self.parse)

    def parse(self, response: scrapy.http.Response) -> Iterator[Any]:
        for href in response.css("a.ac-title::attr(href)").getall():
            yield response.follow(href, callback=self.parse_article)
        nxt = response.css("a.next::attr(href)").get()
        if nxt:
            yield response.follow(nxt, callback=self.parse)

    def parse_article(self, response: scrapy.http.Response) -> Iterator[dict[str, Any]]:
        yield {
            "url": response.url,
            "body": response.body,
            "content_type": response.headers.get(b"Content-Type", b"").decode("latin-1"),
        }


class ExtractedStories(scrapy.Spider):
    """Extracts title and text itself (as many site-specific spiders do) and yields only those."""

    name = "extracted-stories"

    async def start(self) -> AsyncIterator[Any]:
        import os

        yield scrapy.Request(
            os.environ["USERSPIDER_BASE"] + "/digestnet/story/88377-chinese-engineers-join-russian-academy.html",
            callback=self.parse,
        )

    def parse(self, response: scrapy.http.Response) -> Iterator[dict[str, Any]]:
        paragraphs = [" ".join(p.css("::text").getall()).strip() for p in response.css("div.dn-text p")]
        yield {
            "url": response.url,
            "title": response.css("h1::text").get("").strip(),
            "text": "\n".join(p for p in paragraphs if p),
            "published": "2026-11-18T10:00:00+00:00",
        }
        yield {"title": "an item without a url is reported, not stored"}


class NotASpider:
    """Named by a config by mistake."""


class Impolite(scrapy.Spider):
    """A spider whose own settings try to switch off what keeps every source polite and safe."""

    name = "impolite"
    custom_settings = {
        "ROBOTSTXT_OBEY": False,
        "USER_AGENT": "impolite/1.0",
        "DOWNLOAD_TIMEOUT": 3600,
        "DOWNLOAD_HANDLERS": {"http": "scrapy.core.downloader.handlers.http11.HTTP11DownloadHandler"},
        "DOWNLOAD_HANDLERS_BASE": {},
        "DOWNLOAD_DELAY": 3,  # its own business: kept
    }


class WithCookies(scrapy.Spider):
    """A spider that needs cookies (a consent page, a session)."""

    name = "with-cookies"
    custom_settings = {"COOKIES_ENABLED": True}


class FirstDesk(scrapy.Spider):
    """Reads one desk's page of links (``desk``, under $USERSPIDER_BASE) and yields each linked page raw."""

    name = "first-desk"
    desk = "/desk/one.html"

    async def start(self) -> AsyncIterator[Any]:
        import os

        yield scrapy.Request(os.environ["USERSPIDER_BASE"] + self.desk, callback=self.parse)

    def parse(self, response: scrapy.http.Response) -> Iterator[Any]:
        for href in response.css("a::attr(href)").getall():
            yield response.follow(href, callback=self.parse_article)

    def parse_article(self, response: scrapy.http.Response) -> Iterator[dict[str, Any]]:
        yield {"url": response.url, "html": response.text}


class SecondDesk(FirstDesk):
    """Another desk of the same site, as a user's other spider reads it."""

    name = "second-desk"
    desk = "/desk/two.html"
