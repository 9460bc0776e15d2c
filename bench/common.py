"""Shared pieces of the benchmarks: the real-page corpus, varied copies of its pages, a generated
news site (feed + sitemap), process-tree memory/CPU sampling, and shingle F1 scoring."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
CORPUS_ENV = "NEWSWATCH_BENCH_CORPUS"
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpora" / "article-extraction-benchmark"
PAGE_SIZE = (100_000, 200_000)  # markup bytes of a "heavy as real news" page


# -- the corpus ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CorpusPage:
    name: str
    body: bytes  # the original bytes (the corpus stores them gzipped)
    truth: str  # ground-truth article body
    url: str  # where the page was captured


def corpus_dir(explicit: str | None = None) -> Path | None:
    """The article-extraction corpus: --corpus, else $NEWSWATCH_BENCH_CORPUS, else ../shared/corpora/…."""
    candidate = Path(explicit or os.environ.get(CORPUS_ENV) or DEFAULT_CORPUS)  # the first one given decides
    if (candidate / "ground-truth.json").is_file() and (candidate / "html").is_dir():
        return candidate
    return None


def load_corpus(path: Path) -> list[CorpusPage]:
    truth = json.loads((path / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for file in sorted((path / "html").glob("*.html.gz")):
        name = file.name.removesuffix(".html.gz")
        if name in truth:
            t = truth[name]
            pages.append(
                CorpusPage(name, gzip.decompress(file.read_bytes()), t.get("articleBody") or "", t.get("url") or "")
            )
    return pages


def page_charset(body: bytes) -> str:
    """The charset a page declares in <meta>, if Python knows it; else utf-8 (what the corpus holds)."""
    m = re.search(rb"<meta[^>]+charset=[\"']?([\w-]+)", body[:8192], re.I)
    if m:
        import codecs

        try:
            return codecs.lookup(m.group(1).decode("ascii")).name
        except LookupError:
            pass
    return "utf-8"


# -- varied copies -----------------------------------------------------------------------------

_TEXT_NODE = re.compile(r">([^<]+)<")
_WORD = re.compile(r"[^\W\d_]{4,}")
_SCRIPT = re.compile(r"(<script\b.*?</script>|<style\b.*?</style>)", re.S | re.I)


def vary_page(body: bytes, copy: int, vocabulary: list[str]) -> bytes:
    """A copy of a page whose visible text differs from every other copy's.

    About one word in eight (chosen by a hash of the word and the copy number) is swapped for a
    word of the page's own vocabulary, so each copy has its own body hash, title and
    near-duplicate signature while staying the same kind of page. Numbers are left alone: made-up
    numbers turn dates into implausible ones ("November 4217"), which real pages do not have and
    which send date parsers down slow paths on both sides of the comparison.
    """
    charset = page_charset(body)
    html = body.decode(charset, "replace")
    salt = copy.to_bytes(4, "big")

    def word(m: re.Match[str]) -> str:
        w = m.group(0)
        h = int.from_bytes(hashlib.blake2b(w.encode("utf-8", "replace"), digest_size=4, key=salt).digest(), "big")
        if h % 8 == 0 and vocabulary:
            return vocabulary[h % len(vocabulary)]
        return w

    def text_node(m: re.Match[str]) -> str:
        return ">" + _WORD.sub(word, m.group(1)) + "<"

    parts = _SCRIPT.split(html)
    for i in range(0, len(parts), 2):  # even parts are outside <script>/<style>
        parts[i] = _TEXT_NODE.sub(text_node, parts[i])
    return "".join(parts).encode(charset, "xmlcharrefreplace")


def page_vocabulary(body: bytes) -> list[str]:
    text = " ".join(_TEXT_NODE.findall(_SCRIPT.sub(" ", body.decode(page_charset(body), "replace"))))
    return sorted({w for w in re.findall(r"[^\W\d_]{4,}", text)})


# -- a generated news site -----------------------------------------------------------------------


@dataclass
class Site:
    """Article pages (path -> bytes) plus the feed and sitemap that list them."""

    pages: dict[str, bytes]
    titles: dict[str, str]

    def feed(self, base: str) -> bytes:
        now = format_datetime(datetime.now(UTC))
        items = "".join(
            f"<item><title>{escape(self.titles[p])}</title><link>{base}{p}</link>"
            f'<guid isPermaLink="true">{base}{p}</guid><pubDate>{now}</pubDate>'
            f"<description>{escape(self.titles[p])}</description></item>\n"
            for p in self.pages
        )
        return (
            f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Bench wire</title>'
            f"<link>{base}/</link><description>benchmark site</description>\n{items}</channel></rss>\n"
        ).encode()

    def sitemap(self, base: str) -> bytes:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        urls = "".join(f"<url><loc>{base}{p}</loc><lastmod>{now}</lastmod></url>\n" for p in self.pages)
        return (
            f'<?xml version="1.0" encoding="utf-8"?>\n'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{urls}</urlset>\n'
        ).encode()


def heavy_pages(corpus: list[CorpusPage]) -> list[CorpusPage]:
    """Corpus pages with 100-200 KB of markup, as heavy as real news pages."""
    return [p for p in corpus if PAGE_SIZE[0] <= len(p.body) <= PAGE_SIZE[1]]


def build_site(corpus: list[CorpusPage], n: int) -> Site:
    """n article pages: the heavy corpus pages in turn, each copy with its own varied text."""
    bases = heavy_pages(corpus)
    vocab = {p.name: page_vocabulary(p.body) for p in bases}
    pages: dict[str, bytes] = {}
    titles: dict[str, str] = {}
    for i in range(n):
        src = bases[i % len(bases)]
        path = f"/news/{i // 100:03d}/{src.name[:12]}-{i}.html"
        pages[path] = vary_page(src.body, i // len(bases) + 1, vocab[src.name])
        titles[path] = f"Story {i} ({src.name[:8]})"
    return Site(pages, titles)


# -- process-tree sampling --------------------------------------------------------------------------

_PAGE = os.sysconf("SC_PAGE_SIZE")
_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds user+system) from /proc/PID/stat."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def descendants(root: int) -> list[int]:
    """root and every process below it."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st:
                parents.setdefault(st[0], []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(parents.get(pid, []))
    return out


def status_kb(pid: int, key: str) -> int:
    """A 'kB' field of /proc/PID/status (VmRSS, VmHWM), 0 if gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def pss_kb(pid: int) -> int:
    """Proportional set size: shared pages split between the processes sharing them."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    st = _stat(pid)
    return st[1] if st else 0.0


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def _self_cpu() -> float:
    """CPU seconds of this process (the benchmark: its site server and this sampler)."""
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _machine_busy() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICK


class TreeMemory:
    """Samples the summed RSS and PSS of every process below `root` (default: this process's
    children), the CPU seconds each used, and how busy the whole machine was meanwhile."""

    def __init__(self, root: int | None = None, interval: float = 0.25) -> None:
        self.root = root or os.getpid()
        self.interval = interval
        self.peak_rss_kb = 0
        self.peak_pss_kb = 0
        self.peak_procs = 0
        self.cpu: dict[int, float] = {}  # pid -> last CPU seconds seen
        self.roles: dict[int, str] = {}  # pid -> command line
        self.machine_cpu = 0.0  # CPU seconds the machine was busy during the window
        self.harness_cpu = 0.0  # CPU seconds of this benchmark process meanwhile
        self.timeline: list[tuple[float, float]] = []  # (seconds since start, tree CPU seconds so far)
        self.wall = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = [p for p in descendants(self.root) if p != os.getpid()]
            if pids:
                self.peak_rss_kb = max(self.peak_rss_kb, sum(status_kb(p, "VmRSS") for p in pids))
                self.peak_pss_kb = max(self.peak_pss_kb, sum(pss_kb(p) for p in pids))
                self.peak_procs = max(self.peak_procs, len(pids))
                for p in pids:
                    self.cpu[p] = max(self.cpu.get(p, 0.0), cpu_seconds(p))
                    if p not in self.roles:
                        self.roles[p] = _cmdline(p)
                self.timeline.append((time.perf_counter() - self._t0, sum(self.cpu.values())))
            self._stop.wait(self.interval)

    def cpu_by(self, marker: str) -> float:
        """CPU seconds of the processes whose command line contains marker."""
        return sum(c for p, c in self.cpu.items() if marker in self.roles.get(p, ""))

    def utilisation(self, step: float = 5.0) -> list[float]:
        """Cores the tree kept busy in each `step`-second slice of the window."""
        out, last_t, last_c, edge = [], 0.0, 0.0, step
        for t, c in self.timeline:
            if t >= edge:
                out.append((c - last_c) / (t - last_t))
                last_t, last_c, edge = t, c, edge + step
        return out

    @property
    def tree_cpu(self) -> float:
        return sum(self.cpu.values())

    @property
    def others_cpu(self) -> float:
        """CPU seconds other programs on the machine used meanwhile (not this benchmark, not the tree)."""
        return max(self.machine_cpu - self.tree_cpu - self.harness_cpu, 0.0)

    def __enter__(self) -> TreeMemory:
        self._t0, self._busy0, self._self0 = time.perf_counter(), _machine_busy(), _self_cpu()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.wall = time.perf_counter() - self._t0
        self.machine_cpu = _machine_busy() - self._busy0
        self.harness_cpu = _self_cpu() - self._self0


# -- scoring -----------------------------------------------------------------------------------

_TOKEN = re.compile(r"\w+", re.UNICODE)


def shingles(text: str, n: int = 4) -> set[tuple[str, ...]]:
    toks = _TOKEN.findall(text or "")
    return (
        {tuple(toks[i : i + n]) for i in range(max(len(toks) - n + 1, 0))}
        if len(toks) >= n
        else ({tuple(toks)} if toks else set())
    )


def precision_recall(truth: str, pred: str) -> tuple[float, float]:
    """Per-page precision and recall over word 4-gram shingles (the corpus's own measure)."""
    t, p = shingles(truth), shingles(pred)
    tp = len(t & p)
    if not t and not p:
        return 1.0, 1.0
    precision = tp / len(p) if p else 0.0
    recall = tp / len(t) if t else 0.0
    return precision, recall


def f1_of(pairs: list[tuple[float, float]]) -> tuple[float, float, float]:
    """(F1, P, R) with P and R averaged over pages, as the corpus's evaluation does."""
    if not pairs:
        return 0.0, 0.0, 0.0
    p = sum(x for x, _ in pairs) / len(pairs)
    r = sum(y for _, y in pairs) / len(pairs)
    return (2 * p * r / (p + r) if p + r else 0.0), p, r


def now() -> float:
    return time.perf_counter()
