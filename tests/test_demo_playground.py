"""`newswatch demo` leads into hands-on use: its printed commands run as printed, `demo --serve`
keeps the sample site up for the same database, and a changed port stores no page twice.

No step has a time budget: on 2 cores shared by other test runs (load 16) the demo took 221 s of the 300 s each
command had (about 7 s of CPU), its crawl most of it, which the demo itself stopped at 300 s; `demo --serve` had 60 s
to print its first line. SAFETY only stops a command that hangs."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from crawler.procs import ends_with_this_process

REPO = Path(__file__).resolve().parent.parent
SAFETY = 1800.0  # seconds after which a command is taken for hung and stopped: no budget, whatever the load


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def shell(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, shell=True, capture_output=True, text=True, cwd=cwd, env=env, timeout=SAFETY)


@dataclass
class Served:
    """A `demo --serve` started by ``serve``: its process, port, the lines it printed, the timer that kills it."""

    proc: subprocess.Popen[str]
    port: int
    printed: list[str]
    watchdog: threading.Timer

    def stop(self) -> int:
        """Ctrl-C, and its exit code; one that ignores it is killed (SAFETY) and must not outlive the test."""
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(SAFETY)
        finally:
            self.watchdog.cancel()
            if self.proc.poll() is None:
                self.proc.kill()


def serve(command: Callable[[int], Any], until: str, avoid: int = 0, **popen: Any) -> Served:
    """`demo --serve` on a free port (not ``avoid``), read up to the line holding ``until``.

    A port free_port found is free only when asked: another process may take it before `demo --serve` binds it
    (a minute later under load), which then exits saying so; it is started again on another. A server that hangs
    is killed after SAFETY, ending what it printed."""
    for _attempt in range(5):
        port = free_port()
        if port == avoid:
            continue
        proc = subprocess.Popen(
            command(port),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=ends_with_this_process(),
            **popen,
        )
        watchdog = threading.Timer(SAFETY, proc.kill)
        watchdog.daemon = True
        watchdog.start()
        assert proc.stdout is not None and proc.stderr is not None
        printed = []
        for line in proc.stdout:
            printed.append(line.rstrip("\n"))
            if until in line:
                return Served(proc, port, printed, watchdog)
        proc.wait(SAFETY)
        watchdog.cancel()
        error = proc.stderr.read()
        if f"port {port} on 127.0.0.1 is in use" not in error:
            raise AssertionError(f"demo --serve ended before {until!r}: {printed} {error}")
    raise AssertionError("demo --serve found no free port in 5 tries")


def test_demo_commands_run_as_printed_and_serve_reuses_the_database(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "newswatch"
    assert script.exists(), "the console script is installed with the package"
    work = tmp_path / "work"
    work.mkdir()
    out = tmp_path / "demo out"  # a space: printed paths must be quoted
    # a PATH without the venv, as after `python3 -m venv .venv && .venv/bin/pip install .`
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if Path(p) != script.parent)
    # NEWSWATCH_WORKERS=0: each crawl child extracts its pages itself, without starting a worker pool;
    # NEWSWATCH_CRAWL_TIMEOUT=inf: the demo's crawl is not stopped after its 5 minutes (a hung one is, after SAFETY)
    env = {
        **os.environ,
        "PATH": path,
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "NEWSWATCH_WORKERS": "0",
        "NEWSWATCH_CRAWL_TIMEOUT": "inf",
    }
    rel = os.path.relpath(script, work)
    demo = shell(f"{shlex.quote(rel)} demo --output-dir {shlex.quote(str(out))}", work, env)
    assert demo.returncode == 0, demo.stderr
    lines = demo.stdout.splitlines()
    try_line = next(line for line in lines if line.startswith("try: "))
    serve_line = next(line.strip() for line in lines if "demo --serve" in line)
    demo_port = int(re.findall(r"serving the sample site at http://127\.0\.0\.1:(\d+)", demo.stdout)[0])
    elsewhere = tmp_path / "elsewhere"  # runnable from any directory, not only where demo ran
    elsewhere.mkdir()
    found = shell(try_line.removeprefix("try: "), elsewhere, env)
    assert found.returncode == 0, found.stderr
    assert "中俄" in found.stdout or "科技" in found.stdout

    db = out / "newswatch-demo.db"
    with sqlite3.connect(db) as conn:
        before = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    # another port than the demo's: the stored URLs must follow
    server = serve(
        lambda port: f"exec {serve_line} --port {port}",
        "run      # the daemon",
        avoid=demo_port,
        shell=True,
        cwd=elsewhere,
        env=env,
    )
    port, printed = server.port, server.printed
    try:
        text = "\n".join(printed)
        assert f"serving the sample site at http://127.0.0.1:{port}" in text, text
        assert len(text) < 2000  # a path to the config, not the config itself
        config_line = next(line for line in printed if line.startswith("config: "))
        assert Path(config_line.removeprefix("config: ")) == out / "newswatch-demo.toml"
        commands = [line.strip() for line in printed if line.startswith("  ")]
        crawl = next(c for c in commands if c.endswith(" crawl"))
        result = shell(crawl, elsewhere, env)
        assert result.returncode == 0, result.stderr
        total = next(line for line in result.stdout.splitlines() if line.startswith("total"))
        fetched, new = (int(n) for n in re.findall(r"\d+", total)[:2])
        assert fetched > 0 and new == 0, result.stdout  # the site was read again; nothing stored twice
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == before
            urls = [r[0] for r in conn.execute("SELECT url FROM articles")]
        assert all(u.startswith(f"http://127.0.0.1:{port}/") for u in urls)
        search = shell(next(c for c in commands if " search " in c), elsewhere, env)
        assert search.returncode == 0 and "no matches" not in search.stdout, search.stderr
    finally:
        code = server.stop()
    assert code == 0


def serve_once(out: Path) -> tuple[int, list[str]]:
    """`demo --serve` on a free port until it has printed the commands to try, then Ctrl-C: the port and the lines
    before them."""
    server = serve(
        lambda port: [
            sys.executable,
            "-m",
            "scheduler.cli",
            "demo",
            "--serve",
            "--output-dir",
            str(out),
            "--port",
            str(port),
        ],
        "in another terminal",
    )
    code = server.stop()
    assert code == 0, server.proc.stderr.read() if server.proc.stderr else ""
    return server.port, [line for line in server.printed[:-1] if not line.startswith("database: ")]


def test_serve_keeps_a_config_the_user_changed_beside_its_own(tmp_path: Path) -> None:
    """`demo --serve` writes its config anew at each start; one with the user's [smtp] (to try `digest --to`)
    is kept beside it at the new address, and named, not silently overwritten."""
    out = tmp_path / "demo"
    _port, first = serve_once(out)
    config = out / "newswatch-demo.toml"
    assert first == [first[0], f"config: {config}"], first  # the demo's own config: nothing to keep
    own = config.read_text(encoding="utf-8")
    smtp = '\n[smtp]\nhost = "127.0.0.1"\nport = 8025\nsecurity = "none"\n'
    config.write_text(own + smtp, encoding="utf-8")

    port, second = serve_once(out)
    edited = out / "newswatch-demo.edited.toml"
    assert second[2].startswith(f"your changed config: {edited} "), second
    address = re.findall(r"http://127\.0\.0\.1:\d+", first[0])[0]
    assert config.read_text(encoding="utf-8") == own.replace(address, f"http://127.0.0.1:{port}")
    kept = edited.read_text(encoding="utf-8")
    assert kept.endswith(smtp) and f"http://127.0.0.1:{port}/globalwire/rss.xml" in kept

    other, third = serve_once(out)  # the copy follows the site's address, and is named again
    assert third[2] == second[2] and f"http://127.0.0.1:{other}/globalwire/rss.xml" in edited.read_text("utf-8")


def test_a_second_change_to_the_demo_config_keeps_the_first_one_it_would_replace(tmp_path: Path) -> None:
    """Each start of `demo --serve` keeps the config the user changed since the last at newswatch-demo.edited.toml;
    a copy kept at an earlier start, which that would replace, moves to newswatch-demo.edited.1.toml (then .2, ...)."""
    from scheduler.demo import demo_config_text, keep_edited

    config, kept = tmp_path / "newswatch-demo.toml", tmp_path / "newswatch-demo.edited.toml"
    smtp = '\n[smtp]\nhost = "127.0.0.1"\nport = 8025\nsecurity = "none"\n'
    digest_to = "\n# try: digest --to me@example.org\n"

    def start(port: int) -> tuple[Path | None, Path | None]:  # what --serve does with its config at a start
        base = f"http://127.0.0.1:{port}"
        text = demo_config_text(base)
        found = keep_edited(config, text, base)
        config.write_text(text, encoding="utf-8")
        return found

    assert start(8765) == (None, None)
    config.write_text(config.read_text(encoding="utf-8") + smtp, encoding="utf-8")  # the first change
    assert start(8765) == (kept, None)
    first = kept.read_text(encoding="utf-8")
    assert first.endswith(smtp)
    assert start(8766) == (kept, None)  # no new change: the copy only follows the site's address
    assert kept.read_text(encoding="utf-8") == first.replace("127.0.0.1:8765", "127.0.0.1:8766")

    config.write_text(config.read_text(encoding="utf-8") + digest_to, encoding="utf-8")  # a second change
    assert start(8766) == (kept, tmp_path / "newswatch-demo.edited.1.toml")
    assert kept.read_text(encoding="utf-8").endswith(digest_to)
    assert (tmp_path / "newswatch-demo.edited.1.toml").read_text(encoding="utf-8").endswith(smtp)

    kept.write_text(kept.read_text(encoding="utf-8") + "# mine\n", encoding="utf-8")  # the kept copy changed too,
    config.write_text(config.read_text(encoding="utf-8") + smtp, encoding="utf-8")  # and the config again
    assert start(8767) == (kept, tmp_path / "newswatch-demo.edited.2.toml")
    assert (tmp_path / "newswatch-demo.edited.2.toml").read_text(encoding="utf-8").endswith(digest_to + "# mine\n")
    assert (tmp_path / "newswatch-demo.edited.1.toml").read_text(encoding="utf-8").endswith(smtp)
    # the same change made again keeps no second copy of it
    config.write_text(kept.read_text(encoding="utf-8"), encoding="utf-8")
    assert start(8767) == (kept, None)


def test_the_demo_crawl_stops_after_5_minutes_or_newswatch_crawl_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo's crawl takes seconds, and is stopped after 5 minutes; NEWSWATCH_CRAWL_TIMEOUT changes that, as it
    does a daemon's poll: a machine busy with other work took 4 of them (and this file's test sets inf)."""
    import crawler.child
    from crawler.child import CrawlStopped
    from crawler.envsettings import LONGEST_WAIT
    from scheduler.demo import run_demo

    asked: list[float | None] = []

    def crawl(*_args: Any, timeout: float | None = None, **_kwargs: Any) -> Any:
        asked.append(timeout)
        raise CrawlStopped(f"the crawl did not finish within {int(timeout or 0)}s and was stopped", set(), set())

    monkeypatch.setattr(crawler.child, "run_in_child", crawl)
    for value, expected in (("", 300.0), ("42", 42.0), ("inf", LONGEST_WAIT)):
        monkeypatch.setenv("NEWSWATCH_CRAWL_TIMEOUT", value)
        with pytest.raises(CrawlStopped):
            run_demo(tmp_path / "demo", lambda _line: None)
        assert asked[-1] == pytest.approx(expected)
