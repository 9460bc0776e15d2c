"""A user's spider keeps its own settings, except those that keep every source polite, safe and stoppable."""

from __future__ import annotations

from crawler.config import SourceConfig
from crawler.custom import user_spider_class
from crawler.settings import ITEM_PIPELINES


def test_a_user_spider_cannot_override_the_settings_newswatch_relies_on() -> None:
    spider = user_spider_class(SourceConfig(name="own", kind="spider", url="", spider="userspider:Impolite"))
    settings = spider.custom_settings
    for ours in ("ROBOTSTXT_OBEY", "USER_AGENT", "DOWNLOAD_TIMEOUT", "DOWNLOAD_HANDLERS", "DOWNLOAD_HANDLERS_BASE"):
        assert ours not in settings, ours
    # the download handlers are ours: they give up a source's requests at its deadline
    assert settings["DOWNLOAD_DELAY"] == 3
    assert set(ITEM_PIPELINES) <= set(settings["ITEM_PIPELINES"])
