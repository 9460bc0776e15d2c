"""Whether the stored topic matches are in step with the configured topics and the stored text.

What crawler.matching brings up to date, asked without loading what matching needs (page processing, the topics'
models): the daemon, which loads no topics, asks before a digest and matches in a child (crawler.rematch) only when
something changed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from crawler.config import Config, TopicConfig
from crawler.store import REMATCH, Store, iso

DEFAULT_WINDOW = 7 * 86400.0  # seconds of articles an edited topic matches again without a [digest] (its max_age)


def changed_topics(config: Config, store: Store) -> tuple[list[TopicConfig], list[str]]:
    """(topics whose query, model, min_score or near_score is new or changed, names of topics no longer configured).

    The state's ``query`` column holds the topic's ``identity``: its query, and a model topic's model
    digest (of what scoring reads) and the definitions its features use; and its near_score (`stored_identity`).
    """
    stored = {r["name"]: r for r in store.query("SELECT name, query, min_score FROM _topic_state")}
    changed = [
        t
        for t in config.topics
        if t.name not in stored
        or stored[t.name]["query"] != stored_identity(t)
        or stored[t.name]["min_score"] != t.min_score
    ]
    removed = [n for n in stored if n not in {t.name for t in config.topics}]
    return changed, removed


def stored_identity(topic: TopicConfig) -> str:
    """What ``_topic_state.query`` holds for a topic: its identity, and its near_score when it has one (a topic
    without one keeps the identity it had, so adding the key re-matches, and nothing else does)."""
    if topic.near_score is None:
        return topic.identity
    return f"{topic.identity}\n# near_score {topic.near_score!r}"


def window_start(config: Config, now: datetime) -> datetime:
    """The earliest first sight of an article a digest may mail (``digest.max_age`` before ``now``): an edited
    topic matches again the articles first seen since."""
    return now - timedelta(seconds=config.digest.max_age if config.digest else DEFAULT_WINDOW)


def rematch_due(store: Store, since: datetime | None = None) -> int:
    """How many articles wait to be matched again because an upgrade changed their stored text (``since``: of those
    first seen since then)."""
    recent, after = first_seen_since(since)
    return int(store.scalar(f"SELECT count(*) FROM {REMATCH} r JOIN articles a ON a.id = r.article_id{recent}", after))


def first_seen_since(since: datetime | None) -> tuple[str, list[str]]:
    """The WHERE clause (and its parameter) of the noted articles (``a``) first seen since ``since``; None: all."""
    return (" WHERE a.first_seen >= ?", [iso(since)]) if since is not None else ("", [])
