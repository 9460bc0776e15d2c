"""Digests and immediate alerts: what is due to whom, rendered, and delivered through the ledger.

The only module that imports jinja2. A story is due to a recipient when it matches one of
their topics at or above the topic's min_score, was first seen within ``digest.max_age`` and
was never sent to them (see scheduler.ledger). Each story appears once, under its
best-scoring topic; topics are listed in config order, stories by score.

Alerts (``send_alerts``): one message per recipient per call, listing every story that newly
reached a topic's ``alert_score`` (usually one). Only stories first seen within the last day
(and within max_age) are alerted, from articles that were not a source's first-poll backlog;
whatever an alert misses still reaches the digest.
"""

from __future__ import annotations

import json
import os
import re
import socket
import tempfile
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import jinja2

from crawler.config import Config, DigestConfig, Recipient, TopicConfig
from crawler.dates import plausible
from crawler.errors import MailError, NewswatchError, UsageError
from crawler.store import Store, iso, parse_iso
from scheduler import ledger

__all__ = [
    "DigestOutcome",
    "RecipientResult",
    "build_digest",
    "due_count",
    "last_digest_at",
    "run_digest",
    "send_alerts",
]

Sender = Callable[[EmailMessage, str], None]

LAST_SENT_KEY = "digest.last_sent"
ALERT_WINDOW = timedelta(days=1)
HEALTH_AFTER = timedelta(days=1)
SNIPPET_WIDTH = 280
TITLE_LIMIT = 300
SUBJECT_LIMIT = 150
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


# -- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecipientResult:
    email: str
    stories: int  # stories in the message
    held: int  # due stories beyond max_stories (stay due)
    status: str  # 'sent' | 'empty' | 'failed' | 'dry-run' | 'preview'
    error: str | None
    message_id: str | None


@dataclass(frozen=True)
class DigestOutcome:
    results: tuple[RecipientResult, ...]
    output: Path | None

    @property
    def failed(self) -> bool:
        return any(r.status == "failed" for r in self.results)


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


@dataclass(frozen=True)
class TopicGroup:
    name: str
    stories: tuple[StoryItem, ...]


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

    @property
    def count(self) -> int:
        return sum(len(g.stories) for g in self.groups)


@dataclass(frozen=True)
class _Due:
    story: str
    topic: str
    score: float
    article_id: int
    hits: tuple[str, ...]
    first_seen: str


# -- text safety -----------------------------------------------------------------------------

# C0/C1 controls, line/paragraph separators, bidi embeddings/overrides/isolates and BOM:
# scraped text must not break a header line or reorder what the reader sees.
_UNSAFE_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
_SPACES = re.compile(r"\s+")


def clean_line(value: str | None, limit: int | None = None) -> str:
    """One line of plain text: controls removed, whitespace collapsed, cut at a word with '…'."""
    text = _SPACES.sub(" ", _UNSAFE_CHARS.sub(" ", value or "")).strip()
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
    if _UNSAFE_CHARS.search(url) or any(ch.isspace() for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


def _valid_address(value: str) -> bool:
    if _UNSAFE_CHARS.search(value):
        return False
    name, addr = parseaddr(value)
    return bool(addr) and addr.count("@") == 1 and all(addr.split("@")) and not name


def _domain(config: Config) -> str:
    addr = parseaddr(config.smtp.sender)[1] if config.smtp else ""
    domain = addr.rpartition("@")[2] if "@" in addr else socket.getfqdn()
    domain = re.sub(r"[^A-Za-z0-9.-]", "", domain).strip(".-").lower()
    return domain or "localhost"


# -- selection ------------------------------------------------------------------------------


def _digest_config(config: Config) -> DigestConfig:
    if config.digest is None:
        raise UsageError(
            "the config has no [digest] section; add one with [[digest.recipients]] "
            "(see 'newswatch init' for an example)"
        )
    return config.digest


def _recipient_topics(config: Config, recipient: Recipient) -> list[TopicConfig]:
    wanted = set(recipient.topics)
    return [t for t in config.topics if not wanted or t.name in wanted]


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    return now if now.tzinfo else now.replace(tzinfo=UTC)


def _select(
    store: Store,
    recipient: str,
    thresholds: Sequence[tuple[str, float]],
    since: datetime,
    exclude_kinds: Sequence[str],
    *,
    alert: bool = False,
) -> list[_Due]:
    """Unsent stories with a match at or above their topic's threshold, best topic first."""
    if not thresholds:
        return []
    params: dict[str, Any] = {"recipient": recipient.lower(), "since": iso(since)}
    values = []
    for i, (name, threshold) in enumerate(thresholds):
        params[f"t{i}"], params[f"s{i}"], params[f"o{i}"] = name, threshold, i
        values.append(f"(:t{i}, :s{i}, :o{i})")
    sql = (
        f"WITH wanted(name, threshold, ord) AS (VALUES {', '.join(values)})"
        " SELECT s.id AS story, s.first_seen, m.topic, m.score, m.article_id, m.hits, w.ord"
        " FROM stories s JOIN articles a ON a.story = s.id"
        " JOIN matches m ON m.article_id = a.id"
        " JOIN wanted w ON w.name = m.topic AND m.score >= w.threshold"
        " WHERE s.merged_into IS NULL AND s.first_seen >= :since"
        + (" AND a.backlog = 0" if alert else "")
        + f" AND NOT {ledger.sent_clause('s.id', exclude_kinds)}"
    )
    best: dict[str, tuple[Any, ...]] = {}
    for row in store.query(sql, params):
        # Best score wins; on a tie, the topic listed first in the config, then the older article.
        key = (-row["score"], row["ord"], row["article_id"])
        if row["story"] not in best or key < best[row["story"]][0]:
            best[row["story"]] = (key, row)
    out = []
    for story, (_, row) in best.items():
        try:
            hits = tuple(str(h) for h in json.loads(row["hits"] or "[]"))
        except (ValueError, TypeError):
            hits = ()
        out.append(_Due(story, row["topic"], float(row["score"]), int(row["article_id"]), hits, row["first_seen"]))
    # Highest score first; among equals the newest story, then a stable id order.
    out.sort(key=lambda d: (-d.score, _neg_time(d.first_seen), _id_key(d.story)))
    return out


def _neg_time(value: str) -> float:
    dt = parse_iso(value)
    return -dt.timestamp() if dt else 0.0


def _id_key(story: str) -> tuple[int, str]:
    return (int(story), "") if story.isdigit() else (1 << 62, story)


def _due(config: Config, store: Store, recipient: Recipient, now: datetime) -> list[_Due]:
    dcfg = _digest_config(config)
    kinds = ("digest",) if dcfg.include_alerted else ("digest", "alert")
    topics = _recipient_topics(config, recipient)
    due = _select(
        store, recipient.email, [(t.name, t.min_score) for t in topics], now - timedelta(seconds=dcfg.max_age), kinds
    )
    busy = ledger.in_flight(store, recipient.email, now)
    return [d for d in due if d.story not in busy]


def due_count(config: Config, store: Store, recipient: Recipient, now: datetime) -> int:
    """How many stories are due to this recipient now (before max_stories)."""
    ledger.prepare(store)
    return len(_due(config, store, recipient, _now(now)))


def last_digest_at(store: Store) -> datetime | None:
    """When the last digest run without failures finished (for the daemon's catch-up)."""
    try:
        return parse_iso(store.get_state(LAST_SENT_KEY))
    except ValueError:
        return None


# -- building --------------------------------------------------------------------------------


def _local(config: Config) -> ZoneInfo:
    try:
        return ZoneInfo(config.digest.timezone if config.digest else "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _fmt_date(dt: datetime | None, tz: ZoneInfo) -> str:
    from crawler.dates import local as local_time

    local = local_time(dt, tz)  # a stored 9999-12-31 would overflow in a zone east of UTC: shown as no date
    if local is None:
        return ""
    return f"{local.day} {MONTHS[local.month - 1]} {local.year}"


def _item(store: Store, config: Config, due: _Due, tz: ZoneInfo) -> StoryItem:
    arts = store.query(
        "SELECT id, url, canonical_url, source, title, text, published, fetched, language"
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
            also[a["source"]] = Outlet(clean_line(a["source"], 80), _article_url(a))
    # The snippet comes from the face when it matched the topic too, else from the best match.
    source_art = face if _matches(store, face["id"], due.topic) else matched
    topic = next((t for t in config.topics if t.name == due.topic), None)
    language = face["language"] if face["language"] and re.fullmatch(r"[a-z]{2,3}", face["language"]) else None
    return StoryItem(
        story=due.story,
        topic=due.topic,
        score=due.score,
        title=clean_line(face["title"], TITLE_LIMIT) or clean_line(face["canonical_url"], 120),
        url=_article_url(face),
        source=clean_line(face["source"], 80),
        date=_fmt_date(date, tz),
        language=language,
        language_name=LANGUAGES.get(language or "", language),
        snippet=tuple(_snippet(source_art["title"], source_art["text"], topic, due.hits)),
        also=tuple(also.values()),
    )


def _article_url(article: dict[str, Any]) -> str | None:
    return safe_url(article["canonical_url"]) or safe_url(article["url"])


def _matches(store: Store, article_id: int, topic: str) -> bool:
    return store.scalar("SELECT 1 FROM matches WHERE article_id = ? AND topic = ?", [article_id, topic]) is not None


def _snippet(title: str, text: str, topic: TopicConfig | None, hits: Sequence[str]) -> list[tuple[str, bool]]:
    """Segments (text, is_hit) of a short passage around the matched terms."""
    clean = clean_line(text)
    if not clean:
        return []
    if topic is not None:
        try:
            from crawler import topics as topic_mod
        except ImportError:
            topic_mod = None  # type: ignore[assignment]
        if topic_mod is not None:
            try:
                match = topic_mod.compile_query(topic.query).match(clean_line(title), clean)
                segments = [(str(s), bool(h)) for s, h in topic_mod.snippet(clean, match, SNIPPET_WIDTH)]
                if any(s for s, _ in segments):
                    return _merge_segments(segments)
            except (NewswatchError, AttributeError, TypeError, ValueError):
                pass  # fall back to highlighting the stored hit terms
    return _merge_segments(_snippet_from_hits(clean, hits))


def _snippet_from_hits(text: str, hits: Sequence[str]) -> list[tuple[str, bool]]:
    terms = sorted({h.strip('"').rstrip("*").strip() for h in hits if h.strip('"* ')}, key=len, reverse=True)
    spans: list[tuple[int, int]] = []
    if terms:
        pattern = re.compile("|".join(re.escape(t) for t in terms), re.IGNORECASE)
        for m in pattern.finditer(text):
            end = m.end()
            while end < len(text) and text[end].isalnum() and not _is_cjk(text[end]):
                end += 1  # a stem highlights the whole word it starts
            if m.start() == 0 or not text[m.start() - 1].isalnum() or _is_cjk(text[m.start()]):
                spans.append((m.start(), end))
    start = 0
    if spans:
        start = max(0, spans[0][0] - SNIPPET_WIDTH // 3)
        if start:
            space = text.find(" ", start, spans[0][0])
            start = space + 1 if space != -1 else start
    end = min(len(text), start + SNIPPET_WIDTH)
    if end < len(text):
        space = text.rfind(" ", start + SNIPPET_WIDTH // 2, end)
        end = space if space != -1 else end
    out: list[tuple[str, bool]] = []
    if start:
        out.append(("\u2026", False))
    pos = start
    for s, e in spans:
        if s < pos or e > end:
            continue
        out.append((text[pos:s], False))
        out.append((text[s:e], True))
        pos = e
    out.append((text[pos:end], False))
    if end < len(text):
        out.append(("\u2026", False))
    return out


def _is_cjk(ch: str) -> bool:
    return "\u3040" <= ch <= "\u30ff" or "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


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
    """One line per configured source failing for more than a day, or disabled."""
    names = {s.name for s in config.sources}
    cutoff = iso(now - HEALTH_AFTER)
    rows = store.query(
        "SELECT name, last_error, failing_since, active, inactive_reason, failures FROM sources"
        " WHERE active = 0 OR (failing_since IS NOT NULL AND failing_since <= ?)"
        " ORDER BY name",
        [cutoff],
    )
    lines = []
    for r in rows:
        if r["name"] not in names:
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
    return tuple(lines)


def build_digest(
    config: Config,
    store: Store,
    recipient: Recipient,
    due: Sequence[_Due],
    held: int,
    now: datetime,
    kind: str = "digest",
) -> Digest:
    """Loads what the template shows for these due stories, grouped by topic in config order."""
    tz = _local(config)
    items = [_item(store, config, d, tz) for d in due]
    order = {t.name: i for i, t in enumerate(config.topics)}
    groups = []
    for name in sorted({i.topic for i in items}, key=lambda n: (order.get(n, len(order)), n)):
        groups.append(TopicGroup(name, tuple(i for i in items if i.topic == name)))
    return Digest(
        recipient=recipient.email,
        topics=tuple(t.name for t in _recipient_topics(config, recipient)),
        groups=tuple(groups),
        held=held,
        health=_health(config, store, now, tz) if kind == "digest" else (),
        date=_fmt_date(now, tz),
        kind=kind,
        story_ids=tuple(d.story for d in due),
    )


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
        _env = env
    return _env


def _wrap(text: str, indent: str = "   ", width: int = 76) -> str:
    return textwrap.fill(text, width=width, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False)


def render(digest: Digest, subject: str) -> tuple[str, str]:
    """(text, html) bodies of the message."""
    env = _environment()
    context = {"d": digest, "subject": subject}
    text = env.get_template(f"{digest.kind}.txt.j2").render(context)
    text = re.sub(r"\n{3,}", "\n\n", text)  # the templates stay readable; the mail stays tidy
    html = env.get_template(f"{digest.kind}.html.j2").render(context)
    return text, html


def _subject(config: Config, digest: Digest) -> str:
    if digest.kind == "alert":
        items = [s for g in digest.groups for s in g.stories]
        if len(items) == 1:
            return clean_line(f"newswatch alert: {items[0].title}", SUBJECT_LIMIT)
        names = ", ".join(g.name for g in digest.groups)
        return clean_line(f"newswatch alert: {len(items)} stories ({names})", SUBJECT_LIMIT)
    dcfg = _digest_config(config)
    topics = ", ".join(g.name for g in digest.groups) or ", ".join(digest.topics) or "all topics"
    try:
        subject = dcfg.subject.format(count=digest.count, topics=topics, date=digest.date)
    except (KeyError, IndexError, ValueError):
        subject = f"newswatch: {digest.count} new stories"
    return clean_line(subject, SUBJECT_LIMIT) or "newswatch digest"


def compose(
    config: Config, digest: Digest, *, to: str, message_id: str, now: datetime, subject_prefix: str = ""
) -> EmailMessage:
    """The multipart/alternative message (text/plain + text/html) with its headers."""
    subject = clean_line(subject_prefix + _subject(config, digest), SUBJECT_LIMIT + len(subject_prefix))
    text, html = render(digest, subject)
    domain = _domain(config)
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = config.smtp.sender if config.smtp else f"newswatch <newswatch@{domain}>"
    msg["To"] = to
    msg["Date"] = format_datetime(now.astimezone(UTC))
    msg["Message-ID"] = message_id
    msg["List-Id"] = f"newswatch {digest.kind}s <{digest.kind}.newswatch.{domain}>"
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"  # no out-of-office replies to a robot
    msg.set_content(text, subtype="plain", charset="utf-8")
    msg.add_alternative(html, subtype="html", charset="utf-8")
    return msg


# -- running ---------------------------------------------------------------------------------


class _Delivery:
    """The sender for one run: the given callable, or a Mailer opened on first use."""

    def __init__(self, config: Config, sender: Sender | None) -> None:
        self.config = config
        self.sender = sender
        self.mailer: Any = None

    def send(self, msg: EmailMessage, rcpt: str) -> None:
        if self.sender is not None:
            self.sender(msg, rcpt)
            return
        if self.mailer is None:
            if self.config.smtp is None:
                raise UsageError("sending mail needs an [smtp] section in the config (host, port, security, sender)")
            from scheduler.mail import Mailer

            self.mailer = Mailer(self.config.smtp)
        self.mailer.send(msg, rcpt)

    def close(self) -> None:
        if self.mailer is not None:
            self.mailer.close()


def _pick_recipients(config: Config, recipient: str | None) -> list[Recipient]:
    dcfg = _digest_config(config)
    recipients = list(dcfg.recipients)
    if recipient is not None:
        recipients = [r for r in recipients if r.email.lower() == recipient.lower()]
        if not recipients:
            known = ", ".join(r.email for r in dcfg.recipients) or "none configured"
            raise UsageError(f"--recipient {recipient} is not in [[digest.recipients]] ({known})")
    return recipients


def run_digest(
    config: Config,
    store: Store,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    output: Path | None = None,
    to: str | None = None,
    recipient: str | None = None,
    sender: Sender | None = None,
) -> DigestOutcome:
    """Builds each recipient's digest and sends it, recording each story right after the 250.

    ``dry_run`` sends and marks nothing; ``output`` writes one recipient's digest (.html or .eml)
    and sends nothing; ``to`` mails a preview of one recipient's digest there, marking nothing.
    ``sender(msg, rcpt)`` replaces the SMTP mailer (it must raise MailError on failure).
    """
    now = _now(now)
    _digest_config(config)  # raises a UsageError when [digest] is missing
    ledger.prepare(store)
    if output is not None and Path(output).suffix.lower() not in (".html", ".htm", ".eml"):
        raise UsageError(f"--output {output}: the file name must end in .html or .eml")
    if to is not None and not _valid_address(to):
        raise UsageError(f"--to {to!r} is not an email address; write it like analyst@example.org")
    recipients = _pick_recipients(config, recipient)
    preview = output is not None or to is not None
    if not recipients:
        if not preview and not dry_run:
            raise UsageError('no recipients: add [[digest.recipients]] with email = "..." to the config')
        recipients = [Recipient(email=f"newswatch@{_domain(config)}")]  # a preview of all topics
    if not dry_run and (to is not None or not preview) and config.smtp is None and sender is None:
        raise UsageError(
            "sending the digest needs an [smtp] section in the config; "
            "use --output FILE.html to write it to a file instead"
        )

    results: list[RecipientResult] = []
    delivery = _Delivery(config, sender)
    try:
        if preview:
            results.extend(_preview(config, store, recipients[0], now, output, to, dry_run, delivery))
        else:
            for r in recipients:
                results.append(_run_one(config, store, r, now, dry_run, delivery))
    finally:
        delivery.close()
    if not dry_run and not preview and not any(r.status == "failed" for r in results):
        store.set_state(LAST_SENT_KEY, iso(now))
    return DigestOutcome(tuple(results), Path(output) if output is not None else None)


def _preview(
    config: Config,
    store: Store,
    r: Recipient,
    now: datetime,
    output: Path | None,
    to: str | None,
    dry_run: bool,
    delivery: _Delivery,
) -> list[RecipientResult]:
    max_stories = _digest_config(config).max_stories
    due = _due(config, store, r, now)
    chosen, held = due[:max_stories], max(0, len(due) - max_stories)
    digest = build_digest(config, store, r, chosen, held, now)
    token = ledger.stories_key([d.story for d in chosen])[:16]
    # Never the real digest's Message-ID: a client would treat the real one as a duplicate.
    mid = f"<newswatch.preview.{int(now.timestamp())}.{token}@{_domain(config)}>"
    results = []
    if output is not None:
        path = Path(output)
        msg = compose(config, digest, to=r.email, message_id=mid, now=now)
        if path.suffix.lower() == ".eml":
            data = msg.as_bytes()
        else:
            data = render(digest, str(msg["Subject"]))[1].encode("utf-8")
        _write_atomic(path, data)
        results.append(RecipientResult(r.email, digest.count, held, "preview", None, mid))
    if to is not None:
        msg = compose(config, digest, to=to, message_id=mid, now=now, subject_prefix="[preview] ")
        if dry_run:
            results.append(RecipientResult(to, digest.count, held, "dry-run", None, mid))
        else:
            try:
                delivery.send(msg, to)
            except MailError as exc:
                results.append(RecipientResult(to, digest.count, held, "failed", str(exc), mid))
            else:
                results.append(RecipientResult(to, digest.count, held, "preview", None, mid))
    return results


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _run_one(
    config: Config, store: Store, r: Recipient, now: datetime, dry_run: bool, delivery: _Delivery
) -> RecipientResult:
    dcfg = _digest_config(config)
    if dry_run:
        due = _due(config, store, r, now)
        chosen, held = due[: dcfg.max_stories], max(0, len(due) - dcfg.max_stories)
        status = "dry-run" if chosen or dcfg.send_empty else "empty"
        return RecipientResult(r.email, len(chosen), held, status, None, None)
    with store.transaction():  # select and reserve at once: a concurrent run cannot take the same stories
        due = _due(config, store, r, now)
        chosen, held = due[: dcfg.max_stories], max(0, len(due) - dcfg.max_stories)
        if not chosen and not dcfg.send_empty:
            return RecipientResult(r.email, 0, 0, "empty", None, None)
        reservation = ledger.reserve(store, r.email, "digest", [d.story for d in chosen], _domain(config), now)
    return _deliver(config, store, r, chosen, held, now, reservation, delivery, "digest")


def _deliver(
    config: Config,
    store: Store,
    r: Recipient,
    chosen: Sequence[_Due],
    held: int,
    now: datetime,
    reservation: ledger.Reservation,
    delivery: _Delivery,
    kind: str,
) -> RecipientResult:
    try:
        digest = build_digest(config, store, r, chosen, held, now, kind=kind)
        msg = compose(config, digest, to=r.email, message_id=reservation.message_id, now=now)
        delivery.send(msg, r.email)
    except MailError as exc:
        ledger.release(store, reservation, str(exc))
        return RecipientResult(r.email, len(chosen), held, "failed", str(exc), reservation.message_id)
    except BaseException as exc:
        ledger.release(store, reservation, f"interrupted: {type(exc).__name__}")
        raise
    ledger.mark_sent(store, reservation, now)  # right after the 250, before the next recipient
    return RecipientResult(r.email, len(chosen), held, "sent", None, reservation.message_id)


def send_alerts(
    config: Config, store: Store, *, now: datetime | None = None, sender: Sender | None = None
) -> list[RecipientResult]:
    """Mails each recipient the stories that newly reached an alert_score; one message per recipient.

    Returns one result per recipient that had something to alert (sent or failed).
    """
    if config.digest is None or not config.digest.recipients:
        return []
    alerting = [t for t in config.topics if t.alert_score is not None]
    if not alerting:
        return []
    if config.smtp is None and sender is None:
        raise UsageError("alerts need an [smtp] section in the config")
    now = _now(now)
    ledger.prepare(store)
    since = now - min(ALERT_WINDOW, timedelta(seconds=config.digest.max_age))
    results: list[RecipientResult] = []
    delivery = _Delivery(config, sender)
    try:
        for r in config.digest.recipients:
            wanted = set(r.topics)
            thresholds = [
                (t.name, float(t.alert_score))
                for t in alerting  # type: ignore[arg-type]
                if not wanted or t.name in wanted
            ]
            with store.transaction():
                due = _select(store, r.email, thresholds, since, ledger.KINDS, alert=True)
                busy = ledger.in_flight(store, r.email, now)
                due = [d for d in due if d.story not in busy]
                if not due:
                    continue
                chosen = due[: config.digest.max_stories]
                held = len(due) - len(chosen)
                reservation = ledger.reserve(store, r.email, "alert", [d.story for d in chosen], _domain(config), now)
            results.append(_deliver(config, store, r, chosen, held, now, reservation, delivery, "alert"))
    finally:
        delivery.close()
    return results
