"""The delivery ledger: which stories are due to whom, which went, in which message, and which are in flight.

A message is reserved (its stories and Message-ID recorded, under a lease) in one transaction
before it is sent, and marked sent right after the server's 250. A failed send releases the
lease and leaves the message pending: its stories stay due, and a later run that picks the same
set reuses the row and its Message-ID. A lease left by a killed process lapses when that process
is gone (same host) or when it expires, so a crash never holds stories back for long.

Stories are tracked by their root id; a story is sent to a recipient when it, or any story
merged into it (``stories.merged_into``), went out in a sent message. A story is due to a
recipient (``select_due``) when it matches one of their topics at or above a threshold, was
first seen since a given time and was never sent to them; each appears once, under its best topic.
A near miss (``select_near``) is due alike, scored below its topic's min_score but at least its
near_score and matching none of the recipient's topics; once sent in a digest, it is sent, as a
match would be.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from crawler.store import Migrations, Store, iso, parse_iso, process_alive

migrations = Migrations("delivery")

KINDS = ("digest", "alert")
DEFAULT_LEASE = timedelta(minutes=15)


@migrations(name="0001_delivery")
def _m0001(db) -> None:  # type: ignore[no-untyped-def]
    db.executescript(
        """
        CREATE TABLE IF NOT EXISTS delivery_messages (
            id INTEGER PRIMARY KEY,
            recipient TEXT NOT NULL,        -- lower-cased address
            kind TEXT NOT NULL,             -- 'digest' | 'alert'
            message_id TEXT NOT NULL UNIQUE,
            stories_key TEXT NOT NULL,      -- hash of the sorted story set, to find a resend
            story_count INTEGER NOT NULL,
            status TEXT NOT NULL,           -- 'pending' | 'sent' | 'superseded'
            created TEXT NOT NULL,
            sent TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            lease_owner TEXT,               -- 'host:pid:token' of the run sending it now
            lease_until TEXT
        );
        CREATE INDEX IF NOT EXISTS delivery_messages_pending
            ON delivery_messages(recipient, kind, status, stories_key);
        CREATE TABLE IF NOT EXISTS delivery_items (
            message INTEGER NOT NULL REFERENCES delivery_messages(id) ON DELETE CASCADE,
            recipient TEXT NOT NULL,
            story TEXT NOT NULL,
            PRIMARY KEY (message, story)
        );
        CREATE INDEX IF NOT EXISTS delivery_items_story ON delivery_items(recipient, story);
        """
    )
    # made after the store's migration 0100 guarded the tables there: guarded alike (see crawler.store.OLDER_GUARD);
    # a ledger made before it was guarded by it
    from crawler.store import guard_tables

    guard_tables(db, ("delivery_messages", "delivery_items"))


@dataclass(frozen=True)
class Reservation:
    """A message row with its stories, leased to this process until it is sent or released."""

    id: int
    recipient: str
    kind: str
    message_id: str
    stories: tuple[str, ...]
    attempts: int  # earlier failed attempts with this Message-ID


def prepare(store: Store) -> None:
    """Creates or upgrades the ledger tables."""
    store.apply_migrations(migrations)


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def _lease_alive(owner: str | None, until: str | None, now: datetime) -> bool:
    if not owner or not until or until <= iso(now):  # type: ignore[operator]
        return False
    parts = owner.rsplit(":", 2)
    host, pid = (parts[0], parts[1]) if len(parts) == 3 else ("", "")
    if host == socket.gethostname() and pid.isdigit():
        return process_alive(int(pid))  # killed mid-send: the reservation lapses at once
    return True


def sent_clause(story_expr: str, kinds: Sequence[str]) -> str:
    """SQL that is true when the story (an expression) was sent to ``:recipient`` in a message of these kinds.

    Bind ``:recipient`` (lower-cased). Stories merged into the story count as the story.
    """
    kind_list = ", ".join(f"'{k}'" for k in kinds if k in KINDS)
    return (
        "EXISTS (SELECT 1 FROM delivery_items di JOIN delivery_messages dm ON dm.id = di.message"
        f" WHERE di.recipient = :recipient AND dm.status = 'sent' AND dm.kind IN ({kind_list})"
        f" AND (di.story = {story_expr} OR di.story IN"
        f" (SELECT ms.id FROM stories ms WHERE ms.merged_into = {story_expr})))"
    )


def sent_anywhere_clause(story_expr: str) -> str:
    """SQL that is true when the story (or a story merged into it) went out to any recipient.

    For ``prune``: ``... AND NOT (matched AND NOT <this>)`` keeps matched stories nobody received.
    """
    return (
        "EXISTS (SELECT 1 FROM delivery_items di JOIN delivery_messages dm ON dm.id = di.message"
        f" WHERE dm.status = 'sent' AND (di.story = {story_expr} OR di.story IN"
        f" (SELECT ms.id FROM stories ms WHERE ms.merged_into = {story_expr})))"
    )


@dataclass(frozen=True)
class Due:
    """A story due to a recipient, under its best-scoring topic."""

    story: str
    topic: str
    score: float
    article_id: int  # the article whose match put the story under this topic
    first_seen: str
    source: str = ""  # that article's source


def select_due(
    store: Store,
    recipient: str,
    thresholds: Sequence[tuple[str, float]],
    since: datetime,
    exclude_kinds: Sequence[str],
    *,
    alert: bool = False,
) -> list[Due]:
    """Unsent stories with a match at or above their topic's threshold, best topic first.

    ``thresholds`` are (topic, min score) in config order; ``exclude_kinds`` are the message
    kinds that count as sent; ``alert`` leaves out a source's first-poll backlog.
    """
    if not thresholds:
        return []
    params: dict[str, Any] = {"recipient": recipient.lower(), "since": iso(since)}
    values = []
    for i, (name, threshold) in enumerate(thresholds):
        params[f"t{i}"], params[f"s{i}"], params[f"o{i}"] = name, threshold, i
        values.append(f"(:t{i}, :s{i}, :o{i})")
    sql = (
        f"WITH wanted(name, threshold, ord) AS (VALUES {', '.join(values)})"
        " SELECT s.id AS story, s.first_seen, m.topic, m.score, m.article_id, w.ord, a.source"
        " FROM stories s JOIN articles a ON a.story = s.id"
        " JOIN matches m ON m.article_id = a.id"
        " JOIN wanted w ON w.name = m.topic AND m.score >= w.threshold"
        " WHERE s.merged_into IS NULL AND s.first_seen >= :since"
        + (" AND a.backlog = 0" if alert else "")
        + f" AND NOT {sent_clause('s.id', exclude_kinds)}"
    )
    return _best(store.query(sql, params))


def select_near(
    store: Store,
    recipient: str,
    bands: Sequence[tuple[str, float, float]],
    thresholds: Sequence[tuple[str, float]],
    since: datetime,
    exclude_kinds: Sequence[str],
) -> list[Due]:
    """Unsent stories that are a near miss for one of the recipient's topics and match none of them, best first:
    the story's best score for a topic is in [near_score, min_score) (``bands``: (topic, near_score, min_score) of
    the recipient's topics that have one, in config order), and no article of it scores a topic of ``thresholds``
    (the recipient's topics, with their min_score) at or above it. First seen since ``since``, never sent in a
    message of ``exclude_kinds``; each story once, under its best topic, as ``select_due`` lists matches."""
    if not bands:
        return []
    params: dict[str, Any] = {"recipient": recipient.lower(), "since": iso(since)}
    near, mine = [], []
    for i, (name, low, high) in enumerate(bands):
        params[f"n{i}"], params[f"l{i}"], params[f"h{i}"], params[f"o{i}"] = name, low, high, i
        near.append(f"(:n{i}, :l{i}, :h{i}, :o{i})")
    for i, (name, threshold) in enumerate(thresholds):
        params[f"t{i}"], params[f"s{i}"] = name, threshold
        mine.append(f"(:t{i}, :s{i})")
    sql = (
        f"WITH near(name, low, high, ord) AS (VALUES {', '.join(near)}),"
        f" mine(name, threshold) AS (VALUES {', '.join(mine)})"
        " SELECT s.id AS story, s.first_seen, n.topic, n.score, n.article_id, w.ord, a.source"
        " FROM stories s JOIN articles a ON a.story = s.id"
        " JOIN _near_misses n ON n.article_id = a.id"
        " JOIN near w ON w.name = n.topic AND n.score >= w.low AND n.score < w.high"
        " WHERE s.merged_into IS NULL AND s.first_seen >= :since"
        " AND NOT EXISTS (SELECT 1 FROM articles ma JOIN matches m ON m.article_id = ma.id"
        " JOIN mine x ON x.name = m.topic AND m.score >= x.threshold WHERE ma.story = s.id)"
        f" AND NOT {sent_clause('s.id', exclude_kinds)}"
    )
    return _best(store.query(sql, params))


def _best(rows: Iterable[dict[str, Any]]) -> list[Due]:
    """Each story once, under its best row: the highest score first."""
    best: dict[str, tuple[Any, ...]] = {}
    for row in rows:
        # Best score wins; on a tie, the topic listed first in the config, then the older article.
        key = (-row["score"], row["ord"], row["article_id"])
        if row["story"] not in best or key < best[row["story"]][0]:
            best[row["story"]] = (key, row)
    out = [
        Due(story, row["topic"], float(row["score"]), int(row["article_id"]), row["first_seen"], row["source"])
        for story, (_, row) in best.items()
    ]
    # Highest score first; among equals the newest story, then a stable id order.
    out.sort(key=lambda d: (-d.score, _neg_time(d.first_seen), _id_key(d.story)))
    return out


def _neg_time(value: str) -> float:
    dt = parse_iso(value)
    return -dt.timestamp() if dt else 0.0


def _id_key(story: str) -> tuple[int, str]:
    return (int(story), "") if story.isdigit() else (1 << 62, story)


def prunable_articles(store: Store, before: datetime) -> list[int]:
    """Articles fetched before ``before``, except matched stories nobody received yet (read-only stores too)."""
    if not store.readonly:
        prepare(store)
    elif migrations.pending(store.db):  # never digested: every matched story is unsent
        sql = "SELECT id FROM articles a WHERE fetched <= ? AND NOT EXISTS (SELECT 1 FROM matches m WHERE m.article_id = a.id)"
        return [r["id"] for r in store.query(sql, [iso(before)])]
    keep_unsent = (
        " AND NOT (EXISTS (SELECT 1 FROM matches m WHERE m.article_id = a.id)"
        f" AND NOT {sent_anywhere_clause('a.story')})"
    )
    return [r["id"] for r in store.query(f"SELECT id FROM articles a WHERE fetched <= ?{keep_unsent}", [iso(before)])]


def prune_articles(store: Store, before: datetime) -> int:
    """Deletes articles fetched before ``before``, keeping matched stories nobody received yet."""
    return store.delete_articles(prunable_articles(store, before))


def in_flight(store: Store, recipient: str, now: datetime) -> set[str]:
    """Stories held by a live reservation (another run, maybe in another process) for this recipient."""
    rows = store.query(
        "SELECT dm.lease_owner, dm.lease_until, di.story FROM delivery_messages dm"
        " JOIN delivery_items di ON di.message = dm.id"
        " WHERE dm.recipient = ? AND dm.status = 'pending' AND dm.lease_owner IS NOT NULL",
        [recipient.lower()],
    )
    return {r["story"] for r in rows if _lease_alive(r["lease_owner"], r["lease_until"], now)}


def stories_key(stories: Iterable[str]) -> str:
    return hashlib.sha256(json.dumps(sorted(set(stories))).encode()).hexdigest()


def reserve(
    store: Store,
    recipient: str,
    kind: str,
    stories: Sequence[str],
    domain: str,
    now: datetime,
    lease: timedelta = DEFAULT_LEASE,
) -> Reservation:
    """Records the message about to be sent; reuses a pending row (and Message-ID) for the same set.

    Call inside ``store.transaction()`` together with the selection of ``stories``, so two
    processes never reserve the same stories.
    """
    rcpt = recipient.lower()
    key = stories_key(stories)
    owner, until = _owner(), iso(now + lease)
    with store.transaction() as c:
        row = c.execute(
            "SELECT id, message_id, attempts, lease_owner, lease_until FROM delivery_messages"
            " WHERE recipient = ? AND kind = ? AND status = 'pending' AND stories_key = ?"
            " ORDER BY id DESC LIMIT 1",
            [rcpt, kind, key],
        ).fetchone()
        if row and not _lease_alive(row[3], row[4], now):
            c.execute(
                "UPDATE delivery_messages SET lease_owner = ?, lease_until = ? WHERE id = ?", [owner, until, row[0]]
            )
            reservation = Reservation(row[0], rcpt, kind, row[1], tuple(stories), row[2])
        else:
            cur = c.execute(
                "INSERT INTO delivery_messages(recipient, kind, message_id, stories_key, story_count,"
                " status, created, lease_owner, lease_until) VALUES (?, ?, '', ?, ?, 'pending', ?, ?, ?)",
                [rcpt, kind, key, len(set(stories)), iso(now), owner, until],
            )
            mid = int(cur.lastrowid)
            # Unique per row (empty digests too), and tied to who and what it carries.
            digest = hashlib.sha256(f"{rcpt}\n{kind}\n{key}\n{mid}".encode()).hexdigest()[:16]
            message_id = f"<newswatch.{kind}.{mid}.{digest}@{domain}>"
            c.execute("UPDATE delivery_messages SET message_id = ? WHERE id = ?", [message_id, mid])
            c.executemany(
                "INSERT INTO delivery_items(message, recipient, story) VALUES (?, ?, ?)",
                [(mid, rcpt, s) for s in dict.fromkeys(stories)],
            )
            reservation = Reservation(mid, rcpt, kind, message_id, tuple(stories), 0)
        # Older unsent sets for this recipient are replaced by this one (their stories stay due).
        c.execute(
            "UPDATE delivery_messages SET status = 'superseded', lease_owner = NULL, lease_until = NULL"
            " WHERE recipient = ? AND kind = ? AND status = 'pending' AND id != ?"
            " AND lease_owner IS NULL",
            [rcpt, kind, reservation.id],
        )
    return reservation


def mark_sent(store: Store, reservation: Reservation, now: datetime) -> None:
    """Records the server's 250 for this message: its stories are sent to its recipient."""
    with store.transaction() as c:
        c.execute(
            "UPDATE delivery_messages SET status = 'sent', sent = ?, attempts = attempts + 1,"
            " last_error = NULL, lease_owner = NULL, lease_until = NULL WHERE id = ?",
            [iso(now), reservation.id],
        )


def release(store: Store, reservation: Reservation, error: str) -> None:
    """The send failed: the stories stay due; a resend of the same set reuses the Message-ID."""
    with store.transaction() as c:
        c.execute(
            "UPDATE delivery_messages SET attempts = attempts + 1, last_error = ?,"
            " lease_owner = NULL, lease_until = NULL WHERE id = ? AND status = 'pending'",
            [error, reservation.id],
        )


def messages(store: Store, recipient: str | None = None) -> list[dict[str, object]]:
    """Ledger rows, oldest first, for listings and tests."""
    sql = "SELECT * FROM delivery_messages"
    params: list[object] = []
    if recipient is not None:
        sql += " WHERE recipient = ?"
        params.append(recipient.lower())
    return store.query(sql + " ORDER BY id", params)


def sent_stories(store: Store, recipient: str, kinds: Sequence[str] = KINDS) -> set[str]:
    """Story ids (as recorded) sent to the recipient in messages of these kinds."""
    marks = ",".join("?" * len(kinds))
    rows = store.query(
        "SELECT DISTINCT di.story FROM delivery_items di JOIN delivery_messages dm ON dm.id = di.message"
        f" WHERE di.recipient = ? AND dm.status = 'sent' AND dm.kind IN ({marks})",
        [recipient.lower(), *kinds],
    )
    return {r["story"] for r in rows}
