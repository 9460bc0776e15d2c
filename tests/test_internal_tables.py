"""Internal tables are named apart (a leading "_"), and an archive made before the rename is upgraded
in one transaction: it still searches, digests and exports as before."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner

from crawler.errors import StoreError
from crawler.store import BROWSE_FTS, Store, migrations
from scheduler import ledger
from scheduler.archive import INTERNAL_TABLES, TABLES, datasette_metadata
from scheduler.cli import cli
from scheduler.demo import CONFIG_NAME, DB_NAME
from tests.support.demo import copy_demo

RENAME = "0060_internal_tables_named_apart"
MADE_LATER = {
    "_backlog_entries": "0090_first_poll_leftovers",
    "_sitemap_children": "0110_sitemap_children",
    "_feed_items": "0120_feed_items_read",
    "_near_misses": "0130_near_misses",
    "_rematch": "0070_pinyin_readings_removed",  # and by 0140 or 0150 when missing
}  # internal tables later migrations make
GUARDED, LEDGER_GUARDED = (
    "0100_older_versions_write_nothing",
    "0002_older_versions_write_nothing",
)  # older versions write nothing
REPO = Path(__file__).resolve().parent.parent
READER = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]  # root runs the reader as nobody


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def schema(path: Path) -> set[tuple[str, str]]:
    with sqlite3.connect(path) as conn:
        return {
            (r[0], r[1]) for r in conn.execute("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
        }


def drop_guards(conn: sqlite3.Connection) -> None:
    """Takes off the guards against older versions' writes (crawler.store.OLDER_GUARD), which they never made."""
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%older_guard%'")
    for (trigger,) in rows.fetchall():
        conn.execute(f'DROP TRIGGER "{trigger}"')


def as_before_the_rename(path: Path) -> None:
    """Turns a database back into the layout the code before migration 0060 made."""
    from crawler.store import INDEX_RENAMES, INTERNAL_ADDED, INTERNAL_RENAMES

    assert set(MADE_LATER) == set(INTERNAL_ADDED)  # each with the migration that makes it

    conn = sqlite3.connect(path, isolation_level=None)
    drop_guards(conn)
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = ?", [GUARDED])
    for old, new in INTERNAL_RENAMES:
        conn.execute(f"ALTER TABLE {new} RENAME TO {old}")
    for old, new, on in INDEX_RENAMES:
        conn.execute(f"DROP INDEX {new}")
        conn.execute(f"CREATE INDEX {old} ON {on.lstrip('_')}")
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = ?", [RENAME])
    for table, migration in MADE_LATER.items():
        conn.execute(f"DROP TABLE {table}")
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = ?", [migration])
    conn.close()


def old_layout(tmp_path: Path) -> Path:
    """A database migrated up to, not including, the rename (the layout older newswatch versions made)."""
    path = tmp_path / "old-layout.db"
    db = sqlite_utils.Database(path)
    migrations.apply(db, stop_before=RENAME)
    ledger.migrations.apply(db)
    drop_guards(db.conn)  # the ledger's own, put on as it is made now
    db.close()
    return path


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, demo_world: Path) -> Path:
    """A copy of the session's demo (its digest is written beside it)."""
    out = tmp_path_factory.mktemp("demo")
    copy_demo(demo_world, out)
    return out


def newswatch(config: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["-c", str(config), *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_every_table_is_described_or_named_apart(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    with Store(path) as store:
        ledger.prepare(store)
    for name in tables(path):
        described = name in TABLES or name == BROWSE_FTS or name.startswith(BROWSE_FTS + "_")
        assert described or name.startswith("_"), f"{name}: internal tables start with '_'"
    assert all(name.startswith("_") for name in INTERNAL_TABLES)
    assert {"entries", "state", "aliases", "story_sig", "articles_fts", "source_leases"}.isdisjoint(tables(path))
    hidden = datasette_metadata(path)["databases"]["new"]["tables"]
    assert {n for n in tables(path) if n.startswith("_") and not n.startswith("_articles_fts_")} <= {
        n for n, meta in hidden.items() if meta.get("hidden")
    }


def test_an_archive_from_before_the_rename_still_searches_digests_and_exports(demo: Path) -> None:
    old = Path(tempfile.mkdtemp(prefix="nw-old-"))  # a folder the reader user may enter
    try:
        os.chmod(old, 0o755)
        for name in (CONFIG_NAME, DB_NAME):
            shutil.copy(demo / name, old / name)
        as_before_the_rename(old / DB_NAME)
        assert schema(old / DB_NAME) == schema(old_layout(old))  # exactly what older versions left
        (old / "old-layout.db").unlink()

        # a backup copies it as it is: a copy from before the upgrade
        newswatch(old / CONFIG_NAME, "backup", str(old / "before.db"))
        assert "entries" in tables(old / "before.db") and "entries" in tables(old / DB_NAME)
        (old / "before.db").unlink()

        # a user who may only read it is told what to run, in one line
        os.chmod(old / DB_NAME, 0o644)
        prefix = READER if os.geteuid() == 0 else []
        if not prefix:
            os.chmod(old / DB_NAME, 0o444)
        reader = subprocess.run(
            [*prefix, sys.executable, "-m", "scheduler.cli", "-c", str(old / CONFIG_NAME), "search", "lunar"],
            capture_output=True,
            text=True,
            cwd=REPO,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "HOME": str(old)},
            timeout=180,
        )
        assert reader.returncode == 1, reader.stderr
        assert reader.stderr.startswith("error: ") and "needs an upgrade" in reader.stderr
        assert len(reader.stderr.splitlines()) == 1 and "newswatch crawl" in reader.stderr
        os.chmod(old / DB_NAME, 0o644)

        # the owner's first command upgrades it (here a read-only one), in place, and says so first, once
        for n, args in enumerate(
            (
                ("search", "lunar"),
                ("search", "中俄", "--limit", "50"),
                ("search", "Россия"),
                ("export", "--format", "jsonl"),
                ("digest", "--dry-run"),
            )
        ):
            got = newswatch(old / CONFIG_NAME, *args)
            if n == 0:
                upgrading, upgraded, got = got.split("\n", 2)
                assert upgrading.startswith(f"upgrading the database {old / DB_NAME} for newswatch ")
                assert (
                    f"({', '.join(sorted([RENAME, *MADE_LATER.values(), GUARDED]))}): once, by the first command after an"
                    in upgrading
                )
                assert upgraded.startswith("database upgraded in ")
            assert got == newswatch(demo / CONFIG_NAME, *args), args
        assert schema(old / DB_NAME) == schema(demo / DB_NAME)
        with sqlite3.connect(old / DB_NAME) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert conn.execute("SELECT count(*) FROM _entries").fetchone()[0] > 0
        lunar = json.loads(newswatch(old / CONFIG_NAME, "search", "lunar", "--json"))
        assert lunar and "lunar" in json.dumps(lunar).lower()
        for folder in (old, demo):
            newswatch(folder / CONFIG_NAME, "digest", "--output", str(folder / "d.html"))
        assert (old / "d.html").read_text(encoding="utf-8") == (demo / "d.html").read_text(encoding="utf-8")
        with Store(old / DB_NAME) as store:  # and it takes new articles as before
            assert store.count("_aliases") >= store.count("articles") > 0
    finally:
        shutil.rmtree(old, ignore_errors=True)


def test_a_failed_upgrade_renames_nothing(tmp_path: Path) -> None:
    path = old_layout(tmp_path)
    before = tables(path)
    with sqlite3.connect(path) as conn:  # a user's view that no longer resolves blocks any rename
        conn.execute("CREATE VIEW recent_entries AS SELECT nosuchcolumn FROM entries")
    with pytest.raises(StoreError, match="cannot prepare the database"):
        Store(path)
    assert tables(path) == before
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM _sqlite_migrations WHERE name = ?", [RENAME]).fetchone()[0] == 0
