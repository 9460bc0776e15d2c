"""What the page processing hands the store: a module of its own, so a process that only extracts
(the extraction pool's forkserver and workers) never loads the store and sqlite-utils for it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ArticleRecord:
    """What the pipeline hands the store for one fetched (or feed-only) article."""

    url: str
    canonical_url: str
    source: str
    title: str
    text: str
    text_from: str
    published: datetime | None
    language: str | None
    fetched: datetime
    author: str | None = None
    site_name: str | None = None
    aliases: tuple[str, ...] = ()
    content_hash: str | None = None
    signature: bytes | None = None
    index_title: str = ""
    index_text: str = ""
    backlog: bool = False
    page_pending: bool = False
