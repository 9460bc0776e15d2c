"""The extraction worker pool: its forkserver warms up once, and workers forked from it extract pages."""

from __future__ import annotations

from datetime import UTC, datetime

from crawler import textnorm
from crawler.extract import extract
from crawler.pipelines import make_pool
from crawler.process import _WARM_UP_PAGE, PageJob, process_page, warm_up


def test_the_warm_up_extracts_its_page_and_loads_the_language_model() -> None:
    textnorm._identifier.cache_clear()
    warm_up()
    assert textnorm._identifier.cache_info().currsize == 1
    page = extract(_WARM_UP_PAGE.decode(), "http://example.org/a")
    assert page is not None and page.text, "the warm-up page holds an article"


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
