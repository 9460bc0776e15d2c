"""Parse XML sitemaps, sitemap indexes and Google News sitemaps (lxml, entities never resolved)."""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin

from lxml import etree

from crawler.dates import parse_published
from crawler.encoding import decode_html, xml_as_utf8
from crawler.errors import FetchError
from crawler.textnorm import language_code
from crawler.urls import is_http_url

__all__ = ["ParsedSitemap", "SitemapEntry", "entries_hash", "entries_since", "parse_sitemap"]

# The sitemap protocol caps a sitemap at 50 MB uncompressed; more from a .gz is a bomb.
MAX_UNCOMPRESSED = 50 * 1024 * 1024


@dataclass(frozen=True)
class SitemapEntry:
    """One <url> of a sitemap."""

    loc: str
    lastmod: datetime | None  # aware, UTC
    news_title: str | None
    news_published: datetime | None  # news:publication_date, aware, UTC
    language: str | None  # news:language, ISO 639-1


@dataclass(frozen=True)
class ParsedSitemap:
    """Page entries of a urlset, or the child sitemaps of a sitemap index."""

    entries: tuple[SitemapEntry, ...]
    sitemaps: tuple[str, ...]
    sitemap_dates: tuple[datetime | None, ...] = ()  # each child's <lastmod> (aware, UTC), when the index gives it


_PARSER_OPTIONS = {
    "resolve_entities": False,  # no billion laughs, no XXE
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "recover": True,  # a stray '&' in one URL should not lose the other 999 entries
    "remove_comments": True,
    "remove_pis": True,
}


def parse_sitemap(body: bytes, url: str) -> ParsedSitemap:
    """Parse a (possibly gzipped) sitemap or sitemap index fetched from ``url``."""
    if body[:2] == b"\x1f\x8b":
        body = _gunzip(body, url)
    text = decode_html(body, None).text.lstrip("\ufeff")
    if not text.strip():
        raise FetchError(f"{url} is not a sitemap (got an empty document); check the source's url")
    if not text.lstrip().startswith("<"):
        return _text_sitemap(text, url)

    data = xml_as_utf8(text)
    try:
        root = etree.fromstring(data, etree.XMLParser(**_PARSER_OPTIONS))
    except etree.XMLSyntaxError as exc:
        raise FetchError(f"{url} is not a sitemap ({exc}); check the source's url") from None
    if root is None:
        raise FetchError(f"{url} is not a sitemap (no XML found); check the source's url")
    kind = _local(root.tag).lower()
    if kind == "urlset":
        entries = tuple(e for e in (_entry(el, url) for el in root if _local(el.tag) == "url") if e)
        return ParsedSitemap(entries=entries, sitemaps=())
    if kind == "sitemapindex":
        children: dict[str, datetime | None] = {}
        for el in root:
            if _local(el.tag) == "sitemap" and (child := _absolute(_child_text(el, "loc"), url)):
                children.setdefault(child, parse_published(_child_text(el, "lastmod")))
        return ParsedSitemap(entries=(), sitemaps=tuple(children), sitemap_dates=tuple(children.values()))
    got = "an HTML page" if kind == "html" else f"<{_local(root.tag)}>"
    raise FetchError(f"{url} is not a sitemap (got {got}); check the source's url")


def sitemaps_since(sitemap: ParsedSitemap, since: datetime) -> list[str]:
    """The child sitemaps of an index changed at or after ``since`` (those without a date kept): one not changed
    since then lists no entry of the window. An index of 500 monthly sitemaps had all 500 fetched at each poll.
    An index none of whose children is dated within the window keeps them all: its dates may never be updated."""
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    dates = sitemap.sitemap_dates or (None,) * len(sitemap.sitemaps)
    if not any(when is not None and when >= since for when in dates):
        return list(sitemap.sitemaps)
    return [child for child, when in zip(sitemap.sitemaps, dates, strict=True) if when is None or when >= since]


def entries_hash(sitemap: ParsedSitemap) -> str:
    """A hash of what a sitemap lists (each entry's URL, dates, title and language): equal for one unchanged but for
    what lists nothing (a generation time in a comment, the order of its attributes)."""
    digest = hashlib.sha1()
    for e in sitemap.entries:
        published = e.news_published.isoformat() if e.news_published else ""
        fields = (e.loc, e.lastmod.isoformat() if e.lastmod else "", e.news_title or "", published, e.language or "")
        digest.update(("\t".join(fields) + "\n").encode("utf-8"))
    return digest.hexdigest()


def entries_since(sitemap: ParsedSitemap, since: datetime) -> list[SitemapEntry]:
    """Entries published (else last modified) at or after ``since``; undated entries are kept."""
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    kept = []
    for entry in sitemap.entries:
        when = entry.news_published or entry.lastmod
        if when is None or when >= since:
            kept.append(entry)
    return kept


# ---------------------------------------------------------------------------------------------


def _gunzip(body: bytes, url: str) -> bytes:
    decompressor = zlib.decompressobj(wbits=31)
    try:
        data = decompressor.decompress(body, MAX_UNCOMPRESSED)
    except zlib.error as exc:
        raise FetchError(f"{url} is a damaged gzip file ({exc}); check the source's url") from None
    if decompressor.unconsumed_tail:
        raise FetchError(
            f"{url} decompresses to more than {MAX_UNCOMPRESSED / 2**20:g} MB, the sitemap limit; refusing it"
        )
    if not decompressor.eof and not data:
        raise FetchError(f"{url} is a damaged gzip file (no data); check the source's url")
    return data  # a truncated stream still yields its complete <url> elements


def _text_sitemap(text: str, url: str) -> ParsedSitemap:
    """The protocol's plain-text form: one URL per line, nothing else."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or not all(is_http_url(line) for line in lines):
        raise FetchError(f"{url} is not a sitemap (got text that is not a list of URLs); check the source's url")
    locs = dict.fromkeys(lines)
    return ParsedSitemap(entries=tuple(SitemapEntry(loc, None, None, None, None) for loc in locs), sitemaps=())


def _entry(element: etree._Element, base: str) -> SitemapEntry | None:
    loc = _absolute(_child_text(element, "loc"), base)
    if loc is None:
        return None
    news = next((child for child in element if _local(child.tag) == "news"), None)
    title = published = language = None
    if news is not None:
        title = _child_text(news, "title") or None
        published = parse_published(_child_text(news, "publication_date"))
        publication = next((child for child in news if _local(child.tag) == "publication"), None)
        if publication is not None:
            language = language_code(_child_text(publication, "language"))
    return SitemapEntry(
        loc=loc,
        lastmod=parse_published(_child_text(element, "lastmod")),
        news_title=title,
        news_published=published,
        language=language,
    )


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child_text(element: etree._Element, name: str) -> str:
    for child in element:
        if _local(child.tag) == name:
            return " ".join("".join(child.itertext()).split())
    return ""


def _absolute(loc: str, base: str) -> str | None:
    if not loc:
        return None
    try:
        absolute = urljoin(base, loc)
    except ValueError:  # e.g. an unclosed IPv6 bracket: that entry is skipped, not the sitemap
        return None
    return absolute if is_http_url(absolute) else None
