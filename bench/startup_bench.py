"""CPU a process pays once, before its first page: a crawl's process tree and the CLI.

    python bench/startup_bench.py              # 5 runs of each, medians
    python bench/startup_bench.py --runs 9 --only crawl,recrawl

Each figure is the CPU (user + system) of a whole process tree: `newswatch crawl` (the CLI, its
crawl child, the extraction pool's forkserver and workers) of one small feed of the sample site
(7 entries, served on 127.0.0.1) with the shipped config's default topic, the same crawl again (every request answered 304, so no pool
starts: what the daemon pays per poll), `newswatch check`, `newswatch --help`, and `newswatch probe` of
the feed (its child fetches the feed and one article, whose language only the language model tells). The tree is
measured by making this process a child subreaper, so orphaned workers are reaped (and counted)
here too. Beside it: a bare `python -c pass` in the same run, the floor any process pays; each row's
median is also printed as a multiple of it (`x python`; left out when `--only` leaves out `python`).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scheduler.staticsite import StaticSiteServer  # noqa: E402

CONFIG = """
[storage]
database = "bench.db"

[crawl]
user_agent = "newswatch-bench/0.1 (+mailto:ops@example.org)"
allow_private = true
delay = "0s"

[[sources]]
name = "globalwire"
kind = "feed"
url = "{base}/globalwire/rss.xml"
every = "15m"
"""


# The shipped config's word sets and default topic: every crawl child compiles them.
_DEFAULT = (ROOT / "config" / "newswatch.toml").read_text(encoding="utf-8")
TOPICS = "\n" + _DEFAULT[_DEFAULT.index("\n[sets]") : _DEFAULT.index("\n[digest]")] + "\n"


NEWSWATCH = [sys.executable, "-m", "scheduler.cli"]


def _subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
        raise SystemExit("cannot become a child subreaper: the figures would miss orphaned workers")


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def tree_cpu(cmd: list[str], cwd: Path) -> float:
    """CPU seconds of ``cmd`` and every process it started, once all of them have ended."""
    before = _children_cpu()
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.decode()[-2000:]}")
    while True:  # orphans (a forkserver, workers) were re-parented here: reap them all
        try:
            os.wait()
        except ChildProcessError:
            break
    return _children_cpu() - before


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", default="python,help,check,crawl,recrawl,probe")
    args = parser.parse_args()
    parts = args.only.split(",")
    _subreaper()
    # the CLI of this tree (whatever is installed), as the `newswatch` script would run it
    os.environ["PYTHONPATH"] = str(ROOT) + (
        os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else ""
    )
    server = StaticSiteServer(ROOT / "fixtures" / "site")
    server.start()
    results: dict[str, list[float]] = {p: [] for p in parts}
    try:
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                work = Path(tmp)
                cfg = work / "newswatch.toml"
                cfg.write_text(CONFIG.format(base=server.base_url) + TOPICS, encoding="utf-8")
                for part in parts:
                    if part == "python":
                        cmd = [sys.executable, "-c", "pass"]
                    elif part == "help":
                        cmd = [*NEWSWATCH, "--help"]
                    elif part == "check":
                        cmd = [*NEWSWATCH, "check", "-c", str(cfg)]
                    elif part == "probe":
                        cmd = [*NEWSWATCH, "probe", f"{server.base_url}/globalwire/rss.xml", "-c", str(cfg)]
                    elif part in ("crawl", "recrawl"):
                        if part == "recrawl" and "crawl" not in parts:
                            tree_cpu([*NEWSWATCH, "crawl", "-c", str(cfg)], work)
                        cmd = [*NEWSWATCH, "crawl", "-c", str(cfg)]
                        if part == "crawl":
                            (work / "bench.db").unlink(missing_ok=True)
                    else:
                        raise SystemExit(f"unknown part {part!r}")
                    results[part].append(tree_cpu(cmd, work))
    finally:
        server.stop()
    floor = statistics.median(results["python"]) if results.get("python") else None
    print(f"{'part':10} {'median CPU s':>12} {'x python':>9}  runs")
    for part, values in results.items():
        runs = " ".join(f"{v:.2f}" for v in values)
        median = statistics.median(values)
        ratio = f"{median / floor:9.1f}" if floor else f"{'-':>9}"
        print(f"{part:10} {median:12.3f} {ratio}  {runs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
