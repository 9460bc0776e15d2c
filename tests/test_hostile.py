"""Hostile input against the local test server and a real SQLite file: pages that answer without article
text, and what each leaves behind for the next poll; a disk that fills while a mail goes out; a text that
repeats its topic's word without end."""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from crawler import topics
from crawler.store import Store
from tests.support.articles import RSS, rss_channel
from tests.support.configs import mail_config
from tests.support.sitesrv import SiteServer
from tests.test_faults import (
    article_html,
    feed_source,
    newswatch,
    serve_feed,
    small_disk,  # noqa: F401  (a fixture: a 4 MB tmpfs)
    write_config,
)

ALL_SCRIPT = b"<html><body>" + b"<script>var story = 'China and Russia';</script>" * 200 + b"</body></html>"


def serve_one(site: SiteServer, prefix: str, page: dict[str, tuple[int, bytes]]) -> str:
    """A feed of one entry under `prefix` whose page answers with ``page["body"]`` (status, body); returns its URL."""

    def handler(path: str) -> tuple[int, dict[str, str], bytes]:
        if path.startswith(f"{prefix}feed.xml"):
            item = (
                f"<item><title>Joint reactor of China and Russia</title><link>{site.base_url}{prefix}a/1.html</link>"
                f"<guid>{prefix}1</guid><description>China and Russia open a joint reactor.</description></item>"
            )
            return 200, RSS, rss_channel(f"{site.base_url}{prefix}", item)
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


def test_a_page_larger_than_the_limit_is_kept_from_its_feed_and_not_fetched_again(
    site: SiteServer, tmp_path: Path
) -> None:
    page = {"body": (200, b"<html><body>" + b"<p>China and Russia</p>" * 250_000 + b"</body></html>")}  # 6 MB
    cfg = write_config(tmp_path, feed_source("big", serve_one(site, "/big/", page)))
    res = newswatch(cfg, "crawl", env={"NEWSWATCH_WORKERS": "0"})
    assert res.returncode == 0 and "page larger than crawl.max_page_size" in res.stderr, res.stderr
    rows = articles(tmp_path / "nw.db")
    assert [(r["title"], r["text_from"], r["page_pending"]) for r in rows] == [
        ("Joint reactor of China and Russia", "feed", 0)
    ]  # before: pending, so fetched again (5 MB and more) at each retry, at least once a day for ever


def test_a_page_nested_100000_elements_deep_is_kept_from_its_feed_and_named_so(
    site: SiteServer, tmp_path: Path
) -> None:
    deep = (
        b"<html><body>"
        + b"<div>" * 100_000
        + b"<p>China and Russia open a joint reactor.</p>" * 5
        + b"</div>" * 100_000
    )
    cfg = write_config(
        tmp_path, feed_source("deep", serve_one(site, "/deep/", {"body": (200, deep + b"</body></html>")}))
    )
    res = newswatch(cfg, "crawl", env={"NEWSWATCH_WORKERS": "0"})
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    # lxml keeps nothing deeper than 255 elements: before, "no article text found on the page", as for a page without
    assert "the page's markup nests more than 255 elements deep (a broken or hostile page)" in res.stderr
    assert [(r["text_from"], r["matched"]) for r in articles(tmp_path / "nw.db")] == [("feed", 1)]


# -- a disk that fills while a mail goes out ---------------------------------------------------------


def fill(folder: Path) -> None:
    """Takes every free byte of the file system holding ``folder``."""
    with open(folder / "filler", "ab") as f:
        while True:
            st = os.statvfs(folder)
            free = st.f_bavail * st.f_frsize
            if free <= 0:
                return
            try:
                f.write(b"\0" * free)
                f.flush()
            except OSError:
                return


def crawled_to(disk: Path, site: SiteServer, tmp_path: Path, smtp: Any) -> Path:
    """A config with its database on ``disk``, a digest to one recipient by ``smtp``, three stories crawled."""
    digest = mail_config(smtp.port, timezone="Europe/Moscow")
    url = serve_feed(site, "/mailed/", 3)
    cfg = write_config(tmp_path, feed_source("mailed", url), database=str(disk / "nw.db"), digest=digest)
    assert newswatch(cfg, "crawl", env={"NEWSWATCH_WORKERS": "0"}).returncode == 0
    return cfg


def test_a_disk_filling_up_while_the_digest_goes_out_does_not_send_it_twice(
    site: SiteServer, tmp_path: Path, smtp: Any, request: pytest.FixtureRequest
) -> None:
    disk: Path = request.getfixturevalue("small_disk")  # root and mount(8), else skipped
    cfg = crawled_to(disk, site, tmp_path, smtp)
    smtp.on_data = lambda: fill(disk)  # the server takes the mail while the disk fills

    res = newswatch(cfg, "digest")
    assert "Traceback" not in res.stderr, res.stderr
    assert res.returncode == 0, res.stderr  # before: the record after the 250 failed, "database or disk is full"
    assert len(smtp.messages) == 1
    smtp.on_data = None
    (disk / "filler").unlink()

    again = newswatch(cfg, "digest")
    assert again.returncode == 0, again.stderr
    assert len(smtp.messages) == 1  # before: sent a second time
    with Store(disk / "nw.db") as st:
        assert st.scalar("SELECT count(*) FROM delivery_messages WHERE status = 'sent'") == 1


def test_a_sent_digest_that_cannot_be_recorded_says_it_went_and_will_go_again(
    site: SiteServer, tmp_path: Path, smtp: Any, request: pytest.FixtureRequest
) -> None:
    disk: Path = request.getfixturevalue("small_disk")
    cfg = crawled_to(disk, site, tmp_path, smtp)
    reader = sqlite3.connect(disk / "nw.db")  # a long read (an export) from before the digest: its log must stay
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM articles").fetchone()
    smtp.on_data = lambda: fill(disk)
    try:
        res = newswatch(cfg, "digest")
    finally:
        reader.close()
    assert len(smtp.messages) == 1 and res.returncode == 1
    mid = smtp.messages[0].message["Message-ID"]
    assert res.stderr == (
        f"error: the digest to analyst@example.org was sent (Message-ID {mid}) but could not be recorded as sent in "
        f"the database {disk / 'nw.db'}: database or disk is full; until the database can be written (free disk "
        "space or fix its permissions), each run sends it again under the same Message-ID\n"
    )  # before: "cannot write the database ...: database or disk is full; ... run the command again", the mail unnamed


# -- a page that repeats a term without end ---------------------------------------------------------


def snippet_steps(text: str) -> int:
    """Python line events ``topics.snippet`` spends in generator expressions for the query China on ``text``."""
    match = topics.compile_query("China").match("", text)
    steps = 0

    def tracer(frame: FrameType, event: str, arg: object) -> Any:
        nonlocal steps
        if frame.f_code.co_filename != topics.__file__:
            return None
        steps += frame.f_code.co_name == "<genexpr>"
        return tracer

    sys.settrace(tracer)
    try:
        segments = topics.snippet(text, match)
    finally:
        sys.settrace(None)
    assert sum(hit for _seg, hit in segments) == 40  # a 240-character window of "China China ..."
    return steps


def test_a_snippet_of_a_text_repeating_its_term_costs_in_proportion_to_the_hits() -> None:
    # A page of 5 MB repeating the topic's word (a hostile or broken page) matches, and the digest shows a
    # snippet of it: the densest window was found by counting, for each hit, every later hit (100,000 hits:
    # 5 billion steps, and the digest, search and topics eval never ended). Steps are counted, not seconds.
    small, large = snippet_steps("China " * 1000), snippet_steps("China " * 2000)
    assert large < 2.2 * small, (small, large)  # before: 582,063 and 2,165,563 steps


# -- a login or cookie wall instead of each page, a feed renewing its ids -----------------------------

LOGIN_WALL = b"<html><head><title>Log in</title></head><body><form><p>Please log in to continue reading.</p></form></body></html>"
SUBSCRIBE_WALL = (
    "<html><head><title>{title} | Daily Planet</title></head><body><article><h1>{title}</h1>"
    + "<p>This story is for subscribers only. We use cookies to give you the best experience on our website "
    "and to personalise the content and advertising you see; by continuing you agree to our terms.</p>"
    * 3
    + "</article></body></html>"
)
WALL_TOPICS = ("reactor", "satellite", "polymer")


def serve_walled(site: SiteServer, prefix: str, wall: Any) -> str:
    """A feed of three stories under ``prefix`` whose pages all answer ``wall(title)``; returns its URL."""
    titles = {f"{i}.html": f"China and Russia open a joint {w} laboratory" for i, w in enumerate(WALL_TOPICS)}

    def handler(path: str) -> tuple[int, dict[str, str], bytes]:
        if path.startswith(f"{prefix}feed.xml"):
            items = "".join(
                f"<item><title>{t}</title><link>{site.base_url}{prefix}a/{name}</link><guid>{prefix}{name}</guid>"
                f"<description>{t} in Novosibirsk, number {name[0]}.</description></item>"
                for name, t in titles.items()
            )
            return 200, RSS, rss_channel(f"{site.base_url}{prefix}", items)
        return 200, {"Content-Type": "text/html; charset=utf-8"}, wall(titles[path.rsplit("/", 1)[-1]])

    site.add_generated(prefix, handler)
    return f"{site.base_url}{prefix}feed.xml"


@pytest.mark.parametrize(
    "wall",
    [
        pytest.param(lambda title: LOGIN_WALL, id="login-wall"),
        pytest.param(lambda title: SUBSCRIBE_WALL.format(title=title).encode(), id="wall-under-each-headline"),
    ],
)
def test_a_wall_instead_of_every_page_loses_no_story(site: SiteServer, tmp_path: Path, wall: Any) -> None:
    # Every page answers one text (a login, cookie or subscription wall): stored as the same page at three URLs,
    # one article was kept ("Log in", matching nothing) and the three stories were lost, their entries seen
    cfg = write_config(tmp_path, feed_source("walled", serve_walled(site, "/walled/", wall)))
    res = newswatch(cfg, "crawl", env={"NEWSWATCH_WORKERS": "0"})
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    assert "(a login, cookie or subscription wall?)" in res.stderr
    rows = articles(tmp_path / "nw.db")
    assert sorted(r["title"] for r in rows) == sorted(
        f"China and Russia open a joint {w} laboratory" for w in WALL_TOPICS
    )
    assert all(r["matched"] for r in rows)
    assert all(r["text_from"] == "feed" for r in rows)  # the first wall showing a headline too
    with Store(tmp_path / "nw.db") as st:
        assert st.scalar("SELECT count(DISTINCT story) FROM articles") == 3


def test_a_feed_giving_its_entries_new_ids_at_each_poll_adds_nothing(site: SiteServer, tmp_path: Path) -> None:
    polls = [0]

    def handler(path: str) -> tuple[int, dict[str, str], bytes]:
        if path.startswith("/renew/feed.xml"):
            polls[0] += 1
            items = "".join(
                f"<item><title>Joint project {i} of China and Russia</title><link>{site.base_url}/renew/a/{i}.html"
                f"</link><guid>poll{polls[0]}-{i}</guid><description>China and Russia project {i}</description></item>"
                for i in range(3)
            )
            return 200, RSS, rss_channel(f"{site.base_url}/renew/", items)
        return 200, {"Content-Type": "text/html; charset=utf-8"}, article_html(int(path.rsplit("/", 1)[-1][0]))

    site.add_generated("/renew/", handler)
    cfg = write_config(tmp_path, feed_source("renew", f"{site.base_url}/renew/feed.xml"))
    for _poll in range(3):
        res = newswatch(cfg, "crawl", env={"NEWSWATCH_WORKERS": "0"})
        assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[2].split()[:6] == ["renew", "ok", "1", "0", "0", "0"]  # before: 3 duplicates
    assert site.hits("/renew/a/") == 3
    with Store(tmp_path / "nw.db") as st:
        assert st.scalar("SELECT count(*) FROM articles") == 3
        # each entry once by its first guid and once by its text (FeedEntry.text_key); before: 3 more at each poll
        assert st.scalar("SELECT count(*) FROM _entries") == 6


def test_a_feed_of_more_new_entries_than_a_poll_takes_gives_its_newest_now_and_the_rest_later(
    site: SiteServer, tmp_path: Path
) -> None:
    # A feed of 100,000 entries (broken or hostile) queued 100,000 pages in one poll, the crawl's memory growing
    # with them (430 MB after 6 minutes), and filled the database and the digests; a poll takes 1,000 now
    # ($NEWSWATCH_MAX_NEW_PAGES here), the newest first.
    def handler(path: str) -> tuple[int, dict[str, str], bytes]:
        if path.startswith("/many/feed.xml"):
            items = "".join(
                f"<item><title>Joint project {i} of China and Russia</title><link>{site.base_url}/many/a/{i}.html"
                f"</link><guid>{i}</guid><pubDate>{day:02d} Nov 2025 10:00:00 GMT</pubDate></item>"
                for i, day in ((i, 1 + (i * 7) % 25) for i in range(25))
            )
            return 200, RSS, rss_channel(f"{site.base_url}/many/", items)
        return (
            200,
            {"Content-Type": "text/html; charset=utf-8"},
            article_html(int(path.rsplit("/", 1)[-1].split(".")[0])),
        )

    site.add_generated("/many/", handler)
    cfg = write_config(tmp_path, feed_source("many", f"{site.base_url}/many/feed.xml"))
    env = {"NEWSWATCH_WORKERS": "0", "NEWSWATCH_MAX_NEW_PAGES": "10"}
    res = newswatch(cfg, "crawl", env=env)
    assert res.returncode == 0, res.stderr
    assert (
        "25 new entries: the 10 newest are fetched now, the other 15 at the next polls (at most 10 pages a poll)"
        in res.stderr
    )
    with Store(tmp_path / "nw.db") as st:
        days = sorted(int(r["published"][8:10]) for r in st.query("SELECT published FROM articles"))
    assert days == list(range(16, 26)), days  # before: all 25 at once
    for _poll in range(2):
        assert newswatch(cfg, "crawl", env=env).returncode == 0
    assert site.hits("/many/a/") == 25
    assert len(articles(tmp_path / "nw.db")) == 25


def test_pages_declaring_one_story_their_canonical_are_each_kept(site: SiteServer, tmp_path: Path) -> None:
    # A template (or a hostile site) giving every page one article's URL as its rel=canonical: every page was
    # stored as that one article, the other stories lost and the one kept under another story's link
    def handler(path: str) -> tuple[int, dict[str, str], bytes]:
        if path.startswith("/canon/feed.xml"):
            items = "".join(
                f"<item><title>Joint project {i} of China and Russia</title><link>{site.base_url}/canon/a/{i}.html"
                f"</link><guid>{i}</guid></item>"
                for i in range(4)
            )
            return 200, RSS, rss_channel(f"{site.base_url}/canon/", items)
        i = int(path.rsplit("/", 1)[-1].split(".")[0])
        first = f'<link rel="canonical" href="{site.base_url}/canon/a/0.html"><title>'
        return 200, {"Content-Type": "text/html; charset=utf-8"}, article_html(i).replace(b"<title>", first.encode())

    site.add_generated("/canon/", handler)
    cfg = write_config(tmp_path, feed_source("canon", f"{site.base_url}/canon/feed.xml"))
    res = newswatch(cfg, "crawl", env={"NEWSWATCH_WORKERS": "0"})
    assert res.returncode == 0, res.stderr
    assert "its pages declare another story's URL as their canonical" in res.stderr
    with Store(tmp_path / "nw.db") as st:
        rows = st.query("SELECT canonical_url, title, story FROM articles ORDER BY title")
    assert [(r["canonical_url"], r["title"]) for r in rows] == [
        (f"{site.base_url}/canon/a/{i}.html", f"Joint project {i} of China and Russia") for i in range(4)
    ]  # before: one article, 'Joint project 3 ...' (the first stored) at /canon/a/0.html
    assert len({r["story"] for r in rows}) == 4

    # a page of a later poll declaring a stored story's URL (under another title) is kept too
    assert newswatch(cfg, "crawl", "--url", f"{site.base_url}/canon/a/7.html").returncode == 0
    with Store(tmp_path / "nw.db") as st:
        assert st.scalar("SELECT count(*) FROM articles WHERE canonical_url LIKE '%/canon/a/7.html'") == 1
