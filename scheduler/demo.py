"""`newswatch demo`: the whole flow offline against the bundled sample site."""

from __future__ import annotations

import errno
import os
import re
import shlex
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable
from itertools import count
from pathlib import Path

from crawler import envsettings
from crawler.config import load_config, user_cache_dir
from crawler.errors import UsageError
from crawler.store import Store
from crawler.wording import noun
from scheduler.data import data_path
from scheduler.files import write_atomic
from scheduler.staticsite import StaticSiteServer


def default_topics_text() -> str:
    """The shipped config's topics and the named sets they use, as TOML text."""
    default = data_path("config", "newswatch.toml").read_text(encoding="utf-8")
    # [sets] comes first in the Topics section
    m = re.search(r"^(?:\[sets\]|\[\[topics\]\]).*?(?=^# ----|^\[(?!\[topics)(?!sets\])|\Z)", default, re.S | re.M)
    return m.group(0).rstrip() if m else ""


def demo_config_text(base_url: str) -> str:
    """demo.toml with the site's address and the default topic from newswatch.toml."""
    text = data_path("config", "demo.toml").read_text(encoding="utf-8")
    return text.replace("__BASE__", base_url).replace("__TOPICS__", default_topics_text())


DEMO_CRAWL_TIMEOUT = 300.0  # seconds the demo's crawl may take, unless $NEWSWATCH_CRAWL_TIMEOUT says otherwise
DEFAULT_PORT = 8765  # `demo --serve`: a stable address, so the printed config stays valid
BASE_KEY = "demo.base_url"  # the sample site's address the demo database was crawled at
CONFIG_NAME = "newswatch-demo.toml"
DB_NAME = "newswatch-demo.db"
EDITED_STEM = "newswatch-demo.edited"
EDITED_NAME = f"{EDITED_STEM}.toml"  # a demo config the user changed, kept when --serve writes its own


def default_serve_dir() -> Path:
    """Where `demo --serve` keeps its config and database without --output-dir."""
    return user_cache_dir() / "demo"


def _start_site(port: int) -> StaticSiteServer:
    try:
        return StaticSiteServer(data_path("fixtures", "site"), port=port).start()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(
                f"port {port} on 127.0.0.1 is in use (another 'newswatch demo --serve'?); choose another with --port"
            ) from None
        raise


def run_demo(output_dir: Path | None, echo: Callable[[str], None], port: int = 0, *, quiet: bool = False) -> Path:
    """Serves the sample site, crawls it into a new database and writes the digest; ``quiet`` echoes only
    where the digest, the database and the config are."""
    from crawler.child import run_in_child
    from scheduler.digest import run_digest

    product, echo = echo, (lambda _line: None) if quiet else echo

    out = Path(output_dir) if output_dir else Path(tempfile.mkdtemp(prefix="newswatch-demo-"))
    out.mkdir(parents=True, exist_ok=True)
    with _start_site(port) as site:
        config_path = out / CONFIG_NAME
        config_path.write_text(demo_config_text(site.base_url), encoding="utf-8")
        db = out / DB_NAME
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        config = load_config(config_path)
        sources = f"{len(config.sources)} {noun(len(config.sources), 'source')}"
        echo(f"serving the sample site at {site.base_url}; crawling {sources} …")
        # stopped after 5 minutes (it takes seconds), or $NEWSWATCH_CRAWL_TIMEOUT: a machine busy with other work
        # (2 cores at load 16) took 4 minutes
        timeout = envsettings.seconds("NEWSWATCH_CRAWL_TIMEOUT", DEMO_CRAWL_TIMEOUT)
        summary = run_in_child(config_path, [s.name for s in config.sources], trigger="demo", timeout=timeout)
        base_url = site.base_url
    t = summary.totals()
    with Store(config.storage.database) as store:
        store.set_state(BASE_KEY, base_url)
        articles = store.count("articles")
        stories = int(store.scalar("SELECT count(DISTINCT story) FROM articles"))
        matched = int(
            store.scalar("SELECT count(DISTINCT a.story) FROM articles a JOIN matches m ON m.article_id = a.id")
        )
        html = out / "digest.html"
        eml = out / "digest.eml"
        run_digest(config, store, output=html)
        run_digest(config, store, output=eml)
    echo(
        f"sources: {len(summary.sources)} ({sum(s.status in ('ok', 'not-modified') for s in summary.sources)} ok); "
        f"pages fetched: {t['fetched']}; errors: {t['errors']} (the sample site has broken links on purpose)"
    )
    echo(f"articles: {articles}; stories: {stories}; stories matching the topic: {matched}")
    product(f"digest written to {html}")
    product(f"          and to {eml}")
    product(f"database: {db}; config: {config_path}")
    nw = command()
    cfg = shlex.quote(str(config_path))
    echo(f"try: {nw} -c {cfg} search '中俄 AND 科技'")
    echo("keep the sample site up to crawl it again, run the daemon or try other commands (Ctrl-C stops it):")
    echo(f"     {nw} demo --serve --output-dir {shlex.quote(str(out))}")
    return out


def command() -> str:
    """How to call newswatch again, as a shell command that works from anywhere.

    The script's absolute path when it is not the `newswatch` on PATH (an unactivated venv, also
    when started as `.venv/bin/newswatch`); `python -m scheduler.cli` when started that way.
    """
    script = Path(sys.argv[0])
    if script.name == "newswatch" and script.exists():
        full = os.path.abspath(script)
        on_path = shutil.which("newswatch")
        if on_path and os.path.abspath(on_path) == full:
            return "newswatch"
        return shlex.quote(full)
    if script.name in ("cli.py", "__main__.py") or script.name == "-c":
        return f"{shlex.quote(sys.executable)} -m scheduler.cli"
    return "newswatch"


def keep_edited(config_path: Path, text: str, base_url: str) -> tuple[Path | None, Path | None]:
    """Keeps a demo config the user changed (an [smtp] to try ``digest --to``) beside the one written anew.

    The config, when it is not the demo's own (at any address), is kept at EDITED_NAME, else a copy kept
    before stays there; either has the sample site's address set to ``base_url``, so it runs against this
    site and database. A copy kept before that the new one would replace (a second change) is moved to the
    first free ``newswatch-demo.edited.N.toml``, never lost. Returns the kept copy's path (None when there
    is none) and where an earlier one went at this start (None when none moved).
    """
    kept = config_path.with_name(EDITED_NAME)

    def here(path: Path) -> tuple[bytes, bytes] | None:  # as it is, and at this site's address
        try:
            old = path.read_bytes()
        except FileNotFoundError:
            return None
        return old, re.sub(rb"http://127\.0\.0\.1:\d+", base_url.encode("ascii"), old)

    changed, earlier = here(config_path), here(kept)
    if changed is not None and changed[1] == text.encode("utf-8"):
        changed = None  # the demo's own, as written at the last start
    if changed is None:
        if earlier is None:
            return None, None
        if earlier[1] != earlier[0]:
            write_atomic(kept, earlier[1])
        return kept, None
    aside = None
    if earlier is not None and earlier[1] != changed[1]:
        aside = next(p for n in count(1) if not (p := config_path.with_name(f"{EDITED_STEM}.{n}.toml")).exists())
        write_atomic(aside, earlier[1])
    write_atomic(kept, changed[1])
    return kept, aside


def rebase(db: Path, base_url: str) -> int:
    """Moves a demo database to the site's new address: stored URLs follow, so no page is stored twice.

    Returns how many URLs changed (0 when the database was crawled at this address).
    """
    if not db.exists():
        return 0
    with Store(db) as store:
        old = store.get_state(BASE_KEY)
        if not old or old == base_url:
            store.set_state(BASE_KEY, base_url)
            return 0
        changed = 0
        columns = (
            ("articles", "url"),
            ("articles", "canonical_url"),
            ("_aliases", "url"),
            ("_entries", "key"),
            ("sources", "configured_url"),
            ("sources", "current_url"),
        )
        with store.transaction() as c:
            for table, column in columns:
                cur = c.execute(
                    f"UPDATE {table} SET {column} = ? || substr({column}, ?) WHERE substr({column}, 1, ?) = ?",
                    [base_url, len(old) + 1, len(old), old],
                )
                changed += cur.rowcount
            c.execute("UPDATE sources SET etag = NULL, last_modified = NULL")  # the bodies name the new address
        store.set_state(BASE_KEY, base_url)
        return changed


def serve_forever(
    echo: Callable[[str], None], port: int = DEFAULT_PORT, output_dir: Path | None = None, *, quiet: bool = False
) -> None:
    """Serves the sample site until Ctrl-C, with a config (and the database) in output_dir pointing at it;
    ``quiet`` echoes only the site's address and the config's path."""
    product, echo = echo, (lambda _line: None) if quiet else echo
    out = Path(output_dir) if output_dir else default_serve_dir()
    out.mkdir(parents=True, exist_ok=True)
    config_path = out / CONFIG_NAME
    with _start_site(port) as site:
        text = demo_config_text(site.base_url)
        kept, aside = keep_edited(config_path, text, site.base_url)
        write_atomic(config_path, text)
        moved = rebase(out / DB_NAME, site.base_url)
        try:  # from the first line printed on, Ctrl-C is the way to stop: a clean exit
            nw, cfg = command(), shlex.quote(str(config_path))
            product(f"serving the sample site at {site.base_url} (Ctrl-C to stop)")
            product(f"config: {config_path}")
            if kept:
                product(f"your changed config: {kept} ({CONFIG_NAME} is the demo's own, written anew at each start)")
            if aside:
                product(f"the one you changed before it: {aside} (kept: a second change never overwrites the first)")
            db = out / DB_NAME
            if moved:
                echo(f"database: {db} (its {moved} stored URLs now point at this address)")
            else:
                echo(f"database: {db}" + ("" if db.exists() else " (created by the first crawl)"))
            echo("in another terminal, try:")
            echo(f"  {nw} -c {cfg} crawl")
            echo(f"  {nw} -c {cfg} search '中俄 AND 科技'")
            echo(f"  {nw} -c {cfg} digest --output digest.html")
            echo(f"  {nw} -c {cfg} run      # the daemon, in archive mode (no mail)")
            threading.Event().wait()
        except KeyboardInterrupt:
            echo("stopped")
