"""Named sets, country entities, PARTNERS, EXCEPT, lead:, query caps, and the tools to tune a topic."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from crawler.config import load_config
from crawler.errors import QuerySyntaxError, UsageError
from crawler.evaluate import load_labeled
from crawler.store import Store
from crawler.topics import (
    MAX_EXPANDED_TERMS,
    MAX_TERMS,
    ZONE_WEIGHT,
    Query,
    compile_query,
    prepare,
    with_definitions,
)
from scheduler.cli import cli
from tests.support.articles import article_record
from tests.support.configs import config_problems

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")


# --- named sets ----------------------------------------------------------------------------


def test_sets_are_used_by_name_and_may_use_each_other() -> None:
    sets = {"space": '"lunar station" OR rover*', "st": "@space OR reactor"}
    q = compile_query("Russia AND @st", sets)
    assert q.match("Russia builds a rover", "") is not None
    assert q.match("Russia builds a reactor", "") is not None
    assert q.match("Russia builds a road", "") is None


def test_a_query_s_own_definition_of_a_set_is_the_one_its_text_uses() -> None:
    sets = {"b": "w", "c": "@b OR v"}
    # @b of the query, even where a definition before it names @b; @c of the config keeps the config's @b
    q = compile_query("@a = (@b OR title:@b)\n@b = (z)\n@a AND @c", sets)
    assert q.match("", "z v") is not None and q.match("", "z w") is not None
    assert q.match("", "w v") is None
    assert q.match("z", "v").hits == ("z", "v")  # type: ignore[union-attr]


def test_a_query_that_is_one_set_says_which_of_its_conditions_failed() -> None:
    sets = {"s": "alpha AND bravo AND NOT charlie", "t": "@s"}
    for query in ("@s", "(@t)", "@q = (@s)\n@q"):
        q = compile_query(query, sets)
        assert q.why_not(prepare("", "alpha only")) == "not satisfied: bravo"
        assert q.why_not(prepare("", "alpha bravo charlie")) == "excluded by: NOT charlie — through charlie"


def test_inline_definitions_and_with_definitions_compile_on_their_own() -> None:
    sets = {"a": "x OR y", "b": "@a z", "unused": "nothing"}
    text = with_definitions("@b OR title:@a", sets)
    assert "@unused" not in text and text.index("@a =") < text.index("@b =")
    q = compile_query(text)  # no sets given: the definitions travel with the query
    assert q.match("y", "") is not None
    assert q.match("", "x z") is not None
    assert q.match("", "x") is None  # title:@a scopes the set's terms to the title


def test_a_set_that_calls_partners_travels_with_the_query() -> None:
    # PARTNERS( opens a parenthesis: the definition of @pair ends at its own ')', not at the call's
    sets = {"pair": "PARTNERS(country:CN, country:RU, research) AND (physics OR chemistry)"}
    q = compile_query(with_definitions("@pair", sets))
    assert q.match("China and Russia: joint research in physics", "") is not None
    assert q.match("China and Russia: joint research in history", "") is None


@pytest.mark.parametrize(
    "query,sets,expected",
    [
        ("@nope", {}, "unknown set @nope"),
        ("@a", {"a": "x OR @b", "b": "@a"}, "refers to itself (@a -> @b -> @a)"),
        ("@a = x\n@a", {}, "put the definition of @a in parentheses"),
        ("x @a = (y)", {}, "defined only at the start"),
    ],
)
def test_set_errors_name_the_set(query: str, sets: dict[str, str], expected: str) -> None:
    with pytest.raises(QuerySyntaxError) as exc:
        compile_query(query, sets)
    assert expected in str(exc.value)


def test_config_sets_are_validated_with_key_paths(tmp_path: Path) -> None:
    problems = "\n".join(
        config_problems(
            tmp_path,
            '[sets]\nok = ["science", "lunar station"]\nbad = "(x OR"\n'
            'worse = ["fine", "x*y"]\n[[topics]]\nname = "t"\nquery = "@ok AND @missing"\n',
        )
    )
    assert "sets.bad:" in problems
    assert "sets.worse[1]:" in problems
    assert "topics[0] (t).query: unknown set @missing" in problems


def test_a_set_named_in_russian_or_chinese_works_in_a_topic_a_search_and_another_set(tmp_path: Path) -> None:
    # set names were ASCII only, while source and topic names take any alphabet: an analyst writing a Russian or
    # Chinese topic could not write @наука
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[storage]\ndatabase = "nw.db"\n[sets]\n"наука" = ["наук*", "учён*"]\n"科技" = ["科技", "科学"]\n'
        '"наука-и-техника" = "@наука OR техник*"\n[[topics]]\nname = "ru-sci"\n'
        'query = "Росси* AND (@наука-и-техника OR @科技)"\n',
        encoding="utf-8",
    )
    config = load_config(cfg)
    assert [name for name, _ in config.sets] == ["наука", "科技", "наука-и-техника"]
    query = compile_query(config.topics[0].query)
    assert query.match("Учёные России", "") is not None
    assert query.match("Россия и 科学", "") is not None
    assert query.match("Россия строит", "") is None
    with Store(tmp_path / "nw.db") as store:
        store.add_article(article_record(1, "Учёные России", "Российские учёные провели встречу.", indexed=True))
    for typed in ("@наука", "(@наука)", "（＠наука）", "@наука AND Росси*"):
        result = CliRunner().invoke(cli, ["-c", str(cfg), "search", typed])
        assert result.exit_code == 0 and "Учёные России" in result.output, (typed, result.output)


def test_a_set_name_in_decomposed_letters_is_the_same_set(tmp_path: Path) -> None:
    # "й" typed as и + U+0306 (as some keyboards and macOS file names write it) names the set "й" composed
    sets = {"научный": "наук*"}
    decomposed = "@научны\u0438\u0306"
    assert compile_query(f"Росси* AND {decomposed}", sets).match("Росси наука", "") is not None
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[storage]\ndatabase = "nw.db"\n[sets]\n"научны\u0438\u0306" = ["наук*"]\n'
        '[[topics]]\nname = "t"\nquery = "@научный"\n',
        encoding="utf-8",
    )
    assert [name for name, _ in load_config(cfg).sets] == ["научный"]


def test_a_set_named_in_full_width_letters_is_reached_as_a_query_reads_its_words(tmp_path: Path) -> None:
    # a Chinese input method types ｃｈｉｎａ: the config took it as a name of its own, while a query reads its
    # full-width forms as ASCII (@ｃｈｉｎａ is @china), so neither @ｃｈｉｎａ nor @china could reach the set
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[storage]\ndatabase = "nw.db"\n[sets]\n"ｃｈｉｎａ" = ["China", "Chinese"]\n"ｒｕ＿ｎａｍｅｓ" = ["Russia*"]\n'
        '[[topics]]\nname = "typed"\nquery = "@ｃｈｉｎａ AND @ru_names"\n'
        '[[topics]]\nname = "ascii"\nquery = "@china AND @ｒｕ＿ｎａｍｅｓ"\n',
        encoding="utf-8",
    )
    config = load_config(cfg)
    assert [name for name, _ in config.sets] == ["china", "ru_names"]
    for topic in config.topics:
        query = compile_query(topic.query)
        assert query.match("China and Russia sign a deal", "") is not None, topic.name
        assert query.match("Russia signs a deal", "") is None, topic.name
    assert compile_query("Russia AND @china", {"ｃｈｉｎａ": "China"}).match("Russia, China", "") is not None
    with Store(tmp_path / "nw.db") as store:
        store.add_article(article_record(1, "China and Russia", "Chinese and Russian scientists met.", indexed=True))
    for typed in ("@china", "@ｃｈｉｎａ", "（＠ｃｈｉｎａ）"):
        result = CliRunner().invoke(cli, ["-c", str(cfg), "search", typed])
        assert result.exit_code == 0 and "China and Russia" in result.output, (typed, result.output)
    # the same name written both ways is one set defined twice, and check names the second as written
    problems = config_problems(
        tmp_path, '[sets]\nchina = ["China"]\n"ｃｈｉｎａ" = ["PRC"]\n[[topics]]\nname = "t"\nquery = "@china"\n'
    )
    assert any(
        p.startswith("sets.ｃｈｉｎａ: is the set 'china' again, defined first as sets.china: ") for p in problems
    ), problems  # before: "is the set 'china' again ('china')", the name twice, the first key's place not said
    assert any(p.endswith("keep one of the two (its terms may take the other's)") for p in problems), problems
    problems = config_problems(tmp_path, '[sets]\n"ｃhina" = ["China"]\n"ｃｈｉｎａ" = ["PRC"]\n')
    assert any(
        p.startswith("sets.ｃｈｉｎａ: is the set 'china' again, defined first as sets.ｃhina: ") for p in problems
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("наука наука", "a set name may hold only letters and digits of any alphabet"),
        ("-наука", "a set name may hold only letters and digits of any alphabet"),
        ("наука-", "a set name may hold only letters and digits of any alphabet"),
        ("a.b", "a set name may hold only letters and digits of any alphabet"),
        ("tass\ufe0f", "not U+FE0F VARIATION SELECTOR-16 (character 5)"),
    ],
)
def test_a_set_name_still_refuses_spaces_dots_loose_hyphens_and_invisible_letters(
    tmp_path: Path, name: str, expected: str
) -> None:
    problems = config_problems(tmp_path, f'[sets]\n"{name}" = ["x"]\n[[topics]]\nname = "t"\nquery = "science"\n')
    assert any(
        p.startswith(f"sets.{name}: ") and expected in p and "(queries write it @name)" in p for p in problems
    ), problems


def test_a_chinese_set_name_ends_at_a_space_and_one_written_on_says_so() -> None:
    # Chinese is written without spaces: the name runs on to the next space, and the error says where it ends
    sets = {"科技": "科学", "合作": "协作"}
    assert compile_query("@科技 @合作", sets).match("科学 协作", "") is not None
    assert compile_query("@科技，@合作", sets) is not None  # a full-width comma ends it too
    with pytest.raises(QuerySyntaxError) as exc:
        compile_query("@科技合作", sets)
    assert "unknown set @科技合作" in str(exc.value)
    assert "did you mean @科技 合作? a set's name ends at a space" in str(exc.value)


def test_with_definitions_carries_sets_named_in_any_alphabet() -> None:
    sets = {"наука": "наук*", "科技": "科学 OR @наука"}
    text = with_definitions("Росси* AND @科技", sets)
    assert text.startswith("@наука = (\nнаук*\n)\n@科技 = (\n科学 OR @наука\n)\n")
    assert compile_query(text).match("Россия и наука", "") is not None


def test_an_empty_set_or_an_empty_term_of_a_set_says_so(tmp_path: Path) -> None:
    problems = config_problems(
        tmp_path, '[sets]\nnone = []\nblank = ["science", " "]\n[[topics]]\nname = "t"\nquery = "science"\n'
    )
    assert any(p.startswith("sets.none: is empty: give at least one term") for p in problems), problems
    assert any(p.startswith("sets.blank[1]: is an empty term") for p in problems), problems


def test_a_topic_query_carries_its_sets_so_a_set_change_is_a_query_change(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    body = '[storage]\ndatabase = "nw.db"\n[sets]\nst = {}\n[[topics]]\nname = "t"\nquery = "Russia @st"\n'
    cfg.write_text(body.format('["lunar", "reactor"]'), encoding="utf-8")
    first = load_config(cfg).topics[0]
    assert compile_query(first.query).match("Russia and the lunar base", "") is not None
    cfg.write_text(body.format('["rover"]'), encoding="utf-8")
    second = load_config(cfg).topics[0]
    assert second.query != first.query  # matching.sync_topics re-matches on this


# --- country entities ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "title,text,expected",
    [
        ("", "Учёные Томской области изучают мерзлоту.", "Томская область → Russia"),
        ("", "Пермские учёные подписали соглашение.", "пермск* → Russia"),
        ("", "Researchers from MIPT presented a detector.", "MIPT → Russia"),
        ("", "Сколтех открыл лабораторию.", "Сколтех → Russia"),
        ("", "俄方专家到访", "俄 → Russia"),
        ("", "Rosatom signed the contract.", "Rosatom → Russia"),
        ("Scientists in Novosibirsk", "", "Novosibirsk → Russia"),
    ],
)
def test_country_entities_resolve_names_places_and_institutions(title: str, text: str, expected: str) -> None:
    m = compile_query("country:RU").match(title, text)
    assert m is not None and expected in m.hits


@pytest.mark.parametrize(
    "text,expected",
    [
        ("中科院与俄方签署协议", "中科院 → China"),
        ("北航学生", "北航 → China"),
        ("上海交大的研究团队", "上海交大 → China"),
        ("Учёные КНР и Поднебесной", "КНР → China"),
        ("The Sino-Russian centre", "Sino* → China"),
        ("成都的实验室", "成都 → China"),
    ],
)
def test_china_entities(text: str, expected: str) -> None:
    m = compile_query("country:CN").match("", text)
    assert m is not None and expected in m.hits


def test_belarus_is_not_russia_and_capitals_abbreviations_need_capitals() -> None:
    q = compile_query("country:RU")
    assert q.match("", "白俄罗斯总统访问") is None
    assert q.match("", "俄亥俄州立大学的研究") is None  # Ohio
    assert q.match("", "Много ран и рано утром.") is None  # РАН only in capitals
    assert q.match("", "Учёные РАН") is not None


def test_any_country_by_iso_code() -> None:
    assert compile_query("country:IN").match("", "Scientists in Bengaluru") is not None
    assert compile_query("country:de").match("", "Researchers from Munich") is not None
    with pytest.raises(QuerySyntaxError, match="unknown country code 'XX' after 'country:'"):
        compile_query("country:XX")
    with pytest.raises(QuerySyntaxError, match="expected a country's two-letter ISO code"):
        compile_query("country:JPN")


def test_an_unknown_set_close_to_a_defined_one_names_it() -> None:
    sets = {"ij_fields": "space", "ij_off": "navy", "big_science": "collider"}
    with pytest.raises(QuerySyntaxError, match=r"unknown set @ij_feilds: .*\(did you mean @ij_fields\?\)"):
        compile_query("@ij_feilds AND @ij_off", sets)
    with pytest.raises(QuerySyntaxError, match=r"\(sets: @big_science, @ij_fields, @ij_off\)"):
        compile_query("@quantum", sets)  # nothing close: the sets there are


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("partners(country:IN, country:JP, chip*)", "PARTNERS( ... ) is written in capitals"),
        ("country:IN AND glue(and)", "GLUE( ... ) is written in capitals"),
    ],
)
def test_partners_or_glue_not_in_capitals_is_named(query: str, message: str) -> None:
    with pytest.raises(QuerySyntaxError, match=re.escape(message)):
        compile_query(query)
    assert compile_query("partners (chip OR lab)").match("Partners in chip research", "") is not None  # a word


def test_an_unclosed_parenthesis_of_a_long_query_is_placed_by_line_and_column() -> None:
    query = "# India and Japan\n# as partners\n(\n  (country:IN AND space\n  OR country:JP\n"
    with pytest.raises(QuerySyntaxError) as exc:
        compile_query(query)
    assert "expected ')' to close the '(' at line 4, column 3, but the query ended at line 5" in str(exc.value)


def test_the_longest_name_wins_where_names_overlap() -> None:
    m = compile_query("country:RU").match("", "Российская академия наук")
    assert m is not None and m.hits == ("Российская академия наук → Russia",)


@pytest.mark.parametrize(
    "code,text",
    [
        ("CN", "Индийские учёные дали высокую оценку проекту."),  # дали "gave", not the city Dali
        ("CN", "The journey took 12 days."),  # days ~ Daye only in lower case
        ("RU", "Vladimir Putin met the delegation."),  # a first name before a surname
        ("RU", "Владимир Путин встретился с учёными."),
        ("RU", "Встреча с Владимиром Владимировичем прошла вчера."),
    ],
)
def test_place_names_that_are_common_words_or_first_names_are_not_places(code: str, text: str) -> None:
    assert compile_query(f"country:{code}").match("", text) is None


@pytest.mark.parametrize(
    "code,text,expected",
    [
        ("CN", "Делегация прибыла в Дали в понедельник.", "Дали → China"),
        ("RU", "A new lab opened in Vladimir last year.", "Vladimir → Russia"),
        ("RU", "Лаборатория открылась во Владимире, Москве и Казани.", "Владимир → Russia"),
    ],
)
def test_capitalised_place_names_still_resolve(code: str, text: str, expected: str) -> None:
    m = compile_query(f"country:{code}").match("", text)
    assert m is not None and expected in m.hits


@pytest.mark.parametrize("text", ["我国科技部表示支持。", "科技部部长访问河内。"])
def test_words_for_any_country_own_institutions_resolve_to_none(text: str) -> None:
    # 我国 "our country" and a bare 科技部 are the writer's own country, whichever it is
    assert compile_query("country:CN").match("", text) is None
    m = compile_query("country:CN").match("", "中国科技部表示支持。")
    assert m is not None and "中国科技部 → China" in m.hits


@pytest.mark.parametrize(
    "code,text,expected",
    [
        ("CN", "Huawei opened a centre for mathematicians.", "Huawei → China"),
        ("CN", "华为与高校合作", "华为 → China"),
        ("RU", "Специалисты «Яндекса» обучили нейросеть.", "Яндекс* → Russia"),
        ("RU", "Kaspersky researchers found the flaw.", "Kaspersky → Russia"),
    ],
)
def test_national_technology_companies_are_their_country(code: str, text: str, expected: str) -> None:
    m = compile_query(f"country:{code}").match("", text)
    assert m is not None and expected in m.hits


# --- PARTNERS, EXCEPT, lead: ---------------------------------------------------------------

PARTNERS = "PARTNERS(country:CN, country:RU, research OR lab* OR scien*, arms OR trade)"


def test_partners_in_one_sentence_with_the_activity() -> None:
    q = compile_query(PARTNERS)
    assert q.match("News", "MIPT and Tsinghua opened a joint lab. Other things happened.") is not None
    # both named, but the S&T word is in another sentence: not partners
    assert q.match("News", "China and Russia met. Separately, a lab opened in Kenya.") is None


def test_two_academic_institutions_in_one_sentence_are_partners_in_their_own_right() -> None:
    q = compile_query(PARTNERS)
    # no S&T word of the query's own, but two universities agreeing is academic cooperation
    assert q.match("News", "Tsinghua and Bauman signed a cooperation agreement.") is not None
    # a place and a university are not two institutions: the activity is still required
    assert q.match("News", "Students from Moscow visited Tsinghua this week.") is None


def test_partners_in_the_title_with_the_activity_in_the_lead() -> None:
    q = compile_query(PARTNERS)
    assert q.match("China, Russia sign agreement", "The deal covers joint research on lunar soil.") is not None


def test_one_side_in_the_title_and_the_other_in_the_text_s_first_sentence_are_partners() -> None:
    q = compile_query(PARTNERS)
    title = "Chinese delegation welcomed at the university"
    lead = "Rectors of Tomsk Polytechnic University met the guests. They discussed joint research on batteries."
    m = q.match(title, lead)
    assert m is not None and "Tomsk Polytechnic → Russia" in m.hits
    # a side named only after the first sentence is not in the headline
    later = "The guests toured the labs. Rectors of Tomsk Polytechnic University discussed joint research on batteries."
    assert q.match(title, later.replace("research", "plans")) is None
    # nor is one in a sentence the fourth argument rules out
    assert q.match(title, "Tomsk Polytechnic University signed an arms deal. They discussed joint research.") is None


def test_a_sentence_about_arms_or_trade_does_not_make_partners() -> None:
    q = compile_query(PARTNERS)
    assert q.match("News", "China bought arms from Russia after research by a lab.") is None
    assert q.match("China and Russia expand trade", "Research labs were mentioned too.") is None


def test_one_name_is_not_both_partners() -> None:
    # 中俄 names both sides; a single Russia name cannot stand for China too
    assert compile_query("PARTNERS(country:RU, country:RU, 科研)").match("", "俄罗斯科研") is None
    assert compile_query("PARTNERS(country:CN, country:RU, 科研)").match("", "中俄科研合作") is not None


def test_a_passing_mention_in_the_body_scores_below_a_headline_partnership() -> None:
    q = compile_query(PARTNERS)
    body = "Scientists opened labs. " * 15 + "China and Russia also do research."
    passing = q.match("Science ties", body)
    headline = q.match("China and Russia open research lab", "Scientists of both countries met.")
    assert passing is not None and headline is not None and headline.score > 2 * passing.score
    # where a third country is the partner (Kenya and India, named more often), none at all
    third = "Kenya and India opened labs. " * 15 + "China and Russia also do research."
    assert q.match("Kenya-India science ties", third) is None


def test_an_article_without_a_title_is_headlined_by_its_first_sentence() -> None:
    q = compile_query(PARTNERS)
    first = "MISIS scientists and Chinese colleagues made a new composite for research at low temperatures."
    rest = " It keeps its strength in severe frost. The material may find use in cryogenic industry."
    untitled = q.match("", first + rest)
    # the first sentence's terms weigh as a title's (MISIS, scientists, Chinese, research)
    assert untitled is not None and len(untitled.hits) == 4
    assert untitled.score == pytest.approx(4 * ZONE_WEIGHT["title"])
    # with a title, the same sentence in the text weighs as a lead's
    lead_only = q.match("Frost-resistant composite", first + rest)
    assert lead_only is not None and untitled.score > lead_only.score


def test_words_inside_a_university_name_are_not_the_activity() -> None:
    q = compile_query("PARTNERS(country:CN, country:RU, technolog* OR institute* OR research)")
    # the only S&T words are part of a university's name: a university and a city at a festival
    assert q.match("News", "Harbin Institute of Technology and Novosibirsk held a dance festival.") is None
    # two universities are academic partners in their own right, unless the sentence is off-topic
    festival = "Harbin Institute of Technology and Novosibirsk State University held a dance festival."
    off = compile_query("PARTNERS(country:CN, country:RU, technolog* OR institute* OR research, festival*)")
    assert off.match("News", festival) is None
    assert q.match("News", "Harbin Institute of Technology and Novosibirsk State University do research.")
    # two academic institutions are partners whatever words their names hold
    academies = compile_query("PARTNERS(country:CN, country:RU, academy OR scien*)")
    assert academies.match("News", "The Russian Academy of Sciences and Tsinghua met.") is not None


def test_words_inside_an_academy_or_institute_name_are_not_the_activity() -> None:
    # a member of an academy speaking of farming: the academy is who speaks, not what the sides do
    q = compile_query("PARTNERS(country:CN, country:RU, academy OR scien* OR research)")
    member = "Russia and China can grow rice together, a member of the Chinese Academy of Sciences said."
    assert q.match("News", member) is None
    assert q.match("News", "Russia and China can research rice together, the Chinese Academy of Sciences said.")


def test_a_third_country_named_more_often_is_the_partner() -> None:
    q = compile_query("PARTNERS(country:CN, country:RU, research OR scien*)")
    body = (
        "Indian and Russian scientists opened a lab in Bangalore. India will send researchers to Moscow. "
        "Russian researchers once worked with Chinese scientists on it. Indian officials were pleased."
    )
    assert q.match("India and Russia open a lab", body) is None  # India is the partner: China is in passing
    # the same body under a China–Russia headline is about China and Russia
    assert q.match("China and Russia extend research to India", body) is not None
    # a third country in the title, where the two sides are not both, leads too
    lead = "Chinese and Russian scientists study the monsoon."
    assert q.match("Indian monsoon project", lead) is None
    assert q.match("Monsoon project", lead) is not None
    # any pair: the rule is the same for India and Russia with China as the third country
    pair = compile_query("PARTNERS(country:IN, country:RU, research OR scien*)")
    assert pair.match("India and Russia open a lab", body) is not None


@pytest.mark.parametrize(
    "code,text",
    [
        ("IR", "Iranian engineers"),
        ("IR", "иранские инженеры"),
        ("TR", "Turkish physicists"),
        ("VN", "вьетнамских учёных"),
        ("KR", "Korean engineers"),
        ("KR", "Якутские и корейские мерзлотоведы"),
    ],
)
def test_a_country_is_found_by_its_adjective_as_by_its_name(code: str, text: str) -> None:
    assert compile_query(f"country:{code}").match("", text) is not None


def test_north_korean_is_north_korea_s_and_not_the_south_s() -> None:
    for text in ("North Korean engineers", "северокорейские инженеры"):
        assert compile_query("country:KP").match("", text) is not None
        assert compile_query("country:KR").match("", text) is None


@pytest.mark.parametrize(
    "text",
    [
        "India and China will explore the Moon together, analysts told Russia Beyond.",
        "Индия и Китай вместе исследуют Луну, сообщает «Российская газета».",
        "据俄新社报道,中国愿意和印度共同探测月球。",
        "有分析人员向《今日俄罗斯》透露,中国愿意和印度共同探测月球。",
    ],
)
def test_a_news_outlet_named_after_a_country_is_not_a_mention_of_it(text: str) -> None:
    q = compile_query("country:CN AND country:RU")
    assert q.match("", text) is None  # the outlet is a source, not a party
    # the country named as itself still counts, beside the outlet's name too
    assert q.match("", text + " Russia / Россия / 俄罗斯.") is not None
    assert compile_query("country:RU").match("", "China and Russia today signed an agreement.") is not None


@pytest.mark.parametrize(
    "text",
    ["Scientists told China Daily that Russia and India will build a reactor.", "中国日报网5月18日电 俄印两国科学家"],
)
def test_a_chinese_outlet_is_not_a_mention_of_china(text: str) -> None:
    assert compile_query("country:CN").match("", text) is None


def test_a_korean_partner_is_a_third_country() -> None:
    q = compile_query("PARTNERS(country:CN, country:RU, научн* OR research*)")
    # Korea and Russia lead (the headline names them, not China): China meets Russia in passing
    body = "Korean and Russian researchers opened a station. Russian and Chinese researchers will see its data."
    assert q.match("Korean and Russian researchers open a permafrost station", body) is None
    title = "Якутские и корейские мерзлотоведы откроют научную станцию"
    text = "Учёные откроют станцию. Российские и китайские научные группы получат её данные."
    assert q.match(title, text) is None
    assert q.match("Permafrost station opens", body) is not None  # no third country in the headline


@pytest.mark.parametrize(
    "code,text",
    [("RU", "雅库茨克的学者"), ("RU", "克拉斯诺亚尔斯克的科学家"), ("PL", "учёные из Варшавы"), ("GR", "Афины")],
)
def test_a_city_is_found_by_the_name_cldr_gives_it_where_geonames_has_none(code: str, text: str) -> None:
    assert compile_query(f"country:{code}").match("", text) is not None


def test_a_third_country_named_by_its_adjective_is_the_partner() -> None:
    q = compile_query("PARTNERS(country:CN, country:RU, космическ* OR ракет*)")
    title = "Иранский спутник выведен на орбиту российской ракетой"
    text = (
        "Иранский спутник выведен на орбиту российской ракетой с космодрома Восточный. В Тегеране заявили о намерении"
        " продолжить космическое сотрудничество с Россией, а также рассматривают запуски на китайских ракетах."
    )
    assert q.match(title, text) is None  # Iran is the partner of each side; China and Russia meet in passing
    assert compile_query("PARTNERS(country:IR, country:RU, космическ* OR ракет*)").match(title, text) is not None


def test_the_european_union_is_a_third_party_as_a_country_is() -> None:
    q = compile_query("PARTNERS(country:CN, country:RU, research OR scien* OR 科研 OR научн*)")
    body = "China is ready to work with the EU and other partners, including Russia, on open research."
    assert q.match("China and the European Union extend their science agreement", body) is None
    assert q.match("China extends its science agreements", body) is not None  # no union in the headline
    assert (
        q.match(
            "Китай и Европейский союз продлили соглашение",
            "Китай готов вместе с ЕС и Россией строить открытую научную среду.",
        )
        is None
    )
    assert q.match("中国与欧盟续签科技合作协定", "中方愿同欧盟以及包括俄罗斯在内的伙伴共同开展科研。") is None


def test_a_third_country_named_more_often_in_the_title_is_the_partner_even_beside_both_sides() -> None:
    q = compile_query("PARTNERS(country:CN, country:RU, research OR scien*)")
    # Belarus four times in a long headline; China once, Russia once (a Belarusian's name taken for Russian)
    title = (
        "Belarus and China: Belarus's academy of sciences, the Belarusian Academy, and Belarus's Ivanov from "
        "Russia expand research with China"
    )
    assert q.match(title, "Research with China grows.") is None
    # a third country named in the title as often as the sides is not: the headline is about the two
    assert q.match("China and Russia extend research to India", "Research grows.") is not None


def test_a_side_may_leave_some_of_its_names_out_and_is_still_a_country() -> None:
    q = compile_query('PARTNERS(country:CN, country:RU EXCEPT "Russian media", research OR scien*)')
    assert q.match("News", "Chinese scientists do research, Russian media report.") is None
    assert q.match("News", "Chinese and Russian scientists do research, Russian media report.") is not None
    # the third-country rule still knows the sides are China and Russia
    body = "Indian and Chinese scientists opened a lab. India will send researchers. " * 3
    assert q.match("Science", body + "Chinese and Russian scientists do research too.") is None


def test_a_country_name_inside_a_side_s_place_name_is_the_side_s() -> None:
    # 蒙古 in 内蒙古 (Inner Mongolia, China) is not Mongolia
    q = compile_query("PARTNERS(country:CN, country:RU, 研究)")
    assert q.match("内蒙古与布里亚特共和国开展研究", "内蒙古的科学家与乌兰乌德的学者共同研究草原。") is not None


def test_a_province_s_short_form_paired_with_russia_is_china_s_side() -> None:
    # 赣俄 is Jiangxi and Russia, as 中俄 is China and Russia
    gate = compile_query("country:CN AND country:RU")
    assert gate.match("赣俄就质谱技术应用展开深度合作", "两位院士受聘为名誉教授。") is not None
    assert gate.match("鲁俄高校联盟成立", "双方将开展联合研究。") is not None
    # Soviet Russia, and Tokyo's embassy, are not China's
    assert compile_query("country:CN").match("", "苏俄时期的档案在东京俄罗斯大使馆展出。") is None


@pytest.mark.parametrize("text", ["广东的实验室", "新疆的科学家", "内蒙古农业大学"])
def test_chinese_regions_without_their_type(text: str) -> None:
    assert compile_query("country:CN").match("", text) is not None


@pytest.mark.parametrize(
    "text",
    ["Хэйлунцзянские селекционеры вывели сорт сои", "учёные провинции Цзянсу", "в университетах Ляонина"],
)
def test_chinese_regions_in_russian_by_their_palladius_names(text: str) -> None:
    # pycountry has no Russian names for most Chinese provinces; tools/build_places.py writes them
    assert compile_query("country:CN").match("", text) is not None


def test_except_drops_places_inside_the_longer_word() -> None:
    q = compile_query("卫星 EXCEPT 卫星通讯社")
    assert q.match("", "俄罗斯卫星通讯社报道") is None
    assert q.match("", "联合研制卫星") is not None


def test_lead_scope_is_the_title_and_the_first_characters() -> None:
    q = compile_query("lead:reactor")
    assert q.match("", "A reactor opened.") is not None
    assert q.match("", "x " * 200 + "A reactor opened.") is None


@pytest.mark.parametrize(
    ("query", "title", "text", "matched"),
    [
        # the first word in the lead is enough: a phrase may end past it
        ('lead:"fast reactor"', "", "x " * 147 + "fast reactor", True),
        ('lead:"fast reactor"', "", "x " * 150 + "fast reactor", False),
        ("lead:(reactor* OR кита* OR 反应堆)", "", "x " * 200 + "reactors Китая 反应堆", False),
        ("lead:(reactor* OR кита* OR 反应堆)", "Китаю", "x " * 200, True),
        ("lead:(reactor* OR кита* OR 反应堆)", "", "建设反应堆", True),
        ("title:(reactor OR lab)", "News", "A reactor and a lab.", False),
        ("title:(reactor OR lab)", "The lab", "", True),
        ('title:"joint lab"', "A joint", "lab", False),
    ],
)
def test_scoped_terms_look_in_their_scope_only(query: str, title: str, text: str, matched: bool) -> None:
    assert (compile_query(query).match(title, text) is not None) is matched


# --- caps and errors -----------------------------------------------------------------------


def test_a_huge_query_is_refused_with_a_clear_message() -> None:
    with pytest.raises(QuerySyntaxError, match=f"more than {MAX_TERMS} terms"):
        compile_query(" OR ".join(f"w{i}" for i in range(MAX_TERMS + 1)))
    # sets that double at each level count once each, but matching gathers the places of every use: 2**30
    # uses are refused, before the query is built
    sets = {f"s{i}": f"@s{i + 1} OR @s{i + 1}" for i in range(30)} | {"s30": "x"}
    with pytest.raises(QuerySyntaxError, match=f"more than {MAX_EXPANDED_TERMS} terms when its sets are written out"):
        compile_query("@s0", sets)
    sets = {f"s{i}": f"@s{i + 1} OR @s{i + 1}" for i in range(14)} | {"s14": "x"}
    assert compile_query("@s0", sets).match("", "x") is not None  # 16,384 uses of x


@pytest.mark.parametrize("inline", [True, False])
def test_a_set_s_terms_count_once_however_often_the_query_uses_it(inline: bool) -> None:
    words = " OR ".join(f"w{i}" for i in range(MAX_TERMS * 2 // 3))
    other = " OR ".join(f"v{i}" for i in range(MAX_TERMS // 2))
    sets = {"big": words, "other": other}
    defs = f"@big = ({words})\n@other = ({other})\n" if inline else ""

    def compiled(body: str) -> Query:
        return compile_query(defs + body, None if inline else sets)

    # used in each scope, under EXCEPT, NEAR and GLUE: every use keeps its own meaning
    q = compiled("@big AND (lead:@big OR y) AND NOT (title:@big EXCEPT w1) AND (x NEAR/2 @big OR GLUE(@big))")
    assert q.match("", "w7 x").hits == ("w7", "x")  # type: ignore[union-attr]
    assert q.match("w1 w3", "w7 x") is None  # title:@big holds in the title
    assert q.match("w1 ranks", "w7 x") is not None  # w1 is not @big in the title: the EXCEPT takes it out
    assert q.match("", "y " + "z " * 700 + "w7 x") is not None  # @big not in the lead: y instead
    assert q.match("", "w7 " + "z " * 10 + "x") is not None  # not near x, but glued
    glued = compiled("GLUE(@big) AND (w5 OR NOT w5)").match("", "w5 w7")
    assert glued is not None and glued.hits == ("w5",)  # listed where it is also evidence
    # a defined set unused counts nothing; another set's terms count too
    assert compiled("@big AND @big AND x").match("", "w7 x") is not None
    with pytest.raises(QuerySyntaxError, match=f"more than {MAX_TERMS} terms \\(each set counted once"):
        compiled("@big AND (@other OR @big)")


def test_a_long_query_error_shows_line_column_and_caret() -> None:
    query = "# a long query\nchina AND\n  (russia OR\n   moscow AND (x OR\n"
    with pytest.raises(QuerySyntaxError) as exc:
        compile_query(query)
    msg = str(exc.value)
    assert "line 5, column 1" in msg or "line 4" in msg
    lines = msg.splitlines()
    caret = next(i for i, line in enumerate(lines) if line.strip() == "^")
    assert lines[caret - 1].strip() != ""  # the offending line is shown above the caret
    assert query not in msg  # not the whole query


# --- CLI: topics eval, search --topic ------------------------------------------------------


def _labeled(tmp_path: Path) -> Path:
    rows = [
        {"id": "a", "language": "en", "title": "MIPT and Tsinghua open a joint lab", "text": "Research.", "label": 1},
        {"id": "b", "language": "en", "title": "Russian and Chinese scientists", "text": "They met.", "label": True},
        {"id": "c", "language": "ru", "title": "Китай и Россия торгуют", "text": "Торговля растёт.", "label": 0},
        {"id": "d", "language": "ru", "title": "Учёные РАН и КНР", "text": "Лаборатория.", "label": "no"},
    ]
    p = tmp_path / "l.jsonl"
    p.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return p


def _config(tmp_path: Path) -> Path:
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[storage]\ndatabase = "nw.db"\n[sets]\nst = ["lab*", "research*", "лаборатор*"]\n'
        '[[topics]]\nname = "cr"\nquery = "PARTNERS(country:CN, country:RU, @st)"\nmin_score = 1.0\n',
        encoding="utf-8",
    )
    return cfg


def test_topics_eval_prints_precision_recall_and_each_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["-c", str(_config(tmp_path)), "topics", "eval", str(_labeled(tmp_path))])
    assert result.exit_code == 0, result.output
    out = result.output
    assert re.search(r"en\s+2\s+2\s+1\.000\s+0\.500", out)  # precision 1, recall 0.5 in English
    assert re.search(r"ru\s+2\s+0\s+0\.000\s+-\s", out)  # one false alarm in Russian; no relevant story to recall
    assert "misses (relevant, not matched): 1" in out and "  b [en] no match" in out
    # why b is not matched: the condition that failed, and what the article had of each argument
    assert (
        "why: not satisfied: PARTNERS(country:CN, country:RU, @st) (side a: Chinese → China; "
        "side b: Russian → Russia; what: none; not together in a sentence or the headline)"
    ) in out
    assert "false alarms: 1" in out and "  d [ru] score" in out and "РАН → Russia" in out


def test_topics_eval_gives_no_figure_where_there_is_nothing_to_measure(tmp_path: Path) -> None:
    """A language with no relevant story had recall 1.000, and one where the topic matched nothing precision 1.000:
    a perfect figure for what was never measured. Each is '-' now (null in the JSON)."""
    rows = [
        {"id": "a", "language": "en", "title": "Weather in Kenya", "text": "Rain.", "label": 0},
        {"id": "b", "language": "ru", "title": "Учёные РАН и КНР", "text": "Лаборатория.", "label": 1},
        {"id": "c", "language": "ru", "title": "Россия и Китай", "text": "Встреча.", "label": 1},
    ]
    f = tmp_path / "l.jsonl"
    f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    args = ["-c", str(_config(tmp_path)), "topics", "eval", str(f)]
    result = CliRunner().invoke(cli, [*args, "--summary"])
    assert result.exit_code == 0, result.output
    assert re.search(r"\n  en\s+1\s+0\s+-\s+-\s+0\s+0\s+0\n", result.output)  # nothing relevant, nothing matched
    assert re.search(r"\n  ru\s+2\s+2\s+1\.000\s+0\.500\s+1\s+0\s+1\n", result.output)
    (topic,) = json.loads(CliRunner().invoke(cli, [*args, "--json"]).output)
    assert topic["languages"]["en"] == {"precision": None, "recall": None, "tp": 0, "fp": 0, "fn": 0}
    assert topic["all"]["precision"] == 1.0 and topic["all"]["recall"] == 0.5


def test_topics_eval_says_which_condition_excluded_a_story_and_through_which_words(tmp_path: Path) -> None:
    query = "PARTNERS(country:CN, country:RU, @st) AND NOT (title:trade* OR title:exports) AND NOT (NOT joint)"
    cfg = _config(tmp_path)
    args = ["-c", str(cfg), "topics", "eval", str(_labeled(tmp_path)), "--query", query, "--json"]
    rows = [
        {
            "id": "x",
            "language": "en",
            "title": "Russian and Chinese labs trade data",
            "text": "A joint lab.",
            "label": 1,
        },
        {"id": "y", "language": "en", "title": "Russian and Chinese labs", "text": "Research.", "label": 1},
        {"id": "z", "language": "en", "title": "Russian and Chinese labs", "text": "A joint lab.", "label": 1},
    ]
    labeled = tmp_path / "x.jsonl"
    labeled.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    args[4] = str(labeled)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    misses = {v["id"]: v["why_not"] for v in json.loads(result.output)[0]["misses"]}
    assert set(misses) == {"x", "y"}  # z matches
    assert misses["x"] == "excluded by: NOT (title:trade* OR title:exports) — through trade*"
    assert misses["y"] == "not satisfied: NOT (NOT joint) (none of it is in the article)"


def test_a_topic_named_twice_is_measured_once(tmp_path: Path) -> None:
    """`--topic cr --topic cr` (a command line grown by editing) printed the same table twice."""
    args = ["-c", str(_config(tmp_path)), "topics", "eval", str(_labeled(tmp_path)), "--topic", "cr", "--topic", "cr"]
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    assert [t["topic"] for t in json.loads(result.output)] == ["cr"]
    assert CliRunner().invoke(cli, [*args, "--summary"]).output.count("topic cr ") == 1


def test_topics_eval_json_and_query_option(tmp_path: Path) -> None:
    args = ["-c", str(_config(tmp_path)), "topics", "eval", str(_labeled(tmp_path)), "--query", "@st", "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data[0]["topic"] == "query" and data[0]["all"]["tp"] == 1


@pytest.mark.parametrize(
    "content,expected",
    [
        ('{"title": "x", "text": "y"}\n', "line 1: each story needs"),
        ("not json\n", "line 1: not JSON"),
        ('{"title": "x", "text": "y", "label": "maybe"}\n', "'label' must be true or false"),
    ],
)
def test_topics_eval_bad_file_is_one_line(tmp_path: Path, content: str, expected: str) -> None:
    f = tmp_path / "bad.jsonl"
    f.write_text(content, encoding="utf-8")
    result = CliRunner().invoke(cli, ["-c", str(_config(tmp_path)), "topics", "eval", str(f)])
    assert result.exit_code == 2
    assert expected in result.output and "Traceback" not in result.output


def test_a_labeled_file_not_in_utf8_is_named_by_its_line_and_how_to_fix_it(tmp_path: Path) -> None:
    """A line saved in windows-1251 read "cannot read it as UTF-8 text ('utf-8' codec can't decode byte 0xd0 in
    position 20: invalid continuation byte)": a byte offset, no line and no way out."""
    f = _labeled(tmp_path)
    f.write_bytes(f.read_bytes() + '{"title": "Учёные", "text": "Лаборатория.", "label": 1}\n'.encode("cp1251"))
    config = str(_config(tmp_path))
    for args in (["topics", "eval", str(f)], ["topics", "train", str(f), "-o", str(tmp_path / "m.json")]):
        result = CliRunner().invoke(cli, ["-c", config, *args])
        assert result.exit_code == 2, (args, result.output)
        assert result.output == f"error: {f} line 5: not UTF-8 text; save the file as UTF-8\n", args


def test_a_labeled_file_s_json_values_are_named_as_json_writes_them(tmp_path: Path) -> None:
    """A label of null was "found None", Python's word, and an id of null made the story "None" in the report."""
    f = tmp_path / "l.jsonl"
    f.write_text('{"id": "a", "title": "t", "text": "x", "label": null}\n', encoding="utf-8")
    with pytest.raises(UsageError, match=r"'label' must be true or false \(or a topic's name\), found null$"):
        load_labeled(f)
    f.write_text(
        '{"id": "a", "title": "t", "text": "x", "label": 1}\n{"id": null, "title": "t", "text": "x", "label": 1}\n'
    )
    assert [s.id for s in load_labeled(f)] == ["a", "2"]  # no id: its line number, as a missing one


def test_a_labeled_file_s_language_that_is_no_code_is_warned_of_once_and_an_empty_story_refused(
    tmp_path: Path,
) -> None:
    """'language': 'cn' (Chinese is zh) was taken silently: its stories made a row 'cn' of their own and were scored
    without zh's weight; a story with no title and no text counted under language '?'."""
    rows = [
        {"language": "en", "title": "MIPT and Tsinghua open a joint lab", "text": "Research.", "label": "cr"},
        {"language": "cn", "title": "中俄联合实验室", "text": "中国和俄罗斯的科学家在实验室合作研究。", "label": "cr"},
        {"language": "cn", "title": "中俄贸易", "text": "中国和俄罗斯的贸易继续增长。", "label": 0},
    ]
    f = tmp_path / "named.jsonl"
    f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    cfg = _config(tmp_path)
    cfg.write_text(  # a second topic: the file is read once for each, and said once
        cfg.read_text(encoding="utf-8") + '[[topics]]\nname = "cr2"\nquery = "@st"\nmin_score = 1.0\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["-c", str(cfg), "topics", "eval", str(f), "--json"])
    assert result.exit_code == 0, result.output
    assert [x for x in result.stderr.splitlines() if x.startswith("warning:")] == [
        f"""warning: {f} lines 2, 3: 'language' 'cn' is no language code; read as 'zh', the language its text is in """
        """(write "zh", or leave 'language' out)"""
    ]
    assert sorted(json.loads(result.stdout)[0]["languages"]) == ["en", "zh"]
    f.write_text(f.read_text(encoding="utf-8") + '{"title": " ", "text": "", "label": 0}\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["-c", str(cfg), "topics", "eval", str(f)])
    assert (result.exit_code, result.stderr) == (
        2,
        f"error: {f} line 4: the story's title and text are both empty; give it one, or remove the line\n",
    )


def test_topics_eval_warns_of_a_label_naming_no_configured_topic(tmp_path: Path) -> None:
    rows = [
        {"title": "MIPT and Tsinghua open a joint lab", "text": "Research.", "label": "cr"},
        {"title": "Учёные РАН и КНР", "text": "Лаборатория.", "label": "c-r"},  # a misspelt name: relevant to none
    ]
    f = tmp_path / "named.jsonl"
    f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["-c", str(_config(tmp_path)), "topics", "eval", str(f), "--summary"])
    assert result.exit_code == 0, result.output
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("warning:")]
    assert "label 'c-r' (line 2) names no configured topic" in line and "(topics: cr)" in line


def test_a_file_whose_every_topic_name_is_misspelt_is_refused_naming_the_topic_it_meant(tmp_path: Path) -> None:
    """No label names a configured topic: eval said "'label' must be true or false (or a topic's name), found 'c-r'"
    of a topic's name, without the one meant; train read every such story as irrelevant ('hold no relevant story')."""
    rows = [
        {"title": "MIPT and Tsinghua open a joint lab", "text": "Research.", "label": 0},
        {"title": "Учёные РАН и КНР", "text": "Лаборатория.", "label": "c-r"},
        {"title": "China and Russia: joint research", "text": "Research.", "label": "c-r"},
    ]
    f = tmp_path / "named.jsonl"
    f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    line = (
        f"error: {f} line 2: 'label' must be true or false (1/0) or a configured topic's name, found 'c-r'; "
        "did you mean 'cr'? configured topics: cr"
    )
    config = str(_config(tmp_path))
    for args in (["topics", "eval", str(f)], ["topics", "train", str(f), "-o", str(tmp_path / "m.json")]):
        result = CliRunner().invoke(cli, ["-c", config, *args])
        assert result.exit_code == 2, (args, result.output)
        assert result.output.strip() == line, args


def test_topics_eval_measures_a_query_on_a_file_labeled_by_topic_names_with_the_topic_named(tmp_path: Path) -> None:
    rows = [
        {"title": "MIPT and Tsinghua open a joint lab", "text": "Research.", "label": "cr"},
        {"title": "Учёные РАН и КНР", "text": "Лаборатория.", "label": "other"},
    ]
    f = tmp_path / "named.jsonl"
    f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    args = ["-c", str(_config(tmp_path)), "topics", "eval", str(f), "--query", "@st", "--summary"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    (line,) = [x for x in result.output.splitlines() if x.startswith("error:")]
    assert "labels its stories by topic name (cr, other): with --query, pass --topic NAME" in line
    result = CliRunner().invoke(cli, [*args, "--topic", "cr"])
    assert result.exit_code == 0, result.output
    assert re.search(r"all\s+2\s+1\s+\S+\s+1\.000\s+1\s", result.output)  # relevant: the story labeled cr, found


def test_topics_eval_reads_a_file_with_a_byte_order_mark(tmp_path: Path) -> None:
    f = _labeled(tmp_path)
    f.write_bytes(b"\xef\xbb\xbf" + f.read_bytes())  # as Windows editors save UTF-8
    result = CliRunner().invoke(cli, ["-c", str(_config(tmp_path)), "topics", "eval", str(f), "--summary"])
    assert result.exit_code == 0, result.output
    assert re.search(r"all\s+4\s+2\s", result.output)


def test_topics_eval_reads_a_language_written_as_a_tag_or_a_three_letter_code_as_its_code(tmp_path: Path) -> None:
    """A labeled file from another tool says "ZH", "zh-CN" or "rus": each was a language of its own, a row of the table
    apart from zh's, and a model topic scored such a story without its language's weight (9.95 for "ZH", 9.93 for zh)."""
    rows = [
        {"id": "a", "language": "EN", "title": "MIPT and Tsinghua open a joint lab", "text": "Research.", "label": 1},
        {"id": "b", "language": "en-GB", "title": "Russian and Chinese scientists", "text": "They met.", "label": 1},
        {"id": "c", "language": "rus", "title": "Китай и Россия торгуют", "text": "Торговля растёт.", "label": 0},
        {"id": "d", "language": "ru_RU", "title": "Учёные РАН и КНР", "text": "Лаборатория.", "label": 0},
        {"id": "e", "language": "zh-CN", "title": "中俄联合实验室", "text": "研究。", "label": 1},
        {"id": "f", "language": "Chinese", "title": "中俄贸易", "text": "贸易。", "label": 0},  # no code: detected
    ]
    f = tmp_path / "tags.jsonl"
    f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    assert [s.language for s in load_labeled(f)] == ["en", "en", "ru", "ru", "zh", "zh"]
    result = CliRunner().invoke(cli, ["-c", str(_config(tmp_path)), "topics", "eval", str(f), "--json"])
    assert result.exit_code == 0, result.output
    (topic,) = json.loads(result.output)
    assert sorted(topic["languages"]) == ["en", "ru", "zh"]
    assert {m["language"] for m in topic["misses"] + topic["false_alarms"]} <= {"en", "ru", "zh"}


def test_search_with_a_topic_uses_its_query_and_min_score(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    store = Store(tmp_path / "nw.db")
    for n, (title, text) in enumerate(
        [
            ("MIPT and Tsinghua open a joint lab", "Research on lasers."),
            ("Kenya opens a lab", "Research in Nairobi."),
            ("Weather", "China and Russia. Then a lab elsewhere."),
        ]
    ):
        store.add_article(article_record(n, title, text, indexed=True))
    store.close()
    result = CliRunner().invoke(cli, ["-c", str(cfg), "search", "--topic", "cr", "--json"])
    assert result.exit_code == 0, result.output
    titles = [r["title"] for r in json.loads(result.output)]
    assert titles == ["MIPT and Tsinghua open a joint lab"]
    both = CliRunner().invoke(cli, ["-c", str(cfg), "search", "lab", "--topic", "cr"])
    assert both.exit_code == 2 and "one of the two" in both.output
    unknown = CliRunner().invoke(cli, ["-c", str(cfg), "search", "--topic", "nope"])
    assert unknown.exit_code == 2 and "unknown topic 'nope'; configured topics: cr" in unknown.output
    # a set from the config works in a plain search too
    plain = CliRunner().invoke(cli, ["-c", str(cfg), "search", "@st AND Nairobi", "--json"])
    assert [r["title"] for r in json.loads(plain.output)] == ["Kenya opens a lab"]


def test_search_stops_at_its_time_limit_with_a_warning(tmp_path: Path) -> None:
    from crawler.search import SearchStats, search_articles

    cfg = load_config(_config(tmp_path))
    store = Store(tmp_path / "nw.db")
    store.add_article(article_record(1, "lab", "lab", indexed=True))
    store.close()
    stats = SearchStats()
    assert search_articles(cfg, "lab", timeout=0.0, stats=stats) == []
    assert stats.timed_out
    result = CliRunner().invoke(cli, ["-c", str(_config(tmp_path)), "search", "lab", "--timeout", "100"])
    assert result.exit_code == 0 and "lab" in result.output


def test_readme_documents_the_topics_commands_and_the_query_language() -> None:
    topics = cli.commands["topics"]
    assert isinstance(topics, click.Group)
    section = README.split("### `newswatch topics", 1)[1].split("\n### ", 1)[0]
    for name, command in topics.commands.items():
        assert f"topics {name}" in README
        for p in command.params:
            for opt in getattr(p, "opts", []):
                if opt.startswith("--") and opt not in ("--help", "--config"):
                    assert opt in section, f"newswatch topics {name} {opt} is not documented"
    for construct in ("@", "country:", "PARTNERS(", "EXCEPT", "lead:", "[sets]"):
        assert construct in README


def test_words_behind_a_condition_are_listed_in_one_order_whatever_the_hash_seed() -> None:
    """Labels that hit the same word come out in the labels' order, not a set's (which changes with
    PYTHONHASHSEED from one run to the next), so `topics eval` prints the same `why:` line every run."""
    from crawler.topics import _found_words, prepare

    doc = prepare("Scientific news", "Научно-технические связи крепнут.")
    labels = [f"label{i:02d}" for i in range(12)]
    occs = [("text", 0, 0, ((label, "text", 0, 0),)) for label in reversed(labels)]
    shown = _found_words(doc, occs, most=20).split(", ")
    assert [s.split(" (")[0] for s in shown] == labels
