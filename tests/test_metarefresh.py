"""Meta-refresh redirects: looked for in a page's start only, with the same outcome as Scrapy's own check."""

from __future__ import annotations

import pytest
from scrapy import Request
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware as ScrapyMetaRefresh
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from crawler.middlewares import MetaRefreshMiddleware

URL = "http://news.example.org/a"
FILLER = "<p>" + "Researchers met to discuss a joint laboratory for new materials. " * 2000 + "</p>"  # ~130 KB
REFRESH = "<meta http-equiv='refresh' content='0; url=/moved'>"


def _page(head: str, body: str = FILLER, charset: str | None = "utf-8") -> bytes:
    meta = f"<meta charset='{charset}'>" if charset else ""
    return f"<html><head>{meta}{head}<title>A</title></head><body>{body}</body></html>".encode(charset or "utf-8")


@pytest.mark.parametrize(
    ("body", "content_type", "followed"),
    [
        (_page(REFRESH), "text/html; charset=utf-8", True),  # a long page with the tag
        (_page(REFRESH, body="<p>short</p>"), "text/html", True),  # a short page with the tag
        (_page(""), "text/html; charset=utf-8", False),  # a long page without it
        (_page("", body=FILLER + REFRESH), "text/html", False),  # the tag after 4,096 characters
        (_page(REFRESH, charset="utf-16"), "text/html; charset=utf-16", True),  # not ASCII-compatible
        (_page(REFRESH, charset="cp1251"), "text/html; charset=windows-1251", True),
        (
            _page("", body="<p>" + "Лаборатория откроется весной. " * 4000 + "</p>" + REFRESH, charset="utf-8"),
            "text/html",
            False,
        ),
        (_page(REFRESH, charset=None), "text/html", True),  # no declared encoding: Scrapy's own check
        (_page("", charset=None), "text/html", False),
    ],
)
def test_meta_refresh_is_followed_exactly_when_scrapy_follows_it(
    body: bytes, content_type: str, followed: bool
) -> None:
    crawler = get_crawler(settings_dict={"METAREFRESH_ENABLED": True})
    ours, scrapys = MetaRefreshMiddleware.from_crawler(crawler), ScrapyMetaRefresh.from_crawler(crawler)
    outcomes = []
    for mw in (ours, scrapys):
        request = Request(URL)
        response = HtmlResponse(URL, body=body, headers={"Content-Type": content_type}, request=request)
        out = mw.process_response(request, response)
        outcomes.append(out.url if isinstance(out, Request) else None)
    assert outcomes[0] == outcomes[1]
    assert outcomes[0] == ("http://news.example.org/moved" if followed else None)


def test_the_crawl_uses_our_meta_refresh_check_in_scrapys_place() -> None:
    from crawler.config import CrawlConfig
    from crawler.settings import scrapy_settings

    mws = scrapy_settings(CrawlConfig())["DOWNLOADER_MIDDLEWARES"]
    assert mws["scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware"] is None
    assert mws["crawler.middlewares.MetaRefreshMiddleware"] == 580
