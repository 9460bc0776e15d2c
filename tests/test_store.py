"""The store: migrations, transactions, runs left behind by dead processes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from crawler.store import ArticleRecord, Store, utcnow


def record(n: int, **kw: object) -> ArticleRecord:
    base = dict(
        url=f"https://example.org/a/{n}?utm_source=x",
        canonical_url=f"https://example.org/a/{n}",
        source="s",
        title=f"Title {n}",
        text=f"Body text number {n}.",
        text_from="page",
        published=None,
        language="en",
        fetched=utcnow(),
    )
    base.update(kw)
    return ArticleRecord(**base)  # type: ignore[arg-type]


def test_wal_and_migrations_are_applied_once(tmp_path: Path) -> None:
    db = tmp_path / "nw.db"
    Store(db).close()
    with Store(db) as store:
        assert store.scalar("PRAGMA journal_mode") == "wal"
        names = [r["name"] for r in store.query("SELECT name FROM _sqlite_migrations ORDER BY id")]
        assert names == sorted(set(names)) and "0001_initial" in names


def test_a_command_finding_the_database_upgraded_by_another_process_says_so_not_database_is_locked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the daemon's first start after an upgrade of newswatch indexes a large archive again for minutes, in one
    # transaction; an operator's `newswatch sources` meanwhile waits the busy timeout, then says why
    from crawler import store as store_mod
    from crawler.errors import StoreError

    db = tmp_path / "nw.db"
    Store(db).close()
    upgrading = sqlite3.connect(db, isolation_level=None)
    upgrading.execute("DELETE FROM _sqlite_migrations WHERE name = '0080_browse_search_yo_and_simplified'")
    upgrading.execute("BEGIN IMMEDIATE")  # the daemon, applying it
    monkeypatch.setattr(store_mod, "BUSY_TIMEOUT_MS", 200)
    try:
        for readonly in (False, True):  # a command that writes, and one that reads (it upgrades first)
            with pytest.raises(StoreError) as err:
                Store(db, readonly=readonly)
            assert str(err.value).startswith(
                f"cannot upgrade the database {db} now: another newswatch process has held it for 0.2 s, most likely "
                "upgrading it itself"
            ), str(err.value)
    finally:
        upgrading.execute("ROLLBACK")
        upgrading.close()


def test_stores_opened_at_once_apply_each_migration_once(tmp_path: Path) -> None:
    db = tmp_path / "nw.db"
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def open_store() -> None:
        try:
            start.wait()
            Store(db).close()
        except BaseException as exc:  # collected: the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Store(db) as store:
        rows = store.query("SELECT migration_set, name FROM _sqlite_migrations")
    assert rows and len(rows) == len({(r["migration_set"], r["name"]) for r in rows})


def test_same_page_at_another_url_is_one_article_with_an_alias(tmp_path: Path) -> None:
    with Store(tmp_path / "nw.db") as store:
        first = store.add_article(record(1))
        again = store.add_article(record(1, url="https://example.org/a/1?fbclid=zzz"))
        assert first.status == "new" and again.status == "duplicate" and again.article_id == first.article_id
        assert store.count("articles") == 1
        assert store.known_urls(["https://example.org/a/1?fbclid=zzz"]) == {"https://example.org/a/1?fbclid=zzz": 1}


def test_feed_text_is_replaced_by_the_page_later(tmp_path: Path) -> None:
    with Store(tmp_path / "nw.db") as store:
        feed = store.add_article(record(2, text_from="feed", text="summary", page_pending=True))
        assert store.pending_pages("s")
        page = store.add_article(record(2, text="The full article body."))
        assert page.status == "updated" and page.article_id == feed.article_id
        row = store.article(feed.article_id)
        assert row is not None and row["text_from"] == "page" and row["page_pending"] == 0
        assert not store.pending_pages("s")


def test_a_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    with Store(tmp_path / "nw.db") as store:
        try:
            with store.transaction():
                store.add_article(record(3))
                raise RuntimeError("killed mid-write")
        except RuntimeError:
            pass
        assert store.count("articles") == 0
        assert store.count("_aliases") == 0


def test_runs_of_dead_processes_are_marked_interrupted(tmp_path: Path) -> None:
    with Store(tmp_path / "nw.db") as store:
        run = store.start_run("cli")
        store.conn.execute("UPDATE crawl_runs SET pid = 999999999 WHERE id = ?", [run])  # no such process
        live = store.start_run("cli")
        status = dict(store.conn.execute("SELECT id, status FROM crawl_runs").fetchall())
        assert status == {run: "interrupted", live: "running"}


def test_a_lease_of_a_process_that_ended_is_taken_over_before_the_process_is_collected(tmp_path: Path) -> None:
    # A crawl killed along with the daemon that started it is collected by init, which may take seconds
    # (or never happen, under an init that does not reap): its leases must not hold back the restarted
    # daemon's polls meanwhile. A live crawl's lease still holds.
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        os.waitid(os.P_PID, ended.pid, os.WEXITED | os.WNOWAIT)  # it has ended; its entry stays until wait()
        with Store(tmp_path / "nw.db") as store:
            assert store.claim_sources(["held", "orphaned"]) == {}
            store.conn.execute("UPDATE _source_leases SET pid = ? WHERE name = 'held'", [live.pid])
            store.conn.execute("UPDATE _source_leases SET pid = ? WHERE name = 'orphaned'", [ended.pid])
            assert list(store.claim_sources(["held", "orphaned"])) == ["held"]
            owners = dict(store.conn.execute("SELECT name, pid FROM _source_leases").fetchall())
            assert owners == {"held": live.pid, "orphaned": os.getpid()}
    finally:
        live.kill()
        live.wait()
        ended.wait()


def test_two_connections_write_without_locking_errors(tmp_path: Path) -> None:
    a, b = Store(tmp_path / "nw.db"), Store(tmp_path / "nw.db")
    try:
        with a.transaction():
            a.add_article(record(10))
        with b.transaction():
            b.add_article(record(11))
        assert a.count("articles") == 2
    except sqlite3.OperationalError as exc:  # pragma: no cover - the assertion below explains
        raise AssertionError(f"locking error: {exc}") from exc
    finally:
        a.close()
        b.close()


def test_a_failed_write_inside_a_batch_rolls_back_only_itself(tmp_path: Path) -> None:
    with Store(tmp_path / "nw.db") as store:
        store.begin_batch()
        store.add_article(record(20))
        try:
            with store.transaction():
                store.add_article(record(21))
                raise RuntimeError("extraction bug mid-write")
        except RuntimeError:
            pass
        store.add_article(record(22))
        other = Store(tmp_path / "nw.db")
        assert other.count("articles") == 0  # nothing visible before the batch commits
        store.commit_batch()
        assert other.count("articles") == 2
        assert store.known_urls(["https://example.org/a/21"]) == {}
        other.close()


def test_the_store_and_an_extraction_worker_ask_one_function_whether_a_process_runs(tmp_path: Path) -> None:
    # a crawl killed along with the daemon may stay a zombie until init collects it: gone for both, the
    # store (its leases lapse) and the workers of its pool (they end)
    import time

    from crawler import process, procs, store

    assert process.process_alive is store.process_alive is procs.process_alive
    child = subprocess.Popen([sys.executable, "-c", "pass"])  # not waited for: a zombie once it ends
    try:
        deadline = time.monotonic() + 30
        while procs.process_alive(child.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not procs.process_alive(child.pid)
        assert Path(f"/proc/{child.pid}").exists()  # its entry is still there
        assert procs.process_alive(os.getpid())
    finally:
        child.wait()


def test_a_busy_timeout_of_inf_is_sqlites_longest_wait_not_an_overflow_error(tmp_path: Path) -> None:
    # NEWSWATCH_BUSY_TIMEOUT (seconds, a setting of tests) of inf: every command failed at the store's import with
    # 'unexpected OverflowError: cannot convert float infinity to integer'
    from tests.support.cli import in_one_process

    cfg = tmp_path / "nw.toml"
    cfg.write_text('[storage]\ndatabase = "nw.db"\n', encoding="utf-8")
    for value, ms in (("inf", 2**31 - 1), ("", 30_000)):  # nan, 1e400 and the others: tests/test_envsettings.py
        [sources] = in_one_process(["-c", cfg, "sources"], env={"NEWSWATCH_BUSY_TIMEOUT": value})
        assert sources.returncode == 0 and "Error" not in sources.stderr, sources.stderr
        code = (
            "import sys; from crawler.store import Store; "
            "print(Store(sys.argv[1]).conn.execute('PRAGMA busy_timeout').fetchone()[0])"
        )
        env = {**os.environ, "NEWSWATCH_BUSY_TIMEOUT": value}
        res = subprocess.run([sys.executable, "-c", code, tmp_path / "nw.db"], capture_output=True, text=True, env=env)
        assert res.returncode == 0 and res.stdout.split() == [str(ms)], res.stderr  # SQLite waits 24.8 days at most
