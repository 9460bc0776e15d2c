"""Soak benchmark: the real daemon (`newswatch run`) for hundreds of crawl cycles against the local
sample site, sampling the daemon's resident memory (VmRSS from /proc/PID/status).

Every feed changes between polls (two new articles per poll, each page's text different), so every
cycle stores, deduplicates, matches and alerts on real work; a digest runs every minute. Crawls run
in child processes; what must stay flat is the daemon itself. The baseline is the daemon's RSS after
the first 50 cycles of this same run; the target is end/baseline <= 1.2.

Run: python bench/soak_bench.py --cycles 300      (about 10 minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiosmtpd.controller import Controller

from tests.support.daemonworld import WORDS, daemon_config
from tests.support.sitesrv import SiteServer

BASELINE_CYCLE = 50
SOAK_TOPIC = """
[[topics]]
name = "china-russia"
query = '(China OR Chinese) AND (Russia OR Russian)'
alert_score = 1.0
"""


class SoakSite:
    """Feeds /soak/feed-<k>.xml that gain two new articles per request; pages /soak/a/<id>.html."""

    def __init__(self, site: SiteServer) -> None:
        self.site = site
        self.polls: dict[int, int] = {}
        self.lock = threading.Lock()
        site.add_generated("/soak/", self.handle)

    def handle(self, path: str) -> tuple[int, dict[str, str], bytes]:
        m = re.match(r"/soak/feed-(\d+)\.xml", path)
        if m:
            k = int(m.group(1))
            with self.lock:
                n = self.polls[k] = self.polls.get(k, 0) + 1
            ids = [k * 1_000_000 + i for i in range(max(0, 2 * n - 10), 2 * n)]
            items = "".join(
                f"<item><title>{self.title(i)}</title><link>{self.site.base_url}/soak/a/{i}.html</link>"
                f"<guid>soak-{i}</guid></item>"
                for i in reversed(ids)
            )
            body = (
                f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Soak {k}</title>'
                f"<link>{self.site.base_url}/soak/</link><description>soak</description>{items}"
                "</channel></rss>"
            )
            return 200, {"Content-Type": "application/rss+xml"}, body.encode()
        m = re.match(r"/soak/a/(\d+)\.html", path)
        if not m:
            return 404, {"Content-Type": "text/plain"}, b"not found"
        i = int(m.group(1))
        rng = random.Random(i)
        paras = "".join(
            "<p>"
            + " ".join(rng.choice(WORDS) for _ in range(40)).capitalize()
            + (" China and Russia agreed on joint research." if i % 3 == 0 else "")
            + f" Item {i}.</p>"
            for _ in range(8)
        )
        html = (
            f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{self.title(i)}</title></head>'
            f"<body><article><h1>{self.title(i)}</h1>{paras}</article></body></html>"
        )
        return 200, {"Content-Type": "text/html; charset=utf-8"}, html.encode()

    @staticmethod
    def title(i: int) -> str:
        rng = random.Random(-i)
        return " ".join(rng.choice(WORDS) for _ in range(6)).capitalize() + f" {i}"


class Sink:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cycles", type=int, default=300, help="crawl runs to complete (default 300)")
    ap.add_argument("--sources", type=int, default=4)
    ap.add_argument("--max-minutes", type=float, default=10.0)
    args = ap.parse_args()
    if args.cycles <= BASELINE_CYCLE:
        ap.error(f"--cycles must exceed the baseline point ({BASELINE_CYCLE})")

    work = Path(tempfile.mkdtemp(prefix="newswatch-soak-"))
    smtp_port = free_port()
    smtp = Controller(Sink(), hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    site = SiteServer(ROOT / "fixtures" / "site").start()
    SoakSite(site)
    sources = "".join(
        f'\n[[sources]]\nname = "soak-{k}"\nurl = "{site.base_url}/soak/feed-{k}.xml"\nevery = "1s"\n'
        for k in range(args.sources)
    )
    cfg = work / "soak.toml"
    cfg.write_text(
        daemon_config(
            sources=sources,
            topics=SOAK_TOPIC,
            smtp_port=smtp_port,
            schedule="* * * * *",
            database="soak.db",
            user_agent="newswatch-soak/1.0 (+mailto:ops@example.org)",
        ),
        encoding="utf-8",
    )
    env = {**os.environ, "NEWSWATCH_START_SPREAD": "0", "NEWSWATCH_WORKERS": "0", "PYTHONPATH": str(ROOT)}
    for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "JOURNAL_STREAM"):
        env.pop(k, None)
    proc = subprocess.Popen(
        [sys.executable, "-c", "from scheduler.cli import main; main()", "run", "-c", str(cfg)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=str(work),
        text=True,
    )
    cycles = 0
    counts = {"ok": 0, "failed": 0, "digests": 0, "alerts": 0, "errors": 0}
    samples: list[tuple[int, float, int]] = []
    lock = threading.Lock()
    last_lines: list[str] = []

    def reader() -> None:
        nonlocal cycles
        assert proc.stdout is not None
        for line in proc.stdout:
            with lock:
                last_lines.append(line.rstrip())
                del last_lines[:-20]
                if " crawl soak-" in line:
                    cycles += 1
                    counts["failed" if "failed" in line else "ok"] += 1
                elif " digest " in line:
                    counts["digests"] += 1
                elif " alert: " in line:
                    counts["alerts"] += 1
                if " ERROR " in line:
                    counts["errors"] += 1

    threading.Thread(target=reader, daemon=True).start()
    started = time.monotonic()
    baseline: int | None = None
    next_report = 0
    try:
        while True:
            time.sleep(0.5)
            if proc.poll() is not None:
                print("\n".join(last_lines))
                raise SystemExit(f"the daemon exited early with {proc.returncode}")
            with lock:
                done = cycles
            rss = rss_kib(proc.pid)
            if done >= next_report:
                samples.append((done, time.monotonic() - started, rss))
                next_report = done + 25
            if baseline is None and done >= BASELINE_CYCLE:
                baseline = rss
            if done >= args.cycles:
                break
            if time.monotonic() - started > args.max_minutes * 60:
                print(f"stopped after {args.max_minutes} minutes at {done} cycles")
                break
        end_rss = rss_kib(proc.pid)
        samples.append((cycles, time.monotonic() - started, end_rss))
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(120)
        stop_s = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
        site.stop()
        smtp.stop()
    elapsed = time.monotonic() - started
    import sqlite3

    conn = sqlite3.connect(str(work / "soak.db"))
    articles = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    conn.close()
    shutil.rmtree(work, ignore_errors=True)

    print(
        f"soak: {cycles} crawl cycles ({counts['ok']} ok, {counts['failed']} failed) over {args.sources} sources "
        f"in {elapsed:.0f}s; {articles} articles stored; {counts['digests']} digest runs, "
        f"{counts['alerts']} alerts; {counts['errors']} error lines; integrity {integrity}"
    )
    print(f"{'cycles':>7} {'seconds':>8} {'RSS MiB':>8}")
    for c, t, r in samples:
        print(f"{c:>7} {t:>8.0f} {r / 1024:>8.1f}")
    assert baseline is not None
    ratio = end_rss / baseline
    print(
        f"daemon RSS after {BASELINE_CYCLE} cycles (baseline): {baseline / 1024:.1f} MiB; "
        f"at the end ({cycles} cycles): {end_rss / 1024:.1f} MiB; ratio {ratio:.3f} (target <= 1.2) "
        f"{'OK' if ratio <= 1.2 else 'ABOVE TARGET'}"
    )
    print(f"SIGTERM → exit {code} in {stop_s:.1f}s")
    return 0 if ratio <= 1.2 and code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
