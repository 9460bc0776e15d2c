"""The SQLite store: one file, WAL, numbered migrations, every write in a transaction.

The only module that imports sqlite-utils. Writers take the write lock up front (BEGIN IMMEDIATE)
so the daemon and CLI commands can share the file without "database is locked" errors.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import stat
import sys
import threading
import time
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from crawler import __version__, dedup, envsettings, notices, textnorm
from crawler.dates import iso, parse_iso, utcnow  # noqa: F401  (the store speaks the stored form)
from crawler.errors import StoreError
from crawler.paths import file_in_the_way, low_space, no_entry, on_read_only_mount, service_folder
from crawler.polling import SourceState, held_back
from crawler.procs import process_alive
from crawler.records import ArticleRecord

# sqlite-utils imports numpy and pandas when they are installed, only to map their scalar types to
# column types; newswatch stores none. numpy is there (the language detector needs it), and loading
# it costs every process that opens the store (CLI, crawl child, daemon) ~0.07 s of CPU: it is hidden
# while sqlite-utils loads. A later `import numpy` (the extraction workers') loads it as usual.
_HIDDEN = [m for m in ("numpy", "pandas") if m not in sys.modules]
sys.modules.update(dict.fromkeys(_HIDDEN))  # None in sys.modules: "not installed"
try:
    import sqlite_utils
    from sqlite_utils.migrations import Migrations
finally:
    for _name in _HIDDEN:
        if sys.modules.get(_name, "") is None:
            del sys.modules[_name]


# SQLite's busy timeout is a C int of milliseconds: it waits 24.8 days at most
LONGEST_BUSY_TIMEOUT_MS = 2**31 - 1


def _busy_timeout_ms() -> int:
    """How long a write waits for another process's write lock: 30 s (``NEWSWATCH_BUSY_TIMEOUT`` seconds, for tests;
    ``inf``, or more than SQLite waits, is its longest wait: no limit in practice, where it raised OverflowError in
    every command)."""
    try:
        seconds = envsettings.seconds("NEWSWATCH_BUSY_TIMEOUT", 30.0)
    except envsettings.SettingError:  # read at import: the CLI says it in one line before any command runs
        return 30_000
    return int(min(max(seconds * 1000, 1), LONGEST_BUSY_TIMEOUT_MS))


BUSY_TIMEOUT_MS = _busy_timeout_ms()
migrations = Migrations("newswatch")
SCHEMA_BY_KEY = "schema.newswatch"  # in _state: the newswatch version that last applied migrations here


@migrations(name="0001_initial")
def _m0001(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE IF NOT EXISTS sources (
            name TEXT PRIMARY KEY,
            configured_url TEXT,            -- the config's url when current_url was set
            current_url TEXT,               -- after permanent (301/308) redirects
            etag TEXT,
            last_modified TEXT,
            last_attempt TEXT,
            last_success TEXT,
            last_error TEXT,
            last_error_at TEXT,
            failures INTEGER NOT NULL DEFAULT 0,
            failing_since TEXT,
            next_poll TEXT,
            retry_after TEXT,
            active INTEGER NOT NULL DEFAULT 1,
            inactive_reason TEXT,
            polls INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE IF NOT EXISTS stories (
            id TEXT PRIMARY KEY,
            article_id INTEGER NOT NULL,    -- the first-seen article: the story's face
            first_seen TEXT NOT NULL,
            merged_into TEXT                -- set when this story joined an older one
        );
        CREATE TABLE IF NOT EXISTS articles (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL,
            canonical_url TEXT NOT NULL UNIQUE,
            source TEXT NOT NULL,
            title TEXT NOT NULL DEFAULT '',
            text TEXT NOT NULL DEFAULT '',
            text_from TEXT NOT NULL DEFAULT 'page',   -- 'page' | 'feed'
            author TEXT,
            site_name TEXT,
            published TEXT,
            language TEXT,
            content_hash TEXT,
            story TEXT NOT NULL,
            fetched TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            backlog INTEGER NOT NULL DEFAULT 0,       -- found on its source's first poll: no alert
            page_pending INTEGER NOT NULL DEFAULT 0    -- page failed transiently: retry on a later poll
        );
        CREATE INDEX IF NOT EXISTS articles_story ON articles(story);
        CREATE INDEX IF NOT EXISTS articles_fetched ON articles(fetched);
        CREATE INDEX IF NOT EXISTS articles_hash ON articles(content_hash);
        CREATE INDEX IF NOT EXISTS articles_source ON articles(source);
        CREATE INDEX IF NOT EXISTS articles_pending ON articles(source, page_pending);
        CREATE TABLE IF NOT EXISTS aliases (
            url TEXT PRIMARY KEY,
            article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE
        );
        CREATE INDEX IF NOT EXISTS aliases_article ON aliases(article_id);
        CREATE TABLE IF NOT EXISTS entries (
            source TEXT NOT NULL,
            key TEXT NOT NULL,
            article_id INTEGER,
            first_seen TEXT NOT NULL,
            PRIMARY KEY (source, key)
        );
        CREATE TABLE IF NOT EXISTS matches (
            article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
            topic TEXT NOT NULL,
            score REAL NOT NULL,
            hits TEXT NOT NULL,             -- JSON list of the query terms that hit
            matched_at TEXT NOT NULL,
            PRIMARY KEY (article_id, topic)
        );
        CREATE INDEX IF NOT EXISTS matches_topic ON matches(topic, score);
        CREATE TABLE IF NOT EXISTS topic_state (
            name TEXT PRIMARY KEY,
            query TEXT NOT NULL,
            min_score REAL NOT NULL,
            updated TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS crawl_runs (
            id INTEGER PRIMARY KEY,
            started TEXT NOT NULL,
            finished TEXT,
            trigger TEXT NOT NULL,          -- 'cli' | 'daemon' | 'demo'
            status TEXT NOT NULL,           -- 'running' | 'ok' | 'failed' | 'partial'
            summary TEXT                    -- JSON: per-source counts
        );
        CREATE TABLE IF NOT EXISTS state (
            key TEXT PRIMARY KEY,
            value TEXT
        );
        """
    )
    db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS articles_fts USING fts5(title, text, tokenize={_fts_tokenize()!r})")
    # the near-duplicate index as it was first created (0060 renames it with the other internal tables)
    db.executescript(
        """
        CREATE TABLE IF NOT EXISTS story_cluster (seq INTEGER PRIMARY KEY, story_id TEXT NOT NULL UNIQUE);
        CREATE TABLE IF NOT EXISTS story_sig (article_id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, sig BLOB NOT NULL);
        CREATE INDEX IF NOT EXISTS story_sig_seq ON story_sig (seq);
        CREATE TABLE IF NOT EXISTS story_band (key INTEGER NOT NULL, article_id INTEGER NOT NULL,
            PRIMARY KEY (key, article_id)) WITHOUT ROWID;
        """
    )


@migrations(name="0002_crawl_run_owner")
def _m0002(db: sqlite_utils.Database) -> None:
    # which process runs a crawl, so a run whose process died can be told from one still going
    db.execute("ALTER TABLE crawl_runs ADD COLUMN host TEXT")
    db.execute("ALTER TABLE crawl_runs ADD COLUMN pid INTEGER")


@migrations(name="0003_lookup_indexes")
def _m0003(db: sqlite_utils.Database) -> None:
    # exact-duplicate lookups and story merges must not scan a growing archive
    db.execute("CREATE INDEX IF NOT EXISTS articles_hash_source ON articles(content_hash, source)")
    db.execute("CREATE INDEX IF NOT EXISTS stories_merged ON stories(merged_into)")


@migrations(name="0010_source_freshness")
def _m0010(db: sqlite_utils.Database) -> None:
    # what a source's last readable document held: how new its newest entry is, how often it
    # publishes, how many links a listing's pattern took, and its host's robots.txt Crawl-delay
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS source_freshness (
            name TEXT PRIMARY KEY,
            entry_dates TEXT NOT NULL DEFAULT '[]',   -- JSON: the newest entry dates seen, newest first
            links INTEGER,                             -- entries (listing: links followed) last read
            checked TEXT,                              -- when a document was last read
            crawl_delay REAL                           -- robots.txt Crawl-delay of the source's host
        )
        """
    )


@migrations(name="0020_source_leases")
def _m0020(db: sqlite_utils.Database) -> None:
    # one crawl at a time per source: the process polling a source holds its lease until it is done
    db.execute(
        "CREATE TABLE IF NOT EXISTS source_leases (name TEXT PRIMARY KEY, host TEXT NOT NULL,"
        " pid INTEGER NOT NULL, since TEXT NOT NULL)"
    )


@migrations(name="0021_pending_retry_schedule")
def _m0021(db: sqlite_utils.Database) -> None:
    # a page kept from its feed is retried on a schedule (see crawler.polling.pending_retry_at)
    db.execute("ALTER TABLE articles ADD COLUMN page_attempts INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE articles ADD COLUMN page_retry_at TEXT")


# -- the archive as datasette shows it -----------------------------------------------------------

BROWSE_FTS = "articles_search"  # full-text search over the stored title and text (datasette's search box)
BROWSE_TOKENIZE = "unicode61 remove_diacritics 2"
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]+")
_YO_WORD = re.compile(r"(?<!\w)[^\WёЁ]*[ёЁ]\w*")  # a word with ё, found without backtracking
_CJK_GRAM = 4  # Chinese words are 1-4 characters: a query of up to 4 characters finds them anywhere


def browse_text(text: str) -> str:
    """What the browse index holds for a text: words as they are, and each run of Chinese or Japanese
    characters as its 1- to 4-character pieces, so a search for 中俄 or 俄罗斯 finds the text 中俄科技合作
    with unicode61 (which keeps a whole run as one token) and with datasette's quoted queries.

    unicode61 folds case but not ё to е, nor Traditional Chinese to Simplified: a word written with ё is
    followed by its е form (учёные ученые), and a Traditional run's pieces by its Simplified ones, so the
    search box finds ученые in учёные and 俄罗斯 in 俄羅斯 as newswatch search does.
    """

    def pieces(run: str) -> list[str]:
        return [run[i : i + n] for n in range(1, _CJK_GRAM + 1) for i in range(len(run) - n + 1)]

    def grams(m: re.Match[str]) -> str:
        run = m.group(0)
        own = pieces(run)
        simple = textnorm.to_simplified(run) if traditional else run
        if simple != run:
            own = list(dict.fromkeys(own + pieces(simple)))
        return " " + " ".join(own) + " "

    def e_form(m: re.Match[str]) -> str:
        word = m.group(0)
        return f"{word} {word.replace('ё', 'е').replace('Ё', 'Е')}"

    if "ё" in text or "Ё" in text:
        text = _YO_WORD.sub(e_form, text)
    if _CJK_RUN.search(text) is None:
        return text
    traditional = textnorm.to_simplified(text) != text  # one look at the whole text; most is Simplified
    return _CJK_RUN.sub(grams, text)


def _browse_insert(c: sqlite3.Connection, aid: int, title: str, text: str) -> None:
    c.execute(
        f"INSERT INTO {BROWSE_FTS}(rowid, title, text) VALUES (?, ?, ?)", [aid, browse_text(title), browse_text(text)]
    )


def _browse_delete(c: sqlite3.Connection, aid: int) -> None:
    row = c.execute("SELECT title, text FROM articles WHERE id = ?", [aid]).fetchone()
    if row is not None:  # an external-content index forgets a row given the values it indexed
        c.execute(
            f"INSERT INTO {BROWSE_FTS}({BROWSE_FTS}, rowid, title, text) VALUES ('delete', ?, ?, ?)",
            [aid, browse_text(row[0]), browse_text(row[1])],
        )


@migrations(name="0030_browse_search_and_links")
def _m0030(db: sqlite_utils.Database) -> None:
    # articles link to their story and source (deferred: a new article gets its story in the same
    # transaction); the table is rebuilt with the same columns, rows and indexes.
    db.execute("INSERT INTO sources(name) SELECT DISTINCT source FROM articles WHERE true ON CONFLICT(name) DO NOTHING")
    sql = db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'articles'").fetchone()[0]
    indexes = [
        r[0] for r in db.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'articles'") if r[0]
    ]
    body = sql[sql.index("(") + 1 : sql.rindex(")")].rstrip()
    links = (
        "\n    , FOREIGN KEY (story) REFERENCES stories(id) DEFERRABLE INITIALLY DEFERRED"  # after a -- comment
        "\n    , FOREIGN KEY (source) REFERENCES sources(name) DEFERRABLE INITIALLY DEFERRED"
    )
    db.execute(f"CREATE TABLE articles_new ({body}{links}\n)")
    db.execute("INSERT INTO articles_new SELECT * FROM articles")
    db.execute("DROP TABLE articles")
    db.execute("ALTER TABLE articles_new RENAME TO articles")
    for index in indexes:
        db.execute(index)
    db.execute(
        f'CREATE VIRTUAL TABLE {BROWSE_FTS} USING fts5(title, text, content="articles", content_rowid="id",'  # datasette finds it
        f" tokenize={BROWSE_TOKENIZE!r})"
    )
    for aid, title, text in db.execute("SELECT id, title, text FROM articles").fetchall():
        _browse_insert(db.conn, aid, title, text)


# -- internal tables, named apart ----------------------------------------------------------------

# newswatch's bookkeeping: every table whose name starts with "_" is internal (datasette hides them);
# articles, stories, sources, matches, crawl_runs, source_freshness and delivery_* are the user's.
INTERNAL_RENAMES = (
    ("aliases", "_aliases"),  # every URL an article was seen at (for dedup)
    ("entries", "_entries"),  # feed entries already handled, per source
    ("state", "_state"),  # small key/value state (last digest, demo address)
    ("topic_state", "_topic_state"),  # the topic queries the stored matches were made with
    ("source_leases", "_source_leases"),  # which process crawls a source now
    ("story_cluster", "_story_cluster"),  # near-duplicate detection
    ("story_sig", "_story_sig"),
    ("story_band", "_story_band"),
    ("articles_fts", "_articles_fts"),  # newswatch's own search index (folded tokens, for `newswatch search`)
)
INDEX_RENAMES = (
    ("aliases_article", "_aliases_article", "_aliases(article_id)"),
    ("story_sig_seq", "_story_sig_seq", "_story_sig(seq)"),
)


@migrations(name="0060_internal_tables_named_apart")
def _m0060(db: sqlite_utils.Database) -> None:
    # ALTER TABLE ... RENAME also renames an FTS5 table's shadow tables; runs in the migration's transaction
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for old, new in INTERNAL_RENAMES:
        if old in tables and new not in tables:
            db.execute(f"ALTER TABLE {old} RENAME TO {new}")
    for old, new, on in INDEX_RENAMES:
        db.execute(f"DROP INDEX IF EXISTS {old}")
        db.execute(f"CREATE INDEX IF NOT EXISTS {new} ON {on}")


REMATCH = "_rematch"  # articles whose stored title or text an upgrade changed: matched again (crawler.matching)


def _rematch_table(db: sqlite_utils.Database) -> None:
    # A migration cannot read the config, so it cannot match: it notes the articles whose title or text it changed,
    # and the first crawl or digest after the upgrade, which knows the topics, matches them again (``why``: the
    # migration that changed them). Made by the first migration that changes stored text, by any later one, for a
    # database that took that first one before this table existed, and by 0150 for one that took them all before.
    db.execute(
        f"CREATE TABLE IF NOT EXISTS {REMATCH} (article_id INTEGER PRIMARY KEY REFERENCES articles(id)"
        " ON DELETE CASCADE, why TEXT NOT NULL)"
    )
    guard_tables(db, [REMATCH])


def _rematch_later(conn: sqlite3.Connection, aid: int, why: str) -> None:
    conn.execute(f"INSERT INTO {REMATCH}(article_id, why) VALUES (?, ?) ON CONFLICT DO NOTHING", [aid, why])


@migrations(name="0070_pinyin_readings_removed")
def _m0070(db: sqlite_utils.Database) -> None:
    # Text now enters without pinyin readings inside Chinese words (crawler.readings); articles stored
    # before get the same cleaning, and their two search indexes with it. Fingerprints stay: a later copy
    # still joins the story by its near-duplicate signature. Their topic matches were made from the old
    # text: the articles are noted to be matched again (_rematch_table).
    from crawler.readings import strip_readings

    _rematch_table(db)
    rows = db.execute(
        "SELECT id, title, text FROM articles WHERE instr(title, '(') OR instr(title, '（')"
        " OR instr(text, '(') OR instr(text, '（')"
    ).fetchall()
    for aid, title, text in rows:
        clean_title, clean_text = strip_readings(title or ""), strip_readings(text or "")
        if (clean_title, clean_text) == (title or "", text or ""):
            continue
        _browse_delete(db.conn, aid)
        db.execute("UPDATE articles SET title = ?, text = ? WHERE id = ?", [clean_title, clean_text, aid])
        _browse_insert(db.conn, aid, clean_title, clean_text)
        db.execute("DELETE FROM _articles_fts WHERE rowid = ?", [aid])
        db.execute(
            "INSERT INTO _articles_fts(rowid, title, text) VALUES (?, ?, ?)",
            [aid, textnorm.index_tokens(clean_title), textnorm.index_tokens(clean_text)],
        )
        _rematch_later(db.conn, aid, "0070_pinyin_readings_removed")


REINDEX_BATCH = 500  # articles read at a time when an index is built again


@migrations(name="0080_browse_search_yo_and_simplified")
def _m0080(db: sqlite_utils.Database) -> None:
    # the browse index holds more forms now (browse_text): rebuilt from the articles, so that an article's
    # entry is removed later with the same forms it was added with
    db.execute(f"INSERT INTO {BROWSE_FTS}({BROWSE_FTS}) VALUES ('delete-all')")
    last = 0
    while True:  # a batch at a time: a large archive's whole text would not fit a small server's memory
        rows = db.execute(
            "SELECT id, title, text FROM articles WHERE id > ? ORDER BY id LIMIT ?", [last, REINDEX_BATCH]
        ).fetchall()
        if not rows:
            break
        for aid, title, text in rows:
            _browse_insert(db.conn, aid, title, text)
        last = rows[-1][0]


@migrations(name="0090_first_poll_leftovers")
def _m0090(db: sqlite_utils.Database) -> None:
    # entries a source's first poll listed but left for later polls (at most MAX_NEW_PAGES a poll): backlog
    # when they are fetched, as the rest of that poll's entries, so they do not alert as if new
    db.execute(
        "CREATE TABLE IF NOT EXISTS _backlog_entries (source TEXT NOT NULL, key TEXT NOT NULL,"
        " PRIMARY KEY (source, key)) WITHOUT ROWID"
    )


# A newswatch from before the check of the schema (`NewerDatabase`) opens any database without a word, one a newer
# newswatch upgraded too, and could write what the newer code cannot read. What such a version cannot do is write:
# each table of the database has triggers calling OLDER_GUARD, a function this code (and every later one) defines on
# each connection it opens, so an older version's first write to it fails ("no such function: ...") in its
# transaction and writes nothing; reads are untouched. A migration that makes a table later guards it too
# (`guard_tables`); one that rebuilds a table puts its guard back.
OLDER_GUARD = "database_upgraded_by_a_newer_newswatch"
GUARDED_OPS = ("INSERT", "UPDATE", "DELETE")


def _guard_passes() -> None:
    return None


def define_guard(conn: sqlite3.Connection) -> None:
    """Lets ``conn`` write the guarded tables (see OLDER_GUARD): every connection newswatch opens on a database."""
    conn.create_function(OLDER_GUARD, 0, _guard_passes, deterministic=True)


def guard_tables(db: sqlite_utils.Database, tables: Sequence[str] | None = None) -> None:
    """Puts the older-version guard on ``tables``, by default on every table but the search indexes (virtual tables
    and their own tables, written by SQLite's FTS5 alone). sqlite-utils' record of migrations is guarded against
    inserts alone: an older version that makes a table of its own (the delivery ledger, on its first digest) records
    a migration first, and writes nothing; a migration taken out of the record by hand is applied again as before."""
    rows = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall()
    virtual = [name for name, sql in rows if (sql or "").upper().startswith("CREATE VIRTUAL TABLE")]
    if tables is None:
        tables = [
            name
            for name, _sql in rows
            if not name.startswith("sqlite_")
            and name not in virtual
            and not any(name.startswith(f"{v}_") for v in virtual)
        ]
    for table in tables:
        for op in ("INSERT",) if table == Migrations.migrations_table else GUARDED_OPS:
            db.execute(
                f'CREATE TRIGGER IF NOT EXISTS "_older_guard_{table}_{op.lower()}" BEFORE {op} ON "{table}" '
                f"BEGIN SELECT {OLDER_GUARD}(); END"
            )


@migrations(name="0100_older_versions_write_nothing")
def _m0100(db: sqlite_utils.Database) -> None:
    guard_tables(db)


@migrations(name="0110_sitemap_children")
def _m0110(db: sqlite_utils.Database) -> None:
    # a sitemap index's children as their last poll left them: their validators, for a conditional GET, and how
    # many polls in a row one without validators (nor a <lastmod> in its index) was read unchanged, for a back-off
    db.execute(
        "CREATE TABLE IF NOT EXISTS _sitemap_children (source TEXT NOT NULL, url TEXT NOT NULL, etag TEXT,"
        " last_modified TEXT, entries_hash TEXT, unchanged INTEGER NOT NULL DEFAULT 0, next_fetch TEXT,"
        " PRIMARY KEY (source, url)) WITHOUT ROWID"
    )
    guard_tables(db, ["_sitemap_children"])


@migrations(name="0120_feed_items_read")
def _m0120(db: sqlite_utils.Database) -> None:
    # each feed's items as the last parse read them (crawler.feeds.ReadItem, by the hash of the item's text): an
    # item unchanged at the next poll is not given to feedparser again (~0.3 ms an entry)
    db.execute(
        "CREATE TABLE IF NOT EXISTS _feed_items (source TEXT NOT NULL, hash TEXT NOT NULL, item TEXT NOT NULL,"
        " PRIMARY KEY (source, hash)) WITHOUT ROWID"
    )
    guard_tables(db, ["_feed_items"])


@migrations(name="0130_near_misses")
def _m0130(db: sqlite_utils.Database) -> None:
    # an article's scores for the topics with a near_score that it scored in [near_score, min_score) for: no match
    # (export, search, prune and the alerts read matches alone), but a digest lists the story as a near miss
    db.execute(
        "CREATE TABLE IF NOT EXISTS _near_misses (article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,"
        " topic TEXT NOT NULL, score REAL NOT NULL, hits TEXT NOT NULL, matched_at TEXT NOT NULL,"
        " PRIMARY KEY (article_id, topic))"
    )
    db.execute("CREATE INDEX IF NOT EXISTS _near_misses_topic ON _near_misses(topic, score)")
    guard_tables(db, ["_near_misses"])


UNSEEN_SQL = "newswatch_holds_unseen"  # SQL function of 0140: whether a stored value changes under encoding.visible


SEEN_FIELDS = ("title", "text", "author", "site_name")  # what d1025e8 passes through encoding.visible


@migrations(name="0140_invisible_characters_removed")
def _m0140(db: sqlite_utils.Database) -> None:
    # Since d1025e8 an article's title, text, author and site name enter without what a reader cannot see (control
    # characters, terminal escape sequences: encoding.visible); articles stored before get the same cleaning, their two
    # search indexes with it. Only the rows holding such a character are read into Python (the SQL function below
    # selects them) and written: a clean archive is read once, not rewritten. A content hash or a near-duplicate
    # signature made from the old text is made again from the clean one (in its story, merging none), so a copy
    # fetched after the upgrade, now clean, is the same story, not a new one. An article whose title or text changed is
    # noted to be matched again against the topics (_rematch_table): its matches were made from the old text.
    from crawler import encoding

    _rematch_table(db)
    conn = db.conn
    visible = encoding.visible  # called for every stored value: looked up once, not imported at each call
    conn.create_function(
        UNSEEN_SQL, 1, lambda value: isinstance(value, str) and visible(value) != value, deterministic=True
    )
    suspect = " OR ".join(f"{UNSEEN_SQL}({field})" for field in SEEN_FIELDS)
    stories, last = dedup.StoryIndex(conn), 0
    while True:  # a batch at a time, in id order: one pass over the table whatever the batches
        rows = conn.execute(
            f"SELECT id, {', '.join(SEEN_FIELDS)}, content_hash FROM articles WHERE id > ? AND ({suspect})"
            " ORDER BY id LIMIT ?",
            [last, REINDEX_BATCH],
        ).fetchall()
        if not rows:
            break
        for aid, title, text, author, site_name, body_hash in rows:
            title, text = title or "", text or ""
            clean_title, clean_text = encoding.visible(title), encoding.visible(text)
            author, site_name = (encoding.visible(v) if isinstance(v, str) else v for v in (author, site_name))
            if body_hash is not None and clean_text != text and body_hash == dedup.content_hash(text):
                body_hash = dedup.content_hash(clean_text)
            searched = (clean_title, clean_text) != (title, text)
            if searched:
                _browse_delete(conn, aid)  # given the values it indexed: before they change
            conn.execute(
                "UPDATE articles SET title = ?, text = ?, author = ?, site_name = ?, content_hash = ? WHERE id = ?",
                [clean_title, clean_text, author, site_name, body_hash, aid],
            )
            if not searched:
                continue
            _rematch_later(conn, aid, "0140_invisible_characters_removed")
            _browse_insert(conn, aid, clean_title, clean_text)
            conn.execute("DELETE FROM _articles_fts WHERE rowid = ?", [aid])
            conn.execute(
                "INSERT INTO _articles_fts(rowid, title, text) VALUES (?, ?, ?)",
                [aid, textnorm.index_tokens(clean_title), textnorm.index_tokens(clean_text)],
            )
            made = conn.execute("SELECT sig FROM _story_sig WHERE article_id = ?", [aid]).fetchone()
            if made is not None and made[0] == dedup.signature(title, text).to_bytes():
                stories.replace(aid, dedup.signature(clean_title, clean_text))
        last = rows[-1][0]


@migrations(name="0150_rematch_noted")
def _m0150(db: sqlite_utils.Database) -> None:
    # A database that took 0140 before 0070 and 0140 noted what they changed has no table for the notes, and every
    # crawl, digest and prune reads it: made here, empty (what 0140 cleaned then was not noted, and is not known now).
    _rematch_table(db)


# internal tables made after the rename (0060), named apart from the start
INTERNAL_ADDED = ("_backlog_entries", "_sitemap_children", "_feed_items", "_near_misses", REMATCH)
SOURCE_STATE = ("_backlog_entries", "_sitemap_children", "_feed_items")  # a source's crawl state, by source first

LEASE_MAX_AGE = 6 * 3600.0  # seconds: a lease this old is taken over (its pid may have been reused)


def _lease_expired(since: str | None) -> bool:
    try:
        taken = parse_iso(since)
    except ValueError:
        return True
    return taken is None or (utcnow() - taken).total_seconds() > LEASE_MAX_AGE


def _fts_tokenize() -> str:
    return textnorm.INDEX_TOKENIZE


RUNS_KEPT = 2000  # crawl history: the newest runs kept ...
RUNS_MAX_AGE = timedelta(days=30)  # ... and none older than this
RUN_SAMPLES = 20  # error samples and warnings kept per source and run


def bounded_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """A run summary whose per-source lists are cut to RUN_SAMPLES, the rest counted by reason.

    One run over a large site can produce thousands of identical lines ("no article text found");
    the history keeps a sample and how many of each kind there were.
    """
    sources = []
    for src in summary.get("sources", []):
        src = dict(src)
        for key in ("error_samples", "warnings"):
            lines = src.get(key) or []
            if len(lines) > RUN_SAMPLES:
                src[key] = lines[:RUN_SAMPLES]
                rest = Counter(_reason(line) for line in lines[RUN_SAMPLES:])
                src[f"{key}_more"] = dict(rest.most_common(RUN_SAMPLES))
        sources.append(src)
    return {**summary, "sources": sources}


def _reason(line: str) -> str:
    """The part of an error line after its URL ("https://x/a: no article text" → "no article text")."""
    head, sep, tail = str(line).partition(": ")
    return tail[:200] if sep and "://" in head else str(line)[:200]


def share_with_group(path: Path) -> None:
    """In a group-writable folder (the service's StateDirectory) the database is group-writable too.

    SQLite creates a database 0644 less the umask (0640 under the unit's UMask=0007) and gives its
    -wal/-shm the database's mode, so one chmod here lets the group's operators and the daemon
    share all three files; the folder's setgid bit gives them the group.
    """
    try:
        folder, st = path.parent.stat(), path.stat()
    except OSError:
        return
    if folder.st_mode & stat.S_IWGRP and st.st_uid == os.geteuid() and st.st_mode & 0o060 != 0o060:
        try:
            os.chmod(path, stat.S_IMODE(st.st_mode) | 0o060)
        except OSError:
            pass  # not ours to change: the open below says what is wrong if it matters


def _use_wal(conn: sqlite3.Connection) -> None:
    # Switching a new file to WAL ignores the busy timeout: when several processes open it at once,
    # all but one see "database is locked" for a moment. The mode is persistent; wait for it.
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """A connection that never writes: works on a read-only file, folder or mount.

    A WAL database is readable without write access while its -wal/-shm files exist (a writer
    is running); when they do not and cannot be created, nothing can be writing, so the file
    is opened as immutable.
    """
    if not path.exists():
        raise FileNotFoundError(f"no database at {path} yet")
    uri = path.resolve().as_uri() + "?mode=ro"
    for suffix in ("", "&immutable=1"):
        conn = sqlite3.connect(
            uri + suffix, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.OperationalError:
            conn.close()
            if suffix or os.access(path.parent, os.W_OK):
                raise
    raise AssertionError("unreachable")


def _not_newswatch(conn: sqlite3.Connection, path: Path, readonly: bool) -> str | None:
    """Why this SQLite file is no newswatch database to open: an empty one to read, or another program's."""
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    if not tables:  # a new (or emptied) file: a write makes it a newswatch database, a read finds nothing
        return f"no database at {path} yet (the file is empty); run 'newswatch crawl' first" if readonly else None
    if "articles" in tables or "_sqlite_migrations" in tables:
        return None
    shown = ", ".join(tables[:3]) + (", …" if len(tables) > 3 else "")
    return f"{path} is not a newswatch database (it holds the tables {shown}); check [storage] database"


def _open_problem(path: Path, exc: BaseException, readonly: bool) -> str:
    """One line saying why the database cannot be opened and which permission would fix it."""
    closed = no_entry(path)
    if closed is not None:
        return f"cannot open the database {path}: {closed}"
    if path.is_dir():
        return f"the database {path} is a folder, not a file; set [storage] database to a file, e.g. {path / 'newswatch.db'}"
    blocker = file_in_the_way(path)
    if blocker is not None:
        return f"cannot make the database {path}: {blocker} is a file, not a folder; check [storage] database"
    if isinstance(exc, FileNotFoundError):
        return f"no database at {path} yet; run 'newswatch crawl' first (or check [storage] database)"
    if readonly:
        if not os.access(path, os.R_OK):
            return f"cannot read the database {path}: permission denied; this user needs read permission on it"
        return f"cannot read the database {path}: {exc}"
    folder = path.parent
    if on_read_only_mount(path):
        return (
            f"cannot write the database {path}: it lies on a read-only file system; set [storage] database to a file "
            f'on a writable one (the systemd service may write only {service_folder()}: "{service_folder()}/newswatch.db")'
        )
    if path.exists() and not os.access(path, os.W_OK):
        return (
            f"cannot write the database {path}: permission denied; this command needs write permission "
            f"on {path} and its folder {folder} (run it as the service user or in its group)"
        )
    if not os.access(folder if folder.exists() else folder.parent, os.W_OK):
        return (
            f"cannot write the database {path}: permission denied; this command needs write permission "
            f"on the folder {folder} (run it as the service user or in its group)"
        )
    free = low_space(path)
    if free is not None:
        return (
            f"cannot open the database {path}: the disk holding it is full ({free:,} bytes free); free some space on "
            "it and run the command again"
        )
    return f"cannot open the database {path}: {exc}; check [storage] database and that its folder is writable"


def database_problem(path: Path, exc: BaseException) -> str:
    """One line for a database a job could not use: which file and why (a StoreError says so itself)."""
    if isinstance(exc, StoreError):
        return str(exc)
    text = str(exc) or type(exc).__name__
    if "locked" in text:
        text = f"{text} (another process held its write lock for {BUSY_TIMEOUT_MS / 1000:g} s, e.g. a long prune)"
    elif "disk I/O error" in text or "disk is full" in text:
        free = low_space(path)
        if free is not None:  # SQLite's word when it cannot grow its -wal or -shm file
            text = f"the disk holding it is full ({free:,} bytes free)"
    return f"cannot use the database {path}: {text}"


EXPORT_CHUNK = 500  # articles an export reads at once, each chunk its own read transaction

RESET_KEY = "sources.reset:"  # + a source's name, in _state: when `sources --reset` last reset it
RESET_LOOK = 10.0  # seconds between a running daemon's looks for those (`sources --reset` says how soon)
# + a source's name, in _state: when a crawl first found the source gone from the config, its crawl state kept
REMOVED_KEY = "sources.removed:"
REMOVED_KEEP = timedelta(days=7)  # how long a source gone from the config keeps its crawl state (forget_removed)
# + a source's name, in _state: the settings its stored validators (and its sitemap children's) were read with
# (crawler.polling.read_as); a poll with other settings sends none, as a 304 would hide what they take
READ_AS_KEY = "sources.read_as:"
# + a source's name, in _state: what it polled (crawler.polling.poll_target: kind, url, spider) when its failures, a
# Retry-After or a 410 were met; once it polls another, they no longer hold it back (polling.as_configured)
HELD_AS_KEY = "sources.held_as:"


class UpgradeRefused(StoreError):
    """A database an older newswatch made, opened to write by a process that must not upgrade it."""

    def __init__(self, path: Path, pending: Sequence[str]) -> None:
        self.path, self.pending = path, tuple(pending)
        super().__init__(f"the database {path} needs an upgrade ({', '.join(pending)}) this process may not apply")


class NewerDatabase(StoreError):
    """A database a newer newswatch upgraded: this older code could misread it, or write what the newer cannot read."""

    def __init__(self, path: Path, mset: Migrations, unknown: Sequence[tuple[str, str]], by: str | None) -> None:
        self.path, self.unknown, self.by = path, tuple(unknown), by
        newest, applied = self.unknown[-1]
        known = [m.name for m in mset._migrations]
        more = f" and {len(self.unknown) - 1} more" if len(self.unknown) > 1 else ""
        who = f"newswatch {by}" if by and by != __version__ else "a newer newswatch"
        super().__init__(
            f"the database {path} was upgraded by {who}: its schema is at migration {newest}{more} (applied "
            f"{applied[:10]}), which this newswatch {__version__} does not know (it knows up to {known[-1]}); "
            "nothing was read or written. Run the newswatch that upgraded it (install that version or a later one "
            "into this environment), or restore a copy of the database made before that upgrade ('newswatch backup' "
            "makes one) for this version"
        )


class UpgradeWatch:
    """How a Store's upgrade goes, for another thread to report while it waits (the daemon tells systemd):
    the migration being applied, and a count that grows as long as SQLite is working on it."""

    STEPS = 1000  # SQLite virtual-machine steps to a count: a long statement counts too, not only many short ones

    def __init__(self) -> None:
        self.migration: str | None = None  # the one being applied now
        self.applied: list[str] = []  # committed, in order
        self.progress = 0

    def _step(self) -> int:  # SQLite's progress handler: 0 lets the statement go on
        self.progress += 1
        return 0


@dataclass(frozen=True)
class Lease:
    """Who holds a source: a crawl process on this host, and since when (ISO 8601)."""

    pid: int
    since: str

    def __str__(self) -> str:
        return f"pid {self.pid} since {self.since}"


@dataclass(frozen=True)
class AddResult:
    article_id: int
    story: str
    status: str  # 'new' | 'duplicate' (same page or same body) | 'updated' (feed text replaced by page)
    merged: tuple[str, ...] = ()


class Store:
    """A handle on the newswatch database. Not thread-safe; open one per thread or process."""

    def __init__(
        self,
        path: Path,
        *,
        readonly: bool = False,
        upgrade: bool = True,
        watch: UpgradeWatch | None = None,
        newer: bool = False,
    ) -> None:
        """Opens (and migrates) the database; ``readonly`` never writes, except to upgrade a database an
        older newswatch made when this user may (not with ``upgrade=False``: it is read as it is; a handle that
        writes then raises UpgradeRefused rather than upgrade it). ``watch`` follows the migrations this handle
        applies, now and later (`apply_migrations`). A database a newer newswatch upgraded raises NewerDatabase
        (``newer``, read-only: opened as it is, to copy it)."""
        self.path = Path(path)
        self.readonly = readonly
        self.watch = watch
        try:
            if readonly:
                conn = _connect_readonly(self.path)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(
                    str(self.path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
                )
                share_with_group(self.path)
            define_guard(conn)
            problem = _not_newswatch(conn, self.path, readonly)  # before WAL: another program's file stays as it is
            if problem:
                conn.close()
                raise StoreError(problem)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys = ON")
            if not readonly:
                _use_wal(conn)
                conn.execute("PRAGMA synchronous = NORMAL")
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(_open_problem(self.path, exc, readonly)) from None
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        self._lock = threading.RLock()
        self._depth = 0
        self._batch = False
        if not (newer and readonly):
            self._refuse_newer(migrations)
        if not readonly:
            if not upgrade and self._made_by_newswatch() and self._pending(migrations):
                pending = [m.name for m in migrations.pending(self.db)]
                self.conn.close()
                raise UpgradeRefused(self.path, pending)
            self.migrate()
        elif upgrade and self._made_by_newswatch() and self._pending(migrations):
            self._upgrade_first()

    def _pending(self, mset: Migrations) -> bool:
        try:
            return bool(mset.pending(self.db))
        except sqlite3.Error:
            return True

    def _refuse_newer(self, mset: Migrations) -> None:
        """Raises NewerDatabase when ``mset`` holds migrations applied here that this code does not know."""
        try:
            rows = self.conn.execute(
                "SELECT name, applied_at FROM _sqlite_migrations WHERE migration_set = ? ORDER BY rowid", [mset.name]
            ).fetchall()
        except sqlite3.Error:  # no migrations table yet: a new database
            return
        known = {m.name for m in mset._migrations}
        unknown = [(str(name), str(applied)) for name, applied in rows if name not in known]
        if not unknown:
            return
        try:
            by = self.get_state(SCHEMA_BY_KEY)
        except sqlite3.Error:
            by = None
        self.conn.close()
        raise NewerDatabase(self.path, mset, unknown, by)

    def _made_by_newswatch(self) -> bool:
        # an empty file or another program's database is never turned into a newswatch database here
        return self._applied_before(migrations)

    def _applied_before(self, mset: Migrations) -> bool:
        """Whether some of ``mset`` was applied here before: its pending migrations upgrade a database, not make one."""
        try:
            query = "SELECT 1 FROM _sqlite_migrations WHERE migration_set = ? LIMIT 1"
            return self.conn.execute(query, [mset.name]).fetchone() is not None
        except sqlite3.Error:
            return False

    def _upgrade_first(self) -> None:
        """A database from an older newswatch, opened to read: upgraded first when this user may write it."""
        self.conn.close()
        if os.access(self.path, os.W_OK) and os.access(self.path.parent, os.W_OK):
            Store(self.path).close()
        try:
            self.conn = _connect_readonly(self.path)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(_open_problem(self.path, exc, True)) from None
        define_guard(self.conn)
        self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self.conn.execute("PRAGMA foreign_keys = ON")
        self.db = sqlite_utils.Database(self.conn)
        self.apply_migrations(migrations)  # still pending: one line saying how to upgrade it

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def migrate(self) -> None:
        """Applies pending numbered migrations; safe when several processes start at once."""
        self.apply_migrations(migrations)

    def apply_migrations(self, mset: Migrations) -> None:
        if mset is not migrations:  # the newswatch set was looked at on opening
            self._refuse_newer(mset)
        if self.readonly:
            if not self._pending(mset):
                return
            if on_read_only_mount(self.path):  # no user may write the upgrade there
                raise StoreError(
                    f"the database {self.path} was made by an older newswatch and needs an upgrade, which cannot be "
                    "written where it lies: on a read-only file system; copy it to a writable one and set "
                    "[storage] database to the copy"
                )
            raise StoreError(
                f"the database {self.path} was made by an older newswatch and needs an upgrade this user "
                "cannot write; run 'newswatch crawl' (or restart the daemon) once as a user with write "
                "permission on it"
            )
        watch = self.watch
        for _attempt in range(3):
            try:
                if not mset.pending(self.db):
                    return
                # a migration may rebuild a table: dropping the old one must not cascade to its children
                self.conn.execute("PRAGMA foreign_keys = OFF")
                if watch is not None:
                    self.conn.set_progress_handler(watch._step, watch.STEPS)
                try:
                    # BEGIN IMMEDIATE: one process applies, the others wait and see none. All or nothing: a
                    # process killed midway (systemd's start timeout) leaves the database as it was, to upgrade
                    # again at the next start.
                    with self.transaction():
                        names = [m.name for m in mset.pending(self.db)]
                        upgrade = bool(names) and self._applied_before(mset)  # not a new database being made
                        if upgrade:  # said once this process holds the lock: another may have done it meanwhile
                            began = time.monotonic()
                            notices.upgrading(self.path, names)
                        for i, name in enumerate(names):  # one at a time, so the watch can name it
                            if watch is not None:
                                watch.migration = name
                            mset.apply(self.db, stop_before=names[i + 1 :])
                        broken = self.conn.execute("PRAGMA foreign_key_check").fetchall()
                        if broken:
                            raise sqlite3.IntegrityError(f"a migration broke {len(broken)} foreign key(s)")
                        if names and self.db["_state"].exists():  # an older newswatch that meets them names it
                            self.set_state(SCHEMA_BY_KEY, __version__)
                    if watch is not None:
                        watch.applied.extend(names)
                    if upgrade:
                        notices.upgrading(self.path, names, time.monotonic() - began)
                finally:
                    self.conn.execute("PRAGMA foreign_keys = ON")
                    if watch is not None:
                        watch.migration = None
                        self.conn.set_progress_handler(None, 0)
                return
            except sqlite3.IntegrityError:
                continue  # another process applied it first
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc):  # the busy timeout ran out: another process writes, for long
                    raise StoreError(
                        f"cannot upgrade the database {self.path} now: another newswatch process has held it for "
                        f"{BUSY_TIMEOUT_MS / 1000:g} s, most likely upgrading it itself (the daemon's first start after "
                        "an upgrade of newswatch takes minutes on a large archive; its log says 'database upgraded' "
                        "when done); run this again then"
                    ) from None
                raise StoreError(f"cannot prepare the database {self.path}: {exc}") from None
            except sqlite3.Error as exc:
                raise StoreError(f"cannot prepare the database {self.path}: {exc}") from None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the lock at once (BEGIN IMMEDIATE); nested, a savepoint."""
        with self._lock:
            if self._depth:
                name = f"nw_{self._depth}"
                self.conn.execute(f"SAVEPOINT {name}")
                self._depth += 1
                try:
                    yield self.conn
                except BaseException:
                    if self.conn.in_transaction:
                        self.conn.execute(f"ROLLBACK TO {name}")
                        self.conn.execute(f"RELEASE {name}")
                    raise
                else:
                    self.conn.execute(f"RELEASE {name}")
                finally:
                    self._depth -= 1
                return
            self.conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self.conn
            except BaseException:
                self._depth = 0
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            else:
                self._depth = 0
                self.conn.execute("COMMIT")

    def make_room(self) -> None:
        """Copies the write-ahead log into the database file, so that the next write starts the log over in the
        space it already has: a small record that must follow an act done outside (a mail the server accepted)
        then needs no new disk space, and a disk filling up meanwhile cannot stop it. Raises sqlite3.Error when
        the database cannot be written now (a full disk): nothing should be done that it could not record."""
        self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def begin_batch(self) -> None:
        """Opens a transaction that later writes join (each as a savepoint) until commit_batch()."""
        with self._lock:
            if not self._batch:
                self.conn.execute("BEGIN IMMEDIATE")
                self._depth, self._batch = 1, True

    def commit_batch(self) -> None:
        """Commits the open batch; on failure (a full disk) it is rolled back whole and the error raised."""
        with self._lock:
            if self._batch:
                self._depth, self._batch = 0, False
                try:
                    self.conn.execute("COMMIT")
                except sqlite3.Error:
                    if self.conn.in_transaction:
                        self.conn.execute("ROLLBACK")
                    raise

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        cur = self.conn.execute(sql, params)
        cols = [d[0] for d in cur.description or ()]
        return [dict(zip(cols, row)) for row in cur.fetchall()]

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return row[0] if row else None

    # -- source freshness --------------------------------------------------------------------

    def freshness_rows(self) -> dict[str, dict[str, Any]]:
        """Per source: stored freshness, when an entry was last new, and its articles' newest dates."""
        out: dict[str, dict[str, Any]] = {}
        try:
            rows = self.query("SELECT * FROM source_freshness")
        except sqlite3.OperationalError:  # a read-only handle on a database not migrated yet
            rows = []
        for r in rows:
            out[r["name"]] = {**r, "entry_dates": json.loads(r["entry_dates"] or "[]")}
        for r in self.query("SELECT source, max(first_seen) AS last_new FROM _entries GROUP BY source"):
            out.setdefault(r["source"], {})["last_new"] = r["last_new"]
        return out

    def stored_entry_dates(self, name: str) -> list[str]:
        """The entry dates kept for one source (newest first)."""
        row = self.conn.execute("SELECT entry_dates FROM source_freshness WHERE name = ?", [name]).fetchone()
        return json.loads(row[0] or "[]") if row else []

    def article_dates(self, source: str, limit: int = 50) -> list[str]:
        """The newest publication dates of a source's stored articles (for sources without entry dates)."""
        rows = self.conn.execute(
            "SELECT published FROM articles WHERE source = ? AND published IS NOT NULL ORDER BY published DESC LIMIT ?",
            [source, limit],
        )
        return [r[0] for r in rows]

    def record_freshness(self, name: str, **fields: Any) -> None:
        if "entry_dates" in fields:
            fields["entry_dates"] = json.dumps(fields["entry_dates"])
        with self.transaction() as c:
            c.execute("INSERT INTO source_freshness(name) VALUES (?) ON CONFLICT(name) DO NOTHING", [name])
            if fields:
                sets = ", ".join(f"{k} = ?" for k in fields)
                c.execute(f"UPDATE source_freshness SET {sets} WHERE name = ?", [*fields.values(), name])

    # -- key/value state ---------------------------------------------------------------

    def get_state(self, key: str) -> str | None:
        return self.scalar("SELECT value FROM _state WHERE key = ?", [key])

    def set_state(self, key: str, value: str | None) -> None:
        with self.transaction() as c:
            c.execute(
                "INSERT INTO _state(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [key, value],
            )

    # -- sources ---------------------------------------------------------------------

    def read_as(self, name: str) -> str | None:
        """The settings source ``name``'s stored validators were read with (READ_AS_KEY); None if never noted."""
        return self.get_state(READ_AS_KEY + name)

    def note_read_as(self, name: str, settings: str) -> None:
        self.set_state(READ_AS_KEY + name, settings)

    def reset_source(self, name: str) -> dict[str, Any]:
        """`sources --reset`: re-enables the source and clears its backoff, and notes when, for a running daemon to
        take it up (`source_resets`); returns its state before. A source neither inactive nor backing off is left as
        it is (its next poll too: "nothing to reset")."""
        with self.transaction():
            before = self.source_state(name)
            if not before["active"] or before["failures"] or before["retry_after"]:
                self.update_source(
                    name,
                    active=1,
                    inactive_reason=None,
                    failures=0,
                    failing_since=None,
                    next_poll=None,
                    retry_after=None,
                )
                self.set_state(RESET_KEY + name, iso(utcnow()))
        return before

    def forget_resets(self, configured: Collection[str]) -> list[str]:
        """Drops the `sources --reset` notes of sources no longer configured (so the table does not keep one for
        every source ever removed); returns their names. Reads first: with no such note (a daemon's start or reload,
        as a rule) it writes nothing (it took the write lock each time, waiting behind any other writer)."""
        if all(n in configured for n in self.source_resets()):
            return []
        with self.transaction() as c:  # read again under the lock: another process may have dropped them meanwhile
            gone = [n for n in self.source_resets() if n not in configured]
            c.executemany("DELETE FROM _state WHERE key = ?", [(RESET_KEY + n,) for n in gone])
        return gone

    def forget_removed(self, configured: Collection[str], now: datetime, keep: timedelta = REMOVED_KEEP) -> list[str]:
        """Deletes the crawl state (SOURCE_STATE: its feed's items read, its sitemap children, its first poll's
        entries left for later; the note of the settings its validators were read with, and its validators and count
        of polls, so that put back it is polled as a new source) of each source gone from the config for ``keep`` or
        longer, in one transaction, and notes when a source was first found gone; a source put back sooner keeps its
        state. Its articles, seen entries and health (last success, errors) stay. Returns the names whose state was
        deleted. Reads first: a crawl with no note to make, drop or act on writes nothing (it took the write lock at
        every crawl, waiting behind any other writer)."""
        configured = set(configured)
        if not any(self._removed_changes(configured, now, keep)):
            return []
        with self.transaction() as c:  # read again under the lock: another crawl may have done it meanwhile
            noting, dropping, forgetting = self._removed_changes(configured, now, keep)
            for name in forgetting:
                for table in SOURCE_STATE:
                    c.execute(f"DELETE FROM {table} WHERE source = ?", [name])
                c.execute("DELETE FROM _state WHERE key IN (?, ?)", [READ_AS_KEY + name, HELD_AS_KEY + name])
                c.execute("UPDATE sources SET polls = 0, etag = NULL, last_modified = NULL WHERE name = ?", [name])
            c.executemany("DELETE FROM _state WHERE key = ?", [(REMOVED_KEY + n,) for n in (*dropping, *forgetting)])
            c.executemany(
                "INSERT OR REPLACE INTO _state(key, value) VALUES (?, ?)", [(REMOVED_KEY + n, iso(now)) for n in noting]
            )
        return forgetting

    def _removed_changes(
        self, configured: set[str], now: datetime, keep: timedelta
    ) -> tuple[list[str], list[str], list[str]]:
        """What ``forget_removed`` has to write: the sources found gone whose note is new, the notes of sources
        configured again (or whose state is gone), and the sources whose state is due to be deleted."""
        having = set().union(*(self._sources_in(table) for table in SOURCE_STATE), self._polled_sources())
        noted = {
            key[len(REMOVED_KEY) :]: value
            for key, value in self.conn.execute("SELECT key, value FROM _state WHERE key LIKE ?", [REMOVED_KEY + "%"])
        }
        gone = having - configured
        noting = sorted(name for name in gone if not noted.get(name))  # an empty note is made again, as a new one
        dropping = sorted(noted.keys() - gone)
        forgetting = sorted(
            name for name in gone if (since := parse_iso(noted.get(name))) is not None and since <= now - keep
        )
        return noting, dropping, forgetting

    def _polled_sources(self) -> set[str]:
        """The sources with state outside SOURCE_STATE for forget_removed to drop: a count of polls (its validators
        with it) or a note of the settings they were read with (READ_AS_KEY), which a listing, a plain sitemap and a
        spider keep with no row in SOURCE_STATE."""
        polled = {r[0] for r in self.conn.execute("SELECT name FROM sources WHERE polls > 0")}
        notes = self.conn.execute(
            "SELECT substr(key, ?) FROM _state WHERE substr(key, 1, ?) = ?",
            [len(READ_AS_KEY) + 1, len(READ_AS_KEY), READ_AS_KEY],
        )
        return polled | {r[0] for r in notes}

    def _sources_in(self, table: str) -> set[str]:
        """The sources with rows in ``table`` (one of SOURCE_STATE, keyed by source first): one seek a source."""
        names, last = set(), ""
        while row := self.conn.execute(
            f"SELECT source FROM {table} WHERE source > ? ORDER BY source LIMIT 1", [last]
        ).fetchone():
            names.add(last := row[0])
        return names

    def source_resets(self) -> dict[str, str]:
        """When each source was last reset by `sources --reset`, by name."""
        rows = self.conn.execute("SELECT key, value FROM _state WHERE key LIKE ?", [RESET_KEY + "%"])
        return {key[len(RESET_KEY) :]: value for key, value in rows}

    def knows_source(self, name: str) -> bool:
        """Whether ``name`` was ever polled or has stored articles (a source since removed from the config too)."""
        found = self.conn.execute(
            "SELECT 1 FROM sources WHERE name = ? UNION ALL SELECT 1 FROM articles WHERE source = ? LIMIT 1",
            [name, name],
        )
        return found.fetchone() is not None

    def source_state(self, name: str) -> dict[str, Any]:
        rows = self.query("SELECT * FROM sources WHERE name = ?", [name])
        if rows:
            return rows[0]
        return {
            "name": name,
            "configured_url": None,
            "current_url": None,
            "etag": None,
            "last_modified": None,
            "last_attempt": None,
            "last_success": None,
            "last_error": None,
            "last_error_at": None,
            "failures": 0,
            "failing_since": None,
            "next_poll": None,
            "retry_after": None,
            "active": 1,
            "inactive_reason": None,
            "polls": 0,
        }

    def poll_state(self, name: str) -> SourceState:
        """Source ``name``'s stored state, with what it polled when it was held back (HELD_AS_KEY)."""
        return SourceState.from_row({**self.source_state(name), "held_as": self.get_state(HELD_AS_KEY + name)})

    def record_poll(self, name: str, stored: SourceState, after: SourceState, target: str) -> SourceState:
        """Writes a poll's result: what changed from ``stored`` (as ``poll_state`` read it, before the poll, not as
        polling.as_configured took it) to ``after``, and, when ``after`` holds the source back, the target it was met
        with (polling.poll_target), in one transaction; returns ``after`` as stored."""
        if held_back(after):
            after = replace(after, held_as=target)
        with self.transaction():
            self.update_source(name, **after.changes(stored))
            if after.held_as != stored.held_as:
                self.set_state(HELD_AS_KEY + name, after.held_as)
        return after

    def update_source(self, name: str, **fields: Any) -> None:
        if not fields:
            return
        with self.transaction() as c:
            c.execute("INSERT INTO sources(name) VALUES (?) ON CONFLICT(name) DO NOTHING", [name])
            sets = ", ".join(f"{k} = ?" for k in fields)
            c.execute(f"UPDATE sources SET {sets} WHERE name = ?", [*fields.values(), name])

    def claim_sources(self, names: Sequence[str]) -> dict[str, Lease]:
        """Takes the lease of each named source for this process; returns those another live crawl holds.

        A lease whose process is gone (killed, crashed) is taken over.
        """
        host, pid = socket.gethostname(), os.getpid()
        held: dict[str, Lease] = {}
        with self.transaction() as c:
            rows = {
                r[0]: (r[1], r[2], r[3])
                for r in c.execute("SELECT name, host, pid, since FROM _source_leases").fetchall()
                if r[0] in set(names)
            }
            for name in names:
                owner = rows.get(name)
                if (
                    owner
                    and owner[0] == host
                    and owner[1] != pid
                    and process_alive(owner[1])
                    and not _lease_expired(owner[2])
                ):
                    held[name] = Lease(int(owner[1]), str(owner[2]))
                    continue
                c.execute(
                    "INSERT INTO _source_leases(name, host, pid, since) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT(name) DO UPDATE SET host = excluded.host, pid = excluded.pid, since = excluded.since",
                    [name, host, pid, iso(utcnow())],
                )
        return held

    def release_sources(self, names: Sequence[str]) -> None:
        """Gives back this process's leases."""
        if not names:
            return
        with self.transaction() as c:
            c.executemany(
                "DELETE FROM _source_leases WHERE name = ? AND host = ? AND pid = ?",
                [(n, socket.gethostname(), os.getpid()) for n in names],
            )

    def source_rows(self) -> dict[str, dict[str, Any]]:
        counts = {r["source"]: r["n"] for r in self.query("SELECT source, count(*) AS n FROM articles GROUP BY source")}
        out = {}
        for row in self.query("SELECT * FROM sources"):
            row["articles"] = counts.get(row["name"], 0)
            out[row["name"]] = row
        for name, n in counts.items():
            out.setdefault(name, {**self.source_state(name), "articles": n})
        return out

    # -- entries and known URLs ----------------------------------------------------------

    def seen_entries(self, source: str) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT key FROM _entries WHERE source = ?", [source])}

    def entry_articles(self, source: str) -> set[int]:
        """The articles a source's entries led to."""
        sql = "SELECT article_id FROM _entries WHERE source = ? AND article_id IS NOT NULL"
        return {r[0] for r in self.conn.execute(sql, [source])}

    def mark_entries(self, source: str, keys: Sequence[str], article_id: int | None = None) -> None:
        now = iso(utcnow())
        with self.transaction() as c:
            c.executemany(
                "INSERT INTO _entries(source, key, article_id, first_seen) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [(source, k, article_id, now) for k in keys],
            )

    def backlog_entries(self, source: str) -> set[str]:
        """The entries of ``source``'s first poll left for later polls, not handled yet: backlog when fetched."""
        return {r[0] for r in self.conn.execute("SELECT key FROM _backlog_entries WHERE source = ?", [source])}

    def add_backlog_entries(self, source: str, keys: Sequence[str]) -> None:
        with self.transaction() as c:
            c.executemany(
                "INSERT INTO _backlog_entries(source, key) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [(source, k) for k in keys],
            )

    def drop_backlog_entries(self, source: str, keys: Sequence[str]) -> None:
        with self.transaction() as c:
            c.executemany("DELETE FROM _backlog_entries WHERE source = ? AND key = ?", [(source, k) for k in keys])

    def sitemap_children(self, source: str) -> dict[str, dict[str, Any]]:
        """The children of ``source``'s sitemap indexes as its last complete poll left them, by URL."""
        rows = self.query(
            "SELECT url, etag, last_modified, entries_hash, unchanged, next_fetch FROM _sitemap_children"
            " WHERE source = ?",
            [source],
        )
        return {r.pop("url"): r for r in rows}

    def record_sitemap_children(
        self, source: str, children: dict[str, dict[str, Any]], listed: Collection[str]
    ) -> None:
        """Writes the children a poll read (``children``) and forgets those its indexes no longer list."""
        with self.transaction() as c:
            c.executemany(
                "INSERT OR REPLACE INTO _sitemap_children(source, url, etag, last_modified, entries_hash, unchanged,"
                " next_fetch) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (source, url, r["etag"], r["last_modified"], r["entries_hash"], r["unchanged"], r["next_fetch"])
                    for url, r in children.items()
                ],
            )
            stored = [r[0] for r in c.execute("SELECT url FROM _sitemap_children WHERE source = ?", [source])]
            c.executemany(
                "DELETE FROM _sitemap_children WHERE source = ? AND url = ?",
                [(source, url) for url in stored if url not in listed and url not in children],
            )

    def feed_items(self, source: str) -> dict[str, str]:
        """The items of ``source``'s feed its last parse read: JSON (crawler.feeds.ReadItem) by the item's hash."""
        return dict(self.conn.execute("SELECT hash, item FROM _feed_items WHERE source = ?", [source]).fetchall())

    def keep_feed_items(self, source: str, added: dict[str, str], gone: Collection[str]) -> None:
        """Adds the items a parse read for the first time and forgets those the feed no longer holds."""
        with self.transaction() as c:
            c.executemany("DELETE FROM _feed_items WHERE source = ? AND hash = ?", [(source, h) for h in gone])
            c.executemany(
                "INSERT OR REPLACE INTO _feed_items(source, hash, item) VALUES (?, ?, ?)",
                [(source, h, item) for h, item in added.items()],
            )

    def known_urls(self, urls: Sequence[str]) -> dict[str, int]:
        """Which of these URLs (canonical or alias) are stored, and as which article."""
        out: dict[str, int] = {}
        for i in range(0, len(urls), 500):
            chunk = list(urls[i : i + 500])
            marks = ",".join("?" * len(chunk))
            for url, aid in self.conn.execute(f"SELECT url, article_id FROM _aliases WHERE url IN ({marks})", chunk):
                out[url] = aid
        return out

    def pending_pages(self, source: str, now: datetime | None = None) -> list[dict[str, Any]]:
        """Feed-only articles whose page failed transiently: fetch them again (only those due at ``now``)."""
        sql = "SELECT id, url, canonical_url, page_attempts FROM articles WHERE source = ? AND page_pending = 1"
        params: list[Any] = [source]
        if now is not None:
            sql += " AND (page_retry_at IS NULL OR page_retry_at <= ?)"
            params.append(iso(now))
        return self.query(sql, params)

    def schedule_page_retry(self, url: str, at: datetime, *, failed: bool) -> None:
        """Sets when a pending page is tried next; ``failed`` counts a failed retry."""
        with self.transaction() as c:
            c.execute(
                "UPDATE articles SET page_retry_at = ?, page_attempts = page_attempts + ?"
                " WHERE page_pending = 1 AND id IN (SELECT article_id FROM _aliases WHERE url = ?)",
                [iso(at), int(failed), url],
            )

    def page_attempts(self, url: str) -> int:
        value = self.scalar(
            "SELECT page_attempts FROM articles WHERE id IN (SELECT article_id FROM _aliases WHERE url = ?)", [url]
        )
        return int(value or 0)

    def clear_pending(self, url: str) -> None:
        with self.transaction() as c:
            c.execute(
                "UPDATE articles SET page_pending = 0 WHERE id IN (SELECT article_id FROM _aliases WHERE url = ?)",
                [url],
            )

    # -- articles ------------------------------------------------------------------------

    def add_article(self, rec: ArticleRecord) -> AddResult:
        """Stores one article with its story and aliases, in one transaction."""
        with self.transaction() as c:
            urls = list(dict.fromkeys([rec.canonical_url, rec.url, *rec.aliases]))
            known = self.known_urls(urls)
            if known:
                aid = next(iter(known.values()))
                row = c.execute("SELECT story, text_from FROM articles WHERE id = ?", [aid]).fetchone()
                self._add_aliases(c, aid, urls)
                if row and row[1] == "feed" and rec.text_from == "page":
                    self._replace_text(c, aid, rec)
                    return AddResult(aid, row[0], "updated")
                if row and row[1] == "feed" and not rec.page_pending:
                    c.execute("UPDATE articles SET page_pending = 0 WHERE id = ?", [aid])
                return AddResult(aid, row[0] if row else "", "duplicate")
            if rec.content_hash and rec.text_from == "page":
                same = c.execute(
                    "SELECT id, story FROM articles WHERE content_hash = ? AND source = ? LIMIT 1",
                    [rec.content_hash, rec.source],
                ).fetchone()
                if same:  # the same body at another URL of the same outlet: one article, another alias
                    self._add_aliases(c, same[0], urls)
                    return AddResult(same[0], same[1], "duplicate")
            now = iso(rec.fetched)
            cur = c.execute(
                "INSERT INTO articles(url, canonical_url, source, title, text, text_from, author, site_name,"
                " published, language, content_hash, story, fetched, first_seen, backlog, page_pending)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,'',?,?,?,?)",
                [
                    rec.url,
                    rec.canonical_url,
                    rec.source,
                    rec.title,
                    rec.text,
                    rec.text_from,
                    rec.author,
                    rec.site_name,
                    iso(rec.published),
                    rec.language,
                    rec.content_hash,
                    now,
                    now,
                    int(rec.backlog),
                    int(rec.page_pending),
                ],
            )
            aid = int(cur.lastrowid)
            story, merged = self._assign_story(c, aid, rec)
            c.execute("UPDATE articles SET story = ? WHERE id = ?", [story, aid])
            self._add_aliases(c, aid, urls)
            c.execute(
                "INSERT INTO _articles_fts(rowid, title, text) VALUES (?, ?, ?)", [aid, rec.index_title, rec.index_text]
            )
            _browse_insert(c, aid, rec.title, rec.text)
            c.execute("INSERT INTO sources(name) VALUES (?) ON CONFLICT(name) DO NOTHING", [rec.source])
            return AddResult(aid, story, "new", merged)

    def _assign_story(self, c: sqlite3.Connection, aid: int, rec: ArticleRecord) -> tuple[str, tuple[str, ...]]:
        new_id = str(aid)
        if rec.signature is None:
            story, merged = new_id, ()
        else:
            sig = dedup.Signature.from_bytes(rec.signature)
            story, merged = dedup.StoryIndex(c).assign(aid, sig, new_id)
        if story == new_id:
            c.execute(
                "INSERT INTO stories(id, article_id, first_seen) VALUES (?, ?, ?)", [new_id, aid, iso(rec.fetched)]
            )
        for old in merged:
            c.execute("UPDATE articles SET story = ? WHERE story = ?", [story, old])
            c.execute("UPDATE stories SET merged_into = ? WHERE id = ? OR merged_into = ?", [story, old, old])
        return story, tuple(merged)

    def _replace_text(self, c: sqlite3.Connection, aid: int, rec: ArticleRecord) -> None:
        _browse_delete(c, aid)
        c.execute(
            "UPDATE articles SET title = ?, text = ?, text_from = 'page', author = ?, site_name = ?,"
            " published = COALESCE(?, published), language = COALESCE(?, language), content_hash = ?,"
            " page_pending = 0, fetched = ? WHERE id = ?",
            [
                rec.title,
                rec.text,
                rec.author,
                rec.site_name,
                iso(rec.published),
                rec.language,
                rec.content_hash,
                iso(rec.fetched),
                aid,
            ],
        )
        c.execute("DELETE FROM _articles_fts WHERE rowid = ?", [aid])
        c.execute(
            "INSERT INTO _articles_fts(rowid, title, text) VALUES (?, ?, ?)", [aid, rec.index_title, rec.index_text]
        )
        _browse_insert(c, aid, rec.title, rec.text)

    def replace_with_feed(self, aid: int, rec: ArticleRecord) -> None:
        """An article whose page turned out to be a wall takes its feed entry's title and text (``rec``, from
        ``crawler.process.feed_only``); it keeps no content hash, so that no later page is folded into it as the
        same text."""
        with self.transaction() as c:
            _browse_delete(c, aid)
            c.execute(
                "UPDATE articles SET title = ?, text = ?, text_from = 'feed', author = NULL, site_name = NULL,"
                " published = COALESCE(?, published), language = COALESCE(?, language), content_hash = NULL,"
                " page_pending = 0 WHERE id = ?",
                [rec.title, rec.text, iso(rec.published), rec.language, aid],
            )
            c.execute("DELETE FROM _articles_fts WHERE rowid = ?", [aid])
            c.execute(
                "INSERT INTO _articles_fts(rowid, title, text) VALUES (?, ?, ?)", [aid, rec.index_title, rec.index_text]
            )
            _browse_insert(c, aid, rec.title, rec.text)

    @staticmethod
    def _add_aliases(c: sqlite3.Connection, aid: int, urls: Sequence[str]) -> None:
        c.executemany(
            "INSERT INTO _aliases(url, article_id) VALUES (?, ?) ON CONFLICT(url) DO NOTHING",
            [(u, aid) for u in urls if u],
        )

    def set_matches(
        self,
        article_id: int,
        matches: Sequence[tuple[str, float, Sequence[str]]],
        near: Sequence[tuple[str, float, Sequence[str]]] = (),
    ) -> None:
        """Replaces an article's topic matches (topic, score, hits), and its near misses (the same, scored in
        [near_score, min_score) of their topics: crawler.process.score_topics)."""
        now = iso(utcnow())
        with self.transaction() as c:
            for table, rows in (("matches", matches), ("_near_misses", near)):
                c.execute(f"DELETE FROM {table} WHERE article_id = ?", [article_id])
                c.executemany(
                    f"INSERT INTO {table}(article_id, topic, score, hits, matched_at) VALUES (?,?,?,?,?)",
                    [(article_id, t, s, json.dumps(list(h), ensure_ascii=False), now) for t, s, h in rows],
                )

    def article(self, article_id: int) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM articles WHERE id = ?", [article_id])
        return rows[0] if rows else None

    def count(self, table: str) -> int:
        return int(self.scalar(f"SELECT count(*) FROM {table}"))

    # -- crawl runs ----------------------------------------------------------------------

    def start_run(self, trigger: str) -> int:
        """Records a crawl run; runs left 'running' by a process that died are marked 'interrupted'."""
        host = socket.gethostname()
        with self.transaction() as c:
            for run_id, pid in c.execute(
                "SELECT id, pid FROM crawl_runs WHERE status = 'running' AND host = ?", [host]
            ).fetchall():
                if not process_alive(pid):
                    c.execute("UPDATE crawl_runs SET status = 'interrupted' WHERE id = ?", [run_id])
            cur = c.execute(
                "INSERT INTO crawl_runs(started, trigger, status, host, pid) VALUES (?, ?, 'running', ?, ?)",
                [iso(utcnow()), trigger, host, os.getpid()],
            )
            return int(cur.lastrowid)

    def finish_run(self, run_id: int, status: str, summary: dict[str, Any]) -> None:
        """Records a run's end with a bounded summary, and forgets runs past RUNS_KEPT / RUNS_MAX_AGE."""
        now = utcnow()
        with self.transaction() as c:
            c.execute(
                "UPDATE crawl_runs SET finished = ?, status = ?, summary = ? WHERE id = ?",
                [iso(now), status, json.dumps(bounded_summary(summary), ensure_ascii=False), run_id],
            )
            c.execute(
                "DELETE FROM crawl_runs WHERE status != 'running' AND (started < ? OR id <= "
                "(SELECT id FROM crawl_runs ORDER BY id DESC LIMIT 1 OFFSET ?))",
                [iso(now - RUNS_MAX_AGE), RUNS_KEPT],
            )

    # -- reading -------------------------------------------------------------------------

    def iter_export(
        self,
        since: datetime | None = None,
        matched: bool = False,
        *,
        until: datetime | None = None,
        topics: Sequence[str] = (),
        sources: Sequence[str] = (),
        languages: Sequence[str] = (),
    ) -> Iterator[dict[str, Any]]:
        """Articles in id order with their matched topic names, for export.

        ``since``/``until`` bound ``fetched`` (until is exclusive); ``topics`` keeps articles that
        matched one of them; ``sources`` keeps articles from one of them, ``languages`` in one of them.
        Read in chunks of EXPORT_CHUNK ids, each its own read: one read held open for a whole export (streamed
        into a slow pipe for minutes) would keep the daemon's writes from being checkpointed, the -wal file growing
        meanwhile. The export holds the articles stored when it began (ids up to the largest then), each as it is
        when its chunk is read.
        """
        where: list[str] = []
        params: list[Any] = []
        if since is not None:
            where.append("a.fetched >= ?")
            params.append(iso(since))
        if until is not None:
            where.append("a.fetched < ?")
            params.append(iso(until))
        if matched:
            where.append("EXISTS (SELECT 1 FROM matches m WHERE m.article_id = a.id)")
        if topics:
            marks = ",".join("?" * len(topics))
            where.append(f"EXISTS (SELECT 1 FROM matches m WHERE m.article_id = a.id AND m.topic IN ({marks}))")
            params.extend(topics)
        # the sources and languages as search filters them (export's dates bound fetched, not published)
        kept, kept_params = _article_filters(sources, languages, None)
        where += kept
        params += kept_params
        sql = (
            "SELECT a.*, (SELECT json_group_array(topic) FROM (SELECT topic FROM matches m"
            " WHERE m.article_id = a.id ORDER BY topic)) AS topic_list FROM articles a"
        )
        last = self.conn.execute("SELECT max(id) FROM articles").fetchone()[0]
        if last is None:
            return
        sql += " WHERE " + " AND ".join(["a.id > ? AND a.id <= ?", *where]) + f" ORDER BY a.id LIMIT {EXPORT_CHUNK}"
        after = 0
        while after < last:
            cur = self.conn.execute(sql, [after, last, *params])
            cols = [d[0] for d in cur.description]
            rows = cur.fetchall()  # the read ends here, before the rows are handed on
            if not rows:
                return
            for row in rows:
                yield dict(zip(cols, row))
            after = rows[-1][cols.index("id")]

    def fts_candidates(
        self,
        expression: str | None,
        limit: int | None = None,
        *,
        sources: Sequence[str] = (),
        languages: Sequence[str] = (),
        since: datetime | None = None,
    ) -> Iterator[int]:
        """Article ids the FTS index selects, likeliest first (all ids, newest first, when expression is None).

        ``sources``, ``languages`` and ``since`` (published, else fetched, at or after it) narrow the ids before
        ``limit`` cuts them, so a filter keeps its articles however many others the index ranks higher.
        """
        where, params = _article_filters(sources, languages, since)
        if expression is not None:
            where.insert(0, "_articles_fts MATCH ?")
            params.insert(0, expression)
        if expression is None:
            sql = "SELECT a.id FROM articles a"
            order = " ORDER BY a.id DESC"
        else:
            # bm25 (title weighted) picks the likeliest candidates; the caller re-scores them exactly
            sql = "SELECT _articles_fts.rowid FROM _articles_fts" + (
                " JOIN articles a ON a.id = _articles_fts.rowid" if len(where) > 1 else ""
            )
            order = " ORDER BY bm25(_articles_fts, 3.0, 1.0)"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += order
        if limit:
            sql += f" LIMIT {int(limit)}"
        try:
            for (aid,) in self.conn.execute(sql, params):
                yield aid
        except sqlite3.OperationalError as exc:
            raise StoreError(f"the search index rejected the query: {exc}") from None

    def count_articles(
        self, *, sources: Sequence[str] = (), languages: Sequence[str] = (), since: datetime | None = None
    ) -> int:
        """Stored articles that ``fts_candidates``' filters keep."""
        where, params = _article_filters(sources, languages, since)
        sql = "SELECT count(*) FROM articles a" + (" WHERE " + " AND ".join(where) if where else "")
        return int(self.scalar(sql, params))

    def story_copies(
        self, *, sources: Sequence[str] = (), languages: Sequence[str] = (), since: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Every article ``fts_candidates``' filters keep, in id order, without its text: id, story, url,
        canonical_url, text_from and ``at`` (published, else fetched)."""
        where, params = _article_filters(sources, languages, since)
        sql = (
            "SELECT id, story, url, canonical_url, text_from, coalesce(nullif(published, ''), fetched) AS at "
            "FROM articles a" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
        )
        return self.query(sql, params)

    def languages(self) -> list[str]:
        """The languages of stored articles, as their codes."""
        return [r[0] for r in self.conn.execute("SELECT DISTINCT language FROM articles WHERE language IS NOT NULL")]

    def delete_articles(self, ids: Sequence[int]) -> int:
        with self.transaction() as c:
            index = dedup.StoryIndex(c)
            for aid in ids:
                index.remove(aid)
                c.execute("DELETE FROM _articles_fts WHERE rowid = ?", [aid])
                _browse_delete(c, aid)
                c.execute("DELETE FROM matches WHERE article_id = ?", [aid])
                c.execute("DELETE FROM _near_misses WHERE article_id = ?", [aid])
                c.execute(f"DELETE FROM {REMATCH} WHERE article_id = ?", [aid])
                c.execute("DELETE FROM _aliases WHERE article_id = ?", [aid])
                c.execute("UPDATE _entries SET article_id = NULL WHERE article_id = ?", [aid])
                c.execute("DELETE FROM articles WHERE id = ?", [aid])
        return len(ids)


def _article_filters(
    sources: Sequence[str], languages: Sequence[str], since: datetime | None
) -> tuple[list[str], list[Any]]:
    """SQL conditions on ``articles a`` for search's filters (and export's sources and languages), and their
    parameters."""
    where: list[str] = []
    params: list[Any] = []
    if sources:
        where.append(f"a.source IN ({','.join('?' * len(sources))})")
        params.extend(sources)
    if languages:
        where.append(f"coalesce(a.language, '') IN ({','.join('?' * len(languages))})")
        params.extend(languages)
    if since is not None:
        where.append("coalesce(nullif(a.published, ''), a.fetched) >= ?")  # both stored as iso() writes them
        params.append(iso(since))
    return where, params
