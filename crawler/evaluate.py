"""Measuring a topic on a labeled file: precision and recall per language, and each error explained.

A labeled file is JSON Lines, one story a line: ``{"id", "language", "title", "text", "label"}``
where ``label`` is true for a story the topic should match (``1``/``0`` and ``"yes"``/``"no"`` work
too). ``language`` may be left out: it is then detected from the text; a tag (``zh-CN``, ``rus``) is read as its code. A story's title and text are
cleaned as the product cleans a page's (pinyin readings inside Chinese words removed), so a measurement
scores what the product would match.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from crawler import textnorm
from crawler.errors import UsageError
from crawler.jsonl import split_lines
from crawler.readings import strip_readings
from crawler.topics import TITLE, Document, Query, compile_query, prepare, shown_hits, snippet
from crawler.wording import noun

if TYPE_CHECKING:
    from crawler.model import Scorer

_TRUE = {True, "1", "true", "yes", "relevant", "pos", "positive"}
_FALSE = {False, "0", "false", "no", "irrelevant", "neg", "negative"}


@dataclass(frozen=True)
class Story:
    id: str
    language: str
    title: str
    text: str
    label: bool


@dataclass(frozen=True)
class Verdict:
    story: Story
    score: float | None  # None: the query's boolean part did not hold
    hits: tuple[str, ...]
    snippet: str
    predicted: bool
    why_not: str | None = None  # for a story the query's boolean part rejects: which condition, and through what
    explain: str | None = None  # a model topic's largest contributions to its score
    gate: str | None = None  # a model topic's: what its query (the gate) recognised, held or not


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    # None where there is nothing to measure (no story matched; no relevant story), not a perfect 1.0
    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    def to_json(self) -> dict[str, float | int | None]:
        """The counts and figures as ``topics eval --json`` and a model file's training record write them."""
        p, r = self.precision, self.recall
        return {
            "precision": None if p is None else round(p, 4),
            "recall": None if r is None else round(r, 4),
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }

    def add(self, v: Verdict) -> None:
        self.count(v.predicted, v.story.label)

    def count(self, predicted: bool, label: bool) -> None:
        if predicted and label:
            self.tp += 1
        elif predicted:
            self.fp += 1
        elif label:
            self.fn += 1
        else:
            self.tn += 1


@dataclass
class Evaluation:
    by_language: dict[str, Counts] = field(default_factory=dict)
    total: Counts = field(default_factory=Counts)
    misses: list[Verdict] = field(default_factory=list)
    false_alarms: list[Verdict] = field(default_factory=list)


def _label(value: object, where: str, topic: str | None = None) -> bool:
    key = value.strip().lower() if isinstance(value, str) else value
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    if topic is not None and isinstance(value, str) and value.strip():
        return value.strip() == topic  # a file labeled with topic names: relevant to the one it names
    found = repr(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=False)  # null, not None
    raise UsageError(f"{where}: 'label' must be true or false (or a topic's name), found {found}")


def load_labeled(path: Path, topic: str | None = None, warn: Callable[[str], None] | None = None) -> list[Story]:
    """Stories of a labeled JSONL file; UsageError naming the line when one is malformed.

    With ``topic``, a label may also be a topic's name: the story is relevant to that topic only. A UTF-8
    byte-order mark (as Windows editors write one) is read past. ``warn`` is told of a 'language' that is no
    language code ('cn'), once for all the lines giving it.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file; give a JSON Lines file of labeled stories") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read it ({exc.strerror})") from None
    data = data.removeprefix(b"\xef\xbb\xbf")  # as Windows editors save UTF-8
    try:
        lines = split_lines(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UsageError(f"{path} line {line}: not UTF-8 text; save the file as UTF-8") from None
    out: list[Story] = []
    no_code: dict[str, dict[str, list[int]]] = {}  # a 'language' that is no code -> the code its texts read as -> lines
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path} line {n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{where}: not JSON ({exc.msg}); each line holds one story object") from None
        if not isinstance(row, dict):
            raise UsageError(f"{where}: expected an object with title, text and label")
        if "label" not in row or not isinstance(row.get("title", ""), str) or not isinstance(row.get("text", ""), str):
            raise UsageError(f"{where}: each story needs 'title' and 'text' strings and a 'label'")
        title, text = strip_readings(row.get("title", "")), strip_readings(row.get("text", ""))
        if not title.strip() and not text.strip():  # nothing to match: it would count, under language '?'
            raise UsageError(f"{where}: the story's title and text are both empty; give it one, or remove the line")
        # a tag as another tool writes it ("ZH", "zh-CN", "rus") is the code newswatch stores: a row of its own in
        # the table and a story scored without its language's weight, else; no code at all ("Chinese", "cn") is
        # detected, and a two-letter one that is no language's ("cn" for zh) is said
        given = row.get("language")
        code = textnorm.language_code(given) if isinstance(given, str) else None
        detected = textnorm.detect_language(f"{title}\n{text}")
        if code is not None and code not in textnorm.ISO639_1:
            no_code.setdefault(str(given), {}).setdefault(detected or "?", []).append(n)
            code = None
        lang = code or detected or "?"
        ident = row.get("id")
        out.append(
            Story(str(n if ident is None else ident), str(lang), title, text, _label(row["label"], where, topic))
        )
    if not out:
        raise UsageError(f"{path}: holds no stories")
    for given, by_code in no_code.items():
        for code, numbers in by_code.items():
            lines_ = ", ".join(map(str, numbers[:5])) + (f" and {len(numbers) - 5} more" if len(numbers) > 5 else "")
            fix = (
                f"read as {code!r}, the language its text is in (write \"{code}\", or leave 'language' out)"
                if code != "?"
                else "its text tells none; write its ISO 639-1 code (en, ru, zh)"
            )
            if warn is not None:
                warn(f"{path} {noun(len(numbers), 'line')} {lines_}: 'language' {given!r} is no language code; {fix}")
    return out


def judge(query: Query, min_score: float, story: Story, scorer: Scorer | None = None) -> Verdict:
    """Match one story and say why; with a model topic's ``scorer``, the query is its gate."""
    doc = prepare(story.title, story.text)
    explain = None
    if scorer is None:
        m = query.match_prepared(doc)
    elif query.holds(doc):  # the gate, as the product asks it (crawler.model.gated_match): not its score
        scored = scorer.score(doc, story.language)
        m, explain = scored.match, scored.explain()
        assert m is not None
        from crawler.model import read_note

        part = read_note(doc, scorer.model.text_chars)  # a word past it is no reason: the model did not see it
        if part:
            explain = f"{explain} ({part})" if explain else part
    else:
        m = None
    gate = gate_found(doc, query) if scorer is not None else None
    if m is None:
        return Verdict(story, None, (), story.text[:200].replace("\n", " "), False, query.why_not(doc), gate=gate)
    segs = snippet(story.text, m, 240) or [(story.title, False)]
    text = "".join(f"[{s}]" if hit else s for s, hit in segs)
    return Verdict(story, m.score, m.hits, text, m.score >= min_score, explain=explain, gate=gate)


def gate_found(doc: Document, gate: Query, each: int = 4) -> str:
    """What a model topic's gate recognised in an article ('Китай → China, Росатом → Russia'), in reading
    order, at most ``each`` names per thing they resolve to (so one side's many names do not hide the
    other's); "-" when nothing. The model's hits are the features', not these: an analyst reading a miss
    sees here which sides were recognised."""
    hits = {h for o in gate.found(doc) for h in o[3]}
    shown: dict[str, None] = {}
    per: dict[str, int] = {}
    more = False
    for label, *_place in sorted(shown_hits(hits), key=lambda h: (h[1] != TITLE, h[2], h[0])):
        if label in shown:
            continue
        to = label.rpartition(" \u2192 ")[2]
        if per.get(to, 0) >= each:
            more = True
            continue
        per[to] = per.get(to, 0) + 1
        shown[label] = None
    return ", ".join(shown) + (", …" if more else "") if shown else "-"


def evaluate(
    query: str | Query, min_score: float, stories: Iterable[Story], scorer: Scorer | None = None
) -> Evaluation:
    """Precision/recall per language of one query (or a model topic's gate and ``scorer``) at ``min_score``,
    with every miss and false alarm."""
    q = compile_query(query) if isinstance(query, str) else query
    ev = Evaluation()
    for story in stories:
        v = judge(q, min_score, story, scorer)
        ev.by_language.setdefault(story.language, Counts()).add(v)
        ev.total.add(v)
        if story.label and not v.predicted:
            ev.misses.append(v)
        elif v.predicted and not story.label:
            ev.false_alarms.append(v)
    return ev
