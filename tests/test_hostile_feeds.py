"""Hostile or broken feeds against the local test server, a real SQLite file and a real SMTP server: a first poll's
entries left for later polls, links that change at each poll, pages that all redirect to one login URL, and one
text under two headlines."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crawler.config import load_config
from crawler.dates import iso
from crawler.feeds import parse_feed
from crawler.sitemaps import parse_sitemap
from crawler.store import Store
from scheduler.digest import run_digest, send_alerts
from tests.support.articles import RSS, rss_channel
from tests.support.configs import mail_config
from tests.support.sitesrv import SiteServer
from tests.test_digest import NOW, World, bodies, config_for
from tests.test_faults import article_html, feed_source, newswatch, write_config

ENV = {"NEWSWATCH_WORKERS": "0"}


def mailing(smtp: Any) -> str:
    """The config lines, inside the topic, that alert at once on any match and mail ``smtp``."""
    return "alert_score = 1.0\n" + mail_config(smtp.port)


def page_of(path: str) -> tuple[int, dict[str, str], bytes]:
    """The article page whose number the path names (/x/a/7.html: 7)."""
    return 200, {"Content-Type": "text/html; charset=utf-8"}, article_html(int(path.rsplit("/", 1)[-1].split(".")[0]))


Handler = Callable[[str], tuple[int, dict[str, str], bytes]]


def serve_projects(
    site: SiteServer,
    prefix: str,
    numbers: Iterable[int],
    *,
    title: Callable[[int], str] = "Joint project {} of China and Russia".format,
    more: Callable[[int], str] = lambda n: "",
    page: Handler = page_of,
    conditional: bool = True,
) -> Handler:
    """Serves under ``prefix`` a feed (feed.xml) of an entry for each of ``numbers`` (read at each request: a list
    changed between polls changes the feed), titled ``title(n)``, guid n, linking its page at a/n.html (``page``
    answers it: by default an article), ``more(n)`` in its item; ``conditional``: the server sends validators.
    Returns the handler."""

    def handler(path: str) -> tuple[int, dict[str, str], bytes]:
        if path.startswith(f"{prefix}feed.xml"):
            items = "".join(
                f"<item><title>{title(n)}</title><link>{site.base_url}{prefix}a/{n}.html</link><guid>{n}</guid>"
                f"{more(n)}</item>"
                for n in numbers
            )
            return 200, RSS, rss_channel(f"{site.base_url}{prefix}", items)
        return page(path)

    site.add_generated(prefix, handler, conditional=conditional)
    return handler


def test_a_first_polls_entries_left_for_later_polls_are_backlog_and_do_not_alert(
    site: SiteServer, tmp_path: Path, smtp: Any
) -> None:
    # A poll fetches at most 1,000 new pages ($NEWSWATCH_MAX_NEW_PAGES here). The entries a source's first poll
    # left were in its feed then, backlog as the ten fetched: fetched by the next polls without the flag, they
    # alerted as new stories, 15 old ones mailed at once
    days = {i: 1 + (i * 7) % 25 for i in range(25)}  # entry i published on 1-25 Dec 2025, in no order

    serve_projects(site, "/left/", days, more=lambda i: f"<pubDate>{days[i]:02d} Dec 2025 10:00:00 GMT</pubDate>")
    cfg = write_config(tmp_path, feed_source("left", f"{site.base_url}/left/feed.xml"), digest=mailing(smtp))
    env = {**ENV, "NEWSWATCH_MAX_NEW_PAGES": "10"}
    assert newswatch(cfg, "crawl", env=env).returncode == 0
    days[25] = 28  # a story published after the first poll: new, the newest, fetched by the next poll
    for _poll in range(2):
        assert newswatch(cfg, "crawl", env=env).returncode == 0
    with Store(tmp_path / "nw.db") as st:
        rows = st.query("SELECT title, backlog FROM articles")
        assert len(rows) == 26
        assert [r["title"] for r in rows if not r["backlog"]] == [
            "Joint project 25 of China and Russia"
        ]  # before: the 15 left by the first poll too
        assert st.scalar("SELECT count(*) FROM _backlog_entries") == 0  # each row gone with its entry's fetch
        [result] = send_alerts(load_config(cfg), st)
    assert result.status == "sent" and result.stories == 1
    [message] = smtp.messages
    assert "Joint project 25 of China and Russia" in message.message.as_string()


def test_the_older_entries_a_widened_window_takes_are_backlog_and_do_not_alert(
    site: SiteServer, tmp_path: Path, smtp: Any
) -> None:
    # A sitemap's window widened (31a85d7: read whole once) takes its entries of days ago: they were stored as new,
    # not backlog, and a topic's alert_score mailed them at once as news. They go to the digest only, as a first
    # poll's; a new entry of the poll after is news again
    now = datetime.now(UTC)
    dated = {1: now - timedelta(hours=1), 2: now - timedelta(days=5), 3: now - timedelta(days=6)}

    def handler(path: str) -> tuple[int, dict[str, str], bytes]:
        if path.startswith("/wide/sitemap.xml"):
            urls = "".join(
                f"<url><loc>{site.base_url}/wide/a/{n}.html</loc><lastmod>{iso(when)}</lastmod></url>"
                for n, when in dated.items()
            )
            body = f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
            return 200, {"Content-Type": "application/xml"}, body.encode()
        return page_of(path)

    site.add_generated("/wide/", handler)
    source = f'[[sources]]\nname = "wide"\nkind = "sitemap"\nurl = "{site.base_url}/wide/sitemap.xml"\nwindow = "2d"\n'
    cfg = write_config(tmp_path, source, digest=mailing(smtp))

    def backlog() -> dict[str, int]:
        assert newswatch(cfg, "crawl", env=ENV).returncode == 0
        with Store(tmp_path / "nw.db") as st:
            return {r["title"]: r["backlog"] for r in st.query("SELECT title, backlog FROM articles")}

    assert backlog() == {"Joint project 1 of China and Russia": 1}  # its first poll: backlog
    dated[4] = now  # published since: news
    assert backlog()["Joint project 4 of China and Russia"] == 0
    text = source.replace('window = "2d"', 'window = "12d"')
    cfg.write_text(cfg.read_text(encoding="utf-8").replace(source, text), encoding="utf-8")
    taken = backlog()
    assert taken["Joint project 2 of China and Russia"] == taken["Joint project 3 of China and Russia"] == 1, taken
    dated[5] = now  # the poll after: news again
    assert backlog()["Joint project 5 of China and Russia"] == 0
    with Store(tmp_path / "nw.db") as st:
        matched = {r["title"] for r in st.query("SELECT a.title FROM articles a JOIN matches m ON m.article_id = a.id")}
        assert {f"Joint project {n} of China and Russia" for n in range(1, 6)} <= matched  # stored and matched
        [result] = send_alerts(load_config(cfg), st)
    assert result.status == "sent" and result.stories == 2  # before: 4, the days-old 2 and 3 as news
    [message] = smtp.messages
    mailed = message.message.as_string()
    assert "Joint project 4 of" in mailed and "Joint project 5 of" in mailed and "Joint project 2 of" not in mailed


def test_a_swapped_spider_takes_its_items_at_the_next_crawl_as_backlog(
    site: SiteServer, tmp_path: Path, smtp: Any
) -> None:
    # A spider source's spider was not part of the settings its polls are noted with (polling.read_as): swapped for
    # another that reads another desk of the site, its first crawl's items (that desk's archive) were stored as new
    # stories, not backlog, and a topic's alert_score mailed them at once as news. A spider source keeps no
    # validators (its server sends them): each crawl runs its spider whole, so the new spider's items are taken at the
    # next crawl; they go to the digest only, as a first poll's, and the poll after is news again
    desks = {"one": [1], "two": [10, 11]}

    def handler(path: str) -> tuple[int, dict[str, str], bytes]:
        for desk, numbers in desks.items():
            if path.startswith(f"/desk/{desk}.html"):
                links = "".join(f'<a href="/desk/a/{n}.html">{n}</a>' for n in numbers)
                return 200, {"Content-Type": "text/html; charset=utf-8"}, f"<html><body>{links}</body></html>".encode()
        return page_of(path)

    site.add_generated("/desk/", handler)  # a 200 carries an ETag and Last-Modified; a conditional GET gets a 304
    source = '[[sources]]\nname = "own"\nkind = "spider"\nspider = "userspider:FirstDesk"\n'
    cfg = write_config(tmp_path, source, digest=mailing(smtp))
    env = {**ENV, "PYTHONPATH": str(Path(__file__).resolve().parent), "USERSPIDER_BASE": site.base_url}

    def backlog() -> dict[int, int]:
        assert newswatch(cfg, "crawl", env=env).returncode == 0
        with Store(tmp_path / "nw.db") as st:
            return {int(r["title"].split()[2]): r["backlog"] for r in st.query("SELECT title, backlog FROM articles")}

    assert backlog() == {1: 1}  # its first poll: backlog
    with Store(tmp_path / "nw.db") as st:  # noted as before its spider was part of the note: not known to differ
        st.note_read_as("own", json.dumps(["spider", "", None]))
    desks["one"].append(2)  # published since: news
    assert backlog()[2] == 0
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("FirstDesk", "SecondDesk"), encoding="utf-8")
    taken = backlog()
    assert taken[10] == taken[11] == 1, taken  # before: 0, alerted at once
    desks["two"].append(12)  # the poll after: news again
    assert backlog()[12] == 0
    with Store(tmp_path / "nw.db") as st:
        [result] = send_alerts(load_config(cfg), st)
        row = st.source_state("own")
    assert result.status == "sent" and result.stories == 2  # before: 4, the other desk's 10 and 11 as news
    mailed = smtp.messages[0].message.as_string()
    assert "Joint project 2 of" in mailed and "Joint project 12 of" in mailed and "Joint project 10 of" not in mailed
    # no validator kept nor sent: its spider's every request, at each crawl, was read whole
    assert row["etag"] is None and row["last_modified"] is None and row["polls"] == 4
    reads = [r for r in site.requests if r.path.startswith("/desk/")]
    assert reads and all(r.status == 200 for r in reads)
    assert not any(h.lower() in ("if-none-match", "if-modified-since") for r in reads for h in r.headers)


# -- a wall every page redirects to, one text under two headlines ------------------------------------------

LOGIN = (
    b"<html><head><title>Log in</title></head><body><main><h1>Log in</h1><p>Please log in to continue reading. "
    b"Subscribers get unlimited access to every story on this site, every day of the year, in our apps too.</p>"
    b"</main></body></html>"
)
SHORT_HEADLINES = ("Xi meets Putin", "Arctic deal signed", "Moscow talks")


def serve_redirected(site: SiteServer, prefix: str, target: str) -> str:
    """A feed of three stories under short headlines whose pages all redirect to a login page, at ``target``
    (``{n}``: the story's number); returns the feed's URL."""

    def handler(path: str) -> tuple[int, dict[str, str], bytes]:
        if path.startswith(f"{prefix}feed.xml"):
            items = "".join(
                f"<item><title>{h}</title><link>{site.base_url}{prefix}a/{n}.html</link><guid>{prefix}{n}</guid>"
                f"<description>{h}: China and Russia, story {n}.</description></item>"
                for n, h in enumerate(SHORT_HEADLINES)
            )
            return 200, RSS, rss_channel(f"{site.base_url}{prefix}", items)
        if path.startswith(f"{prefix}a/"):
            n = path.rsplit("/", 1)[-1].split(".")[0]
            return 302, {"Location": site.base_url + prefix + target.format(n=n)}, b""
        return 200, {"Content-Type": "text/html; charset=utf-8"}, LOGIN

    site.add_generated(prefix, handler)
    return f"{site.base_url}{prefix}feed.xml"


@pytest.mark.parametrize("target", ["login", "login?next=/a/{n}.html"], ids=["one-url", "url-per-story"])
def test_a_wall_every_page_redirects_to_keeps_each_entry_from_its_feed(
    site: SiteServer, tmp_path: Path, target: str
) -> None:
    # Every page redirects to one login page, under headlines too short to tell a wall by (fewer than three long
    # words): the redirects to one URL were dropped as duplicate requests, two stories lost without a word (and
    # fetched again at each poll), and the third stored as one article titled "Log in"
    cfg = write_config(tmp_path, feed_source("redirected", serve_redirected(site, "/rw/", target)))
    res = newswatch(cfg, "crawl", env=ENV)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    assert "(a login, cookie or subscription wall?)" in res.stderr
    with Store(tmp_path / "nw.db") as st:
        rows = st.query("SELECT title, text_from, page_pending FROM articles ORDER BY id")
        assert sorted((r["title"], r["text_from"], r["page_pending"]) for r in rows) == sorted(
            (h, "feed", 0) for h in SHORT_HEADLINES
        )
        assert st.scalar("SELECT count(DISTINCT story) FROM articles") == 3
    hits = site.hits("/rw/")
    assert newswatch(cfg, "crawl", env=ENV).returncode == 0
    assert site.hits("/rw/") == hits + 1  # the feed only: each entry was kept, none is fetched again


def test_one_text_under_two_headlines_of_one_site_is_one_story_not_a_wall(site: SiteServer, tmp_path: Path) -> None:
    # A syndicated piece a site runs twice, under two headlines: the pages' titles differ but their text is one,
    # the story's own. It was taken for a wall ("the same text as ... under another headline") and the second
    # kept from its feed as a story of its own, the same story twice in the digest
    headlines = ("China and Russia open a joint reactor laboratory", "Russian and Chinese reactor laboratory opens")
    body = "".join(
        f"<p>Scientists from China and Russia opened a joint reactor laboratory in Novosibirsk on Monday, part {k}; "
        "its first experiments study fuel for fast neutron reactors built by both countries.</p>"
        for k in range(6)
    )

    def handler(path: str) -> tuple[int, dict[str, str], bytes]:
        if path.startswith("/syn/feed.xml"):
            items = "".join(
                f"<item><title>{h}</title><link>{site.base_url}/syn/a/{n}.html</link><guid>syn{n}</guid>"
                f"<description>{h}.</description></item>"
                for n, h in enumerate(headlines)
            )
            return 200, RSS, rss_channel(f"{site.base_url}/syn/", items)
        h = headlines[int(path.rsplit("/", 1)[-1].split(".")[0])]
        page = f"<html><head><title>{h}</title></head><body><article><h1>{h}</h1>{body}</article></body></html>"
        return 200, {"Content-Type": "text/html; charset=utf-8"}, page.encode()

    site.add_generated("/syn/", handler)
    cfg = write_config(tmp_path, feed_source("syn", f"{site.base_url}/syn/feed.xml"))
    res = newswatch(cfg, "crawl", env=ENV)
    assert res.returncode == 0, res.stderr
    assert "under another headline" not in res.stderr
    assert res.stdout.splitlines()[2].split()[:7] == ["syn", "ok", "3", "1", "1", "1", "0"]  # 1 new, 1 duplicate
    with Store(tmp_path / "nw.db") as st:
        [row] = st.query("SELECT text_from, (SELECT count(*) FROM _aliases) AS urls FROM articles")
    assert row == {"text_from": "page", "urls": 2}  # one article, its two URLs


# -- links that change at each poll ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "link",
    [
        "/sess/a/{i}.html?sid={poll}",  # a session id in the query
        "/sess/(S({poll}x9))/a/{i}.html",  # one in the path (ASP.NET's cookieless sessions)
        "/sess/a/{i}.html?utm_source=rss&utm_campaign=poll{poll}",  # tracking parameters
    ],
    ids=["sid", "path", "utm"],
)
def test_an_unchanged_feed_whose_links_change_at_each_poll_costs_nothing(
    site: SiteServer, tmp_path: Path, link: str
) -> None:
    # A feed without guids whose links carry a session id that changes at each poll: each poll took every entry
    # for a new one and fetched its page again (each page stored once more as an alias of its article, for
    # ever). Three articles at one path told apart by ?id=N stay three.
    polls = [0]

    def handler(path: str) -> tuple[int, dict[str, str], bytes]:
        if path.startswith("/sess/feed.xml"):
            polls[0] += 1
            items = "".join(
                f"<item><title>Joint project {i} of China and Russia</title>"
                f"<link>{site.base_url}{link.format(i=i, poll=polls[0])}</link>"
                f"<description>China and Russia project {i}</description>"
                f"<pubDate>0{i + 1} Dec 2025 10:00:00 GMT</pubDate></item>"
                for i in range(3)
            ) + "".join(
                f"<item><title>Joint project {i} of China and Russia</title>"
                f"<link>{site.base_url}/sess/news.php?id={i}&amp;sid={polls[0]}</link>"
                f"<description>China and Russia project {i}</description></item>"
                for i in range(3, 6)
            )
            return 200, RSS, rss_channel(f"{site.base_url}/sess/", items)
        query = path.partition("?")[2]
        if query.startswith("id="):
            return page_of(f"/{query[3]}.html")
        return page_of(path.partition("?")[0])

    site.add_generated("/sess/", handler)
    cfg = write_config(tmp_path, feed_source("sess", f"{site.base_url}/sess/feed.xml"))
    for _poll in range(3):
        res = newswatch(cfg, "crawl", env=ENV)
        assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[2].split()[:7] == ["sess", "ok", "1", "0", "0", "0", "0"]  # before: 6 fetched
    assert site.hits("/sess/") == 3 + 6  # three polls of the feed, each page once; before: each page at each poll
    with Store(tmp_path / "nw.db") as st:
        titles = sorted(r["title"] for r in st.query("SELECT title FROM articles"))
        assert titles == sorted(f"Joint project {i} of China and Russia" for i in range(6))  # ?id=N: six articles
        assert st.scalar("SELECT count(*) FROM _aliases") <= 12  # before: 6 more URLs at each poll


# -- a huge feed ------------------------------------------------------------------------------------------


def test_a_feed_of_more_entries_than_are_read_is_cut_after_its_first_and_says_so() -> None:
    # feedparser reads ~2,000 entries a second and holds them all: a 5 MB feed of 30,000 entries took ~15 s and
    # ~136 MB of a crawl (bench/feed_bench.py). Only the first MAX_FEED_ENTRIES are read, the document's end kept
    rss = rss_channel(
        "https://news.example.org/",
        "".join(
            f"<item><title>Story {i}</title><link>https://news.example.org/{i}</link><description>&lt;p&gt;Text {i}"
            "&lt;script&gt;track()&lt;/script&gt;&lt;style&gt;p {}&lt;/style&gt;&lt;/p&gt;</description></item>"
            for i in range(10)
        )
        + "<atom:link xmlns:atom='http://www.w3.org/2005/Atom' href='https://news.example.org/rss' rel='self'/>",
        description="News of the day",
    )
    atom = (
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Atom news</title>'
        + "".join(
            f"<entry><title>Story {i}</title><link href='https://news.example.org/{i}'/><id>a{i}</id></entry>"
            for i in range(10)
        )
        + "</feed>"
    ).encode()
    for body in (rss, atom):
        feed = parse_feed(body, "https://news.example.org/rss", "application/xml", max_entries=3)
        assert [e.title for e in feed.entries] == ["Story 0", "Story 1", "Story 2"]
        assert feed.warning is None and feed.title in ("T", "Atom news")  # still well-formed, its end kept
        assert feed.cut is not None and feed.cut.startswith("https://news.example.org/rss lists 10 entries (")
        assert "only its first 3 are read, the later ones not fetched" in feed.cut
        assert parse_feed(body, "https://news.example.org/rss", "application/xml", max_entries=10).cut is None
    assert parse_feed(rss, "https://news.example.org/rss", None).entries[0].summary == "Text 0"  # no script, no style


def test_a_crawl_of_a_feed_cut_after_its_first_entries_says_so(site: SiteServer, tmp_path: Path) -> None:
    serve_projects(site, "/huge/", range(12))
    cfg = write_config(tmp_path, feed_source("huge", f"{site.base_url}/huge/feed.xml"))
    res = newswatch(cfg, "crawl", env={**ENV, "NEWSWATCH_MAX_FEED_ENTRIES": "5"})
    assert res.returncode == 0, res.stderr
    assert f"{site.base_url}/huge/feed.xml lists 12 entries (0.0 MB): only its first 5 are read" in res.stderr
    assert site.hits("/huge/a/") == 5


# -- one source flooding a digest ------------------------------------------------------------------------


def test_one_source_flooding_a_digest_leaves_the_other_sources_their_share(tmp_path: Path, smtp: Any) -> None:
    # A source with many new matching stories (a hostile or broken one, or one big day) filled a digest of
    # max_stories with its own, best first, and every other source's stories were held back until they aged out
    world = World(tmp_path / "nw.db")
    for i in range(12):
        world.add("tass-en", f"China and Russia flood story {i}", matches={"china-russia-st": 9.0 - i / 10})
    world.add("rg", "China and Russia story from rg", matches={"china-russia-st": 2.0})
    world.add("cgtn", "China and Russia story from cgtn", matches={"china-russia-st": 1.5})
    world.add("cgtn", "Another China and Russia story from cgtn", matches={"china-russia-st": 1.2})
    cfg = config_for(world.store.path, smtp.port, max_stories=6)
    [r] = run_digest(cfg, world.store, now=NOW).results
    assert (r.stories, r.held) == (6, 9)
    text, html = bodies(smtp.messages[0].message)
    for other in ("from rg", "from cgtn", "Another China and Russia story from cgtn"):
        assert other in text  # before: none of them; six of tass-en's twelve
    assert "flood story 0" in text and "flood story 2" in text and "flood story 3" not in text
    for body in (text, html):
        assert "and 9 more stories, held for the next digest (9 from tass-en)." in body
    world.store.close()


# -- a sitemap index of many children ----------------------------------------------------------------------


def test_the_pages_a_poll_takes_are_counted_over_all_of_a_sources_documents(site: SiteServer, tmp_path: Path) -> None:
    # A poll fetches at most 1,000 new pages ($NEWSWATCH_MAX_NEW_PAGES here), but the cap was counted per document:
    # a sitemap index of 100 children of 1,000 new URLs each (a large site's first poll, or a hostile one) had
    # 100,000 pages fetched in one poll
    def handler(path: str) -> tuple[int, dict[str, str], bytes]:
        xml = {"Content-Type": "application/xml"}
        head = '<?xml version="1.0" encoding="UTF-8"?>'
        ns = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
        if path.startswith("/smi/index.xml"):
            children = "".join(f"<sitemap><loc>{site.base_url}/smi/part{c}.xml</loc></sitemap>" for c in range(3))
            return 200, xml, f"{head}<sitemapindex {ns}>{children}</sitemapindex>".encode()
        if path.startswith("/smi/part"):
            c = int(path[len("/smi/part")])
            urls = "".join(
                f"<url><loc>{site.base_url}/smi/a/{c * 6 + i}.html</loc><lastmod>2026-11-2{c}</lastmod></url>"
                for i in range(6)
            )
            return 200, xml, f"{head}<urlset {ns}>{urls}</urlset>".encode()
        return page_of(path)

    site.add_generated("/smi/", handler)
    source = f'[[sources]]\nname = "smi"\nkind = "sitemap"\nurl = "{site.base_url}/smi/index.xml"\nwindow = "3650d"\n'
    cfg = write_config(tmp_path, source)
    env = {**ENV, "NEWSWATCH_MAX_NEW_PAGES": "10"}
    res = newswatch(cfg, "crawl", env=env)
    assert res.returncode == 0, res.stderr
    assert site.hits("/smi/a/") == 10  # before: 18, six of each child's
    assert "at the next polls (at most 10 pages a poll" in res.stderr
    for _poll in range(2):
        assert newswatch(cfg, "crawl", env=env).returncode == 0
    assert site.hits("/smi/a/") == 18
    with Store(tmp_path / "nw.db") as st:
        assert st.scalar("SELECT count(*) FROM articles") == 18


def test_a_sitemap_index_fetches_only_the_children_changed_within_its_window(site: SiteServer, tmp_path: Path) -> None:
    # A sitemap index of a site's whole history (monthly sitemaps for twenty years: 240 children, some indexes
    # hold thousands) had every child fetched at each poll, though one unchanged since before the window lists no
    # entry of it; a child without a date is still fetched
    today = datetime.now(UTC).date().isoformat()
    dates = {"new": f"<lastmod>{today}</lastmod>", "undated": "", "old": "<lastmod>2020-01-31</lastmod>"}

    def handler(path: str) -> tuple[int, dict[str, str], bytes]:
        xml = {"Content-Type": "application/xml"}
        head = '<?xml version="1.0" encoding="UTF-8"?>'
        ns = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
        if path.startswith("/smw/index.xml"):
            children = "".join(
                f"<sitemap><loc>{site.base_url}/smw/{name}.xml</loc>{lastmod}</sitemap>"
                for name, lastmod in dates.items()
            )
            return 200, xml, f"{head}<sitemapindex {ns}>{children}</sitemapindex>".encode()
        n = list(dates).index(path[len("/smw/") :].split(".")[0])
        url = f"<url><loc>{site.base_url}/smw/a/{n}.html</loc><lastmod>{today}</lastmod></url>"
        return 200, xml, f"{head}<urlset {ns}>{url}</urlset>".encode()

    site.add_generated("/smw/", handler)
    source = f'[[sources]]\nname = "smw"\nkind = "sitemap"\nurl = "{site.base_url}/smw/index.xml"\nwindow = "2d"\n'
    res = newswatch(write_config(tmp_path, source), "crawl", env=ENV)
    assert res.returncode == 0, res.stderr
    assert (site.hits("/smw/new.xml"), site.hits("/smw/undated.xml"), site.hits("/smw/old.xml")) == (1, 1, 0)


def test_an_undated_sitemap_child_unchanged_costs_a_304_or_rests(site: SiteServer, tmp_path: Path) -> None:
    # A sitemap index whose children have no <lastmod> had every child fetched whole at each poll, though most
    # never change (a site's archive by section or month). A child is now asked with its own validators (a 304
    # when unchanged), and one whose server sends none, read unchanged at two polls, rests at the next ones
    polls = [0]
    xml = {"Content-Type": "application/xml"}
    head = '<?xml version="1.0" encoding="UTF-8"?>'
    ns = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'

    def urlset(*numbers: int, comment: str = "") -> bytes:
        urls = "".join(f"<url><loc>{site.base_url}/smc/a/{n}.html</loc></url>" for n in numbers)
        return f"{head}{comment}<urlset {ns}>{urls}</urlset>".encode()

    def handler(path: str) -> tuple[int, dict[str, str], bytes]:
        if path.startswith("/smc/index.xml"):
            polls[0] += 1
            children = "".join(f"<sitemap><loc>{site.base_url}/smc/{c}.xml</loc></sitemap>" for c in "vnl")
            return 200, xml, f"{head}<sitemapindex {ns}>{children}</sitemapindex>".encode()
        if path.startswith("/smc/v.xml"):  # unchanged, with validators
            return 200, xml, urlset(1, 2)
        if path.startswith("/smc/n.xml"):  # unchanged but for a comment, without validators
            return 200, xml, urlset(3, 4, comment=f"<!-- made at poll {polls[0]} -->")
        if path.startswith("/smc/l.xml"):  # the latest stories: one more at each poll
            return 200, xml, urlset(*range(10, 10 + polls[0]))
        return page_of(path)

    site.add_generated("/smc/", handler)
    site.add_generated("/smc/n.xml", handler, conditional=False)
    source = f'[[sources]]\nname = "smc"\nkind = "sitemap"\nurl = "{site.base_url}/smc/index.xml"\nwindow = "2d"\n'
    cfg = write_config(tmp_path, source)
    for _poll in range(5):
        res = newswatch(cfg, "crawl", env=ENV)
        assert res.returncode == 0, res.stderr
    assert (site.hits("/smc/v.xml", 200), site.hits("/smc/v.xml", 304)) == (1, 4)  # before: 5 whole answers
    assert site.hits("/smc/n.xml") == 3  # polls 1-3; it rests at 4 and 5 (before: 5)
    assert site.hits("/smc/l.xml", 200) == 5
    assert site.hits("/smc/a/") == 4 + 5  # every entry's page, once
    with Store(tmp_path / "nw.db") as st:
        rows = st.query("SELECT url, unchanged, next_fetch IS NOT NULL AS rests FROM _sitemap_children ORDER BY url")
    assert [(r["url"].rsplit("/", 1)[1], r["unchanged"], r["rests"]) for r in rows] == [
        ("l.xml", 0, 0),
        ("n.xml", 2, 1),
        ("v.xml", 0, 0),
    ]


# -- entries that all link one page ------------------------------------------------------------------------

UPDATES = (
    "Xi and Putin meet in Kazan",
    "Russia and China sign an Arctic shipping deal",
    "Chinese reactor fuel arrives in Novosibirsk",
    "Moscow hosts a China-Russia university forum",
    "Harbin fair opens with Russian exhibitors",
)


@pytest.mark.parametrize(
    "page, guid",
    [("/one/live.html", "<guid>live-{n}</guid>"), ("/one/live.html", ""), ("/", "")],
    ids=["live-blog", "no-guids", "home-page"],
)
def test_entries_that_all_link_one_page_are_each_their_own_story(
    site: SiteServer, tmp_path: Path, page: str, guid: str
) -> None:
    # A feed whose items all point at one page (its home page, or a live blog whose updates are its entries):
    # the page was fetched once, for the first entry, and stored under its headline; every other entry was never
    # seen, at that poll or any later one, without a word. Each entry is now its own story, from the feed
    listed = [0, 1, 2]

    def handler(path: str) -> tuple[int, dict[str, str], bytes]:
        items = "".join(
            f"<item><title>{UPDATES[n]}</title><link>{site.base_url}{page}</link>{guid.format(n=n)}"
            f"<description>Update {n}: {UPDATES[n]}, said officials of China and Russia.</description></item>"
            for n in listed
        )
        return 200, RSS, rss_channel(f"{site.base_url}/one/", items)

    site.add_generated("/one/feed.xml", handler)
    site.set_route("/one/live.html", body=article_html(7))
    cfg = write_config(tmp_path, feed_source("one", f"{site.base_url}/one/feed.xml"))
    res = newswatch(cfg, "crawl", env=ENV)
    assert res.returncode == 0, res.stderr
    assert f"3 new entries link {site.base_url}{page}" in res.stderr
    listed[:] = [3, 0, 1, 2]  # a new update
    assert newswatch(cfg, "crawl", env=ENV).returncode == 0
    listed[:] = [4]  # the feed lists one entry only, linking the page the others did
    res = newswatch(cfg, "crawl", env=ENV)
    assert res.returncode == 0, res.stderr
    assert [r.path for r in site.requests if r.path.split("?")[0] == page] == []  # before: fetched once
    with Store(tmp_path / "nw.db") as st:
        rows = st.query("SELECT title, text, text_from, url FROM articles ORDER BY id")
    assert [r["title"] for r in rows] == list(UPDATES)  # before: one, the page's title
    assert {r["text_from"] for r in rows} == {"feed"}
    assert rows[1]["text"] == f"Update 1: {UPDATES[1]}, said officials of China and Russia."
    assert len({r["url"] for r in rows}) == 5 and all(r["url"].startswith(f"{site.base_url}{page}#") for r in rows)


def test_which_entries_linking_one_page_are_their_own_stories() -> None:
    def items(*entries: tuple[str, str]) -> bytes:
        return rss_channel(
            "https://news.example.org/",
            "".join(
                f"<item><title>{t}</title><link>{link}</link><description>{t}.</description></item>"
                for t, link in entries
            ),
        )

    def parsed(body: bytes) -> list[tuple[str | None, str | None, str]]:
        entries = parse_feed(body, "https://news.example.org/rss", None).entries
        return [(e.shared_page, e.link, e.key) for e in entries]

    one = "https://news.example.org/a/1.html"
    # the same entry listed twice: one story, its page fetched (once)
    assert parsed(items(("Talks", one), ("Talks", one))) == [(None, one, one), (None, one, one)]
    # a live blog whose updates link their own anchors keep them; two that share one get one each
    live = parsed(items(("Talks open", f"{one}#p1"), ("Talks end", f"{one}#p2"), ("Deal", one), ("Deal signed", one)))
    assert [s for s, _, _ in live] == [one] * 4
    assert [link for _, link, _ in live][:2] == [f"{one}#p1", f"{one}#p2"]
    assert len({link for _, link, _ in live}) == len({key for _, _, key in live}) == 4
    assert all(key.startswith("sha1:") for _, _, key in live)  # no guids: the page's URL was each one's key
    # an entry linking its site's home page, alone
    [(shared, link, key)] = parsed(items(("Talks", "https://news.example.org/")))
    assert shared == "https://news.example.org/" and link.startswith("https://news.example.org/#entry-")


# -- a wall that shows each story's headline -----------------------------------------------------------------

WALLS = {
    # a wall's words: the first page is told by itself
    "wall-words": "<p>To read this story, subscribe to the Daily Planet. Already a subscriber? Log in here.</p>",
    # words no list holds: told by the same text on every page, the first one's too once the second comes
    "same-text": "<p>Dieser Beitrag steht nur Mitgliedern unseres Digitalangebots zur Verfügung. Jetzt für 9,99 Euro im "
    "Monat freischalten, jederzeit kündbar.</p>",
    # a teaser saying less than the feed does
    "shorter": "<p>Read it in our app.</p>",
}


@pytest.mark.parametrize(
    "wall, first_poll",
    [("wall-words", 3), ("same-text", 1), ("same-text", 3), ("shorter", 3)],
    ids=["wall-words", "same-text-two-polls", "same-text-one-poll", "shorter-than-the-feed"],
)
def test_a_wall_that_shows_each_storys_headline_keeps_each_entry_from_its_feed(
    site: SiteServer, tmp_path: Path, wall: str, first_poll: int
) -> None:
    # A paywall or consent page that shows each story's headline above the same words passed for the story: the
    # first page at least (the next ones were told by the same text only when the headline was not in it), stored
    # as an article whose text is the wall's, its feed entry's summary lost
    titles = ("China and Russia open a joint reactor laboratory", "Xi and Putin meet in Kazan", "Arctic deal signed")
    listed = list(range(first_poll))

    def summary(n: int) -> str:
        said = f"{titles[n]}: officials of China and Russia said so on Monday, story {n}."
        return said if wall != "shorter" else " ".join([said] * 5)

    def handler(path: str) -> tuple[int, dict[str, str], bytes]:
        if path.startswith("/wh/feed.xml"):
            items = "".join(
                f"<item><title>{titles[n]}</title><link>{site.base_url}/wh/a/{n}.html</link><guid>wh{n}</guid>"
                f"<description>{summary(n)}</description></item>"
                for n in listed
            )
            return 200, RSS, rss_channel(f"{site.base_url}/wh/", items)
        title = titles[int(path.rsplit("/", 1)[-1].split(".")[0])]
        page = (
            f"<html><head><title>{title} | Daily Planet</title></head><body><article><h1>{title}</h1>{WALLS[wall]}"
            "</article></body></html>"
        )
        return 200, {"Content-Type": "text/html; charset=utf-8"}, page.encode()

    site.add_generated("/wh/", handler)
    cfg = write_config(tmp_path, feed_source("wh", f"{site.base_url}/wh/feed.xml"))
    said = ""
    for _poll in range(2):
        res = newswatch(cfg, "crawl", env=ENV)
        assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
        said += res.stderr
        listed[:] = range(3)
    assert "(a login, cookie or subscription wall?)" in said or "the summary is kept (a paywall or a teaser" in said
    with Store(tmp_path / "nw.db") as st:
        rows = st.query("SELECT title, text, text_from FROM articles ORDER BY id")
        assert st.scalar("SELECT count(DISTINCT story) FROM articles") == 3
    assert sorted((r["title"], r["text"], r["text_from"]) for r in rows) == sorted(
        (titles[n], summary(n), "feed") for n in range(3)
    )  # before: each (or the first) stored with the wall's text, from its page
    if first_poll == 1:
        assert "was stored from its page, which says what other pages of the source say" in said


# -- a feed's unchanged items are not parsed again ------------------------------------------------------------


def test_a_feeds_items_read_before_are_not_parsed_again_and_its_entries_are_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # feedparser costs ~0.3 ms an entry (bench/feed_bench.py), and a feed that changed since the last poll (or whose
    # server sends no validators) is mostly the items it held then: only the others are given to feedparser now
    import feedparser

    given: list[int] = []
    real = feedparser.parse

    def counted(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        given.append(len(result.entries))
        return result

    monkeypatch.setattr(feedparser, "parse", counted)

    def feed(*items: str) -> bytes:
        return rss_channel("https://news.example.org/", "".join(items))

    def item(n: int, title: str = "") -> str:
        return (
            f"<item><title>{title or f'Story {n}'}</title><link>/n/{n}</link><guid>g{n}</guid>"
            f"<pubDate>0{n % 9 + 1} Dec 2025 10:00:00 GMT</pubDate><description>&lt;b&gt;Text&lt;/b&gt; {n}"
            "</description></item>"
        )

    url = "https://news.example.org/rss"
    first = parse_feed(feed(*(item(n) for n in range(6))), url, None, known={})
    assert len(first.read) == 6 and given == [6]
    stored = {h: r.to_json() for h, r in first.read.items()}  # as the store keeps them
    for body in (
        feed(*(item(n) for n in range(6))),  # unchanged
        feed(item(9), *(item(n) for n in range(6))),  # one new
        feed(item(0, "Story 0, updated"), *(item(n) for n in range(1, 5))),  # one changed, one gone
        feed(*(item(n) for n in reversed(range(6)))),  # another order
    ):
        given.clear()
        known = parse_feed(body, url, None, known=stored)
        whole = parse_feed(body, url, None)
        assert known.entries == whole.entries and known.skipped == whole.skipped and known.title == whole.title
        assert given[0] == sum(h not in stored for h in known.read)  # before: every entry, at each parse
    assert given[0] == 0
    # items not told apart plainly (an item's end tag inside its CDATA) are all given to feedparser, as before
    odd = feed(item(1), "<item><title>A</title><description><![CDATA[</item>]]></description><guid>x</guid></item>")
    given.clear()
    assert parse_feed(odd, url, None, known=stored).entries == parse_feed(odd, url, None).entries
    assert given[0] == 2


def test_a_crawl_keeps_its_feeds_items_read_for_the_next_parse(site: SiteServer, tmp_path: Path) -> None:
    listed = [0, 1, 2]

    serve_projects(site, "/kept/", listed, conditional=False)  # a server without validators: a 200 at each poll
    cfg = write_config(tmp_path, feed_source("kept", f"{site.base_url}/kept/feed.xml"))
    assert newswatch(cfg, "crawl", env=ENV).returncode == 0
    listed[:] = [3, 1, 2]
    assert newswatch(cfg, "crawl", env=ENV).returncode == 0
    with Store(tmp_path / "nw.db") as st:
        kept = [json.loads(r["item"])["title"] for r in st.query("SELECT item FROM _feed_items ORDER BY item")]
        assert kept == [f"Joint project {i} of China and Russia" for i in (1, 2, 3)]  # entry 0 is gone from the feed
        assert st.scalar("SELECT count(*) FROM articles") == 4


# -- a character reference to no character ------------------------------------------------------------------


@pytest.mark.parametrize("ref", ["&#xD800;", "&#56319;", "&#x110000;", "&#99999999999;"])
def test_a_character_reference_to_no_character_costs_its_character_only(
    site: SiteServer, tmp_path: Path, ref: str
) -> None:
    # One numeric reference to a surrogate or past U+10FFFF in one entry (broken or hostile) made feedparser's
    # fallback parser raise, and the whole feed failed at every poll ("cannot be read (UnicodeEncodeError...)"),
    # every entry lost; a sitemap's failed for a surrogate (lxml's recovery let it through as bytes no UTF-8)
    handler = serve_projects(
        site, "/ref/", range(3), title=lambda i: f"Joint project {i} of China {ref if i == 1 else ''}and Russia"
    )
    titles = [e.title for e in parse_feed(handler("/ref/feed.xml")[2], f"{site.base_url}/ref/feed.xml").entries]
    assert titles[1] == "Joint project 1 of China \ufffdand Russia"  # before: UnicodeEncodeError, ValueError...
    sitemap = (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>https://news.example.org/1{ref}</loc></url><url><loc>https://news.example.org/2</loc></url></urlset>"
    )
    assert len(parse_sitemap(sitemap.encode(), "https://news.example.org/sitemap.xml").entries) == 2  # before: &#xD800;
    cfg = write_config(tmp_path, feed_source("ref", f"{site.base_url}/ref/feed.xml"))
    res = newswatch(cfg, "crawl", env=ENV)
    assert res.returncode == 0, res.stderr  # before: 1, the source failed
    with Store(tmp_path / "nw.db") as st:
        assert st.scalar("SELECT count(*) FROM articles") == 3


# -- a character reference to a control character ---------------------------------------------------------

CONTROLS = {"&#0;": "\ufffd", "&#x1;": "", "&#x1B;": "", "&#xD800;": "\ufffd", "\x1b": "", "&#27;[2J&#27;]0;x&#7;": ""}


@pytest.mark.parametrize("ref", list(CONTROLS), ids=["nul", "x1", "escape", "surrogate", "raw-escape", "sequences"])
def test_a_control_character_in_a_feed_or_a_page_is_not_stored_and_costs_nothing_else(
    site: SiteServer, tmp_path: Path, ref: str
) -> None:
    # '&#x1B;' in a feed entry's title or summary reached the stored title and text as an escape character (the
    # digest, the export, search on a terminal: an escape sequence's start), '&#0;' as NUL; in a page, lxml made
    # '&#x1;' or '&#x1B;' the character and the extractor, whose tree may not hold it, read no text at all: the entry
    # kept from its feed, a page of a sitemap or a listing lost. A control character is dropped (a browser shows
    # nothing of it), a terminal's escape sequence whole, a reference to no character (NUL, a surrogate) is U+FFFD
    said = "of both {}countries opened a joint reactor laboratory in Novosibirsk on Monday"

    def page(path: str) -> tuple[int, dict[str, str], bytes]:
        if path.endswith("/1.html"):
            return 404, {"Content-Type": "text/html"}, b"gone"  # entry 1 is kept from its feed
        title = f"Joint project 0 of China {ref}and Russia"
        body = "".join(f"<p>Scientists {said.format(ref)}; part {k} of the story.</p>" for k in range(5))
        page = f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>{body}</article></body></html>"
        return 200, {"Content-Type": "text/html; charset=utf-8"}, page.encode("utf-8", "surrogatepass")

    serve_projects(
        site,
        "/ctl/",
        range(2),
        title=lambda i: f"Joint project {i} of China {ref}and Russia",
        more=lambda i: f"<description>Scientists {said.format(ref)}, story {i}.</description>",
        page=page,
    )
    cfg = write_config(tmp_path, feed_source("ctl", f"{site.base_url}/ctl/feed.xml"))
    res = newswatch(cfg, "crawl", env=ENV)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    shown = CONTROLS[ref]
    with Store(tmp_path / "nw.db") as st:
        rows = st.query("SELECT title, text, text_from FROM articles ORDER BY title")
    assert [(r["title"], r["text_from"]) for r in rows] == [
        (f"Joint project {i} of China {shown}and Russia", source) for i, source in ((0, "page"), (1, "feed"))
    ]  # before: the page without text (kept from its feed) or the title holding the control character
    assert rows[0]["text"].startswith(f"Scientists {said.format(shown)}; part 0")
    assert rows[1]["text"] == f"Scientists {said.format(shown)}, story 1."
    exported = [json.loads(line) for line in newswatch(cfg, "export").stdout.splitlines()]
    assert sorted(r["title"] for r in exported) == [r["title"] for r in rows]
