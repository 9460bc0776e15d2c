"""The CLI contract: exit codes, one-line errors, nothing written on bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from scheduler.cli import cli
from tests.support.cli import newswatch

REPO = Path(__file__).resolve().parent.parent


def as_process(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The real console entry point in a subprocess: exit codes and stderr as a user sees them."""
    return subprocess.run(
        [sys.executable, "-m", "scheduler.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


BROKEN = {
    "unknown key": ('[storage]\ndatabase = "nw.db"\n[crawl]\ntimout = "30s"\n', "crawl.timout"),
    "bad duration": (
        '[storage]\ndatabase = "nw.db"\n[[sources]]\nname = "a"\nurl = "https://example.org/rss"\n'
        'every = "15 minutes"\n',
        "sources[0] (a).every",
    ),
    "source without url": (
        '[storage]\ndatabase = "nw.db"\n[[sources]]\nname = "a"\nkind = "feed"\n',
        "sources[0] (a).url",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
@pytest.mark.parametrize("command", [["check"], ["crawl"], ["export"]])
def test_broken_config_exits_2_naming_the_key_and_writes_nothing(
    tmp_path: Path, case: str, command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text, key = BROKEN[case]
    cfg = tmp_path / "newswatch.toml"
    cfg.write_text(text, encoding="utf-8")
    before = sorted(p.name for p in tmp_path.iterdir())
    monkeypatch.chdir(tmp_path)
    result = newswatch("-c", str(cfg), *command)
    assert result.returncode == 2, result.stderr
    assert key in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no database, nothing else


def test_check_accepts_c_after_the_command() -> None:
    result = newswatch("check", "-c", str(REPO / "config" / "newswatch.toml"))
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_missing_config_file_is_a_usage_error(tmp_path: Path) -> None:
    result = as_process("-c", str(tmp_path / "nope.toml"), "check")
    assert result.returncode == 2
    assert "does not exist" in result.stderr and "newswatch init" in result.stderr


def test_a_config_path_that_is_no_file_is_named_for_what_it_is(tmp_path: Path) -> None:
    # not "does not exist, run 'newswatch init /dev/null'"
    result = newswatch("-c", os.devnull, "check")
    assert result.returncode == 2
    assert result.stderr == f"error: config file {os.devnull} is a device or pipe, not a file; check -c/--config\n"
    result = newswatch("check", env={"NEWSWATCH_CONFIG": str(tmp_path)})
    assert result.returncode == 2
    assert result.stderr == (
        f"error: config file {tmp_path} (from $NEWSWATCH_CONFIG) is a folder, not a file; fix the variable\n"
    )


def test_config_from_environment(tmp_path: Path) -> None:
    cfg = tmp_path / "x.toml"
    cfg.write_text('[storage]\ndatabase = "nw.db"\n', encoding="utf-8")
    result = as_process("check", cwd=tmp_path, env={"NEWSWATCH_CONFIG": str(cfg)})
    assert result.returncode == 0, result.stderr


def test_unknown_source_name_is_exit_2(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[[sources]]\nname = "a"\nurl = "https://example.org/rss"\n', encoding="utf-8")
    result = newswatch("-c", str(cfg), "crawl", "nosuch")
    assert result.returncode == 2
    assert "unknown source 'nosuch'" in result.stderr and "a" in result.stderr


def test_usage_errors_are_exit_2() -> None:
    result = CliRunner().invoke(cli, ["export", "--format", "xml"])
    assert result.exit_code == 2


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and "newswatch" in result.output


def test_init_writes_default_config_and_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "etc" / "newswatch.toml"
    first = newswatch("init", str(target))
    assert first.returncode == 0, first.stderr
    assert newswatch("check", "-c", str(target)).returncode == 0
    again = newswatch("init", str(target))
    assert again.returncode == 2 and "already exists" in again.stderr


def test_init_database_names_the_database_in_the_config_it_writes(tmp_path: Path) -> None:
    from crawler.config import load_config

    state = tmp_path / 'var lib "nw"\\x'  # a space, quotes and a backslash: written as a TOML string
    target = tmp_path / "etc" / "newswatch.toml"
    first = newswatch("init", str(target), "--database", str(state / "newswatch.db"))
    assert first.returncode == 0, first.stderr
    assert load_config(target, models=False).storage.database == state / "newswatch.db"
    assert target.read_text(encoding="utf-8").count("database = ") == 1
    plain = tmp_path / "plain.toml"
    assert newswatch("init", str(plain)).returncode == 0
    assert load_config(plain, models=False).storage.database == tmp_path / "newswatch.db"
    # a relative FILE is the config's folder's, not the working folder's: the line says where it is
    relative = newswatch("init", str(tmp_path / "etc" / "rel.toml"), "--database", "var/nw.db")
    assert relative.stdout.startswith(
        f"wrote {tmp_path / 'etc' / 'rel.toml'} (its database: {tmp_path / 'etc/var/nw.db'}); "
    )
    assert load_config(tmp_path / "etc" / "rel.toml", models=False).storage.database == tmp_path / "etc/var/nw.db"
    empty = newswatch("init", str(tmp_path / "e.toml"), "--database", "")
    assert (
        empty.returncode == 2 and "--database '' names no file" in empty.stderr and not (tmp_path / "e.toml").exists()
    )


def test_export_of_a_fresh_config_is_empty(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[storage]\ndatabase = "nw.db"\n', encoding="utf-8")
    result = newswatch("-c", str(cfg), "export")
    assert result.returncode == 0 and result.stdout == ""


def test_bad_search_query_points_at_the_position(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[storage]\ndatabase = "nw.db"\n', encoding="utf-8")
    result = newswatch("-c", str(cfg), "search", "China AND (Russia")
    assert result.returncode == 2
    assert "position" in result.stderr and "Traceback" not in result.stderr


def test_an_unknown_source_or_topic_close_to_a_configured_one_is_named(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[storage]\ndatabase = "nw.db"\n'
        '[[sources]]\nname = "globalwire"\nurl = "http://127.0.0.1:9/feed.xml"\n'
        '[[sources]]\nname = "TASS"\nurl = "http://127.0.0.1:9/tass.xml"\n'
        '[[topics]]\nname = "china-russia"\nquery = "China AND Russia"\n',
        encoding="utf-8",
    )
    crawl = newswatch("-c", str(cfg), "crawl", "globalwir")
    assert crawl.returncode == 2
    assert "unknown source 'globalwir'; did you mean 'globalwire'? configured sources: TASS, globalwire" in crawl.stderr
    case = newswatch("-c", str(cfg), "sources", "remove", "tass")
    assert case.returncode == 2 and "did you mean 'TASS'?" in case.stderr
    export = newswatch("-c", str(cfg), "export", "--source", "globalwyre")
    assert export.returncode == 2 and "did you mean 'globalwire'?" in export.stderr
    topic = newswatch("-c", str(cfg), "export", "--topic", "china-rusia")
    assert topic.returncode == 2 and "unknown topic 'china-rusia'; did you mean 'china-russia'?" in topic.stderr
    far = newswatch("-c", str(cfg), "crawl", "reuters")
    assert far.returncode == 2 and "did you mean" not in far.stderr and "configured sources:" in far.stderr


def test_a_topic_name_close_to_a_configured_one_is_named_by_search_and_the_topics_commands(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[storage]\ndatabase = "nw.db"\n'
        '[[topics]]\nname = "china-russia"\nquery = "China AND Russia"\n'
        '[[topics]]\nname = "arctic"\nquery = "Arctic"\n',
        encoding="utf-8",
    )
    labeled = tmp_path / "labeled.jsonl"
    labeled.write_text('{"title": "t", "text": "China and Russia", "language": "en", "label": 1}\n', encoding="utf-8")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"title": "t", "text": "China and\n', encoding="utf-8")
    for args in (
        ("search", "--topic", "china-rusia"),
        ("topics", "eval", str(labeled), "--topic", "china-rusia"),
        # the name is checked before the file is read: not 'no such file' or a broken line first
        ("topics", "eval", str(tmp_path / "missing.jsonl"), "--topic", "china-rusia"),
        ("topics", "eval", str(broken), "--topic", "china-rusia"),
        ("topics", "train", str(labeled), "--topic", "china-rusia"),
        ("topics", "train", str(tmp_path / "missing.jsonl"), "--topic", "china-rusia"),
        ("topics", "label", "-o", str(tmp_path / "out.jsonl"), "--topic", "china-rusia"),
    ):
        result = CliRunner().invoke(cli, ["-c", str(cfg), *args])
        assert result.exit_code == 2, (args, result.output)
        line = (
            "error: unknown topic 'china-rusia'; did you mean 'china-russia'? configured topics: arctic, china-russia"
        )
        assert result.output.strip() == line, args
    far = CliRunner().invoke(cli, ["-c", str(cfg), "search", "--topic", "space"])
    assert (
        far.exit_code == 2
        and far.output.strip() == "error: unknown topic 'space'; configured topics: arctic, china-russia"
    )
    # a labeled file's topic name with a typo: the warning names the near one too
    labeled.write_text(
        '{"title": "t", "text": "China and Russia", "language": "en", "label": "china-russia"}\n'
        '{"title": "u", "text": "Russia and China", "language": "en", "label": "China-Russia"}\n',
        encoding="utf-8",
    )
    warned = CliRunner().invoke(cli, ["-c", str(cfg), "topics", "eval", str(labeled), "--summary"])
    assert "label 'China-Russia' (line 2) names no configured topic" in warned.output
    assert "did you mean 'china-russia'? check the name" in warned.output


def test_a_config_without_topics_is_told_what_each_command_takes_instead(tmp_path: Path) -> None:
    # only `topics eval` has --query: search takes a QUERY, train and label need a topic
    cfg = tmp_path / "c.toml"
    cfg.write_text('[storage]\ndatabase = "nw.db"\n', encoding="utf-8")
    labeled = tmp_path / "labeled.jsonl"
    labeled.write_text('{"title": "t", "text": "China and Russia", "language": "en", "label": 1}\n', encoding="utf-8")
    for args, otherwise in (
        (("search", "--topic", "china-russia"), "add one, or search with a QUERY instead of --topic"),
        (("topics", "eval", str(labeled)), "add one, or pass --query"),
        (("topics", "train", str(labeled)), "add one to train a model for it"),
        (("topics", "label", "-o", str(tmp_path / "out.jsonl")), "add one to label stories for it"),
    ):
        result = CliRunner().invoke(cli, ["-c", str(cfg), *args])
        assert result.exit_code == 2, (args, result.output)
        assert result.output == f"error: the config has no [[topics]]; {otherwise}\n", args


@pytest.mark.parametrize("value", ["nan", "-1", "-0.5", "inf", "-inf"])
def test_topics_eval_refuses_a_min_score_no_topic_can_score(tmp_path: Path, value: str) -> None:
    # a negative or nan min_score let every story the query holds through, inf none: a table that measures nothing
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[storage]\ndatabase = "nw.db"\n[[topics]]\nname = "t"\nquery = "China AND Russia"\n', encoding="utf-8"
    )
    labeled = tmp_path / "labeled.jsonl"
    labeled.write_text('{"title": "t", "text": "China and Russia", "language": "en", "label": 1}\n', encoding="utf-8")
    for args in (("--topic", "t"), ("--query", "China")):
        result = CliRunner().invoke(
            cli, ["-c", str(cfg), "topics", "eval", str(labeled), *args, f"--min-score={value}"]
        )
        assert result.exit_code == 2, (args, result.output)
        assert result.output.startswith(f"error: --min-score {float(value):g} is not a score: give a number 0 or more")
    taken = CliRunner().invoke(cli, ["-c", str(cfg), "topics", "eval", str(labeled), "--min-score=0", "--summary"])
    assert taken.exit_code == 0 and "min_score 0" in taken.output


def test_topics_eval_refuses_a_min_score_above_a_model_topic_s_highest(tmp_path: Path) -> None:
    labeled = tmp_path / "labeled.jsonl"
    labeled.write_text('{"title": "t", "text": "China and Russia", "language": "en", "label": 1}\n', encoding="utf-8")
    shipped = Path(__file__).resolve().parents[1] / "config" / "newswatch.toml"
    result = CliRunner().invoke(cli, ["-c", str(shipped), "topics", "eval", str(labeled), "--min-score", "12"])
    assert result.exit_code == 2, result.output
    assert "--min-score 12 is above 10, the highest score of topic china-russia-st's model (10 x p)" in result.output


def test_init_names_the_database_the_shipped_config_names_and_replaces_whatever_line_it_has(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a shipped config whose database is not "newswatch.db" (an edition for the systemd unit): init said
    # "its database: .../newswatch.db", and --database found no line to replace and was dropped silently
    from crawler.config import load_config
    from scheduler import data

    shipped = tmp_path / "shipped.toml"
    shipped.write_text(
        '# newswatch\n[storage]\ndatabase = "/var/lib/newswatch/state.db"   # the unit\'s StateDirectory\n\n'
        '[crawl]\nuser_agent = "newswatch/1.0 (+mailto:ops@example.org)"\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(data, "data_path", lambda *parts: shipped)
    plain = newswatch("init", str(tmp_path / "a.toml"))
    assert plain.stdout.startswith(f"wrote {tmp_path / 'a.toml'} (its database: /var/lib/newswatch/state.db); ")
    given = newswatch("init", str(tmp_path / "b.toml"), "--database", "nw.db")
    assert given.stdout.startswith(f"wrote {tmp_path / 'b.toml'} (its database: {tmp_path / 'nw.db'}); ")
    assert load_config(tmp_path / "b.toml", models=False).storage.database == tmp_path / "nw.db"
    assert (tmp_path / "b.toml").read_text(encoding="utf-8").count("database = ") == 1
