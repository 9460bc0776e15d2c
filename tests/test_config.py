"""Config parsing: every problem named by key path, unknown keys rejected, paths resolved."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from crawler.config import format_duration, load_config, parse_config, parse_duration, parse_size, valid_address
from crawler.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(tomllib.loads(text), Path("/etc/newswatch"))
    return info.value.problems


@pytest.mark.parametrize(
    "text,seconds",
    [("30s", 30), ("15m", 900), ("6h", 21600), ("1d", 86400), ("1h30m", 5400), ("500ms", 0.5), ("2w", 1209600)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["15 minutes", "", "m", "1x", "10", "-5m", "1h 30"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_sizes_powers_of_ten_and_two() -> None:
    assert parse_size("5MB") == 5_000_000
    assert parse_size("5MiB") == 5 * 2**20
    assert parse_size("500kB") == 500_000
    assert parse_size(1024) == 1024
    with pytest.raises(ValueError):
        parse_size("5 parsecs")


def test_format_duration_round_trips() -> None:
    assert format_duration(5400) == "1h30m"
    assert parse_duration(format_duration(93784)) == 93784


def test_shipped_configs_are_valid() -> None:
    config = load_config(REPO / "config" / "newswatch.toml")
    assert config.sources and config.topics and config.digest and config.smtp
    assert config.storage.database == REPO / "config" / "newswatch.db"


def test_unknown_key_names_its_path_and_suggests() -> None:
    p = problems('[crawl]\ntimout = "30s"\n')
    assert p == ["crawl.timout: unknown key; did you mean 'timeout'?"]


def test_bad_duration_names_source_index_and_name() -> None:
    p = problems(
        '[[sources]]\nname = "a"\nurl = "https://x.org/"\n'
        '[[sources]]\nname = "b"\nurl = "https://y.org/"\n'
        '[[sources]]\nname = "c"\nurl = "https://z.org/"\nevery = "15 minutes"\n'
    )
    assert len(p) == 1
    assert p[0].startswith("sources[2] (c).every: '15 minutes' is not a duration; use 30s, 15m, 6h or 1d")


def test_a_duration_of_zero_or_without_a_unit_is_refused_alike_however_written() -> None:
    # "0" was "not a duration" where "0s" "must be longer than zero"; "30" was "not a duration" where 30 "has no unit"
    every = "sources[0] (a).every"
    src = '[[sources]]\nname = "a"\nurl = "https://x.org/"\nevery = {}\n'
    assert problems(src.format('"0"')) == [f"{every}: '0' must be longer than zero"]
    assert problems(src.format('"0s"')) == [f"{every}: '0s' must be longer than zero"]
    assert problems(src.format("0")) == [f"{every}: 0 must be longer than zero"]
    assert problems(src.format('"30"')) == [f"""{every}: '30' has no unit; write it as a string like "30s" or "30m\""""]
    assert problems(src.format("30")) == [f"""{every}: 30 has no unit; write it as a string like "30s" or "30m\""""]


def test_source_without_url() -> None:
    assert problems('[[sources]]\nname = "a"\nkind = "feed"\n') == [
        "sources[0] (a).url: is required; add url = ... to [sources]"
    ]


def test_all_problems_are_reported_at_once() -> None:
    p = problems(
        '[[sources]]\nname = "bad name"\nkind = "rss"\nurl = "ftp://x"\n'
        '[digest]\nschedule = "daily"\ntimezone = "Mars/Olympus"\n'
        '[smtp]\npassword = "hunter2"\nsecurity = "ssl"\n'
    )
    keys = [x.split(":")[0] for x in p]
    assert "sources[0] (bad name).name" in keys
    assert "sources[0] (bad name).kind" in keys
    assert "sources[0] (bad name).url" in keys
    assert "digest.schedule" in keys and "digest.timezone" in keys
    assert "smtp.password" in keys and "smtp.security" in keys


def test_a_bad_recipient_or_smtp_security_says_how_to_write_it() -> None:
    p = problems('[digest]\n[[digest.recipients]]\nemail = "nobody"\n[smtp]\nsecurity = "ssl"\n')
    assert (
        "digest.recipients[0].email: 'nobody' is not an email address; write a bare address like analyst@example.org"
        in p
    )
    (security,) = [x for x in p if x.startswith("smtp.security")]
    assert "tls is implicit TLS from the start (port 465; what some call SSL)" in security


def test_kind_specific_keys_and_listing_needs_follow() -> None:
    p = problems(
        '[[sources]]\nname = "a"\nurl = "https://x.org/"\nwindow = "2d"\n'
        '[[sources]]\nname = "b"\nkind = "listing"\nurl = "https://x.org/news/"\n'
    )
    assert any(x.startswith('sources[0] (a).window: only applies to kind = "sitemap"') for x in p)
    assert any(x.startswith("sources[1] (b): a listing source needs follow") for x in p)


def test_duplicate_names_and_unknown_recipient_topic() -> None:
    p = problems(
        '[[sources]]\nname = "a"\nurl = "https://x.org/"\n[[sources]]\nname = "a"\nurl = "https://y.org/"\n'
        '[[topics]]\nname = "t"\nquery = "x"\n'
        '[digest]\n[[digest.recipients]]\nemail = "a@example.org"\ntopics = ["nope"]\n'
    )
    assert any("sources[1] (a).name" in x and "unique" in x for x in p)
    assert any(x.startswith("digest.recipients[0].topics[0]: 'nope' is not a topic name") for x in p)


def test_a_recipient_s_misspelt_topic_names_the_topic_it_may_mean() -> None:
    """Every command refuses the config until it is fixed, and the line listed the topics without the one meant,
    where an unknown topic on the command line (search --topic, export --topic) names it."""
    p = problems(
        '[[topics]]\nname = "space"\nquery = "x"\n[[topics]]\nname = "china-russia-st"\nquery = "y"\n'
        '[digest]\n[[digest.recipients]]\nemail = "a@example.org"\ntopics = ["spcae", "weather"]\n'
    )
    assert "digest.recipients[0].topics[0]: 'spcae' is not a topic name; did you mean 'space'? " in "\n".join(p)
    assert "digest.recipients[0].topics[1]: 'weather' is not a topic name (topics: china-russia-st, space)" in p


def test_bad_query_is_reported_with_position() -> None:
    p = problems('[[topics]]\nname = "t"\nquery = "(China AND"\n')
    assert len(p) == 1 and p[0].startswith("topics[0] (t).query:")


def test_relative_paths_resolve_against_the_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "sub" / "newswatch.toml"
    cfg.parent.mkdir()
    cfg.write_text('[storage]\ndatabase = "data/nw.db"\n[smtp]\npassword_file = "secret"\n', encoding="utf-8")
    config = load_config(cfg)
    assert config.storage.database == cfg.parent / "data" / "nw.db"
    assert config.smtp is not None and config.smtp.password_file == cfg.parent / "secret"


def test_an_empty_database_path_is_a_problem() -> None:
    assert problems('[storage]\ndatabase = ""\n') == [
        'storage.database: is empty; name the SQLite file, e.g. "newswatch.db" (relative to the config file)'
    ]


def test_types_are_checked() -> None:
    p = problems('[crawl]\nconcurrency = "many"\nobey_robots = "yes"\n')
    assert "crawl.concurrency: 'many' is not an integer" in p
    assert "crawl.obey_robots: 'yes' is not true or false" in p


def test_a_config_saved_with_a_byte_order_mark_is_read_and_edited(tmp_path: Path) -> None:
    # Windows editors (Notepad) save UTF-8 with a BOM: check, the daemon's snapshot and `sources remove` read it
    from scheduler.config_snapshot import load_snapshot
    from scheduler.sourcelist import remove_source

    cfg = tmp_path / "newswatch.toml"
    text = '# Новости\n[storage]\ndatabase = "nw.db"\n\n[[sources]]\nname = "a"\nurl = "https://example.org/a.xml"\n'
    cfg.write_bytes(
        b"\xef\xbb\xbf" + (text + '\n[[sources]]\nname = "b"\nurl = "https://example.org/b.xml"\n').encode()
    )
    assert [s.name for s in load_config(cfg).sources] == ["a", "b"]
    config, _snapshot = load_snapshot(cfg, tmp_path / "run")
    assert [s.name for s in config.sources] == ["a", "b"]
    remove_source(cfg, "b")
    assert cfg.read_text(encoding="utf-8") == text


def test_toml_syntax_error_is_a_config_error(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[crawl\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    assert "not valid TOML" in str(info.value)


@pytest.mark.parametrize(
    "value,ok",
    [
        ("analyst@example.org", True),
        ("<analyst@example.org>", True),
        ("Analyst <analyst@example.org>", False),  # a recipient is a bare address
        ("a@b@example.org", False),
        ("analyst@", False),
        ("@example.org", False),
        ("analyst.example.org", False),
        ("analyst@example.org\r\nBcc: x@example.org", False),
        ("analyst\u202e@example.org", False),  # bidi override
    ],
)
def test_recipient_addresses_follow_the_strict_rule(value: str, ok: bool) -> None:
    assert valid_address(value) is ok
    text = f'[digest]\n[[digest.recipients]]\nemail = "{value.encode("unicode_escape").decode()}"\n'
    found = [p for p in problems(text) if p.startswith("digest.recipients[0].email")] if not ok else []
    assert bool(found) is not ok


def test_the_sender_may_carry_a_display_name_but_not_two_ats() -> None:
    assert valid_address("newswatch <alerts@example.org>", display_name=True)
    assert not valid_address("newswatch <alerts@ex@ample.org>", display_name=True)
    assert not valid_address("newswatch <alerts@example.org>")
