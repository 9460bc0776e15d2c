"""The shipped default topic, loaded and compiled once per test process."""

from __future__ import annotations

import functools
from pathlib import Path

from crawler.config import load_config
from crawler.topics import Query, compile_query

CONFIG = Path(__file__).resolve().parents[2] / "config" / "newswatch.toml"


@functools.cache
def default_topic() -> tuple[str, float]:
    """The shipped topic's query (with the definitions of the named sets it uses) and min_score."""
    t = load_config(CONFIG).topics[0]
    return t.query, t.min_score


@functools.cache
def default_query() -> Query:
    """The shipped topic's query, compiled once for the tests that only match articles with it."""
    return compile_query(default_topic()[0])


def matches_default(title: str, text: str) -> bool:
    """Whether the shipped topic takes the article: matched, at or above its min_score."""
    m = default_query().match(title, text)
    return m is not None and m.score >= default_topic()[1]
