"""bench/topics_dump.py, which tells whether a change to matching left every result the same."""

from __future__ import annotations

import sys
from pathlib import Path

from crawler.config import load_config
from crawler.evaluate import Story
from crawler.topics import prepare

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import topics_dump  # noqa: E402

TEXT = (
    "Russian and Chinese scientists signed an agreement on joint research in materials science. "
    "The Russian Academy of Sciences and the Chinese Academy of Sciences will open a laboratory in Novosibirsk."
)


def test_a_model_topics_results_hold_each_contribution_to_its_score() -> None:
    topic = load_config(ROOT / "config" / "newswatch.toml").topics[0]
    assert topic.model is not None
    story = Story("s1", "en", "China and Russia open a joint materials laboratory", TEXT, True)
    rows = topics_dump.results(topic, prepare(story.title, story.text), "file.jsonl", story)
    assert [r["spans_asked"] for r in rows] == [True, False]
    expected = topic.model.scorer().score(prepare(story.title, story.text), "en").contributions
    assert expected and any(what.startswith("PARTNERS(") for what, _ in expected)
    for row in rows:
        # every term with its value as computed, not the score alone: a feature's input that changed while the
        # score rounded the same is a different result
        assert row["contributions"] == [[what, value] for what, value in expected]
        assert row["score"] == round(10 * topic.model.scorer().score(prepare(story.title, story.text), "en").p, 3)


def test_a_story_the_gate_stops_has_no_contributions() -> None:
    topic = load_config(ROOT / "config" / "newswatch.toml").topics[0]
    story = Story("s2", "en", "Weather in Paris", "Rain is expected in Paris on Monday.", False)
    rows = topics_dump.results(topic, prepare(story.title, story.text), "file.jsonl", story)
    assert rows == [{"file": "file.jsonl", "id": "s2", "topic": topic.name, "spans_asked": s} for s in (True, False)]
