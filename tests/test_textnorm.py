"""Token normalization and language detection shared by topics and the search index."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawler import textnorm
from crawler.process import PageJob, process_page
from crawler.textnorm import detect_language, index_tokens, tokenize

LABELED = Path(__file__).resolve().parents[1] / "fixtures" / "topics" / "labeled.jsonl"


def stems(text: str) -> list[str]:
    return [t[1] for t in tokenize(text)]


def surfaces(text: str) -> list[str]:
    return [t[0] for t in tokenize(text)]


@pytest.mark.parametrize(
    "words",
    [
        "Россия России Россией Россию",
        "Китай Китая Китаю Китаем Китае",
        "научный научного научным научных",
        "сотрудничество сотрудничества сотрудничеству",
        "cooperation cooperate cooperative",
        "technologies technology technological",
    ],
)
def test_word_forms_share_a_stem(words: str) -> None:
    assert len(set(stems(words))) == 1, stems(words)


def test_different_words_keep_different_stems() -> None:
    assert len(set(stems("Россия Китай наука China Russia science"))) == 6


def test_hyphenated_compounds_split_into_parts() -> None:
    assert surfaces("российско-китайский China-Russia Sino-Russian") == [
        "российско",
        "китайский",
        "china",
        "russia",
        "sino",
        "russian",
    ]
    assert stems("российско-китайский")[0] == stems("российский")[0]


def test_folding_case_width_yo_and_accents() -> None:
    assert surfaces("ＣＨＩＮＡ Ёлка ЁЖ café Naïve Росси́я") == ["china", "елка", "еж", "cafe", "naive", "россия"]


def test_cjk_runs_become_bigrams_one_per_character() -> None:
    toks = tokenize("中俄科技合作，俄罗斯")
    assert [t[0] for t in toks] == ["中俄", "俄科", "科技", "技合", "合作", "作", "俄罗", "罗斯", "斯"]
    # every character starts exactly one token, at its own offset
    assert [t[2] for t in toks] == [0, 1, 2, 3, 4, 5, 7, 8, 9]
    assert toks[-1][4] == textnorm.CJK_END and toks[0][4] == textnorm.CJK


def test_mixed_scripts_split_at_cjk_boundaries() -> None:
    assert surfaces("5G技术与AI") == ["5g", "技术", "术与", "与", "ai"]


def test_offsets_point_into_the_original_string() -> None:
    text = "Ｃｈｉｎａ and Россия, 中俄."
    for surface, _stem, start, end, kind in tokenize(text):
        original = text[start:end]
        if kind == textnorm.WORD:
            assert textnorm.fold_word(original) == surface
        else:
            assert surface.startswith(original)


@pytest.mark.parametrize(
    "text",
    [
        "Ｃｈｉｎａ and Росси́я, café_au lait: naïve 5G ½ — U.S.-Russia ties\n\nX",  # a combining accent
        "Ｃｈｉｎａ and Россия, café_au lait: naïve 5G ½ — U.S.-Russia ties\n\nX",  # none
        "Ｃｈｉｎａ and Россия, café au lait: naïve 5G ½ — U.S.-Russia ties\n\nX",  # no underscore either
    ],
)
def test_a_text_without_cjk_has_the_tokens_it_has_beside_cjk(text: str) -> None:
    # a text without CJK characters is tokenized by a faster path: the same words, forms and offsets
    alone = tokenize(text)
    beside = tokenize(text + " 中俄")
    assert alone == beside[: len(alone)]
    assert [t[4] for t in beside[len(alone) :]] == [textnorm.CJK, textnorm.CJK_END]
    assert [t[0] for t in alone][:6] == ["china", "and", "россия", "cafe", "au", "lait"]
    assert tokenize("") == () and tokenize(" ,. ") == ()


def test_index_tokens_round_trip_through_fts5() -> None:
    db = sqlite3.connect(":memory:")
    db.execute(f"CREATE VIRTUAL TABLE t USING fts5(body, tokenize={textnorm.INDEX_TOKENIZE!r})")
    db.execute("INSERT INTO t(rowid, body) VALUES (1, ?)", [index_tokens("Российско-китайский центр: 中俄科技合作")])
    db.execute("INSERT INTO t(rowid, body) VALUES (2, ?)", [index_tokens("China and Russia")])

    def ids(q: str) -> list[int]:
        return [r[0] for r in db.execute("SELECT rowid FROM t WHERE t MATCH ? ORDER BY rowid", [q])]

    assert ids('"科技 技合 合作"') == [1]
    assert ids('"俄"*') == [1]
    assert ids('"китайск"*') == [1]
    assert ids('"china"') == [2]
    assert ids('"中俄"') == [1]


def test_fts_prefix_is_a_prefix_of_every_word_of_the_stem() -> None:
    # property over every word of the labeled set: FTS5 prefix queries built from stems are safe
    rows = [json.loads(line) for line in LABELED.read_text(encoding="utf-8").splitlines()]
    checked = 0
    for r in rows:
        for surface, stem, _s, _e, kind in tokenize(r["title"] + "\n" + r["text"]):
            if kind == textnorm.WORD:
                assert surface.startswith(textnorm.fts_prefix(stem)), (surface, stem)
                checked += 1
    assert checked > 5000
    for word in ("study", "studies", "dying", "lying", "hoping", "cries", "skies"):
        assert word.startswith(textnorm.fts_prefix(textnorm.stem_word(word))), word


@pytest.mark.parametrize(
    "text,hint,expected",
    [
        ("China and Russia agreed to expand research cooperation.", None, "en"),
        ("Россия и Китай расширят научное сотрудничество.", None, "ru"),
        ("中俄两国将加强科技合作。", None, "zh"),
        ("中俄两国将加强科技合作，Russia and China", None, "zh"),
        ("Die Zusammenarbeit zwischen China und Russland wächst.", "de-DE", "de"),
        ("Россия и Китай расширят научное сотрудничество.", "en", "ru"),  # hint contradicts the script
        ("China and Russia agreed to expand research cooperation.", "zh-CN", "en"),  # a hint of another script
        ("China and Russia", "zh-CN", None),  # too short to tell: unknown, not English
        ("La Chine et la Russie ont signé un accord de coopération scientifique.", None, "fr"),
        ("Die Zusammenarbeit zwischen China und Russland wächst.", None, "de"),
        ("El acuerdo entre China y Rusia amplía la cooperación científica.", None, "es"),
        ("Україна і Китай підписали угоду про співпрацю.", None, "uk"),
        ("Привет", "uk", "uk"),
        ("", None, None),
        ("12345 !!!", None, None),
        ("12345", "ru-RU", "ru"),
    ],
)
def test_detect_language(text: str, hint: str | None, expected: str | None) -> None:
    assert detect_language(text, hint) == expected


PAGES = {
    "fr": (
        "Un laboratoire commun pour les matériaux polaires",
        "Les chercheurs des deux universités partageront un laboratoire consacré aux matériaux polaires "
        "dès le printemps prochain. Le laboratoire testera des aciers et des composites à des températures "
        "descendant jusqu'à moins soixante degrés. Le financement provient des deux gouvernements et de trois "
        "partenaires industriels, ont indiqué les organisateurs.",
    ),
    "de": (
        "Ein gemeinsames Labor für Polarwerkstoffe",
        "Forscher beider Universitäten werden ab dem kommenden Frühjahr ein Labor für Polarwerkstoffe teilen. "
        "Das Labor wird Stähle und Verbundwerkstoffe bei Temperaturen bis zu minus sechzig Grad prüfen. "
        "Die Finanzierung kommt von beiden Regierungen und von drei Industriepartnern, sagten die Veranstalter.",
    ),
    "ja": (
        "極地材料の共同研究所が開設",
        "両大学の研究者は来年の春から極地材料の研究所を共同で使用する。研究所では零下六十度までの温度で"
        "鋼材と複合材料の試験を行う。資金は両国政府と三つの産業パートナーから提供されると主催者が述べた。",
    ),
    "uk": (
        "Спільна лабораторія полярних матеріалів",
        "Дослідники обох університетів з наступної весни користуватимуться спільною лабораторією полярних "
        "матеріалів. Лабораторія випробовуватиме сталі та композити за температур до мінус шістдесяти градусів. "
        "Фінансування надходить від обох урядів і від трьох промислових партнерів, повідомили організатори.",
    ),
}


@pytest.mark.parametrize("language", sorted(PAGES))
def test_a_page_without_a_language_tag_gets_its_own_language(language: str) -> None:
    title, text = PAGES[language]
    html = (
        f"<html><head><meta charset='utf-8'><title>{title}</title></head><body>"
        f"<article><h1>{title}</h1><p>{text}</p></article></body></html>"
    )
    job = PageJob("s", "https://example.org/a", "https://example.org/a", html.encode(), None, datetime.now(UTC))
    record = process_page(job, ()).record
    assert record is not None and text[:40] in record.text
    assert record.language == language


def test_the_cache_of_normalized_words_stays_bounded_and_right(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(textnorm, "_NORMALIZED_MAX", 50)
    monkeypatch.setattr(textnorm, "_NORMALIZED", {})
    words = [f"Исследования{i} Researchers{i}" for i in range(200)]
    for w in words:
        textnorm.columns.cache_clear()
        textnorm.columns(w)
        assert len(textnorm._NORMALIZED) <= 50
    textnorm.columns.cache_clear()
    toks = textnorm.columns("Исследования Researchers Исследования")
    assert toks.surfaces == ["исследования", "researchers", "исследования"]
    assert toks.stems == ["исследован", "research", "исследован"]


def test_a_hostile_pages_text_folded_to_simplified_is_not_kept_after_it_is_read() -> None:
    # simplified keeps its last texts (tokenizing a text and matching names in it both read it): eight multi-megabyte
    # pages of Traditional Chinese held tens of MB after they were matched; a text this long is folded each time
    import tracemalloc

    texts = [f"{i}中國與俄羅斯的實驗室" * 50_000 for i in range(4)]  # 550,000 characters each
    textnorm.simplified.cache_clear()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for text in texts:
            assert (textnorm.simplified(text) or "")[:11] == f"{texts.index(text)}中国与俄罗斯的实验室"
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 500_000  # before: 4.4 MB, the four folded texts
    short = "俄羅斯科學院與中國科學院簽署協議"
    assert textnorm.simplified(short) is textnorm.simplified(short)  # an article's text is still folded once


def test_the_tokens_of_a_hostile_pages_text_are_not_kept_after_it_is_read() -> None:
    # columns keeps the tokens of its last texts (topic matching and the search index tokenize the same article):
    # eight hostile pages of megabytes held theirs after they were matched, some 170 bytes a character for Chinese
    # (a 1.9-million-character page's: 330 MB); the texts it keeps hold COLUMNS_KEPT characters in all
    import tracemalloc

    textnorm.columns.cache_clear()
    article = "China and Russia open a joint laboratory. " * 100
    assert textnorm.columns(article) is textnorm.columns(article)  # an article's tokens are still built once
    pages = [f"{i} China and Russia open a joint laboratory. " * 6_000 for i in range(2)]  # 258,000 characters
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for page in pages:
            assert textnorm.columns(page).surfaces[:3] == [str(pages.index(page)), "china", "and"]
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 1_000_000  # before: 9 MB, the two pages' tokens
    assert textnorm.columns(article) is textnorm.columns(article)
