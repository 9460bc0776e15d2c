"""Every kind of source, fetched politely and robustly: one test per behaviour, real HTTP and SQLite.

Each test writes a config for the local sample site (``site`` fixture), runs ``newswatch crawl``
as a user would (a child process, NEWSWATCH_WORKERS=0 so pages are processed in-process) and
checks the database, the crawl output and the server's request log.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from crawler.store import Store, parse_iso
from tests.support.cli import Outcome
from tests.support.cli import newswatch as run_cli
from tests.support.sitesrv import SiteServer

REPO = Path(__file__).resolve().parent.parent
SITE = REPO / "fixtures" / "site"
EXPECTED: dict[str, dict[str, Any]] = json.loads((SITE / "expected.json").read_text(encoding="utf-8"))
UA = "newswatch-sourcetest/1.0 (+mailto:ops@example.org)"
GW = "/globalwire/2026/11/"
GW_PAGES = [p for p in EXPECTED if p.startswith(GW)]
TOPIC = """
[[topics]]
name = "cn-ru"
query = 'China OR Russia OR Chinese OR Russian OR Росси* OR Китай* OR 中俄'
"""


# -- helpers ---------------------------------------------------------------------------------


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a TOML basic string


def write_config(directory: Path, sources: list[dict[str, Any]], file: str = "newswatch.toml", **crawl: Any) -> Path:
    """A config with these sources, short timeouts and private addresses allowed unless overridden."""
    options = {"user_agent": UA, "timeout": "2s", "allow_private": True, **crawl}
    lines = ["[storage]", 'database = "nw.db"', "", "[crawl]"]
    lines += [f"{k} = {_toml(v)}" for k, v in options.items()]
    for s in sources:
        lines += ["", "[[sources]]"] + [f"{k} = {_toml(v)}" for k, v in s.items()]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / file
    path.write_text("\n".join(lines) + "\n" + TOPIC, encoding="utf-8")
    return path


def newswatch(config: Path, *args: str, env: dict[str, str] | None = None) -> Outcome:
    """The real CLI, invoked in this process; `crawl` still runs its crawl in a child process."""
    return run_cli("-c", config, *args, env={"NEWSWATCH_WORKERS": "0", **(env or {})})


def crawl(config: Path, *args: str, env: dict[str, str] | None = None) -> Outcome:
    res = newswatch(config, "crawl", *args, env=env)
    assert "Traceback" not in res.stderr, res.stderr
    return res


def table(res: Outcome) -> dict[str, dict[str, Any]]:
    """The crawl's summary table: source (or --url page) -> status and counts."""
    rows = {}
    lines = res.stdout.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(("source ", "url "))), len(lines))
    for line in lines[start + 2 :]:  # --url pages' extractions come before the table
        cells = line.split()
        if not cells or cells[0] == "total":
            continue
        status = cells[1] if not cells[1].isdigit() else ""
        nums = [int(c) for c in cells[1:] if c.isdigit()]
        rows[cells[0]] = dict(zip(("fetched", "new", "duplicates", "matched", "errors"), nums), status=status)
    return rows


def store(config: Path) -> Store:
    return Store(config.parent / "nw.db")


def articles(config: Path, source: str | None = None) -> list[dict[str, Any]]:
    with store(config) as st:
        if source:
            return st.query("SELECT * FROM articles WHERE source = ? ORDER BY id", [source])
        return st.query("SELECT * FROM articles ORDER BY id")


def source_row(config: Path, name: str) -> dict[str, Any]:
    with store(config) as st:
        return st.source_state(name)


def rss(items: list[dict[str, str]], title: str = "Test feed") -> bytes:
    """A small RSS 2.0 feed; each item's keys become its elements (omit one to leave it out)."""
    body = [
        (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>{title}</title>'
            "<link>__BASE__/</link><description>test</description>"
        )
    ]
    for item in items:
        body.append("<item>" + "".join(f"<{k}>{v}</{k}>" for k, v in item.items()) + "</item>")
    body.append("</channel></rss>\n")
    return "\n".join(body).encode("utf-8")


def gw_items(n: int = 3) -> list[dict[str, str]]:
    return [
        {"title": f"GlobalWire story {i}", "link": f"__BASE__{p}", "guid": f"gw-{i}"}
        for i, p in enumerate(GW_PAGES[:n])
    ]


def requests_to(site: SiteServer, prefix: str) -> list[Any]:
    return [r for r in site.requests if r.path.startswith(prefix)]


def near(value: str | None, expected: datetime, slack: float = 120.0) -> bool:
    got = parse_iso(value)
    return got is not None and abs((got - expected).total_seconds()) <= slack


# -- feed polling --------------------------------------------------------------------------


@dataclass
class Polled:
    """Two crawls of the same sources, each with its outcome and the servers' request logs.

    ``site`` serves the polling scenarios; each other source (two listings, a feed without
    validators) has a server of its own, named in ``others``, so that every test still reads the
    request log and the articles of its own source alone.
    """

    site: SiteServer
    config: Path
    first: Outcome
    first_requests: list[Any]
    second: Outcome
    second_requests: list[Any]
    started: datetime
    later: datetime
    others: dict[str, SiteServer]
    others_first: dict[str, list[Any]]
    others_second: dict[str, list[Any]]

    def requests_to(self, prefix: str, crawl: int) -> list[Any]:
        log = self.first_requests if crawl == 1 else self.second_requests
        return [r for r in log if r.path.startswith(prefix)]

    def requests_of(self, server: str, prefix: str, crawl: int) -> list[Any]:
        """Requests to `prefix` on the server of another kind of source, in the first or second crawl."""
        log = (self.others_first if crawl == 1 else self.others_second)[server]
        return [r for r in log if r.path.startswith(prefix)]


LISTINGS = {
    "academy-re": ({"follow": r"/academy/news/\d{4}/\d{2}/"}, 1, 2),
    "academy-css": ({"follow_css": "a.ac-title"}, 2, 3),
}


PLAIN_ITEMS = [
    {"title": "No guid, no date", "link": f"__BASE__{GW_PAGES[0]}", "description": "first"},
    {"title": "No guid", "link": f"__BASE__{GW_PAGES[1]}", "pubDate": "Tue, 17 Nov 2026 07:45:00 +0000"},
    {
        "title": "Lost page, no guid, no date",
        "link": "__BASE__/globalwire/2026/11/gone.html",
        "description": "Russia and China sign a research accord; the page is gone.",
    },
    {"title": "No link at all", "description": "An entry with only text."},
    {"title": "Same guid", "link": f"__BASE__{GW_PAGES[2]}", "guid": "same"},
    {"title": "Same guid again", "link": f"__BASE__{GW_PAGES[3]}", "guid": "same"},
]


@pytest.fixture(scope="module")
def polled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Polled]:
    """Validators, Retry-After, redirects, a 410, two listings, a feed without validators and a sitemap
    index polled twice in one world (two crawl processes, not twelve)."""
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    with ExitStack() as stack:
        srv = stack.enter_context(SiteServer(SITE))
        others = {name: stack.enter_context(SiteServer(SITE)) for name in (*LISTINGS, "plain", "sm")}
        sitemap_routes(others["sm"], datetime.now(UTC))
        srv.set_route("/feeds/cond.xml", body=rss(gw_items(3)))
        srv.set_route("/feeds/moved.xml", body=rss([]))
        srv.set_route("/feeds/alive.xml", body=rss([]))
        # No validators: every poll gets the whole feed again, so only entry identity prevents duplicates.
        others["plain"].set_route("/feeds/plain.xml", body=rss(PLAIN_ITEMS), headers={"ETag": "", "Last-Modified": ""})
        redirects = [
            {
                "name": f"r{code}",
                "kind": "feed",
                "url": srv.url(f"/_fault/redirect/{code}?" + urlencode({"to": f"/feeds/moved.xml?via={code}"})),
            }
            for code in (301, 308, 302, 307)
        ]
        sources = [
            {"name": "cond", "kind": "feed", "url": srv.url("/feeds/cond.xml")},
            {"name": "limited", "kind": "feed", "url": srv.url("/_fault/status/429?retry_after=3600")},
            {
                "name": "busy",
                "kind": "feed",
                "url": srv.url("/_fault/status/503?" + urlencode({"retry_after": format_datetime(later, usegmt=True)})),
            },
            {"name": "healthy", "kind": "feed", "url": srv.url("/vestnik/rss.xml")},
            *redirects,
            {"name": "gone", "kind": "feed", "url": srv.url("/_fault/status/410")},
            {"name": "alive", "kind": "feed", "url": srv.url("/feeds/alive.xml")},
            *(
                {
                    "name": name,
                    "kind": "listing",
                    "url": others[name].url("/academy/news/index.html"),
                    "depth": d,
                    **how,
                }
                for name, (how, d, _) in LISTINGS.items()
            ),
            {"name": "plain", "kind": "feed", "url": others["plain"].url("/feeds/plain.xml")},
            {"name": "sm", "kind": "sitemap", "url": others["sm"].url("/sm/index.xml"), "window": "2d"},
        ]
        cfg = write_config(tmp_path_factory.mktemp("polled"), sources)
        logs: list[dict[str, list[Any]]] = []

        def poll() -> tuple[Outcome, list[Any]]:
            res = crawl(cfg)
            requests = list(srv.requests)
            srv.clear_log()
            logs.append({name: list(o.requests) for name, o in others.items()})
            for o in others.values():
                o.clear_log()
            return res, requests

        started = datetime.now(UTC)
        first, first_requests = poll()
        second, second_requests = poll()
        yield Polled(srv, cfg, first, first_requests, second, second_requests, started, later, others, logs[0], logs[1])


def test_stored_validators_are_sent_back_and_a_304_stores_and_fetches_nothing(polled: Polled) -> None:
    first, second, cfg = polled.first, polled.second, polled.config
    assert first.returncode == 0, first.stderr
    assert table(first)["cond"]["new"] == 3
    state = source_row(cfg, "cond")
    assert state["etag"] and state["last_modified"]

    assert second.returncode == 0, second.stderr
    feed_requests = polled.requests_to("/feeds/cond.xml", 2)
    assert len(feed_requests) == 1 and feed_requests[0].status == 304
    assert feed_requests[0].headers.get("If-None-Match") == state["etag"]
    assert feed_requests[0].headers.get("If-Modified-Since") == state["last_modified"]
    assert polled.requests_to("/globalwire/", 2) == [], "a 304 must not lead to any article fetch"
    assert table(second)["cond"] == {
        "status": "not-modified",
        "fetched": 1,
        "new": 0,
        "duplicates": 0,
        "matched": 0,
        "errors": 0,
    }
    assert len(articles(cfg, "cond")) == 3


def test_retry_after_delays_only_that_source_while_its_host_keeps_working(polled: Polled) -> None:
    first, second, cfg = polled.first, polled.second, polled.config
    assert first.returncode == 0, first.stderr
    rows = table(first)
    assert rows["limited"]["status"] == "failed" and rows["busy"]["status"] == "failed"
    assert rows["healthy"]["status"] == "ok" and rows["healthy"]["new"] >= 5, first.stdout
    # Not retried at once: the server asked for time.
    assert len(polled.requests_to("/_fault/status/429", 1)) == 1
    assert len(polled.requests_to("/_fault/status/503", 1)) == 1
    limited, busy = source_row(cfg, "limited"), source_row(cfg, "busy")
    assert near(limited["retry_after"], polled.started + timedelta(seconds=3600))
    assert parse_iso(limited["next_poll"]) >= parse_iso(limited["retry_after"])
    assert near(busy["retry_after"], polled.later, slack=2)

    assert second.returncode == 0, second.stderr
    assert table(second)["limited"]["status"] == "skipped"
    assert table(second)["busy"]["status"] == "skipped"
    assert "limited: server asked to wait until" in second.stderr
    assert polled.requests_to("/_fault/status/429", 2) == [] and polled.requests_to("/_fault/status/503", 2) == []
    assert len(polled.requests_to("/vestnik/rss.xml", 2)) == 1, "the rest of the host is still polled"


def test_a_failing_source_backs_off_exponentially_capped_and_a_success_resets_it(
    site: SiteServer, tmp_path: Path
) -> None:
    site.set_route("/feeds/flaky.xml", status=500, body=b"<html><body>oops</body></html>")
    cfg = write_config(
        tmp_path,
        [
            {"name": "flaky", "kind": "feed", "url": site.url("/feeds/flaky.xml"), "every": "1h"},
            {"name": "weekly", "kind": "feed", "url": site.url("/feeds/flaky.xml?weekly"), "every": "2d"},
        ],
    )

    def gap(name: str) -> float:
        row = source_row(cfg, name)
        return (parse_iso(row["next_poll"]) - parse_iso(row["last_attempt"])).total_seconds()

    for n, expected in ((1, 3600), (2, 7200), (3, 14400)):
        res = crawl(cfg)
        assert res.returncode == 1, "every source failed"
        assert source_row(cfg, "flaky")["failures"] == n
        assert gap("flaky") == expected
    assert "flaky: " in res.stderr and "HTTP 500" in res.stderr
    with store(cfg) as st:  # many failures later: the cap, never "given up"
        st.update_source("flaky", failures=40)
        st.update_source("weekly", failures=40)
    crawl(cfg)
    assert gap("flaky") == 24 * 3600
    assert gap("weekly") == 2 * 86400, "a source polled less often than the cap backs off to its own interval"
    flaky = source_row(cfg, "flaky")
    assert flaky["active"] == 1 and flaky["failures"] == 41 and "HTTP 500" in flaky["last_error"]

    shown = newswatch(cfg, "sources")
    assert shown.returncode == 0, shown.stderr
    line = next(l for l in shown.stdout.splitlines() if l.startswith("flaky "))
    assert "FAILING" in line and " 41 " in f" {line} "
    assert "flaky: last error" in shown.stdout and "HTTP 500" in shown.stdout
    listed = {s["name"]: s for s in json.loads(newswatch(cfg, "sources", "--json").stdout)}
    assert listed["flaky"]["failures"] == 41 and listed["flaky"]["next_poll"] == flaky["next_poll"]

    site.set_route("/feeds/flaky.xml", body=rss(gw_items(1)))
    ok = crawl(cfg, "flaky")
    assert ok.returncode == 0, ok.stderr
    flaky = source_row(cfg, "flaky")
    assert flaky["failures"] == 0 and flaky["failing_since"] is None
    assert gap("flaky") == 3600 and flaky["last_success"] == flaky["last_attempt"]


def test_permanent_redirects_move_the_source_and_temporary_ones_do_not(polled: Polled) -> None:
    cfg, site = polled.config, polled.site
    assert polled.first.returncode == 0
    for code in (301, 308):
        row = source_row(cfg, f"r{code}")
        assert row["current_url"] == site.url(f"/feeds/moved.xml?via={code}")
        assert row["configured_url"] == site.url(
            f"/_fault/redirect/{code}?" + urlencode({"to": f"/feeds/moved.xml?via={code}"})
        )
    for code in (302, 307):
        assert source_row(cfg, f"r{code}")["current_url"] is None

    assert polled.second.returncode == 0  # a new process: the moved URL came from SQLite
    for code in (301, 308):
        assert polled.requests_to(f"/_fault/redirect/{code}", 2) == []
        assert len(polled.requests_to(f"/feeds/moved.xml?via={code}", 2)) == 1
    for code in (302, 307):
        assert len(polled.requests_to(f"/_fault/redirect/{code}", 2)) == 1
    listed = {s["name"]: s["url"] for s in json.loads(newswatch(cfg, "sources", "--json").stdout)}
    assert listed["r301"] == site.url("/feeds/moved.xml?via=301")
    assert listed["r302"] == site.url("/_fault/redirect/302?" + urlencode({"to": "/feeds/moved.xml?via=302"}))

    # The user edits the config: their URL wins over the stored redirect.
    edited = write_config(
        cfg.parent,
        [{"name": "r301", "kind": "feed", "url": site.url("/feeds/moved.xml?via=edited")}],
        file="edited.toml",
    )
    site.clear_log()
    assert crawl(edited, "r301").returncode == 0
    assert len(requests_to(site, "/feeds/moved.xml?via=edited")) == 1
    assert requests_to(site, "/feeds/moved.xml?via=301") == []
    listed = {s["name"]: s["url"] for s in json.loads(newswatch(edited, "sources", "--json").stdout)}
    assert listed["r301"] == site.url("/feeds/moved.xml?via=edited")


def test_410_deactivates_the_source_says_so_and_reset_reenables_it(polled: Polled) -> None:
    first, second, cfg, site = polled.first, polled.second, polled.config, polled.site
    assert first.returncode == 0, first.stderr
    assert table(first)["gone"]["status"] == "gone"
    assert "gone: " in first.stderr and "410" in first.stderr and "deactivated" in first.stderr
    assert "newswatch sources --reset gone" in first.stderr
    shown = newswatch(cfg, "sources").stdout
    assert "INACTIVE" in next(l for l in shown.splitlines() if l.startswith("gone "))
    assert "gone: last error" in shown and "410" in shown

    assert table(second)["gone"]["status"] == "skipped" and "gone: deactivated" in second.stderr
    assert len(polled.requests_to("/_fault/status/410", 1) + polled.requests_to("/_fault/status/410", 2)) == 1

    reset = newswatch(cfg, "sources", "--reset", "gone")
    assert reset.returncode == 0 and "re-enabled" in reset.stdout
    assert source_row(cfg, "gone")["active"] == 1
    site.clear_log()
    third = crawl(cfg, "gone")
    assert len(requests_to(site, "/_fault/status/410")) == 1, "a re-enabled source is polled again"
    assert table(third)["gone"]["status"] == "gone"


def test_a_410_and_failures_hold_for_the_url_they_were_met_with_not_for_a_new_one(
    site: SiteServer, tmp_path: Path
) -> None:
    # a source edited to poll another url starts afresh: deactivated by its old url's 410, it is polled (it was
    # skipped as deactivated until `sources --reset`); failing twice at its old url, its failures count from none
    site.set_route("/feeds/old-flaky.xml", status=500, body=b"<html><body>oops</body></html>")
    site.set_route("/feeds/new-flaky.xml", status=503, body=b"<html><body>still down</body></html>")
    site.set_route("/feeds/moved.xml", body=rss(gw_items(1)))

    def config(gone: str, flaky: str) -> Path:
        sources = [{"name": "gone", "kind": "feed", "url": site.url(gone)}, {"name": "flaky", "url": site.url(flaky)}]
        return write_config(tmp_path, [{**s, "kind": "feed"} for s in sources])

    cfg = config("/_fault/status/410", "/feeds/old-flaky.xml")
    crawl(cfg)
    again = crawl(cfg)
    assert table(again)["gone"]["status"] == "skipped" and source_row(cfg, "flaky")["failures"] == 2
    cfg = config("/feeds/moved.xml", "/feeds/new-flaky.xml")
    edited = crawl(cfg)
    assert table(edited)["gone"]["status"] == "ok", edited.stdout + edited.stderr
    gone, flaky = source_row(cfg, "gone"), source_row(cfg, "flaky")
    assert gone["active"] == 1 and gone["inactive_reason"] is None and gone["polls"] == 1
    assert flaky["failures"] == 1 and "503" in flaky["last_error"]
    gap = parse_iso(flaky["next_poll"]) - parse_iso(flaky["last_attempt"])
    assert gap == timedelta(minutes=15), "the backoff of a first failure: its every"
    crawl(cfg)  # at the same url, failures go on counting
    assert source_row(cfg, "flaky")["failures"] == 2


# -- malformed and hostile feeds -------------------------------------------------------------


@dataclass
class Crawled:
    """One crawl shared by a module's tests: its config, outcome and the server's request log."""

    config: Path
    result: Outcome
    requests: list[Any]
    base_url: str

    def requests_to(self, prefix: str) -> list[Any]:
        return [r for r in self.requests if r.path.startswith(prefix)]


@pytest.fixture(scope="module")
def malformed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawled]:
    """One crawl of every malformed and hostile feed beside a healthy one (one crawl process, not five)."""
    with SiteServer(SITE) as srv:
        cfg = write_config(
            tmp_path_factory.mktemp("malformed"),
            [
                {"name": "bozo", "kind": "feed", "url": srv.url("/broken/bozo.xml")},
                {"name": "notfeed", "kind": "feed", "url": srv.url("/broken/html-feed.xml")},
                {"name": "cut", "kind": "feed", "url": srv.url("/broken/truncated-gzip.xml")},
                {"name": "laughs", "kind": "feed", "url": srv.url("/broken/billion-laughs.xml")},
                {"name": "xxe", "kind": "feed", "url": srv.url("/broken/xxe.xml")},
                {"name": "digestnet", "kind": "feed", "url": srv.url("/digestnet/feed.xml")},
            ],
        )
        res = crawl(cfg)
        yield Crawled(cfg, res, list(srv.requests), srv.base_url)


def test_a_bozo_feed_keeps_the_entries_that_parse_with_a_warning(malformed: Crawled) -> None:
    res, cfg = malformed.result, malformed.config
    assert res.returncode == 0, res.stderr
    assert table(res)["bozo"]["status"] == "ok"
    assert "bozo: warning:" in res.stderr and "malformed" in res.stderr
    stored = {r["url"] for r in articles(cfg, "bozo")}
    for path in (
        "2026/11/18/china-russia-open-arctic-materials-lab.html",
        "2026/11/17/russia-china-lunar-station-timetable.html",
        "2026/11/16/russian-engineering-academy-elects-chinese-members.html",
    ):
        assert f"{malformed.base_url}/globalwire/{path}" in stored


def test_html_served_as_a_feed_is_an_error_with_no_entries(malformed: Crawled) -> None:
    res, cfg = malformed.result, malformed.config
    assert table(res)["notfeed"]["status"] == "failed"
    assert "notfeed: " in res.stderr and "not an RSS or Atom feed" in res.stderr
    assert articles(cfg, "notfeed") == []
    with store(cfg) as st:
        assert st.scalar("SELECT count(*) FROM _entries WHERE source = 'notfeed'") == 0
    assert source_row(cfg, "notfeed")["failures"] == 1


def test_a_truncated_gzip_feed_harms_nothing_else(malformed: Crawled) -> None:
    res, cfg = malformed.result, malformed.config
    assert res.returncode == 0, res.stderr
    rows = table(res)
    assert rows["digestnet"]["status"] == "ok" and rows["digestnet"]["new"] == 4
    # Half a gzip stream: the entries before the cut are kept, with a warning; never a crash.
    assert rows["cut"]["status"] == "ok"
    assert "cut: warning:" in res.stderr and "malformed feed" in res.stderr and "entries read anyway" in res.stderr
    kept = articles(cfg, "cut")
    assert kept and all(a["title"] and "\ufffd" not in a["title"] + a["text"] for a in kept)


def test_entity_bomb_and_external_entity_feeds_are_refused_without_fetching(malformed: Crawled) -> None:
    res, cfg = malformed.result, malformed.config
    assert res.returncode == 0, res.stderr
    rows = table(res)
    assert rows["laughs"]["status"] == "failed" and rows["xxe"]["status"] == "failed"
    assert rows["digestnet"]["new"] == 4
    assert "entit" in res.stderr
    assert malformed.requests_to("/_fault/headers") == [], "an external entity was fetched"
    assert articles(cfg, "laughs") == [] and articles(cfg, "xxe") == []
    with store(cfg) as st:
        assert st.scalar("SELECT count(*) FROM articles WHERE text LIKE '%lollol%' OR text LIKE '%root:%'") == 0


def test_entries_without_guid_link_or_date_keep_a_stable_identity(polled: Polled) -> None:
    first, second, cfg = polled.first, polled.second, polled.config
    assert first.returncode == 0, first.stderr
    stored = articles(cfg, "plain")
    assert len(stored) == 5  # 4 pages and the lost page kept from the feed
    with store(cfg) as st:
        entries = st.scalar("SELECT count(*) FROM _entries WHERE source = 'plain'")
    assert entries > 0

    # The second poll got the whole feed again (no validators).
    assert second.returncode == 0, second.stderr
    assert [r.status for r in polled.requests_of("plain", "/feeds/plain.xml", 2)] == [200]
    assert polled.requests_of("plain", "/globalwire/", 2) == [], "an entry seen before was fetched again"
    assert len(articles(cfg, "plain")) == 5 and table(second)["plain"]["new"] == 0
    with store(cfg) as st:
        assert st.scalar("SELECT count(*) FROM _entries WHERE source = 'plain'") == entries


# -- politeness ------------------------------------------------------------------------------


def test_robots_txt_is_obeyed_under_load_and_the_configured_user_agent_is_sent(
    site: SiteServer, tmp_path: Path
) -> None:
    links = [f'<a href="__BASE__{p}">story {i}</a>' for i, p in enumerate(EXPECTED)]
    links.insert(3, '<a href="__BASE__/private/secret.html">secret</a>')
    site.set_route("/links.html", body=("<html><body>" + "\n".join(links) + "</body></html>").encode())
    cfg = write_config(
        tmp_path,
        [{"name": "links", "kind": "listing", "url": site.url("/links.html"), "follow": r"\.html$"}],
        per_domain=4,
    )
    # The private page is also among many --url start requests that all wait on one robots.txt.
    urls = [site.url(p) for p in list(EXPECTED)[:6]]
    urls.insert(2, site.url("/private/secret.html?direct=1"))
    res = crawl(cfg, "links", *[a for u in urls for a in ("--url", u)])
    assert res.returncode == 0, res.stderr
    assert requests_to(site, "/private/") == []
    assert "robots.txt" in res.stderr
    assert len(requests_to(site, "/robots.txt")) == 1
    assert len(articles(cfg)) == len(EXPECTED)
    agents = {r.headers.get("User-Agent") for r in site.requests}
    assert agents == {UA}


def test_a_stalled_server_costs_only_its_own_source(site: SiteServer, tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path,
        [
            {"name": "stalled", "kind": "feed", "url": site.url("/_fault/stall?seconds=120")},
            {"name": "halfway", "kind": "feed", "url": site.url("/_fault/stall?seconds=120&headers=1")},
            {"name": "healthy", "kind": "feed", "url": site.url("/vestnik/rss.xml")},
        ],
        timeout="1s",
    )
    res = crawl(cfg)
    assert res.returncode == 0, res.stderr
    rows = table(res)
    assert rows["healthy"]["status"] == "ok" and rows["healthy"]["new"] >= 5
    assert rows["stalled"]["status"] == "failed" and rows["halfway"]["status"] == "failed"
    assert "timed out" in res.stderr
    # The crawl ended while the server was still sleeping on every stalled request: timeout bounded it.
    stalled = requests_to(site, "/_fault/stall")
    assert stalled and all(r.status in (None, 200) for r in stalled)
    assert not any(r.status == 200 for r in stalled if "headers" not in r.path)
    assert len([r for r in stalled if "headers" not in r.path]) == 3, "a timeout is transient: 2 retries"


ENC_CASES = sorted(p.stem for p in (SITE / "enc").glob("*.html"))
OVERSIZED = ["/_fault/huge?mb=5", "/_fault/huge?mb=5&length=1", "/_fault/gzipbomb?mb=20"]
FAILING = ["/_fault/status/500?p=1", "/_fault/status/404?p=1", "/_fault/drop?p=1", "/_fault/status/403?p=1"]


@pytest.fixture(scope="module")
def url_pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawled]:
    """One `crawl --url` run over oversized pages, failing pages, a healthy page and every encoding case."""
    with SiteServer(SITE) as srv:
        cfg = write_config(tmp_path_factory.mktemp("pages"), [], max_page_size="1MB")
        paths = OVERSIZED + FAILING + [GW_PAGES[0]] + [f"/enc/{name}.html" for name in ENC_CASES]
        res = crawl(cfg, *[a for p in paths for a in ("--url", srv.url(p))])
        yield Crawled(cfg, res, list(srv.requests), srv.base_url)


def test_pages_over_the_size_limit_abort_and_the_run_continues(url_pages: Crawled) -> None:
    res, cfg = url_pages.result, url_pages.config
    assert res.returncode == 0, res.stderr
    rows, base = table(res), url_pages.base_url
    # 3 oversized and 4 failing pages are errors; the healthy page and the encoding cases are stored.
    assert all(rows[base + p]["status"] == "failed" and rows[base + p]["errors"] == 1 for p in OVERSIZED + FAILING)
    assert sum(r["new"] for r in rows.values()) == 1 + len(ENC_CASES)
    assert sum(r["errors"] for r in rows.values()) == len(OVERSIZED) + len(FAILING)
    # stderr names the first few errors of a run; each --url page's own block on stdout names its error.
    assert res.stdout.count("larger than crawl.max_page_size") == 3
    stored = {a["url"] for a in articles(cfg)}
    assert url_pages.base_url + GW_PAGES[0] in stored
    assert not any("/_fault/" in url for url in stored)
    assert len(url_pages.requests_to("/_fault/huge")) == 2 and len(url_pages.requests_to("/_fault/gzipbomb")) == 1


def test_only_transient_errors_are_retried(url_pages: Crawled) -> None:
    res = url_pages.result
    assert res.returncode == 0, res.stderr
    assert len(url_pages.requests_to("/_fault/status/500")) == 3
    # A dropped connection is retried too (Twisted may also retry a reused keep-alive connection once).
    assert 3 <= len(url_pages.requests_to("/_fault/drop")) <= 6
    assert len(url_pages.requests_to("/_fault/status/404")) == 1
    assert len(url_pages.requests_to("/_fault/status/403")) == 1


# -- encodings -------------------------------------------------------------------------------


def test_every_encoding_case_comes_out_exact_through_the_whole_crawl(url_pages: Crawled) -> None:
    assert len(ENC_CASES) >= 8
    res, cfg = url_pages.result, url_pages.config
    assert res.returncode == 0, res.stderr
    by_url = {a["url"]: a for a in articles(cfg)}
    golden = REPO / "tests" / "golden" / "decoded"
    for name in ENC_CASES:
        art = by_url.get(f"{url_pages.base_url}/enc/{name}.html")
        assert art is not None, f"{name}: not stored ({res.stderr})"
        assert "\ufffd" not in art["text"] + art["title"], name
        for line in (SITE / "enc" / "expected" / f"{name}.txt").read_text(encoding="utf-8").splitlines():
            if line.strip():
                assert line.strip() in art["text"], f"{name}: {line[:40]!r} not decoded exactly"
        # The whole extracted text, reviewed once, must not drift (a new mojibake shows here).
        assert art["text"] == (golden / f"{name}.txt").read_text(encoding="utf-8"), name


# -- safety ----------------------------------------------------------------------------------


def test_private_addresses_are_refused_unless_allowed(site: SiteServer, tmp_path: Path) -> None:
    cfg = write_config(tmp_path, [], allow_private=False)
    res = crawl(cfg, "--url", site.url(GW_PAGES[0]))
    assert res.returncode == 1, "the only page was refused"
    assert site.requests == [], "the request reached the server"
    assert "crawl.allow_private = true" in res.stderr

    # A public host (through a proxy, which is the test server) whose feed and redirects point inward.
    public = "http://93.184.216.34"
    items = [
        {"title": "inward", "link": site.url(GW_PAGES[1]), "guid": "a"},
        {"title": "private net", "link": "http://10.1.2.3/news/1.html", "guid": "b"},
        {"title": "a file", "link": "file:///etc/passwd", "guid": "c"},
        {
            "title": "redirect inward",
            "guid": "d",
            "link": f"{public}/_fault/redirect/302?" + urlencode({"to": site.url(GW_PAGES[2])}).replace("&", "&amp;"),
        },
    ]
    site.set_route("/feeds/public.xml", body=rss(items))
    cfg = write_config(
        tmp_path / "proxied",
        [{"name": "public", "kind": "feed", "url": f"{public}/feeds/public.xml"}],
        allow_private=False,
    )
    site.clear_log()
    res = crawl(cfg, env={"http_proxy": site.base_url, "no_proxy": ""})
    assert res.returncode == 0, res.stderr
    paths = [r.path for r in site.requests]
    assert any(p.startswith(f"{public}/feeds/public.xml") for p in paths), paths
    assert all(p.startswith(public) for p in paths), f"a private address was contacted: {paths}"
    assert any("/_fault/redirect/302" in p for p in paths)
    assert res.stderr.count("crawl.allow_private = true") >= 2, res.stderr
    assert "passwd" not in json.dumps(articles(cfg))


# -- sitemap, listing and spider sources -----------------------------------------------------


def _sitemap_url(loc: str, when: datetime, news: bool) -> str:
    stamp = when.isoformat(timespec="seconds")
    if news:
        return (
            f"<url><loc>{loc}</loc><news:news><news:publication><news:name>T</news:name>"
            f"<news:language>zh</news:language></news:publication><news:publication_date>{stamp}"
            f"</news:publication_date><news:title>Headline</news:title></news:news></url>"
        )
    return f"<url><loc>{loc}</loc><lastmod>{stamp}</lastmod></url>"


# (path, age): the entries of the news sitemap and of the plain one behind the sitemap index (window 2d).
# Pages no other source of the `polled` world stores (theirs would make these duplicates).
HX_PAGES = [p for p in EXPECTED if p.startswith("/huaxia/")]
SITEMAP_NEWS = [(HX_PAGES[0], timedelta(hours=3)), (HX_PAGES[1], timedelta(hours=40)), (HX_PAGES[2], timedelta(days=5))]
SITEMAP_PLAIN = [(HX_PAGES[3], timedelta(hours=1)), (HX_PAGES[4], timedelta(days=30))]


def sitemap_routes(site: SiteServer, now: datetime) -> None:
    """/sm/index.xml on `site`: a sitemap index of a news sitemap and a plain one, dated back from `now`."""
    ns = (
        'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'
    )
    for path, entries, is_news in (("/sm/news.xml", SITEMAP_NEWS, True), ("/sm/plain.xml", SITEMAP_PLAIN, False)):
        urls = "".join(_sitemap_url(f"__BASE__{p}", now - age, is_news) for p, age in entries)
        site.set_route(path, body=f'<?xml version="1.0"?><urlset {ns}>{urls}</urlset>'.encode())
    site.set_route(
        "/sm/index.xml",
        body=(
            b'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            b"<sitemap><loc>__BASE__/sm/news.xml</loc></sitemap><sitemap><loc>__BASE__/sm/plain.xml</loc></sitemap>"
            b"</sitemapindex>"
        ),
    )


def test_sitemap_source_reads_news_sitemaps_through_an_index_within_its_window(polled: Polled) -> None:
    res, cfg, server = polled.first, polled.config, polled.others["sm"]
    assert res.returncode == 0, res.stderr
    news, plain = SITEMAP_NEWS, SITEMAP_PLAIN
    fetched = {p for p, _ in news + plain if polled.requests_of("sm", p, 1)}
    assert fetched == {news[0][0], news[1][0], plain[0][0]}, "the window was not honoured"
    assert {a["url"] for a in articles(cfg, "sm")} == {server.url(p) for p in fetched}
    assert table(res)["sm"] == {
        "status": "ok",
        "fetched": 6,
        "new": 3,
        "duplicates": 0,
        "matched": table(res)["sm"]["matched"],
        "errors": 0,
    }


@pytest.mark.parametrize("name", list(LISTINGS))
def test_listing_source_follows_article_links_and_paginates_to_its_depth(polled: Polled, name: str) -> None:
    _how, depth, expected = LISTINGS[name]
    res, cfg = polled.first, polled.config
    assert res.returncode == 0, res.stderr
    stored = articles(cfg, name)
    assert len(stored) == expected
    assert all("/academy/news/2026/" in a["url"] for a in stored)
    assert len(polled.requests_of(name, "/academy/news/page-2.html", 1)) == (1 if depth >= 2 else 0)
    assert polled.requests_of(name, "/academy/about.html", 1) == []
    assert polled.requests_of(name, "/academy/contacts.html", 1) == []


def test_spider_source_items_go_through_our_pipelines(site: SiteServer, tmp_path: Path) -> None:
    env = {"PYTHONPATH": str(REPO / "tests"), "USERSPIDER_BASE": site.base_url}
    cfg = write_config(
        tmp_path,
        [
            {"name": "own-raw", "kind": "spider", "spider": "userspider:AcademyPages"},
            {"name": "own-extracted", "kind": "spider", "spider": "userspider:ExtractedStories"},
            {"name": "own-broken", "kind": "spider", "spider": "userspider:NotASpider"},
            {"name": "own-missing", "kind": "spider", "spider": "nosuchmodule:Spider"},
        ],
        timeout="10s",  # nothing here stalls: a page slow under load is no error for this test
    )
    res = crawl(cfg, env=env)
    assert res.returncode == 0, res.stderr
    rows = table(res)
    raw = articles(cfg, "own-raw")
    assert sorted(a["url"] for a in raw) == sorted(site.url(p) for p in EXPECTED if p.startswith("/academy/"))
    for a in raw:  # decoded, extracted and matched like any page we fetch
        exp = EXPECTED[a["url"][len(site.base_url) :]]
        assert a["title"] == exp["title"] and a["text_from"] == "page" and a["language"] == "ru"
        assert all(s in a["text"] for s in exp["key_sentences"])
    extracted = articles(cfg, "own-extracted")
    assert (
        len(extracted) == 1 and extracted[0]["title"] == "Eighteen Chinese engineers join Russia's engineering academy"
    )
    assert "18 Chinese engineers" in extracted[0]["text"]
    assert rows["own-raw"] == {
        "status": "ok",
        "fetched": 5,
        "new": 3,
        "duplicates": 0,
        "matched": rows["own-raw"]["matched"],
        "errors": 0,
    }
    assert rows["own-extracted"]["new"] == 1
    assert rows["own-extracted"]["errors"] == 1 and "without an http(s) url" in res.stderr
    assert rows["own-broken"]["status"] == "failed" and "not a scrapy.Spider subclass" in res.stderr
    assert rows["own-missing"]["status"] == "failed" and "cannot import 'nosuchmodule'" in res.stderr
    with store(cfg) as st:
        assert (
            st.scalar(
                "SELECT count(*) FROM matches m JOIN articles a ON a.id = m.article_id WHERE a.source LIKE 'own-%'"
            )
            >= 1
        )
    again = crawl(cfg, "own-raw", "own-extracted", env=env)
    assert again.returncode == 0 and len(articles(cfg)) == 4, "a second run stores nothing twice"


# -- everything at once ----------------------------------------------------------------------


def test_one_crawl_mixing_every_fault_with_healthy_sources(site: SiteServer, tmp_path: Path) -> None:
    site.set_route(
        "/feeds/huge-page.xml",
        body=rss(
            [
                {"title": "A huge page", "link": "__BASE__/_fault/huge?mb=30", "guid": "huge"},
                {"title": "A bomb", "link": "__BASE__/_fault/gzipbomb?mb=40", "guid": "bomb"},
            ]
        ),
    )
    healthy = [
        {"name": "globalwire", "kind": "feed", "url": site.url("/globalwire/rss.xml")},
        {"name": "vestnik", "kind": "feed", "url": site.url("/vestnik/rss.xml")},
        {"name": "huaxia", "kind": "feed", "url": site.url("/huaxia/atom.xml")},
        {"name": "digestnet", "kind": "feed", "url": site.url("/digestnet/feed.xml")},
        {
            "name": "academy",
            "kind": "listing",
            "url": site.url("/academy/news/index.html"),
            "follow": r"/academy/news/\d{4}/",
            "depth": 2,
        },
        {"name": "huaxia-sitemap", "kind": "sitemap", "url": site.url("/huaxia/sitemap-news.xml"), "window": "60d"},
    ]
    faulty = [
        {"name": "f500", "kind": "feed", "url": site.url("/_fault/status/500")},
        {"name": "f404", "kind": "feed", "url": site.url("/_fault/status/404")},
        {"name": "f410", "kind": "feed", "url": site.url("/_fault/status/410")},
        {"name": "stalled", "kind": "feed", "url": site.url("/_fault/stall?seconds=300")},
        {"name": "huge", "kind": "feed", "url": site.url("/feeds/huge-page.xml")},
        {"name": "hugefeed", "kind": "feed", "url": site.url("/_fault/huge?mb=30&feed=1")},
        {"name": "loop", "kind": "feed", "url": site.url("/_fault/redirect-loop")},
        {"name": "htmlfeed", "kind": "feed", "url": site.url("/broken/html-feed.xml")},
        {"name": "bomb", "kind": "feed", "url": site.url("/_fault/gzipbomb?mb=40&feed=1")},
        {"name": "laughs", "kind": "feed", "url": site.url("/broken/billion-laughs.xml")},
    ]
    cfg = write_config(tmp_path, faulty[:3] + healthy[:3] + faulty[3:] + healthy[3:])
    res = crawl(cfg)
    assert res.returncode == 0, res.stderr
    rows = table(res)
    stored = {a["url"].split("?")[0] for a in articles(cfg) if a["text_from"] == "page"}
    missing = [p for p in EXPECTED if site.url(p) not in stored]
    assert not missing, f"healthy articles lost: {missing}"
    assert all(r.status is None for r in requests_to(site, "/_fault/stall")), "the stall had ended"
    for s in healthy:
        assert rows[s["name"]]["status"] == "ok", (s["name"], res.stdout)
    expected_status = {
        "f500": "failed",
        "f404": "failed",
        "f410": "gone",
        "stalled": "failed",
        "huge": "ok",
        "hugefeed": "failed",
        "loop": "failed",
        "htmlfeed": "failed",
        "bomb": "failed",
        "laughs": "failed",
    }
    for name, status in expected_status.items():
        assert rows[name]["status"] == status, (name, res.stdout)
        assert rows[name]["errors"] >= 1, (name, res.stdout)
    assert rows["huge"]["errors"] == 2
    shown = newswatch(cfg, "sources")
    assert shown.returncode == 0
    out = tmp_path / "sources.txt"
    out.write_text(res.stdout + "\n" + res.stderr + "\n$ newswatch sources\n" + shown.stdout, encoding="utf-8")
    print(f"\n$ newswatch crawl\n{res.stdout}{res.stderr}\n$ newswatch sources\n{shown.stdout}")
    for name in expected_status:
        assert name in shown.stdout
    assert "INACTIVE" in next(l for l in shown.stdout.splitlines() if l.startswith("f410 "))
