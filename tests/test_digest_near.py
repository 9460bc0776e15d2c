"""A digest's near misses: stories a topic with a near_score scored in [near_score, min_score) that match none of the
recipient's topics, listed after the matches and sent once, against a real SQLite file and a real SMTP server."""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from crawler.config import Config, DigestConfig, StorageConfig, TopicConfig
from crawler.matching import sync_topics
from crawler.process import score_topics
from scheduler import ledger
from scheduler.cli import cli
from scheduler.digest import NEAR_MISSES, due_count, run_digest, send_alerts
from tests.support.articles import article_record
from tests.support.configs import config_problems, mail_config
from tests.test_digest import NOW, World, bodies, config_for, killed_digest, received, unmarked

NEAR = {"china-russia-st": 0.5, "energy": 1.0}  # min_score 1.0 and 2.0 (config_for)
SECTION = "== Near misses ("


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path / "newswatch.db")
    yield w
    w.store.close()


def near_config(db: Path, port: int | None, near: dict[str, float] = NEAR, **digest: Any) -> Config:
    cfg = config_for(db, port, **digest)
    return dataclasses.replace(
        cfg, topics=tuple(dataclasses.replace(t, near_score=near.get(t.name)) for t in cfg.topics)
    )


def add(
    world: World,
    source: str,
    title: str,
    *,
    matches: dict[str, float] | None = None,
    near: dict[str, float] | None = None,
    **more: Any,
) -> int:
    """An article with its matches and near misses, as a crawl stores them."""
    more.setdefault("text", "China and Russia agreed to widen cooperation.")  # the headline once in a message
    aid = world.add(source, title, **more)
    hits = ("china", "russia")
    world.store.set_matches(
        aid, [(t, s, hits) for t, s in (matches or {}).items()], [(t, s, hits) for t, s in (near or {}).items()]
    )
    return aid


def near_part(text: str) -> str:
    assert SECTION in text
    return text[text.index(SECTION) :]


def test_near_misses_follow_the_matches_best_first_with_score_and_topic(world: World, smtp: Any) -> None:
    add(world, "tass-en", "MATCH China and Russia open a lab", matches={"china-russia-st": 3.0})
    add(world, "rg", "NEAR weaker science story", near={"china-russia-st": 0.8})
    add(world, "cgtn", "NEAR reactor story", near={"energy": 1.5})
    add(world, "tass-en", "NEAR weakest story", near={"china-russia-st": 0.6})
    add(world, "tass-en", "BELOW the band", near={"china-russia-st": 0.4})  # under near_score 0.5
    add(world, "tass-en", "OLD near miss", near={"china-russia-st": 0.9}, hours_ago=8 * 24)  # past max_age
    cfg = near_config(world.store.path, smtp.port)

    [r] = run_digest(cfg, world.store, now=NOW).results

    assert (r.status, r.stories, r.near, r.near_held) == ("sent", 1, 3, 0)
    [msg] = smtp.messages
    assert msg.message["Subject"] == "newswatch: 1 new story (12 Mar 2025)"  # the matches alone
    text, html = bodies(msg.message)
    assert text.index("MATCH China and Russia") < text.index(SECTION)
    part = near_part(text)
    # their count by the section's name, as a topic's is: after "min_score" it read as min_score's value
    assert "== Near misses (3): scored below min_score ==" in part and "min_score (3)" not in part
    assert part.index("NEAR reactor story") < part.index("NEAR weaker science") < part.index("NEAR weakest")
    assert "score 1.5 for energy" in part and "score 0.8 for china-russia-st" in part
    assert "BELOW" not in text and "OLD near miss" not in text
    plain = unmarked(html)
    assert "Near misses: scored below min_score" in plain
    assert plain.index("MATCH China and Russia") < plain.index("Near misses: scored") < plain.index("NEAR reactor")
    assert plain.index("NEAR reactor story") < plain.index("NEAR weaker science") < plain.index("NEAR weakest")
    assert "score 1.5 for energy" in plain and "BELOW" not in plain


def test_a_near_miss_is_sent_once_and_never_again_nor_when_it_later_matches(world: World, smtp: Any) -> None:
    first = add(world, "rg", "NEAR lunar cooperation talk", near={"china-russia-st": 0.7})
    cfg = near_config(world.store.path, smtp.port)
    rec = cfg.digest.recipients[0]
    assert due_count(cfg, world.store, rec, NOW) == 0  # a near miss is no match
    [r] = run_digest(cfg, world.store, now=NOW).results
    assert (r.status, r.stories, r.near) == ("sent", 0, 1)
    text, _ = bodies(smtp.messages[0].message)
    assert "No new matches since the last digest; 1 near miss below." in text
    assert ledger.sent_stories(world.store, rec.email) == {world.story(first)}

    assert run_digest(cfg, world.store, now=NOW + timedelta(hours=1)).results[0].status == "empty"
    # a later copy at another outlet, and then a query change that makes the story a match: sent already
    add(world, "cgtn", "Lunar cooperation talk, a copy", near={"china-russia-st": 0.9}, story=world.story(first))
    world.store.set_matches(first, [("china-russia-st", 4.0, ("lunar",))])
    assert run_digest(cfg, world.store, now=NOW + timedelta(hours=2)).results[0].status == "empty"
    assert len(smtp.messages) == 1


def test_a_match_for_one_topic_and_a_near_miss_for_another_is_listed_once_as_a_match(world: World, smtp: Any) -> None:
    both = add(world, "tass-en", "BOTH reactor deal", matches={"china-russia-st": 2.0}, near={"energy": 1.8})
    # the near miss on one copy, the match on another: still one story, a match
    copy = add(world, "tass-en", "COPIES reactor pact", near={"china-russia-st": 0.9})
    add(world, "cgtn", "COPIES reactor pact, again", matches={"energy": 2.5}, story=world.story(copy))
    cfg = near_config(world.store.path, smtp.port)
    [r] = run_digest(cfg, world.store, now=NOW).results
    assert (r.stories, r.near) == (2, 0)
    text, html = bodies(smtp.messages[0].message)
    assert SECTION not in text and "Near misses" not in html
    assert text.count("BOTH reactor deal") == 1 and text.count("COPIES reactor pact") == 1
    assert ledger.sent_stories(world.store, "analyst@example.org") == {world.story(both), world.story(copy)}


def test_a_match_for_a_topic_the_recipient_does_not_follow_leaves_a_near_miss_for_theirs(
    world: World, smtp: Any
) -> None:
    add(world, "cgtn", "SHARED reactor story", matches={"energy": 3.0}, near={"china-russia-st": 0.7})
    cfg = near_config(
        world.store.path,
        smtp.port,
        recipients=[
            {"email": "st@example.org", "topics": ["china-russia-st"]},
            {"email": "energy@example.org", "topics": ["energy"]},
        ],
    )
    results = run_digest(cfg, world.store, now=NOW).results
    assert [(r.email, r.stories, r.near) for r in results] == [("st@example.org", 0, 1), ("energy@example.org", 1, 0)]
    assert "SHARED reactor story" in near_part(bodies(received(smtp, "st@example.org")[0])[0])
    assert SECTION not in bodies(received(smtp, "energy@example.org")[0])[0]


def test_at_most_twenty_near_misses_a_digest_the_rest_counted_and_due(world: World, smtp: Any) -> None:
    for i in range(NEAR_MISSES + 5):
        add(world, "tass-en", f"NEAR story number {i:02d}", near={"china-russia-st": 0.5 + i / 100})
    cfg = near_config(world.store.path, smtp.port)
    [r] = run_digest(cfg, world.store, now=NOW).results
    assert (r.near, r.near_held) == (NEAR_MISSES, 5)
    text, html = bodies(smtp.messages[0].message)
    assert "NEAR story number 24" in text and "NEAR story number 05" in text and "number 04" not in text
    assert "...and 5 more near misses, held for the next digest." in text
    assert "and 5 more near misses, held for the next digest." in html
    [r2] = run_digest(cfg, world.store, now=NOW + timedelta(hours=1)).results
    assert (r2.near, r2.near_held) == (5, 0)
    text2, _ = bodies(smtp.messages[1].message)
    assert "number 04" in text2 and "number 00" in text2 and "number 05" not in text2


def test_a_near_miss_shows_its_other_outlets_and_is_never_alerted(world: World, smtp: Any) -> None:
    face = add(world, "tass-en", "NEAR lunar rover", near={"china-russia-st": 0.9})
    world.add("cgtn", "Lunar rover, copy", story=world.story(face), url="https://cgtn.example/rover")
    cfg = dataclasses.replace(
        near_config(world.store.path, smtp.port),
        topics=tuple(
            dataclasses.replace(t, near_score=0.5, alert_score=0.6) if t.name == "china-russia-st" else t
            for t in near_config(world.store.path, smtp.port).topics
        ),
    )
    assert send_alerts(cfg, world.store, now=NOW) == [] and smtp.messages == []
    run_digest(cfg, world.store, now=NOW)
    text, html = bodies(smtp.messages[0].message)
    assert "Also reported by: cgtn <https://cgtn.example/rover>" in near_part(text)
    assert '<a href="https://cgtn.example/rover"' in html


def test_dry_run_lists_the_near_misses(world: World, smtp: Any) -> None:
    add(world, "tass-en", "MATCH China and Russia", matches={"china-russia-st": 3.0})
    add(world, "rg", "NEAR science story", near={"china-russia-st": 0.7}, language="ru")
    cfg = near_config(world.store.path, smtp.port)
    [r] = run_digest(cfg, world.store, now=NOW, dry_run=True).results
    assert (r.status, r.stories, r.near) == ("dry-run", 1, 1)
    assert r.lines[-1] == "[near miss, china-russia-st, score 0.7] NEAR science story (rg, Russian)"
    assert smtp.messages == [] and ledger.messages(world.store) == []


def test_the_cli_digest_scores_stored_articles_and_sends_their_near_misses(
    world: World, smtp: Any, tmp_path: Path
) -> None:
    # a rule topic: "lunar" in the headline scores 1.1 (a match), in the text alone 0.6 (a near miss above 0.5)
    world.add("tass-en", "Lunar station plans", "Scientists plan a research station.")
    world.add("rg", "Budget passed", "The council met. A lunar eclipse was seen.")
    world.add("cgtn", "Ferry timetable", "The river ferries run again.")
    conf = tmp_path / "newswatch.toml"
    conf.write_text(
        f'[storage]\ndatabase = "{world.store.path}"\n'
        '[[topics]]\nname = "space"\ntitle = "Space"\nquery = "lunar"\nmin_score = 1.0\nnear_score = 0.5\n'
        + mail_config(smtp.port),
        encoding="utf-8",
    )
    dry = CliRunner().invoke(cli, ["-c", str(conf), "digest", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "analyst@example.org: would send 1 story and 1 near miss (dry run)" in dry.output
    assert "  - [near miss, Space, score 0.6] Budget passed (rg, English)" in dry.output
    sent = CliRunner().invoke(cli, ["-c", str(conf), "digest"])
    assert sent.exit_code == 0, sent.output
    assert sent.output == "analyst@example.org: sent 1 story and 1 near miss\n"
    text, _ = bodies(smtp.messages[0].message)
    assert "Lunar station plans" in text and "score 0.6 for Space" in near_part(text) and "Ferry" not in text
    again = CliRunner().invoke(cli, ["-c", str(conf), "digest"])
    assert again.output == "analyst@example.org: nothing new to send\n" and len(smtp.messages) == 1


def test_nothing_changes_without_near_score(world: World, smtp: Any) -> None:
    # rows a crawl would not store without the key: even so, a digest without it lists none
    add(world, "rg", "NEAR science story", near={"china-russia-st": 0.7})
    cfg = config_for(world.store.path, smtp.port)
    assert all(t.near_score is None for t in cfg.topics)
    [r] = run_digest(cfg, world.store, now=NOW).results
    assert (r.status, r.near) == ("empty", 0) and smtp.messages == []
    topic = TopicConfig("space", "lunar", min_score=1.0)
    assert score_topics("Budget", "The council met. A lunar eclipse was seen.", (topic,), "en") == (
        (),
        (),
    )  # scored 0.6: no match, and no near miss without a near_score


def test_check_refuses_a_near_score_not_below_min_score(tmp_path: Path) -> None:
    for near in ("2.0", "3.5"):
        problems = config_problems(
            tmp_path, f'[[topics]]\nname = "t"\nquery = "lunar"\nmin_score = 2.0\nnear_score = {near}\n'
        )
        assert problems == [
            f"topics[0] (t).near_score: {float(near):g} is not below min_score 2: a near miss scores at least"
            " near_score and less than min_score; lower it or remove it"
        ]
    cfg = tmp_path / "ok.toml"
    cfg.write_text(
        '[storage]\ndatabase = "nw.db"\n[[topics]]\nname = "t"\nquery = "lunar"\nmin_score = 2.0\nnear_score = 1.5\n',
        encoding="utf-8",
    )
    assert CliRunner().invoke(cli, ["-c", str(cfg), "check"]).exit_code == 0


def test_stored_near_misses_follow_the_topic_and_stay_out_of_matches(tmp_path: Path) -> None:
    from crawler.store import Store

    store = Store(tmp_path / "nw.db")
    match = store.add_article(
        article_record(1, "Lunar station", "Scientists plan a lunar research station.")
    ).article_id
    near = store.add_article(article_record(2, "Budget", "The council met. A lunar eclipse was seen.")).article_id
    base = Config(path=None, storage=StorageConfig(tmp_path / "nw.db"), digest=DigestConfig(max_age=7 * 86400))

    def rows(table: str) -> list[tuple[int, float]]:
        return [(r["article_id"], r["score"]) for r in store.query(f"SELECT article_id, score FROM {table} ORDER BY 1")]

    sync_topics(dataclasses.replace(base, topics=(TopicConfig("space", "lunar", min_score=1.0),)), store)
    assert rows("matches") == [(match, 1.1)] and rows("_near_misses") == []
    # adding near_score re-matches: the near miss is stored apart, the matches stay as they were
    with_near = dataclasses.replace(base, topics=(TopicConfig("space", "lunar", min_score=1.0, near_score=0.5),))
    assert sync_topics(with_near, store) == 2
    assert rows("matches") == [(match, 1.1)] and rows("_near_misses") == [(near, 0.6)]
    assert [r["id"] for r in store.iter_export(matched=True)] == [match]
    # a near_score above its score drops it; the topic's removal drops its near misses too
    sync_topics(
        dataclasses.replace(base, topics=(TopicConfig("space", "lunar", min_score=1.0, near_score=0.7),)), store
    )
    assert rows("_near_misses") == []
    sync_topics(with_near, store)
    assert rows("_near_misses") == [(near, 0.6)]
    sync_topics(dataclasses.replace(base, topics=(TopicConfig("energy", "reactor"),)), store)
    assert rows("_near_misses") == [] and rows("matches") == []
    store.close()


def test_a_kill_between_the_250_and_its_record_resends_the_near_misses_once_under_the_same_message_id(
    world: World, smtp: Any
) -> None:
    add(world, "rg", "NEAR joint observatory plan", near={"china-russia-st": 0.7})
    topic = 'name = "china-russia-st"\nquery = "china"\nnear_score = 0.5'
    message_id = killed_digest(world.store.path, smtp.port, topic, sends=True)
    assert message_id.startswith("<newswatch.digest.") and len(smtp.messages) == 1
    assert ledger.sent_stories(world.store, "analyst@example.org") == set()  # the 250 was never recorded

    cfg = near_config(world.store.path, smtp.port, near={"china-russia-st": 0.5})
    out = run_digest(cfg, world.store, now=NOW + timedelta(minutes=1))
    assert out.results[0].status == "sent" and out.results[0].message_id == message_id
    assert run_digest(cfg, world.store, now=NOW + timedelta(hours=1)).results[0].status == "empty"
    assert run_digest(cfg, world.store, now=NOW + timedelta(days=1)).results[0].status == "empty"
    messages: list[EmailMessage] = [m.message for m in smtp.messages]
    assert [m["Message-ID"] for m in messages] == [message_id, message_id]  # the one window: a resend, recognisable
    assert all("NEAR joint observatory plan" in near_part(bodies(m)[0]) for m in messages)


def test_search_near_lists_a_topics_near_misses_over_the_archive(world: World, tmp_path: Path) -> None:
    def stored(n: int, title: str, text: str) -> int:
        return world.store.add_article(article_record(n, title, text, indexed=True)).article_id

    stored(1, "Lunar station plans", "Scientists plan a research station.")  # 1.1: a match
    stored(2, "Budget passed", "The council met. A lunar eclipse was seen.")  # 0.6: a near miss
    copy = stored(3, "Ferry timetable", "The ferries run again. A lunar eclipse delayed one.")
    world.join(stored(4, "Lunar eclipse delays a ferry", "A ferry waited."), world.story(copy))  # its copy: a match
    stored(5, "Harbour news", "Boats. Many boats. More boats and a lunar calendar of tides.")
    conf = tmp_path / "newswatch.toml"
    topics = '[[topics]]\nname = "space"\nquery = "lunar"\nmin_score = 1.0\nnear_score = 0.5\n'
    conf.write_text(f'[storage]\ndatabase = "{world.store.path}"\n{topics}', encoding="utf-8")

    out = CliRunner().invoke(cli, ["-c", str(conf), "search", "--topic", "space", "--near", "--json"])
    assert out.exit_code == 0, out.output
    import json

    found = [(r["title"], round(r["score"], 1)) for r in json.loads(out.output)]
    assert found == [("Budget passed", 0.6), ("Harbour news", 0.6)] or found == [
        ("Harbour news", 0.6),
        ("Budget passed", 0.6),
    ]
    matches = CliRunner().invoke(cli, ["-c", str(conf), "search", "--topic", "space", "--json"])
    assert {r["title"] for r in json.loads(matches.output)} == {"Lunar station plans", "Lunar eclipse delays a ferry"}

    # none in the band: the line says what was looked for, not "no matches" (there are matches)
    conf.write_text(conf.read_text(encoding="utf-8").replace("near_score = 0.5", "near_score = 0.9"), encoding="utf-8")
    none = CliRunner().invoke(cli, ["-c", str(conf), "search", "--topic", "space", "--near"])
    assert none.exit_code == 0, none.output
    assert none.output == "no near misses (scores 0.9 to below 1 for space) among 5 stored articles\n"
    # the line names the topic the search took, looked up once: a name typed decomposed (Ё as Е and a combining
    # diaeresis) was found for the search, then not for the line ('error: unexpected StopIteration', exit 1)
    luna = topics.replace('"space"', '"луна-Ё"').replace("0.5", "0.9")
    conf.write_text(conf.read_text(encoding="utf-8") + luna, encoding="utf-8")
    decomposed = unicodedata.normalize("NFD", "луна-Ё")
    none = CliRunner().invoke(cli, ["-c", str(conf), "search", "--topic", decomposed, "--near"])
    assert none.exit_code == 0, none.output
    assert none.output == "no near misses (scores 0.9 to below 1 for луна-Ё) among 5 stored articles\n"
    conf.write_text(conf.read_text(encoding="utf-8").replace(luna, ""), encoding="utf-8")

    conf.write_text(conf.read_text(encoding="utf-8").replace("near_score = 0.9\n", ""), encoding="utf-8")
    refused = CliRunner().invoke(cli, ["-c", str(conf), "search", "--topic", "space", "--near"])
    assert refused.exit_code == 2 and "the topic space has no near_score" in refused.output
    alone = CliRunner().invoke(cli, ["-c", str(conf), "search", "lunar", "--near"])
    assert alone.exit_code == 2 and "give --topic NAME with it" in alone.output


def subjects(smtp: Any) -> list[str]:
    return [str(m.message["Subject"]) for m in smtp.messages]


def test_a_digest_of_near_misses_alone_says_so_in_its_subject(world: World, smtp: Any) -> None:
    """'newswatch: 0 new stories' read as nothing to open: the subject's "{count} new stories" says the near misses
    when the message carries nothing else, with the same plural rule; matches keep the subject as it was."""
    default = {"subject": "newswatch: {count} new stories"}
    add(world, "rg", "NEAR science story", near={"china-russia-st": 0.7})
    add(world, "cgtn", "NEAR reactor story", near={"energy": 1.5})
    cfg = near_config(world.store.path, smtp.port, **default)
    run_digest(cfg, world.store, now=NOW)
    add(world, "rg", "NEAR lone story", near={"china-russia-st": 0.8})
    run_digest(cfg, world.store, now=NOW + timedelta(hours=1))
    add(world, "tass-en", "MATCH China and Russia", matches={"china-russia-st": 3.0})
    add(world, "rg", "NEAR story beside a match", near={"china-russia-st": 0.8})
    run_digest(cfg, world.store, now=NOW + timedelta(hours=2))
    assert subjects(smtp) == ["newswatch: 2 near misses", "newswatch: 1 near miss", "newswatch: 1 new story"]
    # {topics} of a digest of near misses alone: theirs, as a digest's matches name their own
    topics = near_config(world.store.path, smtp.port, subject="{topics}: {count} new stories")
    add(world, "cgtn", "NEAR second reactor story", near={"energy": 1.6})
    run_digest(topics, world.store, now=NOW + timedelta(hours=3))
    assert subjects(smtp)[-1] == "energy: 1 near miss"
    # send_empty with nothing at all is still "0 new stories": nothing is hidden behind it
    empty = near_config(world.store.path, smtp.port, send_empty=True, **default)
    run_digest(empty, world.store, now=NOW + timedelta(hours=4))
    assert subjects(smtp)[-1] == "newswatch: 0 new stories"


@pytest.mark.parametrize(
    ("subject", "alone", "beside"),
    [
        # {near} written in the subject: the user's words, each count in its own place
        (
            "newswatch: {count} new stories, {near} near misses",
            "newswatch: 0 new stories, 1 near miss",
            "newswatch: 1 new story, 2 near misses",
        ),
        ("{near} near misses and {count} stories", "1 near miss and 0 stories", "2 near misses and 1 story"),
        # a {count} of other words: the near misses after it
        ("[{topics}] {count} matches", "[china-russia-st] 0 matches, 1 near miss", "[china-russia-st] 1 matches"),
        ("newswatch {count:d} on {date}", "newswatch 0 on 12 Mar 2025, 1 near miss", "newswatch 1 on 12 Mar 2025"),
        # no count at all: nothing in it reads as empty
        ("newswatch digest, {date}", "newswatch digest, 12 Mar 2025", "newswatch digest, 12 Mar 2025"),
    ],
)
def test_a_configured_subject_says_the_near_misses_as_written(
    world: World, smtp: Any, subject: str, alone: str, beside: str
) -> None:
    cfg = near_config(world.store.path, smtp.port, subject=subject)
    add(world, "rg", "NEAR science story", near={"china-russia-st": 0.7})
    run_digest(cfg, world.store, now=NOW)
    add(world, "tass-en", "MATCH China and Russia", matches={"china-russia-st": 3.0})
    add(world, "rg", "NEAR second story", near={"china-russia-st": 0.8})
    add(world, "rg", "NEAR third story", near={"china-russia-st": 0.9})
    run_digest(cfg, world.store, now=NOW + timedelta(hours=1))
    assert subjects(smtp) == [alone, beside]


def test_dry_run_and_check_know_the_near_placeholder(world: World, smtp: Any, tmp_path: Path) -> None:
    world.add("rg", "Budget passed", "The council met. A lunar eclipse was seen.")  # 0.6: a near miss alone
    conf = tmp_path / "newswatch.toml"
    conf.write_text(
        f'[storage]\ndatabase = "{world.store.path}"\n'
        '[[topics]]\nname = "space"\nquery = "lunar"\nmin_score = 1.0\nnear_score = 0.5\n' + mail_config(smtp.port),
        encoding="utf-8",
    )
    dry = CliRunner().invoke(cli, ["-c", str(conf), "digest", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "  subject: newswatch: 1 near miss\n" in dry.output
    text = conf.read_text(encoding="utf-8").replace("[digest]\n", '[digest]\nsubject = "{count} + {near} ({date})"\n')
    conf.write_text(text, encoding="utf-8")
    assert CliRunner().invoke(cli, ["-c", str(conf), "check"]).exit_code == 0
    dry = CliRunner().invoke(cli, ["-c", str(conf), "digest", "--dry-run"])
    assert "  subject: 0 + 1 (" in dry.output, dry.output
    assert smtp.messages == []
    problems = config_problems(tmp_path, '[digest]\nsubject = "{count} and {nearby}"\n')
    assert problems == [
        "digest.subject: has the placeholder {'nearby'}; use {count}, {near}, {topics} or {date} (write {{ and }}"
        " for literal braces)"
    ]
