"""Digests, the delivery ledger and alerts, against a real SQLite file and a real SMTP server."""

from __future__ import annotations

import email
import email.policy
import os
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from crawler.config import Config, parse_config
from crawler.errors import MailError, UsageError
from crawler.store import ArticleRecord, Store, iso
from scheduler import ledger
from scheduler.compose import clean_line, safe_url
from scheduler.digest import due_count, last_digest_at, run_digest, send_alerts

NOW = datetime(2025, 3, 12, 4, 0, tzinfo=UTC)  # 07:00 in Moscow
GOLDEN = Path(__file__).with_name("golden")

QUERY_ST = "(china OR chinese OR китай* OR 中国 OR 中俄) AND (russia OR russian OR росси* OR 俄罗斯 OR 中俄)"
QUERY_ENERGY = "nuclear OR reactor OR атомн* OR 核电"


def config_for(
    db: Path,
    smtp_port: int | None = None,
    *,
    recipients: list[dict[str, Any]] | None = None,
    sources: tuple[str, ...] = ("tass-en", "xinhua-ru", "rg", "cgtn"),
    alert_score: float | None = None,
    **digest: Any,
) -> Config:
    data: dict[str, Any] = {
        "storage": {"database": str(db)},
        "sources": [{"name": n, "kind": "feed", "url": f"https://{n}.example/rss"} for n in sources],
        "topics": [
            {"name": "china-russia-st", "query": QUERY_ST, "min_score": 1.0},
            {"name": "energy", "query": QUERY_ENERGY, "min_score": 2.0},
        ],
        "digest": {
            "timezone": "Europe/Moscow",
            "subject": "newswatch: {count} new stories ({date})",
            "recipients": recipients if recipients is not None else [{"email": "analyst@example.org"}],
            **digest,
        },
    }
    if alert_score is not None:
        data["topics"][0]["alert_score"] = alert_score
    if smtp_port is not None:
        data["smtp"] = {
            "host": "127.0.0.1",
            "port": smtp_port,
            "security": "none",
            "sender": "newswatch <alerts@example.org>",
            "timeout": "5s",
        }
    return parse_config(data, base=db.parent)


class World:
    """A real database file with articles, stories and matches written through the Store."""

    def __init__(self, path: Path) -> None:
        self.store = Store(path)
        self.n = 0

    def add(
        self,
        source: str,
        title: str,
        text: str = "",
        *,
        matches: dict[str, float] | None = None,
        hits: tuple[str, ...] = ("china", "russia"),
        hours_ago: float = 3,
        language: str | None = "en",
        story: str | None = None,
        backlog: bool = False,
        url: str | None = None,
        published: datetime | None = None,
        text_from: str = "page",
    ) -> int:
        self.n += 1
        url = url or f"https://{source}.example/news/{self.n}"
        fetched = NOW - timedelta(hours=hours_ago)
        rec = ArticleRecord(
            url=url,
            canonical_url=url,
            source=source,
            title=title,
            text=text or f"{title}. China and Russia agreed to widen cooperation.",
            text_from=text_from,
            published=published,
            language=language,
            fetched=fetched,
            backlog=backlog,
        )
        aid = self.store.add_article(rec).article_id
        if story is not None:  # a copy of an existing story, as dedup records it
            self.join(aid, story)
        if matches:
            self.store.set_matches(aid, [(t, s, hits) for t, s in matches.items()])
        return aid

    def join(self, aid: int, story: str) -> None:
        with self.store.transaction() as c:
            own = c.execute("SELECT story FROM articles WHERE id = ?", [aid]).fetchone()[0]
            c.execute("UPDATE articles SET story = ? WHERE story = ?", [story, own])
            c.execute("UPDATE stories SET merged_into = ? WHERE id = ? OR merged_into = ?", [story, own, own])

    def story(self, aid: int) -> str:
        return self.store.scalar("SELECT story FROM articles WHERE id = ?", [aid])


@pytest.fixture
def world(tmp_path: Path) -> World:
    w = World(tmp_path / "newswatch.db")
    yield w
    w.store.close()


def bodies(msg: EmailMessage) -> tuple[str, str]:
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def unmarked(html: str) -> str:
    """The HTML without the marks on what matched in headlines, to find a headline's words in it."""
    return re.sub(r'<span style="background-color:#fef08a;">(.*?)</span>', r"\1", html)


def received(smtp: Any, rcpt: str) -> list[EmailMessage]:
    return [m.message for m in smtp.messages if rcpt in m.rcpt_tos]


# -- the ordinary run ------------------------------------------------------------------------


def test_digest_sends_due_stories_once_with_headers(world: World, smtp: Any) -> None:
    world.add("tass-en", "Russia and China open a joint research centre", matches={"china-russia-st": 3.0})
    world.add(
        "rg",
        "Росатом и Китай подписали соглашение",
        "Россия и Китай подписали соглашение о сотрудничестве.",
        matches={"china-russia-st": 2.0},
        hits=("китай", "росси"),
        language="ru",
    )
    cfg = config_for(world.store.path, smtp.port)

    out = run_digest(cfg, world.store, now=NOW)

    assert not out.failed
    [r] = out.results
    assert (r.email, r.stories, r.held, r.status) == ("analyst@example.org", 2, 0, "sent")
    [msg] = received(smtp, "analyst@example.org")
    assert msg["Subject"] == "newswatch: 2 new stories (12 Mar 2025)"
    assert msg["Message-ID"] == r.message_id and r.message_id.endswith("@example.org>")
    assert msg["List-Id"] == "newswatch digests <digest.newswatch.example.org>"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Date"] == "Wed, 12 Mar 2025 04:00:00 +0000"
    assert msg["From"] == "newswatch <alerts@example.org>" and msg["To"] == "analyst@example.org"
    assert msg.get_content_type() == "multipart/alternative"
    text, html = bodies(msg)
    assert "Russia and China open a joint research centre" in text and "Росатом и Китай" in text
    assert text.index("joint research centre") < text.index("Росатом")  # by score
    assert '<a href="https://tass-en.example/news/1"' in html
    assert last_digest_at(world.store) == NOW

    again = run_digest(cfg, world.store, now=NOW + timedelta(days=1))
    assert [r.status for r in again.results] == ["empty"] and not again.failed
    assert len(smtp.messages) == 1


def test_message_on_the_wire_is_seven_bit_with_short_lines(world: World, smtp: Any) -> None:
    # Short lines of non-ASCII text were sent as raw 8-bit bytes, undeclared (no BODY=8BITMIME):
    # a relay without 8BITMIME may mangle them, and one that re-encodes them breaks DKIM.
    world.add("rg", "Россия и Китай", "Россия и Китай.", matches={"china-russia-st": 2.0}, language="ru")
    world.add("cgtn", "中俄合作", "中俄科技合作。", matches={"china-russia-st": 1.5}, language="zh")
    cfg = config_for(world.store.path, smtp.port)
    run_digest(cfg, world.store, now=NOW)
    [received_msg] = smtp.messages
    raw = received_msg.data
    assert raw.isascii()
    assert max(len(line) for line in raw.splitlines()) <= 78
    parts = [p for p in received_msg.message.walk() if not p.is_multipart()]
    assert [p["Content-Transfer-Encoding"] in ("quoted-printable", "base64") for p in parts] == [True, True]
    text, html = bodies(received_msg.message)
    assert "Россия и Китай" in text and "中俄合作" in text and "中俄合作" in unmarked(html)


def test_later_copies_of_a_sent_story_are_not_sent_again(world: World, smtp: Any) -> None:
    first = world.add("tass-en", "China and Russia sign a lunar station deal", matches={"china-russia-st": 3.0})
    cfg = config_for(world.store.path, smtp.port)
    assert run_digest(cfg, world.store, now=NOW).results[0].stories == 1
    world.add(
        "cgtn", "China, Russia sign lunar station deal", matches={"china-russia-st": 4.0}, story=world.story(first)
    )
    out = run_digest(cfg, world.store, now=NOW + timedelta(hours=1))
    assert out.results[0].status == "empty"
    assert len(smtp.messages) == 1


def test_merged_story_is_not_resent(world: World, smtp: Any) -> None:
    older = world.add("rg", "Unrelated older copy with no match")  # story 1, unmatched
    newer = world.add("tass-en", "China and Russia agree on reactor fuel", matches={"china-russia-st": 3.0})
    cfg = config_for(world.store.path, smtp.port)
    assert run_digest(cfg, world.store, now=NOW).results[0].stories == 1  # story 2 goes out
    world.join(newer, world.story(older))  # 2 merges into the older 1
    world.add("cgtn", "Reactor fuel pact: China and Russia", matches={"china-russia-st": 5.0}, story=world.story(older))
    out = run_digest(cfg, world.store, now=NOW + timedelta(hours=2))
    assert out.results[0].status == "empty"
    assert len(smtp.messages) == 1


def test_story_listed_once_under_its_best_topic_with_other_outlets(world: World, smtp: Any) -> None:
    face = world.add(
        "tass-en",
        "Russia and China to build a nuclear plant",
        matches={"china-russia-st": 2.0, "energy": 6.0},
        hits=("nuclear",),
    )
    world.add("xinhua-ru", "SECRET COPY HEADLINE one", matches={"china-russia-st": 1.5}, story=world.story(face))
    world.add("xinhua-ru", "SECRET COPY HEADLINE two", story=world.story(face))
    world.add(
        "cgtn", "SECRET COPY HEADLINE three", story=world.story(face), url="https://cgtn.example/nuclear?id=7&lang=en"
    )
    cfg = config_for(world.store.path, smtp.port)
    run_digest(cfg, world.store, now=NOW)
    text, html = bodies(smtp.messages[0].message)
    assert unmarked(html).count("Russia and China to build a nuclear plant") == 1
    assert "== energy (1) ==" in text and "== china-russia-st" not in text  # only under its best topic
    assert "SECRET COPY HEADLINE" not in text + html
    # filled to the text part's width like every line, an outlet and its address never parted
    assert (
        "   Also reported by: xinhua-ru <https://xinhua-ru.example/news/2>,\r\n"
        "   cgtn <https://cgtn.example/nuclear?id=7&lang=en>\r\n"
    ) in text
    assert '<a href="https://cgtn.example/nuclear?id=7&amp;lang=en"' in html
    assert html.count(">xinhua-ru</a>") == 1


def test_two_recipients_get_only_their_topics(world: World, smtp: Any) -> None:
    world.add("tass-en", "China and Russia sign a science pact", matches={"china-russia-st": 3.0})
    world.add("cgtn", "New reactor design unveiled", matches={"energy": 4.0}, hits=("reactor",))
    cfg = config_for(
        world.store.path,
        smtp.port,
        recipients=[
            {"email": "st@example.org", "topics": ["china-russia-st"]},
            {"email": "energy@example.org", "topics": ["energy"]},
        ],
    )
    out = run_digest(cfg, world.store, now=NOW)
    assert [(r.email, r.stories, r.status) for r in out.results] == [
        ("st@example.org", 1, "sent"),
        ("energy@example.org", 1, "sent"),
    ]
    st_text, _ = bodies(received(smtp, "st@example.org")[0])
    en_text, _ = bodies(received(smtp, "energy@example.org")[0])
    assert "science pact" in st_text and "reactor" not in st_text.lower()
    assert "reactor design" in en_text and "science pact" not in en_text


def test_max_age_and_min_score(world: World, smtp: Any) -> None:
    world.add("tass-en", "Old story from last week", matches={"china-russia-st": 3.0}, hours_ago=8 * 24)
    world.add("tass-en", "Weak energy mention", matches={"energy": 1.5}, hits=("reactor",))
    world.add("tass-en", "Fresh story", matches={"china-russia-st": 1.0})
    cfg = config_for(world.store.path, smtp.port)
    [r] = run_digest(cfg, world.store, now=NOW).results
    assert r.stories == 1
    text, _ = bodies(smtp.messages[0].message)
    assert "Fresh story" in text and "Old story" not in text and "Weak energy" not in text


def test_max_stories_holds_the_rest_best_first(world: World, smtp: Any) -> None:
    for i in range(5):
        world.add("tass-en", f"China-Russia story number {i}", matches={"china-russia-st": 1.0 + i})
    cfg = config_for(world.store.path, smtp.port, max_stories=2)
    rec = cfg.digest.recipients[0]
    [r] = run_digest(cfg, world.store, now=NOW).results
    assert (r.stories, r.held) == (2, 3)
    text, html = bodies(smtp.messages[0].message)
    assert "number 4" in text and "number 3" in text and "number 2" not in text
    assert "and 3 more stories, held for the next digest" in text
    assert "and 3 more stories, held for the next digest" in html
    assert due_count(cfg, world.store, rec, NOW) == 3
    [r2] = run_digest(cfg, world.store, now=NOW + timedelta(hours=1)).results
    assert (r2.stories, r2.held) == (2, 1)
    text2, _ = bodies(smtp.messages[1].message)
    assert "number 2" in text2 and "number 1" in text2


# -- failures and the ledger -----------------------------------------------------------------


def test_smtp_down_then_up_sends_each_story_exactly_once(world: World, smtp: Any) -> None:
    world.add(
        "tass-en",
        "China and Russia launch a satellite",
        "A joint Earth observation mission.",
        matches={"china-russia-st": 3.0},
    )
    cfg = config_for(world.store.path, smtp.port)
    smtp.down()
    out = run_digest(cfg, world.store, now=NOW)
    assert out.failed and out.results[0].status == "failed"
    assert "cannot reach the SMTP server" in out.results[0].error
    assert last_digest_at(world.store) is None
    world.add("rg", "Россия и Китай: новый спутник", matches={"china-russia-st": 2.0}, language="ru")
    smtp.up()
    out = run_digest(cfg, world.store, now=NOW + timedelta(hours=1))
    assert not out.failed and out.results[0].stories == 2
    assert run_digest(cfg, world.store, now=NOW + timedelta(hours=2)).results[0].status == "empty"
    assert len(smtp.messages) == 1
    text, _ = bodies(smtp.messages[0].message)
    assert text.count("launch a satellite") == 1 and "новый спутник" in text


def test_connection_dropped_after_data_loses_nothing_and_resends_same_message_id(world: World, smtp: Any) -> None:
    world.add("tass-en", "China and Russia build a research reactor", matches={"china-russia-st": 3.0})
    cfg = config_for(world.store.path, smtp.port)
    smtp.drop_after_data = True
    out = run_digest(cfg, world.store, now=NOW)
    assert out.failed and "connection to the SMTP server" in out.results[0].error
    assert smtp.data_attempts == 1 and smtp.messages == []
    first_id = out.results[0].message_id
    smtp.drop_after_data = False
    out = run_digest(cfg, world.store, now=NOW + timedelta(minutes=5))
    assert out.results[0].status == "sent" and out.results[0].message_id == first_id
    assert smtp.messages[0].message["Message-ID"] == first_id
    assert run_digest(cfg, world.store, now=NOW + timedelta(hours=1)).results[0].status == "empty"
    rows = ledger.messages(world.store)
    assert [(r["status"], r["attempts"]) for r in rows] == [("sent", 2)]


def test_tempfail_keeps_stories_due(world: World, smtp: Any) -> None:
    world.add("tass-en", "China and Russia expand a student exchange", matches={"china-russia-st": 3.0})
    cfg = config_for(world.store.path, smtp.port)
    smtp.tempfail_data = True
    out = run_digest(cfg, world.store, now=NOW)
    assert out.failed and "451" in out.results[0].error
    assert due_count(cfg, world.store, cfg.digest.recipients[0], NOW) == 1
    smtp.tempfail_data = False
    assert run_digest(cfg, world.store, now=NOW).results[0].status == "sent"
    assert due_count(cfg, world.store, cfg.digest.recipients[0], NOW) == 0


def test_refused_recipient_does_not_hold_up_the_others(world: World, smtp: Any) -> None:
    world.add("tass-en", "China and Russia open a joint lab", matches={"china-russia-st": 3.0})
    cfg = config_for(
        world.store.path, smtp.port, recipients=[{"email": "gone@example.org"}, {"email": "ok@example.org"}]
    )
    smtp.refuse_rcpt = {"gone@example.org"}
    out = run_digest(cfg, world.store, now=NOW)
    assert out.failed
    gone, ok = out.results
    assert gone.status == "failed" and "550" in gone.error and "gone@example.org" in gone.error
    assert ok.status == "sent" and len(received(smtp, "ok@example.org")) == 1
    assert last_digest_at(world.store) is None
    smtp.refuse_rcpt = set()
    out = run_digest(cfg, world.store, now=NOW + timedelta(hours=1))
    assert [r.status for r in out.results] == ["sent", "empty"]
    assert len(received(smtp, "gone@example.org")) == 1 and len(received(smtp, "ok@example.org")) == 1


def test_live_reservation_of_another_run_is_skipped_and_a_dead_one_reclaimed(world: World, smtp: Any) -> None:
    world.add("tass-en", "China and Russia agree on Arctic research", matches={"china-russia-st": 3.0})
    cfg = config_for(world.store.path, smtp.port)
    ledger.prepare(world.store)
    story = world.story(1)
    res = ledger.reserve(world.store, "analyst@example.org", "digest", [story], "example.org", NOW)
    # Another run (this process) holds the story: a concurrent digest must not take it.
    assert run_digest(cfg, world.store, now=NOW).results[0].status == "empty"
    # The holder was killed: its lease names a process that no longer exists.
    with world.store.transaction() as c:
        c.execute(
            "UPDATE delivery_messages SET lease_owner = ? WHERE id = ?",
            [f"{os.uname().nodename}:{2**22 + 12345}:dead", res.id],
        )
    out = run_digest(cfg, world.store, now=NOW + timedelta(minutes=1))
    assert out.results[0].status == "sent" and out.results[0].message_id == res.message_id


def test_interrupt_after_handing_over_releases_the_reservation(world: World, smtp: Any) -> None:
    world.add("tass-en", "China and Russia fund a joint institute", matches={"china-russia-st": 3.0})
    cfg = config_for(world.store.path, smtp.port)

    def dies(msg: EmailMessage, rcpt: str) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_digest(cfg, world.store, now=NOW, sender=dies)
    [row] = ledger.messages(world.store)
    assert row["status"] == "pending" and row["lease_owner"] is None
    out = run_digest(cfg, world.store, now=NOW)
    assert out.results[0].message_id == row["message_id"] and len(smtp.messages) == 1


# -- modes -----------------------------------------------------------------------------------


def test_dry_run_sends_and_marks_nothing(world: World, smtp: Any) -> None:
    world.add("tass-en", "China and Russia sign a materials deal", matches={"china-russia-st": 3.0})
    cfg = config_for(world.store.path, smtp.port)
    out = run_digest(cfg, world.store, now=NOW, dry_run=True)
    assert [(r.status, r.stories) for r in out.results] == [("dry-run", 1)]
    assert smtp.messages == [] and ledger.messages(world.store) == []
    assert last_digest_at(world.store) is None
    assert run_digest(cfg, world.store, now=NOW).results[0].status == "sent"


def test_output_html_and_eml_need_no_smtp_and_mark_nothing(world: World, tmp_path: Path) -> None:
    world.add("tass-en", "China and Russia sign a materials deal", matches={"china-russia-st": 3.0})
    cfg = config_for(world.store.path)  # no [smtp]
    (tmp_path / "out").mkdir()  # a missing folder is refused (test_cli_usage.py)
    html_out = run_digest(cfg, world.store, now=NOW, output=tmp_path / "out" / "digest.html")
    assert html_out.output == tmp_path / "out" / "digest.html"
    assert html_out.results[0].status == "preview"
    html = (tmp_path / "out" / "digest.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "materials deal" in html
    run_digest(cfg, world.store, now=NOW, output=tmp_path / "digest.eml")
    msg = email.message_from_bytes((tmp_path / "digest.eml").read_bytes(), policy=email.policy.default)
    assert msg.get_content_type() == "multipart/alternative" and msg["To"] == "analyst@example.org"
    assert "materials deal" in bodies(msg)[0]
    assert ledger.messages(world.store) == []
    assert due_count(cfg, world.store, cfg.digest.recipients[0], NOW) == 1
    with pytest.raises(UsageError, match=r"\.html or \.eml"):
        run_digest(cfg, world.store, now=NOW, output=tmp_path / "digest.pdf")
    with pytest.raises(UsageError, match=r"\[smtp\]"):
        run_digest(cfg, world.store, now=NOW)


def test_output_that_names_no_file_says_so(world: World, tmp_path: Path) -> None:
    """`--output .html` was told "the file name must end in .html or .eml", which it does, and `--output ''` was
    named as '.'; each names no file, and the line says so with one that does."""
    cfg = config_for(world.store.path)
    for given in (str(tmp_path / ".html"), ".EML", ""):
        with pytest.raises(UsageError) as err:
            run_digest(cfg, world.store, now=NOW, output=given)  # type: ignore[arg-type]
        assert str(err.value) == f"--output {given!r} names no file; give one such as digest.html or digest.eml"
    assert not (tmp_path / ".html").exists()


def test_output_picks_the_named_recipient(world: World, tmp_path: Path) -> None:
    world.add("tass-en", "China and Russia sign a science pact", matches={"china-russia-st": 3.0})
    world.add("cgtn", "New reactor design unveiled", matches={"energy": 4.0}, hits=("reactor",))
    cfg = config_for(
        world.store.path,
        recipients=[
            {"email": "st@example.org", "topics": ["china-russia-st"]},
            {"email": "energy@example.org", "topics": ["energy"]},
        ],
    )
    run_digest(cfg, world.store, now=NOW, output=tmp_path / "d.html", recipient="energy@example.org")
    html = unmarked((tmp_path / "d.html").read_text(encoding="utf-8"))
    assert "reactor design" in html and "science pact" not in html
    with pytest.raises(UsageError, match="nobody@example.org"):
        run_digest(cfg, world.store, now=NOW, output=tmp_path / "d.html", recipient="nobody@example.org")


def test_to_mails_a_preview_and_marks_nothing(world: World, smtp: Any) -> None:
    world.add("tass-en", "China and Russia sign a materials deal", matches={"china-russia-st": 3.0})
    cfg = config_for(world.store.path, smtp.port)
    out = run_digest(cfg, world.store, now=NOW, to="boss@example.org")
    assert [(r.email, r.status, r.stories) for r in out.results] == [("boss@example.org", "preview", 1)]
    [preview] = received(smtp, "boss@example.org")
    assert preview["Subject"].startswith("[preview] newswatch: 1 new story (")
    assert ledger.messages(world.store) == [] and last_digest_at(world.store) is None
    real = run_digest(cfg, world.store, now=NOW)
    assert real.results[0].status == "sent"
    assert received(smtp, "analyst@example.org")[0]["Message-ID"] != preview["Message-ID"]
    with pytest.raises(UsageError):
        run_digest(cfg, world.store, now=NOW, to="boss@example.org\r\nBcc: x@example.org")


def test_send_empty(world: World, smtp: Any) -> None:
    cfg = config_for(world.store.path, smtp.port)
    out = run_digest(cfg, world.store, now=NOW)
    assert [r.status for r in out.results] == ["empty"] and not out.failed
    assert smtp.messages == [] and last_digest_at(world.store) == NOW
    cfg = config_for(world.store.path, smtp.port, send_empty=True)
    out = run_digest(cfg, world.store, now=NOW + timedelta(days=1))
    assert [(r.status, r.stories) for r in out.results] == [("sent", 0)]
    text, _ = bodies(smtp.messages[0].message)
    assert "Nothing new" in text
    run_digest(cfg, world.store, now=NOW + timedelta(days=2))
    ids = [m.message["Message-ID"] for m in smtp.messages]
    assert len(ids) == 2 and ids[0] != ids[1]  # two empty digests are two messages


def test_no_digest_section_is_a_usage_error(world: World) -> None:
    cfg = replace(config_for(world.store.path), digest=None)
    with pytest.raises(UsageError, match=r"\[digest\]"):
        run_digest(cfg, world.store, now=NOW)


# -- safety ----------------------------------------------------------------------------------


def test_scraped_text_is_escaped_and_only_http_links_are_links(world: World, smtp: Any) -> None:
    world.add(
        "tass-en",
        '<script>alert("t")</script> China & Russia <b>deal</b>',
        'China and Russia <img src=x onerror="alert(1)"> agreed. \u202eevil\u202c text.',
        matches={"china-russia-st": 3.0},
        url="javascript:alert(document.cookie)",
    )
    face = world.add("rg", "China and Russia, second story", matches={"china-russia-st": 2.0})
    world.add("cgtn", "copy", story=world.story(face), url="data:text/html,<script>alert(2)</script>")
    cfg = config_for(world.store.path, smtp.port)
    run_digest(cfg, world.store, now=NOW)
    text, html = bodies(smtp.messages[0].message)
    html = unmarked(html)  # (the headline's China and Russia are marked)
    assert "<script>" not in html and "&lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt;" in html
    assert "<img" not in html and "&lt;img src=x" in html
    assert "<b>deal" not in html and "China &amp; Russia" in html
    assert 'href="javascript' not in html and 'href="data:' not in html
    assert ">cgtn</span>" in html  # the outlet is still named, as text
    assert "\u202e" not in text + html
    assert "javascript:" not in text and "data:text" not in text


def test_invisible_direction_marks_in_scraped_text_do_not_reach_the_digest(world: World, smtp: Any) -> None:
    # A right-to-left mark before a title's first letter makes a mail program that sets a line's direction by
    # its first letter show "1. China ..." right-to-left, the number at the far end; a zero-width space or word
    # joiner hides inside a word. Seen by no reader, so dropped: a headline reads as its letters do.
    world.add(
        "tass-en",
        "\u200fChina and Russia \u200bopen\u2060 a joint \u061creactor\u200e",
        "\u200fChina and Russia open a joint reactor.",
        matches={"china-russia-st": 3.0},
    )
    cfg = config_for(world.store.path, smtp.port, alert_score=2.0, include_alerted=True)
    [r] = send_alerts(cfg, world.store, now=NOW)
    assert r.status == "sent"
    run_digest(cfg, world.store, now=NOW)
    alert, digest = smtp.messages
    text, html = bodies(digest.message)
    assert "1. China and Russia open a joint reactor\r\n" in text
    assert "China and Russia open a joint reactor</a>" in unmarked(html)
    for part in (text, html, *bodies(alert.message), alert.message["Subject"]):
        assert not set(part) & set("\u200b\u200e\u200f\u061c\u2060"), ascii(part)  # before: all five kept
    assert safe_url("https://example.org/\u200fa") is None


def test_crlf_in_a_title_cannot_add_a_header(world: World, smtp: Any) -> None:
    world.add(
        "tass-en", "China and Russia\r\nBcc: victim@example.org\r\n\r\n<html>body", matches={"china-russia-st": 9.0}
    )
    cfg = config_for(world.store.path, smtp.port, alert_score=5.0)
    [r] = send_alerts(cfg, world.store, now=NOW)
    assert r.status == "sent"
    [m] = smtp.messages
    assert m.rcpt_tos == ("analyst@example.org",)
    assert m.message["Bcc"] is None
    subject = m.message["Subject"]
    assert "\n" not in subject and "\r" not in subject
    assert subject == "newswatch alert: China and Russia Bcc: victim@example.org <html>body"
    assert b"\nBcc:" not in m.data.split(b"\n\n", 1)[0]


def test_clean_line_and_safe_url() -> None:
    assert clean_line("a\r\n\tb\x00c  d\u2028e") == "a b c d e"
    long = "word " * 100
    cut = clean_line(long, 50)
    assert len(cut) <= 50 and cut.endswith("\u2026") and not cut.endswith(" \u2026")
    assert len(clean_line("中" * 400, 100)) == 100
    assert safe_url("https://example.org/a?b=c") == "https://example.org/a?b=c"
    for bad in (
        "javascript:alert(1)",
        "JAVASCRIPT:x",
        "data:text/html,x",
        "//example.org/x",
        "ftp://example.org/x",
        "https://exa mple.org/",
        "http://",
        "vbscript:x",
        None,
        "",
    ):
        assert safe_url(bad) is None, bad


# -- alerts ----------------------------------------------------------------------------------


def test_alert_sent_once_and_not_repeated_in_the_digest(world: World, smtp: Any) -> None:
    world.add("tass-en", "Breaking: China and Russia sign a space treaty", matches={"china-russia-st": 7.0})
    world.add("tass-en", "Routine China-Russia note", matches={"china-russia-st": 2.0})
    world.add("rg", "Backlog story from a first poll", matches={"china-russia-st": 8.0}, backlog=True)
    cfg = config_for(world.store.path, smtp.port, alert_score=5.0)
    [r] = send_alerts(cfg, world.store, now=NOW)
    assert (r.status, r.stories) == ("sent", 1)
    alert = smtp.messages[0].message
    assert alert["Subject"] == "newswatch alert: Breaking: China and Russia sign a space treaty"
    assert alert["List-Id"] == "newswatch alerts <alert.newswatch.example.org>"
    assert "space treaty" in bodies(alert)[0]
    assert send_alerts(cfg, world.store, now=NOW + timedelta(minutes=15)) == []
    out = run_digest(cfg, world.store, now=NOW + timedelta(hours=1))
    assert out.results[0].stories == 2
    text, _ = bodies(smtp.messages[1].message)
    assert "space treaty" not in text and "Routine" in text and "Backlog story" in text


def test_include_alerted_repeats_alerts_in_the_digest_once(world: World, smtp: Any) -> None:
    world.add("tass-en", "Breaking: China and Russia sign a space treaty", matches={"china-russia-st": 7.0})
    cfg = config_for(world.store.path, smtp.port, alert_score=5.0, include_alerted=True)
    assert send_alerts(cfg, world.store, now=NOW)[0].status == "sent"
    assert run_digest(cfg, world.store, now=NOW + timedelta(hours=1)).results[0].stories == 1
    assert "space treaty" in bodies(smtp.messages[1].message)[0]
    assert run_digest(cfg, world.store, now=NOW + timedelta(hours=2)).results[0].status == "empty"


def test_a_repeated_alert_is_marked_as_such_in_the_digest(world: World, smtp: Any) -> None:
    world.add("tass-en", "Breaking: China and Russia sign a space treaty", matches={"china-russia-st": 7.0})
    world.add("tass-en", "Routine China-Russia note", matches={"china-russia-st": 2.0})
    cfg = config_for(world.store.path, smtp.port, alert_score=5.0, include_alerted=True)
    assert send_alerts(cfg, world.store, now=NOW)[0].status == "sent"
    assert run_digest(cfg, world.store, now=NOW + timedelta(hours=1)).results[0].stories == 2
    text, html = bodies(smtp.messages[1].message)
    treaty, routine = text.split("\n1. ", 1)[1].split("\n2. ")
    assert "space treaty" in treaty and "· already sent as an alert" in treaty
    assert "Routine" in routine and "sent as an alert" not in routine
    assert html.count("already sent as an alert") == 1


def test_story_already_in_a_digest_is_not_alerted(world: World, smtp: Any) -> None:
    aid = world.add("tass-en", "China and Russia, routine", matches={"china-russia-st": 2.0})
    cfg = config_for(world.store.path, smtp.port, alert_score=5.0)
    run_digest(cfg, world.store, now=NOW)
    world.store.set_matches(aid, [("china-russia-st", 9.0, ["china"])])  # the query changed
    assert send_alerts(cfg, world.store, now=NOW + timedelta(hours=1)) == []


def test_alert_failure_falls_through_to_the_digest(world: World, smtp: Any) -> None:
    world.add("tass-en", "Breaking: China and Russia sign a space treaty", matches={"china-russia-st": 7.0})
    cfg = config_for(world.store.path, smtp.port, alert_score=5.0)
    smtp.down()
    [r] = send_alerts(cfg, world.store, now=NOW)
    assert r.status == "failed"
    smtp.up()
    assert run_digest(cfg, world.store, now=NOW + timedelta(hours=1)).results[0].stories == 1


def test_alerts_without_alert_topics_open_no_connection(world: World) -> None:
    world.add("tass-en", "China and Russia", matches={"china-russia-st": 9.0})
    cfg = config_for(world.store.path, 1)  # port 1: would fail if contacted

    def never(msg: EmailMessage, rcpt: str) -> None:
        raise AssertionError("no alert topic: nothing to send")

    assert send_alerts(cfg, world.store, now=NOW, sender=never) == []


# -- source health ---------------------------------------------------------------------------


def test_source_health_lines(world: World, smtp: Any) -> None:
    world.add("tass-en", "China and Russia story", matches={"china-russia-st": 3.0})
    world.store.update_source(
        "tass-en", failing_since=iso(NOW - timedelta(days=2)), failures=9, last_error="HTTP 503 Service Unavailable"
    )
    world.store.update_source("rg", failing_since=iso(NOW - timedelta(hours=3)), failures=2, last_error="timeout")
    world.store.update_source("cgtn", active=0, inactive_reason="HTTP 410 Gone")
    world.store.update_source("removed-source", failing_since=iso(NOW - timedelta(days=9)), failures=99)
    cfg = config_for(world.store.path, smtp.port)
    run_digest(cfg, world.store, now=NOW)
    text, html = bodies(smtp.messages[0].message)
    assert "tass-en: failing since 10 Mar 2025 (HTTP 503 Service Unavailable)" in text
    # filled to the text part's width like every other line, not one line of 88 columns
    assert "- cgtn: disabled (HTTP 410 Gone); fix its url, then run 'newswatch sources\r\n  --reset cgtn'\r\n" in text
    trouble = text[text.index("Sources in trouble:") : text.index("\r\n-- \r\n")]
    assert max(len(line) for line in trouble.split("\r\n")) <= 76
    assert "rg:" not in text and "removed-source" not in text
    assert "Sources in trouble" in html


# -- golden files ----------------------------------------------------------------------------


def golden_world(path: Path) -> World:
    """A fixed database: three languages, copies at other outlets, a held story, a failing source."""
    w = World(path)
    seed = w.add(
        "tass-en",
        "Russia and China to set up joint laboratory for advanced materials",
        "MOSCOW, March 11. /TASS/. Russian and Chinese research institutes will set up a joint laboratory "
        "for advanced materials and engineering, the Russian Academy of Sciences said on Tuesday. The "
        "agreement also covers training of young scientists and joint work on nuclear energy materials.",
        matches={"china-russia-st": 4.5},
        hits=("russian", "chinese"),
        published=datetime(2025, 3, 11, 9, 30, tzinfo=UTC),
        hours_ago=18,
    )
    w.add(
        "xinhua-ru",
        "Китай и Россия создадут совместную лабораторию",
        "Китай и Россия создадут совместную лабораторию перспективных материалов.",
        story=w.story(seed),
        language="ru",
        hours_ago=10,
    )
    w.add("cgtn", "China, Russia to build joint materials lab", story=w.story(seed), hours_ago=9)
    w.add(
        "rg",
        "Росатом построит в Китае два энергоблока",
        "Госкорпорация «Росатом» и китайская сторона подписали контракт на строительство двух "
        "энергоблоков. Россия и Китай продолжают сотрудничество в атомной энергетике.",
        matches={"energy": 6.0, "china-russia-st": 3.0},
        hits=("атомн",),
        language="ru",
        published=datetime(2025, 3, 11, 15, 0, tzinfo=UTC),
        hours_ago=12,
    )
    w.add(
        "cgtn",
        "中俄科技合作论坛在北京举行",
        "中俄科技合作论坛11日在北京举行，中国和俄罗斯的科学家讨论了人工智能与新材料领域的合作。",
        matches={"china-russia-st": 2.5},
        hits=("中俄", "俄罗斯", "中国"),
        language="zh",
        hours_ago=6,
    )
    w.add(
        "tass-en",
        'A <weird> & "quoted" headline about China and Russia',
        "China and Russia <b>said</b> things & more.",
        matches={"china-russia-st": 1.2},
        url="javascript:alert(1)",
        hours_ago=5,
    )
    w.add("rg", "Low-scoring China-Russia item held for later", matches={"china-russia-st": 1.0}, hours_ago=4)
    w.store.update_source("xinhua-ru", failing_since=iso(NOW - timedelta(days=3)), failures=12, last_error="HTTP 503")
    return w


def _check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"{path} is missing; run UPDATE_GOLDEN=1 pytest {__file__}"
    assert actual == path.read_text(encoding="utf-8"), f"{name} differs; if intended, UPDATE_GOLDEN=1 pytest"


def test_golden_digest(tmp_path: Path) -> None:
    w = golden_world(tmp_path / "golden.db")
    cfg = config_for(w.store.path, max_stories=4)
    out = run_digest(cfg, w.store, now=NOW, output=tmp_path / "digest.eml")
    assert (out.results[0].stories, out.results[0].held) == (4, 1)
    msg = email.message_from_bytes((tmp_path / "digest.eml").read_bytes(), policy=email.policy.default)
    text, html = bodies(msg)
    _check_golden("digest.txt", text)
    _check_golden("digest.html", html)
    w.store.close()


def test_mail_error_from_a_sender_is_a_failure(world: World) -> None:
    world.add("tass-en", "China and Russia", matches={"china-russia-st": 3.0})
    cfg = config_for(world.store.path, 1)

    def refuses(msg: EmailMessage, rcpt: str) -> None:
        raise MailError("refused for the test")

    out = run_digest(cfg, world.store, now=NOW, sender=refuses)
    assert out.failed and out.results[0].error == "refused for the test"


def test_sent_anywhere_clause_for_prune(world: World, smtp: Any) -> None:
    sent = world.add("tass-en", "China and Russia, sent", matches={"china-russia-st": 3.0})
    cfg = config_for(world.store.path, smtp.port)
    run_digest(cfg, world.store, now=NOW)
    unsent = world.add("tass-en", "China and Russia, not yet sent", matches={"china-russia-st": 3.0})
    sql = f"SELECT a.id FROM articles a WHERE {ledger.sent_anywhere_clause('a.story')}"
    assert [r["id"] for r in world.store.query(sql)] == [sent]
    assert unsent != sent


def killed_digest(database: Path, port: int, topic: str, sends: bool) -> str:
    """The Message-ID of a digest of ``database`` run in a child process SIGKILLed in its send to the SMTP server at
    ``port``: before the server answered (``sends`` False), or after its 250, before the record (True). The config is
    one topic, the line ``topic`` (``name = "china-russia-st"``, ...), and mail_config's tables."""
    import signal
    import subprocess
    import sys

    from tests.support.configs import mail_config

    conf = database.parent / "killed-digest.toml"
    conf.write_text(f'[storage]\ndatabase = "{database}"\n[[topics]]\n{topic}\n{mail_config(port)}', encoding="utf-8")
    child = (
        "import sys, datetime\n"
        "from crawler.config import load_config\nfrom crawler.store import Store\n"
        "from scheduler.digest import run_digest\nfrom scheduler.mail import Mailer\n"
        "config = load_config(sys.argv[1])\n"
        "def hang(msg, rcpt):\n"
        f"    {'Mailer(config.smtp).send(msg, rcpt)' if sends else 'pass'}\n"  # the server said 250, or nothing yet
        "    print(msg['Message-ID'], flush=True)\n"
        "    sys.stdin.read()\n"  # blocks until killed: the 250, if any, is never recorded
        "run_digest(config, Store(config.storage.database),"
        f" now=datetime.datetime.fromisoformat('{NOW.isoformat()}'), sender=hang)\n"
    )
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen(
        [sys.executable, "-c", child, str(conf)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    try:
        return proc.stdout.readline().strip() if proc.stdout else ""
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)


def test_a_run_killed_mid_send_leaves_the_stories_due_under_the_same_message_id(world: World, smtp: Any) -> None:
    world.add("tass-en", "China and Russia open a joint observatory", matches={"china-russia-st": 3.0})
    topic = 'name = "china-russia-st"\nquery = "china"'
    message_id = killed_digest(world.store.path, smtp.port, topic, sends=False)
    assert message_id.startswith("<newswatch.digest.")
    cfg = config_for(world.store.path, smtp.port)
    out = run_digest(cfg, world.store, now=NOW + timedelta(minutes=1))
    assert out.results[0].status == "sent" and out.results[0].message_id == message_id
    assert run_digest(cfg, world.store, now=NOW + timedelta(hours=1)).results[0].status == "empty"
    assert len(smtp.messages) == 1


def _text_lines_of_a_digest_of(stories: int, world: World, smtp: Any) -> list[str]:
    for i in range(1, stories + 1):
        world.add("tass-en", f"Story number {i} of China and Russia", matches={"china-russia-st": 9.0 - i / 10})
    run_digest(config_for(world.store.path, smtp.port), world.store, now=NOW)
    return bodies(smtp.messages[0].message)[0].split("\r\n")


def test_plain_text_numbers_stand_right_aligned_from_ten_stories(world: World, smtp: Any) -> None:
    # "10. " is a column wider than " 9. ": every line of every story starts in its headline's column
    lines = _text_lines_of_a_digest_of(10, world, smtp)
    first = lines.index(" 1. Story number 1 of China and Russia")
    assert lines[first + 1].startswith("    tass-en · ")
    assert lines[first + 2] == "    https://tass-en.example/news/1"
    tenth = lines.index("10. Story number 10 of China and Russia")
    assert lines[tenth + 1].startswith("    tass-en · ")


def test_plain_text_numbers_of_nine_stories_take_no_padding(world: World, smtp: Any) -> None:
    lines = _text_lines_of_a_digest_of(9, world, smtp)
    first = lines.index("1. Story number 1 of China and Russia")
    assert lines[first + 1].startswith("   tass-en · ")
    assert "9. Story number 9 of China and Russia" in lines


def test_also_reported_by_keeps_its_first_outlet_on_its_line_however_long_the_address(world: World, smtp: Any) -> None:
    face = world.add("tass-en", "Russia and China to build a research reactor", matches={"china-russia-st": 6.0})
    long_url = "https://cgtn.example/2026/11/18/" + "a-very-long-slug-for-the-story-" * 3 + ".html"
    world.add("cgtn", "Another copy", story=world.story(face), url=long_url)
    cfg = config_for(world.store.path, smtp.port)
    run_digest(cfg, world.store, now=NOW)
    lines = bodies(smtp.messages[0].message)[0].split("\r\n")
    assert f"   Also reported by: cgtn <{long_url}>" in lines  # not the label alone above it
