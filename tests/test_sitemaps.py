"""Sitemaps: urlsets with Google News tags, indexes, gzip, the time window, hostile XML."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crawler import sitemaps
from crawler.errors import FetchError
from crawler.sitemaps import (
    MAX_UNCOMPRESSED,
    ParsedSitemap,
    SitemapEntry,
    entries_since,
    parse_sitemap,
)

SITEMAP_URL = "https://www.example.ru/sitemaps/news.xml"

NEWS_SITEMAP = """<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"
        xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">
  <url>
    <loc>https://www.example.ru/science/2024/05/13/lab</loc>
    <lastmod>2024-05-13T12:40:00+03:00</lastmod>
    <news:news>
      <news:publication><news:name>Example</news:name><news:language>ru</news:language></news:publication>
      <news:publication_date>2024-05-13T10:00:00+03:00</news:publication_date>
      <news:title>Учёные России и Китая создадут совместную лабораторию</news:title>
    </news:news>
    <image:image><image:loc>https://cdn.example.ru/1.jpg</image:loc></image:image>
  </url>
  <url>
    <loc>https://www.example.ru/science/2024/05/01/old</loc>
    <news:news>
      <news:publication><news:name>Example</news:name><news:language>zh-cn</news:language></news:publication>
      <news:publication_date>2024-05-01</news:publication_date>
      <news:title>中俄 &amp; 科技</news:title>
    </news:news>
  </url>
  <url><loc>https://www.example.ru/about</loc><lastmod>2023-01-10</lastmod></url>
  <url><loc>https://www.example.ru/undated</loc></url>
  <url><loc>/relative/page</loc><lastmod>2024-05-13T07:00Z</lastmod></url>
  <url><loc>javascript:alert(1)</loc></url>
  <url><lastmod>2024-05-13</lastmod></url>
</urlset>
"""

INDEX = """<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>https://www.example.ru/sitemaps/news-1.xml</loc><lastmod>2024-05-13</lastmod></sitemap>
  <sitemap><loc>https://www.example.ru/sitemaps/news-2.xml.gz</loc></sitemap>
  <sitemap><loc>/sitemaps/archive.xml</loc></sitemap>
  <sitemap><loc>https://www.example.ru/sitemaps/news-1.xml</loc></sitemap>
</sitemapindex>
"""


def test_news_urlset() -> None:
    parsed = parse_sitemap(NEWS_SITEMAP.encode("utf-8"), SITEMAP_URL)
    assert parsed.sitemaps == ()
    assert [e.loc for e in parsed.entries] == [
        "https://www.example.ru/science/2024/05/13/lab",
        "https://www.example.ru/science/2024/05/01/old",
        "https://www.example.ru/about",
        "https://www.example.ru/undated",
        "https://www.example.ru/relative/page",
    ]
    lab, old, about, undated, relative = parsed.entries
    assert lab == SitemapEntry(
        loc="https://www.example.ru/science/2024/05/13/lab",
        lastmod=datetime(2024, 5, 13, 9, 40, tzinfo=UTC),
        news_title="Учёные России и Китая создадут совместную лабораторию",
        news_published=datetime(2024, 5, 13, 7, 0, tzinfo=UTC),
        language="ru",
    )
    assert old.news_title == "中俄 & 科技"
    assert old.news_published == datetime(2024, 5, 1, tzinfo=UTC)
    assert old.language == "zh"
    assert about.lastmod == datetime(2023, 1, 10, tzinfo=UTC) and about.news_title is None
    assert undated.lastmod is None and undated.news_published is None
    assert relative.lastmod == datetime(2024, 5, 13, 7, 0, tzinfo=UTC)


def test_sitemap_index() -> None:
    parsed = parse_sitemap(INDEX.encode("utf-8"), SITEMAP_URL)
    assert parsed.entries == ()
    assert parsed.sitemaps == (
        "https://www.example.ru/sitemaps/news-1.xml",
        "https://www.example.ru/sitemaps/news-2.xml.gz",
        "https://www.example.ru/sitemaps/archive.xml",
    )


def test_gzipped_sitemap() -> None:
    plain = parse_sitemap(NEWS_SITEMAP.encode("utf-8"), SITEMAP_URL)
    zipped = parse_sitemap(gzip.compress(NEWS_SITEMAP.encode("utf-8")), SITEMAP_URL + ".gz")
    assert zipped == plain


def test_gzip_bomb_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    assert MAX_UNCOMPRESSED == 50 * 2**20
    monkeypatch.setattr(sitemaps, "MAX_UNCOMPRESSED", 2**20)  # same check, smaller bomb: fast
    bomb = gzip.compress(b"<urlset>" + b" " * (2**20 + 10))
    with pytest.raises(FetchError, match="more than 1 MB"):
        parse_sitemap(bomb, SITEMAP_URL + ".gz")


def test_truncated_gzip_keeps_complete_entries() -> None:
    zipped = gzip.compress(NEWS_SITEMAP.encode("utf-8"))
    parsed = parse_sitemap(zipped[: len(zipped) * 3 // 4], SITEMAP_URL + ".gz")
    assert parsed.entries[0].loc == "https://www.example.ru/science/2024/05/13/lab"


def test_damaged_gzip_is_an_error() -> None:
    with pytest.raises(FetchError, match="damaged gzip"):
        parse_sitemap(b"\x1f\x8b\x08\x00garbage", SITEMAP_URL + ".gz")


def test_window_filter() -> None:
    parsed = parse_sitemap(NEWS_SITEMAP.encode("utf-8"), SITEMAP_URL)
    since = datetime(2024, 5, 13, 6, 0, tzinfo=UTC)
    kept = [e.loc.rsplit("/", 1)[-1] for e in entries_since(parsed, since)]
    # 'lab' published after since; 'old' and 'about' before; 'undated' kept; 'page' by lastmod.
    assert kept == ["lab", "undated", "page"]
    # The boundary is inclusive, and publication date wins over a later lastmod.
    at_publication = entries_since(parsed, datetime(2024, 5, 13, 7, 0, tzinfo=UTC))
    assert at_publication[0].loc.endswith("/lab")
    later = datetime(2024, 5, 13, 8, 0, tzinfo=UTC)
    assert "lab" not in [e.loc.rsplit("/", 1)[-1] for e in entries_since(parsed, later)]
    assert len(entries_since(parsed, since - timedelta(days=3650))) == 5


def test_window_with_naive_since_is_utc() -> None:
    parsed = parse_sitemap(NEWS_SITEMAP.encode("utf-8"), SITEMAP_URL)
    assert entries_since(parsed, datetime(2024, 5, 13, 6, 0)) == entries_since(
        parsed, datetime(2024, 5, 13, 6, 0, tzinfo=UTC)
    )


def test_cp1251_news_sitemap() -> None:
    body = NEWS_SITEMAP.replace('encoding="UTF-8"', 'encoding="windows-1251"')
    body = body.replace("中俄 &amp; 科技", "Россия &amp; Китай").encode("cp1251")
    parsed = parse_sitemap(body, SITEMAP_URL)
    assert parsed.entries[0].news_title == "Учёные России и Китая создадут совместную лабораторию"
    assert parsed.entries[1].news_title == "Россия & Китай"


def test_plain_text_sitemap() -> None:
    body = b"https://www.example.ru/a\n\nhttps://www.example.ru/b\r\nhttps://www.example.ru/a\n"
    parsed = parse_sitemap(body, "https://www.example.ru/sitemap.txt")
    assert [e.loc for e in parsed.entries] == [
        "https://www.example.ru/a",
        "https://www.example.ru/b",
    ]


@pytest.mark.parametrize(
    ("body", "got"),
    [
        (
            b"<!DOCTYPE html><html><head><title>404</title></head><body>Not found</body></html>",
            "an HTML page",
        ),
        (b'<rss version="2.0"><channel><title>x</title></channel></rss>', "<rss>"),
        (b"Service Unavailable", "text that is not a list of URLs"),
        (b"", "an empty document"),
    ],
)
def test_not_a_sitemap(body: bytes, got: str) -> None:
    with pytest.raises(FetchError, match="is not a sitemap") as info:
        parse_sitemap(body, SITEMAP_URL)
    assert got in str(info.value)
    assert SITEMAP_URL in str(info.value)


def test_billion_laughs_does_not_expand() -> None:
    levels = "\n".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    body = (
        f'<?xml version="1.0"?>\n<!DOCTYPE urlset [\n<!ENTITY lol0 "lol">\n{levels}\n]>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<url><loc>https://www.example.ru/a</loc><news:news xmlns:news='http://www.google.com/schemas/sitemap-news/0.9'>"
        "<news:title>&lol9;</news:title></news:news></url></urlset>"
    ).encode()
    parsed = parse_sitemap(body, SITEMAP_URL)
    assert [e.loc for e in parsed.entries] == ["https://www.example.ru/a"]
    assert "lollol" not in (parsed.entries[0].news_title or "")


def test_external_entities_are_not_read() -> None:
    body = (
        b'<?xml version="1.0"?>\n<!DOCTYPE urlset [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc>https://www.example.ru/&xxe;</loc></url>"
        b"<url><loc>https://www.example.ru/b</loc><lastmod>&xxe;</lastmod></url></urlset>"
    )
    parsed = parse_sitemap(body, SITEMAP_URL)
    passwd = Path("/etc/passwd").read_text(encoding="utf-8", errors="replace").splitlines()[0]
    assert passwd not in repr(parsed)
    assert "root:" not in repr(parsed)
    assert parsed.entries[-1] == SitemapEntry("https://www.example.ru/b", None, None, None, None)


def test_dates_in_several_w3c_forms() -> None:
    rows = {
        "2024": datetime(2024, 1, 1, tzinfo=UTC),
        "2024-05": datetime(2024, 5, 1, tzinfo=UTC),
        "2024-05-13T10:00:00.250Z": datetime(2024, 5, 13, 10, 0, 0, 250000, tzinfo=UTC),
        "2024-05-13T10:00:00+08:00": datetime(2024, 5, 13, 2, 0, tzinfo=UTC),
        "2024-05-13T10:00:00": datetime(2024, 5, 13, 10, 0, tzinfo=UTC),
        "Mon, 13 May 2024 10:00:00 +0300": datetime(2024, 5, 13, 7, 0, tzinfo=UTC),
        "yesterday": None,
    }
    urls = "".join(
        f"<url><loc>https://www.example.ru/{i}</loc><lastmod>{value}</lastmod></url>" for i, value in enumerate(rows)
    )
    parsed = parse_sitemap(f"<urlset>{urls}</urlset>".encode(), SITEMAP_URL)
    assert [e.lastmod for e in parsed.entries] == list(rows.values())


def test_stray_ampersand_loses_nothing_else() -> None:
    body = (
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc>https://www.example.ru/a?x=1&y=2</loc></url>"
        b"<url><loc>https://www.example.ru/b</loc></url></urlset>"
    )
    parsed = parse_sitemap(body, SITEMAP_URL)
    assert "https://www.example.ru/b" in [e.loc for e in parsed.entries]


def test_empty_urlset() -> None:
    assert parse_sitemap(
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"/>', SITEMAP_URL
    ) == ParsedSitemap((), ())
