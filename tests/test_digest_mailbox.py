"""The digest as a mail client and a mail admin see it: the headers a filter rule or an unsubscribe
button reads, the subject in the inbox, and headlines that show what matched."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from crawler.config import DigestConfig
from crawler.errors import ConfigError
from scheduler.digest import run_digest, send_alerts
from tests.test_digest import NOW, World, bodies, config_for, received


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path / "newswatch.db")
    yield w
    w.store.close()


# -- List-Id, List-Unsubscribe and List-Help (RFC 2919, RFC 2369) ---------------------------------


def test_a_configured_contact_gives_list_unsubscribe_and_help_and_the_footer(world: World, smtp: Any) -> None:
    world.add("tass-en", "Breaking: China and Russia sign a space treaty", matches={"china-russia-st": 7.0})
    world.add("tass-en", "Routine China-Russia note", matches={"china-russia-st": 2.0})
    cfg = config_for(world.store.path, smtp.port, alert_score=5.0, contact="mailto:ops@example.org")
    assert cfg.digest is not None and cfg.digest.contact == "ops@example.org"

    assert send_alerts(cfg, world.store, now=NOW)[0].status == "sent"
    assert run_digest(cfg, world.store, now=NOW + timedelta(hours=1)).results[0].status == "sent"

    alert, digest = received(smtp, "analyst@example.org")
    for msg in (alert, digest):
        assert (
            msg["List-Unsubscribe"] == "<mailto:ops@example.org?subject=newswatch%20unsubscribe%20analyst@example.org>"
        )
        assert msg["List-Help"] == "<mailto:ops@example.org?subject=newswatch%20help>"
        text, html = bodies(msg)
        # the person named in the headers is the one the closing lines name, not the sender's mailbox
        assert "write to ops@example.org" in " ".join(text.split()) and "alerts@example.org" not in text
        assert 'href="mailto:ops@example.org"' in html
    assert digest["List-Id"] == "newswatch digests <digest.newswatch.example.org>"
    assert alert["List-Id"] == "newswatch alerts <alert.newswatch.example.org>"


def test_no_list_unsubscribe_without_a_contact(world: World, smtp: Any) -> None:
    # the sender (alerts@example.org) may be a mailbox nobody reads: an unsubscribe button writing
    # there would seem to work and change nothing
    world.add("tass-en", "China and Russia open a joint lab", matches={"china-russia-st": 3.0})
    run_digest(config_for(world.store.path, smtp.port), world.store, now=NOW)
    [msg] = received(smtp, "analyst@example.org")
    assert msg["List-Id"] and msg["List-Unsubscribe"] is None and msg["List-Help"] is None
    assert "write to alerts@example.org" in " ".join(bodies(msg)[0].split())  # as before


def test_an_international_contact_is_an_ascii_mailto(world: World, smtp: Any) -> None:
    world.add("tass-en", "China and Russia open a joint lab", matches={"china-russia-st": 3.0})
    run_digest(config_for(world.store.path, smtp.port, contact="o+ps@пример.рф"), world.store, now=NOW)
    [msg] = received(smtp, "analyst@example.org")
    assert msg["List-Unsubscribe"].startswith("<mailto:o+ps@xn--e1afmkfd.xn--p1ai?subject=")


@pytest.mark.parametrize(
    "bad",
    [
        "ops",
        "https://example.org/unsubscribe",
        "mailto:ops@example.org?subject=stop",
        "Ops Desk <ops@example.org>",
        "ops@example.org, boss@example.org",
        "",
        # each read by the mail parser as ops@example.org, but was kept as written, into the mailto: URL
        "ops @example.org",
        "ops@example.org,",
        "mailto:mailto:ops@example.org",
    ],
)
def test_a_contact_that_is_not_one_address_is_a_config_error(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ConfigError) as exc:
        config_for(tmp_path / "nw.db", contact=bad)
    (problem,) = exc.value.problems
    assert problem.startswith("digest.contact: ") and 'like "ops@example.org"' in problem, problem


def test_a_contact_in_angle_brackets_is_the_address_inside(world: World, smtp: Any) -> None:
    # as List-Unsubscribe itself writes it; kept with its brackets, the button wrote to "%3Cops@example.org%3E"
    world.add("tass-en", "China and Russia open a joint lab", matches={"china-russia-st": 3.0})
    cfg = config_for(world.store.path, smtp.port, contact="<ops@example.org>")
    assert cfg.digest is not None and cfg.digest.contact == "ops@example.org"
    run_digest(cfg, world.store, now=NOW)
    [msg] = received(smtp, "analyst@example.org")
    assert msg["List-Unsubscribe"].startswith("<mailto:ops@example.org?subject=")
    assert "write to ops@example.org" in " ".join(bodies(msg)[0].split())


def test_contact_is_a_known_key_of_the_shipped_config_comments() -> None:
    from scheduler.data import data_path

    shipped = data_path("config", "newswatch.toml").read_text(encoding="utf-8")
    assert '# contact = "mailto:' in shipped  # documented where an operator edits the digest


# -- the subject in the inbox --------------------------------------------------------------------


def test_the_default_subject_counts_one_story_as_one(world: World, smtp: Any) -> None:
    cfg = config_for(world.store.path, smtp.port)
    cfg = replace(cfg, digest=replace(cfg.digest, subject=DigestConfig().subject))  # the default, as shipped
    world.add("tass-en", "China and Russia open a joint lab", matches={"china-russia-st": 3.0})
    run_digest(cfg, world.store, now=NOW)
    world.add("tass-en", "China and Russia open a second lab", matches={"china-russia-st": 3.0}, hours_ago=1)
    world.add("tass-en", "China and Russia open a third lab", matches={"china-russia-st": 3.0}, hours_ago=1)
    run_digest(cfg, world.store, now=NOW + timedelta(days=1))
    assert [m["Subject"] for m in received(smtp, "analyst@example.org")] == [
        "newswatch: 1 new story",
        "newswatch: 2 new stories",
    ]


def test_the_date_in_a_subject_is_the_digests_day_where_it_is_read(world: World, smtp: Any) -> None:
    # 04:00 UTC on 12 March is still 11 March in California: two digests a day apart differ
    world.add("tass-en", "China and Russia open a joint lab", matches={"china-russia-st": 3.0})
    cfg = config_for(
        world.store.path, smtp.port, timezone="America/Los_Angeles", subject="{count} new stories, {date} ({topics})"
    )
    run_digest(cfg, world.store, now=NOW)
    [msg] = received(smtp, "analyst@example.org")
    assert msg["Subject"] == "1 new story, 11 Mar 2025 (china-russia-st)"
    # literal braces stay literal, not a count to make singular
    cfg = replace(cfg, digest=replace(cfg.digest, subject="{{count}} new stories: {count}"))
    world.add("tass-en", "China and Russia open a second lab", matches={"china-russia-st": 3.0}, hours_ago=1)
    run_digest(cfg, world.store, now=NOW + timedelta(days=1))
    assert received(smtp, "analyst@example.org")[1]["Subject"] == "{count} new stories: 1"


# -- headlines show what matched --------------------------------------------------------------

MARK = '<span style="background-color:#fef08a;">'


def headline_html(html: str, url: str) -> str:
    """The inner HTML of the story's headline link."""
    start = html.index(f'<a href="{url}" style="color:#1d4ed8;text-decoration:none;">')
    return html[html.index(">", start) + 1 : html.index("</a>", start)]


def test_headlines_mark_the_matched_terms_in_html_and_stay_plain_in_text(world: World, tmp_path: Path) -> None:
    world.add("tass-en", "Russia and China open a joint lab in Kazan", matches={"china-russia-st": 3.0})
    world.add(
        "rg",
        "Россия и Китай создадут совместный центр",
        "Россия и Китай создадут совместный научный центр.",
        matches={"china-russia-st": 2.0},
        language="ru",
    )
    world.add(
        "cgtn",
        "中俄科技合作论坛在北京举行",
        "中俄科技合作论坛在北京举行。",
        matches={"china-russia-st": 1.5},
        language="zh",
    )
    text, html = digest_bodies(world, tmp_path)
    assert headline_html(html, "https://tass-en.example/news/1") == (
        f"{MARK}Russia</span> and {MARK}China</span> open a joint lab in Kazan"
    )
    assert headline_html(html, "https://rg.example/news/2") == (
        f"{MARK}Россия</span> и {MARK}Китай</span> создадут совместный центр"
    )
    assert headline_html(html, "https://cgtn.example/news/3") == f"{MARK}中俄</span>科技合作论坛在北京举行"
    # the plain-text part: headlines as written, the snippets alone marked
    assert "1. Russia and China open a joint lab in Kazan\n" in text
    assert "2. Россия и Китай создадут совместный центр\n" in text
    assert "3. 中俄科技合作论坛在北京举行\n" in text


def test_a_hostile_headline_is_escaped_inside_and_outside_its_marks(world: World, tmp_path: Path) -> None:
    world.add(
        "tass-en",
        'China<script>alert(1)</script> & "Russia" <img src=x onerror=alert(2)>',
        matches={"china-russia-st": 3.0},
    )
    _text, html = digest_bodies(world, tmp_path)
    inner = headline_html(html, "https://tass-en.example/news/1")
    assert "<script" not in html and "<img" not in html
    assert inner == (
        f"{MARK}China</span>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;{MARK}Russia</span>&#34; "
        "&lt;img src=x onerror=alert(2)&gt;"
    ), inner


def test_a_long_headline_cut_short_keeps_its_marks_and_a_copys_headline_has_none(world: World, tmp_path: Path) -> None:
    long_title = "Russia and China " + "agree on many more things " * 14 + "in the end China"
    world.add("tass-en", long_title, matches={"china-russia-st": 3.0})
    # the face's title is only its URL: the headline is a copy's, whose hits were not matched
    face = world.add("rg", "https://rg.example/news/2", "China and Russia.", matches={"china-russia-st": 2.0})
    world.add("cgtn", "China and Russia sign a treaty", story=world.story(face))
    _text, html = digest_bodies(world, tmp_path)
    inner = headline_html(html, "https://tass-en.example/news/1")
    assert inner.startswith(f"{MARK}Russia</span> and {MARK}China</span> agree") and inner.endswith("\u2026")
    assert inner.count(MARK) == 2  # the China past the cut is not shown, nor marked
    assert headline_html(html, "https://rg.example/news/2") == "China and Russia sign a treaty"


def digest_bodies(world: World, tmp_path: Path) -> tuple[str, str]:
    out = tmp_path / "d.eml"
    run_digest(config_for(world.store.path), world.store, now=NOW, output=out)
    return bodies(email.message_from_bytes(out.read_bytes(), policy=email.policy.default))


# -- Chinese paragraphs ---------------------------------------------------------------------------


def test_chinese_paragraphs_joined_in_a_snippet_leave_no_gap_after_their_punctuation(
    world: World, tmp_path: Path
) -> None:
    world.add(
        "cgtn",
        "中俄 科技合作论坛在北京举行",  # a space between a headline's words is the writer's: it stays
        "中俄科技合作论坛在北京举行，代表围绕氢能展开交流。\n\n论坛期间，中国和俄罗斯签署了协议。\n「合作很顺利」\n他说。",
        matches={"china-russia-st": 3.0},
        language="zh",
    )
    world.add(
        "tass-en", "China and Russia sign", "“We agree.” The talks in Moscow ended.", matches={"china-russia-st": 2.0}
    )
    text, html = digest_bodies(world, tmp_path)
    flat = re.sub(r"\n +", "", text)  # the filled lines joined again
    assert "交流。论坛期间" in flat and "协议。「合作很顺利」他说。" in flat
    assert "交流。论坛期间" in html and "。 " not in html and "」 " not in html
    assert "中俄 科技合作论坛在北京举行" in text
    assert "agree.” The talks" in text  # English keeps its space


def test_a_chinese_snippet_is_cut_between_clauses_not_inside_a_word(world: World, tmp_path: Path) -> None:
    # no spaces to cut at: the snippet ended wherever its width ran out ('…俄罗…')
    clause = "哈尔滨工业大学与托木斯克理工大学宣布，"
    world.add(
        "cgtn",
        "中俄科技合作论坛在北京举行",
        "中俄科技合作论坛在北京举行。" + clause * 12,
        matches={"china-russia-st": 3.0},
        language="zh",
    )
    text, html = digest_bodies(world, tmp_path)
    flat = re.sub(r"\n +", "", text)
    snippet = flat[flat.index("*中俄*") :].split("\n")[0]
    assert snippet.endswith("理工大学宣布…"), snippet  # the clause's end, its comma given up for the '…'
    assert "理工大学宣布…</div>" in html


def test_english_curly_quotes_side_by_side_keep_their_space() -> None:
    from scheduler.compose import clean_line

    # the curly quotes are English ones too: only a CJK neighbour makes their gap a stray one
    assert clean_line("Putin called it “big” “bold” news") == "Putin called it “big” “bold” news"
    assert clean_line("交流。\n\n“合作”") == "交流。“合作”" and clean_line("他说：“好。”\n然后") == "他说：“好。”然后"


def test_a_chinese_text_ending_in_its_own_ellipsis_is_not_cut_back(world: World, tmp_path: Path) -> None:
    # Chinese writes its ellipsis '……': at the end of a text shown whole it is no cut, and its last clause stays
    world.add(
        "cgtn",
        "中俄科技合作论坛在北京举行",
        "中俄科技合作论坛在北京举行，双方表示未来可期……",
        matches={"china-russia-st": 3.0},
        language="zh",
    )
    text, html = digest_bodies(world, tmp_path)
    flat = re.sub(r"\n +", "", text)
    assert "双方表示未来可期……" in flat, flat
    assert "双方表示未来可期……</div>" in html
