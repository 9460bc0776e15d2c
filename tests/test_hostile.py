"""Hostile input against the local test server and a real SQLite file: pages that answer without article
text, and what each leaves behind for the next poll."""

from __future__ import annotations

from pathlib import Path

from crawler.store import Store
from tests.support.sitesrv import SiteServer
from tests.test_faults import feed_source, newswatch, write_config

ALL_SCRIPT = b"<html><body>" + b"<script>var story = 'China and Russia';</script>" * 200 + b"</body></html>"


def serve_one(site: SiteServer, prefix: str, page: dict[str, tuple[int, bytes]]) -> str:
    """A feed of one entry under `prefix` whose page answers with ``page["body"]`` (status, body); returns its URL."""

    def handler(path: str) -> tuple[int, dict[str, str], bytes]:
        if path.startswith(f"{prefix}feed.xml"):
            xml = (
                '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>T</title>'
                f"<link>{site.base_url}{prefix}</link><description>d</description>"
                f"<item><title>Joint reactor of China and Russia</title><link>{site.base_url}{prefix}a/1.html</link>"
                f"<guid>{prefix}1</guid><description>China and Russia open a joint reactor.</description></item>"
                "</channel></rss>"
            )
            return 200, {"Content-Type": "application/rss+xml"}, xml.encode()
        status, body = page["body"]
        return status, {"Content-Type": "text/html; charset=utf-8"}, body

    site.add_generated(prefix, handler)
    return f"{site.base_url}{prefix}feed.xml"


def articles(db: Path) -> list[dict[str, object]]:
    with Store(db) as st:
        return st.query(
            "SELECT a.url, a.title, a.text, a.text_from, a.page_pending, "
            "(SELECT count(*) FROM matches m WHERE m.article_id = a.id) AS matched FROM articles a"
        )


def test_an_entry_whose_page_has_no_article_text_is_kept_from_its_feed(site: SiteServer, tmp_path: Path) -> None:
    page = {"body": (200, ALL_SCRIPT)}  # a page rendered by script: nothing for the extractor
    cfg = write_config(tmp_path, feed_source("js", serve_one(site, "/js/", page)))
    res = newswatch(cfg, "crawl")  # extracted by a worker process, the entry kept by this one
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    assert "no article text found on the page" in res.stderr
    rows = articles(tmp_path / "nw.db")
    assert [(r["title"], r["text"], r["text_from"], r["page_pending"]) for r in rows] == [
        ("Joint reactor of China and Russia", "China and Russia open a joint reactor.", "feed", 0)
    ]  # before: no article at all, its entry marked seen, so never looked at again
    assert rows[0]["matched"] == 1
    with Store(tmp_path / "nw.db") as st:
        assert st.scalar("SELECT count(*) FROM _entries WHERE article_id IS NULL") == 0

    hits = site.hits("/js/a/")
    assert newswatch(cfg, "crawl", env={"NEWSWATCH_WORKERS": "0"}).returncode == 0
    assert site.hits("/js/a/") == hits  # not fetched again: the page answered
    assert len(articles(tmp_path / "nw.db")) == 1


def test_a_pending_page_that_comes_back_without_text_is_not_fetched_again(site: SiteServer, tmp_path: Path) -> None:
    page = {"body": (503, b"busy")}
    cfg = write_config(tmp_path, feed_source("later", serve_one(site, "/later/", page)))
    assert newswatch(cfg, "crawl", env={"NEWSWATCH_WORKERS": "0"}).returncode == 0
    assert [(r["text_from"], r["page_pending"]) for r in articles(tmp_path / "nw.db")] == [("feed", 1)]
    with Store(tmp_path / "nw.db") as st:  # its retry is due now
        st.conn.execute("UPDATE articles SET page_retry_at = NULL")
        st.conn.commit()

    page["body"] = (200, ALL_SCRIPT)  # the page answers now, with nothing to extract
    assert newswatch(cfg, "crawl", env={"NEWSWATCH_WORKERS": "0"}).returncode == 0
    rows = articles(tmp_path / "nw.db")
    assert [(r["title"], r["text_from"], r["page_pending"]) for r in rows] == [
        ("Joint reactor of China and Russia", "feed", 0)
    ]  # before: still pending, so fetched again at every poll for ever
    hits = site.hits("/later/a/")
    with Store(tmp_path / "nw.db") as st:
        st.conn.execute("UPDATE articles SET page_retry_at = NULL")
        st.conn.commit()
    assert newswatch(cfg, "crawl", env={"NEWSWATCH_WORKERS": "0"}).returncode == 0
    assert site.hits("/later/a/") == hits
