"""The `spider` source kind: a user's own Scrapy spider (`module:Class`), with our pipelines applied.

The user's spider fetches through our settings and downloader middlewares (robots.txt, safety,
size and time limits); what it yields is turned into the items our pipelines process and store:

- ``{"url", "body" or "html"}`` (optionally ``content_type``): a raw page, decoded and extracted
  like any page we fetched ourselves;
- ``{"url", "title", "text"}`` (optionally ``published``, ``language``): an article the spider
  extracted itself; it becomes a minimal HTML page so decoding, extraction, dedup and matching
  are the same for every source.
"""

from __future__ import annotations

import html
import importlib
from datetime import datetime
from typing import Any

import scrapy
from itemadapter import ItemAdapter, is_item
from scrapy import signals
from scrapy.exceptions import DropItem

from crawler import urls
from crawler.config import SourceConfig
from crawler.errors import UsageError
from crawler.pipelines import CrawlerStep
from crawler.process import FeedInfo, PageJob
from crawler.settings import COOKIES_MIDDLEWARE, ITEM_PIPELINES, MIDDLEWARES_OFF, default_base
from crawler.spiders import PageItem

# Settings a user's spider may not override: they keep every source polite and safe, and its
# download handlers give up a source's requests at its deadline.
_OURS = (
    "DOWNLOADER_MIDDLEWARES",
    "DOWNLOAD_HANDLERS",
    "DOWNLOAD_HANDLERS_BASE",
    "ITEM_PIPELINES",
    "ROBOTSTXT_OBEY",
    "ROBOTSTXT_USER_AGENT",
    "USER_AGENT",
    "DOWNLOAD_MAXSIZE",
    "DOWNLOAD_TIMEOUT",
    "NEWSWATCH_ALLOW_PRIVATE",
    "TWISTED_REACTOR",
    "CONCURRENT_REQUESTS_PER_DOMAIN",
    "HTTPPROXY_ENABLED",
)


def load_spider(spec: str, source_name: str) -> type[scrapy.Spider]:
    """The class named by ``module:Class``; UsageError saying how to fix it when that fails."""
    module_name, _, class_name = spec.partition(":")
    where = f"source {source_name!r}: spider = {spec!r}"
    if not module_name or not class_name:
        raise UsageError(f"{where} is not 'package.module:ClassName'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(
            f"{where}: cannot import {module_name!r} ({exc}); install it or add its directory to PYTHONPATH"
        ) from None
    except Exception as exc:  # noqa: BLE001 - the user's module itself failed while importing
        raise UsageError(f"{where}: importing {module_name!r} failed ({type(exc).__name__}: {exc})") from None
    cls = getattr(module, class_name, None)
    if cls is None:
        raise UsageError(f"{where}: module {module_name!r} has no {class_name!r}")
    if not (isinstance(cls, type) and issubclass(cls, scrapy.Spider)):
        raise UsageError(f"{where}: {class_name!r} is not a scrapy.Spider subclass")
    return cls


def user_spider_class(source: SourceConfig) -> type[scrapy.Spider]:
    """A subclass of the source's spider that takes our run context and feeds our pipelines."""
    base = load_spider(source.spider or "", source.name)
    custom = {k: v for k, v in (getattr(base, "custom_settings", None) or {}).items() if k not in _OURS}
    custom["ITEM_PIPELINES"] = {f"{__name__}.UserItemPipeline": 50, **ITEM_PIPELINES}
    if custom.get("COOKIES_ENABLED"):  # its middleware is left out of newswatch's base (crawler.settings)
        off = tuple(m for m in MIDDLEWARES_OFF if m != COOKIES_MIDDLEWARE)
        custom["DOWNLOADER_MIDDLEWARES_BASE"] = default_base("DOWNLOADER_MIDDLEWARES_BASE", off)
    attrs = {
        "name": getattr(base, "name", None) or source.name,
        "custom_settings": custom,
        "__init__": _init,
        "from_crawler": classmethod(_from_crawler),
        "__module__": base.__module__,
    }
    return type(f"{base.__name__}ForNewswatch", (base,), attrs)


def _init(self: Any, *args: Any, ctx: Any, source: SourceConfig, **kwargs: Any) -> None:
    self.ctx = ctx
    self.newswatch_source = source
    super(type(self), self).__init__(*args, **kwargs)


def _from_crawler(cls: Any, crawler: Any, *args: Any, **kwargs: Any) -> Any:
    spider = super(cls, cls).from_crawler(crawler, *args, **kwargs)
    # Signal receivers are held weakly: the spider keeps this one alive.
    spider._newswatch_on_close = lambda spider: _closed(spider, crawler)
    crawler.signals.connect(spider._newswatch_on_close, signal=signals.spider_closed)
    return spider


def _closed(spider: Any, crawler: Any) -> None:
    """The source's health from what the spider did: a spider that fetched nothing failed."""
    ctx, name = spider.ctx, spider.newswatch_source.name
    stats = crawler.stats.get_stats()
    st = ctx.stats(name)
    responses = int(stats.get("downloader/response_count", 0)) - int(stats.get("robotstxt/response_count", 0))
    st.fetched += responses
    failures = int(stats.get("downloader/exception_count", 0)) + int(stats.get("spider_exceptions/count", 0))
    if st.status == "pending" and responses <= 0:
        ctx.source_failed(
            name, f"spider {spider.newswatch_source.spider} fetched nothing ({failures} download or spider errors)"
        )
    elif st.status == "pending":
        ctx.source_ok(name)
    if failures:
        st.errors += failures


class UserItemPipeline(CrawlerStep):
    """Turns a user spider's items into PageItems (raw page, or title + text as a minimal page)."""

    def process_item(self, item: Any) -> Any:
        spider = self.crawler.spider
        ctx, name = spider.ctx, spider.newswatch_source.name
        if isinstance(item, PageItem):
            return item
        if not is_item(item):
            ctx.page_error(name, f"spider yielded a {type(item).__name__}, not an item; yield dicts or Items")
            raise DropItem("not an item")
        fields = ItemAdapter(item).asdict()
        url = str(fields.get("url") or "")
        if not urls.is_http_url(url):
            ctx.page_error(name, f"spider item without an http(s) url (keys: {', '.join(sorted(fields))})")
            raise DropItem("no url")
        ctx.source_ok(name)
        key = urls.canonicalize(url)
        if key in ctx.seen_entries(name):
            raise DropItem("seen on an earlier crawl")
        body, content_type = _page_of(fields)
        if body is None:
            ctx.page_error(name, f"{url}: spider item has neither body/html nor title and text")
            raise DropItem("no content")
        info = FeedInfo(
            key=key,
            title=str(fields.get("title") or "").strip(),
            published=_date(fields.get("published")),
            language=fields.get("language") or None,
        )
        ctx.stats(name).queued += 1
        return PageItem(
            PageJob(
                source=name,
                url=url,
                final_url=url,
                body=body,
                content_type=content_type,
                fetched=ctx.now(),
                feed=info,
                source_language=ctx.source_language(name),
                backlog=ctx.backlog_poll(name),
            )
        )


def _page_of(fields: dict[str, Any]) -> tuple[bytes | None, str | None]:
    raw = fields.get("body", fields.get("html"))
    content_type = fields.get("content_type") or None
    if isinstance(raw, bytes):
        return raw, content_type
    if isinstance(raw, str):
        return raw.encode("utf-8"), "text/html; charset=utf-8"
    title, text = str(fields.get("title") or "").strip(), str(fields.get("text") or "").strip()
    if not text:
        return None, None
    paragraphs = "".join(f"<p>{html.escape(p.strip())}</p>\n" for p in text.splitlines() if p.strip())
    page = (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
        f"<body><article><h1>{html.escape(title)}</h1>\n{paragraphs}</article></body></html>"
    )
    return page.encode("utf-8"), "text/html; charset=utf-8"


def _date(value: Any) -> datetime | None:
    from crawler.dates import parse_published, plausible

    if isinstance(value, datetime):
        return plausible(value)
    return parse_published(value) if isinstance(value, str) else None
