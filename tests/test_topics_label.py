"""`newswatch topics label`: stored stories labeled one answer at a time into a file `topics eval` and
`topics train` read; resumable, undoable, nothing answered lost."""

from __future__ import annotations

import dataclasses
import json
import os
import pty
import select
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from crawler import dedup
from crawler.procs import ends_with_this_process
from crawler.store import Store
from tests.support.articles import article_record
from tests.support.cli import newswatch
from tests.support.demo import copy_demo
from tests.test_cli_usage import read_only_disk  # noqa: F401  (a fixture: a read-only file system)

ROOT = Path(__file__).resolve().parents[1]

LAB = (
    "Scientists of Russia and China will open a joint laboratory for research on Arctic materials, the two "
    "academies said on Monday. The laboratory in Harbin will study how steel and concrete behave at minus fifty "
    "degrees, and train twenty young researchers a year from both countries."
)
# (source, title, text, hours ago); the topic `russia AND china` scores them 2.5 (twice: one story), 2.3, 1.5,
# 1.6 and no match (twice); min_score 2.0
ARTICLES = [
    ("s", "Russia and China open a joint lab", LAB, 5),
    ("wire2", "Russia and China open a joint lab", LAB, 4),  # a copy at another outlet: the same story
    ("s", "China", "Russia russia russia china china", 3),
    ("s", "Trade news", "Russia sells gas to China.", 2),
    ("s", "Summit", "China China and Russia in the title? no", 6),
    ("s", "Weather", "Cold in Russia.", 1),
    ("wire2", "Football", "A match in Madrid.", 7),
]
CONFIG = """[storage]
database = "nw.db"

[[topics]]
name = "rc"
query = "russia AND china"
min_score = 2.0
"""


def _world(tmp_path: Path) -> Path:
    cfg = tmp_path / "newswatch.toml"
    cfg.write_text(CONFIG, encoding="utf-8")
    with Store(tmp_path / "nw.db") as store:
        for n, (source, title, text, hours) in enumerate(ARTICLES, 1):
            rec = article_record(n, title, text, age=timedelta(hours=hours))
            signature = dedup.signature(title, text).to_bytes()
            store.add_article(dataclasses.replace(rec, source=source, signature=signature))
    return cfg


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _label(cfg: Path, out: Path, answers: str, *args: str):  # type: ignore[no-untyped-def]
    return newswatch("-c", cfg, "topics", "label", "-o", out, *args, stdin=answers)


def _shown(stdout: str) -> list[str]:
    """The headlines shown, in order (the line after each '[n of N]' line)."""
    lines = stdout.splitlines()
    return [lines[i + 1] for i, line in enumerate(lines) if line.startswith("[") and " of " in line]


# the boundary order: what the query lets through, nearest min_score 2.0 first (2.3, 1.6, 1.5, 2.5 — the lab
# story's 0.5 ties with the trade news' and is older), then what it rejects, newest first
BOUNDARY = ["China", "Summit", "Trade news", "Russia and China open a joint lab", "Weather", "Football"]


def test_each_answer_is_a_labeled_line_one_copy_per_story_nearest_the_boundary_first(tmp_path: Path) -> None:
    cfg, out = _world(tmp_path), tmp_path / "labels.jsonl"
    result = _label(cfg, out, "y\nn\ns\ny\nn\nn\n")
    assert result.returncode == 0, result.stderr
    assert _shown(result.stdout) == BOUNDARY
    assert "6 stories to label for topic rc (min_score 2), in boundary order" in result.stderr
    assert "[1 of 6] matched, score 2.30 (min_score 2)" in result.stdout
    assert "[2 of 6] not matched, score 1.60 (min_score 2)" in result.stdout
    assert "[5 of 6] not matched: its query does not hold" in result.stdout
    assert "  s · " in result.stdout and "2 copies" in result.stdout  # the lab story, shown once
    assert "relevant? [y]es [n]o [s]kip [u]ndo [q]uit y" in result.stdout
    rows = _lines(out)
    assert [(r["title"], r["label"]) for r in rows] == [
        ("China", True),
        ("Summit", False),
        ("Russia and China open a joint lab", True),
        ("Weather", False),
        ("Football", False),
    ]
    with Store(tmp_path / "nw.db", readonly=True) as store:
        lab = store.article(1)
        assert lab is not None
    assert rows[2] == {
        "id": "1",
        "language": "en",
        "title": lab["title"],
        "text": lab["text"],
        "label": True,
        "topic": "rc",
        "url": lab["url"],
        "canonical_url": lab["canonical_url"],
        "source": "s",
        "published": None,
        "story": "1",
    }
    assert "no stories left to label: 5 labeled this run (2 relevant), 1 skipped" in result.stderr
    assert f"next: newswatch topics eval {out}" in result.stderr


def test_a_second_run_asks_only_what_the_file_has_no_label_for(tmp_path: Path) -> None:
    cfg, out = _world(tmp_path), tmp_path / "labels.jsonl"
    first = _label(cfg, out, "y\ns\nq\n")
    assert first.returncode == 0, first.stderr
    assert "stopped: 1 labeled this run (1 relevant), 1 skipped" in first.stderr
    again = _label(cfg, out, "n\nq\n")
    assert again.returncode == 0, again.stderr
    assert _shown(again.stdout) == BOUNDARY[1:3]  # the skipped story is asked again; the labeled one is not
    assert "5 stories to label" in again.stderr and "holds 1 label already" in again.stderr
    assert [r["title"] for r in _lines(out)] == ["China", "Summit"]
    # a copy's label is its story's: a line naming the wire2 copy's URL (as another filter would have shown
    # it), typed by hand without its last newline, leaves the lab story out, and the next line starts anew
    with out.open("a", encoding="utf-8") as f:
        f.write(json.dumps({"title": "lab", "text": "", "label": 1, "url": "https://example.org/2"}))
    third = _label(cfg, out, "n\n", "--matched")
    assert third.returncode == 0, third.stderr
    assert third.stdout == (
        f"nothing to label: of the 6 stories stored, 3 have no label yet in {out}, and topic rc matches none of "
        "them (--matched)\n"
    )
    fourth = _label(cfg, out, "n\n")
    assert _shown(fourth.stdout)[0] == "Trade news"
    rows = _lines(out)
    assert [r["title"] for r in rows] == ["China", "Summit", "lab", "Trade news"]


def test_undo_takes_back_the_last_answer_and_asks_that_story_again(tmp_path: Path) -> None:
    cfg, out = _world(tmp_path), tmp_path / "labels.jsonl"
    result = _label(cfg, out, "u\ny\nn\nu\ny\nq\n")
    assert result.returncode == 0, result.stderr
    assert "nothing to undo: this run has written no label" in result.stdout
    assert "undone: not relevant, removed from" in result.stdout
    assert _shown(result.stdout) == ["China", "China", "Summit", "Trade news", "Summit", "Trade news"]
    assert [(r["title"], r["label"]) for r in _lines(out)] == [("China", True), ("Summit", True)]


def test_quit_the_end_of_the_input_and_a_wrong_answer_keep_every_answer_given(tmp_path: Path) -> None:
    cfg = _world(tmp_path)
    for answers in ("y\nq\n", "y\n", "y\nmaybe\n"):
        out = tmp_path / f"{len(answers)}.jsonl"
        result = _label(cfg, out, answers)
        assert [r["title"] for r in _lines(out)] == ["China"], answers
        if answers == "y\nmaybe\n":
            assert result.returncode == 2
            assert "error: answer 'maybe' is not one of y, n, s, u, q (read from stdin, one answer a line)" in (
                result.stderr
            )
        else:
            assert result.returncode == 0, result.stderr
            assert "stopped: 1 labeled this run" in result.stderr


def _start(cfg: Path, out: Path, stdin: int, stdout: int) -> subprocess.Popen[bytes]:
    """`newswatch topics label` as a process of its own (its stdin and stdout a pipe or a terminal)."""
    return subprocess.Popen(
        [sys.executable, "-m", "scheduler.cli", "-c", str(cfg), "topics", "label", "-o", str(out)],
        cwd=ROOT,
        stdin=stdin,
        stdout=stdout,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        preexec_fn=ends_with_this_process(),
    )


class _Screen:
    """What a process wrote to ``fd`` so far, read until a text shows up ``n`` times."""

    def __init__(self, fd: int) -> None:
        self.fd, self.seen = fd, b""

    def wait_for(self, text: bytes, n: int = 1) -> None:
        while self.seen.count(text) < n:
            ready, _w, _x = select.select([self.fd], [], [], 60)
            assert ready, self.seen.decode()
            chunk = os.read(self.fd, 65536)
            assert chunk, self.seen.decode()
            self.seen += chunk


def test_ctrl_c_at_the_question_loses_no_answer(tmp_path: Path) -> None:
    cfg, out = _world(tmp_path), tmp_path / "labels.jsonl"
    proc = _start(cfg, out, subprocess.PIPE, subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        screen = _Screen(proc.stdout.fileno())
        screen.wait_for(b"[q]uit")
        proc.stdin.write(b"y\n")
        proc.stdin.flush()
        screen.wait_for(b"[q]uit", 2)  # the second question is asked: the first answer is written
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 130, err.decode()
    assert "stopped: 1 labeled this run (1 relevant)" in err.decode() and "interrupted" in err.decode()
    assert [r["title"] for r in _lines(out)] == ["China"]


def test_at_a_terminal_an_unknown_answer_is_asked_again(tmp_path: Path) -> None:
    cfg, out = _world(tmp_path), tmp_path / "labels.jsonl"
    terminal, child_side = pty.openpty()
    proc = _start(cfg, out, child_side, child_side)
    os.close(child_side)
    try:
        screen = _Screen(terminal)
        screen.wait_for(b"[q]uit")
        os.write(terminal, b"maybe\n")
        screen.wait_for(b"answer y (relevant), n (not relevant), s (skip), u (undo the last answer) or q (quit)")
        screen.wait_for(b"[q]uit", 2)
        assert screen.seen.count(b"[1 of 6]") == 1  # the same story, asked again
        os.write(terminal, b"YES\n")
        screen.wait_for(b"[2 of 6]")
        screen.wait_for(b"[q]uit", 3)
        os.write(terminal, b"q\n")
        _out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
        os.close(terminal)
    assert proc.returncode == 0, err.decode()
    assert [(r["title"], r["label"]) for r in _lines(out)] == [("China", True)]


def test_matched_unmatched_and_the_other_orders(tmp_path: Path) -> None:
    cfg = _world(tmp_path)
    out = tmp_path / "x.jsonl"
    skip = "s\n" * 6

    def shown(*args: str, answers: str = skip) -> list[str]:
        result = _label(cfg, out, answers, *args)
        assert result.returncode == 0, result.stderr
        return _shown(result.stdout)

    assert shown("--matched") == ["China", "Russia and China open a joint lab"]
    assert shown("--unmatched") == ["Summit", "Trade news", "Weather", "Football"]
    assert shown("--all", "--order", "score") == [
        "Russia and China open a joint lab",
        "China",
        "Summit",
        "Trade news",
        "Weather",
        "Football",
    ]
    assert shown("--order", "newest") == [
        "Weather",
        "Trade news",
        "China",
        "Russia and China open a joint lab",
        "Summit",
        "Football",
    ]
    shuffled = shown("--order", "random")
    assert sorted(shuffled) == sorted(BOUNDARY)
    assert shown("--order", "random", answers="y\nq\n") == shuffled[:2]
    assert shown("--order", "random") == shuffled[1:]  # the same sample, resumed
    # the shared filters: --source keeps a story's copies from that source (the lab story's is wire2's there)
    fresh = tmp_path / "fresh.jsonl"
    wire2 = _label(cfg, fresh, skip, "--source", "wire2", "--language", "en")
    assert _shown(wire2.stdout) == ["Russia and China open a joint lab", "Football"]
    assert "  wire2 · " in wire2.stdout and "copies" not in wire2.stdout
    recent = _label(cfg, fresh, skip, "--source", "wire2", "--since", "6h")
    assert _shown(recent.stdout) == ["Russia and China open a joint lab"]
    assert not fresh.exists()


def test_what_cannot_be_labeled_is_said_and_no_file_is_written(tmp_path: Path) -> None:
    cfg = _world(tmp_path)
    export = tmp_path / "export.jsonl"
    export.write_text(newswatch("-c", cfg, "export").stdout, encoding="utf-8")
    before = export.read_bytes()
    refused = _label(cfg, export, "y\n")
    assert refused.returncode == 2
    assert refused.stderr.startswith(f'error: -o {export} line 1 is an article without a "label" (an export?)')
    assert export.read_bytes() == before
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"title": "t", "text": "", "label": True, "topic": "space"}) + "\n", encoding="utf-8")
    assert "holds labels for topic 'space' (line 1), not 'rc'" in _label(cfg, other, "y\n").stderr
    out = tmp_path / "new.jsonl"
    nothing = _label(cfg, out, "", "--since", "2000-01-01", "--language", "zh")
    assert nothing.returncode == 0
    # as search says it: a --language no stored article is in ('cn' for zh, most often) is named with the stored ones
    assert nothing.stdout == (
        "nothing to label: --language and --since kept none of the 7 stored articles; no article is in 'zh' "
        "(stored: en)\n"
    )
    future = _label(cfg, out, "", "--since", "2999-01-01")
    assert (future.returncode, future.stdout) == (0, "nothing to label: --since '2999-01-01' is in the future\n")
    typo = _label(cfg, out, "", "--source", "wire3")
    assert typo.returncode == 2 and "--source 'wire3': no such source" in typo.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "newswatch.toml").write_text(CONFIG, encoding="utf-8")
    none = _label(empty / "newswatch.toml", out, "")
    assert none.returncode == 0
    assert (
        none.stdout
        == f"nothing to label: no articles are stored yet in {empty / 'nw.db'} (newswatch crawl stores them)\n"
    )
    assert not out.exists()


def test_labels_of_the_demo_database_round_trip_through_eval_and_train_prior(demo_world: Path, tmp_path: Path) -> None:
    cfg = copy_demo(demo_world, tmp_path)
    out = tmp_path / "mine.jsonl"
    first = _label(cfg, out, "y\nn\n" * 20)
    assert first.returncode == 0, first.stderr
    rows = _lines(out)
    assert len(rows) == len(_shown(first.stdout)) > 20
    assert len({r["story"] for r in rows}) == len(rows)  # one copy per story
    assert "no stories left to label" in first.stderr
    assert _label(cfg, out, "y\n").stdout.startswith("nothing left to label:")
    ev = newswatch("-c", cfg, "topics", "eval", out, "--json")
    assert ev.returncode == 0, ev.stderr
    (report,) = json.loads(ev.stdout)
    counts = report["all"]
    assert report["topic"] == "china-russia-st"
    assert counts["tp"] + counts["fn"] == sum(r["label"] for r in rows)
    model = tmp_path / "adapted.json"
    train = newswatch("-c", cfg, "topics", "train", out, "--prior", "china-russia-st", "-o", model)
    assert train.returncode == 0, train.stderr
    assert f'wrote {model}; use it with model = "adapted.json" in the topic' in train.stdout
    text = cfg.read_text(encoding="utf-8")
    assert 'model = "china-russia-st"' in text
    cfg.write_text(text.replace('model = "china-russia-st"', 'model = "adapted.json"'), encoding="utf-8")
    check = newswatch("-c", cfg, "check")
    assert check.returncode == 0, check.stderr
    again = newswatch("-c", cfg, "topics", "eval", out, "--summary")
    assert again.returncode == 0 and "model adapted.json" in again.stdout


def test_stories_labeled_in_another_file_can_be_left_out(tmp_path: Path) -> None:
    cfg = _world(tmp_path)
    test_file, train_file = tmp_path / "test.jsonl", tmp_path / "train.jsonl"
    assert _label(cfg, test_file, "y\nn\nq\n", "--order", "random").returncode == 0
    kept_apart = {r["title"] for r in _lines(test_file)}
    result = _label(cfg, train_file, "s\n" * 6, "--skip-labeled", test_file)
    assert result.returncode == 0, result.stderr
    assert _shown(result.stdout) == [t for t in BOUNDARY if t not in kept_apart]
    missing = _label(cfg, train_file, "", "--skip-labeled", tmp_path / "nope.jsonl")
    assert missing.returncode == 2 and "--skip-labeled" in missing.stderr and "no such file" in missing.stderr


def test_a_text_with_line_separators_stays_one_line_that_topics_eval_reads(tmp_path: Path) -> None:
    cfg = tmp_path / "newswatch.toml"
    cfg.write_text(CONFIG, encoding="utf-8")
    text = "Russia and China\u2028agree\x85on a joint\u2029lab."
    with Store(tmp_path / "nw.db") as store:
        store.add_article(article_record(1, "Russia, China", text))
    out = tmp_path / "labels.jsonl"
    assert _label(cfg, out, "y\n").returncode == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 1
    assert _lines(out)[0]["text"] == text
    ev = newswatch("-c", cfg, "topics", "eval", out, "--summary")
    assert ev.returncode == 0, ev.stderr
    assert "(1 story)" in ev.stdout


def test_a_file_that_cannot_be_written_is_said_before_the_first_story(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # before, the stories were scored (minutes on a large archive) and the first one shown and answered, and only
    # then was the file found unwritable: the answer lost
    disk = request.getfixturevalue("read_only_disk")  # root and mount(8), else skipped
    out = disk / "labels.jsonl"
    result = _label(_world(tmp_path), out, "y\n")
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"error: -o {out} lies on a read-only file system; give a file on a writable one\n"
    assert result.stdout == "" and not out.exists()


def test_the_order_choices_are_the_orders_labeling_knows() -> None:
    # the command lists them without importing crawler.labeling (every other command starts without it)
    from crawler import labeling
    from scheduler import cmd_topics

    assert cmd_topics.ORDER_CHOICES == labeling.ORDERS
    with pytest.raises(ValueError, match="unknown order 'best'"):
        labeling._ordered([], "best", labeling.TopicConfig(name="t", query="a"))
