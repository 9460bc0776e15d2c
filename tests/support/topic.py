"""The hand-written rule topic (fixtures/topics/rule-topic.toml, the default before the learned model)
with the shipped config's named sets, loaded and compiled once per test process. The tests of the query
language's constructs (entities, PARTNERS, sets) run it; the shipped model topic has its own tests."""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path

from crawler.config import TopicConfig, parse_config
from crawler.topics import Query, compile_query

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config" / "newswatch.toml"
RULE_TOPIC = ROOT / "fixtures" / "topics" / "rule-topic.toml"


@functools.cache
def rule_topic_config() -> TopicConfig:
    """The rule topic as the shipped config's sets define it."""
    data = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    data["topics"] = tomllib.loads(RULE_TOPIC.read_text(encoding="utf-8"))["topics"]
    data.pop("digest", None)  # its recipients name the shipped topic
    return parse_config(data, base=CONFIG.parent).topics[0]


@functools.cache
def rule_topic() -> tuple[str, float]:
    """The rule topic's query (with the definitions of the named sets it uses) and min_score."""
    t = rule_topic_config()
    return t.query, t.min_score


@functools.cache
def rule_query() -> Query:
    """The rule topic's query, compiled once for the tests that only match articles with it."""
    return compile_query(rule_topic()[0])


def matches_rules(title: str, text: str) -> bool:
    """Whether the rule topic takes the article: matched, at or above its min_score."""
    m = rule_query().match(title, text)
    return m is not None and m.score >= rule_topic()[1]


def topics_train(cfg: Path, files: list[Path], out: Path, *args: str) -> tuple[int, str]:
    """``newswatch -c CFG topics train FILES... -o OUT ARGS...`` in this process: its exit code and output."""
    from click.testing import CliRunner

    from scheduler.cli import cli

    result = CliRunner().invoke(cli, ["-c", str(cfg), "topics", "train", *map(str, files), "-o", str(out), *args])
    return result.exit_code, result.output


def model_data(features: list[dict[str, object]], **fields: object) -> dict[str, object]:
    """A small model file's contents for topic ``t`` (English, bias -1, p >= 0.5), with ``features`` and any
    other top-level field given (``languages``, ``threshold``, ``encoder``, ``sentences``...)."""
    return {
        "format": "newswatch-topic-model",
        "version": 1,
        "topic": "t",
        "inputs": {"body": "binary"},
        "bias": -1.0,
        "languages": {"en": 0.5},
        "threshold": {"p": 0.5, "fitted_at": 0.5, "by_language": {}},
        "features": features,
        "training": {"date": "2026-01-02T03:04:05+00:00"},
        **fields,
    }
