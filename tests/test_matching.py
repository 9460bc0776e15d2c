"""A changed topic query re-matches recent stored articles; removed topics' matches go."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

from crawler.config import Config, DigestConfig, StorageConfig, TopicConfig
from crawler.matching import changed_topics, sync_topics
from crawler.store import Store
from tests.support.articles import article_record


def add(store: Store, n: int, title: str, text: str, age_days: float = 0) -> int:
    return store.add_article(article_record(n, title, text, age=timedelta(days=age_days))).article_id


def topics_of(store: Store, aid: int) -> set[str]:
    return {r["topic"] for r in store.query("SELECT topic FROM matches WHERE article_id = ?", [aid])}


def test_query_change_rematches_recent_articles_only(tmp_path: Path) -> None:
    store = Store(tmp_path / "nw.db")
    a = add(store, 1, "Reactor deal", "A reactor contract was signed in Moscow.")
    b = add(store, 2, "Lunar station", "Scientists plan a lunar research station.")
    old = add(store, 3, "Old lunar news", "A lunar rover story from long ago.", age_days=30)
    cfg = Config(
        path=None,
        storage=StorageConfig(tmp_path / "nw.db"),
        topics=(TopicConfig("space", "lunar"),),
        digest=DigestConfig(max_age=7 * 86400),
    )
    assert sync_topics(cfg, store) == 2
    assert topics_of(store, b) == {"space"} and topics_of(store, a) == set() and topics_of(store, old) == set()
    assert changed_topics(cfg, store) == ([], [])
    assert sync_topics(cfg, store) == 0  # nothing changed: nothing re-matched

    cfg2 = dataclasses.replace(cfg, topics=(TopicConfig("space", "reactor OR lunar"),))
    sync_topics(cfg2, store)
    assert topics_of(store, a) == {"space"} and topics_of(store, b) == {"space"}

    cfg3 = dataclasses.replace(cfg, topics=(TopicConfig("energy", "reactor"),))
    sync_topics(cfg3, store)
    assert topics_of(store, a) == {"energy"} and topics_of(store, b) == set()
    store.close()
