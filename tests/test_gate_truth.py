"""A model topic's gate asked for its truth alone (``Query.holds``): it stops at the first name of each side, and
says what matching the whole query says, on every text; a country entity checks a name's place only when the
longest-name sweep reaches it, and finds what checking every place first finds; asked part by part of a long text,
it finds the names of the whole text, in the same order."""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Iterator
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from crawler import topics
from crawler.config import load_config
from crawler.process import _query
from crawler.topics import FIELDS, Document, prepare

ROOT = Path(__file__).resolve().parent.parent


@functools.cache
def _gate() -> topics.Query:
    topic = load_config(ROOT / "config" / "newswatch.toml").topics[0]
    assert topic.model is not None
    return _query(topic)


def _nodes(query: topics.Query) -> list[topics._Node]:
    """The query's nodes that know a shorter way to their truth, outermost first."""
    kinds = (topics._And, topics._Or, topics._Not, topics._Except, topics._Entity)
    return [n for n in topics._walk(query._root) if isinstance(n, kinds)]


def _plain_places(entity: topics._Entity, doc: Document) -> list[topics._Occ]:
    """A country entity's occurrences found the plain way: every place of every name checked, then the longest
    name wins where names overlap (what ``_Entity.places`` did before it checked places as the sweep reaches
    them)."""
    g = topics._gazetteer(entity.code)
    out: list[topics._Occ] = []
    for name in FIELDS:
        f = doc.fields[name]
        found: list[tuple[int, int, int]] = []
        excluded: list[set[int]] = []
        for k in g.index.candidates(f):
            items = g.patterns[k][1]
            for p in topics._find(f, items):
                e = p + len(items) - 1
                if entity._fits(doc, g, f, k, p, e, excluded):
                    found.append((p, -e, k))
        family_labels = topics._families(g, f, found, lead_only=False)
        found.sort()
        last_end = -1
        for p, neg_e, k in found:
            e = -neg_e
            if e <= last_end:
                continue
            label = g.patterns[k][0] if k >= 0 else family_labels[-k - 1]
            if k in g.places:
                if topics._HAN_RE.match(label) and topics._in_person_name(f, p, e):
                    continue
                named = topics._place_institution(f, p, e, g.name)
                if named is not None:
                    if topics._another_country_s(f, named[0], named[1], entity.code):
                        continue
                    p, e, label = named
            last_end = e
            out.append((name, p, e, ((label, name, p, e),)))
    return out


@contextlib.contextmanager
def _parts(ends: tuple[int, ...]) -> Iterator[None]:
    """Fields read part by part at these words (``topics._PARTS``), so that short texts have parts too."""
    kept = topics._PARTS
    topics._PARTS = ends
    try:
        yield
    finally:
        topics._PARTS = kept


def _same_everywhere(query: topics.Query, title: str, text: str) -> None:
    """Each node's truth asked alone (on a fresh document) is its full evaluation's, and the whole query's after
    it is what it is on a document nothing was asked of; the entities find what the plain way finds."""
    plain = prepare(title, text)
    truths = {n.key: n.eval(plain)[0] for n in _nodes(query)}
    for node in _nodes(query):
        doc = prepare(title, text)
        assert node.holds(doc) is truths[node.key], (node.key[:80], title, text[:200])
        # nothing half-found is kept for the document: what it keeps is what the full evaluation finds
        for key, kept in doc.memo.items():
            if key in plain.memo:
                assert kept == plain.memo[key], key[:80]
    assert query.holds(prepare(title, text)) is query._root.eval(plain)[0]
    for node in _nodes(query):
        if isinstance(node, topics._Entity) and not node.kind and not node.scope:
            assert node.eval(plain)[1] == _plain_places(node, prepare(title, text)), node.key
            assert list(node.places(prepare(title, text), in_parts=True)) == node.eval(plain)[1], node.key


def test_the_gate_stops_at_the_first_name_of_each_side(monkeypatch) -> None:
    gate = _gate()
    names = ["Russia", "China", "Moscow", "Beijing", "Russian", "Chinese", "Novosibirsk", "Shanghai"]
    text = "China and Russia signed an agreement. " + " ".join(f"{names[i % 8]} said so." for i in range(200))
    gate.holds(prepare("", "China and Russia"))  # what a first article loads
    checked: list[int] = []
    real = topics._sea_name  # checked for every place of a country's own name that the sweep reaches
    monkeypatch.setattr(topics, "_sea_name", lambda f, first, last: checked.append(first) or real(f, first, last))
    doc = prepare("", text)
    assert gate.holds(doc)
    assert len(checked) <= 4  # China, Russia (and the press's places need no check), not the 100 names after them
    assert not any(key.endswith(("country:CN", "country:RU")) for key in doc.memo)  # nothing half-found kept
    checked.clear()
    assert gate.match_prepared(doc) is not None  # the whole query, asked afterwards, finds every name
    assert len(checked) > 100
    monkeypatch.undo()
    assert _plain_places(topics._Entity("RU"), doc) == doc.memo[":country:RU"][1]


def test_a_side_named_only_as_the_press_is_not_named_however_the_gate_is_asked() -> None:
    gate = _gate()
    for title, text in [
        ("", "Russian media reported that China opened a laboratory."),
        ("", "China opened a laboratory, Russian media reported. Russia's academy joined it."),
        ("", "俄媒报道，中国科学院成立了新的实验室。"),
        ("", "По данным российских СМИ, Китай открыл лабораторию."),
        ("Китай открыл лабораторию", "Об этом сообщили российские СМИ."),
    ]:
        _same_everywhere(gate, title, text)


def test_the_gate_alone_says_what_the_whole_query_says_on_every_labeled_story() -> None:
    gate = _gate()
    entities = [n for n in _nodes(gate) if isinstance(n, topics._Entity)]
    assert {n.key for n in entities} == {":country:CN", ":country:RU"}
    for path in sorted((ROOT / "fixtures" / "topics").glob("**/*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            title, text = row.get("title", ""), row.get("text", "")
            doc, alone = prepare(title, text), prepare(title, text)
            with _parts((8, 32, 128)):  # the labeled stories are short: parts of a few words
                assert gate.holds(alone) is gate._root.eval(doc)[0], (path.name, row.get("id"))
                for node in entities:
                    places = node.eval(doc)[1]
                    assert places == _plain_places(node, doc), (path.name, row.get("id"), node.key)
                    # (nothing the gate kept for ``alone`` is a country's places: it found them afresh, in parts)
                    assert list(node.places(alone, in_parts=True)) == places, (path.name, row.get("id"), node.key)


_PIECES = [
    "China", "Russia", "Chinese", "Russian", "Moscow", "Beijing", "Novosibirsk", "Vladimir", "Vladimir Putin",
    "Kirov said", "Sea of Japan", "Japan", "Russian Academy of Sciences", "Chinese Academy of Sciences",
    "Tomsk Polytechnic University", "University of Moscow", "Russian media", "Chinese state media", "HEU",
    "Harbin Engineering University", "Kazakhstan", "Российская академия наук", "российские СМИ", "Китай", "Китая",
    "России", "Японское море", "Минобрнауки Казахстана", "ТомГУ", "Томский университет", "Сергей Королёв",
    "Королёв", "俄罗斯", "中国", "俄媒", "中国科学院", "哈尔滨工业大学", "弗拉基米尔·泽连斯基", "白俄罗斯", "我国",
    "отечественные учёные", "и", "and", "the", "scientists", "signed", "of", ", ", ". ", "\n", " ", "。", "，",
]  # fmt: skip


@given(
    st.lists(st.sampled_from(_PIECES), max_size=8).map(" ".join),
    st.lists(st.sampled_from(_PIECES), max_size=40).map(" ".join),
)
def test_the_gate_alone_says_what_the_whole_query_says(title: str, text: str) -> None:
    _same_everywhere(_gate(), title, text)
    with _parts((1, 2, 3, 5, 8, 13)):
        _same_everywhere(_gate(), title, text)


def test_a_gate_that_stops_early_has_found_the_names_of_a_long_texts_first_part_only(monkeypatch) -> None:
    gate = _gate()
    gate.holds(prepare("", "China and Russia"))  # what a first article loads
    found: list[int] = []
    real = topics._find
    monkeypatch.setattr(topics, "_find", lambda f, items, *part: found.append(len(r := real(f, items, *part))) or r)
    doc = prepare("", "China and Russia signed an agreement. " + "Moscow and Beijing are large cities. " * 2000)
    assert gate.holds(doc)
    assert 2 <= sum(found) < 300  # China, Russia and the cities of the first 256 words, not the 4,000 after them
    found.clear()
    assert gate.match_prepared(doc) is not None
    assert sum(found) > 4000
