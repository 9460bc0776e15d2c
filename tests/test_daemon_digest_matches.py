"""The daemon's digest mails from topic matches brought up to date with the config it runs under, also when it fires
before any crawl: after a reload (SIGHUP) that edited a topic's query, and after an upgrade that cleaned stored text.
The daemon loads no topics: it matches in a child, as its crawls do.

The real daemon with no sources (so no crawl ever runs), a real SQLite file, a real SMTP server (aiosmtpd). The
digest due at start is held until the test lets it go, so nothing waits on a schedule.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from crawler.config import load_config
from crawler.matching import sync_topics
from crawler.store import REMATCH, Store, iso
from scheduler import ledger
from scheduler.daemon import DigestSlot, digest_trigger, last_fire_at_or_before
from scheduler.digest import LAST_SENT_KEY
from tests.support.cli import newswatch
from tests.support.configs import mail_config
from tests.support.daemonworld import Daemon, far_schedule
from tests.test_daemon_restart import DIGEST_AT_THE_TESTS_TIME
from tests.test_upgrade_rematch import CLEANING, add_as_before, as_before, mailed, stored_matches

WAIT = 120.0  # seconds after which a wait is taken for a hang


def write_config(path: Path, port: int, query: str) -> Path:
    """No sources; the topic "energy" with ``query``; a digest of stories first seen within 7 days, its scheduled
    time 12 hours away."""
    mail = mail_config(port, schedule=far_schedule()).replace('max_age = "3650d"', 'max_age = "7d"')
    path.write_text(
        f'[storage]\ndatabase = "nw.db"\n\n[[topics]]\nname = "energy"\nquery = {query!r}\n{mail}', encoding="utf-8"
    )
    return path


def digest_due_at_start(db: Path, cfg: Path) -> datetime:
    """Makes the digest of the last scheduled slot due at the daemon's start (the last one went out before it)."""
    slot = last_fire_at_or_before(digest_trigger(load_config(cfg)), datetime.now(UTC))
    assert slot is not None
    with Store(db) as st:
        st.set_state(LAST_SENT_KEY, iso(slot - timedelta(hours=1)))
    return slot


def matched_by_reactor(tmp_path: Path, port: int) -> tuple[Path, Path]:
    """(config, database): stories of Harbin's reactor and Kazan's turbine (and Omsk's, beyond max_age), matched by
    the topic's query "reactor" of the config, as the last crawl left them."""
    cfg = write_config(tmp_path / "nw.toml", port, "reactor")
    db = tmp_path / "nw.db"
    with Store(db) as st:
        add_as_before(st, 1, "Harbin opens a reactor", "Text.", timedelta(hours=3))
        add_as_before(st, 2, "Kazan builds a turbine", "Text.", timedelta(hours=2))
        add_as_before(st, 3, "Omsk turbine is old news", "Text.", timedelta(days=30))  # beyond max_age
        sync_topics(load_config(cfg), st)
        assert set(stored_matches(st)) == {1}
    return cfg, db


def sent_once(db: Path, cfg: Path, smtp: Any, daemons: Callable[..., Daemon], slot: datetime) -> None:
    """A restart, and a digest from the command line, send nothing more."""
    again = daemons(cfg)
    again.wait_note("READY=1", WAIT)
    assert again.terminate(WAIT) == 0
    assert "was due" not in again.log()
    out = newswatch("-c", cfg, "digest")
    assert out.returncode == 0 and "nothing new to send" in out.stdout, out.stdout + out.stderr
    assert len(smtp.messages) == 1
    with Store(db) as st:
        assert [m["status"] for m in ledger.messages(st) if m["kind"] == "digest"] == ["sent"]
        state = DigestSlot.load(st)
        assert state is not None and state.done and state.slot == slot


def test_a_digest_firing_after_a_reload_that_edited_a_topic_mails_what_the_edited_query_matches(
    tmp_path: Path, smtp: Any, daemons: Callable[..., Daemon]
) -> None:
    cfg, db = matched_by_reactor(tmp_path, smtp.port)
    slot = digest_due_at_start(db, cfg)
    go = tmp_path / "digest-time"
    d = daemons(cfg, env={"NEWSWATCH_TEST_DIGEST_AT": str(go)}, prelude=DIGEST_AT_THE_TESTS_TIME)
    d.wait_note("READY=1", WAIT)
    write_config(cfg, smtp.port, "turbine")
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log("config reloaded", WAIT)
    go.touch()  # the digest fires now, before any crawl (there is no source to crawl)
    d.wait_log(f"digest {iso(slot)}: 1 recipient, 1 sent", WAIT)
    # before: Harbin's story, which "turbine" does not match, and never Kazan's, which it does
    assert mailed(smtp) == [{"Kazan"}]
    log = d.log()
    assert "digest: topic matches brought up to date first (topic energy new or changed): 2 articles matched" in log
    assert d.terminate(WAIT) == 0
    assert "Traceback" not in d.log()
    with Store(db) as st:
        assert set(stored_matches(st)) == {2}  # Omsk's is beyond max_age: left as it was, as a crawl leaves it
    sent_once(db, cfg, smtp, daemons, slot)


def test_a_digest_firing_at_the_start_after_an_upgrade_mails_from_the_cleaned_text(
    tmp_path: Path, smtp: Any, daemons: Callable[..., Daemon]
) -> None:
    cfg = write_config(tmp_path / "nw.toml", smtp.port, "reactor OR 核电")
    db = tmp_path / "nw.db"
    with Store(db) as st:
        # the word hid in an escape sequence: no match before the upgrade, one after
        add_as_before(st, 1, "Kazan opens a \x1b[1mreactor\x1b[0m laboratory", "Text.", timedelta(hours=2))
        # the word only in a window title a terminal never shows: a match before the upgrade, none after
        add_as_before(st, 2, "\x1b]0;reactor\x07Harbin opens a grain port", "Text.", timedelta(hours=3))
        # beyond max_age: left noted for a crawl or a command to match again
        add_as_before(st, 3, "Arctic \x1b[31mreactor\x1b[0m ship", "Text.", timedelta(days=30))
        sync_topics(load_config(cfg), st)
    as_before(db, CLEANING)
    slot = digest_due_at_start(db, cfg)
    d = daemons(cfg)  # it upgrades the database at its start, and sends the digest missed meanwhile
    d.wait_note("READY=1", WAIT)
    d.wait_log(f"digest {iso(slot)}: 1 recipient, 1 sent", WAIT)
    assert mailed(smtp) == [{"Kazan"}]  # before: Harbin's story, matched on its window title, and never Kazan's
    assert "whose text an upgrade changed): 2 articles matched again" in d.log()
    assert d.terminate(WAIT) == 0
    with Store(db) as st:
        assert set(stored_matches(st)) == {1}
        assert [r["article_id"] for r in st.query(f"SELECT article_id FROM {REMATCH}")] == [3]
    sent_once(db, cfg, smtp, daemons, slot)


def test_a_digest_whose_matching_is_stopped_is_not_sent_from_the_old_matches_and_goes_out_at_the_next_start(
    tmp_path: Path, smtp: Any, daemons: Callable[..., Daemon]
) -> None:
    cfg, db = matched_by_reactor(tmp_path, smtp.port)
    write_config(cfg, smtp.port, "turbine")  # edited while the daemon was down: no crawl matched it since
    slot = digest_due_at_start(db, cfg)
    # its matching child is killed at once, before it has matched anything
    d = daemons(cfg, env={"NEWSWATCH_BATCH_TIMEOUT": "0.01"})
    d.wait_note("READY=1", WAIT)
    d.wait_log(f"digest {iso(slot)}: not sent: its topic matches could not be brought up to date", WAIT)
    assert d.terminate(WAIT) == 0
    log = d.log()
    assert "(topic energy new or changed): matching did not finish within 0s and was stopped; trying again at" in log
    assert "Traceback" not in log and not smtp.messages
    with Store(db) as st:
        assert set(stored_matches(st)) == {1}  # as it was
    again = daemons(cfg)  # the slot was not taken on: the next start sends it, from the edited query's matches
    again.wait_note("READY=1", WAIT)
    again.wait_log(f"digest {iso(slot)}: 1 recipient, 1 sent", WAIT)
    assert again.terminate(WAIT) == 0
    assert mailed(smtp) == [{"Kazan"}]
