"""A new user's first hour with the CLI: ad-hoc URLs, read-only use, pipes, and the safety options."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crawler.store import Store, define_guard
from scheduler.demo import demo_config_text
from tests.support.cli import Outcome, in_one_process, newswatch, on_a_terminal
from tests.support.demo import copy_demo
from tests.support.sitesrv import SiteServer

REPO = Path(__file__).resolve().parent.parent
LUNAR = "/globalwire/2026/11/17/russia-china-lunar-station-timetable.html"
IN_PROCESS = {"NEWSWATCH_WORKERS": "0"}  # pages are extracted in the crawl child: these tests are about --url


READER = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]  # root runs the reader as nobody

# a config without sources is warned of (test_check_warns_of_a_config_that_polls_nothing)
ONE_SOURCE = '[[sources]]\nname = "a"\nurl = "https://news.example.net/rss"\n'


def as_process(*args: str, stdin: str | None = None, **kw: Any) -> subprocess.CompletedProcess[str]:
    """The CLI in a real subprocess: for what needs one (another user, via ``prefix``)."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **kw.pop("env", {})}
    prefix = kw.pop("prefix", [])
    return subprocess.run(
        [*prefix, sys.executable, "-m", "scheduler.cli", *args],
        capture_output=True,
        text=True,
        input=stdin,
        cwd=REPO,
        env=env,
        timeout=180,
        **kw,
    )


@pytest.fixture
def demo_copy(demo_world: Path) -> Iterator[Path]:
    """A private copy of the shared demo's database and config in a folder anyone may enter (for the reader user)."""
    work = Path(tempfile.mkdtemp(prefix="nw-copy-"))
    os.chmod(work, 0o755)
    copy_demo(demo_world, work, "newswatch.toml")
    yield work
    os.chmod(work, 0o755)
    shutil.rmtree(work, ignore_errors=True)


def as_reader(work: Path) -> dict[str, Any]:
    """Make `work` and its database read-only for the user the commands then run as.

    As root (who ignores permission bits) the commands run as `nobody`; otherwise as us, with
    the write bits removed.
    """
    db = work / "newswatch-demo.db"
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    if os.geteuid() == 0:
        os.chmod(db, 0o644)
        os.chmod(work / "newswatch.toml", 0o644)
        return {"prefix": READER, "env": {"HOME": str(work)}}
    os.chmod(db, 0o444)
    os.chmod(work, 0o555)
    return {}


# -- crawl --url ------------------------------------------------------------------------------


def test_crawl_url_fetches_only_that_page_and_shows_what_was_extracted(site: Any, tmp_path: Path) -> None:
    cfg = tmp_path / "newswatch.toml"
    cfg.write_text(demo_config_text(site.base_url), encoding="utf-8")
    r = newswatch("-c", str(cfg), "crawl", "--url", site.base_url + LUNAR, "--json", env=IN_PROCESS)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    # the six configured sources were not polled: only the page was fetched
    assert [s["name"] for s in report["sources"]] == ["127.0.0.1"]
    assert report["totals"]["fetched"] <= 1 and report["totals"]["new"] == 1
    with sqlite3.connect(tmp_path / "newswatch-demo.db") as db:
        assert db.execute("SELECT count(*) FROM sources WHERE polls > 0").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM articles").fetchone()[0] == 1
    (page,) = report["pages"]
    assert page["title"] == "Russia and China agree timetable for joint lunar research station"
    assert page["language"] == "en" and page["published"].startswith("2026-11-17")
    (topic,) = page["topics"]
    assert topic["name"] == "china-russia-st" and topic["score"] > 1 and topic["hits"]
    assert page["first_lines"] and "lunar" in " ".join(page["first_lines"]).lower()

    text = newswatch("-c", str(cfg), "crawl", "--url", site.base_url + LUNAR, env=IN_PROCESS)
    assert text.returncode == 0, text.stderr
    assert "title:     Russia and China agree timetable" in text.stdout
    assert "topic:     china-russia-st score" in text.stdout
    # the page was stored by the first crawl: the second says so, and what it matched then; its row in the
    # table is named by the URL given (not by its host) and counts it as matched, not "matched 0"
    fetched = datetime.fromisoformat(page["fetched"]).astimezone(UTC)
    assert (
        f"stored:    already, on {fetched:%Y-%m-%d %H:%M} UTC; not stored again, topics as matched then" in text.stdout
    )
    table = text.stdout.split("\n\n")[-1].splitlines()
    assert table[0].split() == ["url", "status", "fetched", "new", "duplicates", "matched", "errors"]
    assert table[2].split() == [site.base_url + LUNAR, "already", "stored", "1", "0", "1", "1", "0"]
    assert table[3].split() == ["total", "1", "0", "1", "1", "0"]


def test_crawl_url_on_a_narrow_terminal_wraps_its_lines_and_fits_its_table(site: Any, tmp_path: Path) -> None:
    # the topic line lists every term that hit (hundreds of characters) and the table's row is named by the whole
    # URL: on an 80-column terminal both ran past the edge, folded by the terminal mid-word. Each line is wrapped
    # under its label now and the URL shortened in the middle in the table; into a pipe they stay whole (above).
    import unicodedata

    cfg = tmp_path / "newswatch.toml"
    cfg.write_text(demo_config_text(site.base_url), encoding="utf-8")
    shown = on_a_terminal(["-c", cfg, "crawl", "--url", site.base_url + LUNAR], 80, IN_PROCESS)
    page, table = shown.rstrip("\n").split("\n\n")[-2:]
    lines = page.split("\n")[1:] + table.split("\n")  # the URL on its own line above the page stays whole
    columns = [sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line) for line in lines]
    assert max(columns) <= 80, shown
    (topic,) = [i for i, line in enumerate(lines) if line.startswith("  topic:     china-russia-st score")]
    assert lines[topic + 1].startswith(" " * 13) and lines[topic + 1][13] != " ", shown  # wrapped under its value
    row = table.split("\n")[2].split()
    assert row[0].startswith(site.base_url[:15]) and "…" in row[0] and row[0].endswith(".html"), table
    assert row[1:] == ["stored", "1", "1", "0", "1", "0"], table


def test_crawl_table_names_each_url_beside_the_sources(site: Any, tmp_path: Path) -> None:
    # a source and two pages on the same host: one row per page, named by its URL as given (the missing one's
    # error names it percent-encoded), and the total adds them up
    cfg = tmp_path / "newswatch.toml"
    cfg.write_text(demo_config_text(site.base_url), encoding="utf-8")
    missing = site.base_url + "/globalwire/нет-такой-страницы.html"
    r = newswatch("-c", cfg, "crawl", "vestnik", "--url", site.base_url + LUNAR, "--url", missing, env=IN_PROCESS)
    assert r.returncode == 0, r.stderr
    table = r.stdout.split("\n\n")[-1].splitlines()
    assert table[0].split()[0] == "source"
    vestnik = table[2].split()
    assert vestnik[:2] == ["vestnik", "ok"]
    assert table[3].split() == [site.base_url + LUNAR, "stored", "1", "1", "0", "1", "0"]
    assert table[4].split() == [missing, "failed", "1", "0", "0", "0", "1"]
    total = table[5].split()
    assert total[0] == "total" and len(table) == 6
    assert f"{missing}\n  error: {site.base_url}/globalwire/%D0%BD%D0%B5%D1%82" in r.stdout
    assert [int(n) for n in total[1:]] == [int(a) + int(b) for a, b in zip(vestnik[2:], [2, 1, 0, 1, 1])]


def test_crawl_url_given_twice_with_tracking_parameters_counts_one_article(site: Any, tmp_path: Path) -> None:
    # the same article once with utm_source and once without: both were fetched and the table counted one stored
    # article as matched 2 (the second row 'already stored'); it is fetched and counted once, and a line says so
    cfg = tmp_path / "newswatch.toml"
    cfg.write_text(demo_config_text(site.base_url), encoding="utf-8")
    tracked = site.base_url + LUNAR + "?utm_source=x"
    r = newswatch("-c", cfg, "crawl", "--url", tracked, "--url", site.base_url + LUNAR, env=IN_PROCESS)
    assert r.returncode == 0, r.stderr
    table = r.stdout.split("\n\n")[-1].splitlines()
    assert table[2].split() == [tracked, "stored", "1", "1", "0", "1", "0"], r.stdout
    assert table[3].split() == ["total", "1", "1", "0", "1", "0"], r.stdout
    assert f"warning: '{site.base_url + LUNAR}' names the page '{tracked}' does" in r.stderr, r.stderr
    assert site.hits(LUNAR) == 1


def test_crawl_url_of_a_feed_a_sitemap_or_a_listing_says_what_it_is_and_what_to_do(site: Any, tmp_path: Path) -> None:
    # each said only "no article text could be extracted from the page"
    from urllib.parse import quote

    cfg = tmp_path / "newswatch.toml"
    cfg.write_text(demo_config_text(site.base_url), encoding="utf-8")
    # a listing of picture tiles: no text to take for an article's
    links = "".join(f'<a href="/news/2026/11/{d}/story-{d}.html"><img src="/{d}.jpg" alt=""></a>' for d in (17, 18, 19))
    listing = f"{site.base_url}/_fault/text?body=" + quote(f"<html><body>{links}</body></html>")
    feed, sitemap = site.base_url + "/globalwire/rss.xml", site.base_url + "/sitemap-index.xml"
    args = ["-c", cfg, "crawl", "--url", feed, "--url", sitemap, "--url", listing, "--json"]
    r = newswatch(*args, env=IN_PROCESS)
    assert r.returncode == 1, r.stderr
    pages = {p["url"]: p for p in json.loads(r.stdout)["pages"]}
    for url, what in ((feed, "a feed"), (sitemap, "a sitemap index"), (listing, "a listing of articles")):
        assert pages[url]["error"] == (
            f"the page is {what}, not an article: to poll it, add it as a source (newswatch sources add NAME {url}); "
            f"newswatch probe {url} shows what it lists"
        ), pages[url]
    text = newswatch("-c", cfg, "crawl", "--url", feed, env=IN_PROCESS)
    assert f"{feed}\n  error: the page is a feed, not an article: to poll it" in text.stdout, text.stdout


@pytest.fixture(scope="module")
def ad_hoc_pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any], Outcome]]:
    """One `crawl --url A --url B --urls-from - --json` (one crawl child, not two): the site's base URL,
    the pages reported (by URL) and the outcome. A and B: a page with no article text and a URL that
    extends it and answers 404; stdin: a comment, a good page with a comment after it, a blank line and a
    missing page."""
    with SiteServer(REPO / "fixtures" / "site") as site:
        cfg = tmp_path_factory.mktemp("adhoc") / "newswatch.toml"
        cfg.write_text(demo_config_text(site.base_url), encoding="utf-8")
        short = f"{site.base_url}/_fault/text?body=hello"  # answers, but holds no article text
        longer = short + "&status=404"  # its error line starts with the short URL
        urls = (
            f"# two pages\n{site.base_url}{LUNAR}  # the lunar story\n\n{site.base_url}/globalwire/no-such-page.html\n"
        )
        args = ["-c", str(cfg), "crawl", "--url", short, "--url", longer, "--urls-from", "-", "--json"]
        r = newswatch(*args, stdin=urls, env=IN_PROCESS)
        yield site.base_url, {p["url"]: p for p in json.loads(r.stdout)["pages"]}, r


def test_crawl_urls_from_stdin_and_a_failed_page(ad_hoc_pages: tuple[str, dict[str, Any], Outcome]) -> None:
    base, pages, r = ad_hoc_pages
    assert r.returncode == 0, r.stderr
    assert pages[base + LUNAR]["language"] == "en"
    assert pages[base + "/globalwire/no-such-page.html"]["status"] == "error"
    assert "404" in pages[base + "/globalwire/no-such-page.html"]["error"]


def test_a_bad_line_of_urls_from_is_named_by_its_line(tmp_path: Path) -> None:
    cfg = tmp_path / "newswatch.toml"
    cfg.write_text(demo_config_text("http://127.0.0.1:9"), encoding="utf-8")
    urls = "# pages\nhttp://127.0.0.1:9/a.html#part\nexample.org/b.html\n"
    r = newswatch("-c", cfg, "crawl", "--urls-from", "-", stdin=urls)
    assert r.returncode == 2
    assert r.stderr.startswith("error: --urls-from <stdin>, line 3: 'example.org/b.html' is not an http(s) URL"), (
        r.stderr
    )


def test_urls_from_a_file_saved_with_a_byte_order_mark_or_not_in_utf8(tmp_path: Path) -> None:
    """Notepad's UTF-8 starts with a byte-order mark: its first URL was 'not an http(s) URL'. A file in another
    encoding (a comment in windows-1251) was an 'unexpected UnicodeDecodeError ... please report it', exit 1."""
    cfg = tmp_path / "newswatch.toml"
    cfg.write_text(demo_config_text("http://127.0.0.1:9"), encoding="utf-8")
    urls = tmp_path / "urls.txt"
    urls.write_bytes(b"\xef\xbb\xbfhttp://127.0.0.1:9/a.html\r\nexample.org/b.html\r\n")
    r = newswatch("-c", cfg, "crawl", "--urls-from", urls)
    assert r.returncode == 2
    assert r.stderr.startswith(f"error: --urls-from {urls}, line 2: 'example.org/b.html' is not an http(s) URL"), (
        r.stderr
    )
    urls.write_bytes("http://127.0.0.1:9/a.html  # Новости\n".encode("cp1251"))
    r = newswatch("-c", cfg, "crawl", "--urls-from", urls)
    assert r.returncode == 2
    assert r.stderr == f"error: --urls-from {urls}, line 1: not UTF-8 text; save the file as UTF-8\n"


def test_a_crawl_in_which_every_source_failed_ends_with_one_line_saying_so(tmp_path: Path) -> None:
    # offline or with DNS broken, each source says "host name not found": the last line names the likely cause
    cfg = tmp_path / "newswatch.toml"
    sources = "".join(
        f'[[sources]]\nname = "{name}"\nurl = "{url}"\n\n'
        for name, url in (("a", "http://feeds.nowhere.invalid/rss"), ("b", "http://news.nowhere.invalid/rss"))
    )
    cfg.write_text(f'[storage]\ndatabase = "nw.db"\n[crawl]\ntimeout = "5s"\n\n{sources}', encoding="utf-8")
    r = newswatch("-c", cfg, "crawl", env=IN_PROCESS)
    assert r.returncode == 1
    last = r.stderr.splitlines()[-1]
    assert last == (
        "error: all 2 selected sources failed; no host name could be looked up: check this machine's network "
        "and DNS (or http_proxy/https_proxy)"
    ), r.stderr
    cfg.write_text(
        '[storage]\ndatabase = "nw.db"\n[crawl]\nallow_private = true\n\n'
        '[[sources]]\nname = "local"\nurl = "http://127.0.0.1:9/rss"\n',
        encoding="utf-8",
    )
    r = newswatch("-c", cfg, "-q", "crawl", env=IN_PROCESS)  # refused, not unresolved: no network hint
    assert r.returncode == 1 and r.stderr.splitlines()[-1] == "error: local failed", r.stderr


def test_a_crawl_timeout_of_zero_is_refused_not_read_as_no_limit(tmp_path: Path) -> None:
    cfg = tmp_path / "newswatch.toml"
    cfg.write_text(demo_config_text("http://127.0.0.1:9"), encoding="utf-8")
    r = newswatch("-c", cfg, "crawl", "--timeout", "0s")
    assert r.returncode == 2
    assert r.stderr == "error: --timeout '0s' must be longer than zero; leave it out for no limit\n"


def test_every_duration_option_reads_zero_and_plain_seconds_alike(tmp_path: Path) -> None:
    # crawl --timeout 0 said "'0' is not a duration" where 0s "must be longer than zero", and refused the plain number
    # of seconds search --timeout takes; sources add --every 0 wrote nothing but said "not a duration"
    cfg = tmp_path / "newswatch.toml"
    cfg.write_text('[[sources]]\nname = "local"\nurl = "http://127.0.0.1:9/rss"\n', encoding="utf-8")
    zero = {
        ("crawl", "--timeout"): "leave it out for no limit",
        ("search", "x", "--timeout"): "give at least 0.1s (the default is 60s)",
        ("sources", "add", "b", "http://127.0.0.1:9/b", "--every"): "give how often to poll it, such as 30m",
    }
    for command, hint in zero.items():
        for value in ("0", "0s", "0m"):
            r = newswatch("-c", cfg, *command, value)
            assert (r.returncode, r.stderr) == (
                2,
                f"error: --every must be longer than zero; {hint}\n".replace("--every", f"{command[-1]} '{value}'"),
            ), r.stderr
    r = newswatch("-c", cfg, "-q", "crawl", "--timeout", "90", env=IN_PROCESS)  # 90 seconds: the crawl runs
    assert r.returncode == 1 and r.stderr.splitlines()[-1] == "error: local failed", r.stderr
    r = newswatch("-c", cfg, "crawl", "--timeout", "soon")
    assert r.stderr == "error: --timeout 'soon' is not a duration; use 30s, 15m, 6h or 1d\n"
    from scheduler.cli import _duration_text

    assert [_duration_text(v) for v in ("90", "30m", "1.5")] == ["1m30s", "30m", "1500ms"]  # as sources add writes it


def test_crawl_url_errors_go_to_their_own_page_when_one_url_is_a_prefix_of_another(
    ad_hoc_pages: tuple[str, dict[str, Any], Outcome],
) -> None:
    base, pages, _r = ad_hoc_pages
    short = f"{base}/_fault/text?body=hello"
    longer = short + "&status=404"
    assert pages[longer]["status"] == "error" and "404" in pages[longer]["error"]
    assert pages[short]["status"] == "error"
    assert pages[short]["error"] == "no article text found on the page", pages[short]


def test_an_error_line_names_a_whole_url_not_the_start_of_a_longer_one() -> None:
    from scheduler.cli import url_named

    short, longer = "http://h.example/a?id=1", "http://h.example/a?id=10"
    assert url_named(f"{longer} answered HTTP 404", [short, longer]) == longer
    assert url_named(f"{longer} answered HTTP 404", [short]) is None
    assert url_named(f"{short} answered HTTP 404", [short, longer]) == short
    assert url_named(f"{short}: timed out", [short, longer]) == short
    assert url_named(f"redirected to {short}.", [longer, short]) == short
    assert url_named(f"{short}/more answered HTTP 404", [short]) is None


# -- read-only use, pipes, ordinary OS conditions --------------------------------------------------


def test_read_only_commands_work_for_a_user_who_may_only_read(demo_copy: Path) -> None:
    cfg = str(demo_copy / "newswatch.toml")
    kw = as_reader(demo_copy)
    out = Path(tempfile.mkdtemp(prefix="nw-out-"))
    os.chmod(out, 0o777)
    try:  # the five commands in one process of the reader's (the user is at stake, not each command's process)
        search, export, sources, digest, prune = in_one_process(
            ["-c", cfg, "search", "lunar", "--json"],
            ["-c", cfg, "export", "--matched"],
            ["-c", cfg, "sources", "--json"],
            ["-c", cfg, "digest", "--output", str(out / "d.html")],
            ["-c", cfg, "prune", "--older-than", "0s", "--force"],
            prefix=kw.get("prefix", ()),
            env={"PYTHONDONTWRITEBYTECODE": "1", **kw.get("env", {})},
        )
        assert search.returncode == 0, search.stderr
        assert any("lunar" in r["title"].lower() for r in json.loads(search.stdout))
        assert export.returncode == 0, export.stderr
        assert len(export.stdout.splitlines()) >= 5
        assert sources.returncode == 0, sources.stderr
        assert {s["name"] for s in json.loads(sources.stdout)} >= {"globalwire", "vestnik", "huaxia"}
        assert digest.returncode == 0, digest.stderr
        assert (out / "d.html").stat().st_size > 1000
    finally:
        shutil.rmtree(out, ignore_errors=True)
    # a write names the database and the permission it needs, in one line
    assert prune.returncode == 1
    (line,) = prune.stderr.strip().splitlines()
    assert "newswatch-demo.db" in line and "write permission" in line and "unexpected" not in line


def test_run_on_a_database_it_cannot_write_exits_2_naming_what_check_warns_of(demo_copy: Path) -> None:
    # a config/environment problem (DESIGN: exit 2), which the unit does not restart (RestartPreventExitStatus=2):
    # starting again every 10 s cannot give the service user a permission
    cfg = str(demo_copy / "newswatch.toml")
    kw = as_reader(demo_copy)
    run = as_process("-c", cfg, "run", **kw)
    assert run.returncode == 2, run.stderr
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith("error: storage.database: ") and "is not writable by this user" in line
    assert line.endswith("('newswatch check' warns of it too); fix it, then start newswatch again")
    check = as_process("-c", cfg, "check", **kw)
    assert check.returncode == 0
    problem = line.removeprefix("error: storage.database: ").split(" ('newswatch check'")[0]
    assert f"warning: storage.database: {problem}" in check.stderr

    other = demo_copy / "notes.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE notes (x)")
    (demo_copy / "other.toml").write_text(f'[storage]\ndatabase = "{other}"\n', encoding="utf-8")
    run = as_process("-c", str(demo_copy / "other.toml"), "run")
    assert run.returncode == 2, run.stderr
    assert (
        run.stderr
        == f"error: {other} is not a newswatch database (it holds the tables notes); check [storage] database\n"
    )


def test_run_and_check_name_a_wal_file_another_user_left_that_the_service_user_cannot_write(demo_copy: Path) -> None:
    # the database is open (a -wal with its last writes) and its -wal is not the service user's to write (SQLite
    # gives a new one the database's owner and mode; one copied in or chmod'ed by hand keeps its own): the service
    # user may write the database and its folder, and still cannot write the database
    if os.geteuid() != 0:
        pytest.skip("another user's -wal file needs root")
    db = demo_copy / "newswatch-demo.db"
    os.chmod(demo_copy, 0o777)
    os.chmod(db, 0o666)
    os.chmod(demo_copy / "newswatch.toml", 0o644)
    cfg = str(demo_copy / "newswatch.toml")
    kw = {"prefix": READER, "env": {"HOME": str(demo_copy)}}
    with Store(db) as store:
        store.set_state("held.by", "root")  # the -wal file has something in it
        os.chmod(f"{db}-wal", 0o644)
        run = as_process("-c", cfg, "run", **kw)
        check = as_process("-c", cfg, "check", **kw)
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith(f"error: storage.database: {db}-wal is not writable by this user, so neither is")
    assert f"warning: storage.database: {db}-wal is not writable by this user" in check.stderr


def export_into(demo_copy: Path, stdout: Any) -> subprocess.CompletedProcess[str]:
    """`newswatch export` in a subprocess writing to the file (descriptor) ``stdout``: its real stdout is at stake."""
    return subprocess.run(
        [sys.executable, "-m", "scheduler.cli", "-c", str(demo_copy / "newswatch.toml"), "export"],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def test_export_into_a_closed_pipe_ends_quietly(demo_copy: Path) -> None:
    r, w = os.pipe()
    os.close(r)  # the reader is gone before the first line, as with `| head -0`
    try:
        proc = export_into(demo_copy, w)
    finally:
        os.close(w)
    assert proc.returncode == 0
    assert proc.stderr == ""


def test_backup_refuses_to_overwrite_and_names_a_missing_folder(demo_copy: Path) -> None:
    cfg = str(demo_copy / "newswatch.toml")
    target = demo_copy / "copy.db"
    target.write_text("keep me")
    r = newswatch("-c", cfg, "backup", str(target))
    assert r.returncode == 2 and "--force" in r.stderr
    assert target.read_text() == "keep me"
    r = newswatch("-c", cfg, "backup", str(target), "--force")
    assert r.returncode == 0, r.stderr
    with sqlite3.connect(target) as db:
        assert db.execute("SELECT count(*) FROM articles").fetchone()[0] > 10
    missing = demo_copy / "no" / "such" / "copy.db"
    r = newswatch("-c", cfg, "backup", str(missing))
    assert r.returncode == 2
    (line,) = r.stderr.strip().splitlines()
    assert str(missing.parent) in line and "does not exist" in line and "unexpected" not in line


def test_digest_output_refuses_a_missing_folder_as_export_does(demo_copy: Path) -> None:
    # digest --output made the missing folders (a typo in the path made a tree) and exited 0, where export -o and
    # backup refuse; now it is refused with export's line and nothing is made
    cfg = str(demo_copy / "newswatch.toml")
    folder = demo_copy / "no" / "such"
    for command, name in ((["digest", "--output"], "d.html"), (["export", "-o"], "e.jsonl")):
        r = newswatch("-c", cfg, *command, str(folder / name))
        assert (r.returncode, r.stderr) == (
            2,
            f"error: --output {folder / name}: the folder {folder} does not exist; create it first\n",
        )
    assert not (demo_copy / "no").exists()


def test_backup_never_writes_over_the_database_or_the_files_beside_it(demo_copy: Path) -> None:
    # `backup newswatch.db-wal --force` (a tab completion away) would replace the log the daemon writes to
    cfg = str(demo_copy / "newswatch.toml")
    db = demo_copy / "newswatch-demo.db"
    with sqlite3.connect(db) as conn:  # a log with something in it, as while the daemon runs
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        define_guard(conn)  # newswatch's own write (an older version's may not)
        conn.execute("INSERT INTO _state (key, value) VALUES ('eng-daemon-test', 'kept')")
        conn.commit()
        wal = Path(f"{db}-wal")
        before = wal.read_bytes()
        for suffix, what in (
            ("", "the database itself"),
            ("-wal", "the database's write-ahead log"),
            ("-shm", "the database's shared-memory index"),
            (".lock", "the daemon's lock on the database"),
        ):
            target = demo_copy / ".." / demo_copy.name / f"{db.name}{suffix}"
            r = newswatch("-c", cfg, "backup", str(target), "--force")
            assert r.returncode == 2, r.stdout + r.stderr
            assert r.stderr == f"error: {target} is {what}; choose another FILE\n"
        assert wal.read_bytes() == before
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT value FROM _state WHERE key = 'eng-daemon-test'").fetchone() == ("kept",)


def test_prune_dry_run_counts_and_deletes_nothing(demo_copy: Path) -> None:
    cfg = str(demo_copy / "newswatch.toml")
    db = demo_copy / "newswatch-demo.db"
    before = sqlite3.connect(db).execute("SELECT count(*) FROM articles").fetchone()[0]
    r = newswatch("-c", cfg, "prune", "--older-than", "0s", "--dry-run")
    assert r.returncode == 0, r.stderr
    would = int(r.stdout.split()[2])
    assert 0 < would < before  # unsent matched stories are kept
    assert sqlite3.connect(db).execute("SELECT count(*) FROM articles").fetchone()[0] == before
    r = newswatch("-c", cfg, "prune", "--older-than", "0s", "--force")
    assert r.stdout.startswith(f"deleted {would} articles")
    # the cutoff is shown as a time, so "6m" (minutes, not months) reads as what it is
    r = newswatch("-c", cfg, "prune", "--older-than", "6m", "--dry-run")
    cutoff = (datetime.now(UTC) - timedelta(minutes=6)).strftime("%Y-%m-%d")
    assert r.stdout.startswith(f"would delete 0 articles fetched before {cutoff} "), r.stdout
    assert "UTC (older than 6m) (dry run; nothing deleted; under 7d the real run needs --force)" in r.stdout


def test_prune_under_a_week_is_refused_unless_forced(demo_copy: Path) -> None:
    # "0s", or "6m" meant as six months, would empty the archive: refused with exit 2 and how to do it on
    # purpose; the dry run still counts, and says the real run needs --force
    cfg = str(demo_copy / "newswatch.toml")
    db = demo_copy / "newswatch-demo.db"
    before = sqlite3.connect(db).execute("SELECT count(*) FROM articles").fetchone()[0]
    for duration in ("0s", "6m", "6d23h", "1h30m"):  # only months written as minutes get the hint
        r = newswatch("-c", cfg, "prune", "--older-than", duration)
        assert r.returncode == 2, r.stdout + r.stderr
        (line,) = r.stderr.strip().splitlines()
        assert f"--older-than '{duration}' keeps only the last {duration} of the archive" in line
        assert "refuses durations under 7d" in line and "add --force" in line and "--dry-run" in line
        assert ("six months is 180d" in line) == (duration == "6m")
    assert sqlite3.connect(db).execute("SELECT count(*) FROM articles").fetchone()[0] == before
    r = newswatch("-c", cfg, "prune", "--older-than", "1h", "--dry-run")
    assert r.returncode == 0 and "nothing deleted; under 7d the real run needs --force)" in r.stdout
    r = newswatch("-c", cfg, "prune", "--older-than", "7d")  # a week or more needs no --force
    assert r.returncode == 0 and r.stdout.startswith("deleted "), r.stderr


def _storage_at(tmp_path: Path, database: Path) -> Path:
    cfg = tmp_path / "newswatch.toml"
    cfg.write_text(f'[storage]\ndatabase = "{database}"\n', encoding="utf-8")
    return cfg


@pytest.fixture
def read_only_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs holding a newswatch database, mounted read-only (needs root and mount(8)); skipped elsewhere."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("a read-only disk needs root to mount a tmpfs")
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip()}")
    try:
        Store(mnt / "nw.db").close()
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_database_on_a_read_only_file_system_is_named_so_not_as_a_permission_to_get(
    tmp_path: Path, read_only_disk: Path
) -> None:
    # as /etc is for the service under the unit's ProtectSystem=strict: a database left beside the config (init's
    # "newswatch.db") cannot be written whatever the permissions; running as the service user would not help
    env = {"STATE_DIRECTORY": "/var/lib/newswatch"}
    for db in (read_only_disk / "nw.db", read_only_disk / "new.db"):  # one there, one to make
        cfg = _storage_at(tmp_path, db)
        r = newswatch("-c", cfg, "prune", "--older-than", "30d", env=env)
        assert r.returncode == 1
        assert r.stderr == (
            f"error: cannot write the database {db}: it lies on a read-only file system; set [storage] database to a "
            'file on a writable one (the systemd service may write only /var/lib/newswatch: "/var/lib/newswatch/newswatch.db")\n'
        )
        r = newswatch("-c", cfg, "check", env=env)
        assert r.returncode == 0
        assert (
            f"warning: storage.database: {db} lies on a read-only file system; crawl, digest and run need" in r.stderr
        )
    r = newswatch("-c", _storage_at(tmp_path, read_only_disk / "nw.db"), "search", "lunar")
    assert r.returncode == 0, r.stderr  # reading it is fine


def test_a_database_to_upgrade_on_a_read_only_file_system_is_named_so_by_the_commands_that_read_it(
    tmp_path: Path, read_only_disk: Path
) -> None:
    # a backup on read-only media, from an older newswatch: no user may write the upgrade there, so "run it once
    # as a user with write permission on it" sent the reader looking for one
    db = read_only_disk / "nw.db"
    subprocess.run(["mount", "-o", "remount,rw", str(read_only_disk)], check=True)
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("DELETE FROM _sqlite_migrations WHERE rowid = (SELECT max(rowid) FROM _sqlite_migrations)")
    conn.close()
    subprocess.run(["mount", "-o", "remount,ro", str(read_only_disk)], check=True)
    r = newswatch("-c", _storage_at(tmp_path, db), "search", "lunar")
    assert r.returncode == 1
    assert r.stderr == (
        f"error: the database {db} was made by an older newswatch and needs an upgrade, which cannot be written "
        "where it lies: on a read-only file system; copy it to a writable one and set [storage] database to the copy\n"
    )


def test_a_database_path_that_is_a_folder_or_under_a_file_is_named_for_what_it_is(tmp_path: Path) -> None:
    # `database = "/var/lib/newswatch"` (the folder) or a path under a file: one line saying so, not SQLite's
    # "disk I/O error" or "File exists"; check warns of it too
    folder = tmp_path / "state"
    folder.mkdir()
    cfg = _storage_at(tmp_path, folder)
    for args in (["search", "lunar"], ["export"], ["prune", "--older-than", "30d"]):
        r = newswatch("-c", cfg, *args)
        assert r.returncode == 1, r.stdout + r.stderr
        assert r.stderr == (
            f"error: the database {folder} is a folder, not a file; set [storage] database to a file, "
            f"e.g. {folder / 'newswatch.db'}\n"
        )
    r = newswatch("-c", cfg, "check")
    assert f"warning: storage.database: {folder} is a folder, not a file" in r.stderr
    notes = tmp_path / "notes.txt"
    notes.write_text("not a folder")
    cfg = _storage_at(tmp_path, notes / "nw.db")
    r = newswatch("-c", cfg, "prune", "--older-than", "30d")
    assert r.returncode == 1
    assert r.stderr == (
        f"error: cannot make the database {notes / 'nw.db'}: {notes} is a file, not a folder; check [storage] database\n"
    )
    r = newswatch("-c", cfg, "check")
    assert (
        f"warning: storage.database: {notes} is a file, not a folder, so {notes / 'nw.db'} cannot be made" in r.stderr
    )


def test_an_empty_database_file_is_no_database_yet_and_another_programs_is_left_alone(tmp_path: Path) -> None:
    empty = tmp_path / "nw.db"
    empty.write_bytes(b"")  # `touch nw.db`, or a first write that failed
    cfg = _storage_at(tmp_path, empty)
    for args in (["search", "lunar"], ["export"], ["sources"]):
        r = newswatch("-c", cfg, *args)
        assert r.returncode == 1, r.stdout + r.stderr
        assert r.stderr == f"error: no database at {empty} yet (the file is empty); run 'newswatch crawl' first\n"
    assert newswatch("-c", cfg, "prune", "--older-than", "30d").returncode == 0  # a write makes it one
    assert newswatch("-c", cfg, "export").returncode == 0

    other = tmp_path / "notes.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE notes (x)")
    cfg = _storage_at(tmp_path, other)
    for args in (["search", "lunar"], ["prune", "--older-than", "30d"]):
        r = newswatch("-c", cfg, *args)
        assert r.returncode == 1, r.stdout + r.stderr
        assert (
            r.stderr
            == f"error: {other} is not a newswatch database (it holds the tables notes); check [storage] database\n"
        )
    with sqlite3.connect(other) as db:  # not turned into a newswatch database, not switched to WAL
        assert [r[0] for r in db.execute("SELECT name FROM sqlite_master")] == ["notes"]
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_a_digest_to_an_internationalized_address(demo_copy: Path, smtp_factory: Any) -> None:
    # a server without SMTPUTF8 (many): a domain in Cyrillic still goes out, in its ASCII form in the envelope
    # and the headers (not an encoded word no client reads as an address); a mailbox name in Cyrillic cannot,
    # and says why instead of "the connection was lost"
    smtp = smtp_factory(smtputf8=False)
    cfg = demo_copy / "newswatch.toml"
    with cfg.open("a", encoding="utf-8") as f:
        f.write(
            f'\n[smtp]\nhost = "127.0.0.1"\nport = {smtp.port}\nsecurity = "none"\nsender = "Новости <nw@пример.рф>"\n'
        )
    r = newswatch("-c", cfg, "digest", "--to", "analyst@пример.рф")
    assert r.returncode == 0, r.stderr
    (sent,) = smtp.messages
    assert sent.mail_from == "nw@xn--e1afmkfd.xn--p1ai" and sent.rcpt_tos == ("analyst@xn--e1afmkfd.xn--p1ai",)
    assert sent.message["To"] == "analyst@xn--e1afmkfd.xn--p1ai"
    assert sent.message["From"] == "Новости <nw@xn--e1afmkfd.xn--p1ai>"
    r = newswatch("-c", cfg, "digest", "--to", "аналитик@example.org")
    assert r.returncode == 1
    assert (
        f"the SMTP server 127.0.0.1:{smtp.port} does not accept internationalized mail (SMTPUTF8), which "
        "аналитик@example.org needs for the non-ASCII part before its '@'; use an ASCII address" in r.stderr
    )
    assert len(smtp.messages) == 1


def test_a_preview_with_nothing_due_says_the_digest_would_send_nothing(tmp_path: Path, smtp: Any) -> None:
    # --to still mails the (empty) preview: it is how a user tries the mail set-up; but it must not look like what
    # the schedule will send, which with send_empty = false is nothing
    from tests.support.configs import mail_config

    for send_empty in (False, True):
        cfg = tmp_path / f"empty-{send_empty}.toml"
        cfg.write_text(
            f'[storage]\ndatabase = "{tmp_path / "nw.db"}"\n[[topics]]\nname = "space"\nquery = "lunar"\n'
            + mail_config(smtp.port, send_empty=send_empty),
            encoding="utf-8",
        )
        r = newswatch("-c", cfg, "digest", "--to", "boss@example.org")
        assert r.returncode == 0, r.stderr
        note = "; nothing is due: with send_empty = false the scheduled digest sends nothing now"
        # whose digest it previews, not the address it went to twice ('boss@example.org: preview of 0 stories sent to
        # boss@example.org')
        line = "preview of analyst@example.org's digest (0 stories) sent to boss@example.org"
        assert r.stdout.splitlines()[0] == line + (note if not send_empty else "")
        # a dry run's line said neither whose digest nor that it is a preview ('boss@example.org: would send 0
        # stories (dry run)'), read as boss's own digest
        r = newswatch("-c", cfg, "digest", "--dry-run", "--to", "boss@example.org")
        assert r.returncode == 0, r.stderr
        line = "preview of analyst@example.org's digest (0 stories) would be sent to boss@example.org (dry run)"
        assert r.stdout.splitlines()[0] == line + (note if not send_empty else "")
        r = newswatch("-c", cfg, "digest", "--output", str(tmp_path / "d.html"))
        assert r.stdout.splitlines()[0] == "analyst@example.org: digest of 0 stories written" + (
            note if not send_empty else ""
        )
    assert len(smtp.messages) == 2  # the two previews: nothing else was sent

    text = cfg.read_text(encoding="utf-8")  # send_empty = true
    with cfg.open("a", encoding="utf-8") as f:
        f.write('\n[[digest.recipients]]\nemail = "editor@example.org"\n')
    r = newswatch("-c", cfg, "digest", "--to", "boss@example.org", "--recipient", "editor@example.org")
    assert r.stdout == "preview of editor@example.org's digest (0 stories) sent to boss@example.org\n", r.stderr
    cfg.write_text(text.replace('[[digest.recipients]]\nemail = "analyst@example.org"\n', ""), encoding="utf-8")
    r = newswatch("-c", cfg, "digest", "--to", "boss@example.org")
    assert (
        r.stdout == "preview of a digest of all topics (0 stories; no recipient configured) sent to boss@example.org\n"
    )
    r = newswatch("-c", cfg, "digest", "--dry-run", "--to", "boss@example.org")
    assert r.stdout.splitlines()[0] == (
        "preview of a digest of all topics (0 stories; no recipient configured) would be sent to boss@example.org "
        "(dry run)"
    ), r.stderr
    assert len(smtp.messages) == 4  # the dry runs mailed nothing


# -- check warnings -------------------------------------------------------------------------------


def test_check_warns_on_init_placeholders_and_an_unwritable_database_folder(tmp_path: Path) -> None:
    cfg = tmp_path / "newswatch.toml"
    assert newswatch("init", str(cfg)).returncode == 0
    r = newswatch("-c", str(cfg), "check")
    assert r.returncode == 0, r.stderr
    warnings = [line for line in r.stderr.splitlines() if line.startswith("warning: ")]
    text = "\n".join(warnings)
    assert "digest.recipients[0].email: analyst@example.org" in text
    assert "crawl.user_agent" in text and "smtp.host" in text and "smtp.sender" in text
    assert len(warnings) == 4

    ro = Path(tempfile.mkdtemp(prefix="nw-ro-"))
    try:
        cfg2 = ro / "ro.toml"
        cfg2.write_text(f'[storage]\ndatabase = "sub/nw.db"\n{ONE_SOURCE}', encoding="utf-8")
        os.chmod(cfg2, 0o644)
        os.chmod(ro, 0o555)
        kw = {"prefix": READER} if os.geteuid() == 0 else {}
        r = as_process("-c", str(cfg2), "check", "--json", **kw)
        assert r.returncode == 0, r.stderr
        report = json.loads(r.stdout)
        assert report["ok"] and len(report["warnings"]) == 1
        assert report["warnings"][0].startswith("storage.database:") and str(ro) in report["warnings"][0]
    finally:
        os.chmod(ro, 0o755)
        shutil.rmtree(ro, ignore_errors=True)


def test_check_json_of_an_invalid_config_writes_its_names_as_typed(tmp_path: Path) -> None:
    """A valid config's report wrote Новости as typed, an invalid one's as \\u041d\\u043e...: unreadable to the
    analyst it is for, and unlike every other --json."""
    cfg = tmp_path / "newswatch.toml"
    cfg.write_text(
        '[[sources]]\nname = "Новости"\nurl = "http://127.0.0.1:9/rss"\nevery = "15 минут"\n', encoding="utf-8"
    )
    r = newswatch("-c", cfg, "check", "--json")
    assert r.returncode == 2
    (problem,) = json.loads(r.stdout)["problems"]
    assert problem.startswith("sources[0] (Новости).every: '15 минут' is not a duration")
    assert "sources[0] (Новости).every: '15 минут'" in r.stdout


def test_check_warns_of_a_config_that_polls_nothing(tmp_path: Path) -> None:
    # valid, and idle: the daemon warns at its start, and check said OK without a word
    cfg = tmp_path / "newswatch.toml"
    cfg.write_text('[[topics]]\nname = "t"\nquery = "x"\n', encoding="utf-8")
    r = newswatch("-c", cfg, "check")
    assert r.returncode == 0 and ": OK — 0 sources, 1 topic" in r.stdout, r.stderr
    assert r.stderr == (
        "warning: sources: the config has no [[sources]], so run and crawl poll nothing; add one with "
        "'newswatch sources add NAME URL' or 'newswatch sources import FILE'\n"
    )
    cfg.write_text(ONE_SOURCE + cfg.read_text(encoding="utf-8"), encoding="utf-8")
    assert newswatch("-c", cfg, "check").stderr == ""


def test_check_counts_in_words_and_names_a_loopback_smtp_host_for_what_it_is(tmp_path: Path) -> None:
    cfg = tmp_path / "newswatch.toml"
    cfg.write_text(
        '[[sources]]\nname = "a"\nurl = "https://news.example.net/rss"\n\n[[topics]]\nname = "t"\nquery = "x"\n\n'
        '[smtp]\nhost = "127.0.0.1"\nsender = "newswatch <alerts@mail.ru>"\n',
        encoding="utf-8",
    )
    r = newswatch("-c", cfg, "check")
    assert r.returncode == 0, r.stderr
    assert ": OK — 1 source, 1 topic, database " in r.stdout
    (warning,) = r.stderr.splitlines()
    assert warning.startswith("warning: smtp.host: '127.0.0.1' is this machine (init's placeholder is 'localhost')")


def test_check_warns_of_a_password_file_that_does_not_exist(tmp_path: Path) -> None:
    # check works without the secret (it may be root's or the service's only), but a path to nothing is a typo
    cfg = tmp_path / "newswatch.toml"
    cfg.write_text(
        f'{ONE_SOURCE}[smtp]\nhost = "mail.mail.ru"\nsender = "newswatch <alerts@mail.ru>"\nusername = "alerts"\n'
        'password_file = "smtp-pasword"\n',
        encoding="utf-8",
    )
    r = newswatch("-c", cfg, "check")
    assert r.returncode == 0, r.stderr
    assert r.stderr == (
        f"warning: smtp.password_file: {tmp_path / 'smtp-pasword'} does not exist; create it (mode 0600) or fix "
        "the path: digest and run read the password from it\n"
    )
    (tmp_path / "smtp-pasword").write_text("secret\n", encoding="utf-8")
    assert newswatch("-c", cfg, "check").stderr == ""


# -- export and search filters ------------------------------------------------------------------


def test_export_filters_output_file_and_bom(demo_copy: Path) -> None:
    cfg = str(demo_copy / "newswatch.toml")
    out = demo_copy / "vestnik.csv"
    r = newswatch("-c", cfg, "export", "--format", "csv", "--source", "vestnik", "--bom", "--output", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfid,url,")
    rows = raw.decode("utf-8-sig").splitlines()[1:]
    assert rows and all(",vestnik," in row for row in rows if row.startswith(tuple("0123456789")))
    topic = newswatch("-c", cfg, "export", "--topic", "china-russia-st")
    records = [json.loads(line) for line in topic.stdout.splitlines()]
    assert records and all(rec["topics"] == ["china-russia-st"] for rec in records)
    everything = newswatch("-c", cfg, "export").stdout.splitlines()
    assert len(records) < len(everything)
    assert newswatch("-c", cfg, "export", "--until", "2000-01-01").stdout == ""
    assert len(newswatch("-c", cfg, "export", "--until", "2999-01-01").stdout.splitlines()) == len(everything)
    bad = newswatch("-c", cfg, "export", "--topic", "nope")
    assert bad.returncode == 2 and "unknown topic 'nope'" in bad.stderr


def test_search_by_source_language_and_date(demo_copy: Path) -> None:
    cfg = str(demo_copy / "newswatch.toml")
    query = "Russia OR Россия OR 俄罗斯 OR 中俄"
    every = json.loads(newswatch("-c", cfg, "search", query, "--json").stdout)
    assert {r["language"] for r in every} >= {"en", "ru", "zh"}
    ru = json.loads(newswatch("-c", cfg, "search", query, "--language", "ru", "--json").stdout)
    assert ru and {r["language"] for r in ru} == {"ru"}
    vestnik = json.loads(newswatch("-c", cfg, "search", query, "--source", "vestnik", "--json").stdout)
    assert vestnik and {r["source"] for r in vestnik} == {"vestnik"}
    future = newswatch("-c", cfg, "search", query, "--since", "2999-01-01")
    assert future.returncode == 0 and future.stdout.strip() == "no matches: --since '2999-01-01' is in the future"


def test_sources_reset_says_what_it_reset(demo_copy: Path) -> None:
    cfg = str(demo_copy / "newswatch.toml")
    with Store(demo_copy / "newswatch-demo.db") as store:
        store.update_source("globalwire", next_poll="2999-01-01T00:00:00+00:00")
        healthy = store.source_state("globalwire")
    r = newswatch("-c", cfg, "sources", "--reset", "globalwire")
    assert r.stdout == "globalwire: was neither inactive nor backing off; nothing to reset\n"
    with Store(demo_copy / "newswatch-demo.db") as store:  # and nothing was: its next poll neither
        assert store.source_state("globalwire") == healthy
        assert "globalwire" not in store.source_resets()
    with Store(demo_copy / "newswatch-demo.db") as store:
        store.update_source("vestnik", failures=3, failing_since="2026-01-01T00:00:00+00:00")
        store.update_source("huaxia", active=0, inactive_reason="HTTP 410")
    r = newswatch("-c", cfg, "sources", "--reset", "vestnik")
    then = "the next crawl polls it, and a running daemon takes it up within 10 s (polled then if its interval has "
    assert r.stdout == f"vestnik: backoff cleared after 3 failure(s); {then}passed since its last poll)\n"
    r = newswatch("-c", cfg, "sources", "--reset", "huaxia")
    assert r.stdout == f"huaxia: re-enabled; {then}passed since its last poll)\n"
    with Store(demo_copy / "newswatch-demo.db") as store:  # what a running daemon looks for
        assert set(store.source_resets()) == {"vestnik", "huaxia"}
        store.update_source("huaxia", active=0, inactive_reason="HTTP 410")
    # a source removed from the config keeps no note: the next reset drops it (before, every note stayed for ever)
    assert newswatch("-c", cfg, "sources", "remove", "vestnik").returncode == 0
    assert newswatch("-c", cfg, "sources", "--reset", "huaxia").returncode == 0
    with Store(demo_copy / "newswatch-demo.db") as store:
        assert set(store.source_resets()) == {"huaxia"}


def test_an_unknown_source_filter_is_a_usage_error(demo_copy: Path) -> None:
    # a misspelt --source would otherwise print nothing and exit 0, as if the source had no articles
    cfg = str(demo_copy / "newswatch.toml")
    for command in (["export"], ["search", "Russia"]):
        bad = newswatch("-c", cfg, *command, "--source", "vestnk")
        assert bad.returncode == 2, (command, bad.stderr)
        assert bad.stderr.startswith("error: --source 'vestnk': no such source") and "vestnik" in bad.stderr
        assert bad.stdout == ""
    # a source removed from the config keeps its stored articles, and they can still be exported
    assert newswatch("-c", cfg, "sources", "remove", "vestnik").returncode == 0
    kept = newswatch("-c", cfg, "export", "--source", "vestnik")
    assert kept.returncode == 0 and kept.stdout.count("\n") > 0
    assert newswatch("-c", cfg, "search", "Россия", "--source", "vestnik").returncode == 0


def test_a_full_disk_is_one_line(demo_copy: Path) -> None:
    with open("/dev/full", "w") as full:  # every write fails with ENOSPC
        proc = export_into(demo_copy, full)
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error: no space left on the device writing the output") and "unexpected" not in line


def test_shell_completion_as_documented() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "_NEWSWATCH_COMPLETE=bash_source newswatch" in readme
    script = Path(sys.executable).parent / "newswatch"
    r = subprocess.run(
        [str(script)], env={**os.environ, "_NEWSWATCH_COMPLETE": "bash_source"}, capture_output=True, text=True
    )
    assert r.returncode == 0 and "complete " in r.stdout and "newswatch" in r.stdout
    words = subprocess.run(
        [str(script)],
        env={**os.environ, "_NEWSWATCH_COMPLETE": "bash_complete", "COMP_WORDS": "newswatch exp", "COMP_CWORD": "1"},
        capture_output=True,
        text=True,
    )
    assert "export" in words.stdout
