"""`newswatch check` is the gate: a value that would crash a crawl, a digest or the daemon later is
refused there, with its key path, and no config makes `check` itself fail "unexpectedly"."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from scheduler.cli import cli

BASE = """
[storage]
database = "nw.db"

[crawl]

[[sources]]
name = "wire"
url = "https://example.org/rss.xml"

[[topics]]
name = "t"
query = "china"

[digest]

[[digest.recipients]]
email = "analyst@example.org"

[smtp]
host = "localhost"
"""


def check(tmp_path: Path, text: str) -> tuple[int, str]:
    conf = tmp_path / "nw.toml"
    conf.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", "-c", str(conf)])
    return result.exit_code, result.output


def with_value(table: str, key: str, value: str) -> str:
    """BASE with ``key = value`` set in the first ``[table]`` (or ``[[table]]``) block."""
    lines = BASE.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip("[]") == table)
    end = next((i for i in range(at + 1, len(lines)) if lines[i].startswith("[")), len(lines))
    lines = [line for i, line in enumerate(lines) if not (at < i < end and line.startswith(f"{key} ="))]
    lines.insert(at + 1, f"{key} = {value}")
    return "\n".join(lines) + "\n"


def test_the_base_config_passes(tmp_path: Path) -> None:
    assert check(tmp_path, BASE)[0] == 0


@pytest.mark.parametrize(
    "table,key,value,path",
    [
        ("digest", "max_age", '"100000000d"', "digest.max_age"),
        ("sources", "every", '"50000w"', "sources[0] (wire).every"),  # centuries
        ("sources", "every", '"' + "9" * 400 + 's"', "sources[0] (wire).every"),  # inf seconds
        ("storage", "database", '"nw\\u0000.db"', "storage.database"),
        ("smtp", "password_file", '"pw\\u0000"', "smtp.password_file"),
        ("digest.recipients", "email", '"a@x.org, b@y.org"', "digest.recipients[0].email"),
        ("smtp", "sender", '"a@x.org, b@y.org"', "smtp.sender"),
        ("digest", "timezone", '"' + "A" * 300 + '"', "digest.timezone"),
        ("digest", "subject", '"{count[0]} stories"', "digest.subject"),
        ("digest", "subject", '"{count.real} stories"', "digest.subject"),
        ("digest", "subject", '"{count:>999999999}"', "digest.subject"),
        ("digest", "subject", '"{count!x}"', "digest.subject"),
        ("digest", "subject", '"{"', "digest.subject"),
        ("digest", "max_stories", "100000000000000000000000", "digest.max_stories"),
        ("crawl", "timeout", '"100000d"', "crawl.timeout"),
        ("crawl", "delay", '"100000d"', "crawl.delay"),
        ("crawl", "max_page_size", '"9999999999GB"', "crawl.max_page_size"),
        ("crawl", "concurrency", "99999999999999999999", "crawl.concurrency"),
        ("smtp", "timeout", '"100000000d"', "smtp.timeout"),
        ("topics", "min_score", "nan", "topics[0] (t).min_score"),
        ("topics", "alert_score", "inf", "topics[0] (t).alert_score"),
    ],
)
def test_values_that_would_crash_later_are_refused_with_their_key_path(
    tmp_path: Path, table: str, key: str, value: str, path: str
) -> None:
    code, out = check(tmp_path, with_value(table, key, value))
    assert code == 2, out
    assert f"{path}:" in out, out
    assert "unexpected" not in out and "Traceback" not in out
    assert max(len(line) for line in out.splitlines()) < 300  # a huge value is quoted short


def test_deep_nesting_is_a_config_error(tmp_path: Path) -> None:
    for text in (
        "x = " + "[" * 5000 + "]" * 5000,
        "x = " + "{a = " * 2000 + "1" + "}" * 2000,
        "[" + "a." * 3000 + "b]",
    ):
        code, out = check(tmp_path, BASE + text + "\n")
        assert code == 2, out
        assert "unexpected" not in out and "Traceback" not in out


def test_a_nul_in_a_key_is_refused(tmp_path: Path) -> None:
    code, out = check(tmp_path, BASE + '"a\\u0000b" = 1\n')
    assert code == 2 and "NUL" in out, out


@pytest.mark.parametrize(
    "sender", ["alerts@example.org", "newswatch <alerts@example.org>", '"Watch, News" <alerts@example.org>']
)
def test_one_address_forms_still_pass(tmp_path: Path, sender: str) -> None:
    code, out = check(tmp_path, with_value("smtp", "sender", f"'{sender}'"))
    assert code == 0, out


def test_durations_up_to_the_limits_pass(tmp_path: Path) -> None:
    text = with_value("digest", "max_age", '"3650d"')
    text = text.replace('url = "https://example.org/rss.xml"', 'url = "https://example.org/rss.xml"\nevery = "365d"')
    text = text.replace(
        '[digest]\nmax_age = "3650d"', '[digest]\nmax_age = "3650d"\nsubject = "{count:d} new: {topics}"'
    )
    assert check(tmp_path, text)[0] == 0


@pytest.mark.parametrize(
    "args",
    [
        ["search", "china", "--limit", "368934881474191033"],
        ["search", "china", "--since", "100000000d"],
        ["export", "--since", "100000000d"],
        ["export", "--since", "9999-12-31T23:59:59-01:00"],
        ["export", "--since", "0001-01-01T00:00:00+01:00"],
        ["prune", "--older-than", "100000000d"],
        ["prune", "--older-than", "9" * 400 + "s"],
        ["crawl", "--timeout", "100000000d"],
    ],
)
def test_huge_option_values_are_usage_errors(tmp_path: Path, args: list[str]) -> None:
    conf = tmp_path / "nw.toml"
    conf.write_text(BASE, encoding="utf-8")
    result = CliRunner().invoke(cli, [*args, "-c", str(conf)])
    assert result.exit_code == 2, result.output
    assert "please report it" not in result.output and "Traceback" not in result.output
    assert args[-2] in result.output  # names the option


@pytest.mark.parametrize(
    "url,problem",
    [("http://example.org:99999/rss.xml", "Port out of range"), ("http://:80/rss.xml", "no host name")],
)
def test_a_source_url_that_cannot_be_fetched_is_refused(tmp_path: Path, url: str, problem: str) -> None:
    code, out = check(tmp_path, BASE.replace("https://example.org/rss.xml", url))
    assert code == 2 and "sources[0] (wire).url:" in out and problem in out, out


def test_an_invalid_follow_css_is_refused(tmp_path: Path) -> None:
    text = BASE.replace(
        'url = "https://example.org/rss.xml"', 'url = "https://example.org/"\nkind = "listing"\nfollow_css = "a["'
    )
    code, out = check(tmp_path, text)
    assert code == 2 and "sources[0] (wire).follow_css:" in out and "not a valid CSS selector" in out, out
