"""Cheaper ways to the same results: each shortcut of topic matching gives what the plain way gives."""

from __future__ import annotations

import re
import sys

from hypothesis import given
from hypothesis import strategies as st

from crawler import textnorm, topics
from crawler.topics import prepare

# --- a family's pattern tried only before its last letter --------------------------------------------------

_PIECES = [
    "ТомГУ", "КузГТУ", "АмГУ", "МГУ", "СПбГУ", "ГУ", "У", "Том", "Кузбасс", "ГТУ", "УУ", "ТомГУУ", "ТомГУ-2", "ТомГУ»",
    " ", "\n", "-", ".", ", ", "и ", "«", "Томский", "АмурГУ", "ТомГУТУ", "КузГТУи", "Russian Grids", "Grids", "s",
]  # fmt: skip


def _scanned() -> list[tuple[re.Pattern[str], object]]:
    return [
        (rx, scan) for code in ("RU", "CN") for rx, _kind, _needles, _what, scan in topics._gazetteer(code).families
    ]


def test_a_russian_universitys_short_form_is_looked_for_only_before_each_capital_u() -> None:
    # {place}[А-ЯЁ]{1,4}У: every match ends in У and is at most ten characters long; its regular expression scanned
    # a Russian text at every character, and almost every Russian text holds a capital У somewhere
    (rx, scan), *_ = [(rx, scan) for rx, scan in _scanned() if rx.pattern.endswith(r"У(?![\w-])")]
    assert scan != rx.finditer
    text = "Делегации ТомГУ и КузГТУ (Кемерово) посетили АмГУ; ТомГУ-2 и ТомГУу не вузы. У нас всё."
    assert [m.group() for m in scan(text)] == [m.group() for m in rx.finditer(text)] == ["ТомГУ", "КузГТУ", "АмГУ"]


@given(st.lists(st.sampled_from(_PIECES), max_size=24).map("".join))
def test_each_familys_matches_are_those_a_scan_of_the_whole_text_finds(text: str) -> None:
    for rx, scan in _scanned():
        assert [(m.span(), m.group()) for m in scan(text)] == [(m.span(), m.group()) for m in rx.finditer(text)]  # type: ignore[operator]


def test_a_pattern_whose_matches_do_not_end_in_one_letter_is_scanned_whole() -> None:
    for pattern in (r"(?:ГНЦ|ФИЦ)(?![\w-])", r"[А-Я]+У\w*", r"(?i)томгу", r"ГУ|МИФИ", r"(\w)У\1"):
        rx = re.compile(pattern)
        assert topics._scanner(rx) == rx.finditer, pattern
    rx = re.compile(r"(?<![\w-])(?:Том|Кем)[А-ЯЁ]{1,4}У(?![\w-])")
    assert topics._scanner(rx) != rx.finditer


def test_without_the_re_modules_private_parser_every_pattern_is_scanned_the_plain_way(monkeypatch) -> None:
    # re._parser is private: a Python that moves it must cost speed, not matches or an import error
    rx = re.compile(r"(?<![\w-])(?:Том|Кем)[А-ЯЁ]{1,4}У(?![\w-])")
    monkeypatch.setattr(topics, "_sre_parse", None)
    assert topics._scanner(rx) == rx.finditer

    class Changed:
        @staticmethod
        def parse(pattern: str, flags: int) -> object:
            return object()  # a parse tree of another shape

    monkeypatch.setattr(topics, "_sre_parse", Changed)
    assert topics._scanner(rx) == rx.finditer


# --- a country's name as a sea's -------------------------------------------------------------------------


def test_the_first_characters_a_sea_name_check_looks_at_are_every_one_its_pattern_can_start_with() -> None:
    # what _SEA_AFTER_RE can match first besides white space: a list's comma, и, and, or a sea's word in any case,
    # as the regular expression engine folds case (ſ is an s, ᲂ an о)
    sea_word = re.compile(r"(?i:[мsoо])")
    can_start = {chr(c) for c in range(sys.maxunicode + 1) if sea_word.fullmatch(chr(c))} | set(",иa海洋")
    assert topics._SEA_AFTER_FIRST == can_start
    assert {chr(c) for c in range(sys.maxunicode + 1) if re.fullmatch("(?i:f)", chr(c))} == {"f", "F"}


def _plain_sea_name(f: topics._Field, first: int, last: int) -> bool:
    cs, ce = f.chars(first, last)
    return bool(topics._SEA_AFTER_RE.match(f.text, ce) or topics._SEA_BEFORE_RE.search(f.text, max(0, cs - 12), cs))


_AROUND = [
    " ", "  ", "\n", "\u00a0", ",", " и ", " and ", " Охотского", " морей", " море", " Sea", " sea", " SEAS", " ſea",
    " ocean", " Ocean", " океана", "海", "洋", "海军", " Sea of", " sea of the ", "The Sea of ", "sea of\n", "of ",
    "ᲂкеан", " Mountains", "-", ".", "Sea of  the\t",
]  # fmt: skip


@given(
    st.lists(st.sampled_from(_AROUND), max_size=4).map("".join),
    st.sampled_from(["Japan", "Японского", "日本", "China", "Норвегии", "Korea"]),
    st.lists(st.sampled_from(_AROUND), max_size=5).map("".join),
)
def test_a_sea_name_is_told_as_the_regular_expressions_alone_tell_it(before: str, name: str, after: str) -> None:
    f = prepare("", before + name + after).fields["text"]
    for p in f.positions:
        assert topics._sea_name(f, p, p) == _plain_sea_name(f, p, p)


# --- a Chinese text's words that start with a prefix, without sorting its bigrams --------------------------------

_WORDS = [
    "俄罗斯",
    "中俄",
    "合作",
    "大学",
    "研究院",
    "和",
    "与",
    "在",
    "。",
    " ",
    "Russia",
    "AI",
    "universities",
    "5G",
    "俄",
]


@given(st.lists(st.sampled_from(_WORDS), max_size=30).map("".join))
def test_the_words_a_prefix_starts_are_those_that_start_with_it(text: str) -> None:
    f = prepare("", text).fields["text"]
    for prefix in (
        "俄",
        "中俄",
        "大学",
        "研究院",
        "和",
        "a",
        "ai",
        "univ",
        "universit",
        "ru",
        "russia",
        "5",
        "5g",
        "x",
    ):
        starting = sorted(s for s in f.by_surface if s.startswith(prefix))
        assert sorted(f.starting(prefix)) == starting, prefix
        assert f.has_prefix(prefix) == bool(starting), prefix


def test_a_chinese_texts_bigrams_are_not_sorted_to_find_the_words_a_prefix_starts() -> None:
    # sorting a 5,000-word article's ~5,000 distinct bigrams took longer than all the prefix lookups that read them
    doc = prepare(
        "", "俄罗斯科学院与中国科学院在莫斯科签署合作协议。Tomsk Polytechnic University 和哈尔滨工业大学合作。"
    )
    query = topics.compile_query("俄 AND 大学 AND polytechnic* AND universit* AND 莫*")
    assert query.match_prepared(doc) is not None
    assert doc.fields["text"]._sorted is None


def test_a_traditional_chinese_text_is_folded_to_simplified_once_for_its_tokens_and_its_names(monkeypatch) -> None:
    text = "俄羅斯科學院與中國科學院簽署協議，莫斯科大學參加。"
    query = topics.compile_query("country:RU AND country:CN")
    query.match("", "據報道，" + text)  # what a first article loads (the gazetteers, other countries' names)
    textnorm.columns.cache_clear()
    textnorm.simplified.cache_clear()
    converted: list[str] = []
    real = textnorm.to_simplified
    monkeypatch.setattr(textnorm, "to_simplified", lambda run: converted.append(run) or real(run))
    match = query.match("", text)
    assert match is not None and match.hits == ("中国科学院 → China", "俄罗斯科学院 → Russia", "莫斯科大学 → Russia")
    assert converted == [text]
