"""The extraction worker pool: its forkserver warms up once, and workers forked from it extract pages."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawler import textnorm
from crawler.extract import extract
from crawler.pipelines import make_pool
from crawler.process import _WARM_UP_PAGE, FeedInfo, PageJob, needs_language_model, process_page, warm_up
from tests.support.articles import RSS, rss_channel
from tests.support.pyrun import run_script
from tests.support.sitesrv import SiteServer


def test_the_warm_up_extracts_its_page_without_loading_the_language_model() -> None:
    textnorm._identifier.cache_clear()
    warm_up()
    assert textnorm._identifier.cache_info().currsize == 0, "the model is loaded only when a run needs it"
    page = extract(_WARM_UP_PAGE.decode(), "http://example.org/a")
    assert page is not None and page.text, "the warm-up page holds an article"
    textnorm.load_language_model()
    assert textnorm._identifier.cache_info().currsize == 1


def test_a_page_needs_the_language_model_when_neither_its_feed_nor_its_source_declares_a_language() -> None:
    job = PageJob("s", "http://example.org/a", "http://example.org/a", b"", "text/html", datetime.now(UTC))
    assert needs_language_model(job)
    assert not needs_language_model(replace(job, source_language="fr"))
    assert not needs_language_model(replace(job, feed=FeedInfo(language="de")))
    assert needs_language_model(replace(job, feed=FeedInfo(title="no language")))


def test_workers_forked_from_the_warmed_forkserver_extract_pages() -> None:
    body = (
        "<html><head><title>Joint laboratory</title></head><body><article><h1>Joint laboratory</h1>"
        + "<p>Two academies opened a joint laboratory for battery materials on Monday.</p>" * 4
        + "</article></body></html>"
    ).encode()
    job = PageJob("s", "http://example.org/lab", "http://example.org/lab", body, "text/html", datetime.now(UTC))
    pool = make_pool(2)
    assert pool is not None
    try:
        done = pool.submit(process_page, job, ()).result(timeout=120)
    finally:
        pool.shutdown(wait=True)
    assert done.record is not None and done.record.title == "Joint laboratory"
    assert done.record.language == "en"


def test_workers_do_not_import_scrapy() -> None:
    # Only the crawl process fetches; a worker that imported Scrapy (through its initializer's module)
    # would pay a third of a second of CPU for it before its first page.
    pool = make_pool(1)
    assert pool is not None
    try:
        loaded = pool.submit(
            eval, "sorted(m for m in __import__('sys').modules if m.split('.')[0] in ('scrapy', 'twisted', 'crawler'))"
        ).result(timeout=120)
        # nor the store: sqlite-utils costs a process ~0.04 s, and a worker only hands records back
        store = pool.submit(eval, "[m for m in ('crawler.store', 'sqlite_utils') if m in __import__('sys').modules]")
        assert store.result(timeout=120) == []
    finally:
        pool.shutdown(wait=True)
    assert "crawler.process" in loaded and "crawler.extract" in loaded, loaded
    assert not [m for m in loaded if m.startswith(("scrapy", "twisted", "crawler.spiders", "crawler.pipelines"))], (
        loaded
    )


_LANGUAGE_IN_WORKER = r"""
import json, sys
from datetime import UTC, datetime
from crawler.pipelines import make_pool
from crawler.process import PageJob, process_page

body = (
    "<html><head><title>Un laboratoire commun</title></head><body><article><h1>Un laboratoire commun</h1>"
    + "<p>Les deux académies ont ouvert lundi un laboratoire commun consacré aux matériaux des batteries, "
    "et leurs chercheurs travailleront ensemble pendant cinq ans.</p>" * 4
    + "</article></body></html>"
).encode()
job = PageJob("s", "http://example.org/fr", "http://example.org/fr", body, "text/html", datetime.now(UTC))
pool = make_pool(1, language_model=sys.argv[1] == "yes")
loaded = "__import__('crawler.textnorm').textnorm._identifier.cache_info().currsize"
before = pool.submit(eval, loaded).result(timeout=120)
done = pool.submit(process_page, job, ()).result(timeout=120)
pool.shutdown(wait=True)
print(json.dumps([before, done.record.language]))
"""


@pytest.mark.parametrize("language_model", [True, False])
def test_workers_tell_an_undeclared_language_whether_or_not_their_forkserver_loaded_the_model(
    language_model: bool,
) -> None:
    # a process starts one forkserver, with the preload of its first pool: each case in its own process
    before, language = run_script(_LANGUAGE_IN_WORKER, "yes" if language_model else "no")
    assert before == (1 if language_model else 0)
    assert language == "fr"


_BROKEN_POOL = r"""
import os, signal, sys, time
from concurrent.futures.process import BrokenProcessPool
from crawler.pipelines import make_pool, retire
from tests.support.poolwork import ignore_sigterm

pool = make_pool(2)
pids = set()
while len(pids) < 2:  # one task each, held long enough that the other worker takes the other
    pids = {f.result(timeout=60) for f in [pool.submit(ignore_sigterm, 0.5) for _ in range(2)]}
first, second = sorted(pids)
os.kill(first, signal.SIGKILL)  # the pool breaks; its manager thread's SIGTERM cannot stop the other
for _ in range(600):
    try:
        pool.submit(os.getpid).result(timeout=60)
    except BrokenProcessPool:
        break
    time.sleep(0.05)
else:
    sys.exit("the pool never noticed its dead worker")
print("reached", second, flush=True)
KILL_LEFTOVERS
"""


def _run_broken_pool(kill_leftovers: str, timeout: float) -> subprocess.CompletedProcess[str]:
    root = Path(__file__).resolve().parent.parent
    return subprocess.run(
        [sys.executable, "-c", _BROKEN_POOL.replace("KILL_LEFTOVERS", kill_leftovers)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(root)},
    )


def test_a_broken_pool_with_a_worker_deaf_to_sigterm_does_not_hold_the_crawl_at_exit() -> None:
    # A worker the pool's own clean-up cannot stop (one started just as the pool broke misses its
    # SIGTERM; here it ignores it) once kept the crawl process from ever exiting.
    res = _run_broken_pool("retire(pool)", timeout=120)
    assert res.returncode == 0, res.stderr
    survivor = int(res.stdout.split()[-1])
    stat = Path(f"/proc/{survivor}/stat")
    assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] in "ZX"


# A crawl in a fresh process (the reactor runs once per process) whose first page's extraction is held until the
# throttle has seen every other page's response (or HELD seconds); it prints whether it saw them while the page was
# extracted, and each response's latency and its host's download delay as AutoThrottle set them.
_HELD_EXTRACTION = r"""
import json, sys, threading
from scrapy import signals
import crawler.pipelines, crawler.settings
from crawler.config import load_config
from crawler.run import crawl_once

pages, HELD = set(sys.argv[2].split()), float(sys.argv[3])
seen, throttled, all_seen, first = set(), [], threading.Event(), threading.Lock()


class Watch:
    # the throttle's own state after each response: connected after AutoThrottle (its order 0), it reads what it set
    def __init__(self, crawler):
        self.crawler = crawler
        crawler.signals.connect(self.downloaded, signal=signals.response_downloaded)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def downloaded(self, response, request, spider):
        slot = self.crawler.engine.downloader.slots[request.meta["download_slot"]]
        throttled.append((request.meta["download_latency"], slot.delay))
        seen.add(response.url)
        if pages <= seen:
            all_seen.set()


settings = crawler.settings.scrapy_settings
crawler.settings.scrapy_settings = lambda crawl, **kw: {**settings(crawl, **kw), "EXTENSIONS": {"__main__.Watch": 1000}}
process_page, held = crawler.pipelines.process_page, []


def extract_held(job, topics):
    if first.acquire(blocking=False):  # the first page's extraction, as long as a heavy page's may take
        held.append(all_seen.wait(HELD))
    return process_page(job, topics)


crawler.pipelines.process_page = extract_held
summary = crawl_once(load_config(sys.argv[1]), workers=0)
print(json.dumps({"held": held, "throttled": throttled, "new": summary.totals()["new"]}))
"""


def _fast_site(site: SiteServer, count: int) -> list[str]:
    """A feed of ``count`` articles under /fast/ of ``site``, each answered at once; their URLs."""
    base = site.base_url
    links = [f"{base}/fast/{n}.html" for n in range(count)]
    feed = rss_channel(
        base, "".join(f"<item><title>Lab {n}</title><link>{link}</link></item>" for n, link in enumerate(links))
    )

    def served(path: str) -> tuple[int, dict[str, str], bytes]:
        if path.endswith("feed.xml"):
            return 200, RSS, feed
        n = path.rsplit("/", 1)[1].removesuffix(".html")
        title = f"Joint laboratory {n} opens for battery materials research"
        text = "".join(
            f"<p>Researchers of two academies opened joint laboratory {n} for battery materials, part {k} of a "
            "five-year programme of joint research and training, the institute said on Monday.</p>"
            for k in range(8)
        )
        page = f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>{text}</article></body></html>"
        return 200, {"Content-Type": "text/html; charset=utf-8"}, page.encode()

    site.add_generated("/fast/", served)
    return links


def test_without_worker_processes_the_throttle_sees_the_sites_latency_not_the_crawls_extraction(
    site: SiteServer, tmp_path: Path
) -> None:
    # NEWSWATCH_WORKERS=0 extracted each page on the reactor's thread: a response that came in meanwhile was read
    # only after the extraction, and AutoThrottle took that wait for the site's latency, slowing the crawl of a site
    # that answers at once to the pace of the extraction
    count = 8
    links = _fast_site(site, count)
    cfg = tmp_path / "newswatch.toml"
    cfg.write_text(
        f'[storage]\ndatabase = "nw.db"\n[crawl]\nallow_private = true\nobey_robots = false\n'
        f'[[sources]]\nname = "fast"\nurl = "{site.base_url}/fast/feed.xml"\nlanguage = "en"\n',
        encoding="utf-8",
    )
    held = 5.0
    out = run_script(_HELD_EXTRACTION, str(cfg), " ".join(links), str(held))
    assert out["new"] == count
    # the throttle took every other page's response while the first one was extracted (on the reactor's thread it took
    # none: they waited for the extraction to end)
    assert out["held"] == [True]
    # the site answers at once: the throttle's delay stays at milliseconds, never near the first page's hold (on the
    # reactor's thread, a page whose request was out during it was taken for a site that needs 5 s: delay 2.5 s)
    assert max(delay for _latency, delay in out["throttled"]) < held / 10, out["throttled"]


# A crawl in a fresh process, NEWSWATCH_WORKERS=0, whose first page's matching batch fails (what settle_topics or
# matching_batch on the extraction thread may raise): it prints the crawl's summary.
_FAILING_BATCH = r"""
import contextlib, json, sys, threading
import crawler.pipelines
from crawler.config import load_config
from crawler.run import crawl_once

first, batch = threading.Lock(), crawler.pipelines.matching_batch


@contextlib.contextmanager
def failing_batch():
    if first.acquire(blocking=False):
        raise RuntimeError("the matching batch broke")
    with batch():
        yield


crawler.pipelines.matching_batch = failing_batch
summary = crawl_once(load_config(sys.argv[1]), workers=0)
print(json.dumps(summary.to_json()))
"""


def test_without_worker_processes_a_page_whose_matching_fails_is_a_failed_page_kept_from_its_feed(
    site: SiteServer, tmp_path: Path
) -> None:
    # bd3adf5 moved the page work onto the crawl's extraction thread and turned only process_page's errors into a
    # failed page: one raised by the matching batch around it came out of the pipeline as 'processing failed', the
    # page neither extracted nor kept from its feed entry
    count = 4
    _fast_site(site, count)
    cfg = tmp_path / "newswatch.toml"
    cfg.write_text(
        f'[storage]\ndatabase = "nw.db"\n[crawl]\nallow_private = true\nobey_robots = false\n'
        f'[[sources]]\nname = "fast"\nurl = "{site.base_url}/fast/feed.xml"\nlanguage = "en"\n',
        encoding="utf-8",
    )
    out = run_script(_FAILING_BATCH, str(cfg))
    (fast,) = out["sources"]
    assert fast["new"] == count, "the failed page kept from its feed entry, the others extracted"
    (failed,) = fast["error_samples"]
    assert fast["errors"] == 1 and failed.endswith(".html: extraction failed (RuntimeError)"), fast
