"""Nothing lost, nothing stuck: a full disk, a dying extraction worker, bad entries and headers,
impossible dates, and killed processes, each against the local test server and a real SQLite file.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crawler.procs import ends_with_this_process
from crawler.store import Store, define_guard, parse_iso
from tests.support.articles import RSS, rss_channel
from tests.support.cli import Outcome
from tests.support.cli import newswatch as run_cli
from tests.support.daemonworld import wait_until
from tests.support.pyrun import run_script
from tests.support.sitesrv import SiteServer

ROOT = Path(__file__).resolve().parent.parent
UA = "newswatch-faulttest/1.0 (+mailto:ops@example.org)"
_WORDS = "reactor satellite polymer vaccine turbine graphene laser bridge isotope battery catalyst telescope".split()


def write_config(directory: Path, sources: str, *, database: str = "nw.db", digest: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "newswatch.toml"
    path.write_text(
        f"""
[storage]
database = "{database}"

[crawl]
user_agent = "{UA}"
timeout = "5s"
allow_private = true

{sources}

[[topics]]
name = "cn-ru"
query = 'China OR Russia'
{digest}
""",
        encoding="utf-8",
    )
    return path


def feed_source(name: str, url: str) -> str:
    return f'[[sources]]\nname = "{name}"\nurl = "{url}"\nevery = "15m"\n'


def newswatch(cfg: Path, *args: str, env: dict[str, str] | None = None) -> Outcome:
    """The CLI run in this process (its output and exit code); `crawl` still crawls in a child process."""
    return run_cli("-c", cfg, *args, env=env)


def crawl_in_background(cfg: Path, output: int = subprocess.PIPE) -> subprocess.Popen[str]:
    """`newswatch crawl` with two extraction workers, started and left running."""
    return subprocess.Popen(
        [sys.executable, "-c", "from scheduler.cli import main; main()", "-c", str(cfg), "crawl"],
        stdout=output,
        stderr=output,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "NEWSWATCH_WORKERS": "2"},
        preexec_fn=ends_with_this_process(),
    )


def article_html(i: int, size: int = 1) -> bytes:
    words = [_WORDS[(i * 7 + k * (i + 3)) % len(_WORDS)] for k in range(60)]
    paras = "".join(
        f"<p>Scientists from China and Russia in project {i} reported progress on "
        f"{' '.join(words[j : j + 12])} at laboratory {i * 13 + j} (part {n}).</p>"
        for n in range(size)
        for j in range(0, 60, 6)
    )
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Joint project {i}</title>'
        f"</head><body><article><h1>Joint project {i} of China and Russia</h1>{paras}</article></body></html>"
    ).encode()


def serve_feed(site: SiteServer, prefix: str, pages: int, *, delay: float = 0.0, size: int = 1, items: str = "") -> str:
    """A feed of `pages` articles under `prefix` (each page answering after `delay` s); returns the feed URL."""

    def handler(path: str) -> tuple[int, dict[str, str], bytes]:
        if path.startswith(f"{prefix}feed.xml"):
            body = "".join(
                f"<item><title>Joint project {i} of China and Russia</title><link>{site.base_url}{prefix}a/{i}.html"
                f"</link><guid>{prefix}{i}</guid><description>China and Russia project {i}</description></item>"
                for i in range(pages)
            )
            return 200, {**RSS, "ETag": '"v1"'}, rss_channel(f"{site.base_url}{prefix}", items + body)
        i = int(path.rsplit("/", 1)[-1].split(".")[0])
        time.sleep(delay)
        return 200, {"Content-Type": "text/html; charset=utf-8"}, article_html(i, size)

    site.add_generated(prefix, handler)
    return f"{site.base_url}{prefix}feed.xml"


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (children, grandchildren, ...), from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                fields = stat[stat.rindex(")") + 2 :].split()
                if fields[0] != "Z":
                    parents[int(entry.name)] = int(fields[1])
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parents.items() if pp == p]
        found += kids
        frontier += kids
    return found


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def workers_of(pid: int) -> list[int]:
    """Extraction workers below `pid`: processes the forkserver forked (they run the forkserver's code)."""
    out = []
    for server in descendants(pid):
        if b"forkserver" in cmdline(server):
            out += [k for k in descendants(server) if b"forkserver" in cmdline(k)]
    return out


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def stored(cfg: Path, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    with Store(cfg.parent / "nw.db") as st:
        return st.query(sql, params)


# -- one entry, one fault ----------------------------------------------------------------------------


BAD_ENTRIES = (
    "<item><title>Bad port</title><link>http://127.0.0.1:99999/x</link><guid>bad-port</guid></item>"
    "<item><title>Zero date China</title><link>__BASE__/odd/a/90.html</link><guid>zero</guid>"
    "<pubDate>0000-00-00T00:00:00Z</pubDate></item>"
    "<item><title>Far date China</title><link>__BASE__/odd/a/91.html</link><guid>far</guid>"
    "<pubDate>Fri, 31 Dec 9999 23:59:59 GMT</pubDate></item>"
)


@pytest.fixture(scope="module")
def odd_feeds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SiteServer, Path, Outcome]]:
    """One crawl (one crawl child, not two) of a feed with bad entries ("odd"), two sources answering with
    odd Retry-After dates ("busy-a", "busy-b") and a healthy one: the test server, the config, the outcome."""
    with SiteServer(ROOT / "fixtures" / "site") as site:
        url = serve_feed(site, "/odd/", 4, items=BAD_ENTRIES.replace("__BASE__", site.base_url))
        site.set_route("/busy/a.xml", status=503, headers={"Retry-After": "Sat, 28 Nov 2099 13:00:00 -0000"})
        site.set_route("/busy/b.xml", status=429, headers={"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"})
        healthy = serve_feed(site, "/ok/", 2)
        cfg = write_config(
            tmp_path_factory.mktemp("odd"),
            feed_source("odd", url)
            + feed_source("busy-a", site.url("/busy/a.xml"))
            + feed_source("busy-b", site.url("/busy/b.xml"))
            + feed_source("healthy", healthy),
        )
        yield site, cfg, newswatch(cfg, "crawl", env={"NEWSWATCH_WORKERS": "0"})


def test_bad_entries_are_skipped_with_their_reason_and_the_rest_of_the_feed_is_stored(
    odd_feeds: tuple[SiteServer, Path, Outcome], tmp_path: Path
) -> None:
    site, cfg, res = odd_feeds
    url = site.url("/odd/feed.xml")
    listing = f'[[sources]]\nname = "css"\nkind = "listing"\nurl = "{site.base_url}/"\nfollow_css = "a[[["\n'
    refused = write_config(tmp_path / "refused", feed_source("odd", url) + listing)
    gate = newswatch(refused, "check")  # an invalid selector is refused before any crawl, with its key path
    assert gate.returncode == 2 and "sources[1] (css).follow_css" in gate.stderr, gate.stderr
    assert "Traceback" not in res.stderr, res.stderr
    assert res.returncode == 0, res.stderr  # one healthy source is a successful crawl
    urls = {r["url"] for r in stored(cfg, "SELECT url FROM articles WHERE source = 'odd'")}
    assert urls == {f"{site.base_url}/odd/a/{i}.html" for i in (0, 1, 2, 3, 90, 91)}  # every healthy entry
    assert "99999" in res.stderr and "skipped" in res.stderr  # counted, with its reason
    dated = stored(cfg, "SELECT published FROM articles WHERE url LIKE '%/odd/a/9_.html'")
    assert [r["published"] for r in dated] == [None, None]  # impossible dates are unknown, not stored


def test_a_retry_after_date_with_minus_zero_zone_affects_only_its_source_and_is_capped(
    odd_feeds: tuple[SiteServer, Path, Outcome],
) -> None:
    _site, cfg, res = odd_feeds
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    rows = {r["name"]: r for r in stored(cfg, "SELECT * FROM sources")}
    assert rows["healthy"]["last_success"] and rows["healthy"]["failures"] == 0
    for name in ("busy-a", "busy-b"):
        wait = parse_iso(rows[name]["retry_after"])
        attempt = parse_iso(rows[name]["last_attempt"])
        assert wait is not None and attempt is not None and rows[name]["failures"] == 1
        assert 0 < (wait - attempt).total_seconds() <= 7 * 86400 + 60  # capped like the number form
    again = newswatch(cfg, "crawl", "busy-a", "busy-b")
    assert again.returncode == 0 and "Retry-After" in again.stdout + again.stderr


def test_an_article_dated_9999_does_not_stop_the_digest(site: SiteServer, tmp_path: Path) -> None:
    url = serve_feed(site, "/far/", 2)
    digest = """
[digest]
schedule = "0 7 * * *"
timezone = "Europe/Moscow"
send_empty = true
max_age = "3650d"

[[digest.recipients]]
email = "analyst@example.org"
"""
    cfg = write_config(tmp_path, feed_source("far", url), digest=digest)
    assert newswatch(cfg, "crawl", env={"NEWSWATCH_WORKERS": "0"}).returncode == 0
    with sqlite3.connect(tmp_path / "nw.db") as conn:  # as stored by an older version
        define_guard(conn)
        conn.execute("UPDATE articles SET published = '9999-12-31T23:59:59+00:00'")
    out = tmp_path / "digest.html"
    res = newswatch(cfg, "digest", "--output", str(out))
    assert res.returncode == 0, res.stderr
    assert "Joint project 0" in out.read_text(encoding="utf-8")


# -- a poll counts only when its work is stored -----------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs (needs root and mount(8)); skipped with the reason elsewhere."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("a disk-full test needs root to mount a small tmpfs")
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_full_disk_fails_the_crawl_loudly_and_keeps_nothing_that_would_lose_articles(
    site: SiteServer, tmp_path: Path, small_disk: Path
) -> None:
    pages = 20  # the disk fills after a few of them
    url = serve_feed(site, "/big/", pages, size=12)
    cfg = write_config(tmp_path, feed_source("big", url), database=str(small_disk / "nw.db"))
    Store(small_disk / "nw.db").close()  # created and migrated
    filler = small_disk / "filler"
    free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
    filler.write_bytes(b"\0" * max(0, free - 300_000))  # room for a few articles only

    res = newswatch(cfg, "crawl", env={"NEWSWATCH_WORKERS": "0"})
    assert "Traceback" not in res.stderr, res.stderr
    assert res.returncode == 1, res.stdout + res.stderr
    assert "database or disk is full" in res.stderr
    filler.unlink()
    with Store(small_disk / "nw.db") as st:
        state = st.source_state("big")
        assert state["etag"] is None  # no validator: the next poll reads the whole feed again
        unseen = st.scalar("SELECT count(*) FROM _entries WHERE article_id IS NULL")
        assert unseen == 0  # no entry marked seen without its article

    again = newswatch(cfg, "crawl", env={"NEWSWATCH_WORKERS": "0"})
    assert again.returncode == 0, again.stderr
    with Store(small_disk / "nw.db") as st:
        urls = [r["url"] for r in st.query("SELECT url FROM articles")]
        assert sorted(urls) == sorted(f"{site.base_url}/big/a/{i}.html" for i in range(pages))
        assert st.source_state("big")["etag"] == '"v1"'


_LAST_COMMIT_FAILS = r"""
import json, sqlite3, sys
import crawler.run
from crawler.config import load_config
from crawler.run import crawl_once
from crawler.store import Store

crawler.run.BATCH_SECONDS = 3600.0  # the poll's articles wait for its end to be committed, as a small feed's do

def commit_batch(self):  # the disk fills as the batch is committed: SQLite rolls it back
    with self._lock:
        if self._batch:
            self._depth, self._batch = 0, False
            self.conn.execute("ROLLBACK")
            raise sqlite3.OperationalError("database or disk is full")

Store.commit_batch = commit_batch
summary = crawl_once(load_config(sys.argv[1]), workers=0)
print(json.dumps([[s.status, s.message] for s in summary.sources] + [summary.storage_error]))
"""


def test_a_poll_whose_own_articles_fail_to_commit_is_a_failed_poll(site: SiteServer, tmp_path: Path) -> None:
    """The commit at a source's end fails (a full disk): its poll failed, as when an earlier write failed."""
    url = serve_feed(site, "/tail/", 3)
    cfg = write_config(tmp_path, feed_source("tail", url))
    Store(tmp_path / "nw.db").close()  # created and migrated

    *sources, storage_error = run_script(_LAST_COMMIT_FAILS, str(cfg), cwd=tmp_path)
    assert storage_error and "database or disk is full" in storage_error
    # before: ["ok", None]: the source was finished before its commit, so the failure passed it by, and its health
    # said ok with a last success and no failure, while nothing of its poll was stored
    assert sources == [["failed", storage_error]]
    with Store(tmp_path / "nw.db") as st:
        state = st.source_state("tail")
        assert (state["last_success"], state["failures"], state["etag"]) == (None, 0, None)  # the database failed
        assert st.scalar("SELECT count(*) FROM articles") == 0
        assert st.scalar("SELECT count(*) FROM _entries") == 0  # nothing marked seen: the next poll takes them

    again = newswatch(cfg, "crawl", env={"NEWSWATCH_WORKERS": "0"})
    assert again.returncode == 0, again.stderr
    with Store(tmp_path / "nw.db") as st:
        urls = sorted(r["url"] for r in st.query("SELECT url FROM articles"))
        assert urls == sorted(f"{site.base_url}/tail/a/{i}.html" for i in range(3))
        assert st.source_state("tail")["etag"] == '"v1"'


_LAST_COMMIT_FAILS_COUNTED = _LAST_COMMIT_FAILS.replace(
    "print(json.dumps([[s.status, s.message] for s in summary.sources] + [summary.storage_error]))",
    "print(json.dumps([[s.name, s.status, s.fetched, s.new, s.duplicates, s.matched] for s in summary.sources]"
    " + [summary.new_article_ids]))",
)


def test_a_poll_whose_articles_were_rolled_back_counts_none_of_them_new(site: SiteServer, tmp_path: Path) -> None:
    """The daemon's line (`crawl undone: failed; fetched 4, new 0, ...`), crawl's table and the alerts count what was
    stored: the articles of a batch whose commit failed are not, and the next poll takes them as new."""
    url = serve_feed(site, "/undone/", 3)
    cfg = write_config(tmp_path, feed_source("undone", url))
    Store(tmp_path / "nw.db").close()

    *sources, new_ids = run_script(_LAST_COMMIT_FAILS_COUNTED, str(cfg), cwd=tmp_path)
    # before: ["undone", "failed", 4, 3, 0, 3] and three article ids to alert on, none of them in the database
    assert sources == [["undone", "failed", 4, 0, 0, 0]]
    assert new_ids == []
    with Store(tmp_path / "nw.db") as st:
        assert st.scalar("SELECT count(*) FROM articles") == 0


def test_a_full_disk_does_not_blame_the_sources_that_answered(site: SiteServer, tmp_path: Path) -> None:
    """Their articles could not be stored: the poll failed and is polled again at the source's interval, nothing
    of it kept, but the failure is the database's: no source failure counted, no backoff, no last error of its own."""
    others = "".join(  # articles of their own: a story two feeds list is fetched from one of them
        f"<item><title>Another project {i}</title><link>{site.base_url}/ailing/a/{i}.html</link>"
        f"<guid>/ailing/{i}</guid></item>"
        for i in (5, 6)
    )
    cfg = write_config(
        tmp_path,
        feed_source("fresh", serve_feed(site, "/fresh/", 2))
        + feed_source("ailing", serve_feed(site, "/ailing/", 0, items=others)),
    )
    since = "2026-11-01T00:00:00+00:00"
    with Store(tmp_path / "nw.db") as st:  # ailing had failed twice, its site's own failures
        st.update_source("ailing", failures=2, failing_since=since, last_error="HTTP 503", last_error_at=since)

    *sources, storage_error = run_script(_LAST_COMMIT_FAILS, str(cfg), cwd=tmp_path)
    assert sources == [["failed", storage_error], ["failed", storage_error]]  # the crawl failed, and says why
    with Store(tmp_path / "nw.db") as st:
        fresh, ailing = st.source_state("fresh"), st.source_state("ailing")
    # before: fresh had failures 1, failing since now, last error the database's, its next poll backed off; ailing
    # failures 3, the database's error as its own, its backoff doubled (an hour or more from a 15m interval)
    assert (fresh["failures"], fresh["failing_since"], fresh["last_error"]) == (0, None, None)
    assert (ailing["failures"], ailing["failing_since"], ailing["last_error"]) == (2, since, "HTTP 503")
    for state in (fresh, ailing):
        attempt, due = parse_iso(state["last_attempt"]), parse_iso(state["next_poll"])
        assert attempt and due
        assert (due - attempt).total_seconds() == (900 if state is fresh else 2 * 900)  # its interval, backoff kept

    shown = newswatch(cfg, "sources")
    assert shown.returncode == 0, shown.stderr
    assert "FAILING" not in next(ln for ln in shown.stdout.splitlines() if ln.startswith("fresh ")), shown.stdout
    assert "disk is full" not in shown.stdout and "cannot write" not in shown.stdout, shown.stdout


_WRITES_FAIL_FROM_THE_SECOND = r"""
import json, sqlite3, sys
from crawler.config import load_config
from crawler.run import crawl_once
from crawler.store import Store

add_article, calls = Store.add_article, []

def failing(self, record):  # the disk is full from the second article on
    calls.append(record)
    if len(calls) > 1:
        raise sqlite3.OperationalError("database or disk is full")
    return add_article(self, record)

Store.add_article = failing
summary = crawl_once(load_config(sys.argv[1]), workers=0)
print(json.dumps([summary.sources[0].error_samples, summary.storage_error]))
"""


def test_the_pages_a_full_disk_leaves_unstored_are_named_without_its_reason_each_time(
    site: SiteServer, tmp_path: Path
) -> None:
    """The storage error is said once, as the poll's error; each page it left unstored is one short sample."""
    url = serve_feed(site, "/full/", 4)
    cfg = write_config(tmp_path, feed_source("full", url))
    Store(tmp_path / "nw.db").close()

    samples, storage_error = run_script(_WRITES_FAIL_FROM_THE_SECOND, str(cfg), cwd=tmp_path)
    assert storage_error and "database or disk is full" in storage_error
    unstored = [s for s in samples if "not stored" in s]
    assert len(unstored) == 2, samples  # the pages after the one whose write failed
    # before: each was 'URL: not stored (cannot write to the database ...: database or disk is full; free disk space
    # or fix the database, then crawl again (nothing of this poll was marked as seen))', the daemon's line for the poll
    # (its first three samples and the poll's error) saying it four times over some 1,500 characters
    assert all(
        re.fullmatch(rf"{re.escape(site.base_url)}/full/a/\d\.html: not stored \(the database cannot be written\)", s)
        for s in unstored
    ), unstored
    assert not any(storage_error in s for s in samples if s != storage_error)  # the poll's error is a sample too


def test_a_killed_extraction_worker_loses_no_page(site: SiteServer, tmp_path: Path) -> None:
    pages = 16
    url = serve_feed(site, "/oom/", pages, delay=0.25)
    cfg = write_config(tmp_path, feed_source("oom", url))
    proc = crawl_in_background(cfg)
    try:
        wait_until(lambda: site.hits("/oom/a/") >= 3, 60, "pages fetched")

        victim = wait_until(lambda: workers_of(proc.pid), 30, "an extraction worker")[0]
        os.kill(victim, signal.SIGKILL)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in err, err
    assert proc.returncode == 0, err
    rows = stored(cfg, "SELECT url, text_from, page_pending FROM articles")
    assert sorted(r["url"] for r in rows) == sorted(f"{site.base_url}/oom/a/{i}.html" for i in range(pages))
    assert stored(cfg, "SELECT count(*) AS n FROM _entries WHERE article_id IS NULL")[0]["n"] == 0


# -- children die with their parents -----------------------------------------------------------------


def test_a_killed_crawl_child_never_hangs_the_crawl_command(site: SiteServer, tmp_path: Path) -> None:
    url = serve_feed(site, "/kill/", 12, delay=1.0)
    cfg = write_config(tmp_path, feed_source("kill", url))
    proc = crawl_in_background(cfg)
    try:
        wait_until(lambda: site.hits("/kill/a/") >= 2, 60, "pages fetched")
        child = next(p for p in descendants(proc.pid) if b"crawler.run" in cmdline(p))
        wait_until(lambda: workers_of(child), 30, "the crawl child's extraction workers")
        family = descendants(child)
        os.kill(child, signal.SIGKILL)
        out, err = proc.communicate(timeout=30)  # before: waited for ever on the workers' copy of the pipe
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1
    assert "crawl process failed" in err and "Traceback" not in err
    # before: 'the crawl process failed: DEBUG scrapy.crawler: Using AsyncCrawlerProcess', the last line the child
    # had written (every crawl child writes it first), as the reason for its death; the daemon logged that too
    assert "the crawl process failed: killed by SIGKILL (the out-of-memory killer, or kill -9)" in err, err
    assert "DEBUG" not in err, err
    wait_until(lambda: not any(alive(p) for p in family), 15, "the crawl's workers gone")


def test_a_killed_crawl_command_leaves_no_process_behind(site: SiteServer, tmp_path: Path) -> None:
    url = serve_feed(site, "/orphan/", 12, delay=1.0)
    cfg = write_config(tmp_path, feed_source("orphan", url))
    proc = crawl_in_background(cfg, output=subprocess.DEVNULL)
    try:
        wait_until(lambda: site.hits("/orphan/a/") >= 2, 60, "pages fetched")
        wait_until(lambda: workers_of(proc.pid), 30, "the crawl child's extraction workers")
        family = descendants(proc.pid)
        proc.kill()
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    try:
        wait_until(lambda: not any(alive(p) for p in family), 15, "every crawl process gone")
    except AssertionError:
        info = []
        for p in family:
            if alive(p):
                fds = {}
                for fd in Path(f"/proc/{p}/fd").iterdir():
                    try:
                        fds[fd.name] = os.readlink(fd)
                    except OSError:
                        pass
                info.append((p, cmdline(p)[:60], Path(f"/proc/{p}/stat").read_text().split()[3], fds))
        holders = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    for fd in (entry / "fd").iterdir():
                        holders.setdefault(os.readlink(fd), []).append(int(entry.name))
                except OSError:
                    pass
        raise AssertionError(info, {k: v for k, v in holders.items() if k.startswith("pipe")}) from None
    finally:
        for p in family:
            if alive(p):
                os.kill(p, signal.SIGKILL)


def test_a_killed_daemon_leaves_no_crawl_process_behind(site: SiteServer, tmp_path: Path, smtp: Any) -> None:
    from tests.support.daemonworld import Daemon, far_schedule
    from tests.support.daemonworld import write_config as daemon_config

    url = serve_feed(site, "/dkill/", 12, delay=1.0)
    source = f'[[sources]]\nname = "dkill"\nurl = "{url}"\nevery = "15m"\n'
    cfg = daemon_config(tmp_path / "nw.toml", site.base_url, smtp.port, sources=source, schedule=far_schedule())
    d = Daemon(tmp_path, cfg, env={"NEWSWATCH_WORKERS": "2"})
    try:
        d.wait_note("READY=1")
        wait_until(lambda: workers_of(d.proc.pid), 60, "a crawl child with extraction workers")
        family = descendants(d.proc.pid)
        d.proc.kill()  # SIGKILL the daemon alone: nothing cleans up after it
        d.proc.wait(10)
        wait_until(lambda: not any(alive(p) for p in family), 15, "every crawl process gone")
    finally:
        d.close()


def test_a_full_disk_is_named_so_not_an_io_error_or_a_folder_to_make_writable(tmp_path: Path, small_disk: Path) -> None:
    # with no byte left SQLite cannot make its -wal file and says "disk I/O error", which the message passed on
    # with "check that its folder is writable": the reader went looking at permissions
    db = small_disk / "nw.db"
    Store(db).close()
    cfg = tmp_path / "nw.toml"
    cfg.write_text(f'[storage]\ndatabase = "{db}"\n', encoding="utf-8")
    filler = small_disk / "filler"
    with filler.open("wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    for side in (Path(f"{db}-wal"), Path(f"{db}-shm")):
        side.unlink(missing_ok=True)
    res = newswatch(cfg, "prune", "--older-than", "30d")
    assert res.returncode == 1
    assert re.fullmatch(
        rf"error: cannot (open|write) the database {re.escape(str(db))}: the disk holding it is full \([\d,]+ bytes "
        r"free\); free some (disk )?space( on it)? and run the command again\n",
        res.stderr,
    ), res.stderr
    res = newswatch(cfg, "check")
    assert re.search(rf"warning: storage.database: the disk holding {re.escape(str(db))} is full", res.stderr)
    from scheduler.daemon import unusable_database

    assert unusable_database(db) is None  # not a config problem (exit 2, not restarted): space can be freed
    filler.unlink()
    assert newswatch(cfg, "prune", "--older-than", "30d").returncode == 0
