"""A source stopped at its deadline gives up its requests in flight, so the crawl child ends then.

A real crawl child polls a source whose server answers nothing for longer than the source's
deadline, with a request timeout longer still. The server notices whether the client closed the
connection before the server's own delay ran out: only a crawl that gave up the request does.
"""

from __future__ import annotations

import select
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from crawler.run import run_in_child
from crawler.store import Store
from tests.support.daemonworld import write_config

SERVER_DELAY = 30.0  # the stalled answer's delay: shorter than the request timeout, far past the deadline


class StalledServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, feed_lists_page: bool) -> None:
        super().__init__(("127.0.0.1", 0), StalledHandler)
        self.feed_lists_page = feed_lists_page
        self.requests = 0
        self.closed_by_client = threading.Event()
        self.answered = threading.Event()
        self.stopping = threading.Event()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class StalledHandler(BaseHTTPRequestHandler):
    server: StalledServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/robots.txt":
            self.send_error(404)
            return
        if self.path == "/feed.xml" and self.server.feed_lists_page:  # the feed answers; its article stalls
            link = f"{self.server.base_url}/article.html"
            item = f"<item><title>A stalled article</title><link>{link}</link><guid>a1</guid></item>"
            self._send(f"<rss><channel><title>Feed</title>{item}</channel></rss>".encode())
            return
        self.server.requests += 1
        waited = 0.0
        while waited < SERVER_DELAY and not self.server.stopping.is_set():
            readable, _, _ = select.select([self.connection], [], [], 0.2)
            waited += 0.2
            if readable and not self._still_open():
                self.server.closed_by_client.set()
                return
        self.server.answered.set()
        self._send(b"<rss><channel><title>Late</title></channel></rss>")

    def _send(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _still_open(self) -> bool:
        try:
            return bool(self.connection.recv(1))  # a readable socket with nothing to read: the client hung up
        except ConnectionResetError:  # the client aborted the connection
            return False


@pytest.mark.parametrize("stalled", ["feed", "page"])
def test_a_source_stopped_at_its_deadline_gives_up_its_request_in_flight(
    tmp_path: Path, smtp: Any, stalled: str
) -> None:
    server = StalledServer(feed_lists_page=stalled == "page")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        sources = '[[sources]]\nname = "stalled"\nurl = "__BASE__/feed.xml"\nevery = "15m"\n'
        cfg = write_config(tmp_path / "nw.toml", server.base_url, smtp.port, sources=sources, timeout="120s")
        summary = run_in_child(cfg, source_deadline=1.0, timeout=300, extra_env={"NEWSWATCH_WORKERS": "0"})

        assert server.requests == 1
        assert server.closed_by_client.is_set(), "the crawl ended only after the server answered its stalled request"
        assert not server.answered.is_set()
        (stalled,) = summary.sources
        assert stalled.status == "failed" and "did not finish within 1s" in (stalled.message or "")
        with Store(tmp_path / "nw.db") as st:
            (row,) = st.query("SELECT failures, last_error FROM sources WHERE name = 'stalled'")
            (run,) = st.query("SELECT status FROM crawl_runs")
        assert row["failures"] == 1 and "did not finish within 1s" in row["last_error"]
        assert run["status"] == "failed"
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
