"""`newswatch demo`: the whole flow offline against the bundled sample site."""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from crawler.config import load_config
from crawler.store import Store
from scheduler.data import data_path
from scheduler.staticsite import StaticSiteServer


def demo_config_text(base_url: str) -> str:
    """demo.toml with the site's address and the default topic from newswatch.toml."""
    text = data_path("config", "demo.toml").read_text(encoding="utf-8")
    default = data_path("config", "newswatch.toml").read_text(encoding="utf-8")
    m = re.search(r"^\[\[topics\]\].*?(?=^# ----|^\[(?!\[topics)|\Z)", default, re.S | re.M)
    topics = m.group(0).rstrip() if m else ""
    return text.replace("__BASE__", base_url).replace("__TOPICS__", topics)


def run_demo(output_dir: Path | None, echo: Callable[[str], None]) -> Path:
    from crawler.run import run_in_child
    from scheduler.digest import run_digest

    out = Path(output_dir) if output_dir else Path(tempfile.mkdtemp(prefix="newswatch-demo-"))
    out.mkdir(parents=True, exist_ok=True)
    with StaticSiteServer(data_path("fixtures", "site")) as site:
        config_path = out / "newswatch-demo.toml"
        config_path.write_text(demo_config_text(site.base_url), encoding="utf-8")
        db = out / "newswatch-demo.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        config = load_config(config_path)
        echo(f"serving the sample site at {site.base_url}; crawling {len(config.sources)} sources …")
        summary = run_in_child(config_path, [s.name for s in config.sources], trigger="demo", timeout=300)
    t = summary.totals()
    with Store(config.storage.database) as store:
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
    echo(f"digest written to {html}")
    echo(f"          and to {eml}")
    echo(f"database: {db}; config: {config_path}")
    echo(f"try: {_command()} -c {config_path} search '中俄 AND 科技'")
    return out


def _command() -> str:
    """How to call newswatch again: the script's full path when it is not on PATH (an unactivated venv)."""
    script = Path(sys.argv[0])
    if script.name == "newswatch" and script.is_absolute() and shutil.which("newswatch") != str(script):
        return str(script)
    return "newswatch"


def serve_forever(echo: Callable[[str], None]) -> None:
    with StaticSiteServer(data_path("fixtures", "site")) as site:
        echo(f"serving the sample site at {site.base_url} (Ctrl-C to stop)")
        echo("a config to try 'newswatch -c demo.toml crawl' with:\n")
        echo(demo_config_text(site.base_url))
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            echo("stopped")
