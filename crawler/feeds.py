"""Parse fetched RSS/Atom bytes into entries with stable identities (feedparser, never a URL)."""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

from crawler import envsettings
from crawler.dates import from_struct_time
from crawler.encoding import decode_html, xml_as_utf8
from crawler.errors import FetchError
from crawler.readings import strip_readings
from crawler.textnorm import language_code
from crawler.urls import canonicalize, is_http_url
from crawler.wording import noun

__all__ = ["FeedEntry", "ParsedFeed", "own_page", "parse_feed", "plain_text"]


@dataclass(frozen=True)
class FeedEntry:
    """One feed item, normalised."""

    key: str  # guid/id, else canonical link, else 'sha1:' + hash of title, summary and date
    link: str | None  # absolute http(s) URL
    title: str
    summary: str  # plain text
    published: datetime | None  # aware, UTC
    author: str | None
    language: str | None  # ISO 639-1, lower-case
    shared_page: str | None = None  # the canonical URL of a page this entry is not alone to link (``own_page``)

    @property
    def shared(self) -> bool:
        """Whether it is one of several entries that link one page (``own_page``): its own story, told by the feed."""
        return self.shared_page is not None

    @property
    def text_key(self) -> str | None:
        """A second identity, from what the entry says: 'text:' + a hash of its link's host, title, summary and date.
        A feed whose links (and guids) change at each poll (a session id: ?sid=N, /(S(x))/) keeps it; different
        articles at one path (?id=N) differ in title, summary or date. None without a title, or without a summary
        and a date (a daily 'Morning briefing' at /news?id=N must not be one entry)."""
        if not self.title or not (self.summary or self.published):
            return None
        try:
            host = (urlsplit(self.link).hostname or "").lower() if self.link else ""
        except ValueError:
            host = ""
        published = self.published.isoformat() if self.published else ""
        material = "\n".join((host, self.title, self.summary, published))
        return "text:" + hashlib.sha1(material.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ReadItem:
    """One feed item as read from feedparser's entry: its guid and fields (``language``: its own, else None)."""

    guid: str | None
    fields: dict[str, Any]
    settled: bool = True  # False when reading it again may give another entry (a date too far ahead today)

    def to_json(self) -> str:
        published = self.fields["published"]
        return json.dumps(
            {"guid": self.guid, **self.fields, "published": published.isoformat() if published else None},
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str) -> ReadItem:
        data = json.loads(text)
        guid = data.pop("guid")
        published = data["published"]
        data["published"] = datetime.fromisoformat(published) if published else None
        return cls(guid, data)


@dataclass(frozen=True)
class ParsedFeed:
    """A parsed feed; ``warning`` says what was malformed when entries were recovered anyway."""

    title: str | None
    entries: tuple[FeedEntry, ...]
    warning: str | None
    skipped: tuple[str, ...] = ()  # one reason per entry that could not be read
    cut: str | None = None  # says so when only the feed's first MAX_FEED_ENTRIES were read
    read: Mapping[str, ReadItem] = field(default_factory=dict)  # the items read, by item_hash: ``known`` next time


MAX_FEED_ENTRIES = 5000  # entries of one feed document read at most


def max_feed_entries() -> int:
    """MAX_FEED_ENTRIES, or $NEWSWATCH_MAX_FEED_ENTRIES (tests)."""
    return envsettings.whole("NEWSWATCH_MAX_FEED_ENTRIES", MAX_FEED_ENTRIES)


_DOCTYPE_SUBSET = re.compile(r"<!DOCTYPE\b[^\[>]*\[(.*?)\]\s*>", re.DOTALL)
_ENTITY_DECL = re.compile(r"<!ENTITY\s+(%\s*)?([^\s>]+)\s+(.*?)>", re.DOTALL)
_ENTITY_REF = re.compile(r"&[A-Za-z_:][\w.:-]*;|%[A-Za-z_:][\w.:-]*;")
_FIRST_TAG = re.compile(
    r"""^(?:\s|<\?.*?\?>|<!--.*?-->|<!DOCTYPE\b[^\[>]*(?:\[.*?\])?\s*>)*<([A-Za-z_][\w:.-]*)""",
    re.DOTALL,
)
_WHITESPACE = re.compile(r"\s+")
_ENTRY_END = re.compile(r"</(?:[A-Za-z_][\w.-]*:)?(item|entry)\s*>")
_ENTRY_START = re.compile(r"<(?:[A-Za-z_][\w.-]*:)?(item|entry)(?:\s[^>]*)?>")
_INHERITED = re.compile(r"""xml:(?:lang|base)\s*=\s*(?:"[^"]*"|'[^']*')|<(?:\w+:)?language>[^<]*<""")
READ_VERSION = 1  # what ``ParsedFeed.read`` holds: another version of this module's reading changes it
_SHORTEST_ENTRY = len("<item></item>")


def parse_feed(
    body: bytes,
    url: str,
    content_type: str | None = None,
    max_entries: int | None = None,
    known: Mapping[str, ReadItem | str] | None = None,
) -> ParsedFeed:
    """Parse feed bytes fetched from ``url``; not a feed -> FetchError, malformed -> entries + warning.

    Only the first ``max_entries`` entries (default ``max_feed_entries()``) are read; ``cut`` says so. ``known``: the
    items an earlier parse read (``ParsedFeed.read``, by ``item_hash``): those the document holds unchanged are not
    given to feedparser again (a ReadItem, or its JSON), the rest are, and the entries are the same as from a whole
    parse."""
    text = decode_html(body, content_type).text
    _refuse_dangerous_entities(text, url)
    root = _root_element(text)
    if root == "html":
        raise FetchError(f"{url} is not an RSS or Atom feed (got an HTML page); check the source's url")
    text, cut = _first_entries(text, url, len(body), max_feed_entries() if max_entries is None else max_entries)
    spans = _item_spans(text) if known is not None else []
    # what an item's entry may take from the document around it: its URL, and the language and base its head gives
    context = url + "\n" + "\n".join(_INHERITED.findall(text, 0, spans[0][0])) if spans else url
    hashes = [item_hash(context, text[start:end]) for start, end in spans]
    reused = {i: _read(known[h]) for i, h in enumerate(hashes) if known and h in known}
    result = _feedparser(_without(text, [spans[i] for i in sorted(reused)]) if reused else text, url)
    if reused and len(result.entries) != len(spans) - len(reused):  # items told apart otherwise than feedparser does
        reused = {}
        result = _feedparser(text, url)
    if not result.get("version") and not result.entries and not reused:
        got = f"a {content_type.split(';')[0].strip()} document" if content_type else "a document with no feed elements"
        if root is None:
            got = "something that is not XML"
        raise FetchError(f"{url} is not an RSS or Atom feed (got {got}); check the source's url")

    feed = result.get("feed", {})
    feed_language = language_code(feed.get("language"))
    raw = []
    skipped = []
    read: dict[str, ReadItem] = {}
    parsed = iter(result.entries)
    for position in range(1, (len(spans) if reused else len(result.entries)) + 1):
        if position - 1 in reused:
            item = reused[position - 1]
        else:
            try:  # one bad entry costs itself only
                item, problem = _entry(next(parsed), url)
            except Exception as exc:
                skipped.append(f"entry {position}: {_describe(exc)}")
                continue
            if problem:
                skipped.append(f"entry {position}: {problem}")
            elif spans and len(spans) == len(result.entries) + len(reused) and item.settled:
                read[hashes[position - 1]] = item
        if position - 1 in reused:
            read[hashes[position - 1]] = item
        raw.append((item.guid, {**item.fields, "language": item.fields["language"] or feed_language}))
    # A feed that reuses one guid for every item (it happens) must not collapse them into one.
    repeated = {key for key, n in Counter(r[0] for r in raw if r[0]).items() if n > 1}
    entries = _shared_pages(
        tuple(_finish(guid if guid and guid not in repeated else None, fields) for guid, fields in raw)
    )

    warning = None
    exc = result.get("bozo_exception")
    from feedparser import CharacterEncodingOverride  # loaded by _feedparser

    # feedparser sets bozo for CharacterEncodingOverride even when everything parsed: not worth a warning
    if result.get("bozo") and exc is not None and not isinstance(exc, CharacterEncodingOverride):
        taken = f"{len(entries)} {noun(len(entries), 'entry', 'entries')}"
        warning = f"{url} is a malformed feed ({_describe(exc)}); {taken} read anyway"
    title = _text(feed.get("title"), feed.get("title_detail")) or None
    return ParsedFeed(title=title, entries=entries, warning=warning, skipped=tuple(skipped), cut=cut, read=read)


def _feedparser(text: str, url: str) -> Any:
    import feedparser  # here: a poll answered 304 (what the daemon mostly sees) parses no feed

    # We decoded the bytes ourselves (lying charsets included); feedparser gets UTF-8 that says so.
    return feedparser.parse(
        io.BytesIO(xml_as_utf8(text)),  # a stream: given bytes or str, feedparser may try them as a file name
        response_headers={
            "content-type": "application/xml; charset=utf-8",
            "content-location": url,
        },
        # off: each cost feedparser another HTML pass over every summary (a quarter of its time on a large feed),
        # and every title and summary becomes plain text here (plain_text), scripts and styles dropped, its links
        # unused; entry links are resolved either way
        resolve_relative_uris=False,
        sanitize_html=False,
    )


def _read(item: ReadItem | str) -> ReadItem:
    return ReadItem.from_json(item) if isinstance(item, str) else item


def item_hash(context: str, item: str) -> str:
    """What identifies one ``<item>``/``<entry>`` element's text, read in ``context`` (the feed's URL...), for
    ``known``."""
    material = f"{READ_VERSION}\n{context}\n{item}"
    return hashlib.sha1(material.encode("utf-8", "surrogatepass")).hexdigest()


def _item_spans(text: str) -> list[tuple[int, int]]:
    """Where each entry element of the document starts and ends; [] when they cannot be told apart plainly (one
    starting inside another, an end without its start: CDATA holding markup, say)."""
    spans = []
    at = 0
    for start in _ENTRY_START.finditer(text):
        if start.start() < at:
            return []
        end = _ENTRY_END.search(text, start.end())
        if end is None or end.group(1) != start.group(1):
            return []
        following = _ENTRY_START.search(text, start.end(), end.start())
        inside = text[start.end() : end.start()]
        if following is not None or _unclosed(inside, "<![CDATA[", "]]>") or _unclosed(inside, "<!--", "-->"):
            return []
        spans.append((start.start(), end.end()))
        at = end.end()
    return spans


def _unclosed(text: str, opening: str, closing: str) -> bool:
    """Whether a CDATA section or comment opened in ``text`` is still open at its end (the entry's end tag found
    inside it is not its end)."""
    return opening in text and text.rfind(opening) > text.rfind(closing)


def _without(text: str, spans: list[tuple[int, int]]) -> str:
    parts, at = [], 0
    for start, end in spans:
        parts.append(text[at:start])
        at = end
    parts.append(text[at:])
    return "".join(parts)


def own_page(entry: FeedEntry, page: str) -> FeedEntry:
    """``entry`` as one of several that link ``page`` (canonical): each is its own story, told by the feed alone.

    Its link gets a fragment of its own (the one it has when no other entry has it: a live blog's '#post-12'),
    so it is stored under a URL no other entry's story has, and an entry without a guid (its key is the page's
    URL, every other entry's too) is known by a hash of its title, summary and date instead."""
    key = entry.key
    if key == page:
        key = _text_hash(entry.title, entry.summary, entry.published)
    link = entry.link or page
    if not urlsplit(link).fragment:
        link = f"{urldefrag(link)[0]}#entry-{hashlib.sha1(key.encode('utf-8')).hexdigest()[:12]}"
    return replace(entry, key=key, link=link, shared_page=page)


def plain_text(html: str) -> str:
    """Text of an HTML fragment: tags dropped, entities decoded, whitespace collapsed."""
    if "<" not in html and "&" not in html:
        return _WHITESPACE.sub(" ", html).strip()
    parser = _TextCollector()
    parser.feed(html)
    parser.close()
    return _WHITESPACE.sub(" ", "".join(parser.parts)).strip()


# ---------------------------------------------------------------------------------------------


def _refuse_dangerous_entities(text: str, url: str) -> None:
    """External, nested or hugely repeated entities are XXE or an expansion bomb: refuse the document."""
    if "<!ENTITY" not in text[:65536]:
        return
    subset = _DOCTYPE_SUBSET.search(text, 0, 1_000_000)
    if subset is None:
        return
    expansion = 0
    for parameter, name, definition in _ENTITY_DECL.findall(subset.group(1)):
        external = re.match(r"(SYSTEM|PUBLIC)\b", definition.strip()) is not None
        if parameter or external or _ENTITY_REF.search(definition):
            raise FetchError(
                f"{url} declares external or nested XML entities (an XXE or entity-expansion attack); "
                "refusing to parse it; check the source's url"
            )
        expansion += len(definition) * text.count(f"&{name};", subset.end())
    # Flat entities are harmless unless referenced often enough to blow the document up.
    if expansion > 10 * len(text) + 1_000_000:
        raise FetchError(
            f"{url} would expand its XML entities to {expansion:,} characters (an entity-expansion "
            "attack); refusing to parse it; check the source's url"
        )


def _first_entries(text: str, url: str, size: int, limit: int) -> tuple[str, str | None]:
    """The document with its first ``limit`` entries only, and what the crawl says of the cut (None: not cut).

    feedparser reads ~2,000 entries a second and holds them all (a 5 MB feed of 30,000: ~15 s and ~136 MB); a poll
    fetches the pages of 1,000 new entries at most, and feeds list their newest first. The entries past the limit
    are cut from the text, the document's end (what follows its last entry) kept, so it stays well-formed."""
    if len(text) < limit * _SHORTEST_ENTRY:
        return text, None
    ends, cut_at, last_end = 0, 0, 0
    for match in _ENTRY_END.finditer(text):
        ends += 1
        if ends == limit:
            cut_at = match.end()
        last_end = match.end()
    if ends <= limit:
        return text, None
    note = (
        f"{url} lists {ends:,} entries ({size / 1e6:.1f} MB): only its first {limit:,} are read, the later ones not "
        f"fetched (at most {limit:,} entries a feed; one this large is broken or hostile, or an archive)"
    )
    return text[:cut_at] + text[last_end:], note


def _root_element(text: str) -> str | None:
    match = _FIRST_TAG.match(text[:65536])
    return match.group(1).lower().rsplit(":", 1)[-1] if match else None


def _entry(entry: Any, feed_url: str) -> tuple[ReadItem, str | None]:
    """(the item, problem): ``problem`` says why the entry has no usable link when it has a bad one."""
    guid = (entry.get("id") or "").strip() or None
    link = None
    bad = None
    for candidate in [entry.get("link"), *(l.get("href") for l in entry.get("links", []))]:
        if candidate:
            try:
                absolute = urljoin(feed_url, candidate.strip())
            except ValueError:
                absolute = candidate.strip()
            if is_http_url(absolute):
                link = absolute
                break
            bad = bad or absolute
    title = _text(entry.get("title"), entry.get("title_detail"))
    summary = _text(entry.get("summary"), entry.get("summary_detail"))
    if not summary and entry.get("content"):
        content = entry["content"][0]
        summary = _text(content.get("value"), content)
    published = None
    dated = False
    for name in ("published_parsed", "updated_parsed", "created_parsed"):
        # the dict's own get: feedparser's would answer a missing updated_parsed with published_parsed, and warn
        dated = dated or dict.get(entry, name) is not None
        published = from_struct_time(dict.get(entry, name))  # a zero or far-future date is unknown
        if published is not None:
            break
    author = None
    detail = entry.get("author_detail") or {}
    if detail.get("name") or entry.get("author"):
        author = plain_text(detail.get("name") or entry.get("author")) or None
    language = None
    for holder in (
        entry.get("title_detail"),
        entry.get("summary_detail"),
        *(entry.get("content") or []),
    ):
        if holder and holder.get("language"):
            language = language_code(holder["language"])
            if language:
                break
    fields = {
        "link": link,
        "title": title,
        "summary": summary,
        "published": published,
        "author": author,
        "language": language,
    }
    problem = f"link {bad[:200]!r} is not a valid http(s) URL" if link is None and bad else None
    return ReadItem(guid, fields, settled=published is not None or not dated), problem


def _finish(guid: str | None, fields: dict[str, Any]) -> FeedEntry:
    if guid:
        key = guid
    elif fields["link"]:
        key = canonicalize(fields["link"])
    else:
        key = _text_hash(fields["title"], fields["summary"], fields["published"])
    return FeedEntry(key=key, **fields)


def _text_hash(title: str, summary: str, published: datetime | None) -> str:
    material = "\n".join((title, summary, published.isoformat() if published else ""))
    return "sha1:" + hashlib.sha1(material.encode("utf-8")).hexdigest()


def _shared_pages(entries: tuple[FeedEntry, ...]) -> tuple[FeedEntry, ...]:
    """The entries, those that link one page with other entries saying something else (a feed whose items all point
    at its home page, a live blog's updates) made their own (``own_page``): fetched once for the first of them, that
    page was stored as the first entry's story and every other entry was never seen. An entry listed twice (the
    same title and summary) is still one story; one linking its site's home page is its own story too."""
    groups: dict[str, list[int]] = {}
    for i, e in enumerate(entries):
        if e.link:
            try:
                groups.setdefault(canonicalize(e.link), []).append(i)
            except (ValueError, UnicodeError):
                continue
    out = list(entries)
    for page, members in groups.items():
        texts = {(_folded(entries[i].title), _folded(entries[i].summary)) for i in members}
        if len(texts) < 2 and not is_home_page(page):
            continue
        fragments = Counter(urlsplit(entries[i].link or "").fragment for i in members)
        for i in members:
            e = entries[i]
            if fragments[urlsplit(e.link or "").fragment] > 1:  # a fragment another entry has too tells none apart
                e = replace(e, link=urldefrag(e.link or page)[0])
            out[i] = own_page(e, page)
    return tuple(out)


def is_home_page(url: str) -> bool:
    """Whether a canonical URL is a site's home page ('/', no query): no one story's page."""
    parts = urlsplit(url)
    return parts.path in ("", "/") and not parts.query


def _folded(text: str) -> str:
    return " ".join(text.casefold().split())


def _text(value: str | None, detail: Any) -> str:
    """An entry's title or summary as plain text, without pinyin readings inside its Chinese words."""
    if not value:
        return ""
    kind = (detail or {}).get("type") or "text/html"
    if kind in ("text/html", "application/xhtml+xml", "html", "xhtml"):
        return strip_readings(plain_text(value))
    return strip_readings(_WHITESPACE.sub(" ", value).strip())


def _describe(exc: BaseException) -> str:
    message = str(exc).strip() or type(exc).__name__
    return message if len(message) <= 200 else message[:200] + "..."


class _TextCollector(HTMLParser):
    _SKIP = frozenset({"script", "style", "noscript", "template"})
    _BLOCK = frozenset(
        {"p", "div", "br", "li", "ul", "ol", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6",
         "blockquote", "section", "article", "figure", "figcaption", "table", "hr", "dd", "dt"}
    )  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCK:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)
