"""What a process loads before its first page: each CLI command, crawl child and worker pays it once."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from crawler import config
from crawler.errors import ConfigError
from crawler.pipelines import ProcessPipeline
from crawler.process import FeedInfo, feed_only
from crawler.run import CrawlContext
from crawler.spiders import FeedOnlyItem
from crawler.store import Store
from tests.support.pyrun import run_script

ROOT = Path(__file__).resolve().parent.parent


def _loaded_after(code: str, tmp_path: Path) -> dict[str, object]:
    """Runs ``code`` in a fresh interpreter; it leaves what to report in ``out`` (a dict)."""
    script = (
        "import json, sys\nout = {}\n"
        + code
        + "\nout['modules'] = sorted(m for m in sys.modules if '.' not in m)\nprint(json.dumps(out))"
    )
    return run_script(script, cwd=tmp_path, timeout=120)  # type: ignore[no-any-return]


def test_opening_the_store_does_not_load_numpy_and_numpy_still_loads_later(tmp_path: Path) -> None:
    out = _loaded_after(
        "from crawler.store import Store\n"
        "store = Store('n.db')\n"
        "out['tables'] = len(store.query(\"SELECT name FROM sqlite_master WHERE type = 'table'\"))\n"
        "out['numpy_at_open'] = 'numpy' in sys.modules\n"
        "import numpy, sqlite_utils\n"
        "out['numpy_later'] = numpy.__name__\n",
        tmp_path,
    )
    assert out["tables"] and out["numpy_at_open"] is False
    assert out["numpy_later"] == "numpy"


def test_a_crawl_child_loads_its_scrapy_components_without_aiohttp_tldextract_or_numpy(tmp_path: Path) -> None:
    out = _loaded_after(
        "import crawler.run\n"
        "from scrapy.settings import Settings\n"
        "from scrapy.utils.misc import load_object\n"
        "from crawler.config import CrawlConfig\n"
        "from crawler.settings import scrapy_settings\n"
        "s = Settings(scrapy_settings(CrawlConfig()))\n"
        "names = [*s.get_component_priority_dict_with_base('DOWNLOADER_MIDDLEWARES'),\n"
        "         *s.get_component_priority_dict_with_base('EXTENSIONS')]\n"
        "out['components'] = [load_object(n).__name__ for n in names]\n",
        tmp_path,
    )
    assert "RetryMiddleware" in out["components"] and "SafetyMiddleware" in out["components"]
    assert "TelnetConsole" not in out["components"], "off: its module would import Twisted's conch"
    assert not {"aiohttp", "tldextract", "requests", "numpy"} & set(out["modules"]), out["modules"]


def test_the_cli_starts_a_crawl_child_without_loading_the_store_or_the_page_processing(tmp_path: Path) -> None:
    out = _loaded_after(
        "import scheduler.cli\n"
        "from crawler.child import CrawlStopped, SourceStats, run_in_child, select_sources\n"
        "out['before'] = sorted(m for m in sys.modules if m.startswith(('crawler.', 'sqlite_utils', 'asyncio')))\n"
        "import crawler.run\n"  # the child's module still offers the parent's names
        "out['same'] = crawler.run.run_in_child is run_in_child and crawler.run.select_sources is select_sources\n",
        tmp_path,
    )
    assert out["same"] is True
    assert "crawler.child" in out["before"]
    loaded = {m.split(".")[0] if not m.startswith("crawler.") else m for m in out["before"]}  # type: ignore[union-attr]
    assert not {"crawler.run", "crawler.store", "crawler.process", "sqlite_utils", "asyncio"} & loaded, loaded


def test_a_probe_child_loads_its_modules_without_the_store(tmp_path: Path) -> None:
    # what `python -m crawler.probe` imports before and while it probes; a probe stores nothing
    out = _loaded_after(
        "import crawler.probe\n"
        "from crawler.settings import import_tls_early, quiet_scrapy_logs, scrapy_settings\n"
        "import crawler.middlewares, crawler.spiders, crawler.extract, crawler.feeds, crawler.sitemaps\n"
        "out['store'] = [m for m in ('crawler.store', 'crawler.run') if m in sys.modules]\n",
        tmp_path,
    )
    assert out["store"] == [] and "sqlite_utils" not in out["modules"], out


def test_check_finds_a_file_in_the_way_of_the_database_as_the_store_does_without_loading_it(tmp_path: Path) -> None:
    # one helper for both (crawler.paths); importing the store would cost `check` a quarter of a second
    (tmp_path / "notes.txt").write_text("not a folder", encoding="utf-8")
    (tmp_path / "nw.toml").write_text('[storage]\ndatabase = "notes.txt/nw.db"\n', encoding="utf-8")
    out = _loaded_after(
        "from click.testing import CliRunner\n"
        "from scheduler.cli import cli\n"
        "out['output'] = CliRunner().invoke(cli, ['-c', 'nw.toml', 'check']).output\n"
        "out['store'] = 'crawler.store' in sys.modules\n"
        "import crawler.paths, crawler.store, scheduler.advice\n"
        "out['one'] = (scheduler.advice.database_write_problem is crawler.paths.database_write_problem\n"
        "    and crawler.store.file_in_the_way is crawler.paths.file_in_the_way)\n",
        tmp_path,
    )
    assert "warning: storage.database: " in out["output"] and "notes.txt is a file, not a folder" in out["output"]
    assert out["store"] is False
    assert out["one"] is True


CONFIG = """
[storage]
database = "n.db"

[sets]
china = ["China", "Chinese", "Beijing"]

[[topics]]
name = "cooperation"
query = "@china AND (science OR research)"
"""


def test_a_config_this_process_checked_is_not_compiled_again_by_the_child_it_hands_the_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "newswatch.toml"
    path.write_text(CONFIG, encoding="utf-8")
    assert config.checked_digest(path) is None, "not loaded yet"
    full = config.load_config(path)
    digest = config.checked_digest(path)
    assert digest

    compiled: list[str] = []
    monkeypatch.setattr(config, "_query_problem", lambda query, sets=None: compiled.append(query))
    assert config.load_config(path, checked=digest) == full
    assert compiled == [], "the queries of a text already found valid are not compiled again"

    config.load_config(path, checked="0" * 64)  # a digest of some other text checks everything
    assert "@china AND (science OR research)" in compiled


def test_a_changed_config_is_checked_again_whatever_digest_the_child_is_handed(tmp_path: Path) -> None:
    path = tmp_path / "newswatch.toml"
    path.write_text(CONFIG, encoding="utf-8")
    config.load_config(path)
    digest = config.checked_digest(path)
    path.write_text(CONFIG.replace("(science OR research)", "(science OR"), encoding="utf-8")
    assert config.checked_digest(path) is None
    with pytest.raises(ConfigError) as err:
        config.load_config(path, checked=digest)
    assert "topics[0] (cooperation).query: expected a term" in str(err.value)


_POOL_TOPICS = r"""
import json, os, sys
from crawler.config import checked_digest, load_config
from crawler.pipelines import make_pool
from crawler.process import POOL_TOPICS_ENV

path = sys.argv[1]
load_config(path)
if sys.argv[2] == "yes":  # as a crawl child does
    os.environ[POOL_TOPICS_ENV] = f"{checked_digest(path)}:{path}"
pool = make_pool(1, language_model=False)
state = "(len(__import__('crawler.process').process._compiled), len(__import__('crawler.topics').topics._GAZETTEERS))"
print(json.dumps(pool.submit(eval, state).result(timeout=120)))
pool.shutdown(wait=True)
"""


@pytest.mark.parametrize("told", [True, False])
def test_workers_find_the_runs_topics_compiled_by_their_forkserver(tmp_path: Path, told: bool) -> None:
    path = tmp_path / "newswatch.toml"
    path.write_text(CONFIG.replace("@china AND", "country:CN AND country:RU AND"), encoding="utf-8")
    compiled, gazetteers = run_script(_POOL_TOPICS, str(path), "yes" if told else "no", cwd=tmp_path)
    if told:
        assert compiled == 1 and gazetteers == 2  # the topic, with China's and Russia's gazetteers
    else:
        assert compiled == 0 and gazetteers == 0


class _Pool(ThreadPoolExecutor):
    """An executor that records what it is given (a stand-in for the extraction pool)."""

    def __init__(self, broken: bool = False) -> None:
        super().__init__(max_workers=1)
        self.broken = broken
        self.given: list[str] = []

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        if self.broken:
            raise BrokenProcessPool("a worker died")
        self.given.append(fn.__name__)
        return super().submit(fn, *args, **kwargs)


def _feed_only_in(tmp_path: Path, pool: Any, started: bool) -> tuple[Any, Any]:
    path = tmp_path / "newswatch.toml"
    path.write_text(CONFIG, encoding="utf-8")
    cfg = config.load_config(path)
    store = Store(tmp_path / "n.db")
    ctx = CrawlContext(cfg, store, [], [], emit=lambda event: None)
    factory_calls: list[bool] = []
    ctx.pool_factory = lambda language_model: factory_calls.append(language_model) or pool
    item = FeedOnlyItem(
        source="wire",
        url="http://example.org/a",
        feed=FeedInfo(title="China and Russia open a joint research centre", summary="Scientists of both sides."),
        fetched=datetime(2026, 11, 20, tzinfo=UTC),
        pending=True,
        backlog=False,
        error="http://example.org/a answered HTTP 503",
    )
    pipeline = ProcessPipeline(SimpleNamespace(spider=SimpleNamespace(ctx=ctx)))

    async def process() -> Any:
        if started:
            await ctx.get_pool(False)
        return await pipeline.process_item(item)

    try:
        done, processed = asyncio.run(process())
    finally:
        pool.shutdown()
        store.close()
    assert done is item
    assert factory_calls == ([False] if started else []), "a feed-only item never starts a pool"
    inline = feed_only(
        item.source, item.url, item.feed, item.fetched, cfg.topics, backlog=False, pending=True, source_language=None
    )
    return processed, inline


def test_a_page_that_failed_is_kept_from_its_feed_in_the_running_pool_whose_workers_have_the_topics(
    tmp_path: Path,
) -> None:
    pool = _Pool()
    processed, inline = _feed_only_in(tmp_path, pool, started=True)
    assert pool.given[-1] == "feed_only"
    assert processed == inline and processed.matches and processed.record.text_from == "feed"


@pytest.mark.parametrize("broken", [False, True])
def test_without_a_running_pool_a_page_that_failed_is_kept_from_its_feed_here(tmp_path: Path, broken: bool) -> None:
    pool = _Pool(broken=broken)
    processed, inline = _feed_only_in(tmp_path, pool, started=broken)  # a broken pool: started, then unusable
    assert "feed_only" not in pool.given
    assert processed == inline and processed.matches
