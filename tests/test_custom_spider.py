"""A user's spider keeps its own settings, except those that keep every source polite, safe and stoppable."""

from __future__ import annotations

from scrapy.settings import Settings

from crawler.config import CrawlConfig, SourceConfig
from crawler.custom import user_spider_class
from crawler.settings import COOKIES_MIDDLEWARE, ITEM_PIPELINES, scrapy_settings


def test_a_user_spider_cannot_override_the_settings_newswatch_relies_on() -> None:
    spider = user_spider_class(SourceConfig(name="own", kind="spider", url="", spider="userspider:Impolite"))
    settings = spider.custom_settings
    for ours in ("ROBOTSTXT_OBEY", "USER_AGENT", "DOWNLOAD_TIMEOUT", "DOWNLOAD_HANDLERS", "DOWNLOAD_HANDLERS_BASE"):
        assert ours not in settings, ours
    # the download handlers are ours: they give up a source's requests at its deadline
    assert settings["DOWNLOAD_DELAY"] == 3
    assert set(ITEM_PIPELINES) <= set(settings["ITEM_PIPELINES"])


def _components(spider: type | None = None) -> tuple[dict, dict]:
    """The downloader middlewares and extensions Scrapy would build for a crawl of ``spider``."""
    settings = Settings(scrapy_settings(CrawlConfig()))
    if spider is not None:
        spider.update_settings(settings)
    return (
        settings.get_component_priority_dict_with_base("DOWNLOADER_MIDDLEWARES"),
        settings.get_component_priority_dict_with_base("EXTENSIONS"),
    )


def test_components_newswatch_never_runs_are_not_loaded_but_a_spider_may_enable_cookies() -> None:
    middlewares, extensions = _components()
    assert (
        "crawler.middlewares.SafetyMiddleware" in middlewares and "crawler.middlewares.RobotsMiddleware" in middlewares
    )
    assert "scrapy.downloadermiddlewares.retry.RetryMiddleware" in middlewares
    assert "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware" not in middlewares
    assert COOKIES_MIDDLEWARE not in middlewares
    assert "scrapy.extensions.throttle.AutoThrottle" in extensions
    assert "scrapy.extensions.remote_control.RemoteControl" not in extensions
    assert "scrapy.extensions.memusage.MemoryUsage" not in extensions

    spider = user_spider_class(SourceConfig(name="own", kind="spider", url="", spider="userspider:WithCookies"))
    middlewares, _ = _components(spider)
    assert COOKIES_MIDDLEWARE in middlewares
    assert "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware" not in middlewares
    assert "crawler.middlewares.RobotsMiddleware" in middlewares
