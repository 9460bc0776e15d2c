"""`newswatch probe URL`: one polite fetch of each kind of URL the sample site serves, over real HTTP."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from crawler.probe import suggest_follow
from scheduler.cli import cli
from tests.support.articles import dated_rss
from tests.support.sitesrv import SiteServer


def config(tmp_path: Path, allow_private: bool = True) -> Path:
    path = tmp_path / "newswatch.toml"
    path.write_text(
        '[storage]\ndatabase = "nw.db"\n\n[crawl]\nuser_agent = "newswatch-probetest/1.0"\ntimeout = "3s"\n'
        f"allow_private = {'true' if allow_private else 'false'}\n",
        encoding="utf-8",
    )
    return path


def probe(cfg: Path, url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["-c", str(cfg), "probe", url, *args])


def probe_json(cfg: Path, url: str, *args: str) -> dict:
    res = probe(cfg, url, "--json", *args)
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def test_a_live_feed_is_dated_and_one_article_extracted(site: SiteServer, tmp_path: Path) -> None:
    site.set_route("/feeds/fresh.xml", body=dated_rss([timedelta(hours=h) for h in (2, 5, 9, 14)]))
    cfg = config(tmp_path)
    res = probe(cfg, site.url("/feeds/fresh.xml"))
    assert res.exit_code == 0, res.output
    assert "an RSS/Atom feed" in res.output and "entries:  4, newest" in res.output and "(2 h old)" in res.output
    assert "looks dead" not in res.output
    assert "charset:  utf-8 (from the XML declaration)" in res.output
    assert "allowed for newswatch" in res.output and "no Crawl-delay" in res.output
    assert "title:    Gazprom and CNPC agree to raise gas volumes" in res.output and "language: en" in res.output
    assert '[[sources]]\nname = "feeds"\nkind = "feed"\nurl = "' + site.url("/feeds/fresh.xml") in res.output
    assert len([r for r in site.requests if r.path.startswith("/feeds/fresh.xml")]) == 1, "one fetch of the URL"


def test_a_feed_frozen_in_2018_is_called_dead_at_once(site: SiteServer, tmp_path: Path) -> None:
    report = probe_json(config(tmp_path), site.url("/frozen/rss.xml"))
    assert report["kind"] == "feed" and report["newest"].startswith("2018-01-05")
    assert report["newest_age"].endswith("years")
    assert any(w.startswith("looks dead: newest entry 2018-01-05") for w in report["warnings"])
    assert report["article"]["title"].startswith("Scientists from two academies meet in Harbin")


def test_news_sitemap_and_sitemap_index(site: SiteServer, tmp_path: Path) -> None:
    cfg = config(tmp_path)
    news = probe_json(cfg, site.url("/huaxia/sitemap-news.xml"))
    assert news["kind"] == "sitemap" and news["entries_total"] == 7
    assert news["entries"][0]["title"] == "中俄联合培养工程硕士项目首批学生毕业"
    assert news["article"]["language"] == "zh" and "哈尔滨" in " ".join(news["article"]["first_lines"])
    assert 'kind = "sitemap"' in news["source_block"] and 'window = "2d"' in news["source_block"]
    index = probe_json(cfg, site.url("/sitemap-index.xml"))
    assert index["kind"] == "sitemap-index"
    assert index["child_sitemaps"] == [site.url("/huaxia/sitemap-news.xml"), site.url("/globalwire/sitemap.xml")]


def test_a_sitemap_older_than_the_window_its_block_writes_gets_a_warning_after_the_block(
    site: SiteServer, tmp_path: Path
) -> None:
    # its paste-ready block wrote window = "2d" for a sitemap whose every entry was older, silently: a crawl of the
    # pasted source takes nothing from it. The line is the one `sources add` gives (209fe06)
    cfg = config(tmp_path)
    res = probe(cfg, site.url("/globalwire/sitemap.xml"))
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[-2] == 'window = "2d"', res.output
    assert re.fullmatch(
        r'warning:  its newest entry is dated 2026-11-20, older than its window = "2d": a crawl takes nothing from it '
        r'until it publishes again \(window = "\d+d" in its \[\[sources\]\] table.*would take that entry and '
        r"every later one\)",
        lines[-1],
    ), res.output
    # none for a sitemap with an entry within the window, nor for a feed
    now = datetime.now(UTC).isoformat(timespec="seconds")
    body = (
        '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{site.base_url}/globalwire/</loc><lastmod>2026-11-20</lastmod></url>"
        f"<url><loc>{site.base_url}/fresh/a.html</loc><lastmod>{now}</lastmod></url></urlset>"
    )
    site.set_route("/fresh/sitemap.xml", body=body.encode(), headers={"Content-Type": "application/xml"})
    for path in ("/fresh/sitemap.xml", "/frozen/rss.xml"):
        res = probe(cfg, site.url(path))
        assert res.exit_code == 0 and "older than its window" not in res.output, (path, res.output)


def test_a_listing_with_a_good_and_a_bad_follow(site: SiteServer, tmp_path: Path) -> None:
    cfg = config(tmp_path)
    url = site.url("/academy/news/index.html")
    good = probe(cfg, url, "--follow", r"/academy/news/\d{4}/\d{2}/")
    assert good.exit_code == 0, good.output
    assert r"follow: '/academy/news/\d{4}/\d{2}/' takes 2 links, leaves 11" in good.output
    assert "take   " + site.url("/academy/news/2026/11/inostrannye-chleny-iz-knr.html") in good.output
    assert "leave  " + site.url("/academy/about.html") in good.output
    assert "language: ru" in good.output
    bad = probe_json(cfg, url, "--follow", r"/activities/news/[^/]+/?$")
    assert bad["taken_total"] == 0 and bad["left_total"] == 13
    assert any("takes none of the 13 links" in w for w in bad["warnings"])
    plain = probe_json(cfg, url)  # no --follow: a pattern is suggested, and it works
    assert plain["kind"] == "listing" and plain["suggested_follow"] and plain["taken_total"] == 2


def test_an_article_and_a_homepage_advertising_two_feeds(site: SiteServer, tmp_path: Path) -> None:
    cfg = config(tmp_path)
    article = probe_json(cfg, site.url("/vestnik/2026/11/18/peregovory-v-kremle.html"))
    assert article["kind"] == "article" and article["charset"] == "cp1251" and article["charset_from"] == "http"
    assert article["article"]["title"].startswith("Путин и Си Цзиньпин обсудили")
    home = probe(cfg, site.url("/portal/"))
    assert home.exit_code == 0, home.output
    assert "a homepage that advertises feeds" in home.output and "feeds:    2 advertised" in home.output
    assert site.url("/globalwire/rss.xml") in home.output and site.url("/huaxia/atom.xml") in home.output
    assert f'url = "{site.url("/globalwire/rss.xml")}"' in home.output


def test_crawl_delay_is_reported(site: SiteServer, tmp_path: Path) -> None:
    # The probe itself waits the delay out between robots.txt and the page: one second is enough here.
    site.set_route("/robots.txt", body=b"User-agent: *\nCrawl-delay: 1\nDisallow: /private/\n")
    report = probe_json(config(tmp_path), site.url("/globalwire/rss.xml"))
    assert report["crawl_delay"] == 1.0 and report["robots_allowed"]
    assert any("Crawl-delay 1s" in w for w in report["warnings"])
    assert "Crawl-delay 1s" in report["source_block"]


@pytest.mark.parametrize(
    "path,allow_private,code,words",
    [
        ("/private/secret.html", True, 2, "is refused by"),
        ("/globalwire/rss.xml", False, 2, "allow_private = true"),
        ("/no/such/page.html", True, 2, "HTTP 404"),
        ("/robots.txt", True, 2, "neither a feed, a sitemap nor an HTML page"),
        ("/_fault/status/503", True, 1, "HTTP 503"),
    ],
)
def test_bad_urls_get_one_clear_line(
    site: SiteServer, tmp_path: Path, path: str, allow_private: bool, code: int, words: str
) -> None:
    res = probe(config(tmp_path, allow_private), site.url(path))
    assert res.exit_code == code, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], res.output
    assert "Traceback" not in res.output


def test_unreachable_and_not_http(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    res = probe(cfg, "http://127.0.0.1:9/feed.xml")
    assert res.exit_code == 1 and "connection refused" in res.output
    res = probe(cfg, "ftp://example.org/feed.xml")
    assert res.exit_code == 2 and "not an http(s) URL" in res.output


def _no_child(*args: object, **kwargs: object) -> None:
    raise AssertionError(f"a probe child was started for input the parent refuses: {args}")


@pytest.mark.parametrize(
    "url,follow,words",
    [
        ("ftp://example.org/feed.xml", None, "is not an http(s) URL"),
        ("file:///etc/passwd", None, "is not an http(s) URL"),
        ("example.org/feed.xml", None, "is not an http(s) URL"),
        ("https://example.org/news/", "/news/(", "is not a regular expression"),
    ],
)
def test_input_refused_without_the_network_starts_no_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, follow: str | None, words: str
) -> None:
    import subprocess

    monkeypatch.setattr(subprocess, "run", _no_child)
    res = probe(config(tmp_path), url, *(["--follow", follow] if follow else []))
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], res.output


def test_a_literal_private_address_is_refused_before_a_child_unless_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    from crawler.probe import ProbeError, check_input, probe_in_child

    monkeypatch.setattr(subprocess, "run", _no_child)
    for url in ("http://127.0.0.1:8080/rss.xml", "http://[::1]/rss.xml", "https://10.1.2.3/feed"):
        with pytest.raises(ProbeError, match="set `crawl.allow_private = true`") as refused:
            probe_in_child(None, url)  # no config: the default refuses private addresses
        assert refused.value.exit_code == 2
    check_input("http://127.0.0.1:8080/rss.xml", None, allow_private=True)
    check_input("http://127.0.0.1:8080/rss.xml", None, allow_private=None)  # config not loaded: the child judges
    check_input("http://localhost/rss.xml", None, allow_private=False)  # a name needs DNS: the child judges


def test_suggested_follow_generalises_dates_and_slugs() -> None:
    page = "https://www.most.gov.cn/kjbgz/"
    links = [
        "https://www.most.gov.cn/kjbgz/202403/t20240313_189961.html",
        "https://www.most.gov.cn/kjbgz/202109/t20210926_177063.html",
        "https://www.most.gov.cn/xxgk/index.html",
        "https://other.example/kjbgz/202403/t1_2.html",
    ]
    pattern = suggest_follow(page, links)
    assert pattern == r"/kjbgz/\d{6}/[^/]+\.html$"
