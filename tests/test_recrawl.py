"""Crawls that meet other crawls: two `newswatch crawl` commands at once fetch each page once (one
crawl at a time per source), and a re-crawl does not wait on pages pending a retry.

Real crawl commands and children against the local test server and a real SQLite file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from crawler.procs import ends_with_this_process
from crawler.store import Store
from tests.support.cli import newswatch
from tests.support.daemonworld import NO_WORKERS, crawl_config, wait_until
from tests.support.sitesrv import SiteServer

ROOT = Path(__file__).resolve().parent.parent


def cli(cfg: Path, *args: str, **kw: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", "from scheduler.cli import main; main()", "-c", str(cfg), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "NEWSWATCH_WORKERS": "0"},
        preexec_fn=ends_with_this_process(),
        **kw,
    )


def test_two_crawl_commands_at_once_fetch_each_page_once(tmp_path: Path, site: SiteServer) -> None:
    second_done = threading.Event()

    def handler(path: str) -> tuple[int, dict[str, str], bytes]:
        if path.endswith("feed.xml"):
            items = "".join(
                f"<item><title>Item {i}</title><link>{site.base_url}/twice/{i}.html</link><guid>t{i}</guid></item>"
                for i in range(12)
            )
            return 200, {"Content-Type": "application/rss+xml"}, f"<rss><channel>{items}</channel></rss>".encode()
        second_done.wait(1.5)  # the first crawl's pages are slow while the second crawl runs
        body = "<html><body><article><h1>Item</h1>" + "<p>Joint research of two academies.</p>" * 8
        return 200, {"Content-Type": "text/html"}, (body + f"<p>{path}</p></article></body></html>").encode()

    site.add_generated("/twice/", handler)
    cfg = crawl_config(tmp_path, f'[[sources]]\nname = "twice"\nurl = "{site.base_url}/twice/feed.xml"\n')
    first = cli(cfg, "crawl")
    try:
        wait_until(lambda: site.hits("/twice/feed.xml"), 60, "the first crawl's feed request")
        second = cli(cfg, "crawl")
        out2, err2 = second.communicate(timeout=120)
        second_done.set()
        out1, err1 = first.communicate(timeout=120)
    finally:
        second_done.set()
        for p in (first,):
            if p.poll() is None:
                p.kill()
    assert first.returncode == 0, err1
    assert second.returncode == 0, err2
    assert "being polled by another crawl" in out2 + err2, (out2, err2)
    for i in range(12):
        assert site.hits(f"/twice/{i}.html") == 1, f"page {i} fetched more than once"


def test_a_recrawl_does_not_wait_on_pending_retries(tmp_path: Path, site: SiteServer) -> None:
    def handler(path: str) -> tuple[int, dict[str, str], bytes]:
        items = "".join(
            f"<item><title>Stalled item {i}</title><link>{site.base_url}/_fault/stall?seconds=30&amp;n={i}</link>"
            f"<guid>p{i}</guid><description>Summary {i}</description></item>"
            for i in range(2)
        )
        return (
            200,
            {"Content-Type": "application/rss+xml", "ETag": '"same"'},
            f"<rss><channel>{items}</channel></rss>".encode(),
        )

    site.add_generated("/pend/", handler)
    # each stalled page fails after its three tries of 1 s and is kept from the feed, pending a retry
    cfg = crawl_config(tmp_path, f'[[sources]]\nname = "pend"\nurl = "{site.base_url}/pend/feed.xml"\n', timeout="1s")
    newswatch("-c", cfg, "crawl", env=NO_WORKERS)
    with Store(tmp_path / "nw.db") as st:
        assert st.scalar("SELECT count(*) FROM articles WHERE page_pending = 1") == 2  # kept from the feed
    stalls = site.hits("/_fault/stall")
    again = newswatch("-c", cfg, "crawl", env=NO_WORKERS)
    assert again.returncode == 0, again.stderr
    assert site.hits("/_fault/stall") == stalls, "a pending page was retried before its retry was due"
