"""The archive in a real datasette on 127.0.0.1: its search box (`_search=`) finds Russian, Chinese and
English articles, internal tables are hidden, and articles link to their story and source."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crawler.procs import ends_with_this_process
from tests.support.demo import copy_demo

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory, demo_world: Path) -> Path:
    """A copy of the demo database and config (datasette may upgrade or lock it)."""
    out = tmp_path_factory.mktemp("demo")
    copy_demo(demo_world, out)
    return out


def start_datasette(config: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`newswatch datasette` on a free port, once it answers; returns the process and datasette's base URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "scheduler.cli", "-c", str(config), "datasette", "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=ends_with_this_process(),  # a test run interrupted (its worker killed) leaves none behind
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/-/versions.json", timeout=5).read()
            break
        except (urllib.error.URLError, ConnectionError):
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            time.sleep(0.2)
    return proc, base


def answers(base: str) -> bool:
    try:
        urllib.request.urlopen(base + "/-/versions.json", timeout=5).read()
        return True
    except (urllib.error.URLError, ConnectionError):
        return False


@pytest.fixture(scope="module")
def served(demo_dir: Path) -> Iterator[str]:
    """The demo database served by `newswatch datasette`; yields datasette's base URL."""
    proc, base = start_datasette(demo_dir / "newswatch-demo.toml")
    try:
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())


def search(base: str, query: str) -> list[dict[str, Any]]:
    params = urllib.parse.urlencode({"_search": query, "_shape": "array", "_size": "max"})
    return get(f"{base}/newswatch-demo/articles.json?{params}")


def test_search_box_finds_russian_chinese_and_english_articles(served: str) -> None:
    russia = search(served, "Россия")
    assert russia and all(r["language"] == "ru" for r in russia)
    assert any("Россия" in r["title"] for r in russia)
    zh = search(served, "中俄")
    assert len(zh) >= 5 and all(r["language"] == "zh" for r in zh)
    assert all("中俄" in r["title"] + r["text"] for r in zh)
    lunar = search(served, "lunar")
    assert [r["title"] for r in lunar] == ["Russia and China agree timetable for joint lunar research station"]
    assert search(served, "中俄 月球")  # words are ANDed, as datasette's box does
    assert search(served, "nosuchwordanywhere") == []


def test_search_box_finds_a_word_written_with_yo_typed_with_e(
    served: str,
) -> None:
    scientists = search(served, "учёные")
    assert scientists and search(served, "ученые") == scientists  # as most people type it
    assert search(served, "Учёные") == scientists
    assert search(served, "ёж") == []


def test_an_archive_indexed_before_the_yo_and_simplified_forms_is_reindexed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crawler import store as store_mod
    from crawler.store import BROWSE_FTS, Store
    from tests.support.articles import article_record

    monkeypatch.setattr(store_mod, "REINDEX_BATCH", 1)  # read a batch at a time: each batch is indexed
    db = tmp_path / "nw.db"
    with Store(db) as store:
        store.add_article(article_record(1, "Учёные", "俄羅斯科學院"))
        store.add_article(article_record(2, "Ёлка", "Новый год"))
    conn = sqlite3.connect(db, isolation_level=None)  # as an older newswatch left it: the words as written only
    conn.execute(f"INSERT INTO {BROWSE_FTS}({BROWSE_FTS}) VALUES ('delete-all')")
    for aid, title, text in [(1, "Учёные", " 俄 羅 斯 俄羅 羅斯 俄羅斯 "), (2, "Ёлка", "Новый год")]:
        conn.execute(f"INSERT INTO {BROWSE_FTS}(rowid, title, text) VALUES (?, ?, ?)", [aid, title, text])
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = '0080_browse_search_yo_and_simplified'")
    conn.close()
    with Store(db) as store:
        found = [
            store.query(f"SELECT rowid FROM {BROWSE_FTS} WHERE {BROWSE_FTS} MATCH ?", [f'"{word}"'])
            for word in ("ученые", "учёные", "俄罗斯", "俄羅斯", "елка")
        ]
        assert found == [[{"rowid": 1}]] * 4 + [[{"rowid": 2}]]
        store.delete_articles([2])  # removed with the forms it was indexed with
        assert store.scalar(f"SELECT count(*) FROM {BROWSE_FTS} WHERE {BROWSE_FTS} MATCH '\"елка\"'") == 0


def test_the_articles_page_has_a_search_box_and_links_to_stories_and_sources(served: str) -> None:
    with urllib.request.urlopen(f"{served}/newswatch-demo/articles", timeout=30) as r:
        html = r.read().decode()
    assert 'name="_search"' in html
    tables = {t["name"]: t for t in get(f"{served}/newswatch-demo.json")["tables"]}
    links = {(fk["column"], fk["other_table"]) for fk in tables["articles"]["foreign_keys"]["outgoing"]}
    assert {("story", "stories"), ("source", "sources")} <= links
    assert tables["articles"]["fts_table"] == "articles_search"
    for name, table in tables.items():  # every internal table is named apart, and hidden
        if name.startswith("_"):
            assert table["hidden"], name
    for internal in ("_story_band", "_story_sig", "_entries", "_topic_state", "_state", "_articles_fts", "_aliases"):
        assert tables[internal]["hidden"], internal
    for shown in ("articles", "stories", "sources", "matches"):
        assert not tables[shown]["hidden"], shown
    meta = get(f"{served}/-/metadata.json")
    columns = meta["databases"]["newswatch-demo"]["tables"]["articles"]["columns"]
    assert "story" in columns and "language" in columns


def test_upgrading_an_archive_keeps_every_row_and_indexes_it_for_browsing(tmp_path: Path) -> None:
    import sqlite3

    import sqlite_utils

    from crawler.store import Store, migrations

    path = tmp_path / "old.db"
    db = sqlite_utils.Database(path)
    db.execute("PRAGMA foreign_keys = ON")
    migrations.apply(db, stop_before="0030_browse_search_and_links")  # an archive from before the links
    db.execute("INSERT INTO stories(id, article_id, first_seen) VALUES ('1', 1, '2026-11-01T00:00:00+00:00')")
    for aid, source, title, text in (
        (1, "vestnik", "Россия и Китай", "Россия и Китай подписали соглашение."),
        (2, "example.org", "中俄科技合作", "中俄科技合作取得新进展。"),
    ):
        db.execute(
            "INSERT INTO articles(id, url, canonical_url, source, title, text, story, fetched, first_seen)"
            " VALUES (?, ?, ?, ?, ?, ?, '1', '2026-11-01T00:00:00+00:00', '2026-11-01T00:00:00+00:00')",
            [aid, f"https://x/{aid}", f"https://x/{aid}", source, title, text],
        )
        db.execute("INSERT INTO aliases(url, article_id) VALUES (?, ?)", [f"https://x/{aid}", aid])
        db.execute(
            "INSERT INTO matches(article_id, topic, score, hits, matched_at) VALUES (?, 't', 2.0, '[]', 'now')", [aid]
        )
    db.conn.commit()
    db.close()
    with Store(path) as store:  # upgrades
        assert store.count("_aliases") == 2 and store.count("matches") == 2 and store.count("articles") == 2
        assert {r["name"] for r in store.query("SELECT name FROM sources")} >= {"vestnik", "example.org"}
        found = store.query(
            "SELECT rowid FROM articles_search WHERE articles_search MATCH ? ORDER BY rowid", ['"科技"']
        )
        assert [r["rowid"] for r in found] == [2]
        assert store.query("PRAGMA foreign_key_check") == []
        indexes = {r["name"] for r in store.query("SELECT name FROM sqlite_master WHERE tbl_name = 'articles'")}
        assert {"articles_story", "articles_fetched", "articles_source"} <= indexes
        store.delete_articles([2])  # the browse index forgets a deleted article
        assert store.query("SELECT rowid FROM articles_search WHERE articles_search MATCH ?", ['"科技"']) == []
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_without_datasette_the_hint_is_this_environments_own_pip(demo_dir: Path, monkeypatch: Any) -> None:
    import shutil

    from tests.support.cli import newswatch

    monkeypatch.setattr(shutil, "which", lambda *args, **kwargs: None)
    r = newswatch("-c", demo_dir / "newswatch-demo.toml", "datasette")
    assert r.returncode == 2
    assert f"install it beside newswatch ({sys.executable} -m pip install datasette)" in r.stderr, r.stderr


def test_stopping_newswatch_datasette_stops_datasette(demo_dir: Path) -> None:
    proc, base = start_datasette(demo_dir / "newswatch-demo.toml")
    try:
        assert answers(base)
        proc.send_signal(signal.SIGTERM)  # to newswatch only, as `kill PID` or a service manager does
        assert proc.wait(30) in (0, -signal.SIGTERM, 128 + signal.SIGTERM)
        deadline = time.monotonic() + 30
        while answers(base) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not answers(base), "datasette outlived newswatch datasette"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def gone(pid: int, timeout: float = 30) -> bool:
    """Whether process ``pid`` ends (or is only a zombie) within ``timeout`` seconds."""
    from crawler.procs import process_alive

    deadline = time.monotonic() + timeout
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not process_alive(pid)


def test_a_killed_newswatch_datasette_takes_datasette_with_it(demo_dir: Path) -> None:
    # SIGKILL (the OOM killer, an interrupted script's kill -9) gives newswatch no chance to stop its child:
    # datasette stayed, parent 1, serving the archive on its port
    proc, base = start_datasette(demo_dir / "newswatch-demo.toml")
    try:
        assert answers(base)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        deadline = time.monotonic() + 30
        while answers(base) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not answers(base), "datasette outlived a killed newswatch datasette"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_a_test_process_that_dies_leaves_no_newswatch_datasette_behind(demo_dir: Path) -> None:
    # an interrupted suite run (its xdist worker killed) skipped the fixtures' finalizers: the `newswatch datasette`
    # this module started, in a session of its own, and its datasette stayed with parent 1, round after round
    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from tests.test_datasette import start_datasette; "
            "proc, base = start_datasette(sys.argv[1]); print(proc.pid, base, flush=True); time.sleep(600)",
            str(demo_dir / "newswatch-demo.toml"),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=ends_with_this_process(),
    )
    started = None
    try:
        assert worker.stdout is not None
        line = worker.stdout.readline().split()
        assert len(line) == 2, "the stand-in test process did not start newswatch datasette"
        started, base = int(line[0]), line[1]
        assert answers(base)
        worker.kill()  # as an interrupted run's worker dies: no finalizer runs
        worker.wait(30)
        assert gone(started), "newswatch datasette outlived the test process that started it"
        deadline = time.monotonic() + 30
        while answers(base) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not answers(base), "datasette outlived the test process"
    finally:
        worker.kill()
        worker.wait(30)
        if started is not None:
            try:
                os.killpg(started, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_a_port_in_use_is_one_line_and_exit_2_not_datasettes_traceback(demo_dir: Path) -> None:
    from click.testing import CliRunner

    from scheduler.cli import cli

    cfg = str(demo_dir / "newswatch-demo.toml")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["-c", cfg, "datasette", "--port", str(port)])
    assert result.exit_code == 2
    assert result.output == (
        f"error: port {port} on 127.0.0.1 is already in use (another datasette?); choose another with --port\n"
    )


def test_dash_h_is_the_host_as_in_datasette_and_help_is_dash_dash_help(demo_dir: Path) -> None:
    from click.testing import CliRunner

    from scheduler.cli import cli

    cfg = str(demo_dir / "newswatch-demo.toml")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["-c", cfg, "datasette", "-h", "127.0.0.1", "--port", str(port)])
    assert result.exit_code == 2  # -h 127.0.0.1 was read as the host, and the port there is taken
    assert result.output == (
        f"error: port {port} on 127.0.0.1 is already in use (another datasette?); choose another with --port\n"
    )
    helped = CliRunner().invoke(cli, ["datasette", "--help"])
    assert helped.exit_code == 0 and "-h, --host" in helped.output and "Usage: " in helped.output
    # the other commands keep -h as help
    assert CliRunner().invoke(cli, ["search", "-h"]).output == CliRunner().invoke(cli, ["search", "--help"]).output


@pytest.mark.parametrize("args", [["-h"], ["-h", "--port", "8002"], ["--port", "8002", "-h"]])
def test_dash_h_alone_typed_for_help_says_it_is_the_host_and_where_help_is(args: list[str]) -> None:
    # before, click's "Option '-h' requires an argument." alone, with no word of --help
    from click.testing import CliRunner

    from scheduler.cli import cli

    result = CliRunner().invoke(cli, ["datasette", *args])
    assert result.exit_code == 2
    assert result.output == (
        "error: -h/--host needs an address: here -h is datasette's host, as in 'datasette serve -h 0.0.0.0' "
        "(default 127.0.0.1); this command's help is --help\n"
    )


@pytest.mark.parametrize(
    ("args", "listens"),
    [
        ((), ("127.0.0.1", 8001)),
        (("-p8002",), ("127.0.0.1", 8002)),
        (("-p", "8002"), ("127.0.0.1", 8002)),
        (("--port=8002",), ("127.0.0.1", 8002)),
        (("--port", "8002", "-p8003"), ("127.0.0.1", 8003)),  # the last wins, as in datasette
        (("-op8002",), ("127.0.0.1", 8002)),  # after a flag (-o: open a browser)
        (("-h::1", "-p", "8002"), ("::1", 8002)),
        (("--host=localhost",), ("localhost", 8001)),
        (("--secret", "-p9", "-s", "default_page_size", "-p8", "-m", "m.json"), ("127.0.0.1", 8001)),  # values
        (("-p8002", "--", "-p9"), ("127.0.0.1", 8002)),  # after '--': files
        (("-pnine",), None),  # datasette says what is wrong with it
        (("--uds", "/run/datasette.sock"), None),
    ],
)
def test_the_address_datasette_will_listen_on_is_read_from_its_own_options_however_written(
    args: tuple[str, ...], listens: tuple[str, int] | None
) -> None:
    from scheduler.cli import _datasette_listens

    assert _datasette_listens(args, "127.0.0.1", 8001) == listens


@pytest.mark.parametrize("written", ["-p{port}", "-- -p{port}", "-- --port={port}", "--port 8001 -- -p {port}"])
def test_a_port_in_use_given_as_datasettes_own_option_is_found_before_datasette_starts(
    demo_dir: Path, written: str
) -> None:
    from click.testing import CliRunner

    from scheduler.cli import cli

    cfg = str(demo_dir / "newswatch-demo.toml")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = written.format(port=port).split()
        result = CliRunner().invoke(cli, ["-c", cfg, "datasette", *args])
    assert result.exit_code == 2
    assert result.output == (
        f"error: port {port} on 127.0.0.1 is already in use (another datasette?); choose another with --port\n"
    )


def test_a_port_in_use_at_any_address_the_host_names_is_found(demo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # many machines name localhost ::1 first, then 127.0.0.1 (datasette listens at both); the port is taken at the
    # second only. This machine's own resolver may know one: the usual answer is made up.
    from click.testing import CliRunner

    from scheduler.cli import cli

    resolve = socket.getaddrinfo

    def both(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "localhost":
            return resolve("::1", *args, **kwargs) + resolve("127.0.0.1", *args, **kwargs)
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", both)
    cfg = str(demo_dir / "newswatch-demo.toml")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["-c", cfg, "datasette", "--host", "localhost", "--port", str(port)])
    assert result.exit_code == 2
    assert result.output == (
        f"error: port {port} on localhost (127.0.0.1) is already in use (another datasette?); "
        "choose another with --port\n"
    )
