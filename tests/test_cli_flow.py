"""The CLI end to end as an operator uses it: crawl, digest over SMTP, search, prune, backup."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from scheduler.demo import demo_config_text
from tests.support.cli import Outcome
from tests.support.cli import newswatch as run_cli
from tests.support.sitesrv import SiteServer


def newswatch(cfg: Path, *args: str) -> Outcome:
    """In this process (the crawl in its child, extracting there): the test is about outputs and exit codes."""
    return run_cli("-c", cfg, *args, env={"NEWSWATCH_WORKERS": "0"})


def test_crawl_digest_resend_smtp_down_prune_backup(site: SiteServer, smtp: Any, tmp_path: Path) -> None:
    cfg = tmp_path / "newswatch.toml"
    text = demo_config_text(site.base_url).replace("send_empty = true", "send_empty = false")
    text += f'\n[smtp]\nhost = "127.0.0.1"\nport = {smtp.port}\nsecurity = "none"\nsender = "nw <nw@example.org>"\n'
    cfg.write_text(text, encoding="utf-8")
    assert newswatch(cfg, "crawl").returncode == 0
    db_path = tmp_path / "newswatch-demo.db"

    def counts() -> tuple[int, int]:
        with sqlite3.connect(db_path) as db:
            total = db.execute("SELECT count(*) FROM articles").fetchone()[0]
            matched = db.execute("SELECT count(DISTINCT article_id) FROM matches").fetchone()[0]
        return total, matched

    total, matched = counts()
    assert total > matched > 0
    assert newswatch(cfg, "prune", "--older-than", "0s", "--force").returncode == 0  # nothing sent yet
    assert counts() == (matched, matched)  # only the unmatched articles went

    smtp.down()  # the server is unreachable: exit 1, one line, nothing marked sent
    down = newswatch(cfg, "digest")
    assert down.returncode == 1, down.stdout + down.stderr
    assert "Traceback" not in down.stderr and "not sent" in down.stderr
    smtp.up()

    first = newswatch(cfg, "digest")
    assert first.returncode == 0, first.stderr
    assert "analyst@example.org: sent" in first.stdout
    assert len(smtp.messages) == 1
    body = smtp.messages[0].message.get_body(("plain",)).get_content()
    # Russian stories are in it; which copy heads a story (and so its title) depends on crawl order.
    assert "中俄" in body and "Росси" in body and "Also reported by" in body

    again = newswatch(cfg, "digest")  # nothing new: says so, exit 0, nothing sent
    assert again.returncode == 0 and "nothing new to send" in again.stdout
    assert len(smtp.messages) == 1

    backup = tmp_path / "copy.db"
    assert newswatch(cfg, "backup", str(backup)).returncode == 0
    with sqlite3.connect(backup) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = db.execute("SELECT count(*) FROM articles").fetchone()[0]
    assert stored == matched
    assert newswatch(cfg, "search", "--json", "中俄 AND 科技").stdout.count('"story"') >= 1

    pruned = newswatch(cfg, "prune", "--older-than", "0s", "--force")  # everything was sent: all of it may go
    assert pruned.returncode == 0, pruned.stderr
    assert counts() == (0, 0)
