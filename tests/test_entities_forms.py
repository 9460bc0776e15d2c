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


# --- families of names: institution acronyms, surnames transcribed into Chinese --------------


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("Ученые ВНИИЖТ испытают новые материалы", "ВНИИЖТ → Russia"),
        ("Сотрудники ЦНИИмаш представили доклад", "ЦНИИмаш → Russia"),
        ("ФИЦ «Красноярский научный центр» открыл лабораторию", "ФИЦ → Russia"),
        ("Engineers of TsNIIMash met the delegation", "TsNIIMash → Russia"),
        ("莫斯科大学以罗蒙诺索夫命名", "罗蒙诺索夫 → Russia"),
        ("齐奥尔科夫斯基是航天之父", "齐奥尔科夫斯基 → Russia"),
        ("代表团访问了滨海边疆区", "边疆区 → Russia"),
    ],
)
def test_a_family_of_names_resolves_and_the_hit_shows_the_text(text: str, hit: str) -> None:
    assert hit in _hits(RU, "", text)


@pytest.mark.parametrize(
    "word",
    [
        # everyday words ending in the characters of Russian surname endings
        "丈夫",
        "大夫",
        "功夫",
        "工夫",
        "农夫",
        "渔夫",
        "姐夫",
        "妹夫",
        "屠夫",
        "懦夫",
        "匹夫",
        "樵夫",
        "车夫",
        "马车夫",
        "马夫",
        "士大夫",
        "凡夫",
        "纤夫",
        "轿夫",
        "船夫",
        "高尔夫球",
        "斯拉夫人",
        "南斯拉夫",
        "娃娃",
        "福娃",
        "女娃",
        "布娃娃",
        "洋娃娃",
        "爱斯基摩人",
        # and words ending in 科, which the rule does not take as an ending
        "学科",
        "内科",
        "外科",
        "牙科",
        "本科",
        "理科",
        "社科",
        "眼科",
        "百科",
    ],
)
def test_chinese_words_ending_like_a_surname_are_not_russia(word: str) -> None:
    assert RU.match("", f"他说{word}很重要。") is None


def test_an_acronym_inside_a_word_or_in_lowercase_is_not_an_institute() -> None:
    assert RU.match("", "Обратите внимание на внииж и цнии в нижнем регистре.") is None


def test_an_institute_by_its_acronym_is_a_partner_in_academic_cooperation() -> None:
    q = compile_query("PARTNERS(country:CN, country:RU, research)")
    m = q.match("", "ВНИИЖТ и Харбинский политехнический университет подписали соглашение.")
    assert m is not None
    assert "ВНИИЖТ → Russia" in m.hits


# --- surnames that are also cities ---------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Сергей Королёв создал первую ракету.",
        "С. П. Королёв создал ракету.",
        "Королёв С. П. создал ракету.",
        "Alexei Ivanov signed the agreement.",
        "Professor Nikolai Kirov spoke at the meeting.",
    ],
)
def test_a_persons_surname_is_not_the_city_of_that_name(text: str) -> None:
    assert RU.match("", text) is None


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("В городе Королёв открыли центр.", "Королев → Russia"),
        ("The agreement was signed in Kirov.", "Kirov → Russia"),
        ("Под Королёвом открыли центр, а в наукограде Королёв — музей.", "Королев → Russia"),
    ],
)
def test_the_city_named_like_a_surname_is_still_the_city(text: str, hit: str) -> None:
    assert hit in _hits(RU, "", text)
