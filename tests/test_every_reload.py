"""A source's `every` changed by a config reload (SIGHUP) in the running daemon takes effect, also when
the reload lands while the source's batch is still fetching its pages, while the daemon takes in its result, or
while it reschedules a batch that failed; a failing source given another url by a reload is polled at once, also when
the reload lands while its poll of the old url fails, and one whose every changed backs off by the new one.

The real daemon and its crawl children against the local test server and a real SQLite file. Nothing waits on a
time budget that a busy machine could exceed: a source polled every 5 s from the start and left alone by the reload
is the clock by which the others must have been polled at their new interval (one left at an hour fails the test
within three of its polls); SAFETY only ends a wait that hangs.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crawler.store import Store, iso, utcnow
from tests.support.daemonworld import (
    GLOBALWIRE,
    NO_WORKERS,
    Daemon,
    far_schedule,
    source_states,
    wait_until,
    write_config,
)
from tests.support.holds import Prelude, missing, prelude
from tests.support.sitesrv import SiteServer

SAFETY = 1800.0  # seconds after which a wait is taken for a hang: no budget, whatever the load


def _slow_feed(site: SiteServer, folder: str, guid: str, release: threading.Event) -> None:
    """/FOLDER/feed.xml on ``site``: a feed of one item whose page is answered only once ``release`` is set."""

    def handler(path: str) -> tuple[int, dict[str, str], bytes]:
        if path.startswith(f"/{folder}/feed.xml"):
            item = (
                f"<item><title>Slow page</title><link>{site.base_url}/{folder}/page.html</link>"
                f"<guid>{guid}</guid><description>A page that takes a while</description></item>"
            )
            return 200, {"Content-Type": "application/rss+xml"}, f"<rss><channel>{item}</channel></rss>".encode()
        release.wait(SAFETY)
        body = "<html><body><article><h1>Slow page</h1>" + "<p>This page took a while to come.</p>" * 5
        return 200, {"Content-Type": "text/html; charset=utf-8"}, (body + "</article></body></html>").encode()

    site.add_generated(f"/{folder}/", handler)


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

CLOCK = """
[[sources]]
name = "vestnik"
url = "__BASE__/vestnik/rss.xml"
every = "5s"
"""
CLOCK_FEED = "/vestnik/rss.xml"


def polled_while_the_clock_ticks_three_times(site: SiteServer, d: Daemon, feeds: dict[str, str]) -> dict[str, int]:
    """How many polls of each source (requests of its feed) began while the clock source was polled three times.

    Called once each source is due within 5 s, at its new interval: the clock is due within 5 s too, and the batch
    it starts takes every source due within the next few seconds, so each source must have been polled at least
    once by the clock's third poll (10 s or more later); one whose interval stayed at an hour was not.
    """
    before = {name: site.hits(feed) for name, feed in feeds.items()}
    clock = site.hits(CLOCK_FEED)
    wait_until(
        lambda: site.hits(CLOCK_FEED) >= clock + 3 or d.proc.poll() is not None, SAFETY, "three polls of the clock"
    )
    assert d.proc.poll() is None, d.log()
    return {name: site.hits(feed) - before[name] for name, feed in feeds.items()}


def test_a_changed_every_takes_effect_on_reload_also_while_the_source_is_being_polled(
    tmp_path: Path, site: SiteServer, smtp: Any
) -> None:
    """One daemon polls two sources every hour (and the clock every 5 s); a SIGHUP makes it 5 s for both.

    `gw` has finished its first poll when the reload lands: its next poll comes at the new interval.
    `slow` is still fetching a page that the server holds until the reload is done: the new interval
    counts from that poll and is not undone when its batch ends.
    """
    db = tmp_path / "nw.db"
    release = threading.Event()  # the slow page is answered once the reload has been seen

    _slow_feed(site, "slowfeed", "slow-1", release)

    def config(every: str) -> Path:
        return write_config(
            tmp_path / "nw.toml",
            site.base_url,
            smtp.port,
            sources=SOURCES.replace("__EVERY__", every) + CLOCK,
            schedule=far_schedule(),
        )

    d = Daemon(tmp_path, config("1h"), env=NO_WORKERS)
    try:
        d.wait_note("READY=1", SAFETY)
        wait_until(
            lambda: source_states(db).get("gw", {}).get("polls") == 1 or d.proc.poll() is not None,
            SAFETY,
            "the first poll of gw",
        )
        wait_until(
            lambda: site.hits("/slowfeed/page.html") or d.proc.poll() is not None,
            SAFETY,
            "the batch fetching the slow page",
        )
        config("5s")
        d.proc.send_signal(signal.SIGHUP)
        d.wait_log("changed gw (every 1h → 5s)", SAFETY)  # what changed, so that the journal shows the edit took
        d.wait_log("changed slow (every 1h → 5s)", SAFETY)  # the reload landed while slow's batch was fetching
        release.set()
        wait_until(
            lambda: source_states(db).get("slow", {}).get("polls") or d.proc.poll() is not None,
            SAFETY,
            "slow's batch to end",
        )
        # gw and slow were polled in the clock's first batch: each is due 5 s after it, now or within 5 s
        polled = polled_while_the_clock_ticks_three_times(
            site, d, {"gw": "/globalwire/rss.xml", "slow": "/slowfeed/feed.xml"}
        )
        assert min(polled.values()) >= 1, f"polls at the new interval: {polled}\n{d.log()}"
        assert d.terminate(SAFETY) == 0
    finally:
        release.set()
        d.close()


# The daemon's prelude: the daemon takes in gw's first result only once a reload has been done, and says that it
# holds it by making the file $NEWSWATCH_TEST_HELD (the moment the result's log line is written).
HOLD_GW_RESULT = prelude(
    (
        "scheduler.daemon:Daemon.reload(self)",
        "scheduler.daemon:Daemon._source_done uses _error_names, _OneSource",
        "scheduler.daemon:_OneSource.__init__ uses sources",
        "scheduler.daemon:_error_names(summary)",
    ),
    """
import os, threading
from pathlib import Path
import scheduler.daemon as daemon
reloaded = threading.Event()
reload, error_names = daemon.Daemon.reload, daemon._error_names
def reload_then_say(self):
    reload(self)
    reloaded.set()
def held(summary, *args):
    if [s.name for s in summary.sources] == ["gw"] and not reloaded.is_set():
        Path(os.environ["NEWSWATCH_TEST_HELD"]).touch()
        reloaded.wait()
    return error_names(summary, *args)
daemon.Daemon.reload = reload_then_say
daemon._error_names = held
""",
)


def test_a_changed_every_takes_effect_on_a_reload_landing_while_the_daemon_takes_in_the_sources_result(
    tmp_path: Path, site: SiteServer, smtp: Any, daemons: Callable[..., Daemon]
) -> None:
    """A reload between the crawl's report of a source's poll and the daemon's setting of its next poll: the source
    was passed by as still polling, and its next poll was set by the interval before the reload (an hour)."""

    def config(every: str) -> Path:
        sources = GLOBALWIRE.replace('name = "globalwire"', 'name = "gw"').replace('"15m"', f'"{every}"') + CLOCK
        return write_config(tmp_path / "nw.toml", site.base_url, smtp.port, sources=sources, schedule=far_schedule())

    held = tmp_path / "held"
    d = daemons(config("1h"), env={**NO_WORKERS, "NEWSWATCH_TEST_HELD": str(held)}, prelude=HOLD_GW_RESULT)
    wait_until(lambda: held.exists() or d.proc.poll() is not None, SAFETY, "the daemon taking in gw's first poll")
    assert held.exists(), d.log()
    config("5s")
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log("changed gw (every 1h → 5s)", SAFETY)
    d.wait_log("crawl gw: ok", SAFETY)  # its result taken in after the reload: gw is due now or within 5 s
    polled = polled_while_the_clock_ticks_three_times(site, d, {"gw": "/globalwire/rss.xml"})
    assert polled["gw"] >= 1, f"polls at the new interval: {polled}\n{d.log()}"
    assert d.terminate(SAFETY) == 0


# The daemon's prelude: gw's second batch fails before its crawl child is started (as when the child cannot be
# started), and the daemon's rescheduling of that batch's sources (_requeue, once they are no longer running) is held
# until a reload has been done, saying so by making the file $NEWSWATCH_TEST_HELD.
FAIL_GW_THEN_HOLD_ITS_REQUEUE = prelude(
    (
        "scheduler.daemon:Daemon.reload(self)",
        "crawler.child:run_in_child",
        "scheduler.daemon:Daemon._crawl_batch uses run_in_child",
        "scheduler.daemon:Daemon._requeue uses left, utcnow",
        "scheduler.daemon:utcnow",
    ),
    """
import os, sys, threading
from pathlib import Path
import crawler.child as child
import scheduler.daemon as daemon
from crawler.errors import NewswatchError
reloaded = threading.Event()
reload, run_in_child, utcnow = daemon.Daemon.reload, child.run_in_child, daemon.utcnow
batches = []
def reload_then_say(self):
    reload(self)
    reloaded.set()
def run_or_fail(snapshot, names, **kw):
    if "gw" in names:
        batches.append(names)
        if len(batches) == 2:
            raise NewswatchError("the crawl process could not be started")
    return run_in_child(snapshot, names, **kw)
def now_or_held():
    caller = sys._getframe(1)
    if caller.f_code.co_name == "_requeue" and "gw" in caller.f_locals.get("left", ()) and not reloaded.is_set():
        Path(os.environ["NEWSWATCH_TEST_HELD"]).touch()
        reloaded.wait()
    return utcnow()
daemon.Daemon.reload = reload_then_say
child.run_in_child = run_or_fail
daemon.utcnow = now_or_held
""",
)


def test_the_preludes_hold_points_still_exist() -> None:
    # the preludes hold the daemon at functions, arguments and locals named by string: renamed, a hold would never
    # come and its test would wait SAFETY (30 minutes) before failing. Each prelude's daemon checks its hold points
    # first and ends at once naming what it could not find; this checks every prelude's here, without a daemon
    preludes = [value for value in globals().values() if isinstance(value, Prelude)]
    assert len(preludes) >= 4 and all(p.points for p in preludes)
    assert missing([point for p in preludes for point in p.points]) == []


def test_a_hold_point_renamed_in_the_code_ends_its_daemon_at_once_naming_it(
    tmp_path: Path, smtp: Any, daemons: Callable[..., Daemon]
) -> None:
    # a local renamed (`left` in _requeue, as a prelude still names it), parameters reordered, a function renamed
    assert missing(["scheduler.daemon:Daemon._requeue uses the_batchs_left, utcnow"]) == [
        "scheduler.daemon:Daemon._requeue does not use 'the_batchs_left'"
    ]
    assert missing(["scheduler.daemon:Daemon._crawl_batch(self, names)"]) == [
        "scheduler.daemon:Daemon._crawl_batch's first parameters are (self, config), not (self, names)"
    ]
    assert missing(["scheduler.daemon:Daemon._requeued uses left"]) == ["no scheduler.daemon:Daemon._requeued"]
    cfg = write_config(tmp_path / "nw.toml", "http://127.0.0.1:9", smtp.port, sources="", schedule=far_schedule())
    held = tmp_path / "held"
    gone = prelude(["scheduler.daemon:Daemon._requeue uses the_batchs_left"], HOLD_GW_BATCH)
    d = daemons(cfg, env={**NO_WORKERS, "NEWSWATCH_TEST_HELD": str(held)}, prelude=gone)
    wait_until(lambda: held.exists() or d.proc.poll() is not None, SAFETY, "the daemon to hold or end")
    assert d.proc.wait() == 1 and not held.exists()
    assert "scheduler.daemon:Daemon._requeue does not use 'the_batchs_left'" in d.log(), d.log()


def test_a_changed_every_takes_effect_on_a_reload_landing_while_a_failed_batch_is_rescheduled(
    tmp_path: Path, site: SiteServer, smtp: Any, daemons: Callable[..., Daemon]
) -> None:
    """A reload between a failed batch's sources being marked as no longer running and their rescheduling by their
    stored state: the reload set the new interval, and the rescheduling set the old one over it (gw, its `every`
    made 1h, polled again 5 s later)."""

    def config(every: str) -> Path:
        sources = GLOBALWIRE.replace('name = "globalwire"', 'name = "gw"').replace('"15m"', f'"{every}"') + CLOCK
        return write_config(tmp_path / "nw.toml", site.base_url, smtp.port, sources=sources, schedule=far_schedule())

    held = tmp_path / "held"
    d = daemons(
        config("5s"), env={**NO_WORKERS, "NEWSWATCH_TEST_HELD": str(held)}, prelude=FAIL_GW_THEN_HOLD_ITS_REQUEUE
    )
    wait_until(lambda: held.exists() or d.proc.poll() is not None, SAFETY, "the daemon rescheduling gw's failed batch")
    assert held.exists(), d.log()
    assert source_states(tmp_path / "nw.db")["gw"]["polls"] == 1, d.log()  # polled once, then its batch failed
    config("1h")
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log("changed gw (every 5s → 1h)", SAFETY)
    d.wait_log("config reloaded", SAFETY)
    polled = polled_while_the_clock_ticks_three_times(site, d, {"gw": "/globalwire/rss.xml"})
    assert polled["gw"] == 0, f"polls at the old interval: {polled}\n{d.log()}"
    assert d.terminate(SAFETY) == 0


# The daemon's prelude: the end of gw's first batch (its _requeue, once gw's result was taken in) is held until a second
# batch has picked gw; that batch is held, once the first batch's end is done, until the daemon has looked for due
# sources ten times more (its ticks, a second apart) or a third batch picks gw meanwhile. Then it writes to the file
# $NEWSWATCH_TEST_BATCHES how many batches had picked gw by then.
HOLD_GW_SECOND_BATCH = prelude(
    (
        "scheduler.daemon:Daemon._batch_job uses _crawl_batch, _requeue",
        "scheduler.daemon:Daemon._requeue(self, names)",
        "scheduler.daemon:Daemon._crawl_batch(self, config, snapshot, names, scheduled)",
        "scheduler.daemon:Daemon._dispatch(self)",
    ),
    """
import os, threading
import scheduler.daemon as daemon
requeue, crawl_batch, dispatch = daemon.Daemon._requeue, daemon.Daemon._crawl_batch, daemon.Daemon._dispatch
changed = threading.Condition()
gw_batches, ticks, requeued = [], [], []
def note(what):
    with changed:
        what.append(1)
        changed.notify_all()
def requeue_held(self, names):
    if "gw" in names and not requeued:  # gw's first batch ends: also when the second picked gw before it got here
        with changed:
            changed.wait_for(lambda: len(gw_batches) >= 2)
        try:
            return requeue(self, names)
        finally:
            note(requeued)
    return requeue(self, names)
async def dispatch_counted(self):
    note(ticks)
    return await dispatch(self)
def crawl_batch_held(self, config, snapshot, names, scheduled):
    if "gw" in names:
        note(gw_batches)
        if len(gw_batches) == 2:
            with changed:
                changed.wait_for(lambda: requeued)
                start = len(ticks)
                changed.wait_for(lambda: len(ticks) >= start + 10 or len(gw_batches) > 2)
            with open(os.environ["NEWSWATCH_TEST_BATCHES"], "w") as f:
                f.write(str(len(gw_batches)))
    return crawl_batch(self, config, snapshot, names, scheduled)
daemon.Daemon._requeue = requeue_held
daemon.Daemon._dispatch = dispatch_counted
daemon.Daemon._crawl_batch = crawl_batch_held
""",
)


def test_a_batch_ending_after_a_later_batch_picked_its_source_leaves_that_source_to_the_later_batch(
    tmp_path: Path, site: SiteServer, smtp: Any, daemons: Callable[..., Daemon]
) -> None:
    """A batch's end (_requeue) took back every one of its sources that was running, also one whose result it had
    taken in and that a later batch had picked since: that source was picked a third time while the second batch
    polled it (a crawl process started for it, skipped there as held by another crawl). test_a_changed_every_..._while_
    a_failed_batch_is_rescheduled failed so when two tests ran at once: its hold came in the first batch's end."""
    sources = GLOBALWIRE.replace('name = "globalwire"', 'name = "gw"').replace('"15m"', '"5s"')
    cfg = write_config(tmp_path / "nw.toml", site.base_url, smtp.port, sources=sources, schedule=far_schedule())
    batches = tmp_path / "batches"
    d = daemons(cfg, env={**NO_WORKERS, "NEWSWATCH_TEST_BATCHES": str(batches)}, prelude=HOLD_GW_SECOND_BATCH)
    wait_until(lambda: batches.exists() or d.proc.poll() is not None, SAFETY, "the second batch of gw to be released")
    assert batches.read_text() == "2", f"batches that picked gw while its second polled it: {batches.read_text()}"
    assert d.terminate(SAFETY) == 0


# The daemon's prelude: a reload's rescheduling is held once it has read the stored source states (or, if it reads them
# later, before it does) until gw's result has been taken in, saying so by making the file $NEWSWATCH_TEST_HELD.
HOLD_RELOAD_UNTIL_GW_TAKEN_IN = prelude(
    (
        "scheduler.daemon:Daemon.reload(self)",
        "scheduler.daemon:Daemon._source_done(self, store, event)",
        "scheduler.daemon:Daemon._schedule_sources uses forget_resets",
        "crawler.store:Store.forget_resets(self, configured)",
    ),
    """
import os, threading
from pathlib import Path
import scheduler.daemon as daemon
from crawler.store import Store
taken, reloading = threading.Event(), threading.Event()
reload, source_done, forget_resets = daemon.Daemon.reload, daemon.Daemon._source_done, Store.forget_resets
def reload_held(self):
    reloading.set()
    try:
        reload(self)
    finally:
        reloading.clear()
def taken_in(self, store, event, *args, **kw):
    try:
        return source_done(self, store, event, *args, **kw)
    finally:
        if event.get("source") == "gw":
            taken.set()
def held(self, configured):
    if reloading.is_set() and not taken.is_set():
        Path(os.environ["NEWSWATCH_TEST_HELD"]).touch()
        taken.wait()
    return forget_resets(self, configured)
daemon.Daemon.reload = reload_held
daemon.Daemon._source_done = taken_in
Store.forget_resets = held
""",
)


def test_a_reload_landing_while_a_polls_result_is_taken_in_sets_no_due_time_from_the_poll_before(
    tmp_path: Path, site: SiteServer, smtp: Any, daemons: Callable[..., Daemon]
) -> None:
    """A reload that read gw's stored state while gw's first poll ran, and set its due time once that poll's result
    had been taken in: the due time came from the state before that poll (never polled: now), and gw was polled again
    at once, not at its interval (2h)."""
    release = threading.Event()  # gw's page is answered once the reload is held

    _slow_feed(site, "gwslow", "gw-1", release)

    def config(every: str) -> Path:
        sources = f'[[sources]]\nname = "gw"\nurl = "__BASE__/gwslow/feed.xml"\nevery = "{every}"\n' + CLOCK
        return write_config(tmp_path / "nw.toml", site.base_url, smtp.port, sources=sources, schedule=far_schedule())

    held = tmp_path / "held"
    d = daemons(
        config("1h"), env={**NO_WORKERS, "NEWSWATCH_TEST_HELD": str(held)}, prelude=HOLD_RELOAD_UNTIL_GW_TAKEN_IN
    )
    try:
        wait_until(
            lambda: site.hits("/gwslow/page.html") or d.proc.poll() is not None, SAFETY, "gw's first poll fetching"
        )
        config("2h")
        d.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: held.exists() or d.proc.poll() is not None, SAFETY, "the reload held")
        assert held.exists(), d.log()
        release.set()
        d.wait_log("changed gw (every 1h → 2h)", SAFETY)
        polled = polled_while_the_clock_ticks_three_times(site, d, {"gw": "/gwslow/feed.xml"})
        assert polled["gw"] == 0, f"polls before the interval: {polled}\n{d.log()}"
        assert d.terminate(SAFETY) == 0
    finally:
        release.set()


# The daemon's prelude: the first batch that would poll gw (a deactivated source) is held, its config taken, until a
# reload has been done (saying so by making the file $NEWSWATCH_TEST_HELD); each batch picked with gw after that reload
# adds a line to the file $NEWSWATCH_TEST_BATCHES.
HOLD_GW_BATCH = prelude(
    (
        "scheduler.daemon:Daemon.reload(self)",
        "scheduler.daemon:Daemon._batch_job uses _crawl_batch",
        "scheduler.daemon:Daemon._crawl_batch(self, config, snapshot, names, scheduled)",
    ),
    """
import os, threading
from pathlib import Path
import scheduler.daemon as daemon
reloaded = threading.Event()
reload, crawl_batch = daemon.Daemon.reload, daemon.Daemon._crawl_batch
def reload_then_say(self):
    reload(self)
    reloaded.set()
def held(self, config, snapshot, names, scheduled):
    if "gw" in names:
        if not reloaded.is_set():
            Path(os.environ["NEWSWATCH_TEST_HELD"]).touch()
            reloaded.wait()
        else:
            with open(os.environ["NEWSWATCH_TEST_BATCHES"], "a") as f:
                f.write("gw\\n")
    return crawl_batch(self, config, snapshot, names, scheduled)
daemon.Daemon.reload = reload_then_say
daemon.Daemon._crawl_batch = held
""",
)


def test_a_deactivated_source_removed_by_a_reload_while_its_batch_starts_is_not_looked_at_again(
    tmp_path: Path, site: SiteServer, smtp: Any, daemons: Callable[..., Daemon]
) -> None:
    """A reload that removes a deactivated source (gw) while a batch that picked it starts: the batch, with the config
    before the reload, put gw back in the schedule an interval later, and from then on gw was picked for a batch (with
    nothing to poll: it is not configured) about twice a second, for as long as the daemon ran."""

    def config(with_gw: bool) -> Path:
        gw = '[[sources]]\nname = "gw"\nurl = "__BASE__/gone/rss.xml"\nevery = "5s"\n' if with_gw else ""
        return write_config(tmp_path / "nw.toml", site.base_url, smtp.port, sources=gw + CLOCK, schedule=far_schedule())

    with Store(tmp_path / "nw.db") as store:  # deactivated by a 410: looked at every 5 s, polled never
        store.update_source("gw", active=0, inactive_reason="HTTP 410 Gone", last_attempt=iso(utcnow()))
    held, batches = tmp_path / "held", tmp_path / "batches"
    batches.touch()
    env = {**NO_WORKERS, "NEWSWATCH_TEST_HELD": str(held), "NEWSWATCH_TEST_BATCHES": str(batches)}
    d = daemons(config(True), env=env, prelude=HOLD_GW_BATCH)
    wait_until(lambda: held.exists() or d.proc.poll() is not None, SAFETY, "a batch picked with gw")
    assert held.exists(), d.log()
    config(False)
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log("config reloaded", SAFETY)
    polled_while_the_clock_ticks_three_times(site, d, {})
    picked = batches.read_text().count("gw")
    assert picked == 0, f"batches picked with gw after it was removed: {picked}\n{d.log()}"
    assert d.terminate(SAFETY) == 0


def _held_failure(site: SiteServer, folder: str, release: threading.Event) -> None:
    """/FOLDER/feed.xml on ``site``: a feed that answers 500 (Internal Server Error), once ``release`` is set."""

    def handler(path: str) -> tuple[int, dict[str, str], bytes]:
        release.wait(SAFETY)
        return 500, {"Content-Type": "text/plain; charset=utf-8"}, b"the feed failed\n"

    site.add_generated(f"/{folder}/", handler)


def test_a_failing_sources_url_fixed_by_a_reload_landing_while_its_poll_fails_is_polled_at_once(
    tmp_path: Path, site: SiteServer, smtp: Any, daemons: Callable[..., Daemon]
) -> None:
    """A reload that fixes the url of a source whose poll is failing: the failure was the old url's, and the fixed
    source waited out its backoff (its interval, an hour) before its new url was polled."""
    release = threading.Event()  # gw's old url answers once the reload has been done

    _held_failure(site, "gwfail", release)

    def config(url: str) -> Path:
        sources = f'[[sources]]\nname = "gw"\nurl = "__BASE__{url}"\nevery = "1h"\n' + CLOCK
        return write_config(tmp_path / "nw.toml", site.base_url, smtp.port, sources=sources, schedule=far_schedule())

    d = daemons(config("/gwfail/feed.xml"), env=NO_WORKERS)
    try:
        wait_until(lambda: site.hits("/gwfail/") or d.proc.poll() is not None, SAFETY, "gw's first poll fetching")
        config("/globalwire/rss.xml")
        d.proc.send_signal(signal.SIGHUP)
        d.wait_log("changed gw (url", SAFETY)
        release.set()
        d.wait_log("crawl gw: failed", SAFETY)  # its old url's failure, taken in after the reload
        polled = polled_while_the_clock_ticks_three_times(site, d, {"gw": "/globalwire/rss.xml"})
        assert polled["gw"] >= 1, f"polls of the fixed url: {polled}\n{d.log()}"
        d.wait_log("crawl gw: ok", SAFETY)
        state = source_states(tmp_path / "nw.db")["gw"]
        assert (state["failures"], state["polls"]) == (0, 1), f"{state}\n{d.log()}"
        assert d.terminate(SAFETY) == 0
    finally:
        release.set()


def test_a_reload_reschedules_failing_sources_by_their_new_settings_and_leaves_an_unchanged_ones_backoff(
    tmp_path: Path, site: SiteServer, smtp: Any, daemons: Callable[..., Daemon]
) -> None:
    """Three sources failing since their first poll, each backing off for an hour. A reload makes gw's every 5 s: its
    backoff is its new every's (it went on failing, its failures counted on); gives `moved` another url: its failures
    were the old url's, so it is polled at once and counts from one. `still` is left as it was, and neither that
    reload nor one that changes nothing polls it (nor `moved` again) before its backoff is over. Before, the two
    changed sources waited out the backoff of their old settings."""
    db = tmp_path / "nw.db"

    def config(gw_every: str, moved_url: str) -> Path:
        sources = "".join(
            f'[[sources]]\nname = "{name}"\nurl = "__BASE__{url}"\nevery = "{every}"\n\n'
            for name, url, every in (
                ("gw", "/_fault/status/500?gw", gw_every),
                ("moved", moved_url, "1h"),
                ("still", "/_fault/status/500?still", "1h"),
            )
        )
        return write_config(
            tmp_path / "nw.toml", site.base_url, smtp.port, sources=sources + CLOCK, schedule=far_schedule()
        )

    def failures(name: str) -> int:
        return int(source_states(db).get(name, {}).get("failures") or 0)

    d = daemons(config("1h", "/_fault/status/500?moved"), env=NO_WORKERS)
    wait_until(
        lambda: all(failures(n) == 1 for n in ("gw", "moved", "still")) or d.proc.poll() is not None,
        SAFETY,
        "the first failure of each source",
    )
    config("5s", "/_fault/status/503?moved")
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log("config reloaded", SAFETY)
    feeds = {"gw": "/_fault/status/500?gw", "moved": "/_fault/status/503?moved", "still": "/_fault/status/500?still"}
    polled = polled_while_the_clock_ticks_three_times(site, d, feeds)
    assert polled["gw"] >= 1 and polled["moved"] >= 1 and polled["still"] == 0, f"{polled}\n{d.log()}"
    wait_until(
        lambda: "503" in (source_states(db)["moved"]["last_error"] or "") or d.proc.poll() is not None,
        SAFETY,
        "moved's new url's failure",
    )
    wait_until(lambda: failures("gw") >= 2 or d.proc.poll() is not None, SAFETY, "gw's second failure")
    assert failures("moved") == 1 and failures("still") == 1, source_states(db)
    d.proc.send_signal(signal.SIGHUP)  # the same config again (a config-management run, say): nothing changes
    wait_until(lambda: d.log().count("nothing changed") or d.proc.poll() is not None, SAFETY, "the second reload")
    polled = polled_while_the_clock_ticks_three_times(site, d, {n: feeds[n] for n in ("moved", "still")})
    assert polled == {"moved": 0, "still": 0}, f"polled before their backoff was over: {polled}\n{d.log()}"
    assert d.terminate(SAFETY) == 0
