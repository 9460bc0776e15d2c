"""Articles stored before d1025e8 kept the control characters and terminal escape sequences of their feed or page;
the upgrade (store migration 0140) cleans them as new ones are (encoding.visible), keeps both search indexes in step,
and makes their content hash and near-duplicate signature again from the clean text, so the same story fetched after
the upgrade is still one story. A real SQLite file, a real local HTTP server."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crawler import dedup, process
from crawler.encoding import visible
from crawler.process import FeedInfo, feed_only
from crawler.store import BROWSE_FTS, Store
from tests.support.articles import RSS, article_record, rss_channel
from tests.support.pyrun import ROOT
from tests.support.sitesrv import SiteServer
from tests.test_faults import feed_source, newswatch, write_config
from tests.test_hostile_feeds import ENV

CLEANING = "0140_invisible_characters_removed"
FETCHED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

# As feedparser gave them (a reference to the character, or the character itself): a feed entry's title and summary
HOSTILE_TITLE = "\x1b]0;owned\x07Kazan and Harbin open a joint \x1b[1mreactor\x1b[0m labo\x01ratory"
HOSTILE_SUMMARY = (
    "\x1b[2JScientists\x00 of \x1b[1mboth\x1b[0m countries opened a \x1b[1mjoint\x1b[0m \x1b[31mreactor\x1b[0m laboratory"
    " in Ka\x7fzan on \x1b[1mMonday\x1b[0m, the first of \x1b[1mthree\x1b[0m planned with \x1b[1mHarbin\x1b[0m Insti\x85tute"
    " of \x1b[1mTechnology\x1b[0m;\x0bthe \x1b[4mlaboratory\x1b[0m will \x1b[1mtest\x1b[0m fuel for small \x1b[32mmodular\x1b[0m"
    " reac\ufffetors and \x1b[1mtrain\x1b[0m engineers."
)
# a page's (the extractor of the time dropped most such characters, not all: this one is written as it was left)
PAGE_TITLE = "Arctic port \x9b1mopens\x9b0m to grain ships from Novosibirsk"
PAGE_TEXT = "\n".join(
    f"Arctic port opens to grain ships from Novosibirsk, part {k}: the port of Sa\x01betta took its first gr\x9fain"
    f" ship from Novosibirsk on Monday, {k} weeks after the agree\x80ment was signed."
    for k in range(6)
)


def as_before(monkeypatch: pytest.MonkeyPatch, db: Path, site: SiteServer) -> dict[str, int]:
    """A database as a newswatch before d1025e8 left it (0140 not applied): a feed entry kept as it was processed
    then (nothing dropped from its title and text), a page's article holding them, and a clean article. Their ids."""
    with monkeypatch.context() as m:
        m.setattr(process, "visible", lambda text: text)  # what d1025e8 added
        kept = feed_only(
            "wire",
            f"{site.base_url}/unseen/a/1.html",
            FeedInfo(key="1", title=HOSTILE_TITLE, summary=HOSTILE_SUMMARY),
            FETCHED,
            (),
            backlog=False,
            pending=False,
        ).record
    assert kept is not None and "\x1b" in kept.title and kept.signature is not None
    body_hash, signature = dedup.fingerprint(PAGE_TITLE, PAGE_TEXT)
    page = replace(
        article_record(2, PAGE_TITLE, PAGE_TEXT, indexed=True),
        url=f"{site.base_url}/unseen/a/2.html",
        canonical_url=f"{site.base_url}/unseen/a/2.html",
        source="wire",
        author="\x9b1mIvan Petrov\x9b0m",
        content_hash=body_hash,
        signature=signature.to_bytes(),
    )
    clean = article_record(
        3, "Novosibirsk academy signs a deal", "Scientists of the academy signed a deal.", indexed=True
    )
    with Store(db) as st:
        ids = {name: st.add_article(rec).article_id for name, rec in (("kept", kept), ("page", page), ("clean", clean))}
    older(db)
    return ids


def older(db: Path) -> None:
    """0140 taken out of the record (an older newswatch's database), and each article's update noted in ``touched``."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = ?", [CLEANING])
    conn.execute("CREATE TABLE touched (id INTEGER)")
    conn.execute("CREATE TRIGGER touching AFTER UPDATE ON articles BEGIN INSERT INTO touched VALUES (new.id); END")
    conn.close()


def as_served(html: str) -> str:
    """A page holding these characters as a site serves them: C0 controls, U+FFFE and U+FFFF as references (an HTML
    page cannot hold them as themselves), C1 controls as themselves."""
    return "".join(f"&#{ord(c)};" if c < " " and c not in "\t\n\r" or c in "\ufffe\uffff" else c for c in html)


def rows(db: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return [tuple(r) for r in conn.execute(sql, params or [])]
    finally:
        conn.close()


def test_articles_stored_before_are_cleaned_and_a_copy_fetched_after_is_the_same_story(
    site: SiteServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "nw.db"
    ids = as_before(monkeypatch, db, site)
    before = {r[0]: r for r in rows(db, "SELECT id, title, text, author, content_hash, story FROM articles")}
    with Store(db) as st:  # the upgrade
        after = {r["id"]: r for r in st.query("SELECT id, title, text, author, content_hash, story FROM articles")}
    for name in ("kept", "page"):
        aid, old = ids[name], before[ids[name]]
        assert after[aid]["title"] == visible(old[1]) and after[aid]["text"] == visible(old[2])  # before: as stored
        assert not any(c in after[aid]["title"] + after[aid]["text"] for c in "\x00\x01\x1b\x7f\x85\x9b\ufffe")
    assert after[ids["kept"]]["title"] == "Kazan and Harbin open a joint reactor laboratory"
    assert after[ids["kept"]]["text"].startswith(
        "Scientists of both countries opened a joint reactor laboratory in Kazan"
    )
    assert after[ids["page"]]["author"] == "Ivan Petrov"
    assert (
        after[ids["page"]]["content_hash"] == dedup.content_hash(after[ids["page"]]["text"]) != before[ids["page"]][4]
    )
    assert after[ids["clean"]] == dict(
        zip(("id", "title", "text", "author", "content_hash", "story"), before[ids["clean"]])
    )
    assert sorted(r[0] for r in rows(db, "SELECT id FROM touched")) == sorted((ids["kept"], ids["page"]))
    # both search indexes hold the clean words: newswatch search, and the browse index (datasette)
    cfg = write_config(
        tmp_path,
        feed_source("wire", f"{site.base_url}/unseen/wire.xml")
        + feed_source("other", f"{site.base_url}/unseen/other.xml"),
    )
    found = json.loads(newswatch(cfg, "search", "reactor AND laboratory AND modular", "--json").stdout)
    assert [r["id"] for r in found] == [str(ids["kept"])]  # before: none ('31mreactor', '4mlaboratory', '32mmodular')
    assert not json.loads(newswatch(cfg, "search", "31mreactor", "--json").stdout)
    browse = f"SELECT rowid FROM {BROWSE_FTS} WHERE {BROWSE_FTS} MATCH ?"
    assert rows(db, browse, ['"reactor laboratory"']) == [(ids["kept"],)] and not rows(db, browse, ["owned"])
    assert rows(db, browse, ["opens AND grain"]) == [(ids["page"],)]
    exported = newswatch(cfg, "export").stdout
    assert "\\u001b" not in exported and "\\u009b" not in exported and "owned" not in exported

    # After the upgrade the same stories come again, clean: the page at another URL of its outlet, the feed entry's
    # story as another outlet's page. Each is the story it was (its hash and signature made again from the clean text),
    # not a new story to list or alert again
    def served(path: str) -> tuple[int, dict[str, str], bytes]:
        for feed, title, link in (("wire.xml", PAGE_TITLE, "a/2-amp.html"), ("other.xml", HOSTILE_TITLE, "o/1.html")):
            if path.endswith(feed):
                item = f"<item><title>{visible(title)}</title><link>{site.base_url}/unseen/{link}</link></item>"
                return 200, RSS, rss_channel(site.base_url, item)
        if path.endswith("2-amp.html"):
            title, lines = PAGE_TITLE, PAGE_TEXT.split("\n")
        else:
            title, lines = HOSTILE_TITLE, [HOSTILE_SUMMARY]
        page = f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
        page += "".join(f"<p>{line}</p>" for line in lines) + "</article></body></html>"
        return 200, {"Content-Type": "text/html; charset=utf-8"}, as_served(page).encode()

    site.add_generated("/unseen/", served)
    stories = {r[0] for r in rows(db, "SELECT story FROM articles")}
    assert newswatch(cfg, "crawl", env=ENV).returncode == 0
    assert {r[0] for r in rows(db, "SELECT story FROM articles")} == stories  # before: two more stories
    assert rows(db, "SELECT article_id FROM _aliases WHERE url = ?", [f"{site.base_url}/unseen/a/2-amp.html"]) == [
        (ids["page"],)
    ]
    assert rows(db, "SELECT story FROM articles WHERE source = 'other'") == [(after[ids["kept"]]["story"],)]


def test_an_archive_with_nothing_to_clean_is_read_not_rewritten(tmp_path: Path) -> None:
    db = tmp_path / "nw.db"
    with Store(db) as st:
        for n in range(40):
            st.add_article(
                article_record(
                    n,
                    f"Учёные {n}: 中俄科技合作\tи «обмен»",
                    f"Российские учёные\nи 俄羅斯科學院 {n}.\r\n",
                    indexed=True,
                )
            )
    older(db)
    tables = ("articles", "_articles_fts", f"{BROWSE_FTS}_data", "_story_sig", "_story_band", "_aliases")
    before = {t: rows(db, f"SELECT * FROM {t}") for t in tables}
    with Store(db) as st:
        assert st.scalar("SELECT count(*) FROM _sqlite_migrations WHERE name = ?", [CLEANING]) == 1
    assert rows(db, "SELECT id FROM touched") == []  # no article written
    assert {t: rows(db, f"SELECT * FROM {t}") for t in tables} == before


KILLED = """
import os, signal, sys
from pathlib import Path
from crawler import dedup
from crawler.store import Store
def killed(self, *args):
    os.kill(os.getpid(), signal.SIGKILL)  # midway: the first article cleaned, indexed, its signature next
dedup.StoryIndex.replace = killed
Store(Path(sys.argv[1]))
"""


def test_an_upgrade_killed_midway_leaves_the_articles_as_they_were_and_the_next_start_cleans_them(
    site: SiteServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "nw.db"
    ids = as_before(monkeypatch, db, site)
    before = rows(db, "SELECT * FROM articles ORDER BY id")
    done = subprocess.run(
        [sys.executable, "-c", KILLED, str(db)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120
    )
    assert done.returncode == -signal.SIGKILL
    assert rows(db, "PRAGMA integrity_check") == [("ok",)]
    assert rows(db, "SELECT * FROM articles ORDER BY id") == before  # all or nothing: nothing
    assert rows(db, "SELECT count(*) FROM _sqlite_migrations WHERE name = ?", [CLEANING]) == [(0,)]
    with Store(db) as st:  # the next start applies it whole
        assert "\x1b" not in st.article(ids["kept"])["title"]
