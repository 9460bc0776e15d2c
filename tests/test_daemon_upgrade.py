"""A start that upgrades the database first (migration 0080 indexes the whole archive again: minutes on a large
one, on a slow disk) within systemd's rules: STATUS= says so and EXTEND_TIMEOUT_USEC= asks for more time than the
unit's TimeoutStartSec= while the upgrade makes progress, a stop is taken at once, and a stop or a kill midway
leaves the database as it was, upgraded again at the next start.

Real daemons with a real notify socket (tests/support/daemonworld.Daemon) and a real SQLite file; the upgrade is
held still midway by code the daemon runs before newswatch (its prelude), so the test knows it is running.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from crawler.store import BROWSE_FTS, Store, UpgradeWatch
from scheduler.daemon import UPGRADE_EXTEND, UpgradeNotes
from tests.support.articles import article_record
from tests.support.daemonworld import Daemon, integrity, wait_until

REINDEX = "0080_browse_search_yo_and_simplified"
ARTICLES = 20

# The daemon's prelude: indexing holds still after three articles (the upgrade's transaction open, part of the
# index rebuilt), and says so by making the file $NEWSWATCH_TEST_HELD.
HOLD = """
import os, threading
from pathlib import Path
import crawler.store as store
index, done = store._browse_insert, []
def held(*args):
    index(*args)
    done.append(1)
    if len(done) == 3:
        Path(os.environ["NEWSWATCH_TEST_HELD"]).touch()
        threading.Event().wait()
store._browse_insert = held
"""


def old_archive(tmp_path: Path) -> Path:
    """A config for an archive-mode daemon and its database as an older newswatch left it: 0080 not applied."""
    cfg = tmp_path / "nw.toml"
    cfg.write_text(
        '[storage]\ndatabase = "nw.db"\n\n[crawl]\nuser_agent = "newswatch-test/1.0 (+mailto:ops@example.org)"\n',
        encoding="utf-8",
    )
    with Store(tmp_path / "nw.db") as store:
        for n in range(ARTICLES):
            store.add_article(article_record(n, f"Учёные {n}", f"Российские учёные и 俄羅斯科學院, встреча {n}."))
    conn = sqlite3.connect(tmp_path / "nw.db")
    with conn:
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = ?", [REINDEX])
    conn.close()
    return cfg


def as_left(db: Path) -> tuple[bool, int]:
    """Whether 0080 is still to be applied, and the articles stored; read without upgrading."""
    conn = sqlite3.connect(db)
    try:
        pending = not conn.execute("SELECT count(*) FROM _sqlite_migrations WHERE name = ?", [REINDEX]).fetchone()[0]
        return pending, conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    finally:
        conn.close()


def upgrade_notes(d: Daemon) -> list[str]:
    return [n for n in d.notifications() if any(f.startswith("EXTEND_TIMEOUT_USEC=") for f in n.split("\n"))]


def held_upgrade(tmp_path: Path, daemons: Callable[..., Daemon]) -> tuple[Daemon, Path]:
    cfg = old_archive(tmp_path)
    held = tmp_path / "held"
    d = daemons(cfg, prelude=HOLD, env={"NEWSWATCH_TEST_HELD": str(held)})
    wait_until(lambda: held.exists() or d.proc.poll() is not None, 60, "the upgrade to start")
    assert held.exists(), d.log()
    wait_until(lambda: upgrade_notes(d) or d.proc.poll() is not None, 30, "EXTEND_TIMEOUT_USEC=")
    return d, tmp_path / "nw.db"


def test_an_upgrade_at_start_asks_systemd_for_time_and_a_kill_midway_leaves_the_database_to_upgrade_again(
    tmp_path: Path, daemons: Callable[..., Daemon]
) -> None:
    d, db = held_upgrade(tmp_path, daemons)
    note = upgrade_notes(d)[0].split("\n")
    assert f"EXTEND_TIMEOUT_USEC={int(UPGRADE_EXTEND * 1_000_000)}" in note
    assert any(f.startswith(f"STATUS=upgrading the database: migration {REINDEX}") for f in note), note
    assert not d.noted("READY=1")
    assert f"upgrading the database {db}: migration {REINDEX}" in d.log()

    d.crash()  # systemd's SIGKILL after its start timeout, or a power cut
    assert integrity(db) == "ok"
    assert as_left(db) == (True, ARTICLES)

    again = daemons(tmp_path / "nw.toml")
    again.wait_note("READY=1")
    assert as_left(db) == (False, ARTICLES)
    assert "database upgraded in" in again.log() and REINDEX in again.log()
    with Store(db, readonly=True) as store:  # the whole archive indexed, with the forms 0080 adds
        found = store.query(f"SELECT rowid FROM {BROWSE_FTS} WHERE {BROWSE_FTS} MATCH ?", ['"ученые"'])
        assert len(found) == ARTICLES
    assert again.terminate() == 0


def test_a_stop_while_upgrading_is_taken_at_once_and_keeps_the_database_as_it_was(
    tmp_path: Path, daemons: Callable[..., Daemon]
) -> None:
    d, db = held_upgrade(tmp_path, daemons)
    assert d.terminate(timeout=30) == 0  # not after the upgrade: it is held still
    assert d.noted("STOPPING=1")
    assert "nothing of the upgrade is kept, it starts again at the next start" in d.log()
    assert "Traceback" not in d.log()
    assert integrity(db) == "ok"
    assert as_left(db) == (True, ARTICLES)


def test_systemd_is_asked_for_more_time_only_while_the_upgrade_makes_progress() -> None:
    watch, notes = UpgradeWatch(), UpgradeNotes(began=100.0, every=5.0)
    assert notes.due(watch, 100.0) is None  # opening, nothing to upgrade yet
    watch.migration = "0080_x"
    assert notes.due(watch, 101.0) == "upgrading the database: migration 0080_x, 1s so far"
    watch.progress += 1
    assert notes.due(watch, 103.0) is None  # said a moment ago
    assert notes.due(watch, 106.0) == "upgrading the database: migration 0080_x, 6s so far"
    assert notes.due(watch, 200.0) is None  # stuck: systemd's timeout applies again
    watch.progress += 1
    assert notes.due(watch, 200.5) == "upgrading the database: migration 0080_x, 1m so far"
    watch.migration = "0090_y"  # the next one is said at once
    assert notes.due(watch, 201.0) == "upgrading the database: migration 0090_y, 1m so far"
