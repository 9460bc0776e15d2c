"""newswatch benchmarks: one table of figures, each beside a baseline measured in the same run.

Run: python bench/run.py [--only throughput,recrawl,memory,dedup,idle,quality] [--pages N] [--quick]
                         [--corpus PATH] [--profile]

Parts:
  throughput  `newswatch crawl` (run_in_child) over a local site of N varied real pages listed in a
              feed and a sitemap, vs sequential urllib fetch + trafilatura.extract in one process
  recrawl     a second crawl of the unchanged site: article fetches (must be 0), time vs the first
  memory      peak memory of the crawl's process tree vs the baseline process (sampled from /proc)
  dedup       per-article dedup + topic matching + store cost at 10k and at 100k stored articles
  idle        `newswatch run` CPU seconds and memory over an idle minute (15 s with --quick)
              vs an idle bare APScheduler process
  quality     the 181 real pages of the article-extraction corpus crawled by newswatch, F1 over
              word 4-gram shingles vs bare trafilatura.extract on the same files

The corpus is looked for at --corpus, $NEWSWATCH_BENCH_CORPUS, or ../shared/corpora/
article-extraction-benchmark beside the project; without it the page parts are skipped and say so.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import common  # noqa: E402
from common import CorpusPage, Site, TreeMemory, build_site, corpus_dir, load_corpus, now  # noqa: E402

PARTS = ("throughput", "recrawl", "memory", "dedup", "idle", "quality")
PY = sys.executable


@dataclass
class Row:
    figure: str
    value: str
    baseline: str
    result: str
    target: str
    ok: bool | None


ROWS: list[Row] = []


def row(figure: str, value: str, baseline: str, result: str, target: str = "", ok: bool | None = None) -> None:
    ROWS.append(Row(figure, value, baseline, result, target, ok))
    mark = "" if ok is None else ("  ok" if ok else "  MISSED")
    print(f"  -> {figure}: {value} | baseline {baseline} | {result} {target}{mark}", flush=True)


def say(text: str) -> None:
    print(text, flush=True)


# -- a local site --------------------------------------------------------------------------------


class LocalSite:
    """Serves generated pages under a prefix plus a static feed.xml and sitemap.xml (with conditional GET)."""

    def __init__(self, pages: dict[str, bytes], content_type: str, feed: bytes, sitemap: bytes, prefix: str) -> None:
        from tests.support.sitesrv import SiteServer

        self.tmp = Path(tempfile.mkdtemp(prefix="nw-bench-site-"))
        (self.tmp / "feed.xml").write_bytes(feed)
        (self.tmp / "sitemap.xml").write_bytes(sitemap)
        self.pages = pages
        self.server = SiteServer(self.tmp)
        self.server.add_generated(prefix, self._page)
        self.content_type = content_type
        self.prefix = prefix

    def _page(self, path: str) -> tuple[int, dict[str, str], bytes]:
        body = self.pages.get(path.split("?")[0])
        if body is None:
            return 404, {"Content-Type": "text/plain"}, b"not found\n"
        return 200, {"Content-Type": self.content_type}, body

    def __enter__(self) -> LocalSite:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    @property
    def base(self) -> str:
        return self.server.base_url

    def page_hits(self) -> int:
        return self.server.hits(self.prefix, status=200)


def write_config(path: Path, base: str, *, feed: bool = True, sitemap: bool = True, daemon: bool = False) -> None:
    """A user's config for the bench site: shipped defaults except allow_private (the site is on 127.0.0.1)."""
    from scheduler.demo import default_topics_text

    topics = default_topics_text()
    parts = [
        '[storage]\ndatabase = "newswatch.db"\n',
        '[crawl]\nuser_agent = "newswatch-bench/1.0 (+mailto:ops@example.org)"\nallow_private = true\n',
    ]
    if feed:
        parts.append(f'[[sources]]\nname = "bench-feed"\nkind = "feed"\nurl = "{base}/feed.xml"\nevery = "30d"\n')
    if sitemap:
        parts.append(
            f'[[sources]]\nname = "bench-sitemap"\nkind = "sitemap"\nurl = "{base}/sitemap.xml"\n'
            'every = "30d"\nwindow = "30d"\n'
        )
    parts.append(topics + "\n")
    if daemon:
        parts.append(
            '[digest]\nschedule = "0 7 1 1 *"\ntimezone = "UTC"\n\n'
            '[[digest.recipients]]\nemail = "analyst@example.org"\n\n'
            '[smtp]\nhost = "127.0.0.1"\nport = 2525\nsecurity = "none"\n'
            'sender = "newswatch <alerts@example.org>"\n'
        )
    path.write_text("\n".join(parts), encoding="utf-8")


def crawl(config_path: Path, timeout: float = 3600.0) -> tuple[Any, float, TreeMemory]:
    """One `newswatch crawl` of every source, as the CLI runs it; (summary, seconds, memory)."""
    from crawler.run import run_in_child

    with TreeMemory() as mem:
        t0 = now()
        summary = run_in_child(config_path, (), (), trigger="cli", timeout=timeout)
        seconds = now() - t0
    return summary, seconds, mem


# -- baseline child --------------------------------------------------------------------------------


def baseline_worker(url_file: str) -> None:
    """The bare baseline: sequential urllib fetch + trafilatura.extract(json, metadata) in one process."""
    import trafilatura

    urls = Path(url_file).read_text(encoding="utf-8").split()
    extracted = 0
    t0 = now()
    for url in urls:
        with urllib.request.urlopen(url, timeout=60) as resp:
            page = resp.read()
        if trafilatura.extract(page, output_format="json", with_metadata=True):
            extracted += 1
    print(json.dumps({"seconds": now() - t0, "pages": len(urls), "extracted": extracted}))


def run_baseline(urls: list[str]) -> tuple[dict[str, Any], TreeMemory]:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(urls))
    try:
        with TreeMemory() as mem:
            out = subprocess.run(
                [PY, str(Path(__file__).resolve()), "--baseline-worker", f.name],
                capture_output=True,
                text=True,
                check=True,
            )
    finally:
        os.unlink(f.name)
    return json.loads(out.stdout.strip().splitlines()[-1]), mem


# -- profiling ---------------------------------------------------------------------------------------


class Profiler:
    """py-spy over the crawl child and its workers, summarised as time per function."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.proc: subprocess.Popen[bytes] | None = None
        self.spy = shutil.which("py-spy") or str(Path(PY).parent / "py-spy")

    def available(self) -> bool:
        return Path(self.spy).exists()

    def attach(self, deadline: float = 30.0) -> None:
        """Wait for the crawl child to appear, then record it with its subprocesses."""
        import threading

        def run() -> None:
            t_end = time.monotonic() + deadline
            while time.monotonic() < t_end:
                kids = [p for p in common.descendants(os.getpid()) if p != os.getpid()]
                for pid in kids:
                    try:
                        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
                    except OSError:
                        continue
                    if b"crawler.run" in cmd:
                        self.proc = subprocess.Popen(
                            [
                                self.spy,
                                "record",
                                "--pid",
                                str(pid),
                                "--subprocesses",
                                "--rate",
                                "50",
                                "--format",
                                "raw",
                                "--output",
                                str(self.out),
                                "--nonblocking",
                            ],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                        )
                        return
                time.sleep(0.05)

        threading.Thread(target=run, daemon=True).start()

    def report(self) -> None:
        if self.proc is None:
            say("  profile: the crawl child was not found")
            return
        self.proc.wait(timeout=60)
        if not self.out.exists():
            say("  profile: py-spy wrote nothing (does it have ptrace permission?)")
            return
        inclusive: Counter[str] = Counter()
        total = 0
        by_process: Counter[str] = Counter()
        for line in self.out.read_text(encoding="utf-8", errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            n = int(count)
            total += n
            frames = stack.split(";")
            by_process[frames[0].split(" ")[0]] += n
            seen = set()
            for fr in frames[1:]:
                name = _frame_name(fr)
                if name and name not in seen:
                    seen.add(name)
                    inclusive[name] += n
        say(f"  profile ({total} samples at 50 Hz over the crawl tree; inclusive share of all samples):")
        for name, n in inclusive.most_common(60):
            if any(
                k in name
                for k in (
                    "crawler/",
                    "trafilatura/",
                    "scrapy/",
                    "htmldate/",
                    "lxml",
                    "twisted/",
                    "sqlite",
                    "pickle",
                    "feedparser",
                )
            ):
                say(f"    {100 * n / total:5.1f}%  {name}")


def _frame_name(frame: str) -> str:
    """'func (path/to/file.py:123)' -> 'pkg/file.py:func'."""
    func, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    if "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    elif "/crawler/" in path:
        path = "crawler/" + path.split("/crawler/", 1)[1]
    elif "/scheduler/" in path:
        path = "scheduler/" + path.split("/scheduler/", 1)[1]
    else:
        path = Path(path).name
    return f"{path}:{func}"


# -- throughput, re-crawl, memory ---------------------------------------------------------------------


def bench_crawl(corpus: list[CorpusPage], n_pages: int, parts: set[str], profile: bool) -> None:
    say(f"\n== crawl: {n_pages} article pages ==")
    t0 = now()
    site: Site = build_site(corpus, n_pages)
    sizes = sorted(len(b) for b in site.pages.values())
    say(
        f"  site: {len(site.pages)} pages from {len(common.heavy_pages(corpus))} real pages of 100-200 KB, "
        f"each copy's text varied ({sizes[0] // 1000}-{sizes[-1] // 1000} KB, median {sizes[len(sizes) // 2] // 1000} KB;"
        f" built in {now() - t0:.0f}s)"
    )
    with (
        tempfile.TemporaryDirectory(prefix="nw-bench-") as tmp,
        LocalSite(
            site.pages, "text/html; charset=utf-8", site.feed("__BASE__"), site.sitemap("__BASE__"), "/news/"
        ) as srv,
    ):
        cfg = Path(tmp) / "newswatch.toml"
        write_config(cfg, srv.base, daemon=True)
        urls = [srv.base + p for p in site.pages]

        prof = Profiler(Path(tempfile.gettempdir()) / "newswatch-crawl-profile.txt") if profile else None
        if prof is not None:
            if prof.available():
                prof.attach()
            else:
                say("  profile: py-spy is not installed (pip install py-spy); crawling without it")
                prof = None
        summary, first_s, mem = crawl(cfg)
        t = summary.totals()
        fetched_pages = srv.page_hits()
        say(
            f"  newswatch crawl: {first_s:.1f}s; article pages fetched {fetched_pages}; summary {t}; "
            f"peak {mem.peak_procs} processes"
        )
        if prof is not None:
            prof.report()
        db = Path(tmp) / "newswatch.db"
        with sqlite3.connect(db) as conn:
            stored = conn.execute("SELECT count(*) FROM articles WHERE text_from = 'page'").fetchone()[0]
            stories = conn.execute("SELECT count(DISTINCT story) FROM articles").fetchone()[0]
        say(f"  stored {stored} articles from pages in {stories} stories")

        base, base_mem = run_baseline(urls)
        say(
            f"  baseline (urllib + trafilatura.extract, one process): {base['seconds']:.1f}s for "
            f"{base['pages']} pages, {base['extracted']} extracted"
        )
        main_cpu, worker_cpu = mem.cpu_by("crawler.run"), mem.cpu_by("multiprocessing")
        say(
            f"  CPU per page: newswatch {1000 * mem.tree_cpu / fetched_pages:.0f} ms (crawl process "
            f"{1000 * main_cpu / fetched_pages:.0f} ms incl. start-up, workers {1000 * worker_cpu / fetched_pages:.0f} ms)"
            f"; baseline {1000 * base_mem.tree_cpu / base['pages']:.0f} ms"
        )
        say("  cores busy in the crawl tree, per 5 s: " + " ".join(f"{u:.1f}" for u in mem.utilisation()))
        say(
            f"  load besides the measured processes, in cores: other programs {mem.others_cpu / mem.wall:.2f}, "
            f"this benchmark (site server, sampler) {mem.harness_cpu / mem.wall:.2f} during newswatch; "
            f"{base_mem.others_cpu / base_mem.wall:.2f} and {base_mem.harness_cpu / base_mem.wall:.2f} during baseline"
        )
        nw_rate = fetched_pages / first_s
        base_rate = base["pages"] / base["seconds"]
        if parts & {"throughput"}:
            ratio = nw_rate / base_rate
            row(
                f"throughput, {n_pages} pages",
                f"{nw_rate:.1f} pages/s ({first_s:.0f}s)",
                f"{base_rate:.1f} pages/s ({base['seconds']:.0f}s)",
                f"{ratio:.2f}x",
                ">= 1.5x",
                ratio >= 1.5,
            )
        if parts & {"memory"}:
            r = mem.peak_pss_kb / max(base_mem.peak_pss_kb, 1)
            row(
                "peak memory (PSS, whole tree)",
                f"{mem.peak_pss_kb / 1024:.0f} MB in {mem.peak_procs} procs (RSS sum {mem.peak_rss_kb / 1024:.0f} MB)",
                f"{base_mem.peak_pss_kb / 1024:.0f} MB (RSS {base_mem.peak_rss_kb / 1024:.0f} MB)",
                f"{r:.2f}x",
            )
        if parts & {"throughput"}:
            c_nw, c_base = mem.tree_cpu / fetched_pages, base_mem.tree_cpu / base["pages"]
            row(
                "CPU per page (all processes)",
                f"{1000 * c_nw:.0f} ms",
                f"{1000 * c_base:.0f} ms",
                f"{c_nw / c_base:.2f}x",
            )

        if parts & {"recrawl", "idle"}:
            srv.server.clear_log()
            summary2, second_s, _ = crawl(cfg)
            hits2 = srv.page_hits()
            frac = second_s / first_s
            say(f"  re-crawl: {second_s:.2f}s; article pages fetched {hits2}; summary {summary2.totals()}")
            if "recrawl" in parts:
                row(
                    "re-crawl, unchanged sources",
                    f"{hits2} pages fetched, {second_s:.2f}s",
                    f"first crawl {first_s:.0f}s",
                    f"{100 * frac:.1f}% of first",
                    "0 fetches, <= 5%",
                    hits2 == 0 and frac <= 0.05,
                )
        if "idle" in parts:
            bench_idle(cfg, QUICK)


# -- daemon idle -------------------------------------------------------------------------------------

IDLE_BASELINE = r"""
import asyncio, datetime, signal
from apscheduler.schedulers.asyncio import AsyncIOScheduler
async def main():
    s = AsyncIOScheduler()
    s.add_job(lambda: None, "interval", days=30, next_run_time=datetime.datetime.now() + datetime.timedelta(days=30))
    s.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
asyncio.run(main())
"""


def idle_cost(cmd: list[str], seconds: float, env: dict[str, str] | None = None) -> tuple[float, int, int, int]:
    """(CPU seconds over the window, RSS kB at its end, peak RSS kB, processes) of a process left idle."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    try:
        # Warm-up: until start-up work is done (two quiet half-seconds), at most 60 s.
        quiet, last, t_end = 0, 0.0, time.monotonic() + 60
        while quiet < 2 and time.monotonic() < t_end:
            time.sleep(0.5)
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd[-1]} exited: {proc.stderr.read().decode()[-500:]}")  # type: ignore[union-attr]
            cpu = sum(common.cpu_seconds(p) for p in common.descendants(proc.pid))
            quiet = quiet + 1 if cpu - last < 0.02 else 0
            last = cpu
        pids = common.descendants(proc.pid)
        cpu0 = sum(common.cpu_seconds(p) for p in pids)
        peak = 0
        t_end = time.monotonic() + seconds
        while time.monotonic() < t_end:
            time.sleep(min(1.0, max(t_end - time.monotonic(), 0)))
            pids = common.descendants(proc.pid)
            peak = max(peak, sum(common.status_kb(p, "VmRSS") for p in pids))
        pids = common.descendants(proc.pid)
        cpu1 = sum(common.cpu_seconds(p) for p in pids)
        rss = sum(common.status_kb(p, "VmRSS") for p in pids)
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd[-1]} exited during the idle window")
        return cpu1 - cpu0, rss, peak, len(pids)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def bench_idle(cfg: Path, quick: bool) -> None:
    seconds = 15.0 if quick else 60.0
    say(f"\n== daemon idle: {seconds:.0f}s window ==")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    nw = idle_cost([PY, "-m", "scheduler.cli", "-c", str(cfg), "run"], seconds, env)
    base = idle_cost([PY, "-c", IDLE_BASELINE], seconds, env)
    say(
        f"  newswatch run: {nw[0]:.2f} CPU s, RSS {nw[1] / 1024:.0f} MB (peak {nw[2] / 1024:.0f} MB), {nw[3]} processes"
    )
    say(f"  bare APScheduler: {base[0]:.2f} CPU s, RSS {base[1] / 1024:.0f} MB")
    per_min = 60 / seconds

    def cpu(x: float) -> str:  # /proc counts CPU in clock ticks (10 ms)
        return f"{x:.2f} s" if x else "< 0.01 s"

    row(
        f"daemon idle CPU ({seconds:.0f}s)",
        f"{cpu(nw[0])} ({100 * nw[0] / seconds:.2f}% of a core)",
        cpu(base[0]),
        f"{cpu(nw[0] * per_min)} CPU/min",
    )
    row(
        "daemon idle memory (RSS)",
        f"{nw[1] / 1024:.0f} MB, {nw[3]} process(es)",
        f"{base[1] / 1024:.0f} MB",
        f"{nw[1] / max(base[1], 1):.1f}x",
    )


# -- extraction quality --------------------------------------------------------------------------------


def bench_quality(corpus: list[CorpusPage]) -> None:
    import trafilatura

    say(f"\n== extraction quality: {len(corpus)} real pages ==")
    pages = {f"/q/{p.name}.html": p for p in corpus}
    bodies = {path: p.body for path, p in pages.items()}
    titles = {path: f"Page {i}" for i, path in enumerate(pages)}
    site = Site(bodies, titles)
    # The corpus pages are UTF-8 (their own meta says so where they say anything), served as such.
    with (
        tempfile.TemporaryDirectory(prefix="nw-bench-q-") as tmp,
        LocalSite(bodies, "text/html; charset=utf-8", site.feed("__BASE__"), site.sitemap("__BASE__"), "/q/") as srv,
    ):
        cfg = Path(tmp) / "newswatch.toml"
        write_config(cfg, srv.base, sitemap=False)
        summary, seconds, _ = crawl(cfg)
        say(f"  newswatch crawl: {seconds:.1f}s, {srv.page_hits()} pages fetched; summary {summary.totals()}")
        stored: dict[str, str] = {}
        with sqlite3.connect(Path(tmp) / "newswatch.db") as conn:
            for url, text, text_from in conn.execute("SELECT url, text, text_from FROM articles"):
                if text_from == "page":
                    stored[url[len(srv.base) :]] = text
            for url, aid in conn.execute("SELECT url, article_id FROM _aliases"):
                path = url[len(srv.base) :] if url.startswith(srv.base) else None
                if path in pages and path not in stored:
                    row_ = conn.execute("SELECT text, text_from FROM articles WHERE id = ?", [aid]).fetchone()
                    if row_ and row_[1] == "page":
                        stored[path] = row_[0]
    nw_pr, bare_pr = [], []
    t0 = now()
    for path, p in pages.items():
        bare = trafilatura.extract(p.body.decode(common.page_charset(p.body), "replace")) or ""
        bare_pr.append(common.precision_recall(p.truth, bare))
        nw_pr.append(common.precision_recall(p.truth, stored.get(path, "")))
    bare_s = now() - t0
    missing = sum(1 for path in pages if path not in stored)
    nf, np_, nr = common.f1_of(nw_pr)
    bf, bp, br = common.f1_of(bare_pr)
    say(f"  newswatch: F1 {nf:.3f} (P {np_:.3f}, R {nr:.3f}); {missing} pages without stored text")
    say(f"  bare trafilatura.extract: F1 {bf:.3f} (P {bp:.3f}, R {br:.3f}) in {bare_s:.1f}s")
    worse = sorted(((b[0] + b[1]) - (n[0] + n[1]), path) for path, n, b in zip(pages, nw_pr, bare_pr))[-3:]
    say("  pages where newswatch trails bare most: " + ", ".join(f"{p[3:15]} ({d:+.2f})" for d, p in worse if d > 0))
    ratio = nf / bf if bf else 0.0
    row(
        f"extraction F1, {len(corpus)} real pages",
        f"{nf:.3f} (P {np_:.3f} R {nr:.3f})",
        f"{bf:.3f} (P {bp:.3f} R {br:.3f})",
        f"{ratio:.3f}x",
        ">= 0.99x",
        ratio >= 0.99,
    )


# -- dedup + matching cost --------------------------------------------------------------------------------

ARCHIVE_REAL = 2000  # stored articles with real text (copies in the measured set point at these)
ARCHIVE_TEXTS = 400  # distinct generated bodies the other stored articles reuse (their ids, URLs, hashes differ)


class Archive:
    """A real newswatch database (crawler.store.Store) pre-filled with N articles, and the per-article
    cost of adding one more the way the crawl does: signature, hash, index tokens, topic matching,
    then add_article + set_matches in one transaction."""

    def __init__(self, path: Path) -> None:
        from crawler.store import Store

        self.path = path
        self.store = Store(path)
        self.ms: list[float] = []
        self.store_ms: list[float] = []  # the add_article + set_matches transaction alone
        self.joined = 0
        self.matched = 0

    def fill(
        self, first_id: int, count: int, bodies: list[tuple[str, str, str, bytes]], real: dict[int, bytes], rng: Any
    ) -> None:
        """Bulk-load articles first_id.. as the store would hold them: rows, aliases, stories, FTS, story index."""
        from dedup_bench import random_signature

        from crawler.dedup import Signature

        c = self.store.conn
        c.execute("PRAGMA synchronous = OFF")  # a bulk load; the measured writes run with the store's own settings
        seq0 = c.execute("SELECT coalesce(max(seq), 0) FROM _story_cluster").fetchone()[0]
        for lo in range(first_id, first_id + count, 5000):
            c.execute("BEGIN")
            ids = range(lo, min(lo + 5000, first_id + count))
            arts, fts, aliases, stories, clusters, sigs, bands, matches = [], [], [], [], [], [], [], []
            for aid in ids:
                title, text, index_text, _ = bodies[aid % len(bodies)]
                url = f"https://outlet{aid % 50}.example/news/{aid}.html"
                when = f"2024-{1 + aid % 12:02d}-{1 + aid % 28:02d}T08:00:00+00:00"
                t = f"{title} {aid}"
                # Stored articles with the same real body are one story, as dedup would have left them.
                b = aid % len(bodies)
                head = (b or len(bodies)) if aid in real else aid
                arts.append(
                    (
                        aid,
                        url,
                        url,
                        f"outlet{aid % 50}",
                        t,
                        text,
                        "page",
                        when,
                        "en",
                        f"h{aid:012x}",
                        str(head),
                        when,
                        when,
                    )
                )
                fts.append((aid, t.lower(), index_text))
                aliases.append((url, aid))
                seq = seq0 + head - first_id + 1
                if head == aid:
                    stories.append((str(aid), aid, when))
                    clusters.append((seq, str(aid)))
                sig = real.get(aid) or random_signature(rng).to_bytes()
                sigs.append((aid, seq, sig))
                bands.extend((k, aid) for k in Signature.from_bytes(sig).bands)
                if aid % 20 == 0:
                    matches.append((aid, "china-russia-st", 2.0, "[]", when))
            c.executemany(
                "INSERT INTO articles(id, url, canonical_url, source, title, text, text_from, published,"
                " language, content_hash, story, fetched, first_seen) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                arts,
            )
            c.executemany("INSERT INTO _articles_fts(rowid, title, text) VALUES (?,?,?)", fts)
            c.executemany("INSERT INTO _aliases(url, article_id) VALUES (?,?)", aliases)
            c.executemany("INSERT INTO stories(id, article_id, first_seen) VALUES (?,?,?)", stories)
            c.executemany("INSERT INTO _story_cluster(seq, story_id) VALUES (?,?)", clusters)
            c.executemany("INSERT INTO _story_sig(article_id, seq, sig) VALUES (?,?,?)", sigs)
            c.executemany("INSERT OR IGNORE INTO _story_band(key, article_id) VALUES (?,?)", sorted(bands))
            c.executemany("INSERT INTO matches(article_id, topic, score, hits, matched_at) VALUES (?,?,?,?,?)", matches)
            c.execute("COMMIT")
        # Leave no bulk-load WAL behind: its checkpoint would land on a measured article.
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        c.execute("PRAGMA synchronous = NORMAL")

    def add(self, n: int, title: str, text: str, topics: tuple[Any, ...]) -> None:
        from datetime import UTC, datetime

        from crawler import dedup, textnorm
        from crawler.process import match_topics
        from crawler.store import ArticleRecord

        t0 = now()
        # From the same outlets as the stored articles: per-source lookups must not grow with the archive.
        url = f"https://outlet{n % 50}.example/news/new-{n}.html"
        record = ArticleRecord(
            url=url,
            canonical_url=url,
            source=f"outlet{n % 50}",
            title=title,
            text=text,
            text_from="page",
            published=None,
            language=None,
            fetched=datetime.now(UTC),
            content_hash=dedup.content_hash(text),
            signature=dedup.signature(title, text).to_bytes(),
            index_title=textnorm.index_tokens(title),
            index_text=textnorm.index_tokens(text),
        )
        found = match_topics(title, text, topics)
        t1 = now()
        with self.store.transaction():
            result = self.store.add_article(record)
            self.store.set_matches(result.article_id, found)
        t2 = now()
        self.ms.append((t2 - t0) * 1000)
        self.store_ms.append((t2 - t1) * 1000)
        self.joined += result.story != str(result.article_id)
        self.matched += bool(found)

    def figures(self) -> tuple[float, float]:
        xs = sorted(self.ms)
        return sum(xs) / len(xs), xs[len(xs) // 2]

    def spread(self) -> str:
        xs = sorted(self.ms)
        return f"p90 {xs[int(len(xs) * 0.9)]:.1f}, p99 {xs[int(len(xs) * 0.99)]:.1f}, max {xs[-1]:.1f} ms"


def bench_dedup(quick: bool) -> None:
    import random

    import dedup_bench
    from topics_bench import LABELED, default_topic

    from crawler.config import TopicConfig
    from crawler.dedup import signature
    from crawler.textnorm import index_tokens

    measured = 200 if quick else 500
    say(f"\n== dedup + matching + store cost per article: {measured} new articles into 10k and into 100k ==")
    name, query, min_score = default_topic()
    topics = (TopicConfig(name, query, min_score),)
    rng = random.Random(20240601)
    vocab, weights = dedup_bench.make_vocab(rng)
    t0 = now()
    originals = [dedup_bench.make_article(rng, vocab, weights) for _ in range(ARCHIVE_TEXTS)]
    bodies = [(t, x, index_tokens(x), b"") for t, x in originals]
    real = {aid: signature(*originals[aid % ARCHIVE_TEXTS]).to_bytes() for aid in range(1, ARCHIVE_REAL + 1)}
    labeled = [json.loads(line) for line in LABELED.read_text(encoding="utf-8").splitlines() if line.strip()]
    # The new articles, the same for both archives: labeled en/ru/zh news (on and off the topic, so
    # matching does real work), fresh generated text, and copies of stored articles (which must join).
    new: list[tuple[str, str]] = []
    for i in range(measured + 20):
        if i % 4 == 0:
            r = labeled[(i // 4) % len(labeled)]
            new.append((r["title"], f"{r['text']}\n\nUpdated {i}: {' '.join(rng.choices(vocab, k=12))}."))
        elif i % 4 == 1:
            how = ("truncate", "edit", "template")[i % 3]
            new.append(dedup_bench.make_copy(rng, *originals[rng.randrange(ARCHIVE_TEXTS)], vocab, how))
        else:
            new.append(dedup_bench.make_article(rng, vocab, weights))
    with tempfile.TemporaryDirectory(prefix="nw-bench-dedup-") as tmp:
        small = Archive(Path(tmp) / "10k.db")
        small.fill(1, 10_000, bodies, real, rng)
        small.store.close()
        shutil.copyfile(small.path, Path(tmp) / "100k.db")
        small, large = Archive(small.path), Archive(Path(tmp) / "100k.db")
        large.fill(10_001, 90_000, bodies, {}, rng)
        sizes = [os.path.getsize(a.path) / 1e6 for a in (small, large)]
        say(
            f"  archives built in {now() - t0:.0f}s: real newswatch databases of 10k and 100k articles "
            f"({sizes[0]:.0f} MB, {sizes[1]:.0f} MB; FTS, aliases, story index, matches)"
        )
        for i, (title, text) in enumerate(new[:20]):  # warm both (page cache, compiled query)
            small.add(-i - 1, title, text, topics)
            large.add(-i - 1, title, text, topics)
        for a in (small, large):
            a.ms.clear()
            a.store_ms.clear()
        small.joined = large.joined = small.matched = large.matched = 0
        for i, (title, text) in enumerate(new[20:]):  # interleaved: machine load hits both alike
            small.add(i, title, text, topics)
            large.add(i, title, text, topics)
        (m10, d10), (m100, d100) = small.figures(), large.figures()
        for label, a in (("10k", small), ("100k", large)):
            mean, median = a.figures()
            say(
                f"  {label}: mean {mean:.2f} ms, median {median:.2f} ms per article; "
                f"{a.spread()}; store transaction alone mean {sum(a.store_ms) / len(a.store_ms):.2f} ms; "
                f"{a.joined} joined a stored story, {a.matched} matched the default topic"
            )
        small.store.close()
        large.store.close()
    ratio = m100 / m10
    row(
        "dedup+match+store per article",
        f"100k stored: {m100:.2f} ms (median {d100:.2f})",
        f"10k stored: {m10:.2f} ms (median {d10:.2f})",
        f"{ratio:.2f}x",
        "<= 2x",
        ratio <= 2.0,
    )


# -- the table ---------------------------------------------------------------------------------------------


def print_table() -> None:
    cols = ("figure", "newswatch", "baseline (same run)", "result", "target")
    data = [
        (r.figure, r.value, r.baseline, r.result + ("" if r.ok is None else (" ok" if r.ok else " MISSED")), r.target)
        for r in ROWS
    ]
    widths = [max(len(c), *(len(d[i]) for d in data)) if data else len(c) for i, c in enumerate(cols)]
    line = "  ".join(c.ljust(w) for c, w in zip(cols, widths))
    say("\n" + line)
    say("-" * len(line))
    for d in data:
        say("  ".join(v.ljust(w) for v, w in zip(d, widths)))


QUICK = False


def main(argv: list[str] | None = None) -> int:
    global QUICK
    ap = argparse.ArgumentParser(prog="python bench/run.py", description=__doc__.split("\n")[0])
    ap.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts: {', '.join(PARTS)}")
    ap.add_argument("--pages", type=int, default=1500, help="article pages in the throughput site (default 1500)")
    ap.add_argument("--quick", action="store_true", help="15 s idle window, fewer dedup samples")
    ap.add_argument(
        "--corpus", help=f"article-extraction corpus (default ${common.CORPUS_ENV} or {common.DEFAULT_CORPUS})"
    )
    ap.add_argument("--profile", action="store_true", help="profile the crawl with py-spy and print the hot path")
    ap.add_argument("--baseline-worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.baseline_worker:
        baseline_worker(args.baseline_worker)
        return 0
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    unknown = parts - set(PARTS)
    if unknown:
        ap.error(f"unknown part {sorted(unknown)[0]!r}; choose from {', '.join(PARTS)}")
    QUICK = args.quick
    workers = os.environ.get("NEWSWATCH_WORKERS", "default")
    say(
        f"newswatch benchmarks: {os.cpu_count()} cores (nproc {_nproc()}), NEWSWATCH_WORKERS={workers}, "
        f"python {sys.version.split()[0]}"
    )
    t_start = now()
    path = corpus_dir(args.corpus)
    corpus: list[CorpusPage] = []
    if path is None:
        where = args.corpus or os.environ.get(common.CORPUS_ENV) or common.DEFAULT_CORPUS
        say(
            f"corpus NOT FOUND at {where} (set it with --corpus or ${common.CORPUS_ENV}; it needs "
            "ground-truth.json and html/): skipping throughput, recrawl, memory, idle and quality"
        )
    else:
        corpus = load_corpus(path)
        say(f"corpus: {path} ({len(corpus)} pages)")
    if corpus and parts & {"throughput", "recrawl", "memory", "idle"}:
        bench_crawl(corpus, args.pages, parts, args.profile)
    if corpus and "quality" in parts:
        bench_quality(corpus)
    if "dedup" in parts:
        bench_dedup(args.quick)
    print_table()
    say(f"\ncores: {_nproc()}; total time {now() - t_start:.0f}s")
    missed = [r.figure for r in ROWS if r.ok is False]
    return 1 if missed else 0


def _nproc() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


if __name__ == "__main__":
    sys.exit(main())
