"""What the pages of one source said of their own (``process.own_lines``), as the check for a wall that shows each
story's headline reads them (``CrawlContext.repeated_text``): each line of LINE_MIN characters or more by an 8-byte
hash and its length, never its text. A crawl held the text of every line of a source's last 100 stored pages (up to
100,000 characters each), with a set of pages for each line, some 350 bytes a line besides its text."""

from __future__ import annotations

import hashlib
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from crawler.process import FeedInfo, headline_terms, shows_headline

LINE_MIN = 20  # characters of a line that may be another page's: shorter ones ('Share', a date) say nothing


@dataclass(slots=True)
class Said:
    """What one page of a source said of its own, with what is needed to keep its entry instead."""

    url: str  # the page's URL
    listed: str | None  # its entry's URL; None for a page stored by an earlier run
    headline: str
    hashes: array[int]  # its own lines of LINE_MIN characters or more, each by its hash (line_hash), in order
    lengths: array[int]  # ... and their lengths
    size: int  # the characters of all its own lines
    names_headline: bool  # its own lines show a word of its headline (shows_headline): no wall's do
    feed: FeedInfo | None  # its entry, when this run listed it
    headlined: bool = True  # it shows its entry's headline (as its title, or a line of its text)
    walled: bool = False
    row: int = -1  # a stored page's number in its Sayings, which holds its lines instead (hashes and lengths empty)


def said(
    url: str, listed: str | None, headline: str, own: Sequence[str], feed: FeedInfo | None, headlined: bool = True
) -> Said:
    """A page's ``Said`` from its own lines (``own_lines``)."""
    long = [line for line in own if len(line) >= LINE_MIN]
    return Said(
        url,
        listed,
        headline,
        array("q", map(line_hash, long)),
        array("I", map(len, long)),
        sum(map(len, own)),
        bool(headline_terms(headline)) and shows_headline(headline, "\n".join(own), 1),
        feed,
        headlined,
    )


def line_hash(line: str) -> int:
    return int.from_bytes(hashlib.sha1(line.encode("utf-8", "surrogatepass")).digest()[:8], "little", signed=True)


class Sayings:
    """The pages of one source that a new page's lines are compared with (by page: its URL, or its entry's for the
    pages of this run), and which of them say each line: the pages read from the store as arrays sorted by hash,
    one row for each line a page says (11 bytes: its hash, the page's number, the characters of its lines of that
    hash), the pages of this run in a dict."""

    def __init__(self, stored: Iterable[Said] = ()) -> None:
        self.pages: dict[str, Said] = {}
        ids, hashes, owners, lengths = [], array("q"), array("I"), array("I")
        for page in stored:
            self.pages[page.url] = page
            by_hash: dict[int, int] = {}  # a line said twice in a page counts twice in what it says
            for h, length in zip(page.hashes, page.lengths, strict=True):
                by_hash[h] = by_hash.get(h, 0) + length
            hashes.extend(by_hash)
            owners.extend(array("I", [len(ids)]) * len(by_hash))
            lengths.extend(by_hash.values())
            page.hashes, page.lengths, page.row = _NO_HASHES, _NO_LENGTHS, len(ids)  # held below instead
            ids.append(page.url)
        order = sorted(range(len(hashes)), key=hashes.__getitem__)
        self._ids = ids
        self._hashes = array("q", [hashes[i] for i in order])
        self._owners = array(_fitting(len(ids)), [owners[i] for i in order])
        self._lengths = array(_fitting(max(lengths, default=0)), [lengths[i] for i in order])
        self._added: dict[int, str | tuple[str, ...]] = {}

    def add(self, page_id: str, page: Said) -> None:
        self.pages[page_id] = page
        for h in set(page.hashes):
            had = self._added.get(h)
            if had is None:
                self._added[h] = page_id
            elif isinstance(had, str):
                if had != page_id:
                    self._added[h] = (had, page_id)
            elif page_id not in had:
                self._added[h] = (*had, page_id)

    def saying(self, h: int) -> set[str]:
        """The pages saying the line of hash ``h``."""
        found = set()
        at = bisect_left(self._hashes, h)
        while at < len(self._hashes) and self._hashes[at] == h:
            found.add(self._ids[self._owners[at]])
            at += 1
        had = self._added.get(h)
        if had is not None:
            found.update((had,) if isinstance(had, str) else had)
        return found

    def sharing(self, page_id: str, page: Said) -> set[str]:
        """The other pages whose lines make four fifths of what ``page`` says of its own, when it says nothing of its
        headline; else none."""
        if not page.headlined or page.size < LINE_MIN or page.names_headline:
            return set()
        shared, others = 0, set()
        for h, length in self._lines(page):
            owners = self.saying(h) - {page_id}
            if owners:
                shared += length
                others |= owners
        return others if shared * 5 >= page.size * 4 else set()

    def _lines(self, page: Said) -> Iterable[tuple[int, int]]:
        """``page``'s lines by hash and length (a stored page's: each hash once, with the characters of its lines of
        that hash; the sum ``sharing`` makes is the same)."""
        if page.row < 0:
            return zip(page.hashes, page.lengths, strict=True)
        owners, row = self._owners, page.row
        return ((self._hashes[i], self._lengths[i]) for i in range(len(owners)) if owners[i] == row)


_NO_HASHES, _NO_LENGTHS = array("q"), array("I")  # a stored page's, its lines held by its Sayings


def _fitting(largest: int) -> str:
    """The array type code of the fewest bytes that holds the whole numbers 0 to ``largest``."""
    return next(code for code, top in (("B", 0xFF), ("H", 0xFFFF), ("I", 0xFFFFFFFF)) if largest <= top)
