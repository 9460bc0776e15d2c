"""What the daemon tests and the soak benchmark share: the daemon's config, a vocabulary for
generated articles, sources on the test server, and `newswatch run` in a subprocess (`Daemon`; the
`daemons` fixture in tests/conftest.py starts them and cleans up after each test)."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crawler.procs import ends_with_this_process
from crawler.store import Store, process_alive
from scheduler.daemon import crawl_children
from tests.support.configs import mail_config
from tests.support.sitesrv import SiteServer

ROOT = Path(__file__).resolve().parent.parent.parent

# Words for generated article pages: distinct texts that match no topic by accident.
WORDS = (
    "reactor",
    "satellite",
    "polymer",
    "vaccine",
    "turbine",
    "graphene",
    "laser",
    "bridge",
    "isotope",
    "battery",
    "catalyst",
    "telescope",
    "genome",
    "alloy",
    "pipeline",
    "semiconductor",
    "glacier",
    "enzyme",
    "robot",
    "drone",
    "quantum",
    "fusion",
    "lithium",
    "hydrogen",
    "railway",
    "port",
    "harbour",
    "grid",
    "solar",
    "wind",
    "nuclear",
    "academy",
    "university",
    "institute",
    "laboratory",
    "engineers",
    "students",
    "training",
    "programme",
    "agreement",
    "memorandum",
    "contract",
    "supply",
    "tender",
    "factory",
    "plant",
    "research",
    "development",
    "investment",
    "export",
    "import",
    "market",
    "price",
    "output",
    "capacity",
    "network",
    "data",
    "cloud",
    "software",
)


def daemon_config(
    *,
    sources: str,
    topics: str,
    smtp_port: int,
    schedule: str,
    database: str = "nw.db",
    user_agent: str = "newswatch-test/1.0 (+mailto:ops@example.org)",
    send_empty: bool = False,
    timeout: str = "10s",
) -> str:
    """A config for `newswatch run` against local servers: private addresses allowed, one recipient.

    ``timeout`` is [crawl] timeout, each request's limit (a stalled request holds its crawl child that long).
    """
    return f"""
[storage]
database = "{database}"

[crawl]
user_agent = "{user_agent}"
timeout = "{timeout}"
allow_private = true

{sources}
{topics}
{mail_config(smtp_port, schedule=schedule, send_empty=send_empty)}"""


TOPIC = """
[[topics]]
name = "china-russia"
query = '(China OR Chinese OR Beijing) AND (Russia OR Russian OR Moscow)'
"""

GLOBALWIRE = """
[[sources]]
name = "globalwire"
url = "__BASE__/globalwire/rss.xml"
every = "15m"
"""
VESTNIK = """
[[sources]]
name = "vestnik"
url = "__BASE__/vestnik/rss.xml"
every = "15m"
"""
SLOW = """
[[sources]]
name = "slow"
url = "__BASE__/slow/feed.xml"
every = "15m"
"""

# For daemons whose tests are not about extraction workers: each crawl child extracts its pages itself,
# without starting a pool of workers (the tests of kills and hung crawls keep the workers).
NO_WORKERS = {"NEWSWATCH_WORKERS": "0"}


def write_config(
    path: Path, base_url: str, smtp_port: int, *, sources: str, extra_topics: str = "", **options: str
) -> Path:
    """`daemon_config` with the china-russia topic and ``send_empty`` written to `path`; ``__BASE__`` in
    `sources` becomes `base_url`. ``options``: `daemon_config`'s ``schedule`` (daily at 07:00 unless
    given), ``timeout``."""
    options.setdefault("schedule", "0 7 * * *")
    text = daemon_config(
        sources=sources.replace("__BASE__", base_url),
        topics=TOPIC + extra_topics,
        smtp_port=smtp_port,
        send_empty=True,
        **options,
    )
    path.write_text(text, encoding="utf-8")
    return path


def crawl_config(tmp_path: Path, sources: str, timeout: str = "3s") -> Path:
    """A config for `newswatch crawl` (no topics, no digest) against the local test server."""
    cfg = tmp_path / "newswatch.toml"
    cfg.write_text(
        f"""
[storage]
database = "nw.db"

[crawl]
user_agent = "newswatch-test/1.0 (+mailto:ops@example.org)"
timeout = "{timeout}"
allow_private = true

{sources}
""",
        encoding="utf-8",
    )
    return cfg


def far_schedule() -> str:
    """A daily cron time 12 hours away, so no regular digest fires during a test."""
    return f"0 {(datetime.now(UTC).hour + 12) % 24} * * *"


def integrity(db: Path) -> str:
    conn = sqlite3.connect(str(db))
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def source_states(db: Path) -> dict[str, dict[str, Any]]:
    """Each source's row of the `sources` table, by name."""
    with Store(db) as st:
        return {r["name"]: r for r in st.query("SELECT * FROM sources")}


def slow_site(site: SiteServer, pages: int, delay: float) -> None:
    """A feed of `pages` articles under /slow/, each page answering after `delay` seconds."""

    def handler(path: str) -> tuple[int, dict[str, str], bytes]:
        if path.startswith("/slow/feed.xml"):
            items = "".join(
                f"<item><title>Joint project {i} of China and Russia</title><link>{site.base_url}/slow/a/{i}.html</link>"
                f"<guid>slow-{i}</guid><pubDate>Mon, 23 Nov 2026 10:0{i % 10}:00 +0000</pubDate></item>"
                for i in range(pages)
            )
            body = (
                f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Slow</title>'
                f"<link>{site.base_url}/slow/</link><description>slow</description>{items}</channel></rss>"
            )
            return 200, {"Content-Type": "application/rss+xml"}, body.encode()
        i = int(path.rsplit("/", 1)[-1].split(".")[0])
        time.sleep(delay)
        words = [WORDS[(i * 7 + k * (i + 3)) % len(WORDS)] for k in range(60)]
        paras = "".join(
            f"<p>Scientists from China and Russia in project {i} reported progress on "
            f"{' '.join(words[j : j + 12])} at laboratory {i * 13 + j}.</p>"
            for j in range(0, 60, 6)
        )
        html = (
            f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Joint project {i}</title>'
            f"</head><body><article><h1>Joint project {i} of China and Russia</h1>{paras}</article></body></html>"
        )
        return 200, {"Content-Type": "text/html; charset=utf-8"}, html.encode()

    site.add_generated("/slow/", handler)


def unit_with_stand_in(unit: str, folder: Path) -> Path:
    """The shipped systemd unit, verbatim but for ExecStart pointing at a stand-in (systemd-analyze needs one)."""
    fake = folder / "newswatch"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    copy = folder / "newswatch.service"
    copy.write_text(unit.replace("=/opt/newswatch/bin/newswatch", f"={fake}"))
    return copy


def wait_until(cond: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def console_script() -> str:
    """What the installed `newswatch` command runs (pyproject's [project.scripts]), as Python code."""
    import tomllib

    entry = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]["newswatch"]
    module, name = entry.split(":")
    return f"from {module} import {name}; {name}()"


class Daemon:
    """`newswatch run` in a subprocess, with a notify socket (abstract, as systemd may use) and a log file.

    It starts as the console script does; ``prelude`` is Python code run before it, in the same process.
    """

    def __init__(
        self,
        tmp: Path,
        config: Path,
        *,
        watchdog_usec: int | None = None,
        name: str = "d",
        env: dict[str, str] | None = None,
        prelude: str = "",
    ) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        abstract = f"newswatch-test-{uuid.uuid4().hex}"
        self.sock.bind(b"\0" + abstract.encode())
        self.sock.setblocking(False)
        self.notes: list[str] = []
        self.log_path = tmp / f"{name}.log"
        extra_env = env
        env = {**os.environ, "NOTIFY_SOCKET": "@" + abstract, "NEWSWATCH_START_SPREAD": "0", "PYTHONPATH": str(ROOT)}
        env.update(extra_env or {})
        env.pop("JOURNAL_STREAM", None)
        env.pop("WATCHDOG_USEC", None)
        if watchdog_usec:
            env["WATCHDOG_USEC"] = str(watchdog_usec)
        self.log_file = open(self.log_path, "wb")  # noqa: SIM115 - open for the process's lifetime
        self.proc = subprocess.Popen(
            [sys.executable, "-c", prelude + "\n" + console_script(), "run", "-c", str(config)],
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(tmp),
            preexec_fn=ends_with_this_process(),  # an interrupted test run leaves no daemon behind
        )

    def notifications(self) -> list[str]:
        while True:
            try:
                self.notes.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                return self.notes

    def noted(self, field: str) -> bool:
        return any(field in n.split("\n") for n in self.notifications())

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_note(self, field: str, timeout: float = 30.0) -> None:
        wait_until(lambda: self.noted(field) or self._died(), timeout, field)
        assert self.noted(field), f"daemon exited before {field}:\n{self.log()}"

    def wait_log(self, text: str, timeout: float = 60.0, *, read_notes: bool = True) -> None:
        def seen() -> bool:
            if read_notes:
                self.notifications()
            return text in self.log() or self._died()

        wait_until(seen, timeout, repr(text))
        assert text in self.log(), f"daemon exited before logging {text!r}:\n{self.log()}"

    def _died(self) -> bool:
        return self.proc.poll() is not None

    def terminate(self, timeout: float = 60.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def crash(self) -> None:
        """SIGKILL, then kill what is left of its process tree and wait until it has ended, as systemd does
        with the unit's cgroup before a restart."""
        children = crawl_children(self.proc.pid)
        self.proc.kill()
        self.proc.wait(10)
        for pid in children:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_until(lambda: not any(process_alive(pid) for pid in children), 10, "the killed crawl processes to end")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.crash()
        self.sock.close()
        self.log_file.close()
