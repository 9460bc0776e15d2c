"""`backup` copies only a newswatch database and checks the copy before it replaces FILE."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.store import Store
from scheduler.cli import cli


def backup(tmp_path: Path, db: Path, out: Path) -> tuple[int, str]:
    conf = tmp_path / "nw.toml"
    conf.write_text(f'[storage]\ndatabase = "{db.name}"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["backup", str(out), "-c", str(conf)])
    return result.exit_code, result.output


@pytest.mark.parametrize("kind", ["garbage", "empty", "other"])
def test_a_file_that_is_not_a_newswatch_database_is_refused(tmp_path: Path, kind: str) -> None:
    db = tmp_path / "nw.db"
    if kind == "garbage":
        db.write_bytes(os.urandom(50))
    elif kind == "empty":
        db.write_bytes(b"")
    else:
        conn = sqlite3.connect(str(db))
        conn.execute("CREATE TABLE notes (x)")
        conn.commit()
        conn.close()
    out = tmp_path / "copy.db"
    code, text = backup(tmp_path, db, out)
    assert code == 1, text
    assert str(db) in text and "please report it" not in text
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".copy.db")]  # no temporary left


def test_a_newswatch_database_is_copied_and_the_copy_checks_out(tmp_path: Path) -> None:
    db = tmp_path / "nw.db"
    with Store(db) as store:
        store.set_state("k", "v")
    out = tmp_path / "copy.db"
    code, text = backup(tmp_path, db, out)
    assert code == 0, text
    with Store(out) as copy:
        assert copy.get_state("k") == "v"
        assert copy.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
