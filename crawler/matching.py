"""Keeping stored matches in step with the configured topics.

When a topic's query, model, min_score or near_score changes (or a topic is added), articles first
seen within `digest.max_age` are matched again, their near misses with them; a removed topic's
matches and near misses are dropped. Stories already sent stay sent: the delivery ledger is keyed by
story, not by match.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from crawler.config import Config, TopicConfig
from crawler.longlived import matching_batch
from crawler.process import score_topics, settle_topics
from crawler.store import Store, iso, utcnow

DEFAULT_WINDOW = 7 * 86400.0
BATCH = 500


def changed_topics(config: Config, store: Store) -> tuple[list[TopicConfig], list[str]]:
    """(topics whose query, model, min_score or near_score is new or changed, names of topics no longer configured).

    The state's ``query`` column holds the topic's ``identity``: its query, and a model topic's model
    digest (of what scoring reads) and the definitions its features use; and its near_score (`_stored`).
    """
    stored = {r["name"]: r for r in store.query("SELECT name, query, min_score FROM _topic_state")}
    changed = [
        t
        for t in config.topics
        if t.name not in stored or stored[t.name]["query"] != _stored(t) or stored[t.name]["min_score"] != t.min_score
    ]
    removed = [n for n in stored if n not in {t.name for t in config.topics}]
    return changed, removed


def _stored(topic: TopicConfig) -> str:
    """What ``_topic_state.query`` holds for a topic: its identity, and its near_score when it has one (a topic
    without one keeps the identity it had, so adding the key re-matches, and nothing else does)."""
    if topic.near_score is None:
        return topic.identity
    return f"{topic.identity}\n# near_score {topic.near_score!r}"


def sync_topics(config: Config, store: Store, now: datetime | None = None) -> int:
    """Re-matches recent articles for changed topics; returns how many articles were looked at."""
    changed, removed = changed_topics(config, store)
    if not changed and not removed:
        return 0
    now = now or utcnow()
    window = config.digest.max_age if config.digest else DEFAULT_WINDOW
    cutoff = iso(now - timedelta(seconds=window))
    with store.transaction() as c:
        for name in removed:
            c.execute("DELETE FROM matches WHERE topic = ?", [name])
            c.execute("DELETE FROM _near_misses WHERE topic = ?", [name])
            c.execute("DELETE FROM _topic_state WHERE name = ?", [name])
    looked = 0
    if changed:
        settle_topics(tuple(changed))  # compiled and frozen before the batch (crawler.longlived)
        with matching_batch():
            looked = _rematch(store, tuple(changed), cutoff, iso(now))
    with store.transaction() as c:
        for t in changed:
            c.execute(
                "INSERT INTO _topic_state(name, query, min_score, updated) VALUES (?,?,?,?) "
                "ON CONFLICT(name) DO UPDATE SET query = excluded.query, min_score = excluded.min_score, "
                "updated = excluded.updated",
                [t.name, _stored(t), t.min_score, iso(now)],
            )
    return looked


def _rematch(store: Store, changed: tuple[TopicConfig, ...], cutoff: str, stamp: str) -> int:
    """Matches the articles first seen since ``cutoff`` again for the ``changed`` topics; returns how many."""
    names = [t.name for t in changed]
    marks = ",".join("?" * len(names))
    looked = last_id = 0
    while True:
        rows = store.query(
            "SELECT id, title, text, language FROM articles WHERE first_seen >= ? AND id > ? ORDER BY id LIMIT ?",
            [cutoff, last_id, BATCH],
        )
        if not rows:
            return looked
        with store.transaction() as c:
            for row in rows:
                matches, near = score_topics(row["title"], row["text"], changed, row["language"])
                for table, scored in (("matches", matches), ("_near_misses", near)):
                    c.execute(f"DELETE FROM {table} WHERE article_id = ? AND topic IN ({marks})", [row["id"], *names])
                    c.executemany(
                        f"INSERT INTO {table}(article_id, topic, score, hits, matched_at) VALUES (?,?,?,?,?)",
                        [
                            [row["id"], topic, score, json.dumps(list(hits), ensure_ascii=False), stamp]
                            for topic, score, hits in scored
                        ],
                    )
        looked += len(rows)
        last_id = rows[-1]["id"]
