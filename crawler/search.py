"""`newswatch search`: the topic query language over stored articles, best first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crawler.config import Config
from crawler.store import Store, parse_iso
from crawler.topics import compile_query, snippet

# Scoring is exact but costs a few ms an article: the index hands over its likeliest candidates,
# enough for the limit many times over.
MIN_CANDIDATES, CANDIDATES_PER_RESULT = 500, 25


@dataclass(frozen=True)
class SearchResult:
    id: int
    score: float
    title: str
    url: str
    source: str
    language: str | None
    published: str | None
    fetched: str | None
    story: str
    hits: tuple[str, ...]
    snippet: tuple[tuple[str, bool], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "score": round(self.score, 3),
            "title": self.title,
            "url": self.url,
            "source": self.source,
            "language": self.language,
            "published": self.published,
            "fetched": self.fetched,
            "story": self.story,
            "hits": list(self.hits),
            "snippet": "".join(f"**{s}**" if hit else s for s, hit in self.snippet),
        }


def search_articles(
    config: Config,
    query: str,
    limit: int = 20,
    *,
    sources: Sequence[str] = (),
    since: datetime | None = None,
    languages: Sequence[str] = (),
) -> list[SearchResult]:
    """Articles matching `query`, highest score first (one per story: the best-scoring copy).

    ``sources``/``languages`` keep articles from those; ``since`` keeps articles published
    (else fetched) at or after it.
    """
    q = compile_query(query)
    if not config.storage.database.exists():
        return []
    with Store(config.storage.database, readonly=True) as store:
        best: dict[str, SearchResult] = {}
        for aid in store.fts_candidates(q.fts(), max(MIN_CANDIDATES, limit * CANDIDATES_PER_RESULT)):
            row = store.article(aid)
            if row is None or not _wanted(row, sources, since, languages):
                continue
            m = q.match(row["title"], row["text"])
            if m is None:
                continue
            r = SearchResult(
                id=aid,
                score=m.score,
                title=row["title"],
                url=row["url"],
                source=row["source"],
                language=row["language"],
                published=row["published"],
                fetched=row["fetched"],
                story=str(row["story"]),
                hits=tuple(m.hits),
                snippet=tuple(snippet(row["text"], m) or [(row["text"][:240], False)]),
            )
            prev = best.get(r.story)
            if prev is None or r.score > prev.score:
                best[r.story] = r
    return sorted(best.values(), key=lambda r: (-r.score, -r.id))[:limit]


def _wanted(row: dict[str, Any], sources: Sequence[str], since: datetime | None, languages: Sequence[str]) -> bool:
    if sources and row["source"] not in sources:
        return False
    if languages and (row["language"] or "") not in languages:
        return False
    if since is not None:
        when = parse_iso(row["published"] or row["fetched"])
        if when is None or when < since:
            return False
    return True
