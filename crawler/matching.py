"""Keeping stored matches in step with the configured topics and the stored text.

When a topic's query, model, min_score or near_score changes (or a topic is added), articles first
seen within `digest.max_age` are matched again, their near misses with them; a removed topic's
matches and near misses are dropped. An article whose stored title or text an upgrade changed (a
migration notes it in ``_rematch``: it cannot read the config) is matched again against every
configured topic, whatever its age, once. Stories already sent stay sent: the delivery ledger is keyed
by story, not by match.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

from crawler.config import Config, TopicConfig
from crawler.longlived import matching_batch
from crawler.process import Scored, score_topics, settle_topics
from crawler.store import REMATCH, Store, iso, utcnow

DEFAULT_WINDOW = 7 * 86400.0
BATCH = 500
CLEANED_BATCH = 100  # articles an upgrade changed, matched in one transaction (~2.5 s with the default model topic)


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


def rematch_due(store: Store) -> int:
    """How many articles wait to be matched again because an upgrade changed their stored text."""
    return int(store.scalar(f"SELECT count(*) FROM {REMATCH} r JOIN articles a ON a.id = r.article_id"))


def rematch_cleaned(config: Config, store: Store, now: datetime | None = None, budget: float | None = None) -> int:
    """Matches the articles an upgrade changed the stored text of (``_rematch``) against every configured topic, once;
    returns how many were matched. ``budget``: seconds after which no further batch is begun (the rest stay noted,
    for the next call); None: all of them."""
    if not rematch_due(store):
        return 0
    settle_topics(config.topics)  # compiled and frozen before the batch (crawler.longlived)
    with matching_batch():
        return _rematch_cleaned(store, config.topics, iso(now or utcnow()), budget)


def sync_topics(config: Config, store: Store, now: datetime | None = None, budget: float | None = None) -> int:
    """Re-matches recent articles for changed topics, and the articles an upgrade changed the text of for every topic
    (``rematch_cleaned``, within ``budget``); returns how many articles were looked at."""
    now = now or utcnow()
    looked = rematch_cleaned(config, store, now, budget)  # first: a changed topic then matches their stored text too
    changed, removed = changed_topics(config, store)
    if not changed and not removed:
        return looked
    window = config.digest.max_age if config.digest else DEFAULT_WINDOW
    cutoff = iso(now - timedelta(seconds=window))
    with store.transaction() as c:
        for name in removed:
            c.execute("DELETE FROM matches WHERE topic = ?", [name])
            c.execute("DELETE FROM _near_misses WHERE topic = ?", [name])
            c.execute("DELETE FROM _topic_state WHERE name = ?", [name])
    if changed:
        settle_topics(tuple(changed))  # compiled and frozen before the batch (crawler.longlived)
        with matching_batch():
            looked += _rematch(store, tuple(changed), cutoff, iso(now))
    with store.transaction() as c:
        for t in changed:
            c.execute(
                "INSERT INTO _topic_state(name, query, min_score, updated) VALUES (?,?,?,?) "
                "ON CONFLICT(name) DO UPDATE SET query = excluded.query, min_score = excluded.min_score, "
                "updated = excluded.updated",
                [t.name, _stored(t), t.min_score, iso(now)],
            )
    return looked


def _rematch_cleaned(store: Store, topics: tuple[TopicConfig, ...], stamp: str, budget: float | None) -> int:
    """Matches the articles noted in ``_rematch`` against ``topics`` (all configured), a batch per transaction, and
    takes them off the note in it; returns how many were matched. Scored outside the transaction (the write lock is
    not held while matching): an article another process matched meanwhile (no longer noted), or whose text a crawl
    replaced and matched meanwhile, keeps what that process wrote."""
    looked = batches = 0
    began = time.monotonic()
    while budget is None or not batches or time.monotonic() - began < budget:
        batches += 1
        rows = store.query(
            f"SELECT a.id, a.title, a.text, a.language FROM {REMATCH} r JOIN articles a ON a.id = r.article_id"
            " ORDER BY r.article_id LIMIT ?",
            [CLEANED_BATCH],
        )
        if not rows:
            break
        scored = [(row, score_topics(row["title"], row["text"], topics, row["language"])) for row in rows]
        with store.transaction() as c:
            for row, (matches, near) in scored:
                still = c.execute(
                    f"SELECT 1 FROM {REMATCH} r JOIN articles a ON a.id = r.article_id"
                    " WHERE r.article_id = ? AND a.title = ? AND a.text = ?",
                    [row["id"], row["title"], row["text"]],
                ).fetchone()
                c.execute(f"DELETE FROM {REMATCH} WHERE article_id = ?", [row["id"]])
                if still is None:
                    continue
                _write(c, row["id"], (), matches, near, stamp)
                looked += 1
    return looked


def _write(
    c: sqlite3.Connection,
    article_id: int,
    names: Sequence[str],
    matches: Scored,
    near: Scored,
    stamp: str,
) -> None:
    """Replaces an article's matches and near misses for the topics ``names`` (empty: for every topic)."""
    only = f" AND topic IN ({','.join('?' * len(names))})" if names else ""
    for table, scored in (("matches", matches), ("_near_misses", near)):
        c.execute(f"DELETE FROM {table} WHERE article_id = ?{only}", [article_id, *names])
        c.executemany(
            f"INSERT INTO {table}(article_id, topic, score, hits, matched_at) VALUES (?,?,?,?,?)",
            [
                [article_id, topic, score, json.dumps(list(hits), ensure_ascii=False), stamp]
                for topic, score, hits in scored
            ],
        )


def _rematch(store: Store, changed: tuple[TopicConfig, ...], cutoff: str, stamp: str) -> int:
    """Matches the articles first seen since ``cutoff`` again for the ``changed`` topics; returns how many."""
    names = [t.name for t in changed]
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
                _write(c, row["id"], names, matches, near, stamp)
        looked += len(rows)
        last_id = rows[-1]["id"]
