"""End to end: the sample site over real HTTP, crawled into a real SQLite file, then exported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crawler.config import load_config
from crawler.run import run_in_child
from crawler.store import Store
from scheduler.demo import demo_config_text
from tests.support.cli import newswatch as run
from tests.support.sitesrv import SiteServer

REPO = Path(__file__).resolve().parent.parent
SITE = REPO / "fixtures" / "site"
EXPECTED: dict[str, dict[str, Any]] = json.loads((SITE / "expected.json").read_text(encoding="utf-8"))


def newswatch(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m scheduler.cli` as a user runs it: its own process (the first crawl of the world)."""
    return subprocess.run(
        [sys.executable, "-m", "scheduler.cli", *args], capture_output=True, text=True, timeout=300, env={**os.environ}
    )


class World:
    def __init__(self, site: SiteServer, config_path: Path) -> None:
        self.site = site
        self.config_path = config_path
        self.config = load_config(config_path)
        self._exports: dict[tuple[str, ...], list[dict[str, Any]]] = {}

    def export(self, *extra: str) -> list[dict[str, Any]]:
        """`newswatch export` of the crawled world, run once per set of options (later crawls store nothing)."""
        if extra not in self._exports:
            out = run("-c", str(self.config_path), "export", *extra)
            assert out.returncode == 0, out.stderr
            self._exports[extra] = [json.loads(line) for line in out.stdout.splitlines()]
        return [dict(r) for r in self._exports[extra]]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("crawl")
    with SiteServer(SITE) as site:
        cfg = tmp / "newswatch.toml"
        cfg.write_text(demo_config_text(site.base_url), encoding="utf-8")
        w = World(site, cfg)
        w.first = newswatch("-c", str(cfg), "crawl")  # type: ignore[attr-defined]
        w.first_hits = {p: site.hits(p) for p in EXPECTED}  # type: ignore[attr-defined]
        yield w


def by_path(records: list[dict[str, Any]], base: str) -> dict[str, dict[str, Any]]:
    out = {}
    for r in records:
        for url in (r["url"], r["canonical_url"]):
            if url.startswith(base):
                out[url[len(base) :].split("?")[0]] = r
    return out


def test_first_crawl_succeeds_with_a_summary_table(world: World) -> None:
    res = world.first  # type: ignore[attr-defined]
    assert res.returncode == 0, res.stderr
    header = res.stdout.splitlines()[0].split()
    assert header == ["source", "status", "fetched", "new", "duplicates", "matched", "errors"]
    assert "total" in res.stdout
    assert "Traceback" not in res.stderr


def test_every_article_is_stored_once_with_its_key_sentences_and_no_boilerplate(world: World) -> None:
    records = world.export()
    pages = by_path(records, world.site.base_url)
    canon = [r["canonical_url"] for r in records]
    assert len(canon) == len(set(canon)), "an article was stored twice"
    missing = [p for p in EXPECTED if p not in pages]
    assert not missing
    for path, exp in EXPECTED.items():
        rec = pages[path]
        assert rec["text_from"] == "page", path
        assert rec["language"] == exp["language"], path
        for sentence in exp["key_sentences"]:
            assert sentence in rec["text"], f"{path}: key sentence lost: {sentence[:60]}"
        for junk in exp["boilerplate"]:
            assert junk not in rec["text"], f"{path}: boilerplate kept: {junk}"
        assert "\ufffd" not in rec["text"] and "\ufffd" not in rec["title"]


def test_russian_and_chinese_titles_are_decoded_exactly(world: World) -> None:
    pages = by_path(world.export(), world.site.base_url)
    checked = {exp["language"] for path, exp in EXPECTED.items() if exp["language"] in ("ru", "zh")}
    assert checked == {"ru", "zh"}, "the sample site must hold Russian and Chinese pages"
    for path, exp in EXPECTED.items():
        if exp["language"] in ("ru", "zh"):
            assert pages[path]["title"] == exp["title"], path


def test_export_record_fields(world: World) -> None:
    rec = world.export()[0]
    assert list(rec) == [
        "id",
        "url",
        "canonical_url",
        "source",
        "title",
        "text",
        "text_from",
        "published",
        "language",
        "topics",
        "story",
        "fetched",
    ]
    assert isinstance(rec["id"], str) and isinstance(rec["story"], str) and isinstance(rec["topics"], list)
    assert rec["fetched"].endswith("+00:00")


def test_published_comes_from_the_page_with_offset(world: World) -> None:
    from datetime import datetime

    pages = by_path(world.export(), world.site.base_url)
    dated = [path for path, exp in EXPECTED.items() if exp.get("published")]
    assert len(dated) >= 5, "the sample site must hold pages with a published date"
    for path, exp in EXPECTED.items():
        if exp.get("published"):
            got = datetime.fromisoformat(pages[path]["published"])
            assert got == datetime.fromisoformat(exp["published"]), path


def test_syndicated_copies_share_a_story_and_different_events_do_not(world: World) -> None:
    pages = by_path(world.export(), world.site.base_url)
    labels: dict[str, set[str]] = {}
    for path, exp in EXPECTED.items():
        labels.setdefault(exp["story"], set()).add(pages[path]["story"])
    for label, stories in labels.items():
        assert len(stories) == 1, f"copies of {label} split into {stories}"
    story_of_label = {label: next(iter(s)) for label, s in labels.items()}
    assert len(set(story_of_label.values())) == len(story_of_label), "two different events merged"


def test_failed_page_keeps_the_feed_summary(world: World) -> None:
    feed_only = [r for r in world.export() if r["text_from"] == "feed"]
    assert feed_only, "the sample feeds link to failing pages; their entries must be kept"
    kinds = {s.name: s.kind for s in world.config.sources}
    for r in feed_only:
        assert r["title"]
        if kinds[r["source"]] == "feed":  # a sitemap entry has a title but no summary
            assert r["text"]
    assert any(kinds[r["source"]] == "feed" for r in feed_only)


def test_csv_export_joins_lists(world: World) -> None:
    out = run("-c", str(world.config_path), "export", "--format", "csv", "--matched")
    assert out.returncode == 0
    lines = out.stdout.splitlines()
    assert lines[0] == "id,url,canonical_url,source,title,text,text_from,published,language,topics,story,fetched"
    assert len(lines) > 1


def test_second_crawl_stores_nothing_and_fetches_no_article_again(world: World) -> None:
    with Store(world.config.storage.database) as store:
        before = store.count("articles")
    second = run("-c", str(world.config_path), "crawl")
    assert second.returncode == 0, second.stderr
    with Store(world.config.storage.database) as store:
        assert store.count("articles") == before
    for path, hits in world.first_hits.items():  # type: ignore[attr-defined]
        assert world.site.hits(path) == hits, f"{path} fetched again"
    statuses = {line.split()[0]: line.split()[1] for line in second.stdout.splitlines()[2:-1]}
    # feeds, the news sitemap and the listing page all answer 304 to the stored validators
    assert set(statuses.values()) == {"not-modified"}, second.stdout
    total = [line for line in second.stdout.splitlines() if line.startswith("total")][0].split()
    # columns: total, fetched, new, duplicates, matched, errors; only feeds, listings and pages that failed
    assert int(total[1]) <= len(world.config.sources) + 4, second.stdout
    assert total[2] == "0", second.stdout


def test_search_uses_the_query_language(world: World) -> None:
    out = run("-c", str(world.config_path), "search", "--json", "中俄 AND 科技")
    assert out.returncode == 0, out.stderr
    hits = json.loads(out.stdout)
    assert hits and all(h["language"] == "zh" for h in hits)
    out = run("-c", str(world.config_path), "search", "--json", "Росси* NEAR/5 Китай*")
    assert out.returncode == 0, out.stderr
    assert any(h["language"] == "ru" for h in json.loads(out.stdout))


def test_crawl_of_a_single_url(world: World, tmp_path: Path) -> None:
    path = next(p for p, e in EXPECTED.items() if e["language"] == "zh")
    cfg = tmp_path / "c.toml"
    cfg.write_text('[storage]\ndatabase = "nw.db"\n[crawl]\nallow_private = true\n', encoding="utf-8")
    summary = run_in_child(cfg, [], [world.site.base_url + path])
    assert summary.totals()["new"] == 1
    with Store(tmp_path / "nw.db") as store:
        row = store.query("SELECT title, source FROM articles")[0]
    assert row["title"] == EXPECTED[path]["title"]
    assert row["source"] == "127.0.0.1"
