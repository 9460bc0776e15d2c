"""An upgrade that changes stored text (store migrations 0070 and 0140) leaves the topic matches made from the old
text to be made again: the migration notes the articles it changed, and the first crawl or digest after it, which
knows the topics, matches them again, once. Real SQLite files built as an older newswatch left them, a real SMTP
server."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from crawler import matching
from crawler.config import Config, DigestConfig, StorageConfig, TopicConfig
from crawler.matching import rematch_due, sync_topics
from crawler.process import score_topics
from crawler.store import REMATCH, Store
from scheduler.digest import send_alerts
from tests.support.articles import GW_PAGE, article_record
from tests.support.cli import newswatch
from tests.support.configs import mail_config
from tests.support.sitesrv import SiteServer

CLEANING = "0140_invisible_characters_removed"
READINGS = "0070_pinyin_readings_removed"
TOPICS = (TopicConfig("energy", "reactor OR 核电", alert_score=1.0),)
TOPIC = """
[[topics]]
name = "energy"
query = 'reactor OR 核电'
alert_score = 1.0
"""
CRAWL = """
[crawl]
user_agent = "newswatch-test/1.0 (+mailto:ops@example.org)"
allow_private = true
"""
Matches = dict[int, list[tuple[str, float, list[str]]]]


def write_config(tmp_path: Path, port: int) -> Path:
    """A config with the topic "energy" (TOPICS) whose digest mails stories first seen within 7 days to
    analyst@example.org, through 127.0.0.1:``port``."""
    path = tmp_path / "newswatch.toml"
    mail = mail_config(port).replace('max_age = "3650d"', 'max_age = "7d"')
    path.write_text(f'[storage]\ndatabase = "nw.db"\n{CRAWL}{TOPIC}{mail}', encoding="utf-8")
    return path


def add_as_before(store: Store, n: int, title: str, text: str, age: timedelta, language: str = "en") -> int:
    """An article stored and matched as an older newswatch did: its text as it came, its matches made from it."""
    record = article_record(n, title, text, age=age, indexed=True)
    aid = store.add_article(record).article_id
    store.set_matches(aid, *score_topics(title, text, TOPICS, language))
    return aid


def as_before(db: Path, *migrations: str) -> None:
    """The database as a newswatch before ``migrations`` left it: they are not applied, and no table notes the
    articles to be matched again (the first of them makes it)."""
    conn = sqlite3.connect(db, isolation_level=None)
    for name in migrations:
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = ?", [name])
    conn.execute(f"DROP TABLE {REMATCH}")
    conn.close()


def stored_matches(store: Store) -> Matches:
    out: Matches = {}
    for r in store.query("SELECT article_id, topic, score, hits FROM matches ORDER BY article_id, topic"):
        out.setdefault(r["article_id"], []).append((r["topic"], r["score"], json.loads(r["hits"])))
    return out


def matches_of_stored_text(store: Store) -> Matches:
    """What matching each article's stored title and text gives now."""
    out: Matches = {}
    for r in store.query("SELECT id, title, text, language FROM articles ORDER BY id"):
        for topic, score, hits in score_topics(r["title"], r["text"], TOPICS, r["language"])[0]:
            out.setdefault(r["id"], []).append((topic, score, list(hits)))
    return out


def stamps(store: Store) -> dict[int, str]:
    return {r["article_id"]: r["matched_at"] for r in store.query("SELECT article_id, matched_at FROM matches")}


def mailed(smtp: Any) -> list[set[str]]:
    """Each message's stories of these tests, by their headline's first word."""
    out = []
    for m in smtp.messages:
        body = m.message.get_body(("plain",)).get_content()
        out.append({w for w in ("Kazan", "Harbin", "Arctic", "Omsk", "Tver", "Perm") if f"{w} " in body})
    return out


def test_stories_the_upgrade_cleaned_are_matched_again_and_mailed_once(tmp_path: Path, smtp: Any) -> None:
    cfg = write_config(tmp_path, smtp.port)
    db = tmp_path / "nw.db"
    with Store(db) as st:
        omsk = add_as_before(st, 1, "Omsk reactor deal \x1b[1msigned\x1b[0m", "Text.", timedelta(days=3))
    assert newswatch("-c", cfg, "digest").returncode == 0  # the older newswatch's digest mailed it
    assert mailed(smtp) == [{"Omsk"}]
    with Store(db) as st:
        # the word hid in an escape sequence: no match before the upgrade, one after
        kazan = add_as_before(st, 2, "Kazan opens a \x1b[1mreactor\x1b[0m laboratory", "Text.", timedelta(hours=2))
        # the word only in a window title a terminal never shows: a match before the upgrade, none after
        harbin = add_as_before(st, 3, "\x1b]0;reactor\x07Harbin opens a grain port", "Text.", timedelta(hours=3))
        # too old for the digest: matched again all the same (export --matched and prune read its matches)
        arctic = add_as_before(st, 4, "Arctic \x1b[31mreactor\x1b[0m ship", "Text.", timedelta(days=30))
        tver = add_as_before(st, 5, "Tver builds a reactor", "Text.", timedelta(days=1))  # nothing to clean
        assert set(stored_matches(st)) == {omsk, harbin, tver}
        tver_stamp = stamps(st)[tver]
    as_before(db, CLEANING)

    out = newswatch("-c", cfg, "digest")  # the upgrade, then the digest
    assert out.returncode == 0, out.stderr
    # before: Harbin's story, matched on its window title, and Kazan's never; Omsk's is not mailed again
    assert mailed(smtp) == [{"Omsk"}, {"Kazan", "Tver"}]
    with Store(db) as st:
        assert stored_matches(st) == matches_of_stored_text(st)  # before: the matches of the old text
        assert set(stored_matches(st)) == {omsk, kazan, arctic, tver}
        assert stamps(st)[tver] == tver_stamp  # an article the upgrade left alone is not matched again
        assert rematch_due(st) == 0 and st.count(REMATCH) == 0
        after = stamps(st)

    # once: the next digest matches nothing again and mails nothing
    assert newswatch("-c", cfg, "digest").returncode == 0
    assert len(smtp.messages) == 2
    with Store(db) as st:
        assert stamps(st) == after
    exported = [json.loads(line) for line in newswatch("-c", cfg, "export", "--matched").stdout.splitlines()]
    assert sorted(r["title"] for r in exported) == [
        "Arctic reactor ship",
        "Kazan opens a reactor laboratory",
        "Omsk reactor deal signed",
        "Tver builds a reactor",
    ]


def test_a_story_newly_matched_is_alerted_as_after_a_query_edit_within_the_alert_window(
    tmp_path: Path, smtp: Any, site: SiteServer
) -> None:
    """A story the upgrade's cleaning makes match is a story matched when the topics learn of its text, as after an
    edited query: alerted when first seen within the alert window (a day), else left to the digest. Here the first
    crawl after the upgrade matches it, as the daemon's would (and alerts after a crawl)."""
    from crawler.config import load_config

    config = load_config(write_config(tmp_path, smtp.port))
    db = config.storage.database
    with Store(db) as st:
        add_as_before(st, 1, "Kazan opens a \x1b[1mreactor\x1b[0m laboratory", "Text.", timedelta(hours=2))
        add_as_before(st, 2, "Perm tests a \x1b[1mreactor\x1b[0m", "Text.", timedelta(days=2))
        sync_topics(config, st)  # the older newswatch's: nothing matched, nothing to alert
        assert send_alerts(config, st) == []
    as_before(db, CLEANING)
    assert newswatch("-c", config.path, "crawl", "--url", site.base_url + GW_PAGE).returncode == 0
    with Store(db) as st:
        assert st.count(REMATCH) == 0 and set(stored_matches(st)) == {1, 2}
        [alert] = send_alerts(config, st)
        assert (alert.status, alert.stories) == ("sent", 1)
        assert mailed(smtp) == [{"Kazan"}]
        assert send_alerts(config, st) == []
    assert newswatch("-c", config.path, "digest").returncode == 0
    assert mailed(smtp)[1:] == [{"Perm"}]  # the digest: Perm's story, not Kazan's again


def test_chinese_text_the_readings_upgrade_changed_is_matched_again(tmp_path: Path) -> None:
    """Migration 0070 (pinyin readings inside Chinese words removed) had the same gap: 核(hé)电 matched no 核电."""
    db = tmp_path / "nw.db"
    config = Config(path=None, storage=StorageConfig(db), topics=TOPICS, digest=DigestConfig(max_age=7 * 86400))
    with Store(db) as st:
        split = add_as_before(st, 1, "中俄签署核(hé)电站合作协议", "两国专家出席。", timedelta(days=1), "zh")
        whole = add_as_before(st, 2, "中俄核电(hédiàn)合作", "两国专家出席。", timedelta(days=1), "zh")
        sync_topics(config, st)
        assert set(stored_matches(st)) == {whole}
    as_before(db, READINGS)
    with Store(db) as st:
        assert st.article(split)["title"] == "中俄签署核电站合作协议"
        assert st.query(f"SELECT article_id, why FROM {REMATCH}") == [{"article_id": split, "why": READINGS}]
        assert sync_topics(config, st) == 1
        assert stored_matches(st) == matches_of_stored_text(st)
        assert set(stored_matches(st)) == {split, whole}  # before: the split word's story never matched


def test_matching_again_is_transactional_and_keeps_what_another_process_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch at a time, each in one transaction with its articles taken off the note: a run that fails midway keeps
    the batches done, and the next does the rest. An article a crawl gave a new text (and matched) meanwhile keeps the
    crawl's matches."""
    db = tmp_path / "nw.db"
    config = Config(path=None, storage=StorageConfig(db), topics=TOPICS, digest=DigestConfig(max_age=7 * 86400))
    with Store(db) as st:
        ids = [
            add_as_before(st, n, f"City {n} builds a \x1b[1mreactor\x1b[0m", "Text.", timedelta(days=n))
            for n in range(1, 6)
        ]
        sync_topics(config, st)
    as_before(db, CLEANING)
    monkeypatch.setattr(matching, "CLEANED_BATCH", 2)
    real = matching.score_topics
    scored: list[str] = []

    def failing(title: str, *args: Any) -> Any:
        scored.append(title)
        if len(scored) == 3:  # the second batch's first article
            raise RuntimeError("killed")
        return real(title, *args)

    with Store(db) as st:
        monkeypatch.setattr(matching, "score_topics", failing)
        with pytest.raises(RuntimeError):
            sync_topics(config, st)
        assert set(stored_matches(st)) == set(ids[:2])  # the first batch, whole
        assert [r["article_id"] for r in st.query(f"SELECT article_id FROM {REMATCH} ORDER BY 1")] == ids[2:]
        done = stamps(st)

    def meanwhile(title: str, *args: Any) -> Any:
        if title == "City 3 builds a reactor":  # a crawl stores the page of article 3 and matches it
            with Store(db) as other:
                other.conn.execute("UPDATE articles SET text = 'A page about grain.' WHERE id = ?", [ids[2]])
                other.set_matches(ids[2], [("energy", 9.0, ("page",))])
        return real(title, *args)

    monkeypatch.setattr(matching, "score_topics", meanwhile)
    with Store(db) as st:
        assert sync_topics(config, st) == 2  # the rest: 4 and 5 (3's text changed meanwhile)
        assert stamps(st)[ids[0]] == done[ids[0]] and stamps(st)[ids[1]] == done[ids[1]]  # not matched twice
        assert stored_matches(st)[ids[2]] == [("energy", 9.0, ["page"])]  # the crawl's
        assert set(stored_matches(st)) == set(ids)
        assert st.count(REMATCH) == 0
        assert sync_topics(config, st) == 0


def test_prune_right_after_the_upgrade_keeps_what_the_stored_text_matches(tmp_path: Path) -> None:
    """prune keeps matched stories nobody received: the first prune after the upgrade decides on the matches of the
    stored text, not on those of the text before it. A dry run writes nothing: it counts on the stored matches and
    says that some are of the text before the upgrade."""
    cfg = write_config(tmp_path, 25)
    db = tmp_path / "nw.db"
    with Store(db) as st:
        arctic = add_as_before(st, 1, "Arctic \x1b[31mreactor\x1b[0m ship", "Text.", timedelta(days=200))
        harbin = add_as_before(st, 2, "\x1b]0;reactor\x07Harbin opens a grain port", "Text.", timedelta(days=200))
        perm = add_as_before(st, 3, "Perm grain harvest", "Text.", timedelta(days=200))
        tver = add_as_before(st, 4, "Tver grain harvest", "Text.", timedelta(days=2))
    as_before(db, CLEANING)
    with Store(db) as st:  # the migration notes the cleaned articles
        noted, before = st.count(REMATCH), stored_matches(st)
    assert noted == 2  # Arctic and Harbin
    image = db.read_bytes()
    out = newswatch("-c", cfg, "prune", "--older-than", "180d", "--dry-run")
    assert out.returncode == 0 and out.stdout.startswith("would delete 2 articles"), out.stdout
    assert db.read_bytes() == image, "a dry run writes nothing (it matched the cleaned articles again)"
    assert (
        "warning: an upgrade changed the stored text of 2 articles; this count is on their matches from the text"
        " before it" in out.stderr
    ), out.stderr
    with Store(db) as st:
        assert st.count(REMATCH) == noted and stored_matches(st) == before
    out = newswatch("-c", cfg, "prune", "--older-than", "180d")
    assert out.returncode == 0 and out.stdout.startswith("deleted 2 articles"), out.stdout
    with Store(db) as st:
        # before: Arctic's story, unsent and matching its stored text, deleted; Harbin's kept by its window title
        assert [r["id"] for r in st.query("SELECT id FROM articles ORDER BY id")] == [arctic, tver]
        assert set(stored_matches(st)) == {arctic} and st.count(REMATCH) == 0
    assert harbin and perm


def test_a_database_that_took_every_cleaning_before_the_notes_existed_gets_their_table(
    tmp_path: Path, site: SiteServer
) -> None:
    """A database upgraded by 0070 and 0140 before they noted what they changed has no table of notes: 0150 makes it,
    so crawl, digest and prune read it instead of failing ('no such table: _rematch')."""
    cfg = write_config(tmp_path, 25)
    db = tmp_path / "nw.db"
    with Store(db) as st:
        add_as_before(st, 1, "Kazan reactor", "Text.", timedelta(days=1))
    as_before(db, "0150_rematch_noted")
    crawl = ("crawl", "--url", site.base_url + GW_PAGE)
    for args in (("digest", "--dry-run"), ("prune", "--older-than", "180d", "--dry-run"), crawl):
        out = newswatch("-c", cfg, *args)
        assert out.returncode == 0 and "no such table" not in out.stderr, (args, out.stdout, out.stderr)
    with Store(db) as st:
        assert st.count(REMATCH) == 0 and 1 in stored_matches(st)


def test_a_crawl_matches_again_for_its_budget_and_the_next_one_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crawl child must keep its time for its sources: with its budget spent, it begins no further batch, and the
    next crawl (or a digest, which matches them all) takes the rest."""
    db = tmp_path / "nw.db"
    config = Config(path=None, storage=StorageConfig(db), topics=TOPICS, digest=DigestConfig(max_age=7 * 86400))
    with Store(db) as st:
        for n in range(1, 6):
            add_as_before(st, n, f"City {n} builds a \x1b[1mreactor\x1b[0m", "Text.", timedelta(days=n))
        sync_topics(config, st)
    as_before(db, CLEANING)
    monkeypatch.setattr(matching, "CLEANED_BATCH", 2)
    with Store(db) as st:
        assert [sync_topics(config, st, budget=0) for _ in range(4)] == [2, 2, 1, 0]  # a batch each, then none
        assert set(stored_matches(st)) == set(range(1, 6))


def cleaned_not_matched_again(tmp_path: Path, port: int) -> tuple[Path, Path]:
    """A config and its database with one article whose text the cleaning migration changed, the migration taken by
    another user's command and the article not matched again yet."""
    cfg = write_config(tmp_path, port)
    db = tmp_path / "nw.db"
    with Store(db) as st:
        add_as_before(st, 1, "Kazan opens a \x1b[1mreactor\x1b[0m laboratory", "Text.", timedelta(hours=2))
    assert newswatch("-c", cfg, "digest", "--dry-run").returncode == 0  # the older newswatch's: its topics, its ledger
    as_before(db, CLEANING)
    Store(db).close()
    return cfg, db


def test_a_preview_that_cannot_write_the_database_says_its_matches_are_from_the_old_text(
    tmp_path: Path, smtp: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, db = cleaned_not_matched_again(tmp_path, smtp.port)
    monkeypatch.setattr("scheduler.cli._writable", lambda path: False)  # this user may only read it
    out = newswatch("-c", cfg, "digest", "--dry-run")
    assert out.returncode == 0
    assert out.stderr == (
        f"warning: an upgrade changed the stored text of 1 article but {db} is read-only here; their matches are"
        " those of their old text until a crawl or a digest by a user who may write it matches them again\n"
    )
    with Store(db) as st:
        assert rematch_due(st) == 1 and stored_matches(st) == {}  # nothing written


def test_a_preview_that_cannot_write_the_database_says_both_that_topics_changed_and_that_text_was_cleaned(
    tmp_path: Path, smtp: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # with a topic edited and cleaned text both waiting, the preview said only that the topics changed
    cfg, db = cleaned_not_matched_again(tmp_path, smtp.port)
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("reactor OR 核电", "reactor OR laboratory"), "utf-8")
    monkeypatch.setattr("scheduler.cli._writable", lambda path: False)
    out = newswatch("-c", cfg, "digest", "--dry-run")
    assert out.returncode == 0
    assert out.stderr.splitlines() == [
        f"warning: the topics changed but {db} is read-only; matches are from the last crawl",
        f"warning: an upgrade changed the stored text of 1 article but {db} is read-only here; their matches are"
        " those of their old text until a crawl or a digest by a user who may write it matches them again",
    ]
