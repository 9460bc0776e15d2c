"""Scrapy settings built from the [crawl] config: polite, bounded and quiet by default."""

from __future__ import annotations

import logging
import os
from typing import Any

from crawler.config import CrawlConfig

# Transient failures worth retrying within a run; 429/503 are not retried here because a
# Retry-After must delay the source, not be ignored by an immediate retry.
RETRY_CODES = [500, 502, 504, 522, 524, 408]
# Statuses the spiders see instead of Scrapy's HttpError filter (redirects are still followed).
HANDLED_CODES = [304, 400, 401, 403, 404, 406, 410, 429, 451, 500, 502, 503, 504]
ITEM_PIPELINES = {
    "crawler.pipelines.ProcessPipeline": 100,
    "crawler.pipelines.StorePipeline": 200,
}
# Scrapy imports every component its EXTENSIONS and DOWNLOADER_MIDDLEWARES settings name, even one
# set to None, and every one left in their *_BASE defaults, even one its own setting turns off.
# Components newswatch never runs are therefore left out of the base dicts, which spares each crawl
# child their imports: aiohttp (RemoteControl), tldextract with requests (CookiesMiddleware) and
# Twisted's conch (TelnetConsole), about 0.15 s of CPU. A user spider that enables cookies gets their
# middleware back (crawler.custom).
EXTENSIONS_OFF = (
    "scrapy.extensions.memusage.MemoryUsage",
    "scrapy.extensions.remote_control.RemoteControl",
    "scrapy.extensions.telnet.TelnetConsole",
)
COOKIES_MIDDLEWARE = "scrapy.downloadermiddlewares.cookies.CookiesMiddleware"
MIDDLEWARES_OFF = ("scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware", COOKIES_MIDDLEWARE)


def default_base(name: str, without: tuple[str, ...] = ()) -> dict[str, int]:
    """Scrapy's default ``name`` (e.g. EXTENSIONS_BASE) without the components in ``without``."""
    from scrapy.settings import default_settings

    return {k: v for k, v in getattr(default_settings, name).items() if k not in without}


def scrapy_settings(crawl: CrawlConfig, *, log_level: str = "ERROR") -> dict[str, Any]:
    return {
        "BOT_NAME": "newswatch",
        "USER_AGENT": crawl.user_agent,
        "ROBOTSTXT_OBEY": crawl.obey_robots,
        "ROBOTSTXT_USER_AGENT": "newswatch",
        "DOWNLOAD_TIMEOUT": crawl.timeout,
        "DOWNLOAD_MAXSIZE": crawl.max_page_size,
        "DOWNLOAD_WARNSIZE": 0,
        "CONCURRENT_REQUESTS": crawl.concurrency,
        # Scrapy starts this many asyncio tasks for every callback's output, even a page's single
        # item: the default 100 cost more main-process CPU per page than storing the article.
        # 8 still lets a user spider's many items per page reach every extraction worker (max 8).
        "CONCURRENT_ITEMS": 8,
        "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.per_domain,
        "DOWNLOAD_DELAY": crawl.delay,
        "RANDOMIZE_DOWNLOAD_DELAY": crawl.delay > 0,
        "AUTOTHROTTLE_ENABLED": True,
        "AUTOTHROTTLE_START_DELAY": max(crawl.delay, 0.0),
        "AUTOTHROTTLE_MAX_DELAY": 30.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(crawl.per_domain),
        "RETRY_ENABLED": True,
        "RETRY_TIMES": 2,
        "RETRY_HTTP_CODES": RETRY_CODES,
        "REDIRECT_MAX_TIMES": 5,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": log_level,
        "LOG_ENABLED": True,
        "STATS_DUMP": False,
        "LOGSTATS_INTERVAL": 0,
        "HTTPCACHE_ENABLED": False,
        "DNSCACHE_ENABLED": True,
        "REACTOR_THREADPOOL_MAXSIZE": 10,
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
        "DOWNLOADER_MIDDLEWARES_BASE": default_base("DOWNLOADER_MIDDLEWARES_BASE", MIDDLEWARES_OFF),
        "DOWNLOADER_MIDDLEWARES": {
            "crawler.middlewares.SafetyMiddleware": 50,
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,  # should a spider bring it back
            "crawler.middlewares.RobotsMiddleware": 100,
            "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
            "crawler.middlewares.MetaRefreshMiddleware": 580,  # Scrapy's place for it
        },
        "ITEM_PIPELINES": dict(ITEM_PIPELINES),
        # RemoteControl (an HTTP console), TelnetConsole and MemoryUsage are off
        "EXTENSIONS_BASE": default_base("EXTENSIONS_BASE", EXTENSIONS_OFF),
        "HTTPPROXY_ENABLED": True,
    }


def import_tls_early() -> None:
    """Imports Scrapy's TLS modules first thing in a crawl or probe child, which will fetch (installs no reactor).

    They name their deprecated aliases' module with inspect.stack(), whose cost grows with the stack's
    depth and the modules loaded: imported before the child's deep imports, that costs ~0.05 s of CPU
    instead of ~0.1 s.
    """
    import scrapy.core.downloader.contextfactory  # noqa: F401


def quiet_scrapy_logs() -> None:
    # Scrapy's own per-request errors are reported through the summary; its log stays for --debug.
    quiet = logging.DEBUG if os.environ.get("NEWSWATCH_DEBUG") else logging.CRITICAL
    for name in ("scrapy", "twisted", "py.warnings"):
        logging.getLogger(name).setLevel(quiet)
