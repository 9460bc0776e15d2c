"""What a digest or alert says and how it reads: its content loaded from the store, rendered
(text and HTML from the templates) and composed into a message.

The only module that imports jinja2. Topics are listed in config order, stories by score; each
story shows its face article's title, link, outlet and date, a snippet around the terms its
topic matched, and the other outlets that ran it.
"""

from __future__ import annotations

import email.policy
import functools
import re
import socket
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import jinja2

from crawler import topics as topic_mod
from crawler.config import Config, Recipient, TopicConfig, ascii_address
from crawler.dates import local as local_time
from crawler.dates import plausible
from crawler.polling import target_changed
from crawler.store import Store, iso, parse_iso
from crawler.wording import columns
from scheduler.ledger import Due, sent_clause

__all__ = [
    "Digest",
    "build_digest",
    "clean_line",
    "compose",
    "mail_domain",
    "recipient_topics",
    "render",
    "safe_url",
]

HEALTH_AFTER = timedelta(days=1)
SNIPPET_WIDTH = 280  # characters of alphabetic text: about three lines on a phone
SNIPPET_WIDTH_CJK = 110  # Chinese and Japanese characters are about twice as wide and carry more each
MAX_HIGHLIGHTS = 3  # per snippet: more is noise
TOP_HEADLINES = 3  # in the overview at the top
# Gmail cuts a message's HTML beyond about 102 kB ("[Message clipped]"), hiding the rest of the
# digest (the last languages, the held count, the sources in trouble): past this many bytes the
# lowest-scoring stories lose their snippets in the HTML part, which the plain-text part keeps.
HTML_BUDGET = 90_000
LANGUAGE_ORDER = ("en", "ru", "zh")
TITLE_LIMIT = 300
SUBJECT_LIMIT = 150
DEFAULT_SUBJECT = "newswatch: {count} new stories"  # when digest.subject cannot be formatted
# Bodies in quoted-printable or base64, never raw 8-bit: smtplib does not declare BODY=8BITMIME, a
# relay without it may mangle 8-bit bytes, and one that re-encodes them breaks a DKIM signature.
MAIL_POLICY = email.policy.default.clone(cte_type="7bit")
TEMPLATES = Path(__file__).with_name("templates")
LANGUAGES = {
    "en": "English",
    "ru": "Russian",
    "zh": "Chinese",
    "uk": "Ukrainian",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "ja": "Japanese",
    "ko": "Korean",
    "ar": "Arabic",
}
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# -- the digest's content --------------------------------------------------------------------


@dataclass(frozen=True)
class Outlet:
    """Another outlet that ran the story: its source name and its copy's link (None if unsafe)."""

    source: str
    url: str | None


@dataclass(frozen=True)
class StoryItem:
    story: str
    topic: str
    score: float
    title: str
    url: str | None
    source: str
    date: str
    language: str | None
    language_name: str | None
    snippet: tuple[tuple[str, bool], ...]
    also: tuple[Outlet, ...]
    headline: tuple[tuple[str, bool], ...] = ()  # the title as segments (text, is_hit), for the HTML part
    translate_url: str | None = None  # the article in the reader's translator (digest.translate_url)
    brief: bool = False  # the HTML shows it without its snippet, to stay under HTML_BUDGET
    omitted: bool = False  # the HTML leaves it out (only the plain-text part has it), to stay under HTML_BUDGET
    alerted: bool = False  # a digest repeats it (include_alerted): the recipient had it as an alert
    from_feed: bool = False  # its page could not be fetched: the headline and text are the feed's
    topic_title: str = ""  # its topic's display name (a near miss's line names it)


@dataclass(frozen=True)
class LanguageSection:
    """A topic's stories in one language, best first."""

    language_name: str
    stories: tuple[StoryItem, ...]


@dataclass(frozen=True)
class TopicGroup:
    name: str
    stories: tuple[StoryItem, ...]
    title: str = ""  # the topic's display name (its config title, else its name)
    sections: tuple[LanguageSection, ...] = ()


@dataclass(frozen=True)
class Digest:
    """One recipient's message content, before rendering."""

    recipient: str
    topics: tuple[str, ...]  # the recipient's topics
    groups: tuple[TopicGroup, ...]
    held: int
    health: tuple[str, ...]
    date: str
    kind: str = "digest"
    story_ids: tuple[str, ...] = field(default=())
    languages: tuple[tuple[str, int], ...] = ()  # (language name, stories) for the overview
    top: tuple[StoryItem, ...] = ()  # the best-scoring headlines, for the overview
    topic_titles: tuple[str, ...] = ()  # the recipient's topics by their display names
    contact: str = ""  # where to ask for other topics or no more mail: the sender's address
    briefed: int = 0  # stories the HTML shows without their snippets, to stay under HTML_BUDGET
    omitted: int = 0  # stories the HTML leaves out, when even without snippets it is over HTML_BUDGET
    held_from: str = ""  # whose stories were held: "180 from TASS, 20 from RG" (digest.fair_cut)
    near: tuple[StoryItem, ...] = ()  # near misses, best first: scored in [near_score, min_score), no match
    near_held: int = 0  # near misses beyond those listed, held for the next digest

    @property
    def count(self) -> int:
        return sum(len(g.stories) for g in self.groups)


# -- text safety -----------------------------------------------------------------------------

# C0/C1 controls, line/paragraph separators, bidi embeddings/overrides/isolates and BOM:
# scraped text must not break a header line or reorder what the reader sees.
_UNSAFE_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
# Invisible marks, dropped from a line: the left-to-right, right-to-left and Arabic letter marks are letters of
# a direction without a glyph (one before a title's first letter turns a mail program's line right-to-left, its
# number to the far end), the zero-width space and word joiner hide inside a word; none is text a reader sees.
_INVISIBLE_MARKS = re.compile("[\u200b\u200e\u200f\u061c\u2060]")
_SPACES = re.compile(r"\s+")
# Chinese and Japanese put no space after their full-width punctuation: where paragraphs joined into
# one line, "交流。 论坛期间" would show a stray gap (a space between two words of a headline stays).
# The curly quotes are English ones too ('it “big” “bold”'): their gap goes only next to a CJK character.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_CLOSE = "\u3001\u3002\uff01\uff0c\uff1a\uff1b\uff1f\u300d\u300f\u3011\uff09\u300b"  # 、。！，：；？」』】）》
_CJK_OPEN = "\u300c\u300e\u3010\uff08\u300a"  # 「『【（《
_CJK_GAP = re.compile(f"(?<=[{_CJK_CLOSE}]) (?=[{_CJK}{_CJK_OPEN}\u201c])|(?<=\u201d) (?=[{_CJK}{_CJK_OPEN}])")


def clean_line(value: str | None, limit: int | None = None) -> str:
    """One line of plain text: controls removed, whitespace collapsed, cut at a word with '…'."""
    text = _CJK_GAP.sub("", _SPACES.sub(" ", _UNSAFE_CHARS.sub(" ", _INVISIBLE_MARKS.sub("", value or "")))).strip()
    if limit is not None and len(text) > limit:
        cut = text[: limit - 1]
        space = cut.rfind(" ")
        if space > limit * 0.6:
            cut = cut[:space]
        text = cut.rstrip(" ,.;:-\u2013\u2014") + "\u2026"
    return text


def safe_url(value: str | None) -> str | None:
    """The URL if it is an absolute http(s) URL without spaces or controls, else None."""
    if not value:
        return None
    url = value.strip()
    if _UNSAFE_CHARS.search(url) or _INVISIBLE_MARKS.search(url) or any(ch.isspace() for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


def _ascii_domain(header: str) -> str:
    """An address header's domain in ASCII (an encoded word there is no address a mail client can read)."""
    name, addr = parseaddr(header)
    plain = ascii_address(addr)
    return header if plain == addr else formataddr((name, plain))


def mail_domain(config: Config) -> str:
    """The domain for Message-IDs and a sender of last resort: the sender's, else this host's."""
    addr = ascii_address(parseaddr(config.smtp.sender)[1]) if config.smtp else ""
    domain = addr.rpartition("@")[2] if "@" in addr else socket.getfqdn()
    domain = re.sub(r"[^A-Za-z0-9.-]", "", domain).strip(".-").lower()
    return domain or "localhost"


def recipient_topics(config: Config, recipient: Recipient) -> list[TopicConfig]:
    """The recipient's topics in config order (all topics when it names none)."""
    wanted = set(recipient.topics)
    return [t for t in config.topics if not wanted or t.name in wanted]


# -- building --------------------------------------------------------------------------------


def _local(config: Config) -> ZoneInfo:
    try:
        return ZoneInfo(config.digest.timezone if config.digest else "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _fmt_date(dt: datetime | None, tz: ZoneInfo) -> str:
    if dt is None:
        return ""
    local = local_time(dt, tz)  # a stored 9999-12-31 would overflow in a zone east of UTC: shown as no date
    if local is None:
        return ""
    return f"{local.day} {MONTHS[local.month - 1]} {local.year}"


def _item(store: Store, config: Config, due: Due, tz: ZoneInfo, snippet: bool = True) -> StoryItem:
    """A story as a digest shows it; ``snippet`` False: without its snippet and highlights (a near miss's line)."""
    arts = store.query(
        "SELECT id, url, canonical_url, source, title, text, text_from, published, fetched, language"
        " FROM articles WHERE story = ? ORDER BY first_seen, id",
        [due.story],
    )
    face_id = store.scalar("SELECT article_id FROM stories WHERE id = ?", [due.story])
    by_id = {a["id"]: a for a in arts}
    face = by_id.get(face_id) or (arts[0] if arts else by_id.get(due.article_id))
    matched = by_id.get(due.article_id, face)
    assert face is not None, due
    date = plausible(parse_iso(face["published"])) or parse_iso(face["fetched"])
    also: dict[str, Outlet] = {}
    for a in arts:
        if a["source"] != face["source"] and a["source"] not in also:
            also[a["source"]] = Outlet(clean_line(_source_title(config, a["source"]), 80), _article_url(a))
    # The snippet comes from the face when it matched the topic too, else from the best match.
    source_art = face if _matches(store, face["id"], due.topic) else matched
    topic = next((t for t in config.topics if t.name == due.topic), None)
    language = face["language"] if face["language"] and re.fullmatch(r"[a-z]{2,3}", face["language"]) else None
    title = _headline(face, arts)
    # a model topic's highlights score the story again (its features): not for a line that shows none
    passage, headline = _highlights(source_art["title"], source_art["text"], topic, title) if snippet else ((), ())
    return StoryItem(
        story=due.story,
        topic=due.topic,
        score=due.score,
        title=title,
        url=_article_url(face),
        source=clean_line(_source_title(config, face["source"]), 80),
        date=_fmt_date(date, tz),
        language=language,
        language_name=LANGUAGES.get(language or "", language),
        snippet=passage,
        also=tuple(also.values()),
        headline=headline,
        translate_url=_translate_link(config, _article_url(face), language),
        from_feed=face["text_from"] == "feed",
        topic_title=clean_line(_topic_title(config, due.topic), 80),
    )


_URL_LIKE = re.compile(r"(?:https?://|www\.)\S*", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[\"'«“(]?[^\W\d_a-zа-яё])|(?<=[。！？])")
LEAD_HEADLINE_LIMIT = 160


def _headline(face: dict[str, Any], copies: Sequence[dict[str, Any]]) -> str:
    """The face's title; when it has none or it is only a URL, a copy's, else the text's first sentence.

    A bare URL says nothing about the story: a reader scanning headlines skips it.
    """
    for article in (face, *copies):
        title = clean_line(article["title"])
        if title and not _URL_LIKE.fullmatch(title):
            return clean_line(title, TITLE_LIMIT)
    text = clean_line(face["text"])
    if text:
        limit = LEAD_HEADLINE_LIMIT // 2 if _mostly_cjk(text) else LEAD_HEADLINE_LIMIT
        end = _SENTENCE_END.search(text, 12, limit + 1)  # not at "Dr." or "U.S."
        return clean_line(text[: end.start()] if end else text, limit)
    return clean_line(face["title"], 120) or clean_line(face["canonical_url"], 120)


def _source_title(config: Config, name: str) -> str:
    for s in config.sources:
        if s.name == name:
            return s.display
    return name


def _held_from(config: Config, sources: Sequence[str], shown: int = 3) -> str:
    """'180 from TASS, 20 from RG': how many held stories each source has, most first; past ``shown`` sources, the
    others counted together."""
    counts = Counter(sources).most_common()
    parts = [f"{n} from {clean_line(_source_title(config, name), 80)}" for name, n in counts[:shown]]
    if len(counts) > shown:
        rest = sum(n for _name, n in counts[shown:])
        parts.append(f"{rest} from {len(counts) - shown} other sources")
    return ", ".join(parts)


def _topic_title(config: Config, name: str) -> str:
    for t in config.topics:
        if t.name == name:
            return t.display
    return name


def _translate_link(config: Config, url: str | None, language: str | None) -> str | None:
    """The article in the reader's translator, for stories not in English (off unless configured)."""
    template = config.digest.translate_url if config.digest else None
    if not template or not url or not language or language == "en":
        return None
    return safe_url(template.format(url=quote(url, safe=""), lang=language))


def _article_url(article: dict[str, Any]) -> str | None:
    return safe_url(article["canonical_url"]) or safe_url(article["url"])


def _matches(store: Store, article_id: int, topic: str) -> bool:
    return store.scalar("SELECT 1 FROM matches WHERE article_id = ? AND topic = ?", [article_id, topic]) is not None


Segments = tuple[tuple[str, bool], ...]


def _highlights(title: str, text: str, topic: TopicConfig | None, headline: str) -> tuple[Segments, Segments]:
    """The snippet, a short passage around the terms the topic matches, and the headline, each as
    segments (text, is_hit).

    The headline's hits are the title's: when the headline is another title (a copy's) or the
    text's first sentence, it is one segment with none.
    """
    clean_title, clean = clean_line(title), clean_line(text)
    match = None
    if topic is not None and topic.model is not None and (clean or clean_title):
        # a model topic highlights the hits of the features that raised its score; its sentence encoder says
        # nothing of where they are, and the daemon that composes the digest need not load it
        from crawler.process import match_topic

        match = match_topic(topic, topic_mod.prepare(clean_title, clean), None, encoder=False)
    elif topic is not None and (clean or clean_title):
        match = _compiled(topic.query).match(clean_title, clean)
    # No match in this text (the query changed since): the passage's start, nothing highlighted.
    match = match or topic_mod.Match(0.0, (), ())
    snippet: Segments = ()
    if clean:
        width = SNIPPET_WIDTH_CJK if _mostly_cjk(clean) else SNIPPET_WIDTH
        segments = _whole_word_highlights(_merge_segments(topic_mod.snippet(clean, match, width)))
        snippet = tuple(_cjk_edges(segments, clean) if _mostly_cjk(clean) else segments)
    cut = headline.endswith("\u2026") and clean_title.startswith(headline[:-1])  # a long title, cut short
    if headline != clean_title and not cut:
        return snippet, ((headline, False),)
    shown = headline[:-1] if cut else headline
    segments = topic_mod.snippet(clean_title, match, len(clean_title), field=topic_mod.TITLE)
    marked = _whole_word_highlights(_merge_segments(segments))
    if "".join(t for t, _ in marked) != clean_title:  # the title's own text, only marked
        return snippet, ((headline, False),)
    return snippet, tuple(_prefix(marked, len(shown))) + ((("\u2026", False),) if cut else ())


_CLAUSE_END = "，、；："
_SENTENCE_END_CJK = "。！？"
CJK_EDGE_REACH = 24  # characters a cut edge moves to reach punctuation, at most: about a clause


def _cjk_edges(segments: list[tuple[str, bool]], text: str) -> list[tuple[str, bool]]:
    """A Chinese or Japanese snippet of ``text`` cut between clauses, not inside a word ('…俄罗…').

    The text has no spaces to cut at: an end cut moves back to the last punctuation near it, a start
    cut forward past the first, but never into a highlight. A '…' the text itself begins or ends with
    (Chinese writes its ellipsis '……') is no cut: that edge stays as written.
    """
    out = list(segments)
    shown = "".join(t for t, _ in out)
    cut_end = not text.endswith(shown[1:] if shown.startswith("\u2026") else shown)
    cut_start = not text.startswith(shown[:-1] if shown.endswith("\u2026") else shown)
    if cut_end and out and not out[-1][1] and out[-1][0].endswith("\u2026"):
        body = out[-1][0][:-1]
        at = max(body.rfind(p) for p in _CLAUSE_END + _SENTENCE_END_CJK)
        if at >= 0 and len(body) - at - 1 <= CJK_EDGE_REACH:
            keep = body[: at + 1] if body[at] in _SENTENCE_END_CJK else body[:at]
            out[-1] = (keep + "\u2026", False)
    if cut_start and out and not out[0][1] and out[0][0].startswith("\u2026"):
        body = out[0][0][1:]
        ats = [i for i, ch in enumerate(body[:CJK_EDGE_REACH]) if ch in _CLAUSE_END + _SENTENCE_END_CJK]
        if ats and ats[0] + 1 < len(body):
            out[0] = ("\u2026" + body[ats[0] + 1 :], False)
    return out


def _prefix(segments: Sequence[tuple[str, bool]], length: int) -> list[tuple[str, bool]]:
    """The segments' first ``length`` characters; a hit cut short is not one."""
    out: list[tuple[str, bool]] = []
    pos = 0
    for text, hit in segments:
        if pos >= length:
            break
        piece = text[: length - pos]
        out.append((piece, hit and piece == text))
        pos += len(text)
    return _merge_segments(out)


@functools.lru_cache(maxsize=64)
def _compiled(query: str) -> topic_mod.Query:
    """A topic's query compiled once per process, not once per story (compiling a long query takes a while)."""
    return topic_mod.compile_query(query)


_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def _mostly_cjk(text: str) -> bool:
    sample = text[:400]
    letters = sum(ch.isalpha() for ch in sample)
    return bool(letters) and len(_CJK.findall(sample)) > letters * 0.3


_JOINER = re.compile(r"[ \u00a0]*[-\u2010-\u2014]?[ \u00a0]*")  # between neighbouring words of one phrase


def _whole_word_highlights(segments: list[tuple[str, bool]], limit: int = MAX_HIGHLIGHTS) -> list[tuple[str, bool]]:
    """At most `limit` highlights, each a whole word.

    A hit that starts inside a word is not highlighted; one that ends inside it (a prefix* term)
    grows to the word's end. A single Chinese or Japanese character inside a longer run (俄 in
    俄罗斯) is not highlighted: it is a piece of another word. Hits separated only by spaces or a
    dash ("China Russia", "Russia–China") are one highlight.
    """
    full = "".join(t for t, _ in segments)
    spans: list[tuple[int, int]] = []
    pos = 0
    for text, hit in segments:
        if hit:
            spans.append((pos, pos + len(text)))
        pos += len(text)
    kept: list[tuple[int, int]] = []
    for start, end in spans:
        word = full[start:end].strip()
        if not word:
            continue
        before = full[start - 1] if start > 0 else " "
        after = full[end] if end < len(full) else " "
        if _CJK.match(word[0]):
            if len(word) == 1 and (_CJK.match(before) or _CJK.match(after)):
                continue
        else:
            if before.isalnum():
                continue
            while end < len(full) and full[end].isalnum():
                end += 1
        if kept and start < kept[-1][1]:
            continue
        if kept and _JOINER.fullmatch(full[kept[-1][1] : start]):  # neighbouring words: one highlight
            kept[-1] = (kept[-1][0], end)
            continue
        if len(kept) == limit:
            break
        kept.append((start, end))
    out: list[tuple[str, bool]] = []
    pos = 0
    for start, end in kept:
        if start > pos:
            out.append((full[pos:start], False))
        out.append((full[start:end], True))
        pos = end
    if pos < len(full):
        out.append((full[pos:], False))
    return out


def _merge_segments(segments: Sequence[tuple[str, bool]]) -> list[tuple[str, bool]]:
    out: list[tuple[str, bool]] = []
    for text, hit in segments:
        text = _UNSAFE_CHARS.sub(" ", text)
        if not text:
            continue
        if out and out[-1][1] == hit:
            out[-1] = (out[-1][0] + text, hit)
        else:
            out.append((text, hit))
    return out


def _health(config: Config, store: Store, now: datetime, tz: ZoneInfo) -> tuple[str, ...]:
    """One line per configured source failing for more than a day, disabled, or stale."""
    sources = {s.name: s for s in config.sources}
    cutoff = iso(now - HEALTH_AFTER)
    rows = store.query(
        "SELECT name, last_error, failing_since, active, inactive_reason, failures FROM sources"
        " WHERE active = 0 OR (failing_since IS NOT NULL AND failing_since <= ?)"
        " ORDER BY name",
        [cutoff],
    )
    lines = []
    for r in rows:
        source = sources.get(r["name"])
        # failing or deactivated at a url (kind, spider) no longer configured: crawl and the daemon poll it afresh
        if source is None or target_changed(store.poll_state(source.name), source):
            continue
        error = clean_line(r["inactive_reason"] or r["last_error"], 160)
        if not r["active"]:
            line = (
                f"{r['name']}: disabled ({error or 'gone'}); fix its url, then run "
                f"'newswatch sources --reset {r['name']}'"
            )
        else:
            since = _fmt_date(parse_iso(r["failing_since"]), tz)
            line = f"{r['name']}: failing since {since}" + (f" ({error})" if error else "")
        lines.append(line)
    from crawler.health import source_health

    for h in source_health(config, store, now):
        if h.state == "stale":
            lines.append(f"{h.name}: stale, {clean_line(h.stale_reason, 160)}; check it with 'newswatch probe {h.url}'")
    return tuple(lines)


def build_digest(
    config: Config,
    store: Store,
    recipient: Recipient,
    due: Sequence[Due],
    held: int,
    now: datetime,
    kind: str = "digest",
    held_from: Sequence[str] = (),
    near: Sequence[Due] = (),
    near_held: int = 0,
) -> Digest:
    """Loads what the template shows for these due stories, grouped by topic in config order; ``held_from``: the
    source of each story held for the next message; ``near``: the near misses listed after them, best first, and
    ``near_held`` how many more are held."""
    tz = _local(config)
    items = [_item(store, config, d, tz) for d in due]
    if kind == "digest" and config.digest is not None and config.digest.include_alerted:
        alerted = _alerted(store, recipient.email, [i.story for i in items])
        items = [replace(i, alerted=True) if i.story in alerted else i for i in items]
    order = {t.name: i for i, t in enumerate(config.topics)}
    groups = []
    for name in sorted({i.topic for i in items}, key=lambda n: (order.get(n, len(order)), n)):
        mine = [i for i in items if i.topic == name]
        sections = tuple(
            LanguageSection(_language_label(lang), tuple(i for i in mine if (i.language or "") == lang))
            for lang in sorted({i.language or "" for i in mine}, key=_language_rank)
        )
        stories = tuple(s for section in sections for s in section.stories)
        groups.append(TopicGroup(name, stories, _topic_title(config, name), sections))
    counts: dict[str, int] = {}
    for i in items:
        counts[i.language or ""] = counts.get(i.language or "", 0) + 1
    languages = tuple((_language_label(lang), counts[lang]) for lang in sorted(counts, key=_language_rank))
    # the top headlines help only when there is more to scroll through than they are
    top = tuple(sorted(items, key=lambda i: -i.score)[:TOP_HEADLINES]) if len(items) > TOP_HEADLINES else ()
    return Digest(
        recipient=recipient.email,
        topics=tuple(t.name for t in recipient_topics(config, recipient)),
        groups=tuple(groups),
        held=held,
        held_from=_held_from(config, held_from),
        health=_health(config, store, now, tz) if kind == "digest" else (),
        date=_fmt_date(now, tz),
        kind=kind,
        story_ids=tuple(d.story for d in due),
        languages=languages,
        top=top,
        topic_titles=tuple(t.display for t in recipient_topics(config, recipient)),
        contact=_contact(config),
        near=tuple(_item(store, config, d, tz, snippet=False) for d in near),
        near_held=near_held,
    )


def _contact(config: Config) -> str:
    """Whom to write to for other topics or no more mail: digest.contact, else the sender's address;
    "" when no one reads it (localhost)."""
    if config.digest is not None and config.digest.contact:
        return config.digest.contact
    address = parseaddr(config.smtp.sender)[1] if config.smtp else ""
    domain = address.rpartition("@")[2].lower()
    return address if "." in domain and domain != "localhost" and not domain.endswith(".localhost") else ""


def _alerted(store: Store, recipient: str, stories: Sequence[str]) -> set[str]:
    """Those of the stories the recipient already had as an immediate alert."""
    sql = f"SELECT 1 WHERE {sent_clause(':story', ['alert'])}"
    return {s for s in stories if store.query(sql, {"recipient": recipient.lower(), "story": s})}


def _language_rank(language: str) -> tuple[int, str]:
    return (LANGUAGE_ORDER.index(language) if language in LANGUAGE_ORDER else len(LANGUAGE_ORDER), language)


def _language_label(language: str) -> str:
    return LANGUAGES.get(language, language) if language else "Other"


# -- rendering -------------------------------------------------------------------------------

_env: jinja2.Environment | None = None


def _environment() -> jinja2.Environment:
    global _env
    if _env is None:
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(TEMPLATES)),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"), default=False),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        env.filters["wrap"] = _wrap
        env.filters["wrap_snippet"] = _wrap_snippet
        env.filters["wrap_items"] = _wrap_items
        _env = env
    return _env


# The plain-text part is read in a terminal: lines are filled to 76 columns, a Chinese or Japanese
# character taking two, broken between words or between such characters but never before closing
# punctuation (，。」), and never inside a word or a URL.
TEXT_WIDTH = 76
_WIDE = "\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6"
_NO_LINE_START = "，。、；：？！）》」』〕】〉”’·,.;:?!)\\]}»…"
_UNITS = re.compile(rf"\s+|[{_WIDE}]|[^\s{_WIDE}]+")


def _units(segments: Sequence[tuple[str, bool]]) -> list[str]:
    """The text as units a line may break between: words, single wide characters, and spaces (" ").

    A highlighted segment's first and last words carry its '*' marks; a unit that may not start a
    line, or that touches a word on either side, is joined to the one before it.
    """
    units: list[str] = []
    glued = False  # the last unit ends with no space after it
    for text, hit in segments:
        pieces = _UNITS.findall(text)
        words = [i for i, piece in enumerate(pieces) if not piece.isspace()]
        if hit and words:
            pieces[words[0]] = "*" + pieces[words[0]]
            pieces[words[-1]] += "*"
        for piece in pieces:
            if piece.isspace():
                if units and units[-1] != " ":
                    units.append(" ")
                glued = False
                continue
            bare = piece.strip("*")
            before = units[-1].rstrip("*")[-1:] if glued and units else ""
            wide_edge = bool(re.match(f"[{_WIDE}]", bare[:1])) or bool(re.match(f"[{_WIDE}]", before))
            if glued and (bare[:1] in _NO_LINE_START or not wide_edge):
                units[-1] += piece
            else:
                units.append(piece)
            glued = True
    return units


def _fill(units: Sequence[str], first: str, indent: str, width: int = TEXT_WIDTH) -> str:
    lines: list[str] = []
    line, col, fresh, space = first, columns(first), True, False
    for unit in units:
        if unit == " ":
            space = not fresh
            continue
        need = columns(unit) + (1 if space else 0)
        if not fresh and col + need > width:
            lines.append(line)
            line, col, fresh, space = indent, columns(indent), True, False
            need = columns(unit)
        line += (" " if space else "") + unit
        col, fresh, space = col + need, False, False
    lines.append(line)
    return "\n".join(x.rstrip() for x in lines)


def _wrap(text: str, indent: str = "   ", first: str | None = None) -> str:
    """Plain text filled to the terminal's width; the first line starts with ``first`` (default: the indent)."""
    return _fill(_units([(text, False)]), indent if first is None else first, indent)


def _wrap_items(items: Sequence[str], head: str, indent: str = "   ") -> str:
    """``head`` and then the items, comma-separated and filled like `_wrap`, a line broken only between
    items ("cgtn <https://...>" stays on one line); the first item stays on the head's line, long or not,
    rather than leave the head alone on it."""
    units = [" ".join([head, items[0]]) + ("," if len(items) > 1 else "")] if items else [head]
    for i, item in enumerate(items[1:], 1):
        units += [" ", item + ("," if i < len(items) - 1 else "")]
    return _fill(units, indent, indent)


def _wrap_snippet(segments: Sequence[tuple[str, bool]], indent: str = "   ") -> str:
    """A snippet filled like `_wrap`, its highlights between '*'."""
    return _fill(_units(segments), indent, indent)


def render(digest: Digest, subject: str) -> tuple[str, str]:
    """(text, html) bodies of the message."""
    env = _environment()
    context = {"d": digest, "subject": subject}
    text = env.get_template(f"{digest.kind}.txt.j2").render(context)
    text = re.sub(r"\n{3,}", "\n\n", text)  # the templates stay readable; the mail stays tidy
    html_template = env.get_template(f"{digest.kind}.html.j2")
    html = html_template.render(context)
    if digest.kind != "digest" or len(html.encode("utf-8")) <= HTML_BUDGET:
        return text, html
    # Each topic gives up its own lowest-scoring stories, in proportion to its size: topics score on
    # scales of their own (a rule topic's hits, a model's 0-10), so one order by score across them would
    # empty the topic of the lower scale first.
    items = [s for g in digest.groups for s in g.stories]
    standing = {
        s.story: ((len(g.stories) - i) / len(g.stories), s.score)
        for g in digest.groups
        for i, s in enumerate(sorted(g.stories, key=lambda s: -s.score))
    }
    lowest_first = [s.story for _, s in sorted(enumerate(items), key=lambda p: (*standing[p[1].story], -p[0]))]
    step = max(1, len(items) // 20)
    briefed = 0
    while len(html.encode("utf-8")) > HTML_BUDGET and briefed < len(items):
        briefed = min(len(items), briefed + step)
        html = html_template.render({**context, "d": _brief(digest, set(lowest_first[:briefed]))})
    # Without any snippets, a digest of 200 stories was still about 130 kB: its lowest-scoring stories
    # are left out of the HTML too, each language section saying how many, until the rest fits.
    omitted = 0
    while len(html.encode("utf-8")) > HTML_BUDGET and omitted < len(items):
        omitted = min(len(items), omitted + step)
        html = html_template.render({**context, "d": _brief(digest, set(lowest_first), set(lowest_first[:omitted]))})
    return text, html


def _brief(digest: Digest, stories: set[str], omit: set[str] | None = None) -> Digest:
    """The digest with these stories shown without their snippets, and those in ``omit`` not at all."""
    omit = omit or set()
    shortened = stories | omit

    def brief(items: tuple[StoryItem, ...]) -> tuple[StoryItem, ...]:
        return tuple(replace(s, brief=True, omitted=s.story in omit) if s.story in shortened else s for s in items)

    groups = tuple(
        replace(
            g,
            stories=brief(g.stories),
            sections=tuple(replace(sec, stories=brief(sec.stories)) for sec in g.sections),
        )
        for g in digest.groups
    )
    return replace(digest, groups=groups, top=brief(digest.top), briefed=len(stories - omit), omitted=len(omit))


_PLURAL_COUNT = re.compile(r"(\{count\}(?: new)?) stories\b")
_PLURAL_NEAR = re.compile(r"(\{near\} near) misses\b")
_NEAR_ALONE = "{near} near misses"  # a digest of near misses alone says them where its {count} would read 0


def _placeholders(template: str) -> set[str]:
    try:
        return {name for _text, name, _spec, _conv in string.Formatter().parse(template) if name is not None}
    except ValueError:
        return set()


def _digest_subject(template: str, digest: Digest, topics: str) -> str:
    """The subject template filled in: {count} the matches, {near} the near misses, each phrase's plural right."""
    near = len(digest.near)
    used = _placeholders(template)
    if near and not digest.count and "near" not in used and "count" in used:
        # "newswatch: 0 new stories" reads as nothing to open: a digest of near misses alone says what it holds,
        # "newswatch: 3 near misses" in place of its "{count} new stories", else ", 3 near misses" at its end
        if _PLURAL_COUNT.search(template):
            template = _PLURAL_COUNT.sub(lambda _m: _NEAR_ALONE, template)
        else:
            template += ", " + _NEAR_ALONE
    if digest.count == 1:  # "newswatch: 1 new story", not "1 new stories"
        template = _PLURAL_COUNT.sub(r"\1 story", template)
    if near == 1:  # "1 near miss"
        template = _PLURAL_NEAR.sub(r"\1 miss", template)
    return template.format(count=digest.count, near=near, topics=topics, date=digest.date)


def _subject(config: Config, digest: Digest) -> str:
    if digest.kind == "alert":
        items = [s for g in digest.groups for s in g.stories]
        if len(items) == 1:
            return clean_line(f"newswatch alert: {items[0].title}", SUBJECT_LIMIT)
        names = ", ".join(g.title or g.name for g in digest.groups)
        return clean_line(f"newswatch alert: {len(items)} stories ({names})", SUBJECT_LIMIT)
    template = config.digest.subject if config.digest else DEFAULT_SUBJECT
    topics = (
        ", ".join(g.title or g.name for g in digest.groups)
        or ", ".join(dict.fromkeys(s.topic_title for s in digest.near))  # a digest of near misses alone: theirs
        or ", ".join(_topic_title(config, t) for t in digest.topics)
        or "all topics"
    )
    try:
        subject = _digest_subject(template, digest, topics)
    except (KeyError, IndexError, ValueError):
        subject = _digest_subject(DEFAULT_SUBJECT, digest, topics)
    return clean_line(subject, SUBJECT_LIMIT) or "newswatch digest"


def compose(
    config: Config, digest: Digest, *, to: str, message_id: str, now: datetime, subject_prefix: str = ""
) -> EmailMessage:
    """The multipart/alternative message (text/plain + text/html) with its headers."""
    subject = clean_line(subject_prefix + _subject(config, digest), SUBJECT_LIMIT + len(subject_prefix))
    text, html = render(digest, subject)
    domain = mail_domain(config)
    msg = EmailMessage(policy=MAIL_POLICY)
    msg["Subject"] = subject
    msg["From"] = _ascii_domain(config.smtp.sender) if config.smtp else f"newswatch <newswatch@{domain}>"
    msg["To"] = _ascii_domain(to)
    msg["Date"] = format_datetime(now.astimezone(UTC))
    msg["Message-ID"] = message_id
    msg["List-Id"] = f"newswatch {digest.kind}s <{digest.kind}.newswatch.{domain}>"
    contact = config.digest.contact if config.digest else None
    if contact:
        # RFC 2369, for a mail client's "unsubscribe" button: only a configured contact, since the sender's
        # mailbox may be one nobody reads. A person edits [[digest.recipients]]: the subject says for whom.
        mailto = "mailto:" + quote(ascii_address(contact), safe="@!$'*+,;:")
        msg["List-Unsubscribe"] = f"<{mailto}?subject={quote('newswatch unsubscribe ' + to, safe='@')}>"
        msg["List-Help"] = f"<{mailto}?subject=newswatch%20help>"
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"  # no out-of-office replies to a robot
    msg.set_content(text, subtype="plain", charset="utf-8")
    msg.add_alternative(html, subtype="html", charset="utf-8")
    return msg
