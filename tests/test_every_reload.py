"""A source's `every` changed by a config reload (SIGHUP) in the running daemon takes effect, also when
the reload lands while the source's batch is still fetching its pages.

The real daemon and its crawl children against the local test server and a real SQLite file, with
bounded waits on conditions.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.daemonworld import NO_WORKERS, Daemon, far_schedule, source_states, wait_until, write_config
from tests.support.sitesrv import SiteServer


def reload_every(
    tmp_path: Path,
    site: SiteServer,
    smtp: Any,
    source: tuple[str, str],
    reload_when: tuple[Callable[[], Any], str],
    then: tuple[Callable[[], Any], str],
) -> None:
    """The daemon polls (name, path) every hour; once `reload_when` holds, a SIGHUP makes it 5 s; `then` must follow."""
    name, path = source
    one = f'[[sources]]\nname = "{name}"\nurl = "__BASE__{path}"\nevery = "__EVERY__"\n'

    def config(every: str) -> Path:
        return write_config(
            tmp_path / "nw.toml",
            site.base_url,
            smtp.port,
            sources=one.replace("__EVERY__", every),
            schedule=far_schedule(),
        )

    d = Daemon(tmp_path, config("1h"), env=NO_WORKERS)
    try:
        d.wait_note("READY=1")
        wait_until(reload_when[0], 60, reload_when[1])
        config("5s")
        d.proc.send_signal(signal.SIGHUP)
        d.wait_log(f"changed {name}")
        wait_until(then[0], 60, then[1])
        assert d.terminate() == 0
    finally:
        d.close()


def test_a_changed_every_takes_effect_on_reload(tmp_path: Path, site: SiteServer, smtp: Any) -> None:
    db = tmp_path / "nw.db"
    reload_every(
        tmp_path,
        site,
        smtp,
        ("gw", "/globalwire/rss.xml"),
        (lambda: source_states(db).get("gw", {}).get("polls") == 1, "the first poll"),
        (lambda: source_states(db)["gw"]["polls"] >= 2, "a poll at the new interval"),
    )


def test_an_every_changed_while_the_source_is_being_polled_counts_from_that_poll(
    tmp_path: Path, site: SiteServer, smtp: Any
) -> None:
    """A reload that lands while the source's batch is still fetching its pages is not undone when it ends."""

    def handler(path: str) -> tuple[int, dict[str, str], bytes]:
        item = (
            f"<item><title>Slow page</title><link>{site.base_url}/_fault/stall?seconds=6&amp;n=slow</link>"
            "<guid>slow-1</guid><description>A page that takes a while</description></item>"
        )
        return 200, {"Content-Type": "application/rss+xml"}, f"<rss><channel>{item}</channel></rss>".encode()

    site.add_generated("/slowfeed/", handler)
    reload_every(
        tmp_path,
        site,
        smtp,
        ("slow", "/slowfeed/feed.xml"),
        (lambda: site.hits("/_fault/stall"), "the batch fetching the slow page"),  # the reload lands mid-batch
        (lambda: site.hits("/slowfeed/feed.xml") >= 2, "a poll at the new interval after the batch"),
    )
