"""`newswatch demo` leads into hands-on use: its printed commands run as printed, `demo --serve`
keeps the sample site up for the same database, and a changed port stores no page twice."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from crawler.procs import ends_with_this_process

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def shell(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, shell=True, capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def test_demo_commands_run_as_printed_and_serve_reuses_the_database(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "newswatch"
    assert script.exists(), "the console script is installed with the package"
    work = tmp_path / "work"
    work.mkdir()
    out = tmp_path / "demo out"  # a space: printed paths must be quoted
    # a PATH without the venv, as after `python3 -m venv .venv && .venv/bin/pip install .`
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if Path(p) != script.parent)
    # NEWSWATCH_WORKERS=0: each crawl child extracts its pages itself, without starting a worker pool
    env = {**os.environ, "PATH": path, "XDG_CACHE_HOME": str(tmp_path / "cache"), "NEWSWATCH_WORKERS": "0"}
    rel = os.path.relpath(script, work)
    demo = shell(f"{shlex.quote(rel)} demo --output-dir {shlex.quote(str(out))}", work, env)
    assert demo.returncode == 0, demo.stderr
    lines = demo.stdout.splitlines()
    try_line = next(line for line in lines if line.startswith("try: "))
    serve_line = next(line.strip() for line in lines if "demo --serve" in line)
    elsewhere = tmp_path / "elsewhere"  # runnable from any directory, not only where demo ran
    elsewhere.mkdir()
    found = shell(try_line.removeprefix("try: "), elsewhere, env)
    assert found.returncode == 0, found.stderr
    assert "中俄" in found.stdout or "科技" in found.stdout

    db = out / "newswatch-demo.db"
    with sqlite3.connect(db) as conn:
        before = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    port = free_port()  # another port than the demo's: the stored URLs must follow
    serve = subprocess.Popen(
        f"exec {serve_line} --port {port}",
        shell=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=elsewhere,
        env=env,
        preexec_fn=ends_with_this_process(),
    )
    try:
        assert serve.stdout is not None
        printed = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = serve.stdout.readline()
            if not line:
                break
            printed.append(line.rstrip("\n"))
            if "run      # the daemon" in line:
                break
        text = "\n".join(printed)
        assert f"serving the sample site at http://127.0.0.1:{port}" in text, text + serve.stderr.read()
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
        serve.send_signal(signal.SIGINT)
        try:
            serve.wait(30)
        except subprocess.TimeoutExpired:
            serve.kill()  # a server that ignored Ctrl-C must not outlive the test
            raise
    assert serve.returncode == 0


def serve_once(out: Path, port: int) -> list[str]:
    """`demo --serve` until it has printed the commands to try, then Ctrl-C: the lines before them."""
    serve = subprocess.Popen(
        [sys.executable, "-m", "scheduler.cli", "demo", "--serve", "--output-dir", str(out), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ends_with_this_process(),
    )
    printed: list[str] = []
    try:
        assert serve.stdout is not None
        for line in serve.stdout:
            if line.startswith("in another terminal"):
                break
            printed.append(line.rstrip("\n"))
    finally:
        serve.send_signal(signal.SIGINT)
        serve.wait(30)
    assert serve.returncode == 0, serve.stderr.read() if serve.stderr else ""
    return [line for line in printed if not line.startswith("database: ")]


def test_serve_keeps_a_config_the_user_changed_beside_its_own(tmp_path: Path) -> None:
    """`demo --serve` writes its config anew at each start; one with the user's [smtp] (to try `digest --to`)
    is kept beside it at the new address, and named, not silently overwritten."""
    out = tmp_path / "demo"
    first = serve_once(out, free_port())
    config = out / "newswatch-demo.toml"
    assert first == [first[0], f"config: {config}"], first  # the demo's own config: nothing to keep
    own = config.read_text(encoding="utf-8")
    smtp = '\n[smtp]\nhost = "127.0.0.1"\nport = 8025\nsecurity = "none"\n'
    config.write_text(own + smtp, encoding="utf-8")

    port = free_port()
    second = serve_once(out, port)
    edited = out / "newswatch-demo.edited.toml"
    assert second[2].startswith(f"your changed config: {edited} "), second
    address = re.findall(r"http://127\.0\.0\.1:\d+", first[0])[0]
    assert config.read_text(encoding="utf-8") == own.replace(address, f"http://127.0.0.1:{port}")
    kept = edited.read_text(encoding="utf-8")
    assert kept.endswith(smtp) and f"http://127.0.0.1:{port}/globalwire/rss.xml" in kept

    third = serve_once(out, other := free_port())  # the copy follows the site's address, and is named again
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
