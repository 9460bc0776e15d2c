"""The archive as datasette shows it: a metadata document describing the user's tables and columns,
hiding newswatch's internal ones, and naming the full-text index datasette's search box uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crawler.store import BROWSE_FTS, INTERNAL_ADDED, INTERNAL_RENAMES

# every internal table's name starts with "_" (datasette 1.x hides those by itself; the metadata hides them
# for 0.x too): sqlite-utils' migration log and newswatch's bookkeeping
INTERNAL_TABLES = ("_sqlite_migrations", *(new for _old, new in INTERNAL_RENAMES), *INTERNAL_ADDED)

TABLES: dict[str, dict[str, Any]] = {
    "articles": {
        "description": "One row per stored article. Search box: the headline and text (Russian, Chinese and "
        "English words; Chinese up to 4 characters at a time, so type 中俄 科技 rather than 中俄科技).",
        "columns": {
            "id": "Article id (the same as in `newswatch export`)",
            "url": "The URL it was fetched from",
            "canonical_url": "The page's canonical URL (rel=canonical, else the URL without tracking parameters)",
            "source": "The source (config name) it came from; for `crawl --url` pages, the host",
            "title": "Headline",
            "text": "The article's text as extracted",
            "text_from": "'page' (extracted from the page) or 'feed' (the feed's summary; the page failed)",
            "author": "Author, when the page names one",
            "site_name": "The outlet's name, when the page gives one",
            "published": "Publication time from the page, else the feed (ISO 8601 with UTC offset)",
            "language": "ISO 639-1 code: en, ru, zh",
            "content_hash": "Hash of the normalized text (exact-copy detection)",
            "story": "The story this article belongs to (copies of one story share it)",
            "fetched": "When newswatch fetched it (ISO 8601, UTC)",
            "first_seen": "When newswatch first stored it",
            "backlog": "1 when found on its source's first poll, or its first read with new settings (no immediate alert)",
            "page_pending": "1 while a failed page is retried on later polls",
        },
        "fts_table": BROWSE_FTS,
        "fts_pk": "id",
        "sort_desc": "fetched",
        "label_column": "title",
    },
    "stories": {
        "description": "One row per story: a cluster of articles that are copies of one another.",
        "columns": {
            "id": "Story id (articles.story)",
            "article_id": "The first-seen article: the story's face in digests",
            "first_seen": "When the story was first seen",
            "merged_into": "Set when this story was merged into an older one",
        },
        "sort_desc": "first_seen",
    },
    "sources": {
        "description": "Each source's health, as `newswatch sources` shows it.",
        "columns": {
            "name": "Source name from the config",
            "configured_url": "The config's URL when a redirect was stored",
            "current_url": "The URL polled now (after permanent redirects)",
            "etag": "ETag for conditional GET",
            "last_modified": "Last-Modified for conditional GET",
            "last_attempt": "Last poll",
            "last_success": "Last poll that worked",
            "last_error": "The last error",
            "last_error_at": "When it happened",
            "failures": "Failed polls in a row (backoff grows with it)",
            "failing_since": "First failure of the current run of failures",
            "next_poll": "When the source is due next",
            "retry_after": "The server asked to wait until then",
            "active": "0 when deactivated (HTTP 410); `newswatch sources --reset NAME` re-enables",
            "inactive_reason": "Why it was deactivated",
            "polls": "Successful polls so far (from 0 again once a week gone from the config)",
        },
    },
    "matches": {
        "description": "Which articles matched which topic, with the score and the query terms that hit.",
        "columns": {
            "article_id": "The article",
            "topic": "Topic name from the config",
            "score": "Match score (at least the topic's min_score)",
            "hits": "JSON list of the query terms that hit",
            "matched_at": "When it was matched",
        },
        "sort_desc": "score",
    },
    "crawl_runs": {
        "description": "One row per crawl (CLI, daemon or demo) with per-source counts in summary.",
        "sort_desc": "started",
    },
    "delivery_messages": {
        "description": "Each digest or alert message, its Message-ID and whether the server accepted it.",
        "sort_desc": "created",
    },
    "delivery_items": {"description": "Which stories went to whom in which message."},
    "source_freshness": {
        "description": "What each source's last document held, for the `stale` health state.",
        "columns": {
            "name": "Source name from the config",
            "entry_dates": "The newest entry dates seen (JSON, newest first)",
            "links": "Entries in the last document read (a listing: links its follow pattern took)",
            "checked": "When a document was last read",
            "crawl_delay": "robots.txt Crawl-delay of the source's host, in seconds",
        },
    },
}


def datasette_metadata(database: Path) -> dict[str, Any]:
    """Metadata for `datasette DATABASE --metadata FILE` (datasette names the database after the file)."""
    tables: dict[str, dict[str, Any]] = {name: dict(meta) for name, meta in TABLES.items()}
    for name in INTERNAL_TABLES:
        tables[name] = {"hidden": True, "description": "newswatch internal"}
    return {
        "title": "newswatch archive",
        "description": "Articles newswatch collected, the stories they form, the topics they matched and "
        "what was sent. Internal tables are hidden; see newswatch's README, 'Browsing the database'.",
        "databases": {Path(database).stem: {"tables": tables}},
    }
