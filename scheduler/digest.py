"""Digests and immediate alerts delivered through the ledger: what is due to whom, sent once.

A story is due to a recipient when it matches one of their topics at or above the topic's
min_score, was first seen within ``digest.max_age`` and was never sent to them (see
scheduler.ledger); scheduler.compose turns it into a message. Each run reserves its stories in
the ledger, sends, and marks them sent right after the server accepts the message.

Near misses: a topic with a ``near_score`` lists, after the matches, the stories it scored in
[near_score, min_score) that match none of the recipient's topics (at most NEAR_MISSES a digest,
the best first; the rest stay due). They ride in the same message and are recorded sent with it,
once per recipient as matches are; they are never alerted and a later match does not send them
again.

Alerts (``send_alerts``): one message per recipient per call, listing every story that newly
reached a topic's ``alert_score`` (usually one). Only stories first seen within the last day
(and within max_age) are alerted, from articles that were not a source's first-poll backlog;
whatever an alert misses still reaches the digest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from crawler.config import Config, DigestConfig, Recipient, valid_address
from crawler.errors import MailError, StoreError, UsageError
from crawler.store import Store, iso, parse_iso
from scheduler import ledger
from scheduler.compose import Digest, build_digest, compose, mail_domain, recipient_topics, render
from scheduler.files import check_output_folder, write_atomic

__all__ = [
    "DigestOutcome",
    "RecipientResult",
    "check_options",
    "due_count",
    "last_digest_at",
    "run_digest",
    "send_alerts",
]

Sender = Callable[[EmailMessage, str], None]

LAST_SENT_KEY = "digest.last_sent"
ALERT_WINDOW = timedelta(days=1)
NEAR_MISSES = 20  # near misses a digest lists at most, the highest scores first; the rest stay due


# -- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecipientResult:
    email: str
    stories: int  # stories in the message
    held: int  # due stories beyond max_stories (stay due)
    status: str  # 'sent' | 'empty' | 'failed' | 'dry-run' | 'preview'
    error: str | None
    message_id: str | None
    subject: str | None = None  # dry run: the subject the message would have
    lines: tuple[str, ...] = ()  # dry run: one line per story it would carry, as the digest orders them
    near: int = 0  # near misses in the message (not counted in ``stories``)
    near_held: int = 0  # due near misses beyond NEAR_MISSES (stay due)
    of: str | None = None  # a preview mailed elsewhere (--to): whose digest it shows; None with no recipient configured


@dataclass(frozen=True)
class DigestOutcome:
    results: tuple[RecipientResult, ...]
    output: Path | None

    @property
    def failed(self) -> bool:
        return any(r.status == "failed" for r in self.results)


# -- selection ------------------------------------------------------------------------------


def _digest_config(config: Config) -> DigestConfig:
    if config.digest is None:
        raise UsageError(
            "the config has no [digest] section; add one with [[digest.recipients]] "
            "(see 'newswatch init' for an example)"
        )
    return config.digest


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    return now if now.tzinfo else now.replace(tzinfo=UTC)


def _due(config: Config, store: Store, recipient: Recipient, now: datetime) -> list[ledger.Due]:
    dcfg = _digest_config(config)
    kinds = ("digest",) if dcfg.include_alerted else ("digest", "alert")
    topics = recipient_topics(config, recipient)
    due = ledger.select_due(
        store, recipient.email, [(t.name, t.min_score) for t in topics], now - timedelta(seconds=dcfg.max_age), kinds
    )
    busy = ledger.in_flight(store, recipient.email, now)
    return [d for d in due if d.story not in busy]


def _near(config: Config, store: Store, recipient: Recipient, now: datetime) -> list[ledger.Due]:
    """The recipient's due near misses, best first: stories a topic of theirs with a near_score scored in
    [near_score, min_score) for, that match none of their topics (``ledger.select_near``)."""
    dcfg = _digest_config(config)
    topics = recipient_topics(config, recipient)
    bands = [(t.name, t.near_score, t.min_score) for t in topics if t.near_score is not None]
    if not bands:
        return []
    kinds = ("digest",) if dcfg.include_alerted else ("digest", "alert")
    near = ledger.select_near(
        store,
        recipient.email,
        bands,
        [(t.name, t.min_score) for t in topics],
        now - timedelta(seconds=dcfg.max_age),
        kinds,
    )
    busy = ledger.in_flight(store, recipient.email, now)
    return [d for d in near if d.story not in busy]


@dataclass(frozen=True)
class _Chosen:
    """What one message carries: its matches and near misses, and those of each it holds for the next."""

    matches: list[ledger.Due]
    rest: list[ledger.Due]
    near: list[ledger.Due]
    near_rest: list[ledger.Due]

    @property
    def stories(self) -> list[str]:
        return [d.story for d in (*self.matches, *self.near)]

    def result(
        self, email: str, status: str, error: str | None, message_id: str | None, **more: Any
    ) -> RecipientResult:
        return RecipientResult(
            email,
            len(self.matches),
            len(self.rest),
            status,
            error,
            message_id,
            near=len(self.near),
            near_held=len(self.near_rest),
            **more,
        )


def _choose(config: Config, store: Store, r: Recipient, now: datetime) -> _Chosen:
    chosen, rest = fair_cut(_due(config, store, r, now), _digest_config(config).max_stories)
    near = _near(config, store, r, now)
    return _Chosen(chosen, rest, near[:NEAR_MISSES], near[NEAR_MISSES:])


def fair_cut(due: Sequence[ledger.Due], limit: int) -> tuple[list[ledger.Due], list[ledger.Due]]:
    """The stories (best first) a message of at most ``limit`` carries, and those it holds for the next.

    Each source has its share: the sources' best stories are taken first, then each one's second best, and so
    on, each round best first, so one source with 200 new matches no longer fills a digest of 100 and cuts every
    other source's stories. The message still lists what it carries best first."""
    if len(due) <= limit:
        return list(due), []
    by_source: dict[str, list[ledger.Due]] = {}
    for d in due:  # best first, as select_due orders them
        by_source.setdefault(d.source, []).append(d)
    place = {d.story: i for i, d in enumerate(due)}
    taken: set[str] = set()
    rank = 0
    while len(taken) < limit:
        round_ = sorted((s[rank] for s in by_source.values() if rank < len(s)), key=lambda d: place[d.story])
        taken.update(d.story for d in round_[: limit - len(taken)])
        rank += 1
    return [d for d in due if d.story in taken], [d for d in due if d.story not in taken]


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


def check_options(
    config: Config,
    *,
    dry_run: bool = False,
    output: Path | None = None,
    to: str | None = None,
    recipient: str | None = None,
    can_send: bool | None = None,
) -> list[Recipient]:
    """The recipients a digest run with these options is for; a UsageError for options that cannot work.

    The one place the digest's options are checked: ``run_digest`` calls it, and the CLI calls it
    before opening the database. With no recipients configured, a preview (``dry_run``, ``output``
    or ``to``) covers all topics. ``can_send`` is False when there is nothing to send mail with.
    """
    dcfg = _digest_config(config)
    if output is not None and Path(output).name.lower() in ("", ".html", ".htm", ".eml"):  # a suffix alone: no name
        raise UsageError(f"--output {str(output)!r} names no file; give one such as digest.html or digest.eml")
    if output is not None and Path(output).suffix.lower() not in (".html", ".htm", ".eml"):
        raise UsageError(f"--output {output}: the file name must end in .html or .eml")
    if output is not None:
        check_output_folder("--output", Path(output))
    if to is not None and not valid_address(to):
        raise UsageError(f"--to {to!r} is not an email address; write it like analyst@example.org")
    recipients = list(dcfg.recipients)
    if recipient is not None:
        recipients = [r for r in recipients if r.email.lower() == recipient.lower()]
        if not recipients:
            known = ", ".join(r.email for r in dcfg.recipients) or "none configured"
            raise UsageError(f"--recipient {recipient} is not in [[digest.recipients]] ({known})")
    preview = output is not None or to is not None
    if not recipients:
        if not preview and not dry_run:
            raise UsageError('no recipients: add [[digest.recipients]] with email = "..." to the config')
        recipients = [Recipient(email=f"newswatch@{mail_domain(config)}")]  # a preview of all topics
    if can_send is None:
        can_send = config.smtp is not None
    if not dry_run and (to is not None or not preview) and not can_send:
        raise UsageError(
            "sending the digest needs an [smtp] section in the config; "
            "use --dry-run, or --output FILE.html to write it to a file instead"
        )
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
    recipients = check_options(
        config,
        dry_run=dry_run,
        output=output,
        to=to,
        recipient=recipient,
        can_send=config.smtp is not None or sender is not None,
    )
    preview = output is not None or to is not None
    now = _now(now)
    ledger.prepare(store)

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


def _build(config: Config, store: Store, r: Recipient, c: _Chosen, now: datetime, kind: str = "digest") -> Digest:
    return build_digest(
        config,
        store,
        r,
        c.matches,
        len(c.rest),
        now,
        kind=kind,
        held_from=[d.source for d in c.rest],
        near=c.near,
        near_held=len(c.near_rest),
    )


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
    c = _choose(config, store, r, now)
    digest = _build(config, store, r, c, now)
    token = ledger.stories_key(c.stories)[:16]
    # Never the real digest's Message-ID: a client would treat the real one as a duplicate.
    mid = f"<newswatch.preview.{int(now.timestamp())}.{token}@{mail_domain(config)}>"
    results = []
    if output is not None:
        path = Path(output)
        msg = compose(config, digest, to=r.email, message_id=mid, now=now)
        if path.suffix.lower() == ".eml":
            data = msg.as_bytes()
        else:
            data = render(digest, str(msg["Subject"]))[1].encode("utf-8")
        write_atomic(path, data, mode=0o644)
        results.append(c.result(r.email, "preview", None, mid))
    if to is not None:
        msg = compose(config, digest, to=to, message_id=mid, now=now, subject_prefix="[preview] ")
        of = r.email if _digest_config(config).recipients else None  # else a digest of all topics
        if dry_run:
            results.append(c.result(to, "dry-run", None, mid, of=of))
        else:
            try:
                delivery.send(msg, to)
            except MailError as exc:
                results.append(c.result(to, "failed", str(exc), mid, of=of))
            else:
                results.append(c.result(to, "preview", None, mid, of=of))
    return results


def _run_one(
    config: Config, store: Store, r: Recipient, now: datetime, dry_run: bool, delivery: _Delivery
) -> RecipientResult:
    dcfg = _digest_config(config)
    if dry_run:
        c = _choose(config, store, r, now)
        held = len(c.rest)
        status = "dry-run" if c.stories or dcfg.send_empty else "empty"
        if status == "empty":
            return RecipientResult(r.email, 0, held, status, None, None)
        digest = _build(config, store, r, c, now)
        msg = compose(config, digest, to=r.email, message_id="<dry-run@newswatch>", now=now)
        lines = tuple(
            f"[{g.title or g.name}] {s.title} ({s.source}{', ' + s.language_name if s.language_name else ''})"
            for g in digest.groups
            for s in g.stories
        ) + tuple(
            f"[near miss, {s.topic_title}, score {s.score:.1f}] {s.title}"
            f" ({s.source}{', ' + s.language_name if s.language_name else ''})"
            for s in digest.near
        )
        return c.result(r.email, status, None, None, subject=str(msg["Subject"]), lines=lines)
    with store.transaction():  # select and reserve at once: a concurrent run cannot take the same stories
        c = _choose(config, store, r, now)
        if not c.stories and not dcfg.send_empty:
            return RecipientResult(r.email, 0, 0, "empty", None, None)
        reservation = ledger.reserve(store, r.email, "digest", c.stories, mail_domain(config), now)
    return _deliver(config, store, r, c, now, reservation, delivery, "digest")


def _deliver(
    config: Config,
    store: Store,
    r: Recipient,
    c: _Chosen,
    now: datetime,
    reservation: ledger.Reservation,
    delivery: _Delivery,
    kind: str,
) -> RecipientResult:
    try:
        digest = _build(config, store, r, c, now, kind)
        msg = compose(config, digest, to=r.email, message_id=reservation.message_id, now=now)
        store.make_room()  # the record after the 250 needs no new disk space, nor one that filled meanwhile
        delivery.send(msg, r.email)
    except MailError as exc:
        ledger.release(store, reservation, str(exc))
        return c.result(r.email, "failed", str(exc), reservation.message_id)
    except BaseException as exc:
        try:
            ledger.release(store, reservation, f"interrupted: {type(exc).__name__}")
        except Exception:
            pass  # the database cannot be written (the first error says why): the lease lapses with this run
        raise
    try:
        ledger.mark_sent(store, reservation, now)  # right after the 250, before the next recipient
    except Exception as exc:
        raise StoreError(
            f"the {kind} to {r.email} was sent (Message-ID {reservation.message_id}) but could not be recorded as"
            f" sent in the database {store.path}: {exc}; until the database can be written (free disk space or"
            " fix its permissions), each run sends it again under the same Message-ID"
        ) from exc
    return c.result(r.email, "sent", None, reservation.message_id)


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
                due = ledger.select_due(store, r.email, thresholds, since, ledger.KINDS, alert=True)
                busy = ledger.in_flight(store, r.email, now)
                due = [d for d in due if d.story not in busy]
                if not due:
                    continue
                chosen, rest = fair_cut(due, config.digest.max_stories)
                reservation = ledger.reserve(
                    store, r.email, "alert", [d.story for d in chosen], mail_domain(config), now
                )
            c = _Chosen(chosen, rest, [], [])  # never a near miss: an alert is for what matched
            results.append(_deliver(config, store, r, c, now, reservation, delivery, "alert"))
    finally:
        delivery.close()
    return results
