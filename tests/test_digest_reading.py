"""A digest a busy analyst reads in two minutes: an overview first, languages kept together, few
highlights on whole words, short Chinese snippets, display names, and an optional translator link."""

from __future__ import annotations

import email
import email.policy
import re
import sqlite3
import unicodedata
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from crawler.config import Config, parse_config
from scheduler.digest import run_digest, send_alerts
from tests.test_digest import NOW, World, bodies

TOPIC = "(china OR chinese OR 中国 OR 中俄 OR 俄 OR китай*) AND (russia OR russian OR 俄罗斯 OR 俄 OR росси*)"


def config(db: Path, smtp_port: int | None = None, **digest: Any) -> Config:
    data: dict[str, Any] = {
        "storage": {"database": str(db)},
        "sources": [
            {"name": "huaxia", "kind": "feed", "url": "https://huaxia.example/rss", "title": "Huaxia News"},
            {"name": "vestnik", "kind": "feed", "url": "https://vestnik.example/rss", "title": "Вестник"},
            {"name": "globalwire", "kind": "feed", "url": "https://globalwire.example/rss"},
        ],
        "topics": [{"name": "china-russia-st", "query": TOPIC, "title": "China–Russia science & technology"}],
        "digest": {"timezone": "UTC", "recipients": [{"email": "analyst@example.org"}], **digest},
    }
    if smtp_port is not None:
        data["smtp"] = {"host": "127.0.0.1", "port": smtp_port, "security": "none", "timeout": "5s"}
    return parse_config(data, base=db.parent)


def digest_bodies(world: World, cfg: Config, tmp_path: Path) -> tuple[str, str]:
    out = tmp_path / "d.eml"
    run_digest(cfg, world.store, now=NOW, output=out)
    msg = email.message_from_bytes(out.read_bytes(), policy=email.policy.default)
    return bodies(msg)


def fill(world: World) -> None:
    world.add(
        "globalwire",
        "China and Russia open a joint materials laboratory",
        " ".join(["China and Russia agreed to widen cooperation; Russian and Chinese scientists met."] * 6),
        matches={"china-russia-st": 3.0},
    )
    world.add(
        "huaxia",
        "中俄科技合作论坛在北京举行",
        "中俄科技合作论坛11日在北京举行，中国和俄罗斯的科学家讨论了人工智能与新材料领域的合作。" * 8,
        matches={"china-russia-st": 4.0},
        language="zh",
    )
    world.add(
        "vestnik",
        "Россия и Китай создадут совместный центр",
        "Россия и Китай создадут совместный научный центр. Российские и китайские учёные обсудили планы.",
        matches={"china-russia-st": 2.0},
        language="ru",
    )
    world.add("globalwire", "Russian and Chinese ministers meet", matches={"china-russia-st": 1.5})


@pytest.fixture
def filled(tmp_path: Path) -> Iterator[World]:
    """The world of `fill` in tmp_path/nw.db; its store is closed after the test."""
    w = World(tmp_path / "nw.db")
    fill(w)
    yield w
    w.store.close()


def test_overview_first_then_languages_together(filled: World, tmp_path: Path) -> None:
    w = filled
    text, html = digest_bodies(w, config(w.store.path), tmp_path)
    head = text.split("== ", 1)[0]
    assert "2 English · 1 Russian · 1 Chinese" in head
    assert "Top stories:\n- 中俄科技合作论坛在北京举行 (Huaxia News)" in head
    sections = re.findall(r"^-- (\w+) \(\d+\) --$", text, re.M)
    assert sections == ["English", "Russian", "Chinese"]  # not interleaved by score
    assert "<strong>2</strong> English" in html and "Top stories" in html


def test_display_names_from_the_config(filled: World, tmp_path: Path) -> None:
    w = filled
    text, html = digest_bodies(w, config(w.store.path), tmp_path)
    assert "== China–Russia science & technology (4) ==" in text
    assert "china-russia-st (" not in text
    assert "Huaxia News · " in text and "Вестник · " in text
    assert "globalwire · " in text  # no title: its name
    assert "China–Russia science &amp; technology" in html and ">Huaxia News<" in html


def test_each_story_shows_its_score(filled: World, tmp_path: Path, smtp: Any) -> None:
    text, html = received_bodies(filled, config(filled.store.path, smtp.port), smtp)
    assert "   Huaxia News · 12 Mar 2025 · Chinese · score 4.0\n" in text
    assert "   Вестник · 12 Mar 2025 · Russian · score 2.0\n" in text
    assert "globalwire · 12 Mar 2025 · English · score 1.5\n" in text
    assert html.count(" &middot; score ") == 4 and "&middot; score 3.0" in html


def test_few_highlights_on_whole_words_and_short_chinese_snippets(filled: World, tmp_path: Path) -> None:
    w = filled
    text, _html = digest_bodies(w, config(w.store.path), tmp_path)
    stories = re.split(r"^\d+\. ", text, flags=re.M)[1:]
    for story in stories:
        assert story.count("*") // 2 <= 3, story
    zh = next(s for s in stories if s.startswith("中俄科技"))
    lines = zh.splitlines()[3:]
    snippet = "".join(line.strip() for line in lines[: lines.index("")] if lines and "" in lines)
    assert "*俄*罗斯" not in zh and "*中俄*" in zh
    assert len(snippet.replace("*", "")) <= 125  # about three lines on a phone, not ten
    en = next(s for s in stories if s.startswith("China and Russia open"))
    assert re.search(r"\*Russian\*", en) and not re.search(r"\*Russia\*n", en)


def test_translator_link_is_off_by_default_and_only_for_other_languages(filled: World, tmp_path: Path) -> None:
    w = filled
    text, html = digest_bodies(w, config(w.store.path), tmp_path)
    assert "Translate" not in text and "Translate" not in html
    template = "https://translate.example/?sl={lang}&tl=en&u={url}"
    text, html = digest_bodies(w, config(w.store.path, translate_url=template), tmp_path)
    links = re.findall(r"Translate: (\S+)", text)
    assert sorted(links) == [
        "https://translate.example/?sl=ru&tl=en&u=https%3A%2F%2Fvestnik.example%2Fnews%2F3",
        "https://translate.example/?sl=zh&tl=en&u=https%3A%2F%2Fhuaxia.example%2Fnews%2F2",
    ]
    assert html.count(">Translate</a>") == 2


def test_a_translate_url_without_a_placeholder_is_a_config_error(tmp_path: Path) -> None:
    from crawler.errors import ConfigError

    good = "https://translate.example/?sl={lang}&u={url}"
    assert config(tmp_path / "nw.db", translate_url=good).digest.translate_url == good  # a known key
    for bad, says in (
        ("https://translate.example/", "must be an http(s) URL with {url} in it"),
        ("translate.example/?u={url}", "must be an http(s) URL with {url} in it"),
        ("https://translate.example/?u={url}&x={page}", "may use only {url} and {lang}"),
    ):
        with pytest.raises(ConfigError) as exc:
            config(tmp_path / "nw.db", translate_url=bad)
        (problem,) = exc.value.problems
        assert problem.startswith("digest.translate_url") and says in problem, problem


def test_dry_run_prints_each_recipients_subject_and_stories(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from scheduler.cli import cli

    w = World(tmp_path / "nw.db")
    fill(w)
    w.store.close()
    cfg = tmp_path / "nw.toml"
    cfg.write_text(
        f"""
[storage]
database = "{tmp_path / "nw.db"}"
[[sources]]
name = "huaxia"
url = "https://huaxia.example/rss"
title = "Huaxia News"
[[topics]]
name = "china-russia-st"
title = "China–Russia S&T"
query = '{TOPIC}'
[digest]
subject = "newswatch: {{count}} new stories"
max_age = "3650d"
[[digest.recipients]]
email = "analyst@example.org"
[[digest.recipients]]
email = "boss@example.org"
""",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["-c", str(cfg), "digest", "--dry-run"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for rcpt in ("analyst@example.org", "boss@example.org"):
        block = out.split(f"{rcpt}: would send 4 stories (dry run)\n", 1)[1]
        assert block.startswith("  subject: newswatch: 4 new stories\n")
        assert "  - [China–Russia S&T] 中俄科技合作论坛在北京举行 (Huaxia News, Chinese)" in block
        assert "  - [China–Russia S&T] Россия и Китай создадут совместный центр (vestnik, Russian)" in block
    with sqlite3.connect(tmp_path / "nw.db") as db:  # nothing marked sent
        assert db.execute("SELECT count(*) FROM delivery_items").fetchone()[0] == 0


def test_neighbouring_highlighted_words_are_one_highlight(tmp_path: Path) -> None:
    w = World(tmp_path / "nw.db")
    w.add(
        "globalwire",
        "Forum opens",
        "The China Russia science forum opened; Russia–China projects and Chinese, Russian teams took part.",
        matches={"china-russia-st": 3.0},
    )
    w.add(
        "huaxia",
        "论坛开幕",
        "中国俄罗斯科学论坛开幕，两国科学家参加。",
        matches={"china-russia-st": 3.0},
        language="zh",
    )
    text, html = digest_bodies(w, config(w.store.path), tmp_path)
    assert "*China Russia* science" in text and "*China* *Russia*" not in text
    assert "*Russia–China* projects" in text  # joined by a dash: one highlight too
    assert "*Chinese*, Russian" in text  # a comma between them: two, and the third highlight is the last
    assert "*中国俄罗斯*科学" in text
    mark = '<strong style="background-color:#fef08a;color:#111827;font-weight:700;">'
    assert f"{mark}China Russia</strong> science" in html
    assert not re.search(r"</strong>\s*<strong", html)
    w.store.close()


def received_bodies(world: World, cfg: Config, smtp: Any) -> tuple[str, str]:
    """The text and HTML of the one message the SMTP server received from a digest run."""
    run_digest(cfg, world.store, now=NOW)
    [msg] = smtp.messages
    text, html = bodies(msg.message)
    return text.replace("\r\n", "\n"), html.replace("\r\n", "\n")


def test_a_story_without_a_headline_is_headed_by_its_first_sentence(tmp_path: Path, smtp: Any) -> None:
    w = World(tmp_path / "nw.db")
    w.add(
        "globalwire",
        "",
        "U.S. analysts said China and Russia opened a joint Arctic laboratory. It will employ 40 people.",
        matches={"china-russia-st": 3.0},
    )
    w.add(
        "vestnik",
        "https://vestnik.example/2026/11/19/centr.html",
        "Россия и Китай создадут совместный центр. Соглашение подписано в пятницу.",
        matches={"china-russia-st": 2.0},
        language="ru",
    )
    untitled = w.add(
        "huaxia",
        "www.huaxia.example/a/1",
        "中俄科技合作论坛在北京举行。双方签署了协议。",
        matches={"china-russia-st": 1.5},
        language="zh",
    )
    w.add("globalwire", "China, Russia hold science forum in Beijing", story=w.story(untitled), language="zh")
    text, html = received_bodies(w, config(w.store.path, smtp.port), smtp)
    assert "1. U.S. analysts said China and Russia opened a joint Arctic laboratory.\n" in text
    assert "2. Россия и Китай создадут совместный центр.\n" in text
    assert "3. China, Russia hold science forum in Beijing\n" in text  # a copy's headline
    assert re.search(
        r'<a href="https://vestnik.example/news/2"[^>]*>Россия и Китай создадут совместный центр.</a>', html
    )
    assert not re.search(r"^\d+\. (https?://|www\.)", text, re.M)
    w.store.close()


def test_the_footer_names_the_topics_and_how_to_change_or_stop_them(tmp_path: Path, smtp: Any) -> None:
    w = World(tmp_path / "nw.db")
    fill(w)
    cfg = config(w.store.path, smtp.port)
    cfg = replace(cfg, smtp=replace(cfg.smtp, sender="Newswatch desk <desk@example.org>"))
    text, html = received_bodies(w, cfg, smtp)
    footer = " ".join(text.rsplit("\n-- \n", 1)[1].split())
    assert footer.startswith("Sent by newswatch to analyst@example.org for topics: China–Russia science & technology.")
    assert "china-russia-st" not in footer
    assert "To change these topics or stop these messages, write to desk@example.org (it" in footer
    assert "[[digest.recipients]]" in footer
    assert 'write to <a href="mailto:desk@example.org"' in html and "China–Russia science &amp; technology." in html

    smtp.messages.clear()  # without a sender to write to (the default, at localhost), the way is still said
    w.add("globalwire", "China and Russia sign a new accord", matches={"china-russia-st": 3.0})
    text, _html = received_bodies(w, config(w.store.path, smtp.port), smtp)
    assert "To change these topics or stop these messages, ask whoever runs newswatch for you" in " ".join(text.split())
    w.store.close()


def test_an_alert_says_how_to_change_or_stop_alerts(tmp_path: Path, smtp: Any) -> None:
    w = World(tmp_path / "nw.db")
    w.add("globalwire", "China and Russia open a joint laboratory", matches={"china-russia-st": 9.0}, hours_ago=1)
    cfg = config(w.store.path, smtp.port)
    cfg = replace(
        cfg,
        smtp=replace(cfg.smtp, sender="desk@example.org"),
        topics=tuple(replace(t, alert_score=5.0) for t in cfg.topics),
    )
    send_alerts(cfg, w.store, now=NOW)
    [msg] = smtp.messages
    text, html = bodies(msg.message)
    assert "To change these topics or stop these messages, write to desk@example.org" in " ".join(text.split())
    assert 'href="mailto:desk@example.org"' in html
    w.store.close()


def columns(line: str) -> int:
    """How many terminal columns a line takes: a Chinese character two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)


def test_the_text_part_fits_a_terminal_in_every_language(tmp_path: Path, smtp: Any) -> None:
    w = World(tmp_path / "nw.db")
    fill(w)
    w.add(
        "vestnik",
        "Российские и китайские фармкомпании разработают препараты против редких генетических заболеваний "
        "и создадут общую лабораторию в Санкт-Петербурге",
        "Российские и китайские учёные договорились о совместной разработке препаратов. " * 4,
        matches={"china-russia-st": 2.5},
        language="ru",
    )
    text, _html = received_bodies(w, config(w.store.path, smtp.port), smtp)
    for line in text.splitlines():
        if "://" not in line:  # a link is never broken
            assert columns(line) <= 76, line
    zh = re.split(r"\n\d+\. 中俄科技合作论坛在北京举行\n", text)[1].split("\n\n", 1)[0].splitlines()[2:]
    assert len(zh) > 1 and all(line.startswith("   ") for line in zh)
    assert "".join(line.strip() for line in zh).startswith("*中俄*科技合作论坛11日在北京举行，*中国*和*俄罗斯*的科学家")
    assert not any(line.strip()[0] in "，。、" for line in zh)  # no line starts with closing punctuation
    assert re.search(
        r"\n\d\. Российские и китайские фармкомпании разработают препараты против редких\n   генетических", text
    )
    w.store.close()


def test_a_full_digest_stays_under_the_size_gmail_cuts_and_says_what_it_shortened(tmp_path: Path, smtp: Any) -> None:
    # Gmail shows a message's HTML up to about 102 kB and hides the rest behind "[Message clipped]":
    # a digest of 100 stories was 150 kB, so its Chinese stories, held count and footer went unseen.
    w = World(tmp_path / "nw.db")
    texts = {
        "en": "Researchers from the Russian Academy of Sciences and the Harbin Institute of Technology opened a "
        "joint laboratory in Novosibirsk on Wednesday to develop steels and composites for the Arctic. " * 3,
        "ru": "Российские и китайские учёные договорились о совместной разработке препаратов для лечения редких "
        "генетических заболеваний. Стороны создадут общую лабораторию в Санкт-Петербурге. " * 3,
        "zh": "中俄科技合作论坛11日在北京举行，中国和俄罗斯的科学家讨论了人工智能与新材料领域的合作。"
        "双方签署了12项合作协议，涉及联合实验室建设、人才联合培养和技术成果转化。" * 3,
    }
    sources = {"en": "globalwire", "ru": "vestnik", "zh": "huaxia"}
    for i in range(100):
        lang = ("en", "ru", "zh")[i % 3]
        w.add(
            sources[lang],
            f"China and Russia: story number {i} of a long day",
            texts[lang],
            matches={"china-russia-st": 1.0 + i / 10},
            language=lang,
            url=f"https://{sources[lang]}.example/2026/11/19/a-long-slug-for-the-article-number-{i}.html",
        )
    text, html = received_bodies(w, config(w.store.path, smtp.port), smtp)
    assert len(html.encode("utf-8")) < 100_000
    for i in range(100):  # every story is there, linked
        assert f"a-long-slug-for-the-article-number-{i}.html" in html
    assert "ask whoever runs newswatch" in html  # the end is not cut
    briefed = int(re.search(r"The (\d+) lowest-scoring stories are shown without their snippets", html)[1])
    assert 0 < briefed < 100, briefed
    cards = re.findall(
        r"number-(\d+)\.html\" style=\"color:#1d4ed8;text-decoration:none;\">(.*?)</td></tr>", html, re.S
    )
    with_snippet = {int(n) for n, card in cards if '<strong style="background-color:#fef08a' in card}
    assert with_snippet == set(range(briefed, 100))  # the best keep theirs
    assert text.count("*Russian*") + text.count("*Российские*") + text.count("*中俄*") >= 90  # the text part has all
    w.store.close()


def test_a_digest_too_long_even_without_snippets_leaves_its_lowest_scoring_stories_to_the_text_part(
    tmp_path: Path, smtp: Any
) -> None:
    # 200 stories without any snippet were still about 130 kB of HTML: Gmail hid the last of them, the
    # held count, the sources in trouble and the closing lines, though every snippet had been given up
    w = World(tmp_path / "nw.db")
    sources = {"en": "globalwire", "ru": "vestnik", "zh": "huaxia"}
    titles = {
        "en": "China and Russia: story number {i} of a long day of joint research and engineering news",
        "ru": "Россия и Китай: новость номер {i} длинного дня совместных исследований и разработок",
        "zh": "中俄科技合作：漫长一天中的第{i}条联合研究新闻",
    }
    for i in range(200):
        lang = ("en", "ru", "zh")[i % 3]
        w.add(
            sources[lang],
            titles[lang].format(i=i),
            matches={"china-russia-st": 1.0 + i / 100},
            language=lang,
            url=f"https://{sources[lang]}.example/2026/11/19/a-long-slug-for-the-article-number-{i}.html",
        )
    w.store.update_source("vestnik", failing_since="2025-03-01T00:00:00+00:00", failures=40, last_error="HTTP 503")
    text, html = received_bodies(w, config(w.store.path, smtp.port, max_stories=200), smtp)
    assert len(html.encode("utf-8")) < 100_000
    assert "ask whoever runs newswatch" in html and "Sources in trouble" in html  # the end is not cut
    note = re.search(r"The (\d+) lowest-scoring stories are left out here and the next (\d+) shown without", html)
    omitted, briefed = int(note[1]), int(note[2])
    assert 0 < omitted < 200 and omitted + briefed == 200, note[0]
    shown = {int(n) for n in re.findall(r"a-long-slug-for-the-article-number-(\d+)\.html", html)}
    assert shown == set(range(omitted, 200))  # the best are there, the lowest-scoring left out
    left_out = re.findall(r"and (\d+) more stor(?:y|ies) with lower scores, only in the plain-text version", html)
    assert len(left_out) == 3 and sum(map(int, left_out)) == omitted  # each language says how many it lacks
    for i in range(200):  # the text part has them all
        assert f"a-long-slug-for-the-article-number-{i}.html" in text
    w.store.close()


def test_a_too_long_digest_shortens_each_topic_by_its_own_scores(tmp_path: Path, smtp: Any) -> None:
    # topics score on scales of their own (a rule topic's hits, a model's 0-10): ordered by score across
    # them, every story of the lower-scale topic lost its snippet, then its place, before any of the other's
    w = World(tmp_path / "nw.db")
    text = "Researchers from the Russian Academy of Sciences and the Harbin Institute of Technology opened a joint "
    for i in range(200):
        topic, score = ("rule", 1.0 + i / 100) if i % 2 else ("model", 6.0 + i / 100)
        w.add(
            "globalwire",
            f"China and Russia: story number {i} of a long day of joint research and engineering news",
            text * 4,
            matches={topic: score},
            url=f"https://globalwire.example/2026/11/19/a-long-slug-for-the-article-number-{i}.html",
        )
    cfg = config(w.store.path, smtp.port, max_stories=200)
    cfg = replace(cfg, topics=(replace(cfg.topics[0], name="model"), replace(cfg.topics[0], name="rule", title="")))
    text, html = received_bodies(w, cfg, smtp)
    assert len(html.encode("utf-8")) < 100_000
    shown = {int(n) for n in re.findall(r"a-long-slug-for-the-article-number-(\d+)\.html", html)}
    assert len(shown) < 200 and re.search(r"The \d+ lowest-scoring stories of their topics are left out here", html)
    kept = {"model": sorted(i for i in shown if i % 2 == 0), "rule": sorted(i for i in shown if i % 2)}
    assert kept["rule"] and abs(len(kept["model"]) - len(kept["rule"])) <= 2, kept  # in proportion to their sizes
    for topic, ids in kept.items():  # each keeps its best
        assert ids == [i for i in range(200) if i % 2 == (topic == "rule")][-len(ids) :], topic
    w.store.close()


def test_a_story_known_only_from_its_feed_says_so(tmp_path: Path, smtp: Any) -> None:
    # its link is a page that failed (a 500, a timeout) or gave no article text (a wall, all script): the reader
    # should know the text is the feed's summary, and not be told the page was never fetched
    w = World(tmp_path / "nw.db")
    w.add("globalwire", "China and Russia launch a joint course", matches={"china-russia-st": 3.0}, text_from="feed")
    w.add("vestnik", "Россия и Китай создадут центр", matches={"china-russia-st": 2.0}, language="ru")
    text, html = received_bodies(w, config(w.store.path, smtp.port), smtp)
    meta = "globalwire · 12 Mar 2025 · English · score 3.0 · feed summary only (no article text from its page)"
    assert meta + " https://globalwire.example/news/1" in " ".join(text.split())
    assert text.count("feed summary") == 1
    assert html.count("&middot; feed summary only (no article text from its page)") == 1
    w.store.close()
