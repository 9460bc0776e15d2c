"""Pinyin readings inside Chinese words (flattened <ruby>, converting mirrors) are removed where text enters."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.config import load_config
from crawler.feeds import parse_feed
from crawler.process import PageJob, feed_only, match_topics, process_page
from crawler.readings import strip_readings
from crawler.store import Store
from scheduler.cli import cli
from tests.support.articles import article_record

ANNOTATED = (
    "俄中副總理討論了聯(lián)合建造新一代遠(yuǎn)程寬體客機(jī)問(wèn)題，中俄兩國科學院也將聯（lián）合培養人才。"
)
CLEAN = "俄中副總理討論了聯合建造新一代遠程寬體客機問題，中俄兩國科學院也將聯合培養人才。"
TITLE = "中俄聯(lián)合研製寬體客機(jī)"


def test_readings_after_han_characters_are_removed() -> None:
    assert strip_readings(ANNOTATED) == CLEAN
    assert strip_readings("客機（jī）與聯(lian2)合，女(nǚ)士，美(Lián)國") == "客機與聯合，女士，美國"


@pytest.mark.parametrize(
    "kept",
    [
        "中国(China)与俄罗斯",
        "北京(Beijing)大学",
        "中核集团公司(CNNC)",
        "今年(2024)",
        "声明(中国)",
        "the joint (lián) committee",  # after a Latin word, not a Han character
        "Academy (Science) of Russia",
        "王(Wang)教授",  # a toneless syllable is a name, not a reading
        "等级(A1)与版本(V2)",  # a numbered reading is lower case and a real syllable
        "公司（Rosatom）",
        "客机 (jī)",  # not right after the character
        "客机(jīyī)",  # two syllables: not one character's reading
    ],
)
def test_everything_else_in_parentheses_stays(kept: str) -> None:
    assert strip_readings(kept) == kept


def _topics(tmp_path: Path) -> tuple:
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[storage]\ndatabase = "nw.db"\n'
        '[[topics]]\nname = "joint"\nquery = "联合"\nmin_score = 1.0\n'
        '[[topics]]\nname = "airliner"\nquery = "客机 AND 远程"\nmin_score = 1.0\n',
        encoding="utf-8",
    )
    return load_config(cfg).topics


def test_an_annotated_page_is_stored_clean_and_matches(tmp_path: Path) -> None:
    topic_list = _topics(tmp_path)
    assert match_topics(TITLE, ANNOTATED, topic_list, "zh") == ()  # what the raw text would give
    html = (
        f"<html lang='zh'><head><meta charset='utf-8'><title>{TITLE}</title></head><body>"
        f"<article><h1>{TITLE}</h1><p>{ANNOTATED}</p><p>{ANNOTATED}</p></article></body></html>"
    )
    job = PageJob("s", "https://example.org/a", "https://example.org/a", html.encode(), None, datetime.now(UTC))
    processed = process_page(job, topic_list)
    record = processed.record
    assert record is not None
    assert record.title == "中俄聯合研製寬體客機" and CLEAN in record.text
    assert "(" not in record.text and "（" not in record.text
    assert {name for name, _, _ in processed.matches} == {"joint", "airliner"}


def test_a_feed_only_article_is_stored_clean_and_matches(tmp_path: Path) -> None:
    feed = (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>t</title>"
        f"<item><title>{TITLE}</title><link>https://example.org/b</link>"
        f"<description>{ANNOTATED}</description></item></channel></rss>"
    )
    entry = parse_feed(feed.encode(), "https://example.org/feed").entries[0]
    assert entry.title == "中俄聯合研製寬體客機" and entry.summary == CLEAN
    processed = feed_only("s", entry.link, entry, datetime.now(UTC), _topics(tmp_path), backlog=False, pending=False)
    assert processed.record is not None and processed.record.text == CLEAN
    assert {name for name, _, _ in processed.matches} == {"joint", "airliner"}


def test_topics_eval_reads_a_labeled_story_as_the_product_reads_a_page(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[storage]\ndatabase = "nw.db"\n[[topics]]\nname = "airliner"\nquery = "客机 AND 联合"\nmin_score = 1.0\n',
        encoding="utf-8",
    )
    rows = [
        {"id": "ruby", "language": "zh", "title": TITLE, "text": ANNOTATED, "label": 1},
        {"id": "plain", "language": "zh", "title": "中俄联合研制宽体客机", "text": CLEAN, "label": 1},
    ]
    labeled = tmp_path / "l.jsonl"
    labeled.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["-c", str(cfg), "topics", "eval", str(labeled), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)[0]
    # read raw, the annotated story would be a miss; cleaned as a page is, it matches like its plain copy
    assert match_topics(TITLE, ANNOTATED, load_config(cfg).topics, "zh") == ()
    assert data["all"]["tp"] == 2 and not data["misses"]


def test_articles_stored_before_are_cleaned_and_found_by_search(tmp_path: Path) -> None:
    db = tmp_path / "nw.db"
    plain = "中国(China)与俄罗斯(2024)签署协议，王(Wang)教授出席。"
    with Store(db) as store:
        annotated = store.add_article(article_record(1, TITLE, ANNOTATED, indexed=True)).article_id
        kept = store.add_article(article_record(2, "中俄协议", plain, indexed=True)).article_id
    conn = sqlite3.connect(db)  # as an older newswatch left it: stored with the readings, migration not run
    with conn:
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = '0070_pinyin_readings_removed'")
    conn.close()
    with Store(db) as store:
        rows = {r["id"]: r for r in store.query("SELECT id, title, text FROM articles")}
        assert rows[annotated]["title"] == "中俄聯合研製寬體客機" and rows[annotated]["text"] == CLEAN
        assert rows[kept]["text"] == plain
    cfg = tmp_path / "c.toml"
    cfg.write_text('[storage]\ndatabase = "nw.db"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["-c", str(cfg), "search", "联合 AND 客机", "--json"])
    assert result.exit_code == 0, result.output
    assert [r["url"] for r in json.loads(result.output)] == ["https://example.org/1"]
