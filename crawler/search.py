"""`newswatch search`: the topic query language over stored articles, best first."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crawler.config import Config
from crawler.errors import StoreError
from crawler.longlived import matching_batch, settle
from crawler.model import Scorer, gated_match
from crawler.store import Store, parse_iso
from crawler.topics import Query, compile_query, prepare, snippet

# Scoring is exact but costs a few ms an article: the index hands over its likeliest candidates,
# enough for the limit many times over.
MIN_CANDIDATES, CANDIDATES_PER_RESULT = 500, 25
DEFAULT_TIMEOUT = 60.0  # seconds a search may take before it stops with what it found


@dataclass(frozen=True)
class SearchResult:
    id: int
    score: float
    title: str
    url: str
    canonical_url: str | None
    source: str
    language: str | None
    published: str | None
    fetched: str | None
    story: str
    hits: tuple[str, ...]
    snippet: tuple[tuple[str, bool], ...]

    @property
    def link(self) -> str:
        """The article's link as the digest gives it: its canonical URL (no feed's tracking), else its URL."""
        return self.canonical_url or self.url

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "score": round(self.score, 3),
            "title": self.title,
            "url": self.url,
            "canonical_url": self.canonical_url,
            "source": self.source,
            "language": self.language,
            "published": self.published,
            "fetched": self.fetched,
            "story": self.story,
            "hits": list(self.hits),
            "snippet": "".join(f"**{s}**" if hit else s for s, hit in self.snippet),
        }


@dataclass
class SearchStats:
    """How a search went: the index's candidates (None when the limit stopped it before it had them), how many
    were scored, whether the time limit stopped it early, and how many stories matched before the results were cut
    to the limit (``capped``: the index had more candidates than it handed over, so more may match)."""

    scored: int = 0
    timed_out: bool = False
    candidates: int | None = None
    found: int = 0
    capped: bool = False


RING_AGAIN = 0.05  # seconds between the time limit's alarms once it is over


class _OutOfTime(Exception):
    """The search's time limit, raised by SIGALRM inside an article's matching."""


# a limit further off than this has no alarm (the check between articles still holds): setitimer refuses what
# time_t cannot hold (--timeout 1e12, inf: "no limit") and NaN, where a search never runs for this long anyway
_LONGEST_ALARM = 30 * 86400.0


class _Held:
    """While ``held``, the limit's alarm lets its ring pass: an article's count and its result are recorded together
    (the next ring, 50 ms on, or the check between articles stops the work)."""

    held = False


@contextmanager
def _limit(deadline: float) -> Iterator[_Held]:
    """Raises _OutOfTime at ``deadline`` wherever the work is, one huge article's matching too, where a check between
    articles would wait for it to end (seconds to minutes for megabytes of text). Only in the main thread and while
    nothing else uses SIGALRM; otherwise the check between articles alone holds."""
    hold = _Held()
    left = deadline - time.monotonic()
    if (
        not left < _LONGEST_ALARM  # NaN too
        or threading.current_thread() is not threading.main_thread()
        or not hasattr(signal, "setitimer")
        or signal.getsignal(signal.SIGALRM) not in (signal.SIG_DFL, None, _rung)
        or signal.getitimer(signal.ITIMER_REAL)[0]
    ):
        yield hold
        return

    def ring(signum: int, frame: object) -> None:
        if not hold.held:
            raise _OutOfTime

    signal.signal(signal.SIGALRM, ring)
    try:
        # and again every 50 ms after: raised where Python swallows it (a garbage-collector callback, a __del__:
        # 'Exception ignored in ...'), one alarm was lost and the search ran to its end, however long
        signal.setitimer(signal.ITIMER_REAL, max(left, 0.001), RING_AGAIN)
        yield hold
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        # not SIG_DFL again: an alarm that rang just as the work ended is handled after this line, harmlessly
        signal.signal(signal.SIGALRM, _rung)


def _rung(signum: int, frame: object) -> None:
    """SIGALRM's handler once a search's limit is over: an alarm that came too late is ignored."""


def search_articles(
    config: Config,
    query: str,
    limit: int = 20,
    *,
    sources: Sequence[str] = (),
    since: datetime | None = None,
    languages: Sequence[str] = (),
    min_score: float = 0.0,
    sets: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    stats: SearchStats | None = None,
    scorer: Scorer | None = None,
    below: float | None = None,
) -> list[SearchResult]:
    """Articles matching `query` at or above ``min_score``, highest score first (one per story).

    ``below``: only scores under it, of stories none of whose scored copies reaches it (a topic's near misses:
    ``min_score`` its near_score, ``below`` its min_score).

    ``sources``/``languages`` keep articles from those; ``since`` keeps articles published
    (else fetched) at or after it. ``sets`` are the named sets the query may use as @name
    (default: the config's). The search stops after ``timeout`` seconds with what it found
    (``stats.timed_out``). With a model topic's ``scorer`` the query is its gate and the model scores.
    """
    q = compile_query(query, dict(config.sets) if sets is None else sets)
    stats = stats if stats is not None else SearchStats()
    if not config.storage.database.exists():
        return []
    settle(q, scorer)
    deadline = time.monotonic() + timeout
    with Store(config.storage.database, readonly=True) as store, matching_batch():
        # the index query itself stops at the deadline too (SQLite calls this every N steps)
        store.conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 20_000)
        best: dict[str, SearchResult] = {}
        matched: set[str] = set()  # stories a copy of which reaches ``below``: matches, no near miss
        try:
            most = max(MIN_CANDIDATES, limit * CANDIDATES_PER_RESULT)
            candidates = list(
                store.fts_candidates(
                    _prefilter(q, scorer, min_score),
                    most,
                    sources=sources,
                    languages=languages,
                    since=since,
                )
            )
        except StoreError as exc:
            if time.monotonic() <= deadline:
                if "interrupted" in str(exc):
                    # Ctrl-C raised inside SQLite's progress callback, which turns it into an abort
                    raise KeyboardInterrupt from None
                raise
            candidates = []
            stats.timed_out = True
        store.conn.set_progress_handler(None, 0)
        if not stats.timed_out:
            stats.candidates = len(candidates)
            stats.capped = len(candidates) >= most
        try:
            with _limit(deadline) as hold:
                for aid in candidates:
                    if time.monotonic() > deadline:
                        stats.timed_out = True
                        break
                    scored, r = _scored(store, aid, q, scorer, min_score, (sources, since, languages))
                    # counted only with its result, snippet and all: the limit inside either leaves both out,
                    # and the warning's "scored N" is what the results were taken from
                    hold.held = True
                    stats.scored += scored
                    if r is not None and below is not None and r.score >= below:
                        matched.add(r.story)
                        r = None
                    prev = best.get(r.story) if r is not None else None
                    if r is not None and (prev is None or r.score > prev.score):
                        best[r.story] = r
                    hold.held = False
        except _OutOfTime:  # inside an article: it is left out, as every one after it
            stats.timed_out = True
    ranked = sorted((r for r in best.values() if r.story not in matched), key=lambda r: (-r.score, -r.id))
    stats.found = len(ranked)
    return ranked[:limit]


def _scored(
    store: Store,
    aid: int,
    q: Query,
    scorer: Scorer | None,
    min_score: float,
    filters: tuple[Sequence[str], datetime | None, Sequence[str]],
) -> tuple[int, SearchResult | None]:
    """One candidate matched and scored: whether it was scored (1, else 0: filtered out) and its result, None when
    it is filtered out or scores too low."""
    row = store.article(aid)
    # the index applied the filters already; checked again on the row, whose dates are parsed exactly
    if row is None or not _wanted(row, *filters):
        return 0, None
    # a model's sentence encoder is not given a story that cannot reach min_score whatever it says (as in a crawl)
    m = gated_match(q, scorer, prepare(row["title"], row["text"]), row["language"], floor=min_score)
    if m is None or m.score < min_score:
        return 1, None
    return 1, SearchResult(
        id=aid,
        score=m.score,
        title=row["title"],
        url=row["url"],
        canonical_url=row["canonical_url"],
        source=row["source"],
        language=row["language"],
        published=row["published"],
        fetched=row["fetched"],
        story=str(row["story"]),
        hits=tuple(m.hits),
        snippet=tuple(snippet(row["text"], m) or [(row["text"][:240], False)]),
    )


@dataclass(frozen=True)
class Scope:
    """What a search ran on: the stored articles, those its filters kept, the languages stored and the newest
    article's date (published, else fetched)."""

    stored: int
    kept: int
    languages: tuple[str, ...]
    newest: str | None = None


def search_scope(
    config: Config,
    *,
    sources: Sequence[str] = (),
    since: datetime | None = None,
    languages: Sequence[str] = (),
) -> Scope:
    """The articles a search with these filters runs on (none when there is no database yet)."""
    if not config.storage.database.exists():
        return Scope(0, 0, ())
    with Store(config.storage.database, readonly=True) as store:
        kept = store.count_articles(sources=sources, languages=languages, since=since)
        newest = store.scalar("SELECT max(coalesce(nullif(published, ''), fetched)) FROM articles")
        return Scope(store.count("articles"), kept, tuple(sorted(store.languages())), newest)


def _prefilter(q: Query, scorer: Scorer | None, min_score: float) -> str | None:
    """The FTS expression that narrows the candidates: the query's, and a model topic's (its gate often
    has none: country entities have no FTS form), both required."""
    parts = [x for x in (q.fts(), scorer.fts(min_score) if scorer is not None else None) if x is not None]
    return " AND ".join(f"({x})" for x in parts) if parts else None


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
