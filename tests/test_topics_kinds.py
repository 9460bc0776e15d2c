"""Country entities selected by kind: ``country:RU/research``, ``country:CN/company``..."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler import entities
from crawler.errors import QuerySyntaxError
from crawler.topics import compile_query
from scheduler.cli import cli

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")


def hits(query: str, text: str, title: str = "") -> set[str]:
    m = compile_query(query).match(title, text)
    return set(m.hits) if m is not None else set()


@pytest.mark.parametrize(
    "query,text,found,not_found",
    [
        # English
        (
            "country:RU/research",
            "The Russian Academy of Sciences and MIPT signed with Rosatom in Tomsk.",
            "Russian Academy of Sciences → Russia",
            "MIPT → Russia",
        ),
        ("country:RU/university", "The Russian Academy of Sciences and MIPT met.", "MIPT → Russia", "Russia"),
        ("country:RU/company", "Rosatom and the Russian Academy of Sciences met.", "Rosatom → Russia", "Russia"),
        ("country:RU/place", "Scientists in Novosibirsk and Russia met.", "Novosibirsk → Russia", "Russia → Russia"),
        ("country:CN/company", "Huawei and Tsinghua opened a lab.", "Huawei → China", "Tsinghua → China"),
        ("country:CN/agency", "CNSA and CNNC met in Beijing.", "CNSA → China", "CNNC → China"),
        # Russian
        ("country:RU/research", "Учёные СО РАН и ИТМО из Томской области.", "СО РАН → Russia", "ИТМО → Russia"),
        ("country:RU/university", "Учёные СО РАН и ИТМО из Томской области.", "ИТМО → Russia", "СО РАН → Russia"),
        ("country:RU/place", "Учёные СО РАН и ИТМО из Томской области.", "Томская область → Russia", "ИТМО → Russia"),
        ("country:RU/research", "Специалисты ВНИИЖТ и РЖД испытали вагон.", "ВНИИЖТ → Russia", "РЖД → Russia"),
        ("country:RU/company", "Специалисты ВНИИЖТ и РЖД испытали вагон.", "РЖД → Russia", "ВНИИЖТ → Russia"),
        ("country:RU/agency", "Минобрнауки и Росатом подписали план.", "Минобрнауки → Russia", "Росатом* → Russia"),
        # Chinese
        ("country:CN/research", "中科院与华为在成都签署协议", "中科院 → China", "华为 → China"),
        ("country:CN/company", "中科院与华为在成都签署协议", "华为 → China", "成都 → China"),
        ("country:CN/place", "中科院与华为在成都签署协议", "成都 → China", "中科院 → China"),
        ("country:CN/university", "北航与中国科学院合作", "北航 → China", "中国科学院 → China"),
        ("country:CN/name", "中方与北航合作", "中方 → China", "北航 → China"),
        ("country:RU/person", "门捷列夫的元素周期表", "门捷列夫 → Russia", ""),
    ],
)
def test_a_kind_selects_the_names_of_that_kind(query: str, text: str, found: str, not_found: str) -> None:
    got = hits(query, text)
    assert found in got
    assert not_found not in got


def test_academic_is_research_bodies_and_universities() -> None:
    text = "The Chinese Academy of Sciences, Tsinghua and Huawei met in Harbin."
    assert hits("country:CN/academic", text) == {"Chinese Academy of Sciences → China", "Tsinghua → China"}


def test_a_kind_selects_among_the_names_found_the_longest_wins_first() -> None:
    # "Российская" inside the academy's name is the academy, not the country's name
    assert hits("country:RU/name", "Российская академия наук открыла центр.") == set()
    assert hits("country:RU/research", "Российская академия наук открыла центр.") == {
        "Российская академия наук → Russia"
    }


def test_an_institution_named_by_its_place_is_a_university_or_a_research_body() -> None:
    text = "Tomsk Polytechnic University and the Novosibirsk Institute of Organic Chemistry signed."
    assert any("Tomsk Polytechnic" in h for h in hits("country:RU/university", text))
    assert not any("Tomsk Polytechnic" in h for h in hits("country:RU/research", text))
    assert any("Novosibirsk Institute" in h for h in hits("country:RU/research", text))
    zh = hits("country:CN/university", "哈尔滨理工大学代表团")
    assert any(h.startswith("哈尔滨理工大学") for h in zh)


@pytest.mark.parametrize(
    "text,kind",
    [
        # a higher school called an institute: its name says what it teaches
        ("Учёные Уральского горного института и Китая.", "university"),
        ("Новосибирский государственный педагогический институт и Китай.", "university"),
        ("Томский политехнический институт и Китай.", "university"),
        ("Казанский медицинский институт и Китай.", "university"),
        ("Kazan Medical Institute and China signed.", "university"),
        ("Novosibirsk Pedagogical Institute and China signed.", "university"),
        # a research institute: named so, or by nothing a school teaches
        ("Сибирский научно-исследовательский институт сельского хозяйства и Китай.", "research"),
        ("Уральский научно-исследовательский горный институт и Китай.", "research"),
        ("Иркутский институт химии и Китай.", "research"),
        ("Омский НИИ и Китай.", "research"),
        ("Novosibirsk Institute of Organic Chemistry and China signed.", "research"),
    ],
)
def test_an_institute_named_by_its_place_is_of_the_kind_its_name_says(text: str, kind: str) -> None:
    other = "research" if kind == "university" else "university"
    found = hits(f"country:RU/{kind}", text)
    assert found
    assert not hits(f"country:RU/{other}", text)
    assert found == hits("country:RU", text), "the kind chooses among what the country finds, no more"


@pytest.mark.parametrize(
    "text,name",
    [
        ("Rosseti and the State Grid Corporation of China signed.", "Rosseti → Russia"),
        ("Научно-технический центр «Россетей» и Китай.", "Россети → Russia"),
        ("ПАО «ФСК ЕЭС» и Китай.", "ФСК ЕЭС → Russia"),
        ("FGC UES and China signed.", "FGC UES → Russia"),
        ("Федеральной сетевой компании и Китая.", "Федеральная сетевая компания → Russia"),
        ("中国电科院与俄罗斯联邦电网公司", "俄罗斯联邦电网公司 → Russia"),
        ("ОАО «Российские сети» и Китай.", "Российские сети → Russia"),
        ("Russian Grids and China signed.", "Russian Grids → Russia"),
        ("Фонд «Сколково» и технопарк Чжунгуаньцунь.", "Сколково → Russia"),
        ("Skolkovo Foundation and Tus-Holdings signed.", "Skolkovo → Russia"),
        ("斯科尔科沃创新中心与中国企业", "斯科尔科沃 → Russia"),
    ],
)
def test_russias_grid_company_and_the_skolkovo_foundation_are_companies(text: str, name: str) -> None:
    assert name in hits("country:RU/company", text)
    assert not hits("country:RU/research", text)


@pytest.mark.parametrize(
    "text",
    ["Российские сети связи 5G и Китай.", "Russian grids are ageing, China says."],
)
def test_the_grid_companys_former_name_is_not_the_common_words(text: str) -> None:
    assert not hits("country:RU/company", text)
    assert hits("country:RU/name", text)


def test_skoltechs_full_name_is_the_university_not_the_foundation() -> None:
    for text in (
        "Skolkovo Institute of Science and Technology and China.",
        "Сколковского института науки и технологий",
    ):
        assert hits("country:RU/university", text) and not hits("country:RU/company", text)


@pytest.mark.parametrize(
    "text",
    [
        "The Russian Academy of Sciences, MIPT, Rosatom, Minobrnauki and Russia met in Tomsk.",
        "Учёные СО РАН, ИТМО, ВНИИЖТ, РЖД и Роскосмоса из Томской области, Россия.",
        "俄罗斯科学院、莫斯科大学、俄罗斯国家原子能公司和新西伯利亚的门捷列夫研究",
    ],
)
def test_the_kinds_together_find_what_the_country_finds(text: str) -> None:
    every = hits("country:RU", text)
    by_kind = set().union(*(hits(f"country:RU/{k}", text) for k in entities.KINDS))
    assert every and by_kind == every


def test_any_country_has_kinds() -> None:
    assert hits("country:DE/place", "Researchers from Munich and Germany") == {"Munich → Germany"}
    assert hits("country:IN/name", "Researchers from Munich and India") == {"India → India"}


def test_scopes_and_partners_take_a_kind() -> None:
    assert hits("title:country:RU/research", "RAS", title="Tomsk") == set()
    assert hits("title:country:RU/research", "Tomsk", title="RAS") == {"RAS → Russia"}
    q = compile_query("PARTNERS(country:CN/research, country:RU/research)")
    assert q.match("", "The Chinese Academy of Sciences and the Russian Academy of Sciences met.") is not None
    assert q.match("", "Huawei and Rosatom met.") is None
    companies = compile_query("PARTNERS(country:CN/company, country:RU/company, engine*)")
    assert companies.match("", "Huawei and Rosatom will build engines.") is not None
    assert companies.match("", "Huawei and Russia will build engines.") is None


def test_a_kind_may_be_written_in_capitals() -> None:
    assert hits("country:ru/RESEARCH", "Учёные РАН") == {"РАН → Russia"}


@pytest.mark.parametrize(
    "query,expected",
    [
        ("country:RU/academy", "unknown kind 'academy' after 'country:RU/': use one of name, place, research,"),
        ("country:RU/ AND x", "expected a kind after 'country:RU/'"),
    ],
)
def test_a_bad_kind_names_the_valid_kinds(query: str, expected: str) -> None:
    with pytest.raises(QuerySyntaxError) as exc:
        compile_query(query)
    msg = str(exc.value)
    assert expected in msg and "person" in msg
    assert "position 12" in msg


def test_a_bad_kind_in_a_long_query_has_its_line_and_column() -> None:
    with pytest.raises(QuerySyntaxError) as exc:
        compile_query("# partners\nchina AND\n  country:CN/labs")
    first = str(exc.value).splitlines()[0]
    assert "unknown kind 'labs'" in first and "line 3, column 14" in first


def test_check_names_the_set_with_a_bad_kind(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[storage]\ndatabase = "nw.db"\n[sets]\ncn_labs = "country:CN/labs"\n'
        '[[topics]]\nname = "t"\nquery = "@cn_labs"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["-c", str(cfg), "check"])
    assert result.exit_code == 2
    assert "sets.cn_labs" in result.output and "unknown kind 'labs'" in result.output
    assert "Traceback" not in result.output


def test_every_entry_has_a_known_kind_and_a_source() -> None:
    known = set().union(*entities.KINDS.values())
    data = tomllib.loads((REPO / "crawler" / "data" / "entities.toml").read_text(encoding="utf-8"))
    for code, entries in data.items():
        for e in entries:
            assert e.get("kind", "name") in known, (code, e)
            assert e.get("matched_as", "name") in known, (code, e)
            assert e.get("source"), (code, e)


def test_the_readme_documents_every_kind() -> None:
    for kind in entities.KINDS:
        assert f"`country:XX/{kind}`" in README or f"/{kind}`" in README, kind
