"""The forms a country entity takes beyond the country's name: a place in another language's script,
a Russian adjective, an institution's acronym, a transcribed name (``country:XX`` in queries)."""

from __future__ import annotations

import pytest

from crawler.topics import compile_query

CN = compile_query("country:CN")
RU = compile_query("country:RU")


def _hits(query, title: str, text: str = "") -> tuple[str, ...]:
    m = query.match(title, text)
    return m.hits if m is not None else ()


# --- Chinese places in Russian: Palladius from the pinyin name, and their adjectives ---------


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("Делегация из провинции Хэйлунцзян прибыла в Благовещенск", "Хэйлунцзян → China"),
        ("Ученые Ляонина и Томска подписали соглашение", "Ляонин → China"),
        ("Хэйлунцзянские селекционеры вывели сорт сои", "хэйлунцзянск* → China"),
        ("шаньдунские партнеры открыли лабораторию", "шаньдунск* → China"),
        ("синьцзянская компания построит станцию", "синьцзянск* → China"),
        ("Инженеры из Шэньчжэня показали робота", "Шэньчжэнь → China"),
    ],
)
def test_a_chinese_province_or_city_written_in_russian_is_china(text: str, hit: str) -> None:
    assert hit in _hits(CN, "", text)


def test_an_autonomous_region_is_named_without_its_people_in_english_too() -> None:
    assert "Xinjiang → China" in _hits(CN, "Solar plant opens in Xinjiang")


@pytest.mark.parametrize(
    "text",
    [
        "Математики БФУ имени И. Канта разработали методы машинного обучения.",  # Иу (Yiwu) stems to и
        "Усы и Уда: рассказ о рыбалке.",
    ],
)
def test_short_transcriptions_that_stem_to_russian_words_are_not_places(text: str) -> None:
    assert CN.match("", text) is None
