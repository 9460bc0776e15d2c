"""Every ``NEWSWATCH_*`` number in the environment (crawler/envsettings.py) at its edges: ``inf`` and ``1e400`` are its
longest or largest, empty its default, and ``nan``, a negative value, ``-inf``, a word or a fraction of a count are
one line naming the setting and what it takes, before any command runs (exit 2), never a traceback or a hang."""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import pytest

from crawler import envsettings
from crawler.envsettings import LONGEST_WAIT, SETTINGS, SettingError
from tests.support.cli import newswatch

ROOT = Path(__file__).resolve().parents[1]

REFUSED = "refused"
# (setting, its default when the reader computes it, then what each value gives: a number, or REFUSED)
EDGES = ("inf", "1e400", "", "  ", "nan", "-1", "-inf", "0", "2.5", "five", "-0")
TABLE = {
    # name: (default passed, inf, 1e400, "", "  ", nan, -1, -inf, 0, 2.5, five, -0)
    "NEWSWATCH_WORKERS": (2, 64, 64, 2, 2, REFUSED, REFUSED, REFUSED, 0, REFUSED, REFUSED, 0),
    "NEWSWATCH_MAX_FAILURES": (
        5,
        sys.maxsize,
        sys.maxsize,
        5,
        5,
        REFUSED,
        REFUSED,
        REFUSED,
        REFUSED,
        REFUSED,
        REFUSED,
        REFUSED,
    ),
    "NEWSWATCH_BUSY_TIMEOUT": (30, LONGEST_WAIT, LONGEST_WAIT, 30, 30, REFUSED, REFUSED, REFUSED, 0, 2.5, REFUSED, 0),
    "NEWSWATCH_START_SPREAD": (60, LONGEST_WAIT, LONGEST_WAIT, 60, 60, REFUSED, REFUSED, REFUSED, 0, 2.5, REFUSED, 0),
    "NEWSWATCH_CRAWL_TIMEOUT": (
        300,
        LONGEST_WAIT,
        LONGEST_WAIT,
        300,
        300,
        REFUSED,
        REFUSED,
        REFUSED,
        REFUSED,
        2.5,
        REFUSED,
        REFUSED,
    ),
    "NEWSWATCH_BATCH_TIMEOUT": (
        360,
        LONGEST_WAIT,
        LONGEST_WAIT,
        360,
        360,
        REFUSED,
        REFUSED,
        REFUSED,
        REFUSED,
        2.5,
        REFUSED,
        REFUSED,
    ),
    "NEWSWATCH_CRAWL_WORKERS": (
        3,
        sys.maxsize,
        sys.maxsize,
        3,
        3,
        REFUSED,
        REFUSED,
        REFUSED,
        REFUSED,
        REFUSED,
        REFUSED,
        REFUSED,
    ),
    "NEWSWATCH_START_LEAD": (5, 30, 30, 5, 5, REFUSED, REFUSED, REFUSED, 0, 2.5, REFUSED, 0),
    "NEWSWATCH_BATCH_AHEAD": (10, LONGEST_WAIT, LONGEST_WAIT, 10, 10, REFUSED, REFUSED, REFUSED, 0, 2.5, REFUSED, 0),
    "NEWSWATCH_BATCH_SIZE": (
        500,
        sys.maxsize,
        sys.maxsize,
        500,
        500,
        REFUSED,
        REFUSED,
        REFUSED,
        REFUSED,
        REFUSED,
        REFUSED,
        REFUSED,
    ),
    "NEWSWATCH_DB_WAIT": (
        30,
        LONGEST_WAIT,
        LONGEST_WAIT,
        30,
        30,
        REFUSED,
        REFUSED,
        REFUSED,
        REFUSED,
        2.5,
        REFUSED,
        REFUSED,
    ),
    "NEWSWATCH_MAX_FEED_ENTRIES": (
        5000,
        sys.maxsize,
        sys.maxsize,
        5000,
        5000,
        REFUSED,
        REFUSED,
        REFUSED,
        REFUSED,
        REFUSED,
        REFUSED,
        REFUSED,
    ),
    "NEWSWATCH_MAX_NEW_PAGES": (
        1000,
        sys.maxsize,
        sys.maxsize,
        1000,
        1000,
        REFUSED,
        REFUSED,
        REFUSED,
        REFUSED,
        REFUSED,
        REFUSED,
        REFUSED,
    ),
}


def test_the_table_names_every_setting() -> None:
    assert set(TABLE) == {s.name for s in SETTINGS}


@pytest.mark.parametrize("name", sorted(TABLE))
def test_each_setting_at_its_edges(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    setting = next(s for s in SETTINGS if s.name == name)
    default, *wanted = TABLE[name]
    read = envsettings.whole if setting.whole else envsettings.seconds
    for value, want in zip(EDGES, wanted, strict=True):
        monkeypatch.setenv(name, value)
        if want == REFUSED:
            with pytest.raises(SettingError) as refused:
                read(name, default)
            line = str(refused.value)
            assert "\n" not in line and line.startswith(f"{name}={value.strip()!r} "), line
            assert envsettings.problem() == line
        else:
            got = read(name, default)
            assert got == want and type(got) is (int if setting.whole else float), (value, got)
            assert envsettings.problem() is None


def test_a_setting_newswatch_cannot_take_is_one_line_before_any_command(tmp_path: Path) -> None:
    cfg = tmp_path / "nw.toml"
    cfg.write_text('[storage]\ndatabase = "nw.db"\n', encoding="utf-8")
    result = newswatch("-c", cfg, "check", env={"NEWSWATCH_START_SPREAD": "-inf"})  # the daemon's start: ValueError
    assert result.returncode == 2
    assert result.stderr == (
        "error: NEWSWATCH_START_SPREAD='-inf' is too low: time over which the daemon spreads overdue sources at "
        "start, at least 0 seconds (inf: each source's interval, at most 24.8 days), or unset for the default (60)\n"
    )
    for name, value in (("NEWSWATCH_DB_WAIT", "0"), ("NEWSWATCH_WORKERS", "²"), ("NEWSWATCH_MAX_FAILURES", "nan")):
        result = newswatch("-c", cfg, "sources", env={name: value})
        assert result.returncode == 2 and result.stderr.startswith(f"error: {name}={value!r} "), result.stderr
        assert len(result.stderr.splitlines()) == 1
    assert newswatch("-c", cfg, "sources", env={"NEWSWATCH_START_LEAD": "1e400"}).returncode == 0


def test_no_setting_is_read_from_the_environment_elsewhere() -> None:
    """A new NEWSWATCH_* number goes into the table, so it is read and checked as the others are."""
    read = re.compile(r"""environ(?:\.get\(|\[)\s*["'](NEWSWATCH_\w+)""")
    names: set[str] = set()
    for path in [*ROOT.glob("crawler/*.py"), *ROOT.glob("scheduler/*.py")]:
        names.update(read.findall(path.read_text(encoding="utf-8")))
    assert names <= {"NEWSWATCH_CONFIG", "NEWSWATCH_DEBUG"}, names


# -- the config's numbers ----------------------------------------------------------------------------------------------

CONFIG = """
[storage]
database = "nw.db"
[crawl]
{crawl}
[[sources]]
name = "feed"
url = "https://example.org/rss.xml"
{source}
[[sources]]
name = "map"
kind = "sitemap"
url = "https://example.org/sitemap.xml"
{sitemap}
[[sources]]
name = "list"
kind = "listing"
url = "https://example.org/news/"
follow = "/news/"
{listing}
[[topics]]
name = "t"
query = "science"
{topic}
[digest]
schedule = "0 7 * * *"
{digest}
[[digest.recipients]]
email = "analyst@example.org"
[smtp]
host = "mail.example.org"
sender = "newswatch <alerts@example.org>"
{smtp}
"""
# every number of the config: (its table in CONFIG, its key, its key path in a problem)
NUMBERS = (
    ("crawl", "timeout", "crawl.timeout"),
    ("crawl", "max_page_size", "crawl.max_page_size"),
    ("crawl", "concurrency", "crawl.concurrency"),
    ("crawl", "per_domain", "crawl.per_domain"),
    ("crawl", "delay", "crawl.delay"),
    ("source", "every", "sources[0] (feed).every"),
    ("source", "stale_after", "sources[0] (feed).stale_after"),
    ("sitemap", "window", "sources[1] (map).window"),
    ("listing", "depth", "sources[2] (list).depth"),
    ("topic", "min_score", "topics[0] (t).min_score"),
    ("topic", "alert_score", "topics[0] (t).alert_score"),
    ("topic", "near_score", "topics[0] (t).near_score"),
    ("digest", "max_age", "digest.max_age"),
    ("digest", "max_stories", "digest.max_stories"),
    ("smtp", "port", "smtp.port"),
    ("smtp", "timeout", "smtp.timeout"),
)
NINES = "9" * 400  # beyond a float: inf once read as one
# TOML's own inf, nan and 1e400 (inf), numbers below, at and far beyond every range, and strings of them
VALUES = (
    "inf",
    "-inf",
    "nan",
    "1e400",
    "-1",
    "0",
    "-0.0",
    "1.5",
    "99999999999999999999999999",
    '"inf"',
    '"nan"',
    '""',
    '"-1s"',
    '"0s"',
    '"1e400s"',
    f'"{NINES}s"',
    f'"{NINES}MB"',
    f'"{NINES}.5kB"',
    '"1e3MB"',
)


@pytest.mark.parametrize(("table", "key", "path"), NUMBERS, ids=[n[2] for n in NUMBERS])
def test_each_number_of_the_config_at_its_edges_is_taken_or_one_line_naming_it(
    tmp_path: Path, table: str, key: str, path: str
) -> None:
    """Each value is taken (a sane one), or refused in one problem naming its key path: never another exception
    ('99…9MB' as max_page_size raised OverflowError: 'unexpected OverflowError: cannot convert float infinity to
    integer')."""
    from crawler.config import load_config
    from crawler.errors import ConfigError

    cfg = tmp_path / "newswatch.toml"
    blank = dict.fromkeys(("crawl", "source", "sitemap", "listing", "topic", "digest", "smtp"), "")
    for value in VALUES:
        cfg.write_text(CONFIG.format(**{**blank, table: f"{key} = {value}"}), encoding="utf-8")
        try:
            config = load_config(cfg)
        except ConfigError as exc:
            (problem,) = exc.problems
            assert problem.startswith(f"{path}: ") and "\n" not in problem, (value, problem)
        else:
            lengths = [config.crawl.timeout, config.crawl.max_page_size, config.crawl.delay, config.digest.max_age]
            lengths += [s.every for s in config.sources] + [s.window for s in config.sources]
            assert all(math.isfinite(n) and n >= 0 for n in lengths), (value, lengths)
            # a topic's scores are 0 or more: a min_score below 0, or a near_score of 0 or below, is refused
            assert math.isfinite(config.topics[0].min_score) and config.topics[0].min_score >= 0, value
            assert config.topics[0].near_score is None or 0 < config.topics[0].near_score < 1, value
