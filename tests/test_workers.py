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
from tests.support.pyrun import run_script


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
