"""Feed parsing: RSS 2.0, Atom, RSS 1.0, legacy encodings, stable keys, malformed and hostile feeds."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawler.errors import FetchError
from crawler.feeds import FeedEntry, ParsedFeed, parse_feed, plain_text
from crawler.textnorm import language_code

FEED_URL = "https://news.example.ru/rss/science.xml"

RSS2 = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
  <title>Science &amp; Technology — Example News</title>
  <link>https://news.example.ru/science</link>
  <language>en-us</language>
  <item>
    <title>Russia and China to build joint &lt;b&gt;fusion&lt;/b&gt; lab</title>
    <link>https://news.example.ru/science/2024/05/13/fusion-lab?utm_source=rss&amp;utm_medium=feed</link>
    <guid isPermaLink="false">news-example-88412</guid>
    <description><![CDATA[<p>The Russian Academy of Sciences and the <a href="/tags/cas">Chinese Academy</a> of Sciences
      signed an agreement on Monday.</p><script>track()</script><p>Work starts in&nbsp;2025.</p>]]></description>
    <pubDate>Mon, 13 May 2024 09:30:00 +0300</pubDate>
    <author>desk@example.ru (Anna Petrova)</author>
  </item>
  <item>
    <title>Rosatom signs fuel deal for Tianwan units</title>
    <link>/science/2024/05/12/tianwan</link>
    <description>Fuel supplies for units 7 and 8.</description>
    <pubDate>Sun, 12 May 2024 18:05:00 GMT</pubDate>
    <dc:creator>Ivan Sokolov</dc:creator>
  </item>
</channel>
</rss>
"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="zh-CN">
  <title>科技频道</title>
  <id>tag:example.cn,2024:science</id>
  <updated>2024-05-13T08:00:00+08:00</updated>
  <link rel="self" href="https://www.example.cn/atom.xml"/>
  <entry>
    <title type="html">中俄联合实验室在哈尔滨揭牌</title>
    <id>tag:example.cn,2024:article-5521</id>
    <link rel="alternate" type="text/html" href="article/5521.html"/>
    <published>2024-05-13T08:00:00+08:00</published>
    <updated>2024-05-13T09:15:00+08:00</updated>
    <author><name>新华社记者</name></author>
    <summary type="html">&lt;p&gt;中俄两国科学家将在&lt;em&gt;高温超导&lt;/em&gt;领域开展合作。&lt;/p&gt;</summary>
  </entry>
  <entry xml:lang="en">
    <title>Harbin lab opens</title>
    <id>tag:example.cn,2024:article-5522</id>
    <link href="https://www.example.cn/en/5522.html"/>
    <updated>2024-05-12T23:00:00Z</updated>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>An English <b>summary</b>.</p></div></content>
  </entry>
</feed>
"""

RSS1 = """<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
         xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://science.example.org/rss">
    <title>Academy news</title>
    <link>https://science.example.org/</link>
    <description>News of the academy</description>
    <dc:language>ru</dc:language>
    <items><rdf:Seq><rdf:li resource="https://science.example.org/news/1"/></rdf:Seq></items>
  </channel>
  <item rdf:about="https://science.example.org/news/1">
    <title>Академия наук избрала иностранных членов</title>
    <link>https://science.example.org/news/1</link>
    <description>Среди избранных — 25 инженеров из Китая.</description>
    <dc:date>2024-05-13T10:00:00+03:00</dc:date>
  </item>
</rdf:RDF>
"""

CP1251_RSS = """<?xml version="1.0" encoding="windows-1251"?>
<rss version="2.0"><channel><title>Новости науки</title><language>ru</language>
<item><title>Учёные России и Китая создадут лабораторию «Арктика»</title>
<link>https://example.ru/news/arctic</link>
<description>Соглашение подписали в Новосибирске — на полях форума «Технопром».</description>
<pubDate>Tue, 14 May 2024 12:00:00 +0300</pubDate></item>
</channel></rss>
"""

NO_IDS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Bare</title>
<item><title>Only a title and text</title><description>First story without guid, link or date.</description></item>
<item><title>Another one</title><description>Second story, also bare.</description></item>
<item><title>Same guid everywhere</title><guid>https://bare.example.com/</guid><link>https://bare.example.com/a</link></item>
<item><title>Same guid everywhere 2</title><guid>https://bare.example.com/</guid><link>https://bare.example.com/b?utm_source=x</link></item>
</channel></rss>
"""


def test_rss2() -> None:
    feed = parse_feed(RSS2.encode("utf-8"), FEED_URL, "application/rss+xml; charset=utf-8")
    assert feed.title == "Science & Technology — Example News"
    assert feed.warning is None
    first, second = feed.entries
    assert first == FeedEntry(
        key="news-example-88412",
        link="https://news.example.ru/science/2024/05/13/fusion-lab?utm_source=rss&utm_medium=feed",
        title="Russia and China to build joint fusion lab",
        summary="The Russian Academy of Sciences and the Chinese Academy of Sciences signed an "
        "agreement on Monday. Work starts in\xa02025.".replace("\xa0", " "),
        published=datetime(2024, 5, 13, 6, 30, tzinfo=UTC),
        author="Anna Petrova",
        language="en",
    )
    # Relative links resolve against the feed URL; keys fall back to the canonical link.
    assert second.link == "https://news.example.ru/science/2024/05/12/tianwan"
    assert second.key == "https://news.example.ru/science/2024/05/12/tianwan"
    assert second.author == "Ivan Sokolov"
    assert second.published == datetime(2024, 5, 12, 18, 5, tzinfo=UTC)


def test_atom() -> None:
    feed = parse_feed(ATOM.encode("utf-8"), "https://www.example.cn/atom.xml", "application/atom+xml")
    assert feed.title == "科技频道"
    zh, en = feed.entries
    assert zh.key == "tag:example.cn,2024:article-5521"
    assert zh.link == "https://www.example.cn/article/5521.html"
    assert zh.title == "中俄联合实验室在哈尔滨揭牌"
    assert zh.summary == "中俄两国科学家将在高温超导领域开展合作。"
    assert zh.published == datetime(2024, 5, 13, 0, 0, tzinfo=UTC)
    assert zh.author == "新华社记者"
    assert zh.language == "zh"
    assert en.summary == "An English summary."
    assert en.published == datetime(2024, 5, 12, 23, 0, tzinfo=UTC)  # updated when not published
    assert en.language == "en"


def test_rss1() -> None:
    feed = parse_feed(RSS1.encode("utf-8"), "https://science.example.org/rss", "application/rdf+xml")
    (entry,) = feed.entries
    assert entry.title == "Академия наук избрала иностранных членов"
    assert entry.link == "https://science.example.org/news/1"
    assert entry.summary == "Среди избранных — 25 инженеров из Китая."
    assert entry.published == datetime(2024, 5, 13, 7, 0, tzinfo=UTC)
    assert entry.language == "ru"


@pytest.mark.parametrize(
    "content_type",
    [
        "application/rss+xml",
        "application/rss+xml; charset=windows-1251",
        "text/xml; charset=utf-8",
        "text/html",
        None,
    ],
)
def test_cp1251_feed_decodes_exactly_whatever_the_header_says(content_type: str | None) -> None:
    feed = parse_feed(CP1251_RSS.encode("cp1251"), "https://example.ru/rss", content_type)
    (entry,) = feed.entries
    assert feed.title == "Новости науки"
    assert entry.title == "Учёные России и Китая создадут лабораторию «Арктика»"
    assert entry.summary == "Соглашение подписали в Новосибирске — на полях форума «Технопром»."
    assert feed.warning is None


def test_cp1251_feed_without_declaration() -> None:
    body = CP1251_RSS.replace(' encoding="windows-1251"', "").encode("cp1251")
    feed = parse_feed(body, "https://example.ru/rss", "application/rss+xml")
    assert feed.entries[0].title == "Учёные России и Китая создадут лабораторию «Арктика»"


def test_gb18030_feed_with_lying_header() -> None:
    body = ATOM.replace('encoding="utf-8"', 'encoding="gb2312"').encode("gb18030")
    feed = parse_feed(body, "https://www.example.cn/atom.xml", "application/atom+xml; charset=utf-8")
    assert feed.entries[0].title == "中俄联合实验室在哈尔滨揭牌"


def test_entries_without_guid_link_or_date_get_stable_keys() -> None:
    first = parse_feed(NO_IDS.encode("utf-8"), "https://bare.example.com/feed", None)
    second = parse_feed(NO_IDS.encode("utf-8"), "https://bare.example.com/feed", None)
    keys = [e.key for e in first.entries]
    assert keys == [e.key for e in second.entries]
    assert len(set(keys)) == 4
    assert keys[0].startswith("sha1:") and keys[1].startswith("sha1:")
    # One guid shared by every item is no identity: the links are used instead.
    assert keys[2:] == ["https://bare.example.com/a", "https://bare.example.com/b"]
    assert first.entries[0].link is None and first.entries[0].published is None


def test_key_changes_when_the_bare_entry_changes() -> None:
    before = parse_feed(NO_IDS.encode("utf-8"), "https://bare.example.com/feed", None).entries[0].key
    edited = NO_IDS.replace("First story without guid", "First story, edited,")
    after = parse_feed(edited.encode("utf-8"), "https://bare.example.com/feed", None).entries[0].key
    assert before != after


def test_non_http_links_are_dropped() -> None:
    body = RSS2.replace("/science/2024/05/12/tianwan", "javascript:alert(1)").encode("utf-8")
    entry = parse_feed(body, FEED_URL, None).entries[1]
    assert entry.link is None
    assert entry.key.startswith("sha1:")


def test_bozo_feed_yields_entries_and_a_warning() -> None:
    broken = RSS2.replace("</channel>\n</rss>\n", "").replace("<title>Rosatom", "<title>Rosatom & partners")
    feed = parse_feed(broken.encode("utf-8"), FEED_URL, "application/rss+xml")
    assert [e.title for e in feed.entries] == [
        "Russia and China to build joint fusion lab",
        "Rosatom & partners signs fuel deal for Tianwan units",
    ]
    assert feed.warning is not None
    assert FEED_URL in feed.warning and "malformed" in feed.warning


@pytest.mark.parametrize(
    "body",
    [
        b"<!DOCTYPE html>\n<html><head><title>News</title></head><body><a href='/rss'>RSS</a></body></html>",
        b"<html><body><p>Moved</p></body></html>",
        "\ufeff  <!-- cms -->\n<HTML lang='ru'><body><p>Главная</p><item>x</item></body></HTML>".encode("utf-8"),
    ],
)
def test_html_page_served_as_feed_is_an_error(body: bytes) -> None:
    with pytest.raises(FetchError, match=r"is not an RSS or Atom feed \(got an HTML page\); check the source's url"):
        parse_feed(body, FEED_URL, "text/html")


@pytest.mark.parametrize("body", [b'{"items": []}', b"Service temporarily unavailable", b"", b"/etc/passwd"])
def test_body_that_is_no_feed_is_an_error(body: bytes) -> None:
    with pytest.raises(FetchError, match="is not an RSS or Atom feed"):
        parse_feed(body, FEED_URL, "application/json" if body.startswith(b"{") else None)


def test_empty_but_valid_feed_has_no_entries() -> None:
    feed = parse_feed(b'<rss version="2.0"><channel><title>Quiet</title></channel></rss>', FEED_URL)
    assert feed == ParsedFeed(title="Quiet", entries=(), warning=None)


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE rss [
<!ENTITY lol "lol">
<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>Bomb</title>
<item><title>&lol9;</title><link>https://evil.example/1</link></item></channel></rss>
"""


def test_billion_laughs_is_refused() -> None:
    with pytest.raises(FetchError, match="entity-expansion") as info:
        parse_feed(BILLION_LAUGHS.encode("utf-8"), FEED_URL, "application/rss+xml")
    assert "lollollol" not in str(info.value)


def test_quadratic_blowup_is_refused() -> None:
    big = "A" * 50_000
    refs = "&big;" * 50_000
    body = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY big "{big}">]>'
        f'<rss version="2.0"><channel><title>t</title><item><title>x</title><description>{refs}</description>'
        "</item></channel></rss>"
    ).encode()
    with pytest.raises(FetchError, match="entity-expansion"):
        parse_feed(body, FEED_URL, "application/rss+xml")


@pytest.mark.parametrize(
    "declaration",
    [
        '<!ENTITY xxe SYSTEM "file:///etc/passwd">',
        '<!ENTITY xxe PUBLIC "-//X//Y" "file:///etc/passwd">',
        '<!ENTITY % remote SYSTEM "http://127.0.0.1:1/evil.dtd"> %remote;',
    ],
)
def test_external_entities_are_refused(declaration: str) -> None:
    body = (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [{declaration}]>\n'
        '<rss version="2.0"><channel><title>t</title><item><title>a &xxe; b</title>'
        "<description>&xxe;</description><link>https://evil.example/1</link></item></channel></rss>"
    ).encode()
    with pytest.raises(FetchError, match="XXE") as info:
        parse_feed(body, FEED_URL, "application/rss+xml")
    passwd = Path("/etc/passwd").read_text(encoding="utf-8", errors="replace").splitlines()[0]
    assert passwd not in str(info.value)


def test_harmless_entity_declaration_is_parsed_without_reading_files() -> None:
    body = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY site "Example News">]>\n'
        b'<rss version="2.0"><channel><title>&site;</title><item><title>From &site;</title>'
        b"<link>https://example.com/1</link></item></channel></rss>"
    )
    feed = parse_feed(body, FEED_URL, "application/rss+xml")
    assert [e.link for e in feed.entries] == ["https://example.com/1"]
    assert "root:" not in repr(feed)


def test_body_that_names_a_local_file_is_not_read() -> None:
    # feedparser treats bytes/str arguments as file names first; we must hand it a stream.
    with pytest.raises(FetchError):
        parse_feed(b"/etc/hostname", FEED_URL, None)


def test_large_feed_parses() -> None:
    items = "".join(
        f"<item><title>Story {i}: научное сотрудничество</title><link>https://example.com/{i}</link>"
        f"<description>Text {i} about cooperation.</description></item>"
        for i in range(300)
    )
    body = f'<rss version="2.0"><channel><title>Big</title>{items}</channel></rss>'.encode()
    feed = parse_feed(body, FEED_URL, "application/rss+xml")
    assert len(feed.entries) == 300
    assert len({e.key for e in feed.entries}) == 300
    assert feed.entries[299].title == "Story 299: научное сотрудничество"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("ru-RU", "ru"),
        ("zh_CN", "zh"),
        ("EN", "en"),
        ("rus", "ru"),
        ("zho", "zh"),
        ("", None),
        (None, None),
        ("x-klingon", None),
    ],
)
def test_language_code(value: str | None, code: str | None) -> None:
    assert language_code(value) == code


def test_plain_text() -> None:
    assert (
        plain_text("<p>A&amp;B</p><p>C&nbsp;D</p><style>p{}</style><script>x()</script>  E") == "A&B C D E"
    )  # no-break spaces collapse too
    assert plain_text("no markup   here\n") == "no markup here"
