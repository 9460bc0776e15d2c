"""The local HTTP server: static files, conditional GET, header overrides, faults, request log."""

from __future__ import annotations

import gzip
import http.client
import json
import socket
import threading
import zlib
from pathlib import Path

import pytest

from crawler.errors import UsageError
from tests.support import sitesrv
from tests.support.sitesrv import SiteServer


def _get(
    server: SiteServer, path: str, headers: dict[str, str] | None = None, method: str = "GET", timeout: float = 10
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "news").mkdir()
    (tmp_path / "news" / "a.html").write_bytes(
        b'<html><head><link rel="canonical" href="__BASE__/news/a.html"></head><body>A</body></html>'
    )
    (tmp_path / "news" / "index.html").write_bytes(b"<html><body>index</body></html>")
    (tmp_path / "rss.xml").write_bytes(
        b'<?xml version="1.0"?><rss version="2.0"><channel><link>__BASE__/</link></channel></rss>'
    )
    (tmp_path / "atom.xml").write_bytes(b'<feed xmlns="http://www.w3.org/2005/Atom"></feed>')
    (tmp_path / "map.xml").write_bytes(b"<urlset></urlset>")
    (tmp_path / "robots.txt").write_bytes(b"User-agent: *\nDisallow: /private/\n")
    (tmp_path / "cp.html").write_bytes("<p>Наука</p>".encode("cp1251"))
    (tmp_path / "nohdr.html").write_bytes(b"<p>x</p>")
    (tmp_path / "pre.xml").write_bytes(gzip.compress(b"<rss></rss>"))
    (tmp_path / "_headers.json").write_text(
        json.dumps(
            {
                "//": "comment",
                "/cp.html": {"Content-Type": "text/html; charset=utf-8"},
                "/nohdr.html": {"Content-Type": None},
                "/news/*": {"X-Outlet": "news", "Cache-Control": "max-age=60"},
                "/news/a.html": {"Cache-Control": "no-cache"},
                "/pre.xml": {"Content-Encoding": "gzip"},
            }
        )
    )
    (tmp_path / "_secret.txt").write_bytes(b"hidden")
    return tmp_path


@pytest.fixture
def srv(root: Path):  # type: ignore[no-untyped-def]
    with SiteServer(root) as server:
        yield server


def test_serves_files_with_base_substituted(srv: SiteServer) -> None:
    status, headers, body = _get(srv, "/news/a.html")
    assert status == 200
    assert srv.base_url.startswith("http://127.0.0.1:") and srv.port > 0
    assert f'href="{srv.base_url}/news/a.html"'.encode() in body
    assert b"__BASE__" not in body
    assert headers["content-length"] == str(len(body))
    assert headers["content-type"] == "text/html"


def test_directory_serves_index_and_missing_is_404(srv: SiteServer) -> None:
    assert _get(srv, "/news/")[2] == b"<html><body>index</body></html>"
    assert _get(srv, "/news/nope.html")[0] == 404
    assert _get(srv, "/../etc/passwd")[0] == 404
    assert _get(srv, "/_headers.json")[0] == 404
    assert _get(srv, "/_secret.txt")[0] == 404


def test_content_types_by_extension_and_sniffing(srv: SiteServer) -> None:
    assert _get(srv, "/rss.xml")[1]["content-type"] == "application/rss+xml"
    assert _get(srv, "/atom.xml")[1]["content-type"] == "application/atom+xml"
    assert _get(srv, "/map.xml")[1]["content-type"] == "application/xml"
    assert _get(srv, "/robots.txt")[1]["content-type"].startswith("text/plain")


def test_header_overrides_apply_in_order_and_null_removes(srv: SiteServer) -> None:
    status, headers, body = _get(srv, "/cp.html")
    assert headers["content-type"] == "text/html; charset=utf-8"  # the lie is served as written
    assert body == "<p>Наука</p>".encode("cp1251")
    assert "content-type" not in _get(srv, "/nohdr.html")[1]
    headers = _get(srv, "/news/a.html")[1]
    assert headers["x-outlet"] == "news" and headers["cache-control"] == "no-cache"
    assert _get(srv, "/news/index.html")[1]["cache-control"] == "max-age=60"


def test_etag_304_and_head(srv: SiteServer) -> None:
    status, headers, body = _get(srv, "/news/a.html")
    etag = headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    status2, headers2, body2 = _get(srv, "/news/a.html", {"If-None-Match": etag})
    assert (status2, body2) == (304, b"")
    assert headers2["etag"] == etag
    assert _get(srv, "/news/a.html", {"If-None-Match": '"other"'})[0] == 200
    assert _get(srv, "/news/a.html", {"If-None-Match": f'"x", W/{etag}'})[0] == 304
    status3, headers3, body3 = _get(srv, "/news/a.html", method="HEAD")
    assert status3 == 200 and body3 == b"" and headers3["content-length"] == str(len(body))
    assert headers3["etag"] == etag


def test_if_modified_since(srv: SiteServer) -> None:
    lm = _get(srv, "/news/a.html")[1]["last-modified"]
    assert _get(srv, "/news/a.html", {"If-Modified-Since": lm})[0] == 304
    assert _get(srv, "/news/a.html", {"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})[0] == 200
    assert _get(srv, "/news/a.html", {"If-Modified-Since": "garbage"})[0] == 200
    # If-None-Match wins: a stale ETag means 200 even with a matching date.
    assert _get(srv, "/news/a.html", {"If-Modified-Since": lm, "If-None-Match": '"old"'})[0] == 200


def test_last_modified_is_stable_across_restarts(root: Path) -> None:
    with SiteServer(root) as one:
        first = _get(one, "/news/a.html")[1]
    with SiteServer(root) as two:
        second = _get(two, "/news/a.html")[1]
    assert first["last-modified"] == second["last-modified"]


def test_gzip_for_xml_and_on_request(srv: SiteServer) -> None:
    status, headers, body = _get(srv, "/rss.xml", {"Accept-Encoding": "gzip"})
    assert headers["content-encoding"] == "gzip"
    assert srv.base_url.encode() in gzip.decompress(body)
    assert "content-encoding" not in _get(srv, "/rss.xml")[1]  # not accepted → identity
    assert "content-encoding" not in _get(srv, "/rss.xml?gz=0", {"Accept-Encoding": "gzip"})[1]
    assert "content-encoding" not in _get(srv, "/news/a.html", {"Accept-Encoding": "gzip"})[1]
    status, headers, body = _get(srv, "/news/a.html?gz=1", {"Accept-Encoding": "gzip, deflate"})
    assert headers["content-encoding"] == "gzip" and b"<body>A</body>" in gzip.decompress(body)
    etag = headers["etag"]
    assert _get(srv, "/news/a.html?gz=1", {"Accept-Encoding": "gzip", "If-None-Match": etag})[0] == 304


def test_pre_encoded_file_is_not_compressed_twice(srv: SiteServer) -> None:
    status, headers, body = _get(srv, "/pre.xml", {"Accept-Encoding": "gzip"})
    assert headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == b"<rss></rss>"


def test_set_route_and_clear(srv: SiteServer) -> None:
    srv.set_route("/feed.xml", body=b"<rss><channel><link>__BASE__/x</link></channel></rss>", headers={"X-Test": "1"})
    status, headers, body = _get(srv, "/feed.xml")
    assert status == 200 and headers["x-test"] == "1"
    assert headers["content-type"] == "application/rss+xml"
    assert f"{srv.base_url}/x".encode() in body
    etag, lm = headers["etag"], headers["last-modified"]
    assert _get(srv, "/feed.xml", {"If-None-Match": etag})[0] == 304
    srv.set_route("/feed.xml", body=b"<rss><channel>new</channel></rss>")
    status, headers, _ = _get(srv, "/feed.xml", {"If-None-Match": etag, "If-Modified-Since": lm})
    assert status == 200 and headers["etag"] != etag
    srv.set_route("/news/a.html", status=410)
    assert _get(srv, "/news/a.html")[0] == 410
    srv.set_route("/news/index.html?x=1", status=503, headers={"Retry-After": "7"})
    assert _get(srv, "/news/index.html?x=1")[1]["retry-after"] == "7"
    assert _get(srv, "/news/index.html")[0] == 200
    srv.set_route("/robots.txt", headers={"X-Extra": "yes"})  # the file itself, headers added
    status, headers, body = _get(srv, "/robots.txt")
    assert headers["x-extra"] == "yes" and b"Disallow" in body
    srv.clear_routes()
    assert _get(srv, "/feed.xml")[0] == 404
    assert _get(srv, "/news/a.html")[0] == 200


def test_generated_prefix(srv: SiteServer) -> None:
    seen: list[str] = []

    def handler(path: str) -> tuple[int, dict[str, str], bytes]:
        seen.append(path)
        n = path.rsplit("/", 1)[-1]
        return 200, {"Content-Type": "text/html; charset=utf-8"}, f"<p>page {n}</p>".encode()

    srv.add_generated("/gen/", handler)
    status, headers, body = _get(srv, "/gen/17?q=1")
    assert (status, body) == (200, b"<p>page 17?q=1</p>")
    assert seen == ["/gen/17?q=1"]
    assert _get(srv, "/gen/17?q=1", {"If-None-Match": headers["etag"]})[0] == 304


def test_request_log_and_hits(srv: SiteServer) -> None:
    _get(srv, "/news/a.html", {"User-Agent": "newswatch/1.0"})
    etag = _get(srv, "/news/a.html")[1]["etag"]
    _get(srv, "/news/a.html", {"If-None-Match": etag})
    _get(srv, "/missing")
    _get(srv, "/robots.txt", method="HEAD")
    assert srv.hits("/news/") == 3
    assert srv.hits("/news/", status=304) == 1
    assert srv.hits("/missing", status=404) == 1
    first = srv.requests[0]
    assert (first.method, first.path, first.status) == ("GET", "/news/a.html", 200)
    assert first.headers["User-Agent"] == "newswatch/1.0"
    assert srv.requests[-1].method == "HEAD"
    srv.clear_log()
    assert srv.hits("/") == 0


def test_only_loopback(root: Path) -> None:
    with pytest.raises(UsageError):
        SiteServer(root, host="0.0.0.0")
    with pytest.raises(UsageError):
        SiteServer(root / "nope")


# -- faults ------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [404, 410, 500, 502, 418])
def test_fault_status(srv: SiteServer, code: int) -> None:
    assert _get(srv, f"/_fault/status/{code}?x=1")[0] == code


@pytest.mark.parametrize("code", [429, 503])
def test_fault_status_retry_after(srv: SiteServer, code: int) -> None:
    status, headers, _ = _get(srv, f"/_fault/status/{code}?retry_after=120")
    assert status == code and headers["retry-after"] == "120"
    assert "retry-after" not in _get(srv, f"/_fault/status/{code}")[1]


def test_fault_slow_then_page(srv: SiteServer) -> None:
    status, _, body = _get(srv, "/_fault/slow?seconds=0.2")
    assert status == 200 and b"Slow page" in body


def test_fault_slow_does_not_block_others(srv: SiteServer) -> None:
    done = threading.Event()

    def stalled_client() -> None:
        try:
            _get(srv, "/_fault/stall?seconds=30")
        except (OSError, http.client.HTTPException):
            pass  # the server stops at the end of the test, cutting this request
        done.set()

    worker = threading.Thread(target=stalled_client, daemon=True)
    worker.start()
    while srv.hits("/_fault/stall") == 0:
        threading.Event().wait(0.01)
    assert _get(srv, "/news/a.html")[0] == 200
    assert not done.is_set()  # the other request is still stalled while this one was served


def test_stall_ends_when_server_stops(root: Path) -> None:
    server = SiteServer(root).start()
    outcome: list[object] = []

    def client() -> None:
        try:
            outcome.append(_get(server, "/_fault/stall", timeout=120)[0])
        except (OSError, http.client.HTTPException) as exc:
            outcome.append(type(exc))

    worker = threading.Thread(target=client, daemon=True)
    worker.start()
    while server.hits("/_fault/stall") == 0:
        threading.Event().wait(0.01)
    server.stop()
    worker.join(timeout=20)  # the default stall is 60 s; stopping must end it long before
    assert not worker.is_alive()
    assert outcome and outcome[0] != 200
    assert server.requests[0].status == 0


def test_stop_returns_once_cut_requests_are_logged(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a stalled handler slow to wake: stop() still returns only after it logged the request as dropped
    drop = sitesrv._Handler._drop

    def slow_drop(self: sitesrv._Handler) -> None:
        threading.Event().wait(0.3)
        drop(self)

    monkeypatch.setattr(sitesrv._Handler, "_drop", slow_drop)
    server = SiteServer(root).start()
    worker = threading.Thread(target=lambda: _quietly(server, "/_fault/stall"), daemon=True)
    worker.start()
    while server.hits("/_fault/stall") == 0:
        threading.Event().wait(0.01)
    server.stop()
    assert server.requests[0].status == 0


def _quietly(server: SiteServer, path: str) -> None:
    try:
        _get(server, path, timeout=120)
    except (OSError, http.client.HTTPException):
        pass


def test_stall_after_headers(srv: SiteServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=0.5)
    conn.request("GET", "/_fault/stall?seconds=30&headers=1")
    resp = conn.getresponse()
    assert resp.status == 200
    with pytest.raises(TimeoutError):
        resp.read()  # half the body came, the rest never does
    conn.close()


def test_fault_huge_without_and_with_length(srv: SiteServer) -> None:
    status, headers, body = _get(srv, "/_fault/huge?mb=2")
    assert status == 200 and "content-length" not in headers
    assert len(body) == 2_000_000
    assert body.startswith(b"<!DOCTYPE html>") and body.endswith(b"</body></html>\n")
    status, headers, body = _get(srv, "/_fault/huge?mb=1.5&length=1")
    assert headers["content-length"] == "1500000" and len(body) == 1_500_000


def test_fault_gzipbomb(srv: SiteServer) -> None:
    status, headers, body = _get(srv, "/_fault/gzipbomb?mb=50", {"Accept-Encoding": "gzip"})
    assert headers["content-encoding"] == "gzip"
    assert len(body) < 200_000
    inflated = zlib.decompressobj(31).decompress(body, 60_000_000)
    assert len(inflated) > 50 * 1024 * 1024


@pytest.mark.parametrize("code", [301, 302, 307, 308])
def test_fault_redirect(srv: SiteServer, code: int) -> None:
    status, headers, _ = _get(srv, f"/_fault/redirect/{code}?to=/news/a.html")
    assert status == code and headers["location"] == srv.url("/news/a.html")
    assert _get(srv, f"/_fault/redirect/{code}?to=http://example.org/x")[1]["location"] == "http://example.org/x"


def test_fault_redirect_loop(srv: SiteServer) -> None:
    path = "/_fault/redirect-loop"
    seen = []
    for _ in range(4):
        status, headers, _ = _get(srv, path)
        assert status == 302
        path = headers["location"].removeprefix(srv.base_url)
        seen.append(path)
    assert seen[0] != seen[1] and seen[0] == seen[2]


def test_fault_drop(srv: SiteServer) -> None:
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        _get(srv, "/_fault/drop")
    assert srv.requests[-1].status == 0
    assert _get(srv, "/news/a.html")[0] == 200  # the server lives on


def test_fault_text(srv: SiteServer) -> None:
    status, headers, body = _get(srv, "/_fault/text?body=%D0%9D%D0%B0%D1%83%D0%BA%D0%B0&charset=koi8-r")
    assert headers["content-type"] == "text/html; charset=koi8-r"
    assert body == "Наука".encode("koi8-r")
    status, headers, body = _get(srv, "/_fault/text?body=x&type=application/rss%2Bxml&status=202")
    assert status == 202 and headers["content-type"] == "application/rss+xml"


def test_fault_headers_echo(srv: SiteServer) -> None:
    _, _, body = _get(srv, "/_fault/headers", {"User-Agent": "newswatch/1.0", "If-None-Match": '"a"'})
    echoed = json.loads(body)
    assert echoed["User-Agent"] == "newswatch/1.0" and echoed["If-None-Match"] == '"a"'


def test_restart_on_same_port(root: Path) -> None:
    server = SiteServer(root).start()
    port = server.port
    server.stop()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    again = SiteServer(root, port=port).start()
    try:
        assert _get(again, "/news/a.html")[0] == 200
    finally:
        again.stop()


# -- the sample site itself (fixtures/site) ------------------------------------------------------

import html as _html  # noqa: E402
import re  # noqa: E402
import xml.etree.ElementTree as ET  # noqa: E402

# Browsers decode gb2312/gbk labels as GB18030; the fixture relies on that (镕, 喆 are not in GB2312).
_CODEC = {"gb2312": "gb18030", "gbk": "gb18030"}


def _meta_charset(raw: bytes) -> str:
    found = re.search(rb'charset="?([\w-]+)', raw[:2048])
    assert found, "every article page declares its charset in <meta>"
    label = found.group(1).decode().lower()
    return _CODEC.get(label, label)


def _expected(fixtures_dir: Path) -> dict[str, dict]:
    return json.loads((fixtures_dir / "site" / "expected.json").read_text(encoding="utf-8"))


def test_expected_set_is_balanced(fixtures_dir: Path) -> None:
    expected = _expected(fixtures_dir)
    assert 20 <= len(expected) <= 26
    by_lang = {lang: [p for p, e in expected.items() if e["language"] == lang] for lang in ("en", "ru", "zh")}
    assert all(len(paths) >= 6 for paths in by_lang.values())
    for lang, paths in by_lang.items():
        topics = {expected[p]["topic"] for p in paths}
        assert topics == {True, False}, f"{lang} needs matches and hard negatives"
    stories: dict[str, set[str]] = {}
    for path, entry in expected.items():
        stories.setdefault(entry["story"], set()).add(path.split("/")[1])
        assert 2 <= len(entry["key_sentences"]) <= 3 and entry["boilerplate"]
        assert re.search(r"[+-]\d\d:\d\d$", entry["published"])
    copied = [s for s, outlets in stories.items() if len(outlets) > 1]
    assert 3 <= len(copied) <= 4


def test_every_article_page_is_served_in_its_real_encoding(site: SiteServer, fixtures_dir: Path) -> None:
    for path, entry in _expected(fixtures_dir).items():
        status, headers, raw = _get(site, path)
        assert status == 200, path
        assert b"__BASE__" not in raw
        text = _html.unescape(raw.decode(_meta_charset(raw)))  # strict: raises on a wrong charset
        assert f'<html lang="{entry["language"]}' in text, path
        assert entry["title"] in text
        for sentence in entry["key_sentences"]:
            assert sentence in text, (path, sentence)
        for junk in entry["boilerplate"]:
            assert junk in text, (path, junk)  # it is on the page, so extraction has to drop it
        assert 'property="article:published_time"' in text and 'name="description"' in text
        if entry["language"] == "ru" and entry["outlet"] == "vestnik":
            assert headers["content-type"] == "text/html; charset=windows-1251"
            raw.decode("cp1251")
            with pytest.raises(UnicodeDecodeError):
                raw.decode("utf-8")


def test_a_chinese_page_needs_more_than_gb2312(site: SiteServer) -> None:
    raw = _get(site, "/huaxia/2026/11/20/zhong-e-gongcheng-rencai-shouqi-biye.html")[2]
    assert b"charset=gb2312" in raw
    with pytest.raises(UnicodeDecodeError):
        raw.decode("gb2312")
    assert "王镕" in raw.decode("gb18030") and "李喆" in raw.decode("gb18030")


def _feed_links(raw: bytes, base: str) -> list[str]:
    """The entries' links (not the channel's), relative to the server."""
    root = ET.fromstring(raw)
    atom = "{http://www.w3.org/2005/Atom}"
    if root.tag == "rss":
        links = [item.findtext("link") or "" for item in root.iter("item")]
    else:
        links = [
            link.get("href", "")
            for entry in root.iter(f"{atom}entry")
            for link in entry.iter(f"{atom}link")
            if link.get("rel") == "alternate"
        ]
    return [link.removeprefix(base) for link in links]


def test_feeds_link_to_pages_with_the_designated_failures(site: SiteServer, fixtures_dir: Path) -> None:
    expected = _expected(fixtures_dir)
    seen_paths: set[str] = set()
    odd: list[str] = []
    for feed in ("/globalwire/rss.xml", "/vestnik/rss.xml", "/huaxia/atom.xml", "/digestnet/feed.xml"):
        status, headers, raw = _get(site, feed)
        assert status == 200 and headers["content-type"].startswith(("application/rss+xml", "application/atom+xml"))
        for link in _feed_links(raw, site.base_url):
            path = link.split("?")[0]
            if path in expected:
                seen_paths.add(path)
            else:
                odd.append(link)
    assert "/_fault/status/500?x=1" in odd
    assert any(_get(site, link)[0] == 404 for link in odd)
    assert len(odd) == 2
    # Every outlet with a feed has all its pages in it; the Academy has none (it is a listing).
    assert {p for p in expected if not p.startswith("/academy/")} == seen_paths
    raw = _get(site, "/globalwire/rss.xml")[2] + _get(site, "/digestnet/feed.xml")[2]
    assert raw.count(b"utm_source=") == 2
    vestnik = (fixtures_dir / "site" / "vestnik" / "rss.xml").read_bytes()
    assert vestnik.startswith(b'<?xml version="1.0" encoding="windows-1251"?>')
    digest = _get(site, "/digestnet/feed.xml")[2]
    assert b"<guid" not in digest and digest.count(b"<pubDate>") < digest.count(b"<item>")


def test_sitemaps_and_robots(site: SiteServer) -> None:
    index = _get(site, "/sitemap-index.xml")[2]
    assert site.url("/huaxia/sitemap-news.xml").encode() in index
    assert site.url("/globalwire/sitemap.xml").encode() in index
    news = ET.fromstring(_get(site, "/huaxia/sitemap-news.xml")[2])
    ns = {"news": "http://www.google.com/schemas/sitemap-news/0.9"}
    dates = [el.text or "" for el in news.iterfind(".//news:publication_date", ns)]
    assert len(dates) >= 6 and sum(d.startswith("2026-11-") for d in dates) >= 6
    assert all(el.text for el in news.iterfind(".//news:title", ns))
    robots = _get(site, "/robots.txt")[2].decode()
    assert "Disallow: /private/" in robots and f"Sitemap: {site.base_url}/sitemap-index.xml" in robots
    assert _get(site, "/private/secret.html")[0] == 200  # it exists; only robots.txt keeps crawlers out


def test_academy_listing_paginates_to_articles(site: SiteServer, fixtures_dir: Path) -> None:
    expected = _expected(fixtures_dir)
    academy = {p for p in expected if p.startswith("/academy/")}
    found: set[str] = set()
    page = "/academy/news/index.html"
    pages = 0
    while page:
        pages += 1
        text = _get(site, page)[2].decode("utf-8")
        found |= {m.removeprefix(site.base_url) for m in re.findall(r'href="([^"]+/news/\d{4}/\d\d/[^"]+)"', text)}
        nxt = re.search(r'class="next" href="([^"]+)"', text)
        page = "/academy/news/" + nxt.group(1) if nxt else ""
    assert pages == 2 and found == academy


ENCODING_CASES = {
    "cp1251-header": "cp1251",
    "cp1251-nocharset": "cp1251",
    "cp1251-header-lies-utf8": "cp1251",
    "koi8r-header-says-cp1251": "koi8-r",
    "utf8-bom-header-says-cp1251": "utf-8-sig",
    "gbk-declared-gb2312": "gbk",
    "gb18030-4byte": "gb18030",
    "utf8-nocharset": "utf-8",
}


@pytest.mark.parametrize("name", sorted(ENCODING_CASES))
def test_encoding_cases_hold_their_golden_text(site: SiteServer, fixtures_dir: Path, name: str) -> None:
    status, headers, raw = _get(site, f"/enc/{name}.html")
    assert status == 200
    golden = (fixtures_dir / "site" / "enc" / "expected" / f"{name}.txt").read_text(encoding="utf-8")
    text = _html.unescape(raw.decode(ENCODING_CASES[name]))
    lines = golden.splitlines()
    assert len(lines) >= 3 and all(line in text for line in lines)
    declared = headers.get("content-type", "")
    if "lies" in name or "says" in name:
        label = declared.split("charset=")[1]
        try:
            wrong = raw.decode(label)
        except UnicodeDecodeError:
            return  # the lie cannot even decode: a careful decoder notices at once
        assert not all(line in wrong for line in lines)  # decoding by the header is mojibake


def test_broken_inputs_are_really_broken(site: SiteServer, fixtures_dir: Path) -> None:
    broken = fixtures_dir / "site" / "broken"
    assert (broken / "empty.xml").read_bytes() == b""
    with pytest.raises((EOFError, OSError, zlib.error)):
        gzip.decompress((broken / "truncated-gzip.xml").read_bytes())
    status, headers, raw = _get(site, "/broken/truncated-gzip.xml", {"Accept-Encoding": "gzip"})
    assert headers["content-encoding"] == "gzip" and raw == (broken / "truncated-gzip.xml").read_bytes()
    assert b"<!ENTITY lol9" in (broken / "billion-laughs.xml").read_bytes()
    xxe = _get(site, "/broken/xxe.xml")[2]
    assert b'SYSTEM "file:///etc/passwd"' in xxe and site.url("/_fault/headers").encode() in xxe
    with pytest.raises(ET.ParseError):
        ET.fromstring((broken / "bozo.xml").read_bytes())
    assert _get(site, "/broken/html-feed.xml")[1]["content-type"].startswith("text/html")


def test_a_client_that_resets_its_connection_prints_no_traceback(capfd: pytest.CaptureFixture[str]) -> None:
    # A crawler may drop a kept-alive connection with a reset; socketserver would print a traceback
    # (into `newswatch demo`'s terminal, or into the output a test reads back).
    import struct
    import time

    with SiteServer(Path(__file__).resolve().parent.parent / "fixtures" / "site") as srv:
        for _ in range(3):
            conn = socket.create_connection(("127.0.0.1", srv.port))
            conn.sendall(b"GET /robots.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            conn.recv(1)  # the server has read the request and is answering
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()  # a reset, not a FIN
        time.sleep(0.5)  # the handler threads meet the reset on their next read
        assert _get(srv, "/robots.txt")[0] == 200, "the server still serves"
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Connection reset" not in err, err
