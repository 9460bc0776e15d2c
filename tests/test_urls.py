"""Canonical URLs, registrable domains, and refusing private addresses."""

from __future__ import annotations

import socket

import pytest

from crawler import urls
from crawler.errors import FetchError
from crawler.urls import canonicalize, check_url, choose_canonical, is_http_url, registrable_domain


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://Example.COM", "http://example.com/"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("https://example.com:80/a", "https://example.com:80/a"),
        ("https://example.com/a#comments", "https://example.com/a"),
        (
            "https://example.com/news?id=5&utm_source=tw&utm_medium=social",
            "https://example.com/news?id=5",
        ),
        ("https://example.com/a?utm_campaign=x", "https://example.com/a"),
        ("https://example.com/a?fbclid=IwAR0abc&page=2", "https://example.com/a?page=2"),
        ("https://example.com/a?b=2&a=1", "https://example.com/a?b=2&a=1"),
        (
            "https://example.com/a?gclid=1&yclid=2&ysclid=3&msclkid=4&dclid=5",
            "https://example.com/a",
        ),
        (
            "https://item.example.cn/1.html?spm=a21bo.123&id=7",
            "https://item.example.cn/1.html?id=7",
        ),
        (
            "https://example.com/a?_hsenc=x&_hsmi=y&mc_cid=z&mc_eid=w&igshid=v",
            "https://example.com/a",
        ),
        (
            "https://example.com/a?ref_src=twsrc%5Etfw&__twitter_impression=true",
            "https://example.com/a",
        ),
        ("https://example.com/a?at_medium=rss&at_campaign=feed&q=1", "https://example.com/a?q=1"),
        ("https://example.com/a?UTM_Source=x", "https://example.com/a"),
        ("https://example.com/a?from=rss&ref=home", "https://example.com/a?from=rss&ref=home"),
        ("https://example.com/a?flag&x=", "https://example.com/a?flag&x="),
        ("https://example.com/%7Euser/%41%62c", "https://example.com/~user/Abc"),
        ("https://example.com/a%2fb%3f", "https://example.com/a%2Fb%3F"),
        ("https://example.com/a b", "https://example.com/a%20b"),
        (
            "https://example.com/новости/наука",
            "https://example.com/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8/%D0%BD%D0%B0%D1%83%D0%BA%D0%B0",
        ),
        ("https://example.com/%d0%bd", "https://example.com/%D0%BD"),
        ("https://example.com/100%", "https://example.com/100%25"),
        ("https://example.com/a/./b/../c", "https://example.com/a/c"),
        (
            "https://пример.рф/статья",
            "https://xn--e1afmkfd.xn--p1ai/%D1%81%D1%82%D0%B0%D1%82%D1%8C%D1%8F",
        ),
        ("https://新华网.中国/a", "https://xn--xkrr14bows.xn--fiqs8s/a"),
        ("https://example.com./a", "https://example.com/a"),
        ("http://[2001:DB8::1]:80/a", "http://[2001:db8::1]/a"),
        ("  https://example.com/a  ", "https://example.com/a"),
        (
            "https://example.com/search?q=%E4%B8%AD%E4%BF%84",
            "https://example.com/search?q=%E4%B8%AD%E4%BF%84",
        ),
        ("https://example.com/search?q=中俄", "https://example.com/search?q=%E4%B8%AD%E4%BF%84"),
    ],
)
def test_canonicalize(url: str, expected: str) -> None:
    assert canonicalize(url) == expected


def test_canonicalize_is_idempotent() -> None:
    for url in ("https://Пример.рф:443/а б?utm_x=1&q=%7e#x", "http://example.com/%41/../b?b=1&a=2"):
        once = canonicalize(url)
        assert canonicalize(once) == once


def test_same_page_at_several_urls_is_one_url() -> None:
    variants = [
        "https://www.tass.ru/nauka/123",
        "HTTPS://WWW.TASS.RU:443/nauka/123#top",
        "https://www.tass.ru/nauka/123?utm_source=yandex.ru&utm_medium=organic&yclid=99",
        "https://www.tass.ru/nauka/./123",
    ]
    assert {canonicalize(v) for v in variants} == {"https://www.tass.ru/nauka/123"}


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("news.bbc.co.uk", "bbc.co.uk"),
        ("www.xinhuanet.com", "xinhuanet.com"),
        ("english.news.cn", "news.cn"),
        ("ria.ru", "ria.ru"),
        ("WWW.RIA.RU", "ria.ru"),
        ("www.gov.cn", "www.gov.cn"),
        ("sub.example.com.cn", "example.com.cn"),
        ("someone.github.io", "someone.github.io"),
        ("xn--e1afmkfd.xn--p1ai", "xn--e1afmkfd.xn--p1ai"),
        ("127.0.0.1", "127.0.0.1"),
        ("::1", "::1"),
        ("[::1]", "::1"),
        ("localhost", "localhost"),
        ("example.com.", "example.com"),
    ],
)
def test_registrable_domain(host: str, expected: str) -> None:
    assert registrable_domain(host) == expected


def test_registrable_domain_needs_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    urls._extractor.cache_clear()
    try:
        assert registrable_domain("www.kremlin.ru") == "kremlin.ru"
        assert registrable_domain("a.b.example.co.jp") == "example.co.jp"
    finally:
        urls._extractor.cache_clear()


@pytest.mark.parametrize(
    ("page", "declared", "expected"),
    [
        ("https://www.example.com/a?utm_source=x", None, "https://www.example.com/a"),
        ("https://www.example.com/a", "", "https://www.example.com/a"),
        ("https://www.example.com/a?id=1", "/news/a-story", "https://www.example.com/news/a-story"),
        ("https://m.example.com/a", "https://www.example.com/a#x", "https://www.example.com/a"),
        (
            "https://amp.example.co.uk/a",
            "https://www.example.co.uk/story/a",
            "https://www.example.co.uk/story/a",
        ),
        ("https://www.example.com/a", "https://other.org/a", "https://www.example.com/a"),
        ("https://www.example.com/a", "javascript:alert(1)", "https://www.example.com/a"),
        ("https://www.example.com/a", "ftp://www.example.com/a", "https://www.example.com/a"),
        (
            "https://www.example.com/news/1",
            "https://www.example.com/",
            "https://www.example.com/news/1",
        ),
        ("https://www.example.com/", "https://example.com/", "https://example.com/"),
        (
            "https://alice.github.io/post",
            "https://bob.github.io/post",
            "https://alice.github.io/post",
        ),
        (
            "https://www.example.com/a",
            "  https://www.example.com/b?fbclid=1  ",
            "https://www.example.com/b",
        ),
    ],
)
def test_choose_canonical(page: str, declared: str | None, expected: str) -> None:
    assert choose_canonical(page, declared) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://example.com/", True),
        ("HTTPS://example.com/a", True),
        ("ftp://example.com/", False),
        ("mailto:a@example.com", False),
        ("/relative/path", False),
        ("https://", False),
        ("javascript:void(0)", False),
        ("http://[::1/", False),
    ],
)
def test_is_http_url(url: str, expected: bool) -> None:
    assert is_http_url(url) is expected


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://127.0.0.1/", "loopback"),
        ("http://127.8.9.10:8080/feed", "loopback"),
        ("http://10.1.2.3/", "private"),
        ("http://172.16.0.5/", "private"),
        ("http://192.168.1.1/admin", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://100.64.0.1/", "CGNAT"),
        ("http://100.127.255.254/", "CGNAT"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://240.0.0.1/", "reserved"),
        ("http://[::1]/", "loopback"),
        ("http://[::]/", "unspecified"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[fc00::1]/", "private"),
        ("http://[fd12:3456::1]/", "private"),
        ("http://[ff02::1]/", "multicast"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://[::ffff:10.0.0.1]/", "private"),
        ("http://[::ffff:100.64.1.1]/", "CGNAT"),
        ("http://[64:ff9b::a9fe:a9fe]/", "link-local"),
        ("http://[2002:c0a8:0101::1]/", "private"),
        ("http://localhost:8000/", "loopback"),
        ("http://2130706433/", "loopback"),
    ],
)
def test_check_url_refuses_non_public_addresses(url: str, kind: str) -> None:
    with pytest.raises(FetchError) as info:
        check_url(url, allow_private=False)
    message = str(info.value)
    assert url in message
    assert f"a {kind} address" in message
    assert "crawl.allow_private = true" in message


def test_check_url_allows_private_when_configured() -> None:
    check_url("http://127.0.0.1:8000/feed.xml", allow_private=True)
    check_url("http://[::1]/", allow_private=True)


@pytest.mark.parametrize("url", ["ftp://example.com/f", "file:///etc/passwd", "gopher://x/", "javascript:1"])
def test_check_url_refuses_other_schemes_even_when_private_allowed(url: str) -> None:
    with pytest.raises(FetchError, match="only http and https"):
        check_url(url, allow_private=True)


def test_check_url_accepts_public_addresses() -> None:
    check_url("http://93.184.216.34/", allow_private=False)
    check_url("https://[2606:2800:220:1:248:1893:25c8:1946]/", allow_private=False)


def test_check_url_resolves_names_and_refuses_any_private_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers = {
        "public.example": ["93.184.216.34"],
        "rebind.example": ["93.184.216.34", "10.0.0.7"],
        "v6.example": ["2606:2800:220:1::1", "fe80::1%eth0"],
    }

    def fake_getaddrinfo(host: str, port: object, *args: object, **kwargs: object) -> list[tuple]:
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, 0)) for a in answers[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    check_url("https://public.example/news", allow_private=False)
    with pytest.raises(FetchError, match=r"rebind\.example resolves to 10\.0\.0\.7, a private address"):
        check_url("https://rebind.example/news", allow_private=False)
    with pytest.raises(FetchError, match="link-local"):
        check_url("https://v6.example/", allow_private=False)
    # A name that does not resolve is not private: the fetch reports the DNS failure itself.
    check_url("https://no-such-host.example/", allow_private=False)
