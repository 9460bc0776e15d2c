"""`sources` and `digest --dry-run` on a terminal of any width: no line past its edge, nothing essential lost; into a
pipe or a file every line whole, as scripts read it.

Each runs on a copy of the shared demo (the sample site crawled once), its sources' states edited in the database: a
source failing with a long error, one deactivated by a 410, one never polled with a long name, beside the demo's stale
one. The terminal is a real pseudo-terminal (tests/support/cli.py on_a_terminal).
"""

from __future__ import annotations

import json
from datetime import UTC, timedelta
from pathlib import Path

import pytest

from crawler.store import Store, iso, parse_iso
from crawler.wording import columns as _terminal_columns
from tests.support.cli import newswatch, on_a_terminal
from tests.support.demo import copy_demo

ERROR = (
    "HTTP 503 Service Unavailable from http://127.0.0.1/vestnik/rss.xml: the server said it is down for "
    "maintenance until the morning (Retry-After not given); newswatch backs off and polls it again"
)
LONG_NAME = "kommersant-nauka-i-tekhnika"  # 27 characters, never polled
HEADERS = ["source", "kind", "state", "last", "success", "newest", "entry", "per", "day", "failures", "next", "poll"]


@pytest.fixture(scope="module")
def states(demo_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = copy_demo(demo_world, tmp_path_factory.mktemp("width"))
    with cfg.open("a", encoding="utf-8") as f:
        f.write(f'\n[[sources]]\nname = "{LONG_NAME}"\nurl = "http://127.0.0.1:9/rss.xml"\n')
    with Store(cfg.parent / "newswatch-demo.db") as store:
        vestnik = store.source_state("vestnik")
        polled = vestnik["last_success"]
        # failing three times in a row backs off 4 times its every (15m), from its last attempt (polling.backoff)
        backed_off = iso(parse_iso(vestnik["last_attempt"]) + timedelta(hours=1))
        store.update_source("vestnik", failures=3, last_error=ERROR, last_error_at=polled, next_poll=backed_off)
        store.update_source("digestnet", active=0, failures=1, last_error="HTTP 410 Gone: deactivated")
    return cfg


def _compact(stamp: str) -> str:
    """A time stored moments ago as a narrow table shows it: month, day and UTC time, no year."""
    when = parse_iso(stamp)
    assert when is not None
    return f"{when.astimezone(UTC):%m-%d %H:%M}Z"


def _records(shown: str, names: list[str]) -> dict[str, str]:
    """Each source's row, or its name's line and the indented lines under it, as one line of words."""
    out: dict[str, str] = {}
    lines = shown.split("\n")
    for i, line in enumerate(lines):
        name = line.split(" ")[0]
        if name in names and name not in out:
            rest = []
            for more in lines[i + 1 :]:
                if not more.startswith("  "):
                    break
                rest.append(more)
            out[name] = " ".join(" ".join([line, *rest]).split())
    return out


@pytest.mark.parametrize("width", [40, 80, 100])
def test_sources_fits_any_terminal_with_each_sources_state_times_and_errors(states: Path, width: int) -> None:
    # On an 80-column terminal the table was 116 columns wide (three times of 17 characters, nine columns), each
    # row folded by the terminal onto a second line, under the next row's start; the error lines ran on too.
    with Store(states.parent / "newswatch-demo.db") as store:
        polled = {name: store.source_state(name) for name in ("globalwire", "vestnik", "frozen", "digestnet")}
    shown = on_a_terminal(["-c", states, "sources"], width)
    lines = shown.rstrip("\n").split("\n")
    assert max(_terminal_columns(line) for line in lines) <= width, shown
    records = _records(shown, [*polled, LONG_NAME])
    assert set(records) == {*polled, LONG_NAME}, shown  # each name whole, at the start of its row
    for name, state in (("globalwire", "ok"), ("vestnik", "FAILING"), ("frozen", "STALE"), ("digestnet", "INACTIVE")):
        record = records[name]
        assert f" {state} " in f" {record} ", (name, shown)
        assert _compact(polled[name]["last_success"]) in record, (name, shown)
    for name in ("globalwire", "vestnik", "frozen"):
        assert _compact(polled[name]["next_poll"]) in records[name], (name, shown)
    assert "never (--reset)" in records["digestnet"], shown
    assert " new " in f" {records[LONG_NAME]} " and "soon" in records[LONG_NAME], shown
    words = " ".join(shown.split())
    error_at = parse_iso(polled["vestnik"]["last_success"])
    assert error_at is not None
    assert f"vestnik: last error {error_at.astimezone(UTC):%Y-%m-%d %H:%M}Z: {ERROR}" in words, shown
    assert "frozen: stale: newest entry 2018-01-05" in words, shown


def test_sources_into_a_pipe_prints_every_column_and_each_error_on_one_whole_line(states: Path) -> None:
    shown = newswatch("-c", states, "sources")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].split() == [*HEADERS, "articles"]
    row = next(line for line in lines if line.startswith("vestnik "))
    assert row.split()[:3] == ["vestnik", "feed", "FAILING"] and row.split()[3].startswith("20"), row  # the year
    error = next(line for line in lines if line.startswith("vestnik: last error "))
    assert error.endswith(f": {ERROR}"), error
    assert not any("(not shown" in line or "left out" in line for line in lines), shown.stdout


def test_digest_dry_run_wraps_each_story_under_its_dash_on_a_terminal_and_not_into_a_pipe(states: Path) -> None:
    # Each story's line (its topic's title, headline, outlet and language) ran to 140-250 columns.
    piped = newswatch("-c", states, "digest", "--dry-run")
    assert piped.returncode == 0, piped.stderr
    stories = [line for line in piped.stdout.splitlines() if line.startswith("  - ")]
    assert len(stories) > 5 and max(_terminal_columns(line) for line in stories) > 80, piped.stdout
    shown = on_a_terminal(["-c", states, "digest", "--dry-run"], 80)
    lines = shown.rstrip("\n").split("\n")
    assert max(_terminal_columns(line) for line in lines) <= 80, shown
    assert all(line.startswith(("  - ", "    ")) for line in lines[2:]), shown  # wrapped lines under the headline
    # each story's words in order (a Chinese headline breaks between two characters, with no space)
    assert ["".join(s.split()) for s in shown.split("\n  - ")[1:]] == ["".join(s[4:].split()) for s in stories]


def test_topics_eval_wraps_each_miss_and_false_alarm_on_a_terminal_and_not_into_a_pipe(tmp_path: Path) -> None:
    # A miss's title and its snippet (up to 400 characters) ran on past the edge, folded by the terminal mid-word
    # under the first column, where the next story's id and score are read.
    cfg = tmp_path / "nw.toml"
    cfg.write_text('[storage]\ndatabase = "nw.db"\n', encoding="utf-8")
    station = "The lunar research station will be built by the Russian and Chinese space agencies together. "
    stories = [
        {"id": "a1", "title": "A timetable for the joint lunar research station " * 3, "text": station * 5},
        {"id": "a2", "title": "Joint laboratory for Arctic-grade materials opens " * 3, "text": "A laboratory. " * 30},
    ]
    labeled = tmp_path / "labeled.jsonl"
    labeled.write_text(
        "".join(json.dumps({**s, "language": "en", "label": int(s["id"] == "a2")}) + "\n" for s in stories),
        encoding="utf-8",
    )
    args = ["-c", cfg, "topics", "eval", labeled, "--query", "lunar OR station"]
    piped = newswatch(*args)
    assert piped.returncode == 0, piped.stderr
    titles = [line for line in piped.stdout.splitlines() if line.startswith("      title: ")]
    assert len(titles) == 2 and all(_terminal_columns(line) > 80 for line in titles), piped.stdout
    shown = on_a_terminal(args, 80)
    # the file's path, longer than a line under xdist's folders, has a line of its own (as a link in search's)
    assert all(_terminal_columns(line) <= 80 or str(labeled) == line.strip() for line in shown.split("\n")), shown
    assert " ".join(shown.split()) == " ".join(piped.stdout.split()), shown  # the same words, wrapped
    lines = shown.split("\n")
    title = lines.index(f"      title: {stories[0]['title']}"[:80].rsplit(" ", 1)[0])
    assert lines[title + 1].startswith("        ") and lines[title + 1][8] != " ", shown  # under the title's start
