"""A source gone from the config keeps its crawl state (its feed's items read, its sitemap children, its first poll's
entries left for later) for a week, then loses it; its articles stay. A real local HTTP server, a real SQLite file."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from crawler.store import REMOVED_KEY, SOURCE_STATE, Store, iso, utcnow
from tests.support.sitesrv import SiteServer
from tests.test_faults import feed_source, newswatch, write_config
from tests.test_hostile_feeds import ENV, page_of, serve_projects


def serve(site: SiteServer) -> dict[str, str]:
    """A feed of five entries (a first poll fetches two: $NEWSWATCH_MAX_NEW_PAGES) and a sitemap index of two
    children; the config blocks of a source polling each, by its name."""
    xml = {"Content-Type": "application/xml"}
    head = '<?xml version="1.0" encoding="UTF-8"?>'
    ns = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'

    def sitemaps(path: str) -> tuple[int, dict[str, str], bytes]:
        if path.startswith("/rmap/index.xml"):
            children = "".join(f"<sitemap><loc>{site.base_url}/rmap/{c}.xml</loc></sitemap>" for c in "xy")
            return 200, xml, f"{head}<sitemapindex {ns}>{children}</sitemapindex>".encode()
        n = 10 + "xy".index(path[len("/rmap/")])
        return 200, xml, f"{head}<urlset {ns}><url><loc>{site.base_url}/rm/a/{n}.html</loc></url></urlset>".encode()

    serve_projects(site, "/rm/", range(5))
    site.add_generated("/rmap/", sitemaps)
    return {
        "left": feed_source("left", f"{site.base_url}/rm/feed.xml"),
        "map": f'[[sources]]\nname = "map"\nkind = "sitemap"\nurl = "{site.base_url}/rmap/index.xml"\nwindow = "2d"\n',
        "other": feed_source("other", f"{site.base_url}/rm/feed.xml?other"),
    }


def state(db: Path) -> dict[str, tuple[int, ...]]:
    """Each source's rows in the crawl state's tables (SOURCE_STATE's order), and its articles last."""
    with Store(db) as st:
        names = [r["name"] for r in st.query("SELECT DISTINCT source AS name FROM articles")]
        return {
            name: tuple(
                st.scalar(f"SELECT count(*) FROM {table} WHERE source = ?", [name])
                for table in (*SOURCE_STATE, "articles")
            )
            for name in names
        }


def test_a_source_gone_from_the_config_for_a_week_loses_its_crawl_state_and_keeps_its_articles(
    site: SiteServer, tmp_path: Path
) -> None:
    # The rows of _feed_items, _sitemap_children and _backlog_entries of a source no longer configured were never
    # deleted, kept for ever for every source ever removed or renamed
    sources = serve(site)
    env = {**ENV, "NEWSWATCH_MAX_NEW_PAGES": "2"}
    cfg = write_config(tmp_path, sources["left"] + sources["map"] + sources["other"])
    assert newswatch(cfg, "crawl", env=env).returncode == 0
    db = tmp_path / "nw.db"
    first = state(db)
    assert first["left"] == (3, 0, 5, 2) and first["map"] == (0, 2, 0, 2)  # (backlog, children, items, articles)
    # both taken out of the config (commented out, renamed, removed): their state is kept for a week
    write_config(tmp_path, sources["other"])
    assert newswatch(cfg, "crawl", env=env).returncode == 0
    assert {name: state(db)[name] for name in ("left", "map")} == {"left": first["left"], "map": first["map"]}
    with Store(db) as st:  # a week passes (the crawl's clock is the machine's)
        week_ago = iso(utcnow() - timedelta(days=7, minutes=1))
        st.conn.execute("UPDATE _state SET value = ? WHERE key LIKE ?", [week_ago, REMOVED_KEY + "%"])
        st.conn.commit()
    # the sitemap put back keeps its children (a 304 for each, or a rest); the feed gone for a week loses its state
    write_config(tmp_path, sources["map"] + sources["other"])
    assert newswatch(cfg, "crawl", env=env).returncode == 0
    after = state(db)
    assert after["left"] == (0, 0, 0, 2)  # before: (3, 0, 5, 2) for ever; its articles stay
    assert after["map"][1] == 2
    with Store(db) as st:
        assert st.scalar("SELECT count(*) FROM _state WHERE key LIKE ?", [REMOVED_KEY + "%"]) == 0
    # put back after that, the feed is polled as it would be with its state lost: no error, its entries not again
    write_config(tmp_path, sources["left"] + sources["map"] + sources["other"])
    assert newswatch(cfg, "crawl", env=env).returncode == 0
    assert state(db)["left"][3] == 4  # two more of its five entries, none of the first two again


def test_a_crawl_with_nothing_to_forget_takes_no_write_lock(site: SiteServer, tmp_path: Path) -> None:
    # Each crawl's look for removed sources opened a write transaction (BEGIN IMMEDIATE) with nothing to write: a crawl
    # of unchanged sources waited behind any other writer (a long prune, another crawl's batch) for the lock
    sources = serve(site)
    cfg = write_config(tmp_path, sources["left"] + sources["map"] + sources["other"])
    assert newswatch(cfg, "crawl", env={**ENV, "NEWSWATCH_MAX_NEW_PAGES": "2"}).returncode == 0
    db, every = tmp_path / "nw.db", {"left", "map", "other"}
    writer = sqlite3.connect(db, isolation_level=None)  # another process writing, for long
    with Store(db) as st:
        st.conn.execute("PRAGMA busy_timeout = 50")
        now = utcnow()
        writer.execute("BEGIN IMMEDIATE")
        before = st.conn.total_changes
        assert st.forget_removed(every, now) == []  # before: sqlite3.OperationalError: database is locked
        writer.execute("ROLLBACK")
        assert st.forget_removed(every - {"left"}, now) == []  # found gone: noted, a write
        assert st.conn.total_changes == before + 1
        writer.execute("BEGIN IMMEDIATE")
        for later in (now, now + timedelta(days=6)):  # noted, not due yet: nothing to write
            assert st.forget_removed(every - {"left"}, later) == []
        with pytest.raises(sqlite3.OperationalError, match="locked"):  # due: it writes
            st.forget_removed(every - {"left"}, now + timedelta(days=7))
        writer.execute("ROLLBACK")
        assert st.conn.total_changes == before + 1
        assert st.forget_removed(every - {"left"}, now + timedelta(days=7)) == ["left"]
        assert st.get_state(REMOVED_KEY + "left") is None
    writer.close()


def test_a_removed_source_with_no_crawl_state_rows_loses_its_note_and_comes_back_as_a_new_source(
    site: SiteServer, tmp_path: Path
) -> None:
    # A listing keeps no rows in SOURCE_STATE, only the note of the settings its validators were read with
    # (sources.read_as:NAME): removed, it was never found gone, and its note stayed for ever. Put back weeks later
    # with the same settings, it sent its old validators (a 304 hid what the page listed meanwhile); what it took was
    # stored as news, though published while it was gone
    numbers = [1, 2]

    def listing(path: str) -> tuple[int, dict[str, str], bytes]:
        if path.startswith("/lst/index.html"):
            links = "".join(f'<a href="{site.base_url}/lst/a/{n}.html">Project {n}</a>' for n in numbers)
            return 200, {"Content-Type": "text/html; charset=utf-8"}, f"<html><body>{links}</body></html>".encode()
        return page_of(path)

    site.add_generated("/lst/", listing)
    serve_projects(site, "/other/", range(2))
    lst = f'[[sources]]\nname = "lst"\nkind = "listing"\nurl = "{site.base_url}/lst/index.html"\nfollow = \'/lst/a/\'\n'
    other = feed_source("other", f"{site.base_url}/other/feed.xml")
    cfg = write_config(tmp_path, lst + other)
    db = tmp_path / "nw.db"

    def crawl() -> None:
        res = newswatch(cfg, "crawl", env=ENV)
        assert res.returncode == 0, res.stderr

    def reads() -> list[tuple[int | None, bool]]:
        """Each read of the listing page: its status, and whether it sent a validator."""
        return [
            (r.status, any(h.lower() in ("if-none-match", "if-modified-since") for h in r.headers))
            for r in site.requests
            if r.path == "/lst/index.html"
        ]

    crawl()
    crawl()
    assert reads() == [(200, False), (304, True)]
    with Store(db) as st:
        assert st.read_as("lst") is not None
        assert all(st.scalar(f"SELECT count(*) FROM {t} WHERE source = 'lst'") == 0 for t in SOURCE_STATE)
    assert newswatch(cfg, "sources", "remove", "lst").returncode == 0
    crawl()
    with Store(db) as st:
        assert st.get_state(REMOVED_KEY + "lst") is not None  # before: never found gone
        week_ago = iso(utcnow() - timedelta(days=7, minutes=1))
        st.conn.execute("UPDATE _state SET value = ? WHERE key = ?", [week_ago, REMOVED_KEY + "lst"])
        st.conn.commit()
    numbers.append(3)  # published while it was gone
    crawl()
    with Store(db) as st:
        assert st.read_as("lst") is None  # before: its note, for ever
        assert st.get_state(REMOVED_KEY + "lst") is None
        row = st.source_state("lst")
        assert (row["polls"], row["etag"], row["last_modified"]) == (0, None, None)
        assert row["last_success"] is not None  # its health row stays
        # nothing left to drop: no write (with another process writing meanwhile, no wait for its lock)
        writer = sqlite3.connect(db, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")
        st.conn.execute("PRAGMA busy_timeout = 50")
        assert st.forget_removed({"other"}, utcnow() + timedelta(days=30)) == []
        writer.execute("ROLLBACK")
        writer.close()
    # put back: a new source, read whole, its first poll's entries backlog
    write_config(tmp_path, lst + other)
    crawl()
    assert reads()[-1] == (200, False)  # before: (200, True), its old validators sent
    with Store(db) as st:
        taken = {r["url"]: r["backlog"] for r in st.query("SELECT url, backlog FROM articles WHERE source = 'lst'")}
        assert taken[f"{site.base_url}/lst/a/3.html"] == 1, taken  # before: 0, news
        assert st.read_as("lst") is not None
