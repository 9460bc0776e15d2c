"""An older newswatch meets a database a newer one upgraded (a downgrade, or a second, older installation pointed at
the same file): it refuses in one line, naming the migration the database is at, the newswatch that applied it, what
this one knows and what to do, and reads and writes nothing. The daemon exits 2 (its unit does not restart it:
restarting the same older code cannot help). `backup` still copies the database as it is.

Real SQLite files; the newer newswatch is stood in for by what it records: its migration in `_sqlite_migrations`
and its version in `_state`."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from crawler import __version__
from crawler.store import OLDER_GUARD, SCHEMA_BY_KEY, NewerDatabase, Store, define_guard, migrations
from scheduler import ledger
from tests.support.articles import article_record
from tests.support.cli import newswatch
from tests.support.daemonworld import GLOBALWIRE, NO_WORKERS, ROOT, Daemon, console_script, write_config

FUTURE = "0090_future_columns"
NEWEST_KNOWN = migrations._migrations[-1].name


def newer_archive(tmp_path: Path, *, by: str | None = "9.1.0", migration_set: str = "newswatch") -> tuple[Path, Path]:
    """A config and its database as a newer newswatch (``by``, None: one that records no version) left it."""
    cfg = tmp_path / "nw.toml"
    cfg.write_text(
        '[storage]\ndatabase = "nw.db"\n\n[crawl]\nallow_private = true\n\n'
        '[[sources]]\nname = "gone"\nurl = "http://127.0.0.1:9/rss.xml"\n',
        encoding="utf-8",
    )
    db = tmp_path / "nw.db"
    with Store(db) as store:
        ledger.prepare(store)
        for n in range(3):
            store.add_article(article_record(n, f"Учёные {n}", f"Российские учёные, встреча {n}."))
    with sqlite3.connect(db) as conn:
        define_guard(conn)  # as a newer newswatch, which writes the tables an older one may not
        conn.execute(
            "INSERT INTO _sqlite_migrations(migration_set, name, applied_at) VALUES (?, ?, ?)",
            [migration_set, FUTURE, "2027-03-01 09:00:00.000000+00:00"],
        )
        if by is None:
            conn.execute("DELETE FROM _state WHERE key = ?", [SCHEMA_BY_KEY])
        else:
            conn.execute("UPDATE _state SET value = ? WHERE key = ?", [by, SCHEMA_BY_KEY])
    return cfg, db


def as_left(db: Path) -> tuple[list[tuple[str, str]], int, str | None]:
    """The migrations recorded, the articles stored and the version recorded: what a refusal must leave as it was."""
    with sqlite3.connect(db) as conn:
        return (
            conn.execute("SELECT migration_set, name FROM _sqlite_migrations ORDER BY rowid").fetchall(),
            conn.execute("SELECT count(*) FROM articles").fetchone()[0],
            conn.execute("SELECT value FROM _state WHERE key = ?", [SCHEMA_BY_KEY]).fetchone()[0],
        )


def refusal(db: Path, by: str = "newswatch 9.1.0") -> str:
    return (
        f"the database {db} was upgraded by {by}: its schema is at migration {FUTURE} (applied 2027-03-01), which "
        f"this newswatch {__version__} does not know (it knows up to {NEWEST_KNOWN}); nothing was read or written. "
        "Run the newswatch that upgraded it (install that version or a later one into this environment), or restore "
        "a copy of the database made before that upgrade ('newswatch backup' makes one) for this version"
    )


def test_a_database_records_the_newswatch_that_last_migrated_it(tmp_path: Path) -> None:
    with Store(tmp_path / "nw.db") as store:
        assert store.get_state(SCHEMA_BY_KEY) == __version__


@pytest.mark.parametrize(
    "command", [("export",), ("search", "учёные"), ("sources",), ("crawl",), ("prune", "--older-than", "30d")]
)
def test_an_older_newswatch_refuses_a_newer_database_in_one_line_and_leaves_it_as_it_was(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    # it ran without a word, and could write what the newer code cannot read (a crawl, a prune)
    cfg, db = newer_archive(tmp_path)
    before = as_left(db)
    result = newswatch("-c", cfg, *command)
    assert result.returncode == 1, result
    assert result.stderr == f"error: {refusal(db)}\n"
    assert result.stdout == ""
    assert as_left(db) == before


def test_the_refusal_names_no_version_when_the_newer_one_recorded_none(tmp_path: Path) -> None:
    cfg, db = newer_archive(tmp_path, by=None)
    result = newswatch("-c", cfg, "export")
    assert result.returncode == 1 and result.stderr == f"error: {refusal(db, 'a newer newswatch')}\n"


def test_a_newer_delivery_ledger_is_refused_too(tmp_path: Path) -> None:
    _cfg, db = newer_archive(tmp_path, migration_set="delivery")
    with Store(db) as store, pytest.raises(NewerDatabase) as refused:
        ledger.prepare(store)
    assert FUTURE in str(refused.value) and "newswatch 9.1.0" in str(refused.value)


def test_backup_still_copies_a_newer_database_as_it_is(tmp_path: Path) -> None:
    cfg, db = newer_archive(tmp_path)
    copy = tmp_path / "copy.db"
    result = newswatch("-c", cfg, "backup", copy)
    assert result.returncode == 0, result.stderr
    assert as_left(copy) == as_left(db)


def test_an_older_daemon_exits_2_on_a_newer_database_and_is_not_restarted(
    tmp_path: Path, daemons: Callable[..., Daemon]
) -> None:
    # exit 1 would have systemd start the same older code again, five times in ten minutes, each refused alike
    cfg, db = newer_archive(tmp_path)
    before = as_left(db)
    d = daemons(cfg)
    assert d.proc.wait(60) == 2
    log = d.log()
    assert refusal(db) in log and "Traceback" not in log
    assert not d.noted("READY=1")
    assert as_left(db) == before


def test_check_names_a_database_the_daemon_refuses_to_start_on(tmp_path: Path) -> None:
    # the daemon exits 2 on a database a newer newswatch upgraded, or another program's SQLite file, and the README
    # says to fix what `newswatch check` names: check said "OK" and nothing else
    cfg, db = newer_archive(tmp_path)
    result = newswatch("-c", cfg, "check")
    assert result.returncode == 0, result.stderr
    assert f"warning: storage.database: {refusal(db)}\n" in result.stderr
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    cfg.write_text(cfg.read_text(encoding="utf-8").replace('"nw.db"', '"other.db"'), encoding="utf-8")
    result = newswatch("-c", cfg, "check")
    assert result.returncode == 0, result.stderr
    assert (
        f"warning: storage.database: {other} is not a newswatch database (it holds the tables notes); check [storage] "
        "database\n"
    ) in result.stderr
    cfg.write_text(cfg.read_text(encoding="utf-8").replace('"other.db"', '"new.db"'), encoding="utf-8")
    with Store(tmp_path / "new.db"):
        pass
    result = newswatch("-c", cfg, "check")
    assert result.returncode == 0 and "warning" not in result.stderr, result.stderr  # this newswatch's own: no word


# -- a newswatch from before the check above ---------------------------------------------------------------------

# Stands in for a newswatch from before the schema check (and before the guard below): in every process started with
# it on PYTHONPATH (crawl children too), no check of the schema and no guard function on its connections.
OLDER_NEWSWATCH = """
import crawler.store as store
store.define_guard = lambda conn: None
store.Store._refuse_newer = lambda self, mset: None
"""


def test_every_table_an_older_newswatch_could_write_is_guarded_and_reads_are_not(tmp_path: Path) -> None:
    db = tmp_path / "nw.db"
    with Store(db) as store:
        ledger.prepare(store)
        store.set_state("probe", "1")
    conn = sqlite3.connect(db, isolation_level=None)  # as an older newswatch, or any other program, connects
    try:
        rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall()
        virtual = [n for n, sql in rows if sql.upper().startswith("CREATE VIRTUAL TABLE")]
        tables = [n for n, _ in rows if n not in virtual and not any(n.startswith(f"{v}_") for v in virtual)]
        assert {"articles", "sources", "stories", "_state", "delivery_messages", "delivery_items"} <= set(tables)
        guards = {
            (t, op)
            for t, sql in conn.execute("SELECT tbl_name, sql FROM sqlite_master WHERE type = 'trigger'")
            for op in ("INSERT", "UPDATE", "DELETE")
            if f"BEFORE {op} ON" in sql and f"SELECT {OLDER_GUARD}()" in sql
        }
        expected = {(t, op) for t in tables if t != "_sqlite_migrations" for op in ("INSERT", "UPDATE", "DELETE")}
        assert guards == expected | {("_sqlite_migrations", "INSERT")}
        assert conn.execute("SELECT value FROM _state WHERE key = 'probe'").fetchone() == ("1",)
        for sql in (
            "UPDATE _state SET value = '2' WHERE key = 'probe'",
            "DELETE FROM _state WHERE key = 'nothing'",  # refused before any row is looked at
            "INSERT INTO sources(name) VALUES ('x')",
            "INSERT INTO _sqlite_migrations(migration_set, name, applied_at) VALUES ('delivery', 'x', 'now')",
        ):
            with pytest.raises(sqlite3.OperationalError, match=f"no such function: {OLDER_GUARD}"):
                conn.execute(sql)
        define_guard(conn)  # newswatch's own connections
        conn.execute("UPDATE _state SET value = '2' WHERE key = 'probe'")
    finally:
        conn.close()


def test_a_newswatch_from_before_the_schema_check_writes_and_sends_nothing_on_a_newer_database(
    tmp_path: Path, site: Any, smtp: Any
) -> None:
    # versions before the check ran on a newer database without a word: they crawled into it, sent digests from it
    cfg = write_config(tmp_path / "nw.toml", site.base_url, smtp.port, sources=GLOBALWIRE)
    db = tmp_path / "nw.db"
    assert newswatch("-c", cfg, "crawl", env=NO_WORKERS).returncode == 0
    older = tmp_path / "older"
    older.mkdir()
    (older / "sitecustomize.py").write_text(OLDER_NEWSWATCH, encoding="utf-8")
    env = {**os.environ, **NO_WORKERS, "PYTHONPATH": f"{older}{os.pathsep}{ROOT}"}

    def old(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-c", console_script(), "-c", str(cfg), *args]
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path)

    def dump() -> list[str]:
        with sqlite3.connect(db) as conn:
            return list(conn.iterdump())

    with Store(db) as store:  # backing off: its reset writes (a healthy source's reset writes nothing, 7bb3898)
        store.update_source("globalwire", failures=2, failing_since="2026-01-01T00:00:00+00:00")
    before = dump()
    found = old("search", "China")
    assert found.returncode == 0 and "China" in found.stdout, found.stderr  # reading harms nothing
    for args in (("crawl",), ("digest",), ("sources", "--reset", "globalwire")):
        out = old(*args)
        assert out.returncode != 0 and f"no such function: {OLDER_GUARD}" in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr
    assert not smtp.messages
    assert dump() == before
    sent = newswatch("-c", cfg, "digest")  # this version: the digest goes out, once
    assert sent.returncode == 0 and len(smtp.messages) == 1, sent.stderr
    with Store(db) as store:
        items = store.query("SELECT story, count(*) AS n FROM delivery_items GROUP BY story")
        assert items and all(r["n"] == 1 for r in items)
