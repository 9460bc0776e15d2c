"""A model's sentence inputs: how much of a story each kind of sentence is (share, log count, title, first)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.config import load_config
from crawler.model import ModelError, fingerprint, parse_model
from crawler.process import match_topics
from scheduler.cli import cli
from tests.test_model import _config, _feature, _model, _problems

KINDS = {"sci": "@science", "coop": "@coop", "sport": "@sport"}


def _inputs(*inputs: tuple[str, list[list[str]], list[str], str, float]) -> dict:
    return {
        "kinds": KINDS,
        "inputs": [{"name": n, "all": a, "none": no, "measure": m, "weight": w} for n, a, no, m, w in inputs],
    }


def test_sentence_inputs_add_how_much_of_the_story_each_kind_of_sentence_is(tmp_path: Path) -> None:
    sentences = _inputs(
        ("science together", [["sci"], ["coop"]], [], "share", 2.0),
        ("sport, not science", [["sport"]], ["sci"], "log", -1.0),
        ("science headline", [["sci"]], [], "title", 1.0),
        ("opens on sport", [["sport"]], ["sci"], "first", -3.0),
    )
    _model(tmp_path, [_feature("@science", any_=0.5)], bias=-2.0, sentences=sentences)
    (t,) = load_config(_config(tmp_path, 'query = "@coop"\nmodel = "m.json"\nmin_score = 0.1')).topics
    text = "Scientists work together. They did research. The football club won. Sport and research again."
    ((_name, score, hits),) = match_topics("Science news", text, (t,), "en")
    # 4 sentences: the 1st holds science and coop (share 1/4), the 3rd sport and no science (log(1 + 1)); the title
    # holds science; the first sentence is not sport. Bias -2, en 0.5, @science anywhere 0.5.
    z = -2.0 + 0.5 + 0.5 + 2.0 * 0.25 - math.log(2) + 1.0
    assert score == pytest.approx(10 / (1 + math.exp(-z)), abs=1e-3)
    assert set(hits) == {"scien*", "research*"}  # hits are still the features'
    # the same story opening on sport scores lower by the first-sentence input, and its coop sentence is another
    ((_n, lower, _h),) = match_topics("Science news", "The football club won. " + text, (t,), "en")
    z2 = -2.0 + 0.5 + 0.5 + 2.0 * 0.2 - math.log(3) + 1.0 - 3.0
    assert lower == pytest.approx(10 / (1 + math.exp(-z2)), abs=1e-3)
    scored = t.model.scorer()  # type: ignore[union-attr]
    from crawler.topics import prepare

    assert "science together (sentences) +0.5" in scored.score(prepare("Science news", text), "en").explain(8)


def test_a_model_without_sentence_inputs_keeps_its_digest_and_one_with_them_has_another() -> None:
    data = {"format": "newswatch-topic-model", "version": 1, "bias": -1.0, "features": [_feature("@science", 1.0)]}
    plain = parse_model(data, "m.json")
    assert parse_model({**data, "sentences": {}}, "m.json").digest == plain.digest
    with_input = parse_model({**data, "sentences": _inputs(("s", [["sci"]], [], "share", 1.0))}, "m.json")
    assert with_input.digest != plain.digest and with_input.sentence_inputs[0].measure == "share"
    other = parse_model({**data, "sentences": _inputs(("s", [["sci"]], [], "share", 1.5))}, "m.json")
    assert other.digest != with_input.digest


@pytest.mark.parametrize(
    ("sentences", "said"),
    [
        (_inputs(("s", [["nope"]], [], "share", 1.0)), "sentences.inputs[0] names the kind 'nope'"),
        (_inputs(("s", [["sci"]], [], "most", 1.0)), "sentences.inputs[0].measure must be one of share, log"),
        (_inputs(("s", [], [], "share", 1.0)), "sentences.inputs[0].all must be a list of lists of kind names"),
        ({"kinds": {"sci": ""}}, "sentences.kinds.sci must be a query expression"),
        (
            {"kinds": KINDS, "inputs": [{"all": [["sci"]], "measure": "share", "within": 2500, "weight": 1.0}]},
            "sentences.inputs[0].within must be a whole number of characters (0 or more) and only with measure log",
        ),
        (
            {"kinds": KINDS, "inputs": [{"all": [["sci"]], "measure": "log", "within": -1, "weight": 1.0}]},
            "sentences.inputs[0].within must be a whole number",
        ),
        (
            {"kinds": KINDS, "inputs": [{"all": [["sci"]], "measure": "log", "within": 2.5, "weight": 1.0}]},
            "sentences.inputs[0].within must be a whole number",
        ),
    ],
)
def test_a_broken_sentence_input_is_named(sentences: dict, said: str) -> None:
    data = {"format": "newswatch-topic-model", "version": 1, "bias": -1.0, "features": [], "sentences": sentences}
    with pytest.raises(ModelError) as exc:
        parse_model(data, "m.json")
    assert said in str(exc.value)


def test_a_sentence_kind_is_checked_against_the_sets_as_a_feature_is(tmp_path: Path) -> None:
    sentences = {"kinds": {"phys": "@physics"}, "inputs": [{"all": [["phys"]], "measure": "share", "weight": 1.0}]}
    _model(tmp_path, [_feature("@science", any_=1.0)], sentences=sentences)
    (p,) = _problems(_config(tmp_path, 'query = "@coop"\nmodel = "m.json"'))
    assert p.startswith("topics[0] (t).model: sentence kind 'phys' (@physics)") and "unknown set @physics" in p
    # a kind whose set changed since training is stale, as a feature is
    old = fingerprint("@science", {"science": "scien*"})
    sentences = {
        "kinds": {"sci": "@science"},
        "fingerprints": {"sci": old},
        "inputs": [{"all": [["sci"]], "measure": "share", "weight": 1.0}],
    }
    _model(tmp_path, [_feature("@science", any_=1.0)], sentences=sentences)
    result = CliRunner().invoke(cli, ["-c", str(_config(tmp_path, 'query = "@coop"\nmodel = "m.json"')), "check"])
    assert result.exit_code == 0 and "the sets of 1 feature(s) changed" in result.output


def test_a_positive_sentence_input_narrows_the_search_by_its_kinds_unless_they_have_no_fts_form(tmp_path: Path) -> None:
    kinds = {**KINDS, "cn": "country:CN"}  # a country's entities have no FTS form
    cases = [  # (measure, all, weight): must the search's FTS hold sport? None: no narrowing at all
        ("log", [["sport"]], 1.0, True),  # log has no bound: one of its kinds must hit
        ("log", [["cn"]], 1.0, None),  # ... and when none has an FTS form, nothing can be excluded
        ("log", [["cn"], ["sport"]], 1.0, True),  # a kind of each group must hit: the group with an FTS form says
        ("share", [["sport"]], 1.0, False),  # at most 1: the bias -3, en 0.5 and 1 cannot reach 5 without @science
        ("share", [["sport"]], 3.0, True),  # 3 could
    ]
    for measure, groups, weight, sport in cases:
        sentences = {"kinds": kinds, "inputs": [{"name": "s", "all": groups, "measure": measure, "weight": weight}]}
        _model(tmp_path, [_feature("@science", any_=4.0)], bias=-3.0, sentences=sentences)
        (t,) = load_config(_config(tmp_path, 'query = "@coop"\nmodel = "m.json"')).topics
        fts = t.model.scorer().fts(t.min_score)  # type: ignore[union-attr]
        case = (measure, groups, weight, fts)
        if sport is None:
            assert fts is None, case
        else:
            assert fts is not None and "scien" in fts and ("sport" in fts) == sport, case


def test_a_windowed_log_input_reads_a_long_article_as_its_excerpt(tmp_path: Path) -> None:
    """A log input counts sentences, so it grew with the article's length: the same story three times over scored
    higher. With ``within`` it counts only the sentences that start within the text's first characters."""
    windowed = {"name": "sci", "all": [["sci"]], "none": [], "measure": "log", "within": 50, "weight": 1.0}
    plain = {**windowed, "within": 0}
    story = "Scientists did research. The club won. Research again."  # 54 characters, two science sentences
    scores = {}
    for name, x in (("windowed", windowed), ("plain", plain)):
        folder = tmp_path / name
        folder.mkdir()
        _model(folder, [], bias=-2.0, sentences={"kinds": KINDS, "inputs": [x]})
        (t,) = load_config(_config(folder, 'query = "@science"\nmodel = "m.json"\nmin_score = 0.1')).topics
        scores[name] = [match_topics("News", " ".join([story] * k), (t,), "en")[0][1] for k in (1, 3)]
    # once: both count the two science sentences; three times over, the plain input counts six, the windowed two
    # (sentences start at characters 0, 25, 39, then 55, past the window of 50)
    p = lambda z: round(10 / (1 + math.exp(-z)), 3)  # noqa: E731
    assert scores["plain"] == [
        pytest.approx(p(-1.5 + math.log(3)), abs=1e-3),
        pytest.approx(p(-1.5 + math.log(7)), abs=1e-3),
    ]
    assert scores["windowed"] == [scores["plain"][0], scores["plain"][0]]


def test_a_window_changes_the_digest_and_no_window_keeps_it() -> None:
    data = {"format": "newswatch-topic-model", "version": 1, "bias": -1.0, "features": [_feature("@science", 1.0)]}
    x = {"name": "s", "all": [["sci"]], "none": [], "measure": "log", "weight": 1.0}
    plain = parse_model({**data, "sentences": {"kinds": KINDS, "inputs": [x]}}, "m.json")
    zero = parse_model({**data, "sentences": {"kinds": KINDS, "inputs": [{**x, "within": 0}]}}, "m.json")
    windowed = parse_model({**data, "sentences": {"kinds": KINDS, "inputs": [{**x, "within": 2500}]}}, "m.json")
    assert zero.digest == plain.digest and windowed.digest != plain.digest
    assert windowed.sentence_inputs[0].within == 2500 and plain.sentence_inputs[0].within == 0


def test_a_model_with_text_chars_reads_the_first_part_of_a_long_article_and_its_gate_the_whole(tmp_path: Path) -> None:
    """Its labeled stories were excerpts: a long article read whole fired features its excerpt did not."""
    inputs = {"body": "binary", "text_chars": 40}
    _model(tmp_path, [_feature("@science", any_=2.0), _feature("@sport", any_=-2.0)], bias=-1.0, inputs=inputs)
    (t,) = load_config(_config(tmp_path, 'query = "@coop"\nmodel = "m.json"\nmin_score = 0.1')).topics
    p = lambda z: round(10 / (1 + math.exp(-z)), 3)  # noqa: E731
    opening = "Scientists did research together."  # 33 characters: the part the model reads holds it
    ((_n, score, hits),) = match_topics("News", opening + " The football club won the cup.", (t,), "en")
    assert score == pytest.approx(p(-1.0 + 0.5 + 2.0), abs=1e-3)  # the sport past character 40 is not read
    assert set(hits) == {"scien*", "research*"}
    # the gate (@coop) reads the whole article: a story naming cooperation only past the part still passes it
    ((_n, late, _h),) = match_topics(
        "News", "The club won the cup on a rainy day in May. They worked together.", (t,), "en"
    )
    assert late == pytest.approx(p(-1.0 + 0.5), abs=1e-3)
    assert not match_topics("News", "The club won the cup on a rainy day in May.", (t,), "en")
    scorer = t.model.scorer()  # type: ignore[union-attr]
    from crawler.topics import prepare

    # the snippets' places are the article's: the hits the model read, in the first part
    text = opening + " " + "Research again. " * 5
    spans = scorer.score(prepare("News", text), "en").match.spans
    assert spans and all(b <= 40 and text[a:b].lower().startswith(("scien", "research")) for _f, a, b in spans)


def test_topics_eval_says_what_a_model_reading_a_part_read_of_a_long_story(tmp_path: Path) -> None:
    # a story whose science comes past the model's part was a miss explained by what the part held alone, the
    # gate's names from the whole story beside it, and nothing said the rest was never read
    import json

    _model(tmp_path, [_feature("@science", any_=4.0)], bias=-1.0, inputs={"body": "binary", "text_chars": 40})
    cfg = _config(tmp_path, 'query = "@coop"\nmodel = "m.json"\nmin_score = 5')
    late = "The club won the cup on a rainy day in May. Scientists did research together."
    early = "Scientists did research together. The club won the cup on a rainy day in May."
    stories = tmp_path / "s.jsonl"
    stories.write_text(
        "".join(json.dumps({"title": "News", "text": t, "language": "en", "label": 1}) + "\n" for t in (late, early)),
        encoding="utf-8",
    )
    out = CliRunner().invoke(cli, ["-c", str(cfg), "topics", "eval", str(stories)]).output
    assert f"(it read the title and the text's first 40 of {len(late)} characters)" in out, out
    as_json = CliRunner().invoke(cli, ["-c", str(cfg), "topics", "eval", str(stories), "--json"]).output
    assert "it read the title and the text's first 40 of" in as_json


def test_text_chars_changes_the_digest_and_a_broken_one_is_named() -> None:
    data = {"format": "newswatch-topic-model", "version": 1, "bias": -1.0, "features": [_feature("@science", 1.0)]}
    plain = parse_model(data, "m.json")
    assert parse_model({**data, "inputs": {"text_chars": 0}}, "m.json").digest == plain.digest
    part = parse_model({**data, "inputs": {"text_chars": 1500}}, "m.json")
    assert part.digest != plain.digest and part.text_chars == 1500 and plain.text_chars == 0
    for bad in (-1, 2.5, "1500", True):
        with pytest.raises(ModelError) as exc:
            parse_model({**data, "inputs": {"text_chars": bad}}, "m.json")
        assert "inputs.text_chars must be a whole number of characters" in str(exc.value)
