"""First-level regions by the abbreviations and short forms the press names them by (ЯНАО, Татарстан, 内蒙, СУАР):
each resolves to its country and says so in its hit, and an abbreviation that is also something else does not
resolve alone (``country:XX``; places.json's `native` short names, entities.toml's hand-kept forms)."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from crawler.config import load_config
from crawler.process import _query
from crawler.topics import compile_query, prepare

ROOT = Path(__file__).resolve().parent.parent
QUERIES = {code: compile_query(f"country:{code}") for code in ("CN", "RU")}


def _hits(code: str, text: str) -> tuple[str, ...]:
    m = QUERIES[code].match("", text)
    return m.hits if m is not None else ()


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        # abbreviations the regions' own governments write
        ("ЯНАО заключил договор о совместном изучении птиц", "ЯНАО → Russia"),
        ("Власти ХМАО подписали соглашение", "ХМАО → Russia"),
        ("В ХМАО-Югре прошла выставка", "ХМАО → Russia"),
        ("В ЕАО открыли мост через Амур", "ЕАО → Russia"),
        ("Ученые КБР представили сорт", "КБР → Russia"),
        ("Правительство КЧР подписало соглашение", "КЧР → Russia"),
        # short forms
        ("Делегация из Петербурга прибыла в Харбин", "Петербург → Russia"),
        ("Форум прошел в СПб", "СПб → Russia"),
        ("Инвесторы из Карачаево-Черкесии", "Карачаево-Черкеси* → Russia"),
        ("Экспедиция работала в Тыве", "Тыва → Russia"),
        ("Экспедиция работала в Туве", "Тува → Russia"),
        ("Соя из Приамурья поедет в Китай", "Приамурь* → Russia"),
        ("Ученые Прибайкалья", "Прибайкаль* → Russia"),
        ("Энергетики Приангарья", "Приангарь* → Russia"),
        ("Аграрии Оренбуржья", "Оренбурж* → Russia"),
        ("Предприятия Смоленщины", "Смоленщин* → Russia"),
        # places.json: the countries-states-cities database's short name (Республика Татарстан -> Татарстан)
        ("Делегация из Татарстана", "Татарстан → Russia"),
        ("Ученые Дагестана", "Дагестан → Russia"),
        ("Больница в Ингушетии", "Ингушетия → Russia"),
        ("Вузы Башкортостана", "Башкортостан → Russia"),
        ("дагестанские ученые", "дагестанск* → Russia"),
        # places.json: BGN's "tsk" read as the dictionary writes it (Nenetskiy: Ненецкий, not Ненетский)
        ("Делегация Ненецкого автономного округа", "Ненецкий автономный округ → Russia"),
        ("Делегация Ямало-Ненецкого автономного округа", "Ямало-Ненецкий автономный округ → Russia"),
        ("Аграрии Липецкой области", "Липецкая область → Russia"),
        # English
        ("A delegation from Kabardino-Balkaria", "Kabardino-Balkaria → Russia"),
        ("Nenets Autonomous Okrug signs a deal", "Nenets Autonomous Okrug → Russia"),
        ("Sverdlovsk Region hosts the forum", "Sverdlovsk Region → Russia"),
        ("The Sakha Republic and its diamonds", "Sakha Republic → Russia"),
    ],
)
def test_a_russian_region_by_its_short_form_is_russia(text: str, hit: str) -> None:
    assert hit in _hits("RU", text)
    assert hit.replace("Russia", "China") not in _hits("CN", text)


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("内蒙企业与俄方签约", "内蒙 → China"),
        ("宁夏代表团访问喀山", "宁夏 → China"),
        ("宁夏回族自治区代表团", "宁夏回族自治区 → China"),
        ("Делегация из СУАР прибыла в Новосибирск", "СУАР → China"),
        ("Делегация из ГЧАР", "ГЧАР → China"),
        ("Делегация Нинся-Хуэйского автономного района", "Нинся-Хуэйск* → China"),
        ("Ученые из провинции Шэньси", "Шэньси → China"),
        ("Officials of the XUAR met the delegation", "XUAR → China"),
    ],
)
def test_a_chinese_region_by_its_short_form_is_china(text: str, hit: str) -> None:
    assert hit in _hits("CN", text)
    assert hit.replace("China", "Russia") not in _hits("RU", text)


@pytest.mark.parametrize(
    "text",
    [
        # abbreviations that are also other things' (a ministry, a student society, a company's legal form,
        # another country, nuclear weapons), and short forms that are also words
        "Представители МО прибыли на выставку",  # Министерство обороны / Московская область
        "Губернатор ЛО посетил завод",
        "В НСО вуза выступили студенты",  # научное студенческое общество / Новосибирская область
        "НАО «Казахский национальный университет» и его ректор",  # непубличное акционерное общество
        "ЧАО «Азот» увеличило выпуск",  # a Ukrainian joint-stock company
        "В ЧР прошел турнир",  # Чеченская / Чувашская Республика, чемпионат России
        "Минфин РТ сообщил",
        "Посол РБ выступил на форуме",  # Беларусь as often as Башкортостан or Бурятия
        "ЯО и средства доставки",  # ядерное оружие
        "ГАР и ФИАС обновлены",  # Государственный адресный реестр
        "Кому это выгодно",  # Коми stems as Кому
        "Делегация из Коми",
        "Делегация Тувалу",
        "Мост через Амур",  # the river on the border, China's too
        "Нина пришла на работу",  # Нинся alone stems as Нина
    ],
)
def test_an_ambiguous_look_alike_resolves_to_neither(text: str) -> None:
    assert _hits("RU", text) == ()
    assert _hits("CN", text) == ()


def test_an_abbreviation_matches_only_in_capitals() -> None:
    assert _hits("RU", "Янао и хмао") == ()
    assert _hits("CN", "суар") == ()


def test_the_university_named_by_the_city_is_not_the_city_abbreviation() -> None:
    assert "СПб → Russia" not in _hits("RU", "СПбГУ открыл лабораторию")


@functools.cache
def _gate():
    topic = load_config(ROOT / "config" / "newswatch.toml").topics[0]
    assert topic.model is not None
    return _query(topic)


def test_a_feed_summary_naming_a_region_by_its_abbreviation_passes_the_default_topics_gate() -> None:
    # a real feed summary of a relevant story: ЯНАО is its only Russian name
    summary = "ЯНАО заключил договор с китайскими учеными о совместном изучении птиц"
    assert _gate().holds(prepare("", summary))
