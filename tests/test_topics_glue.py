"""GLUE( ... ): connector words that place other terms match and score as before, but are not evidence: not
listed among a match's hits nor highlighted in snippets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawler.config import load_config
from crawler.errors import QuerySyntaxError
from crawler.model import bind, fingerprint
from crawler.process import match_topics
from crawler.topics import compile_query, prepare, snippet, unglued
from tests.support.configs import config_problems
from tests.support.topic import CONFIG

ROOT = Path(__file__).resolve().parents[1]

TEXT = "Scientists of China and Russia opened a laboratory in Harbin."


def _seed() -> dict:
    return next(
        json.loads(line)
        for line in (ROOT / "fixtures" / "topics" / "labeled.jsonl").read_text(encoding="utf-8").splitlines()
        if json.loads(line)["kind"].startswith("seed")
    )


def test_a_glued_word_still_places_the_others_but_is_not_a_hit() -> None:
    glued = compile_query("China NEAR/2 (GLUE(and) NEAR/0 Russia)")
    plain = compile_query("China NEAR/2 (and NEAR/0 Russia)")
    g, p = glued.match("", TEXT), plain.match("", TEXT)
    assert g is not None and p is not None
    assert g.score == p.score
    assert p.hits == ("China", "and", "Russia") and g.hits == ("China", "Russia")
    assert len(p.spans) == 3 and set(g.spans) == set(p.spans) - {("text", 20, 23)}
    assert [s for s, hit in snippet(TEXT, g) if hit] == ["China", "Russia"]
    # still needed to match: without "and" right before Russia, no match
    assert glued.match("", "Scientists of China, Russia opened a laboratory.") is None


def test_a_glued_set_scores_as_the_same_words_would_and_evidence_elsewhere_is_still_shown() -> None:
    sets = {"coordinator": "GLUE(and OR и OR 和)"}
    q = "(China NEAR/2 (@coordinator NEAR/0 Russia)) AND (laboratory OR and)"
    g = compile_query(q, sets).match("", TEXT)
    p = compile_query(q, {"coordinator": "and OR и OR 和"}).match("", TEXT)
    assert g is not None and p is not None and g.score == p.score
    assert g.hits == p.hits and "and" in g.hits and g.spans == p.spans  # "and" is evidence in the second part


def test_the_seed_article_does_not_list_connector_words_among_its_hits() -> None:
    config = load_config(CONFIG)
    r = _seed()
    ((_, score, hits),) = match_topics(r["title"], r["text"], config.topics, "en")
    assert "and" not in hits and not {"at", "on", "in", "и", "в", "на", "和", "在"} & set(hits)
    assert {'"Chinese and Russian"', "bilateral"} <= set(hits)  # a phrase holding a connector is shown whole
    # the same model with the connector sets unglued: the same score, and "and" among the hits
    (topic,) = [t for t in config.topics if t.model is not None]
    sets = {name: unglued(text) for name, text in config.sets}
    assert sets["coordinator"] != dict(config.sets)["coordinator"]
    plain = bind(topic.model, sets).scorer().score(prepare(r["title"], r["text"]), "en")
    assert plain.score == score and "and" in plain.match.hits


def test_glue_does_not_change_a_model_feature_fingerprint() -> None:
    sets = {"c": "GLUE(and OR и)", "s": "@c NEAR/0 Russia"}
    assert fingerprint("PARTNERS(China, @s, GLUE(with))", sets) == fingerprint(
        "PARTNERS(China, @s, with)", {"c": "and OR и", "s": "@c NEAR/0 Russia"}
    )
    assert fingerprint("@s", sets) != fingerprint("@s", {"c": "and OR или", "s": "@c NEAR/0 Russia"})


@pytest.mark.parametrize("query", ["GLUE(country:CN) NEAR/0 Russia", "GLUE(PARTNERS(China, Russia, science))"])
def test_glue_takes_no_entities(query: str) -> None:
    with pytest.raises(QuerySyntaxError, match=r"GLUE\( \.\.\. \) takes terms"):
        compile_query(query)


def test_check_names_the_set_that_glues_an_entity(tmp_path: Path) -> None:
    problems = config_problems(
        tmp_path, '[sets]\nside = "GLUE(country:RU)"\n[[topics]]\nname = "t"\nquery = "China NEAR/2 @side"\n'
    )
    assert any(p.startswith("sets.side") and "GLUE( ... ) takes terms" in p for p in problems)
