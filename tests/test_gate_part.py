"""A model topic's gate decided on the part its model reads (``Query.holds(doc, part)``, ``Document.part``): the
title and the text's sentences that end within the model's first ``text_chars`` characters, tokenized as the whole
text is, every check of a name reading the whole text. Where the part settles the gate, the whole text is never
tokenized; wherever the cut falls, the gate says what it says on the whole article. Where it does not, the whole
text's field goes on from the part's tokens, sentence ends and index: the same field as the whole text's made
alone."""

from __future__ import annotations

import bisect
import functools
import json
import os
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler import textnorm, topics
from crawler.config import load_config
from crawler.evaluate import load_labeled
from crawler.model import gated_match
from crawler.process import _query, _scorer
from crawler.topics import TEXT, TITLE, prepare

ROOT = Path(__file__).resolve().parent.parent
_CORPUS = "corpora/article-extraction-benchmark/ground-truth.json"


@functools.cache
def _topic():
    topic = load_config(ROOT / "config" / "newswatch.toml").topics[0]
    assert topic.model is not None and topic.model.text_chars
    return topic


def _gate() -> topics.Query:
    return _query(_topic())


@functools.cache
def _stories() -> list[tuple[str, str]]:
    out = []
    for path in sorted((ROOT / "fixtures" / "topics").glob("**/*.jsonl")):
        out += [(s.title, s.text) for s in load_labeled(path)]
    return out


def _corpus_bodies() -> list[str]:
    """The extraction corpus's article bodies, where the corpus is (beside the project, as bench/README.md says)."""
    places = [os.environ.get("NEWSWATCH_BENCH_CORPUS", ""), *(str(p / "shared") for p in ROOT.parents[:2])]
    for place in places:
        path = Path(place).parent / _CORPUS if place.endswith("article-extraction-benchmark") else Path(place) / _CORPUS
        if place and path.is_file():
            return [v["articleBody"] for v in json.loads(path.read_text("utf-8")).values()]
    return []


def _same(title: str, text: str, chars: int, whole: bool | None = None) -> bool:
    """Asserts the gate asked with a part of ``chars`` says what it says on the whole article; whether the part
    settled it (the whole text not tokenized)."""
    gate = _gate()
    if whole is None:
        whole = gate._root.eval(prepare(title, text))[0]
    doc = prepare(title, text)
    assert gate.holds(doc, chars) is whole, (chars, title, text[max(0, chars - 300) : chars + 300])
    return not doc.made


def _cuts(text: str, rng: random.Random, n: int) -> set[int]:
    """Where to cut: random places, and right before, at and after sentence ends."""
    ends = topics._sentence_ends(text)
    out = {rng.randrange(1, len(text) + 2) for _ in range(n)}
    for at in rng.sample(ends, min(n, len(ends))):
        out |= {at - 1, at, at + 1, at + 2}
    return {c for c in out if c > 0}


def test_a_gate_settled_by_the_part_leaves_the_whole_text_untokenized() -> None:
    topic = _topic()
    scorer = _scorer(topic)
    text = "China and Russia signed an agreement on joint research. " + "The reactor was built in stages. " * 300
    doc, whole = prepare("Joint reactor", text), prepare("Joint reactor", text)
    m = gated_match(_gate(), scorer, doc, "en", floor=topic.min_score)
    assert not doc.made  # neither the whole text's tokens nor its indexes were made
    assert m == scorer.score(whole, "en").match and _gate().holds(whole)
    # one side named only past the part: the whole text decides, its field going on from the part's
    late = "China and Beijing opened a laboratory. " + "It was built in stages. " * 120 + "Russia joined it."
    doc = prepare("", late)  # (fewer than 1,024 words: the part's positions are the whole text's)
    part = doc.part(topic.model.text_chars)
    assert part is not None
    f = part.fields[TEXT]
    index, tokens, lent = f.by_surface, f.positions, dict(f._holds)
    assert _gate().holds(doc, topic.model.text_chars) and doc.made and doc._parts is None  # (the part taken over)
    whole = doc.fields[TEXT]
    assert whole.by_surface is index and whole.positions[: len(tokens)] == tokens  # its index, gone on past the part
    assert lent.items() <= whole._holds.items()  # what the part found in the whole text's characters
    assert _snapshot(whole) == _snapshot(topics._Field(late))
    # a text no longer than the part is the part: nothing to cut
    assert prepare("", text[:1000]).part(1500) is None


def test_the_part_holds_the_whole_texts_tokens_and_sentences_before_its_cut() -> None:
    rng = random.Random(18)
    texts = [t for _, t in _stories()[::3]] + _corpus_bodies()
    texts += [a + rng.choice(["\n", ". ", "。", "; ", " "]) + b for a, b in zip(texts[::4], reversed(texts))]
    for text in texts:
        whole = topics._Field(text)
        for chars in _cuts(text, rng, 1):
            doc = prepare("", text).part(chars)
            if doc is None:
                assert len(text) <= chars or not topics._sentence_ends(text, chars)
                continue
            f = doc.fields[TEXT]
            n = len(f.positions)
            assert f.limit < chars and f.limit in topics._sentence_ends(text) and f.text is text
            cut = topics._cut(text, chars)
            assert cut is not None and list(cut.columns) == [c[:n] for c in textnorm.columns(text)]
            assert n == len(whole.positions) or whole.starts[n] > f.limit
            # each token's sentence, as the whole text's sentence and clause ends put it
            assert [p >> f.shift for p in f.positions] == [p >> whole.shift for p in whole.positions[:n]]
            assert f.folded == whole.folded and f.cjk == whole.cjk


def test_the_part_says_what_the_whole_article_says_on_every_labeled_story() -> None:
    rng = random.Random(5)
    stories = _stories()
    settled = 0
    for title, text in stories:
        whole = _gate()._root.eval(prepare(title, text))[0]
        for chars in _cuts(text, rng, 1):
            settled += _same(title, text, chars, whole)
    # joined two by two: a story's names cut at its partner's sentences
    for (t1, x1), (_t2, x2) in list(zip(stories, stories[7:] + stories[:7]))[::3]:
        text = x1 + rng.choice(["\n", ". ", "。", " "]) + x2
        whole = _gate()._root.eval(prepare(t1, text))[0]
        for chars in _cuts(text, rng, 1):
            settled += _same(t1, text, chars, whole)
    assert settled > 1000  # the part settles many of them


def test_the_part_says_what_the_whole_article_says_on_the_corpus_articles() -> None:
    bodies = _corpus_bodies()
    if not bodies:
        pytest.skip("the extraction corpus is not beside the project")
    rng = random.Random(7)
    stories = _stories()
    for body in bodies:
        for text in (body, body[: len(body) // 2] + " " + rng.choice(stories)[1] + " " + body[len(body) // 2 :]):
            whole = _gate()._root.eval(prepare("", text))[0]
            for chars in _cuts(text, rng, 1) | {1500}:
                _same("", text, chars, whole)


@pytest.mark.parametrize(
    "first,second",
    [
        # a longer name across the cut: Russian, but Russian media past it (the press, not a side)
        ("China opened a laboratory, Russian", "media reported."),
        ("China opened a laboratory with the Russian", "Academy of Sciences."),
        # a sea's name after a list of names, the list going on past the cut (a line break ends a sentence)
        ("China's ships sailed the Russia,", "Japan and Okhotsk seas."),
        ("Китай направил суда в Японское,", "Охотское и Берингово моря."),
        ("中国船只驶入日本", "海。"),
        # the next word: a person's name, a verb of saying, another country's university
        ("China hosted Vladimir", "Putin."),
        ("China hosted Kirov", "said the talks went well."),
        ("Китай и Северо-Западный университет", "Китая подписали соглашение."),
        ("Китай принял делегацию Минобрнауки", "Казахстана."),
        # a Chinese person's name joined by a dot across the cut
        ("中国欢迎弗拉基米尔", "·泽连斯基。"),
    ],
)
def test_a_name_cut_by_the_part_is_read_as_the_whole_text_reads_it(first: str, second: str) -> None:
    gate = _gate()
    filler = (
        " Work went on." * 200
        if first.isascii()
        else ("。工作继续进行" * 200 if "中" in first else " Работа шла." * 200)
    )
    for sep in ("\n", " "):
        text = first + sep + second + filler
        whole = gate._root.eval(prepare("", text))[0]
        for chars in range(len(first) - 12, len(first) + len(second) + 16):
            _same("", text, chars, whole)
        for title in ("Россия", "Russia", "俄罗斯"):  # the other side in the title: the text's side decides
            whole = gate._root.eval(prepare(title, text))[0]
            for chars in range(len(first) - 12, len(first) + len(second) + 16):
                _same(title, text, chars, whole)


_PIECES = [
    "China", "Russia", "Chinese", "Russian", "Moscow", "Beijing", "Vladimir", "Putin", "Kirov", "said", "Sea", "of",
    "Japan", "Korea", "seas", "Academy", "Sciences", "Tomsk", "Polytechnic", "University", "media", "state", "HEU",
    "Harbin", "Engineering", "Kazakhstan", "Российская", "академия", "наук", "российские", "СМИ", "Китай", "Китая",
    "России", "Японское", "море", "моря", "Охотское", "Минобрнауки", "Казахстана", "ТомГУ", "ВНИИЖТ", "Томский",
    "университет", "Сергей", "Королёв", "С. П.", "俄罗斯", "中国", "俄媒", "中国科学院", "哈尔滨", "工业大学", "日本", "海",
    "弗拉基米尔", "·", "泽连斯基", "白俄罗斯", "我国", "отечественные", "и", "and", ",", ".", "\n", " ", "。", "；", ";",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(_PIECES), max_size=4).map(" ".join),
    st.lists(st.sampled_from(_PIECES), min_size=2, max_size=40),
    st.sampled_from(["", " ", "\n"]),
)
def test_the_part_says_what_the_whole_article_says_wherever_the_cut_falls(
    title: str, pieces: list[str], joint: str
) -> None:
    text = joint.join(pieces)
    whole = _gate()._root.eval(prepare(title, text))[0]
    for chars in range(1, len(text) + 2):
        _same(title, text, chars, whole)


def test_a_part_reaching_past_its_last_sentence_leaves_the_gate_to_the_whole_text(monkeypatch) -> None:
    gate = _gate()
    gate.holds(prepare("", "China and Russia"))  # what a first article loads
    # a name that goes on past the part's last sentence end (a line break in a Russian institute's family name is
    # none, but a name of the whole text's may be): the part raises _Unsure, and the whole text decides
    real = topics._place_institution

    def unsure(f: topics._Field, first: int, last: int, country: str) -> tuple[int, int, str] | None:
        if f.limit < len(f.text):
            raise topics._Unsure
        return real(f, first, last, country)

    monkeypatch.setattr(topics, "_place_institution", unsure)
    text = "Tomsk and Beijing signed. " + "Work went on. " * 200
    doc = prepare("", text)
    assert gate.holds(doc, 1500) is gate._root.eval(prepare("", text))[0] is True
    assert doc.made


def test_title_and_text_fields_are_made_when_first_read() -> None:
    doc = prepare("China and Russia", "Joint work. " * 500)
    assert not doc.made
    assert doc.fields[TITLE].text == "China and Russia" and doc.made
    head = prepare("Title", "Joint work. " * 500)
    part = head.part(100)
    assert part is not None and part.fields[TITLE] is head.fields[TITLE]  # one title field for both


def _snapshot(f: topics._Field) -> dict[str, object]:
    """A field's attributes, its lazily made ones made, but what a gate's questions leave in it."""
    f.heads(), f.sorted_surfaces(), f.first_words(), f.has_prefix("q"), f.folded, f._may_hold("я")
    if f.cjk:
        f._cjk_sorted()
    asked = {"added", "cut", "_memo", "_tokens", "_institution_words", "_holds"}
    return {k: getattr(f, k) for k in topics._Field.__slots__ if k not in asked}


def _whole_fields(title: str, text: str, chars: int) -> None:
    """Asserts the whole text's field made after a gate asked with a part (from the part's tokens, sentence ends and
    index, the part's index and the sets it made taken over) is the field of the text made alone; with the text's
    tokens kept beforehand (a crawl's search index) and without."""
    whole = _snapshot(topics._Field(text))
    for kept in (False, True):
        textnorm.columns.cache_clear()
        textnorm.simplified.cache_clear()
        if kept:
            textnorm.columns(text)
        for how in ("part", "gate"):
            doc = prepare(title, text)
            cut = doc.cut(chars)
            if cut is None:
                continue
            if how == "part":  # the part's field made and asked (its lazy sets made), then the whole text's
                part = doc.part(chars)
                assert part is not None
                f = part.fields[TEXT]
                f.heads(), f.sorted_surfaces(), f.has_prefix("q"), part.present()
                if f.cjk:
                    f._cjk_sorted()
            else:
                _gate().holds(doc, chars)
            assert _snapshot(doc.fields[TEXT]) == whole, (how, kept, chars, text[max(0, chars - 200) : chars + 200])
            assert doc.fields[TITLE].text == title


def test_the_whole_text_field_made_from_its_part_is_the_whole_text_field() -> None:
    rng = random.Random(19)
    stories = _stories()
    texts = [(t, x) for t, x in stories[::6] if len(x) > 200] + [("", b) for b in _corpus_bodies()[::6]]
    texts += [
        (t1, x1 + rng.choice(["\n", ". ", "。", "; ", " "]) + x2)
        for (t1, x1), (_, x2) in zip(stories[::9], stories[5::9])
    ]
    for title, text in texts:
        for chars in sorted(_cuts(text, rng, 1))[:2] + [1500]:
            _whole_fields(title, text, chars)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from(_PIECES), max_size=4).map(" ".join),
    st.lists(st.sampled_from([*_PIECES, "_", "é", "\u0301", "中國", "臺灣", "ｃｈｉｎａ"]), min_size=2, max_size=60),
    st.sampled_from(["", " ", "\n"]),
    st.data(),
)
def test_the_whole_text_field_made_from_its_part_is_the_same_wherever_the_cut_falls(
    title: str, pieces: list[str], joint: str, data: st.DataObject
) -> None:
    text = joint.join(pieces)
    for chars in {data.draw(st.integers(1, len(text) + 1)) for _ in range(3)}:
        _whole_fields(title, text, chars)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from([*_PIECES, "_", "é", "\u0301", "中國", "臺灣", "ｃｈｉｎａ", "ㇰ"]), min_size=1, max_size=40
    )
)
def test_a_text_s_tokens_after_a_sentence_end_are_its_whole_tokens_there(pieces: list[str]) -> None:
    text = "".join(pieces)
    whole = textnorm.columns(text)
    for end in topics._sentence_ends(text):
        n = bisect.bisect_left(whole.starts, end + 1)
        assert textnorm.columns_after(text, end + 1) == textnorm.Columns(*(c[n:] for c in whole))
