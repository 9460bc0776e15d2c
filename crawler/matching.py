"""Keeping stored matches in step with the configured topics and the stored text.

When a topic's query, model, min_score or near_score changes (or a topic is added), articles first
seen within `digest.max_age` are matched again, their near misses with them; a removed topic's
matches and near misses are dropped. An article whose stored title or text an upgrade changed (a
migration notes it in ``_rematch``: it cannot read the config) is matched again against every
configured topic, whatever its age, once. Stories already sent stay sent: the delivery ledger is keyed
by story, not by match.

Whether they are in step (``changed_topics``, ``rematch_due``) is crawler.topicstate's, which loads no scoring: the
daemon asks it before a digest, and matches in a child (crawler.rematch) only when they are not.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from datetime import datetime

from crawler.config import Config, TopicConfig
from crawler.longlived import matching_batch
from crawler.process import Scored, score_topics, settle_topics
from crawler.store import REMATCH, Store, iso, utcnow
from crawler.topicstate import changed_topics, first_seen_since, rematch_due, stored_identity, window_start

__all__ = ["changed_topics", "rematch_cleaned", "rematch_due", "sync_topics"]

BATCH = 500
CLEANED_BATCH = 100  # articles an upgrade changed, matched in one transaction (~2.5 s with the default model topic)


def rematch_cleaned(
    config: Config,
    store: Store,
    now: datetime | None = None,
    budget: float | None = None,
    since: datetime | None = None,
) -> int:
    """Matches the articles an upgrade changed the stored text of (``_rematch``) against every configured topic, once;
    returns how many were matched. ``budget``: seconds after which no further batch is begun (the rest stay noted,
    for the next call); None: all of them. ``since``: only those first seen since then (the rest stay noted)."""
    if not rematch_due(store, since):
        return 0
    settle_topics(config.topics)  # compiled and frozen before the batch (crawler.longlived)
    with matching_batch():
        return _rematch_cleaned(store, config.topics, iso(now or utcnow()), budget, since)


def sync_topics(
    config: Config, store: Store, now: datetime | None = None, budget: float | None = None, *, recent: bool = False
) -> int:
    """Re-matches recent articles for changed topics, and the articles an upgrade changed the text of for every topic
    (``rematch_cleaned``, within ``budget``; ``recent``: only those a digest may mail, first seen within
    ``digest.max_age``); returns how many articles were looked at."""
    now = now or utcnow()
    start = window_start(config, now)
    # first: a changed topic then matches their stored text too
    looked = rematch_cleaned(config, store, now, budget, start if recent else None)
    changed, removed = changed_topics(config, store)
    if not changed and not removed:
        return looked
    cutoff = iso(start)
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
                [t.name, stored_identity(t), t.min_score, iso(now)],
            )
    return looked


def _rematch_cleaned(
    store: Store, topics: tuple[TopicConfig, ...], stamp: str, budget: float | None, since: datetime | None
) -> int:
    """Matches the articles noted in ``_rematch`` against ``topics`` (all configured), a batch per transaction, and
    takes them off the note in it; returns how many were matched. Scored outside the transaction (the write lock is
    not held while matching): an article another process matched meanwhile (no longer noted), or whose text a crawl
    replaced and matched meanwhile, keeps what that process wrote."""
    looked = batches = 0
    began = time.monotonic()
    recent, after = first_seen_since(since)
    while budget is None or not batches or time.monotonic() - began < budget:
        batches += 1
        rows = store.query(
            f"SELECT a.id, a.title, a.text, a.language FROM {REMATCH} r JOIN articles a ON a.id = r.article_id{recent}"
            " ORDER BY r.article_id LIMIT ?",
            [*after, CLEANED_BATCH],
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
