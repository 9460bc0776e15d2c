"""Named sets as features of a learned topic model: each set means what its comment says, in the three languages."""

from __future__ import annotations

import functools

import pytest

from crawler.config import load_config
from crawler.topics import Match, compile_query, with_definitions
from tests.support.topic import CONFIG


@functools.cache
def _set(name: str):  # type: ignore[no-untyped-def]
    sets = dict(load_config(CONFIG).sets)
    return compile_query(with_definitions(f"@{name}", sets))


def hit(name: str, text: str, title: str = "") -> Match | None:
    """The match of the default config's named set ``name`` in an article."""
    return _set(name).match(title, text)


# ---- false forms in existing sets --------------------------------------------------------------


def test_majors_and_masters_are_students_not_the_adjective_or_a_master_plan() -> None:
    assert hit("study_en_ru", "Physics majors and masters students joined the programme, majoring in optics.")
    for text in ("It is a major step for the two academies.", "The city adopted a master plan for the port."):
        assert hit("study_en_ru", text) is None, text


def test_the_lunar_new_year_is_a_holiday_not_space() -> None:
    assert hit("space_en", "The institutes exchanged greetings for the Lunar New Year.") is None
    assert hit("space_en", "The lunar probe carries a Russian instrument.")


def test_one_word_for_the_moon_is_one_hit_of_the_lunar_terms() -> None:
    m = hit("space_ru", "Экспедиция на Луну стартует в 2030 году.")
    assert m is not None and len(m.hits) == 1 and len(m.spans) == 1


@pytest.mark.parametrize(
    "text,country",
    [
        ("民航局已经和俄罗斯联邦航空运输署就CR929飞机适航审定合作开展研究。", True),
        ("CAAC and Rosaviatsia discussed the certification of the widebody airliner.", True),
        ("俄罗斯民航局表示,新规定下月生效。", False),  # another country's regulator: its name comes right before
    ],
)
def test_the_bare_name_of_china_s_civil_aviation_regulator_is_china(text: str, country: bool) -> None:
    m = compile_query("country:CN").match("", text)
    assert (m is not None) is country


@pytest.mark.parametrize(
    "name,texts",
    [
        # a field's words each language's set holds: Mars, palaeontology, inverse problems and theorems, incubators
        ("space", ("A rover will land on Mars.", "Аппарат сядет на Марс.", "探测器将在火星着陆。")),
        (
            "math_physics",
            ("Paleontologists found a new dinosaur.", "Палеонтологи нашли динозавра.", "古生物学家发现了新恐龙。"),
        ),
        ("math_physics", ("a conference on inverse problems", "конференция по обратным задачам", "反问题国际会议")),
        ("math_physics", ("They proved the theorem.", "Они доказали теорему.", "他们证明了这一定理。")),
        ("innovation", ("a new incubator for start-ups", "новый инкубатор стартапов", "新的孵化器")),
    ],
)
def test_a_field_s_word_is_in_its_set_in_each_language(name: str, texts: tuple[str, str, str]) -> None:
    for lang, text in zip(("en", "ru", "zh"), texts):
        assert hit(f"{name}_{lang}", text) is not None, (lang, text)


# ---- sets that only serve as features ----------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Russian and Chinese geologists drilled boreholes in the permafrost of the Lena delta.",
        "Российские и китайские учёные изучают вечную мерзлоту в дельте Лены.",
        "俄罗斯与中国的科学家在冻土中钻探。",
    ],
)
def test_a_field_of_science_in_a_sentence_naming_both_sides(text: str) -> None:
    assert hit("both_fields", text)


@pytest.mark.parametrize(
    "text",
    [
        # the fields are in the names of the institutions, or are subjects taught
        "Harbin Institute of Technology and Bauman Moscow State Technical University signed an agreement on student exchange.",
        "Novosibirsk State University will teach Chinese students from Nanchang University in bachelor's programmes in chemistry.",
        # the sides in different sentences
        "Russian geologists drilled boreholes in the permafrost. A Chinese delegation visited the city.",
    ],
)
def test_no_field_of_science_beside_both_sides_outside_names_and_subjects_taught(text: str) -> None:
    assert hit("both_fields", text) is None


@pytest.mark.parametrize(
    "text",
    [
        "A delegation of Tsinghua University visited the Polytechnic University to discuss joint research projects.",
        "Делегация университета посетила институт, чтобы обсудить совместные исследования.",
        "代表团访问了研究所,双方就联合研究进行了会谈。",
    ],
)
def test_a_meeting_about_research(text: str) -> None:
    assert hit("meeting_research", text)


@pytest.mark.parametrize(
    "text",
    [
        "A delegation of Tsinghua University visited the Polytechnic University to discuss student exchange.",
        "Делегация университета посетила институт, чтобы обсудить обмен студентами.",
        # research inside an institution's name is not what they met about
        "A delegation of Samara National Research University visited Nanjing to discuss student exchange.",
    ],
)
def test_a_meeting_about_students_is_not_about_research(text: str) -> None:
    assert hit("meeting_research", text) is None


@pytest.mark.parametrize(
    "text,fuel",
    [
        ("Gazprom raised gas supplies to China through the pipeline.", True),
        ("Поставки газа в Китай выросли.", True),
        ("中俄东线天然气管道开始供气。", True),
        ("Газета сообщила о новом соглашении.", False),  # a newspaper, not gas
        # the greenhouse gases of climate science and the gases of physics are not fuel
        ("The expedition measured greenhouse gas emissions from the permafrost.", False),
        ("Physicists studied how the gases of the plasma cool.", False),
    ],
)
def test_fossil_fuels(text: str, fuel: bool) -> None:
    assert (hit("fossil_fuels", text) is not None) is fuel
