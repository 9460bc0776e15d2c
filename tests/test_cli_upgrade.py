"""The first command after an upgrade of newswatch upgrades the database an older newswatch made, and says so
on stderr (what it does, that it is once), whichever command it is: one that reads, or a crawl whose child
upgrades it. The next command says nothing; --quiet says nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from crawler import __version__
from crawler.store import Store
from tests.support.articles import article_record
from tests.support.cli import newswatch

REINDEX = "0080_browse_search_yo_and_simplified"


def old_archive(tmp_path: Path) -> tuple[Path, Path]:
    """A config and its database as an older newswatch left it: 0080 not applied."""
    cfg = tmp_path / "nw.toml"
    cfg.write_text(
        '[storage]\ndatabase = "nw.db"\n\n[crawl]\nallow_private = true\n\n'
        '[[sources]]\nname = "gone"\nurl = "http://127.0.0.1:9/rss.xml"\n',
        encoding="utf-8",
    )
    with Store(tmp_path / "nw.db") as store:
        for n in range(3):
            store.add_article(
                article_record(n, f"Учёные {n}", f"Российские учёные и 俄羅斯科學院, встреча {n}.", indexed=True)
            )
    with sqlite3.connect(tmp_path / "nw.db") as conn:
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = ?", [REINDEX])
    return cfg, tmp_path / "nw.db"


def pending(db: Path) -> bool:
    with sqlite3.connect(db) as conn:
        return not conn.execute("SELECT count(*) FROM _sqlite_migrations WHERE name = ?", [REINDEX]).fetchone()[0]


def said(stderr: str, db: Path) -> None:
    first, second = stderr.splitlines()[:2]
    assert first.startswith(f"upgrading the database {db} for newswatch {__version__} ({REINDEX}): once, "), first
    assert "after an upgrade of newswatch" in first and "takes minutes" in first
    assert second.startswith("database upgraded in ") and second.endswith(f"{db} is ready for this version")


def test_the_first_command_that_reads_an_older_database_says_it_upgrades_it_once(tmp_path: Path) -> None:
    cfg, db = old_archive(tmp_path)
    first = newswatch("-c", cfg, "search", "учёные")
    assert first.returncode == 0, first.stderr
    said(first.stderr, db)
    assert not pending(db) and "Учёные" in first.stdout
    again = newswatch("-c", cfg, "search", "учёные")
    assert again.returncode == 0 and again.stderr == "" and again.stdout == first.stdout


def test_quiet_says_nothing_of_the_upgrade(tmp_path: Path) -> None:
    cfg, db = old_archive(tmp_path)
    result = newswatch("-c", cfg, "export", "-q")
    assert result.returncode == 0 and result.stderr == "" and not pending(db)


def test_a_crawl_whose_child_upgrades_the_database_says_so_before_its_table(tmp_path: Path) -> None:
    cfg, db = old_archive(tmp_path)
    result = newswatch("-c", cfg, "crawl")
    assert result.returncode == 1  # its one source is not there: the upgrade happened all the same
    said(result.stderr, db)
    assert not pending(db)


def test_a_daemon_s_crawl_child_leaves_an_older_database_to_the_daemon_and_says_restart_it(tmp_path: Path) -> None:
    # newswatch upgraded in place under a running daemon: the daemon upgraded the database at its start with the
    # code it runs, and its next crawl child, started from the new code, found a migration pending and applied it
    # unsaid (a long one killed with the batch, to begin again at the next)
    import pytest

    from crawler.child import run_in_child
    from crawler.errors import NewswatchError

    cfg, db = old_archive(tmp_path)
    with pytest.raises(NewswatchError) as refused:
        run_in_child(cfg, ["gone"], trigger="daemon", extra_env={"NEWSWATCH_WORKERS": "0"})
    assert str(refused.value) == (
        f"the database {db} needs an upgrade ({REINDEX}) that the newswatch installed since the daemon started "
        "brings; the running daemon is older and does not apply it: restart the daemon (systemctl restart "
        "newswatch), which upgrades the database at its start, before it polls again"
    )
    assert pending(db)
    run_in_child(cfg, ["gone"], trigger="cli", extra_env={"NEWSWATCH_WORKERS": "0"})  # a user's crawl upgrades it
    assert not pending(db)
