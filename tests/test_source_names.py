"""Source names in the analyst's own language (新闻, Новости): accepted by the config and the CLI and carried
unchanged into the crawl's table, `sources`, `--reset`, export records and `sources remove`; what makes a name
safe (no space, control or invisible character, no path character) still holds."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

from tests.support.cli import newswatch
from tests.support.sitesrv import SiteServer


def config(tmp_path: Path, site: SiteServer, names: tuple[str, str]) -> Path:
    path = tmp_path / "nw.toml"
    path.write_text(
        f"""[storage]
database = "nw.db"

[crawl]
user_agent = "newswatch-test/1.0 (+mailto:ops@example.org)"
timeout = "3s"
allow_private = true

[[sources]]
name = "{names[0]}"
url = "{site.base_url}/globalwire/rss.xml"
every = "15m"

[[sources]]
name = "{names[1]}"  # gone for good: a 410
url = "{site.base_url}/_fault/status/410"
every = "15m"
""",
        encoding="utf-8",
    )
    return path


def test_a_source_named_in_chinese_or_russian_works_everywhere(tmp_path: Path, site: SiteServer) -> None:
    cfg = config(tmp_path, site, ("新闻", "Ёлка-Новости"))
    env = {"NEWSWATCH_WORKERS": "0"}
    check = newswatch("-c", cfg, "check")
    assert check.returncode == 0, check.stderr  # before: '新闻' may hold only letters, digits, '-' and '_'

    crawl = newswatch("-c", cfg, "crawl", "新闻", "Ёлка-Новости", env=env)
    assert crawl.returncode == 0, crawl.stderr
    assert "newswatch sources --reset Ёлка-Новости" in crawl.stderr
    listed = {s["name"]: s for s in json.loads(newswatch("-c", cfg, "sources", "--json").stdout)}
    assert set(listed) == {"新闻", "Ёлка-Новости"} and listed["新闻"]["articles"] > 0

    decomposed = unicodedata.normalize("NFD", "Ёлка-Новости")  # as some keyboards and copies send it
    assert decomposed != "Ёлка-Новости"
    reset = newswatch("-c", cfg, "sources", "--reset", decomposed)
    assert reset.returncode == 0, reset.stderr
    assert reset.stdout.startswith("Ёлка-Новости: re-enabled")

    export = newswatch("-c", cfg, "export", "--source", "新闻")
    records = [json.loads(line) for line in export.stdout.splitlines()]
    assert records and {r["source"] for r in records} == {"新闻"}
    assert '"source": "新闻"' in export.stdout  # readable, not \\u escapes

    removed = newswatch("-c", cfg, "sources", "remove", decomposed)
    assert removed.returncode == 0, removed.stderr
    assert "Ёлка" not in cfg.read_text(encoding="utf-8") and 'name = "新闻"' in cfg.read_text(encoding="utf-8")


def test_a_source_name_still_refuses_spaces_paths_and_invisible_characters(tmp_path: Path, site: SiteServer) -> None:
    for bad, shown in (
        ("новости дня", "not U+0020 SPACE (character 8)"),
        ("新闻/国际", "not '/' (character 3)"),
        ("news\u202etxt", "not U+202E RIGHT-TO-LEFT OVERRIDE (character 5)"),
        ("a\u200db", "not U+200D ZERO WIDTH JOINER (character 2)"),
    ):
        res = newswatch("-c", config(tmp_path, site, (bad, "ok")), "check")
        assert res.returncode == 2
        assert "may hold only letters and digits of any alphabet, '-' and '_', " + shown in res.stderr, res.stderr


def test_a_name_refuses_the_letters_and_marks_that_show_nothing() -> None:
    # Unicode's invisible letters and marks passed as letters: "tass" with a variation selector, a Hangul filler or
    # a combining grapheme joiner after it named a second source that reads exactly as "tass" everywhere it is shown
    from crawler.config import name_problem

    for bad, shown in (
        ("tass\ufe0f", "not U+FE0F VARIATION SELECTOR-16 (character 5)"),
        ("\u3164tass", "not U+3164 HANGUL FILLER (character 1)"),
        ("tass\u034f", "not U+034F COMBINING GRAPHEME JOINER (character 5)"),
        ("ta\u115fss", "not U+115F HANGUL CHOSEONG FILLER (character 3)"),
        ("tass\U000e0100", "not U+E0100 VARIATION SELECTOR-17 (character 5)"),
    ):
        assert (name_problem(bad) or "").endswith(shown), bad
    for good in ("tass-en", "新闻", "Ёлка", "कृषि", "ข่าว"):  # marks that show: Devanagari and Thai vowel signs, tones
        assert name_problem(good) is None, good


def test_the_sources_table_keeps_its_columns_with_chinese_names(tmp_path: Path, site: SiteServer) -> None:
    from crawler.wording import columns as _terminal_columns

    cfg = config(tmp_path, site, ("新闻", "Новости"))
    rows = [line for line in newswatch("-c", cfg, "sources").stdout.splitlines() if " feed " in line]
    starts = {_terminal_columns(line[: line.index(" feed ")]) for line in rows}
    assert len(rows) == 2 and len(starts) == 1, rows  # before: 新闻's row two columns short (a character is two wide)


def test_a_topic_named_in_russian_is_found_however_its_letters_were_typed(tmp_path: Path, site: SiteServer) -> None:
    composed = "наука-Ёж"
    decomposed = unicodedata.normalize("NFD", composed)  # Ё as Е and a combining diaeresis, as some copies send it
    cfg = config(tmp_path, site, ("新闻", "Новости"))
    with cfg.open("a", encoding="utf-8") as f:
        f.write(
            f'\n[[topics]]\nname = "{composed}"\nquery = "China OR Russia"\n\n[digest]\n'
            f'[[digest.recipients]]\nemail = "a@example.org"\ntopics = ["{decomposed}"]\n'
        )
    check = newswatch("-c", cfg, "check")
    assert "is not a topic name" not in check.stderr, check.stderr  # before: the recipient's topic was unknown
    assert newswatch("-c", cfg, "crawl", "新闻", env={"NEWSWATCH_WORKERS": "0"}).returncode == 0
    export = newswatch("-c", cfg, "export", "--topic", decomposed)
    assert export.returncode == 0, export.stderr
    assert export.stdout and all(json.loads(line)["topics"] == [composed] for line in export.stdout.splitlines())
    search = newswatch("-c", cfg, "search", "--topic", decomposed, "--json")
    assert search.returncode == 0 and json.loads(search.stdout), search.stderr


def test_a_mark_is_refused_unless_it_sits_on_a_letter(tmp_path: Path, site: SiteServer) -> None:
    # a combining mark passed anywhere but first: after '-', '_' or a digit it named 'tass-' + U+0301 ('tass-́'), a
    # second source that reads as 'tass-' with a stray accent; a mark goes on a letter (or on the marks on one)
    from crawler.config import name_problem

    for bad, at in (("tass-\u0301", 6), ("t_\u0301", 3), ("tass1\u0301", 6), ("1\u20e3", 2), ("\u0301a", 1)):
        assert (name_problem(bad) or "").endswith(
            f"(character {at}); an accent or other mark goes only after a letter"
        ), bad
    for good in ("ё", "е\u0308", "हैं", "कृषि", "ข่าว", "tass-e\u0301"):  # marks on a letter, a mark on a mark on one
        assert name_problem(good) is None, good

    cfg = config(tmp_path, site, ("tass-\u0301", "ok"))
    with cfg.open("a", encoding="utf-8") as f:
        f.write('\n[[topics]]\nname = "science_\u0301"\nquery = "China"\n')
    res = newswatch("-c", cfg, "check")
    assert res.returncode == 2
    assert (
        "sources[0] (tass-\u0301).name: 'tass-\u0301' may hold only letters and digits of any alphabet, '-' and '_', "
        "not U+0301 COMBINING ACUTE ACCENT (character 6); an accent or other mark goes only after a letter"
    ) in res.stderr
    assert "topics[0] (science_\u0301).name: 'science_\u0301' may hold only" in res.stderr
    valid = config(tmp_path, site, ("tass-e", "ok"))
    added = newswatch("-c", valid, "sources", "add", "new1\u0301", f"{site.base_url}/globalwire/rss.xml")
    assert added.returncode == 2 and "source name 'new1\u0301' may hold only" in added.stderr, added.stderr


def test_a_name_made_for_an_imported_feed_is_one_the_config_accepts(tmp_path: Path) -> None:
    # `sources import` names a feed after its host: a host starting with a mark gave '́news', which the config
    # refuses, and the whole import failed ("the edit would make the config invalid"); a mark after a character
    # no name holds was kept after the '-' that replaced it
    from crawler.config import name_problem, unique_name

    for host, name in (("\u0301news", "news"), ("x.\u0301y", "x-y"), ("новости", "новости"), ("कृषि.भारत", "कृषि-भारत")):
        assert unique_name(host, set()) == name
        assert name_problem(name) is None
    cfg = tmp_path / "nw.toml"
    cfg.write_text('[storage]\ndatabase = "nw.db"\n', encoding="utf-8")
    opml = tmp_path / "feeds.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><head><title>x</title></head><body>'
        '<outline text="A" type="rss" xmlUrl="https://\u0301news.example/feed"/></body></opml>',
        encoding="utf-8",
    )
    res = newswatch("-c", cfg, "sources", "import", opml)
    assert res.returncode == 0, res.stderr
    assert 'name = "news"' in cfg.read_text(encoding="utf-8")


def test_probe_and_import_name_a_feed_alike_by_its_hosts_distinctive_part(tmp_path: Path) -> None:
    """probe's block and `sources import` named feeds by two functions with two rules: import named a feed at
    127.0.0.1:8765/digestnet/feed.xml '127' where probe said 'digestnet', and probe named en.people.cn 'en' and
    новости.рф 'source' where import said 'people' and 'новости'."""
    from crawler.config import source_name_for

    for url, name in (
        ("https://lenta.ru/rss", "lenta"),
        ("https://rss.newsru.com/all_news/", "newsru"),
        ("http://en.people.cn/202936/index.html", "people"),
        ("https://www.bbc.co.uk/news/rss.xml", "bbc"),
        ("https://новости.рф/rss", "новости"),
        ("http://127.0.0.1:8765/digestnet/feed.xml", "digestnet"),
        ("http://localhost:8000/vestnik/rss.xml", "vestnik"),
        ("http://[::1]/huaxia/atom.xml", "huaxia"),
    ):
        assert source_name_for(url) == name, url
    assert source_name_for("https://lenta.ru/rss", {"lenta"}) == "lenta-2"
    cfg = tmp_path / "nw.toml"
    cfg.write_text('[storage]\ndatabase = "nw.db"\n', encoding="utf-8")
    opml = tmp_path / "feeds.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><head><title>x</title></head><body>'
        '<outline text="DigestNet" type="rss" xmlUrl="http://127.0.0.1:8765/digestnet/feed.xml"/>'
        '<outline text="People" type="rss" xmlUrl="http://en.people.cn/rss/China.xml"/></body></opml>',
        encoding="utf-8",
    )
    res = newswatch("-c", cfg, "sources", "import", opml)
    assert res.returncode == 0, res.stderr
    assert 'name = "digestnet"' in cfg.read_text(encoding="utf-8")
    assert 'name = "people"' in cfg.read_text(encoding="utf-8")


def test_a_set_name_with_a_line_break_or_a_stray_mark_is_refused_and_named_on_one_line(tmp_path: Path) -> None:
    # a set name's problems were split over two lines when it held a line break (its key path shown as written);
    # a mark after a digit or '_' passed the set name's check, as it did a source's
    cfg = tmp_path / "nw.toml"
    cfg.write_text(
        '[storage]\ndatabase = "nw.db"\n"bad\\tkey" = 1\n\n[sets]\n"abc\\n" = "science"\n"st1\u0301" = "x"\n',
        encoding="utf-8",
    )
    res = newswatch("-c", cfg, "check")
    assert res.returncode == 2
    assert (
        "  sets.'abc\\n': a set name may hold only letters and digits of any alphabet (space_en, наука, 科技), '_', "
        "and '-' between them (queries write it @name)\n"
    ) in res.stderr
    assert "  storage.'bad\\tkey': unknown key; allowed keys: database\n" in res.stderr
    assert (
        "  sets.st1\u0301: 'st1\u0301' may hold only letters and digits of any alphabet, '-' and '_', not U+0301 "
        "COMBINING ACUTE ACCENT (character 4); an accent or other mark goes only after a letter (queries write it "
        "@name)\n"
    ) in res.stderr


def test_a_set_named_inside_a_query_is_held_to_the_rule_of_the_configs_sets(tmp_path: Path) -> None:
    # '@x = (...)' at the start of a query names a set of its own: a mark after a digit, or a variation selector
    # that shows nothing ('x' + U+FE0F reads as @x, another set), passed there where [sets] refuses them
    cfg = tmp_path / "nw.toml"
    query = "@st1\u0301 = (science) @st1\u0301 AND China"
    cfg.write_text(f'[storage]\ndatabase = "nw.db"\n\n[[topics]]\nname = "t"\nquery = "{query}"\n', encoding="utf-8")
    res = newswatch("-c", cfg, "check")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert (
        "topics[0] (t).query: @st1\u0301: 'st1\u0301' may hold only letters and digits of any alphabet, '-' and '_', "
        "not U+0301 COMBINING ACUTE ACCENT (character 4); an accent or other mark goes only after a letter"
    ) in res.stderr, res.stderr
    cfg.write_text('[storage]\ndatabase = "nw.db"\n', encoding="utf-8")
    res = newswatch("-c", cfg, "search", "--", "@x\ufe0f = (science) @x\ufe0f")
    assert res.returncode == 2 and len(res.stderr.splitlines()) == 1, res.stderr
    assert "@x\ufe0f: 'x\ufe0f' may hold only" in res.stderr and "not U+FE0F VARIATION SELECTOR-16" in res.stderr
    for good in ("@наука = (science) @наука", "@科技 = (science) @科技", "@e\u0301te = (science) @e\u0301te"):
        res = newswatch("-c", cfg, "search", "--", good)
        assert res.returncode == 0 and "no articles are stored yet" in res.stderr + res.stdout, res.stderr
