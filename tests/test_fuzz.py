"""Fuzzing the edges a user types into: config files, CLI option values and search queries.

The invariant everywhere: no traceback, exit code 0, 1 or 2, and a config that `check` accepts is
usable by the code that runs later (schedules, date arithmetic, the digest subject, time zones).
The budget is fixed (``max_examples`` per target, derandomized), so CI runs the same inputs each time;
the counts written here are the ``thorough`` profile's, the default run takes a share of them
(tests/support/fuzzbudget.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawler.config import Config, load_config
from scheduler.cli import cli
from scheduler.config_snapshot import dumps
from tests.support.fuzzbudget import examples

FUZZ = settings(
    max_examples=examples(100),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)

BASE: dict[str, Any] = {
    "storage": {"database": "nw.db"},
    "crawl": {"timeout": "30s", "concurrency": 4},
    "sources": [{"name": "wire", "url": "https://example.org/rss.xml", "every": "15m"}],
    "topics": [{"name": "t", "query": "china AND russia", "min_score": 1.0}],
    "digest": {
        "schedule": "0 7 * * *",
        "timezone": "Europe/Moscow",
        "subject": "newswatch: {count} new stories",
        "max_age": "7d",
        "recipients": [{"email": "analyst@example.org", "topics": ["t"]}],
    },
    "smtp": {"host": "localhost", "port": 587, "sender": "newswatch <alerts@example.org>", "timeout": "60s"},
}

# Every settable key, by table; the fuzzer also invents keys.
KEYS: dict[str, list[str]] = {
    "storage": ["database"],
    "crawl": ["user_agent", "obey_robots", "timeout", "max_page_size", "concurrency", "per_domain", "delay"],
    "sources": ["name", "kind", "url", "every", "window", "follow", "follow_css", "depth", "spider", "language"],
    "topics": ["name", "query", "min_score", "alert_score", "near_score"],
    "digest": ["schedule", "timezone", "send_empty", "subject", "max_age", "max_stories", "include_alerted"],
    "recipients": ["email", "topics"],
    "smtp": ["host", "port", "security", "username", "password_env", "password_file", "sender", "timeout"],
}

DURATION_KEYS = {"timeout", "delay", "every", "window", "max_age"}
durations = st.builds(
    lambda n, unit: f"{n}{unit}",
    st.one_of(
        st.integers(0, 10**30),
        st.sampled_from([1, 10**4, 10**6, 10**8, 10**12]),
        st.floats(0, 1e30, allow_nan=False).map(lambda f: f"{f:.3f}"),
    ),
    st.sampled_from(["ms", "s", "m", "h", "d", "w", "d", "w", "", "y"]),
)
texts = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=400),
    st.sampled_from(
        [
            "{count[0]}",
            "{count.real}",
            "{count:>99999}",
            "{",
            "}",
            "a@x, b@y",
            "Europe/Moscow",
            "../../etc/passwd",
            "\x00",
            "* * * * *",
            "61 25 * * *",
            "https://example.org/x",
            "http://h:99999/x",
            "(",
            '"',
            "NEAR/999999999",
            "a" * 1000,
        ]
    ),
)
scalars = st.one_of(
    texts,
    durations,
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
)


INT_KEYS = {"concurrency", "per_domain", "depth", "max_stories", "port"}
FLOAT_KEYS = {"min_score", "alert_score", "near_score"}
specials = st.sampled_from(
    [
        "{count[0]}",
        "{count.real}",
        "{count:>99999}",
        "{count!x}",
        "{",
        "a@x, b@y",
        "a@x b@y",
        "Europe/Moscow",
        "../../etc/passwd",
        "x\x00y",
        "A" * 300,
        "* * * * *",
        "61 25 * * *",
        "http://h:99999/x",
        "9999999999GB",
        "100000000d",
        "50000w",
        "9" * 400 + "s",
    ]
)


def _typed(key: str) -> st.SearchStrategy[Any]:
    if key in DURATION_KEYS:
        return st.one_of(durations, specials)
    if key in INT_KEYS:
        return st.one_of(st.integers(-(10**30), 10**30), st.integers(-5, 70000))
    if key in FLOAT_KEYS:
        return st.floats(allow_nan=True, allow_infinity=True)
    return st.one_of(specials, texts)


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    import copy

    data = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 2))):
        table = draw(st.sampled_from(sorted(KEYS)))
        key = draw(st.sampled_from(KEYS[table])) if draw(st.integers(0, 9)) else draw(st.text(min_size=1, max_size=10))
        value = draw(values if draw(st.integers(0, 4)) == 0 else _typed(key))
        if table in ("sources", "topics"):
            data[table][0][key] = value
        elif table == "recipients":
            data["digest"]["recipients"][0][key] = value
        else:
            data[table][key] = value
    if draw(st.integers(0, 9)) == 0:
        table = draw(st.sampled_from(sorted(BASE)))
        data[table] = draw(values)  # a table replaced by anything
    return data


def run(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code in (0, 1, 2), (args, result.exit_code, result.output)
    assert "Traceback" not in result.output and "please report it" not in result.output, (args, result.output)
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), (args, repr(result.exception))
    return result


def use(config: Config) -> None:
    """What the daemon, crawls and digests compute from an accepted config must not raise."""
    from apscheduler.triggers.interval import IntervalTrigger

    from scheduler.daemon import digest_trigger

    now = datetime.now(UTC)
    for s in config.sources:
        trigger = IntervalTrigger(seconds=s.every)
        assert trigger.get_next_fire_time(None, now) is not None
        _ = now - timedelta(seconds=s.window) + timedelta(seconds=s.every * 2**16)
    if config.digest is not None:
        digest_trigger(config).get_next_fire_time(None, now)
        _ = now - timedelta(seconds=config.digest.max_age)
        now.astimezone(ZoneInfo(config.digest.timezone))
        config.digest.subject.format(count=3, topics="a, b", date="2026-01-01")
    str(config.storage.database).encode("utf-8")
    _ = timedelta(seconds=config.crawl.timeout * 10) + timedelta(seconds=config.crawl.delay)


@settings(FUZZ, max_examples=examples(500))
@given(data=configs())
def test_fuzz_config_check(tmp_path: Path, data: dict[str, Any]) -> None:
    conf = tmp_path / "nw.toml"
    try:
        conf.write_text(dumps(data), encoding="utf-8", errors="surrogatepass")
    except (TypeError, UnicodeEncodeError):
        return  # not writable as TOML: nothing a user could save
    result = run("check", "-c", str(conf))
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 0:
        use(load_config(conf))


@settings(FUZZ, max_examples=examples(200))
@given(text=st.text(max_size=300))
def test_fuzz_config_raw_text(tmp_path: Path, text: str) -> None:
    conf = tmp_path / "nw.toml"
    conf.write_text(dumps(BASE) + text, encoding="utf-8", errors="surrogatepass")
    assert run("check", "-c", str(conf)).exit_code in (0, 2)


@pytest.fixture(scope="module")
def demo_config(demo_world: Path) -> Path:
    """A config and database with the sample site's articles (the session's `newswatch demo`; only read here)."""
    return demo_world / "newswatch-demo.toml"


option_text = st.one_of(
    durations,
    st.text(max_size=30),
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(
        [
            "0001-01-01",
            "9999-12-31",
            "9999-12-31T23:59:59-01:00",
            "0001-01-01T00:00:00+01:00",
            "2026-02-30",
            "1d1d1d",
            "1e309s",
            "-5d",
            "",
            " ",
        ]
    ),
)


@FUZZ
@given(limit=st.one_of(st.integers(-(10**30), 10**30).map(str), st.text(max_size=10)))
def test_fuzz_search_limit(demo_config: Path, limit: str) -> None:
    run("search", "China", "--limit", limit, "-c", str(demo_config))


@settings(FUZZ, max_examples=examples(60))
@given(since=option_text)
def test_fuzz_export_since(demo_config: Path, since: str) -> None:
    run("export", "--since", since, "-c", str(demo_config))


@settings(FUZZ, max_examples=examples(60))
@given(older=option_text)
def test_fuzz_prune_older_than(demo_config: Path, older: str) -> None:
    run("prune", "--dry-run", "--older-than", older, "-c", str(demo_config))  # the same cutoff arithmetic


queries = st.one_of(
    st.text(max_size=80),
    st.lists(
        st.sampled_from(
            [
                "China",
                "Russia",
                "AND",
                "OR",
                "NOT",
                "(",
                ")",
                '"',
                "title:",
                "NEAR/3",
                "NEAR/",
                "*",
                "ch*",
                "中国",
                "Россия",
            ]
        ),
        max_size=25,
    ).map(" ".join),
)


@settings(FUZZ, max_examples=examples(80))
@given(query=queries)
def test_fuzz_search_queries(demo_config: Path, query: str) -> None:
    run("search", query, "-c", str(demo_config))
