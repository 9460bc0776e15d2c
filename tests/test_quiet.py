"""-q/--quiet in every command: it drops progress, tables of counts and "wrote" lines, and keeps errors,
warnings and the output that is the command's product (search results, an export, a dry run's listing)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from crawler.procs import ends_with_this_process
from scheduler.cli import cli
from tests.support.demo import copy_demo


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
def demo(tmp_path_factory: pytest.TempPathFactory, demo_world: Path) -> Path:
    """A copy of the session's demo (made by `newswatch demo -q`), for commands that write to it."""
    return copy_demo(demo_world, tmp_path_factory.mktemp("demo"))


def test_every_command_takes_quiet_after_its_name() -> None:
    groups_only = {"topics"}  # a group with no behaviour of its own
    for name, command in commands(cli):
        if name in groups_only:
            continue
        flags = {opt for p in command.params if isinstance(p, click.Option) for opt in p.opts}
        assert {"-q", "--quiet"} <= flags, f"newswatch {name} has no -q/--quiet"


def test_demo_quiet_prints_only_where_its_results_are(demo_world: Path) -> None:
    config = demo_world / "newswatch-demo.toml"
    stdout = (demo_world / "demo-stdout.txt").read_text(encoding="utf-8")  # `newswatch demo -q` printed it
    lines = stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["digest", "and", "database:"], stdout
    assert (config.parent / "digest.html").exists() and str(config) in lines[-1]


def test_digest_quiet_keeps_only_what_it_produces(demo: Path, tmp_path: Path) -> None:
    config = demo
    out = tmp_path / "d.html"
    assert newswatch("-c", str(config), "digest", "-q", "--output", str(out)) == ("", "")
    assert out.read_text(encoding="utf-8").count("<a ") > 5
    stdout, _ = newswatch("-c", str(config), "digest", "--dry-run", "-q")  # the listing is the product
    assert "subject: " in stdout and "  - " in stdout
    assert newswatch("-c", str(config), "-q", "digest", "--output", str(out)) == ("", "")


def test_search_and_sources_quiet(demo: Path) -> None:
    config = demo
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


def test_demo_serve_quiet_prints_the_address_and_the_config(tmp_path: Path) -> None:
    import signal
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    serve = subprocess.Popen(
        [sys.executable, "-m", "scheduler.cli", "demo", "--serve", "-q", "--port", str(port)]
        + ["--output-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
        preexec_fn=ends_with_this_process(),
    )
    try:
        assert serve.stdout is not None
        printed = [serve.stdout.readline().rstrip("\n") for _ in range(2)]
        assert printed[0] == f"serving the sample site at http://127.0.0.1:{port} (Ctrl-C to stop)"
        assert printed[1] == f"config: {tmp_path / 'newswatch-demo.toml'}"
    finally:
        serve.send_signal(signal.SIGINT)
        try:
            out, _err = serve.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            serve.kill()  # a server that ignored Ctrl-C must not outlive the test
            raise
    assert serve.returncode == 0 and out == "", out  # no database line, commands to try or "stopped"
