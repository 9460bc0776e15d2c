"""Daemon benchmark: `newswatch run` polling N local feeds at an interval, against a bare
`urllib` conditional-GET loop over the same feeds measured in the same run.

Every feed answers 304 to its stored ETag (or, with --changing 0.1, a tenth of the feeds change
each cycle: a new entry whose page text differs). The first crawl is done before measuring, so
the daemon only re-polls. Printed:

- polls made against polls due in the measured window, and the share of polls on time (a gap
  between two polls of one feed at most `every` + 10%);
- CPU per poll of the daemon and all its crawl children, against the bare loop's CPU per
  conditional GET (ratio; target <= 20x at 1,000 feeds every 60 s);
- the daemon's resident memory after 5 minutes and at the end (target end/5 min <= 1.2).

Run: python bench/daemon_bench.py --feeds 1000 --every 60 --minutes 60
     python bench/daemon_bench.py --feeds 1000 --every 60 --minutes 10 --changing 0.1
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

_TICK = os.sysconf("SC_CLK_TCK")
WORDS = "reactor satellite polymer vaccine turbine graphene laser bridge isotope battery catalyst telescope".split()


class Feeds:
    """N feeds; feed i's version is the number of cycles in which it changed."""

    def __init__(self, n: int, every: float, changing: float) -> None:
        self.n, self.every, self.changing = n, every, changing
        self.start = time.time()
        self.polls: dict[int, list[float]] = defaultdict(list)
        self.lock = threading.Lock()

    def version(self, i: int) -> int:
        if not self.changing:
            return 0
        cycle = int((time.time() - self.start) // self.every)
        step = max(1, round(1 / self.changing))
        return sum(1 for c in range(cycle + 1) if (i + c) % step == 0)

    def feed(self, i: int, base: str) -> bytes:
        v = self.version(i)
        items = "".join(
            f"<item><title>China and Russia item {i}.{k}</title><link>{base}/p/{i}/{k}.html</link>"
            f"<guid>f{i}-{k}</guid><description>Joint project {i}.{k}</description></item>"
            for k in range(max(0, v - 2), v + 1)
        )
        return f'<?xml version="1.0"?><rss version="2.0"><channel><title>F{i}</title>{items}</channel></rss>'.encode()


def serve(feeds: Feeds) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            parts = self.path.strip("/").split("/")
            if parts[0] == "f":
                i = int(parts[1].split(".")[0])
                with feeds.lock:
                    feeds.polls[i].append(time.time())
                etag = f'"{i}-{feeds.version(i)}"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body, ctype = feeds.feed(i, base), "application/rss+xml"
                self.send_response(200)
                self.send_header("ETag", etag)
            elif parts[0] == "p":
                i, k = int(parts[1]), int(parts[2].split(".")[0])
                text = " ".join(WORDS[(i * 7 + k * 3 + j) % len(WORDS)] for j in range(300))
                body = (
                    f"<html><head><title>Item {i}.{k}</title></head><body><article><h1>China and Russia {i}.{k}</h1>"
                    f"<p>{text}</p><p>Project {i} part {k}.</p></article></body></html>"
                ).encode()
                ctype = "text/html; charset=utf-8"
                self.send_response(200)
            else:
                body, ctype = b"User-agent: *\nAllow: /\n", "text/plain"
                self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    base = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, base


def bare_loop(base: str, n: int, rounds: int = 3) -> float:
    """CPU seconds per conditional GET of a plain urllib loop (in a fresh process, start-up excluded)."""
    code = f"""
import time, urllib.request, urllib.error
etags = {{}}
def get(i):
    req = urllib.request.Request("{base}/f/%d.xml" % i, headers={{"If-None-Match": etags.get(i, "")}})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            r.read(); etags[i] = r.headers.get("ETag")
    except urllib.error.HTTPError as e:
        if e.code != 304: raise
for i in range({n}): get(i)
t = time.process_time()
for _ in range({rounds}):
    for i in range({n}): get(i)
print((time.process_time() - t) / ({rounds} * {n}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its waited-for children (utime+stime+cutime+cstime), plus live children."""
    total = 0.0
    parents: dict[int, int] = {}
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                raw = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = raw[raw.rindex(")") + 2 :].split()
            parents[int(entry)] = int(fields[1])
            stats[int(entry)] = fields
    todo = [pid]
    while todo:
        p = todo.pop()
        if p in stats:
            f = stats[p]
            total += sum(int(x) for x in f[11:15]) / _TICK
        todo += [c for c, pp in parents.items() if pp == p]
    return total


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--feeds", type=int, default=100)
    ap.add_argument("--every", type=float, default=60.0)
    ap.add_argument("--minutes", type=float, default=6.0)
    ap.add_argument("--changing", type=float, default=0.0, help="share of feeds that change each cycle")
    ap.add_argument("--polls-out", type=Path, help="write each feed's poll times (JSON) here")
    args = ap.parse_args()

    feeds = Feeds(args.feeds, args.every, args.changing)
    server, base = serve(feeds)
    tmp = Path(tempfile.mkdtemp(prefix="nw-daemon-bench-"))
    sources = "".join(
        f'[[sources]]\nname = "f{i}"\nurl = "{base}/f/{i}.xml"\nevery = "{int(args.every)}s"\n'
        for i in range(args.feeds)
    )
    cfg = tmp / "newswatch.toml"
    cfg.write_text(
        f"""
[storage]
database = "nw.db"

[crawl]
user_agent = "newswatch-bench/1.0 (+mailto:ops@example.org)"
allow_private = true
concurrency = 32
per_domain = 32

{sources}

[[topics]]
name = "cn-ru"
query = 'China AND Russia'

[digest]
schedule = "0 {(time.gmtime().tm_hour + 12) % 24} * * *"
timezone = "UTC"

[[digest.recipients]]
email = "bench@example.org"

[smtp]
host = "127.0.0.1"
port = {free_port()}
security = "none"
sender = "bench <bench@example.org>"
""",
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NEWSWATCH_START_SPREAD": str(args.every)}
    cli = [sys.executable, "-c", "from scheduler.cli import main; main()", "-c", str(cfg)]
    t0 = time.monotonic()
    subprocess.run([*cli, "crawl"], env=env, capture_output=True, check=False)
    print(f"first crawl of {args.feeds} feeds: {time.monotonic() - t0:.1f}s wall")

    bare = bare_loop(base, args.feeds)
    log = open(tmp / "daemon.log", "wb")  # noqa: SIM115 - for the daemon's lifetime
    daemon = subprocess.Popen([*cli, "run"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
    warmup = args.every * 1.5  # the spread start, then one full cycle
    time.sleep(warmup)
    with feeds.lock:
        feeds.polls.clear()
    cpu0, w0 = tree_cpu(daemon.pid), time.time()
    rss_5min = None
    end = time.monotonic() + args.minutes * 60
    while time.monotonic() < end and daemon.poll() is None:
        time.sleep(5)
        if rss_5min is None and time.time() - w0 >= 300 - warmup:
            rss_5min = rss_kib(daemon.pid)
    window = time.time() - w0
    cpu = tree_cpu(daemon.pid) - cpu0
    rss_end = rss_kib(daemon.pid) if daemon.poll() is None else 0
    daemon.send_signal(signal.SIGTERM)
    daemon.wait(120)
    with feeds.lock:  # the daemon's polls only: the baseline below requests the same feeds
        polls = {i: list(ts) for i, ts in feeds.polls.items()}
    bare_end = bare_loop(base, args.feeds)  # the machine is shared: measure the baseline at both ends
    server.shutdown()
    print(f"bare loop: {bare * 1000:.3f} ms per GET before, {bare_end * 1000:.3f} ms after")
    bare = (bare + bare_end) / 2

    made = sum(len(ts) for ts in polls.values())
    due = args.feeds * window / args.every
    gaps = [b - a for ts in polls.values() for a, b in zip(ts, ts[1:])]
    on_time = sum(1 for g in gaps if g <= args.every * 1.1) / len(gaps) if gaps else 0.0
    per_poll = cpu / made if made else float("nan")
    print(f"feeds {args.feeds}, every {args.every:g}s, changing {args.changing:.0%}, window {window / 60:.1f} min")
    print(f"polls made / due: {made} / {due:.0f} ({made / due:.1%}); on time (gap <= every + 10%): {on_time:.1%}")
    if gaps:
        gaps.sort()
        pick = [gaps[min(len(gaps) - 1, int(q * len(gaps)))] for q in (0.01, 0.5, 0.95, 0.99)]
        print(
            "gap between two polls of a feed: p1 {:.1f}s, median {:.1f}s, p95 {:.1f}s, p99 {:.1f}s, max {:.1f}s".format(
                *pick, gaps[-1]
            )
        )
    if args.polls_out:
        args.polls_out.write_text(json.dumps({str(i): ts for i, ts in sorted(polls.items())}))
    print(
        f"CPU per poll: daemon tree {per_poll * 1000:.2f} ms, bare urllib loop {bare * 1000:.3f} ms, "
        f"ratio {per_poll / bare:.1f}x (target <= 20x)"
    )
    print(f"CPU of the daemon tree: {cpu:.1f}s over {window:.0f}s = {cpu / window:.1%} of one core")
    if rss_5min:
        print(
            f"daemon RSS: {rss_5min / 1024:.1f} MiB at 5 min, {rss_end / 1024:.1f} MiB at end, {rss_end / rss_5min:.2f}x"
        )
    else:
        print(f"daemon RSS at end: {rss_end / 1024:.1f} MiB (run >= 6 minutes for the 5-minute figure)")
    if per_poll == per_poll and per_poll > 0:
        share = 0.10  # of one core
        print(f"sources one machine holds at a 15-minute interval under 10% of one core: {share * 900 / per_poll:,.0f}")
    print(f"log and database: {tmp}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
