"""A source's `every` changed by a config reload (SIGHUP) in the running daemon takes effect, also when
the reload lands while the source's batch is still fetching its pages.

The real daemon and its crawl children against the local test server and a real SQLite file, with
bounded waits on conditions.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

from tests.support.daemonworld import NO_WORKERS, Daemon, far_schedule, source_states, wait_until, write_config
from tests.support.sitesrv import SiteServer

SOURCES = """
[[sources]]
name = "gw"
url = "__BASE__/globalwire/rss.xml"
every = "__EVERY__"

[[sources]]
name = "slow"
url = "__BASE__/slowfeed/feed.xml"
every = "__EVERY__"
"""


def test_a_changed_every_takes_effect_on_reload_also_while_the_source_is_being_polled(
    tmp_path: Path, site: SiteServer, smtp: Any
) -> None:
    """One daemon polls two sources every hour; a SIGHUP makes it 5 s for both.

    `gw` has finished its first poll when the reload lands: its next poll comes at the new interval.
    `slow` is still fetching a page that the server holds until the reload is done: the new interval
    counts from that poll and is not undone when its batch ends.
    """
    db = tmp_path / "nw.db"
    release = threading.Event()  # the slow page is answered once the reload has been seen

    def handler(path: str) -> tuple[int, dict[str, str], bytes]:
        if path.startswith("/slowfeed/feed.xml"):
            item = (
                f"<item><title>Slow page</title><link>{site.base_url}/slowfeed/page.html</link>"
                "<guid>slow-1</guid><description>A page that takes a while</description></item>"
            )
            return 200, {"Content-Type": "application/rss+xml"}, f"<rss><channel>{item}</channel></rss>".encode()
        release.wait(60)
        body = "<html><body><article><h1>Slow page</h1>" + "<p>This page took a while to come.</p>" * 5
        return 200, {"Content-Type": "text/html; charset=utf-8"}, (body + "</article></body></html>").encode()

    site.add_generated("/slowfeed/", handler)

    def config(every: str) -> Path:
        return write_config(
            tmp_path / "nw.toml",
            site.base_url,
            smtp.port,
            sources=SOURCES.replace("__EVERY__", every),
            schedule=far_schedule(),
        )

    d = Daemon(tmp_path, config("1h"), env=NO_WORKERS)
    try:
        d.wait_note("READY=1")
        wait_until(lambda: source_states(db).get("gw", {}).get("polls") == 1, 60, "the first poll of gw")
        wait_until(lambda: site.hits("/slowfeed/page.html"), 60, "the batch fetching the slow page")
        config("5s")
        d.proc.send_signal(signal.SIGHUP)
        d.wait_log("changed gw (every 1h → 5s)")  # what changed, so that the journal shows the edit took
        d.wait_log("changed slow (every 1h → 5s)")  # the reload landed while slow's batch was fetching its page
        release.set()
        wait_until(lambda: source_states(db)["gw"]["polls"] >= 2, 60, "a poll of gw at the new interval")
        wait_until(
            lambda: site.hits("/slowfeed/feed.xml") >= 2, 60, "a poll of slow at the new interval after the batch"
        )
        assert d.terminate() == 0
    finally:
        release.set()
        d.close()
