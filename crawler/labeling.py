"""`topics label`: stored stories to label for a topic, in the order a label is worth most, and the labeled
file they go to, one line per answer, on disk as soon as it is given.

One copy per story (its first-seen copy with a page's text, else its first-seen copy), so five copies of
one wire story cost one answer. The default order puts first the stories the topic's query (a model
topic's gate) lets through, nearest to ``min_score`` first, on either side: those are the ones a label can
move, and the only ones ``topics train`` fits on; then the stories the query rejects, newest first.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from crawler.config import TopicConfig
from crawler.errors import UsageError
from crawler.evaluate import _FALSE, _TRUE
from crawler.jsonl import dumps_line, split_lines
from crawler.longlived import matching_batch, settle
from crawler.model import Scorer, gated_match
from crawler.store import Store
from crawler.topics import Query, prepare

ORDERS = ("boundary", "score", "newest", "random")
_CHUNK = 400  # ids or URLs per SQL IN (...)


@dataclass(frozen=True)
class Candidate:
    """A story to label: the copy shown, how many copies the filters kept, and the topic's score on it."""

    id: int
    story: str
    copies: int
    when: str  # published, else fetched: for --order newest
    score: float | None  # None: the query (a model topic's gate) does not hold

    def matched(self, min_score: float) -> bool:
        return self.score is not None and self.score >= min_score


# -- the labeled file ------------------------------------------------------------------------------


@dataclass
class LabeledFile:
    """What a labeled file holds already: its lines' URLs (an article labeled from a database) and topics."""

    path: Path
    lines: int = 0
    relevant: int = 0
    urls: set[str] = field(default_factory=set)
    topics: dict[str, int] = field(default_factory=dict)  # the "topic" each line was labeled for -> its first line
    ends_in_newline: bool = True


def read_labeled(path: Path, option: str = "-o") -> LabeledFile:
    """The labeled file at ``path`` (none yet: empty); UsageError naming the line (and ``option``, which gave
    the file) when it is no labeled file."""
    out = LabeledFile(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return out
    except IsADirectoryError:
        raise UsageError(f"{option} {path} is a folder; give a file name (labels.jsonl)") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"{option} {path} is not UTF-8 text, so not a labeled file; give another file") from None
    out.ends_in_newline = not text or text.endswith("\n")
    lines = split_lines(text)
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{option} {path} line {n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            last = n == len(lines) and not out.ends_in_newline
            hint = " (a line cut short: delete it and label that story again)" if last else ""
            raise UsageError(
                f'{where} is not JSON{hint}; give a labeled JSON Lines file (one story with its "label" a line)'
            ) from None
        if not isinstance(row, dict) or "label" not in row:
            what = 'an article without a "label" (an export?)' if isinstance(row, dict) else "not a story object"
            why = " (topics label appends to it: topics eval could not read it then)" if option == "-o" else ""
            raise UsageError(f"{where} is {what}, so the file is not a labeled file{why}; give a labeled file")
        label = row["label"]
        key = label.strip().lower() if isinstance(label, str) else label
        out.lines += 1
        if isinstance(key, bool | int | float | str):  # what topics eval reads; it names any other kind
            out.relevant += key in _TRUE or (isinstance(key, str) and key not in _FALSE and bool(key))
        for k in ("url", "canonical_url"):
            if isinstance(row.get(k), str):
                out.urls.add(row[k])
        if isinstance(row.get("topic"), str):
            out.topics.setdefault(row["topic"], n)
    return out


class Journal:
    """Labels appended to a file one line at a time, each on disk (fsynced) before the next question, so an
    interrupt loses no answer given; ``undo`` cuts the file back to before the last line this run wrote.

    An append, not a temporary file renamed: the file is the record of answers given so far."""

    def __init__(self, path: Path, ends_in_newline: bool = True) -> None:
        self.path = path
        new = not path.exists()
        self._f: IO[bytes] = open(path, "ab")  # noqa: SIM115  (held for the session, closed by close())
        self._offsets: list[int] = []
        if not ends_in_newline:  # a line typed by hand without its newline: ours must not join it
            self._write(b"\n")
        if new:
            _fsync_folder(path.parent)

    def append(self, record: dict[str, Any]) -> None:
        self._offsets.append(self._f.tell())
        self._write((dumps_line(record) + "\n").encode("utf-8"))

    def undo(self) -> bool:
        """Removes the last line this run appended; False when it appended none (or all are undone)."""
        if not self._offsets:
            return False
        self._f.truncate(self._offsets.pop())
        self._f.seek(0, os.SEEK_END)
        os.fsync(self._f.fileno())
        return True

    @property
    def written(self) -> int:
        return len(self._offsets)

    def close(self) -> None:
        self._f.close()

    def _write(self, data: bytes) -> None:
        self._f.seek(0, os.SEEK_END)
        self._f.write(data)
        self._f.flush()
        os.fsync(self._f.fileno())


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot sync a folder
    finally:
        os.close(fd)


def record(row: dict[str, Any], label: bool, topic: str) -> dict[str, Any]:
    """A labeled line: what `topics eval` and `topics train` read, and where the story came from."""
    return {
        "id": str(row["id"]),
        "language": row["language"],
        "title": row["title"],
        "text": row["text"],
        "label": label,
        "topic": topic,
        "url": row["url"],
        "canonical_url": row["canonical_url"],
        "source": row["source"],
        "published": row["published"],
        "story": str(row["story"]),
    }


# -- the stories to label --------------------------------------------------------------------------


@dataclass
class Selection:
    """The stories to label, in order, and what the filters and the file left out (for messages)."""

    stories: list[Candidate]
    stored: int  # articles in the database
    kept: int  # articles the filters kept
    kept_stories: int  # stories among those
    labeled: int  # of those stories, labeled in the file already
    other: int  # of the rest, left out by --matched / --unmatched


def select(
    store: Store,
    topic: TopicConfig,
    query: Query,
    scorer: Scorer | None,
    labeled: LabeledFile,
    *,
    sources: Sequence[str] = (),
    languages: Sequence[str] = (),
    since: datetime | None = None,
    which: str = "all",
    order: str = "boundary",
    progress: Callable[[int], None] | None = None,
) -> Selection:
    """One copy of each stored story the filters keep and the file has not labeled, scored by ``topic`` and
    ordered (``ORDERS``); ``progress`` hears how many stories are about to be scored."""
    stored = store.count("articles")
    by_story: dict[str, list[dict[str, Any]]] = {}
    kept = 0
    for row in store.story_copies(sources=sources, languages=languages, since=since):
        kept += 1
        by_story.setdefault(str(row["story"]), []).append(row)
    done = _labeled_stories(store, labeled.urls)
    todo = {s: rows for s, rows in by_story.items() if s not in done}
    if progress is not None and todo:
        progress(len(todo))
    scored = _score(store, query, scorer, [(s, _copy(rows), len(rows)) for s, rows in todo.items()])
    if which == "matched":
        chosen = [c for c in scored if c.matched(topic.min_score)]
    elif which == "unmatched":
        chosen = [c for c in scored if not c.matched(topic.min_score)]
    else:
        chosen = scored
    return Selection(
        _ordered(chosen, order, topic),
        stored,
        kept,
        len(by_story),
        len(by_story) - len(todo),
        len(scored) - len(chosen),
    )


def _copy(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The copy of a story to show: its first-seen copy with a page's text, else its first-seen copy."""
    return next((r for r in rows if r["text_from"] == "page"), rows[0])


def _labeled_stories(store: Store, urls: Iterable[str]) -> set[str]:
    """The stories one of whose copies (at its URL or canonical URL) the file has labeled: any copy's label is
    the story's, also when the copy was kept by other filters or the stories merged since."""
    urls = list(urls)
    out: set[str] = set()
    for i in range(0, len(urls), _CHUNK):
        part = urls[i : i + _CHUNK]
        marks = ",".join("?" * len(part))
        rows = store.query(
            f"SELECT DISTINCT story FROM articles WHERE canonical_url IN ({marks}) OR url IN ({marks})", [*part, *part]
        )
        out.update(str(r["story"]) for r in rows)
    return out


def _score(
    store: Store, q: Query, scorer: Scorer | None, todo: list[tuple[str, dict[str, Any], int]]
) -> list[Candidate]:
    """Each story's copy scored as the product scores it (the gate, then the model), below min_score too."""
    settle(q, scorer)
    out: list[Candidate] = []
    with matching_batch():
        for i in range(0, len(todo), _CHUNK):
            part = todo[i : i + _CHUNK]
            marks = ",".join("?" * len(part))
            rows = {
                r["id"]: r
                for r in store.query(
                    f"SELECT id, title, text, language FROM articles WHERE id IN ({marks})",
                    [c["id"] for _s, c, _n in part],
                )
            }
            for story, copy, copies in part:
                row = rows.get(copy["id"])
                if row is None:  # deleted (prune) since the first query
                    continue
                m = gated_match(q, scorer, prepare(row["title"], row["text"]), row["language"], spans=False)
                out.append(Candidate(copy["id"], story, copies, copy["at"] or "", None if m is None else m.score))
    return out


def _ordered(stories: list[Candidate], order: str, topic: TopicConfig) -> list[Candidate]:
    newest = sorted(stories, key=lambda c: (c.when, c.id), reverse=True)  # the tie-break of every order
    if order == "newest":
        return newest
    if order == "score":
        return sorted(newest, key=lambda c: (c.score is None, -(c.score or 0.0)))
    if order == "random":
        # a fixed shuffle (by story and topic), so that a run resumed goes on with the same sample
        return sorted(newest, key=lambda c: hashlib.sha256(f"{topic.name}\n{c.story}".encode()).digest())
    if order != "boundary":
        raise ValueError(f"unknown order {order!r}; one of {', '.join(ORDERS)}")
    ms = topic.min_score
    return sorted(newest, key=lambda c: (c.score is None, abs(c.score - ms) if c.score is not None else 0.0))
