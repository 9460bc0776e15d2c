"""-q/--quiet in every command: it drops progress, tables of counts and "wrote" lines, and keeps errors,
warnings and the output that is the command's product (search results, an export, a dry run's listing)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from scheduler.cli import cli


def commands(group: click.Group, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    for name, command in sorted(group.commands.items()):
        yield prefix + name, command
        if isinstance(command, click.Group):
            yield from commands(command, prefix + name + " ")


def newswatch(*args: str) -> tuple[str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output + result.stderr
    return result.stdout, result.stderr


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo")
    stdout, _ = newswatch("demo", "-q", "--output-dir", str(out))
    return out / "newswatch-demo.toml", stdout


def test_every_command_takes_quiet_after_its_name() -> None:
    groups_only = {"topics"}  # a group with no behaviour of its own
    for name, command in commands(cli):
        if name in groups_only:
            continue
        flags = {opt for p in command.params if isinstance(p, click.Option) for opt in p.opts}
        assert {"-q", "--quiet"} <= flags, f"newswatch {name} has no -q/--quiet"


def test_demo_quiet_prints_only_where_its_results_are(demo: tuple[Path, str]) -> None:
    config, stdout = demo
    lines = stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["digest", "and", "database:"], stdout
    assert (config.parent / "digest.html").exists() and str(config) in lines[-1]


def test_digest_quiet_keeps_only_what_it_produces(demo: tuple[Path, str], tmp_path: Path) -> None:
    config, _ = demo
    out = tmp_path / "d.html"
    assert newswatch("-c", str(config), "digest", "-q", "--output", str(out)) == ("", "")
    assert out.read_text(encoding="utf-8").count("<a ") > 5
    stdout, _ = newswatch("-c", str(config), "digest", "--dry-run", "-q")  # the listing is the product
    assert "subject: " in stdout and "  - " in stdout
    assert newswatch("-c", str(config), "-q", "digest", "--output", str(out)) == ("", "")


def test_search_and_sources_quiet(demo: tuple[Path, str]) -> None:
    config, _ = demo
    assert newswatch("-c", str(config), "search", "-q", "nosuchwordanywhere") == ("", "")
    stdout, _ = newswatch("-c", str(config), "search", "-q", "lunar")
    assert "lunar" in stdout.lower()
    assert newswatch("-c", str(config), "sources", "-q", "--reset", "frozen") == ("", "")
    stdout, _ = newswatch("-c", str(config), "sources", "-q")
    assert "frozen" in stdout  # the table is what `sources` is for


def test_init_quiet_writes_the_file_and_says_nothing(tmp_path: Path) -> None:
    target = tmp_path / "nw.toml"
    assert newswatch("init", "-q", str(target)) == ("", "")
    assert "[[sources]]" in target.read_text(encoding="utf-8")
    result = CliRunner().invoke(cli, ["init", "-q", str(target)])  # an error is still one line
    assert result.exit_code == 2 and "already exists" in result.stderr


def test_the_daemon_quiet_logs_only_warnings_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    from scheduler.daemon import setup_logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        setup_logging(quiet=True)
        log = logging.getLogger("newswatch.test")
        log.info("crawl globalwire: fetched 3")
        log.warning("source vestnik is failing")
        err = capsys.readouterr().err
        assert "source vestnik is failing" in err and "fetched 3" not in err
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in handlers:
            root.addHandler(h)
        root.setLevel(level)
