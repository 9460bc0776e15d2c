"""An article's text is stored, matched, indexed and searched up to its first TEXT_CHARS characters: a hostile page
of megabytes of Chinese took some 500 MB of memory to fingerprint, tokenize and match in the worker that read it."""

from __future__ import annotations

import json
import random
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

from crawler import textnorm
from crawler.config import load_config
from crawler.process import TEXT_CHARS, TITLE_CHARS, FeedInfo, cut_text, feed_only
from tests.support.sitesrv import SiteServer
from tests.test_faults import feed_source, newswatch, write_config
from tests.test_hostile import articles, serve_one

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime.now(UTC)
LEAD = "China and Russia open a joint reactor."
SENTENCE = "中国与俄罗斯科学院签署合作协议，双方将在能源、材料和基础设施领域开展联合研究。"


def chinese(chars: int, seed: int) -> list[str]:
    """Paragraphs of varied Chinese sentences, ``chars`` characters in all or a little more."""
    rng, paragraphs, total = random.Random(seed), [], 0
    while total < chars:
        paragraphs.append("".join(rng.sample(SENTENCE, len(SENTENCE))) * 3)
        total += len(paragraphs[-1]) + 1
    return paragraphs


def test_a_text_is_cut_at_a_paragraphs_end_else_a_sentences_else_a_words() -> None:
    assert cut_text("short", 10) == "short"
    text = "a" * 95 + "\nbb. cc " + "d" * 100
    assert cut_text(text, 100) == "a" * 95  # the paragraph's end in the last tenth
    assert cut_text("a" * 92 + " bb. cc " + "d" * 100, 100) == "a" * 92 + " bb."  # a sentence's
    assert cut_text("a" * 92 + "。bb" + "d" * 100, 100) == "a" * 92 + "。"
    assert cut_text("a" * 92 + " bb cc" + "d" * 100, 100) == "a" * 92 + " bb"  # a word's
    assert cut_text("a" * 50 + "\n" + "d" * 100, 100) == "a" * 50 + "\n" + "d" * 49  # none in the last tenth
    assert len(cut_text("字" * 300, 100)) == 100


def test_the_memory_an_article_takes_does_not_grow_with_its_text_past_the_limit() -> None:
    # a feed entry's summary goes through what a page's text does once extracted: the fingerprint, the search
    # index's tokens, every topic's matching (the shipped config's topic); before, some 300 bytes a Chinese character
    topic_list = load_config(ROOT / "config" / "newswatch.toml").topics

    def peak(chars: int, seed: int) -> tuple[int, int]:
        """The most memory taken while an entry of ``chars`` characters is processed, and the text stored."""
        feed = FeedInfo(title="中俄联合反应堆", summary="\n".join(chinese(chars, seed)))
        textnorm.columns.cache_clear()
        tracemalloc.start()
        try:
            processed = feed_only(
                "s", f"http://example.org/{seed}", feed, NOW, topic_list, backlog=False, pending=False
            )
            most = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert processed.record is not None
        return most, len(processed.record.text)

    feed_only(
        "s",
        "http://example.org/0",
        FeedInfo(title="中俄", summary="中俄合作"),
        NOW,
        topic_list,
        backlog=False,
        pending=False,
    )  # the topics compiled before anything is counted
    (under, kept), (thrice, cut) = peak(TEXT_CHARS - 1_000, 1), peak(3 * TEXT_CHARS, 2)
    assert thrice < 1.25 * under, (under, thrice)  # before: 3 times as much, some 300 bytes a Chinese character
    assert TEXT_CHARS - 1_000 <= kept <= TEXT_CHARS and TEXT_CHARS - TEXT_CHARS // 10 <= cut <= TEXT_CHARS


def test_a_hostile_pages_text_is_stored_and_searched_up_to_the_limit_and_the_crawl_says_so(
    site: SiteServer, tmp_path: Path
) -> None:
    paragraphs = [LEAD, *chinese(2 * TEXT_CHARS, 3), "zanzibarium"]  # a word past the limit
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    title = "Joint reactor of China and Russia " * 100  # a headline of 3,400 characters
    page = {
        "body": (
            200,
            f"<html><head><title>{title}</title></head><body><article>{body}</article></body></html>".encode(),
        )
    }
    cfg = write_config(tmp_path, feed_source("long", serve_one(site, "/long/", page)))
    res = newswatch(cfg, "crawl")
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    [row] = articles(tmp_path / "nw.db")
    text = str(row["text"])
    assert row["text_from"] == "page"
    assert len(text) <= TEXT_CHARS and text.startswith(LEAD) and text.endswith(paragraphs[len(text.split("\n")) - 1])
    assert len(str(row["title"])) <= TITLE_CHARS
    said = f"its text of {len(chr(10).join(paragraphs)):,} characters is kept up to its first {len(text):,}"
    out = res.stdout + res.stderr
    cut = f"its title of {len(title.strip()):,} characters is kept up to its first {len(str(row['title'])):,} and "
    assert f"long: warning: {row['url']}: {cut}{said}" in out, out  # before: the text's cut alone, the title's not said
    assert out.count(f"{row['url']}: its ") == 1  # one line for the item
    assert "(at most 1,000 characters of an article's title and 100,000 of its text are stored, matched and" in out
    assert [r["title"] for r in json.loads(newswatch(cfg, "search", "reactor", "--json").stdout)] == [row["title"]]
    res = newswatch(cfg, "search", "zanzibarium", "--json")  # the word past the limit is neither stored nor indexed
    assert res.returncode == 0 and json.loads(res.stdout) == [], res.stdout


def test_a_feed_entrys_title_cut_is_said_as_a_texts_is() -> None:
    # ce7c869 warned of a text it cut, and a title of 1,000 characters or more was cut without a word
    title = "Joint reactor of China and Russia " * 60
    feed = FeedInfo(title=title, summary="Scientists of both countries.")
    url = "http://example.org/t"
    processed = feed_only("s", url, feed, NOW, (), backlog=False, pending=False)
    assert processed.record is not None and len(processed.record.title) <= TITLE_CHARS
    assert processed.note == (
        f"{url}: its title of {len(title):,} characters is kept up to its first {len(processed.record.title):,} "
        "(at most 1,000 characters of an article's title are stored, matched and searched)"
    )
    assert feed_only("s", url, FeedInfo(title="Joint reactor"), NOW, (), backlog=False, pending=False).note is None
