"""A topic's min_score, near_score and alert_score are refused outside what its scores can be, each in one problem
naming its key path and what the key takes (`newswatch check`: exit 2): a topic scores 0 or more (a rule topic by
where its terms hit, a model topic 10 x p, at most 10), so a near_score of 0 or below took every story the query
holds as a near miss (a model topic's sentence encoder reading each), and a min_score below 0 was 0."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.config import load_config
from scheduler.cli import cli
from tests.support.configs import config_problems

ROOT = Path(__file__).resolve().parents[1]
RULE = '[[topics]]\nname = "t"\nquery = "lunar"\nmin_score = 2.0\n'
HUGE = "1" + "0" * 400  # a TOML integer beyond a float: check said 'unexpected OverflowError'
NEAR_RANGE = "near_score must be above 0 and below min_score 2"
NOT_ABOVE_0 = (
    "is not above 0: every story the query holds scores 0 or more, so each one below min_score would be a near miss; "
    + NEAR_RANGE
)
NOT_BELOW = (
    "is not below min_score 2: a near miss scores at least near_score and less than min_score; lower it or remove it"
)


@pytest.mark.parametrize(
    ("near", "problem"),
    [
        ("0", f"0 {NOT_ABOVE_0}"),
        ("-0.0", f"-0 {NOT_ABOVE_0}"),
        ("-1", f"-1 {NOT_ABOVE_0}"),
        ("2.0", f"2 {NOT_BELOW}"),
        ("2", f"2 {NOT_BELOW}"),
        ("3.5", f"3.5 {NOT_BELOW}"),
        ("inf", f"inf is not a finite number; {NEAR_RANGE}"),
        ("-inf", f"-inf is not a finite number; {NEAR_RANGE}"),
        ("nan", f"nan is not a finite number; {NEAR_RANGE}"),
        (HUGE, f"{HUGE[:55]}…0000 is not a finite number; {NEAR_RANGE}"),
        ('"1.0"', "'1.0' is not a number"),
    ],
)
def test_a_near_score_outside_0_to_min_score_is_one_problem_saying_what_is_allowed(
    tmp_path: Path, near: str, problem: str
) -> None:
    assert config_problems(tmp_path, f"{RULE}near_score = {near}\n") == [f"topics[0] (t).near_score: {problem}"]


@pytest.mark.parametrize("near", ["0.001", "1", "1.999"])
def test_a_near_score_above_0_and_below_min_score_is_taken(tmp_path: Path, near: str) -> None:
    cfg = tmp_path / "newswatch.toml"
    cfg.write_text(f'[storage]\ndatabase = "nw.db"\n{RULE}near_score = {near}\n', encoding="utf-8")
    topic = load_config(cfg).topics[0]
    assert topic.near_score == float(near) and topic.floor == float(near) and topic.min_score == 2.0


MIN_RANGE = "min_score must be 0 or more (a rule topic scores 0 or more)"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (
            "-1",
            "-1 is below 0, the lowest score (a rule topic scores 0 or more): min_score must be 0 or more; 0 lets"
            " through every story the query holds",
        ),
        (
            "-0.5",
            "-0.5 is below 0, the lowest score (a rule topic scores 0 or more): min_score must be 0 or more; 0"
            " lets through every story the query holds",
        ),
        ("inf", f"inf is not a finite number; {MIN_RANGE}"),
        ("-inf", f"-inf is not a finite number; {MIN_RANGE}"),
        ("nan", f"nan is not a finite number; {MIN_RANGE}"),
        (f"-{HUGE}", f"-{HUGE[:54]}…0000 is not a finite number; {MIN_RANGE}"),
    ],
)
def test_a_min_score_below_0_is_one_problem_and_holds_no_other_key_to_it(
    tmp_path: Path, value: str, problem: str
) -> None:
    """One problem, the min_score's: a near_score or alert_score is not also refused for being compared with it."""
    topic = f'[[topics]]\nname = "t"\nquery = "lunar"\nmin_score = {value}\nnear_score = 3.0\nalert_score = 0.5\n'
    assert config_problems(tmp_path, topic) == [f"topics[0] (t).min_score: {problem}"]


@pytest.mark.parametrize("value", ["0", "-0.0", "0.0", "12"])
def test_a_rule_topic_takes_a_min_score_of_0_or_more(tmp_path: Path, value: str) -> None:
    """0 is every story the query holds (a rule topic scores 0 for a match with no counted term: NOT x)."""
    cfg = tmp_path / "newswatch.toml"
    cfg.write_text(f'[storage]\ndatabase = "nw.db"\n[[topics]]\nname = "t"\nquery = "NOT x"\nmin_score = {value}\n')
    assert load_config(cfg).topics[0].min_score == float(value)


def test_near_score_with_a_min_score_of_0_has_no_room(tmp_path: Path) -> None:
    topic = '[[topics]]\nname = "t"\nquery = "lunar"\nmin_score = 0\nnear_score = 0\n'
    assert config_problems(tmp_path, topic) == [
        "topics[0] (t).near_score: 0 is not above 0: every story the query holds scores 0 or more, so each one below"
        " min_score would be a near miss; near_score must be above 0 and below min_score 0"
    ]


def _model_topic(tmp_path: Path, keys: str) -> str:
    (tmp_path / "m.json").write_text(
        json.dumps(
            {
                "format": "newswatch-topic-model",
                "version": 1,
                "bias": -1.0,
                "languages": {"en": 0.5},
                "features": [{"expression": "lunar", "weights": {"any": 1.0, "title": 0, "lead": 0, "body": 0}}],
            }
        ),
        encoding="utf-8",
    )
    return f'[[topics]]\nname = "m"\nquery = "lunar"\nmodel = "m.json"\n{keys}'


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        (
            "min_score = -1\n",
            "min_score: -1 is below 0, the lowest score (a model topic scores 10 x p, 0 to 10):"
            " min_score must be 0 or more and at most 10; 0 lets through every story the query holds",
        ),
        (
            "min_score = inf\n",
            "min_score: inf is not a finite number; min_score must be 0 or more and at most 10"
            " (a model topic scores 10 x p, 0 to 10)",
        ),
        ("min_score = 10.5\n", "min_score: 10.5 is above 10, the highest score of a model topic (10 x p)"),
        (
            "near_score = 0\n",
            "near_score: 0 is not above 0: every story the query holds scores 0 or more, so each"
            " one below min_score would be a near miss; near_score must be above 0 and below min_score 5",
        ),
        (
            "near_score = 5\n",
            "near_score: 5 is not below min_score 5: a near miss scores at least near_score and"
            " less than min_score; lower it or remove it",
        ),
        (
            "alert_score = 11\n",
            "alert_score: 11 is above 10, the highest score of a model topic (10 x p): nothing"
            " would be alerted; lower it or remove it",
        ),
        ("alert_score = 4\n", "alert_score: 4 is below min_score 5; raise it or remove it"),
        ("alert_score = nan\n", "alert_score: nan is not a finite number; alert_score must be at least min_score 5"),
    ],
)
def test_a_model_topic_scores_from_0_to_10(tmp_path: Path, keys: str, problem: str) -> None:
    assert config_problems(tmp_path, _model_topic(tmp_path, keys)) == [f"topics[0] (m).{problem}"]


def test_a_model_topic_takes_the_scores_in_its_range(tmp_path: Path) -> None:
    cfg = tmp_path / "newswatch.toml"
    body = _model_topic(tmp_path, "min_score = 0.5\nnear_score = 0.1\nalert_score = 10\n")
    cfg.write_text(f'[storage]\ndatabase = "nw.db"\n{body}', encoding="utf-8")
    topic = load_config(cfg).topics[0]
    assert (topic.min_score, topic.near_score, topic.alert_score) == (0.5, 0.1, 10.0)


def test_check_refuses_the_default_topic_with_a_near_score_of_0_naming_its_encoder(tmp_path: Path) -> None:
    """The shipped config with near_score = 0: its model's sentence encoder would read every story the gate lets
    through (a floor of 0 cannot be missed). check says so in one line, exit 2."""
    shipped = (ROOT / "config" / "newswatch.toml").read_text(encoding="utf-8")
    assert shipped.count("\nnear_score = 3.0\n") == 1
    cfg = tmp_path / "newswatch.toml"
    cfg.write_text(shipped.replace("\nnear_score = 3.0\n", "\nnear_score = 0\n"), encoding="utf-8")
    result = CliRunner().invoke(cli, ["-c", str(cfg), "check"])
    assert result.exit_code == 2, result.output
    problems = [line for line in result.output.splitlines() if ".near_score:" in line]
    assert len(problems) == 1 and "(china-russia-st).near_score: 0 is not above 0:" in problems[0], result.output
    assert (
        "would be a near miss, its sentence encoder reading each; near_score must be above 0 and below" in (problems[0])
    )
    assert "Traceback" not in result.output


def test_a_rule_topics_near_score_is_its_own_scale_taken_without_a_warning_and_named_by_a_reload(
    tmp_path: Path,
) -> None:
    """near_score means the same on a rule topic: stories its query holds that score below min_score, on its scale
    (title 1.0, lead 0.6, body 0.3 per term): min_score 1.0, near_score 0.5 lists a term in the body alone. check
    takes it as it takes a model topic's (no warning), and a reload logs its change as any other setting's."""
    from crawler.process import score_topics
    from scheduler.changes import other_changes

    cfg = tmp_path / "newswatch.toml"
    source = '[[sources]]\nname = "a"\nurl = "https://news.example.net/rss"\n'  # none would be warned of
    cfg.write_text(
        f'[storage]\ndatabase = "nw.db"\n{source}{RULE.replace("2.0", "1.0")}near_score = 0.5\n', encoding="utf-8"
    )
    result = CliRunner().invoke(cli, ["-c", str(cfg), "check"])
    assert result.exit_code == 0 and ": OK — 1 source, 1 topic" in result.output, result.output
    assert len(result.output.splitlines()) == 1, result.output  # no warning
    old = load_config(cfg)
    topics = old.topics
    assert score_topics("Lunar station", "Scientists plan a station.", topics, "en")[0] == (("t", 1.0, ("lunar",)),)
    body = score_topics("Budget passed", "The council met. A lunar eclipse was seen.", topics, "en")
    assert body == ((), (("t", 0.6, ("lunar",)),))  # a near miss: the term in the body alone
    assert score_topics("Budget passed", "The council met.", topics, "en") == ((), ())
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("near_score = 0.5", "near_score = 0.8"), encoding="utf-8")
    assert other_changes(old, load_config(cfg)) == ["changed topic t (near_score 0.5 → 0.8)"]
