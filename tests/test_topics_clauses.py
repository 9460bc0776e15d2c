"""Where PARTNERS' sentences end (a semicolon between two clauses), and third countries it counts."""

from __future__ import annotations

import pytest

from crawler.topics import compile_query, prepare

CN_DE = "PARTNERS(country:CN, country:DE, hydrogen OR electrolys* OR водород* OR электролиз* OR 氢能 OR 电解槽)"
CN_RU = "PARTNERS(country:CN, country:RU, research OR lab* OR scien* OR исследован* OR лаборатори* OR 实验室)"


# --- a semicolon between two clauses ------------------------------------------------------------


@pytest.mark.parametrize(
    ("joined", "apart"),
    [
        (
            "France and China sign hydrogen pact, German firm to supply electrolysers.",
            "France and China sign hydrogen pact; German firm to supply electrolysers.",
        ),
        (
            "Франция и Китай подписали водородный пакт, немецкая компания поставит электролизеры.",
            "Франция и Китай подписали водородный пакт; немецкая компания поставит электролизеры.",
        ),
        # Chinese copy with an ASCII semicolon reads it as ；
        ("中法签署氢能协议，德国企业将提供电解槽。", "中法签署氢能协议;德国企业将提供电解槽。"),
        ("中法签署氢能协议，德国企业将提供电解槽。", "中法签署氢能协议; 德国企业将提供电解槽。"),
    ],
)
def test_a_semicolon_between_two_clauses_ends_one_for_partners(joined: str, apart: str) -> None:
    q = compile_query(CN_DE)
    assert q.match("Energy news", joined) is not None  # one clause names both sides
    assert q.match("Energy news", apart) is None  # Germany and China meet in two stories


def test_a_semicolon_between_two_clauses_ends_one_for_near_and_phrases() -> None:
    assert compile_query("china NEAR/5 germany").match("", "It includes China, Germany and more.") is not None
    assert compile_query("china NEAR/5 germany").match("", "It includes China; Germany builds more.") is None
    assert compile_query('"china germany"').match("", "A pact with China; Germany builds more.") is None


@pytest.mark.parametrize(
    "text",
    [
        # the last item of a list after a semicolon
        "Scientists of Far Eastern Federal University, Vladivostok; and Jilin University, Changchun, opened a lab.",
        "Учёные Дальневосточного федерального университета, Владивосток; и Цзилиньского университета, Чанчунь,"
        " открыли лабораторию.",
        # two or more semicolons in one sentence separate a list's items
        "The lab's founders: Far Eastern Federal University, Vladivostok; Jilin University, Changchun;"
        " Heilongjiang University, Harbin.",
        # a semicolon inside a word or a code is no end
        "Russia;China research lab opened.",
    ],
)
def test_semicolons_of_a_list_end_nothing(text: str) -> None:
    assert compile_query(CN_RU).match("News", text) is not None


def test_a_semicolon_does_not_end_the_sentence_that_headlines_a_text_without_a_title() -> None:
    # the first sentence of a text without a title weighs as a title, its clauses after a semicolon too
    q = compile_query("hydrogen")
    headline = q.match("", "France and China sign a pact; the hydrogen plant opens next year. More follows.")
    body = q.match("", "France and China sign a pact. The hydrogen plant opens next year. More follows.")
    assert headline is not None and body is not None
    assert headline.score > body.score
    f = prepare("", "A pact; a plant. More.").fields["text"]
    assert f.sentence(f.positions[1]) != f.sentence(f.positions[2])  # NEAR and PARTNERS see two clauses


def test_the_title_and_the_first_sentence_s_later_clause_name_the_two_sides() -> None:
    # the headline goes on into the text's first sentence, all its clauses
    q = compile_query(CN_RU)
    text = "Tsinghua was represented by its vice-rector; MSU by its dean of research. They talked."
    assert q.match("Lab delegation welcomed at Tsinghua", text) is not None
    assert q.match("Lab delegation welcomed at Tsinghua", "They talked. MSU sent its dean of research.") is None


# --- a third country named by one of its institutions -------------------------------------------

IN_JP = "PARTNERS(country:IN, country:JP, lunar OR space OR луноход* OR космическ* OR 探月 OR 航天)"


@pytest.mark.parametrize(
    ("alone", "with_third"),
    [
        (
            "India and Japan signed a lunar mission pact. The lander will be ready in a year.",
            "India and Japan signed a lunar mission pact. NASA will provide the lander, NASA engineers said.",
        ),
        (
            "Индия и Япония подписали соглашение о космической миссии. Модуль будет готов через год.",
            "Индия и Япония подписали соглашение о космической миссии. НАСА предоставит модуль, заявили в НАСА.",
        ),
        (
            "印度和日本签署探月合作协议。着陆器将在一年内完成。",
            "印度和日本签署探月合作协议。马普学会将提供着陆器，马普学会表示。",
        ),
    ],
)
def test_a_third_country_named_by_its_agency_is_the_partner(alone: str, with_third: str) -> None:
    q = compile_query(IN_JP)
    assert q.match("Space news", alone) is not None
    # NASA (or the Max Planck Society) named more often than India or Japan: its country is the partner, as its
    # name twice would be
    assert q.match("Space news", with_third) is None


def test_a_third_country_s_research_body_and_university_count_too() -> None:
    q = compile_query("PARTNERS(country:CN, country:RU, research OR lab*)")
    text = "Russia and China opened a research lab. The Fraunhofer Institute leads it; the Max Planck Society funds it."
    assert q.match("Lab news", text) is None
    assert q.match("Lab news", text.replace("Fraunhofer Institute", "team").replace("Max Planck", "local")) is not None
    text = "Russia and China opened a research lab. NASA and JAXA fund it, with MIT and Caltech staff."
    assert q.match("Lab news", text) is None  # the United States' agency and universities, twice more than a side


def test_an_institution_listed_with_both_sides_is_one_more_member_of_the_team() -> None:
    q = compile_query(IN_JP)
    text = "Engineers of ISRO, JAXA and NASA built the lunar rover. NASA tested it."
    assert q.match("Space news", text) is not None


def test_a_name_inside_a_longer_institution_s_name_is_not_counted() -> None:
    from crawler.topics import _nation_places

    doc = prepare("", "École polytechnique fédérale de Lausanne hosts the lab.")
    assert set(_nation_places(doc, {"CN", "RU"})) == {"CH"}  # Switzerland's, not France's École polytechnique
    doc = prepare("", "École polytechnique hosts the lab.")
    assert set(_nation_places(doc, {"CN", "RU"})) == {"FR"}
