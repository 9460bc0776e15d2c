"""Crawl history stays bounded: a run's summary keeps a sample of its error lines (the rest counted by
reason), and old runs are forgotten."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from crawler import store as store_module
from crawler.store import Store, iso, utcnow


def summary(pages: int) -> dict:
    errors = [f"https://example.org/page/{i}.html: no article text found on the page" for i in range(pages)]
    errors += [f"https://example.org/x/{i}: HTTP 500" for i in range(30)]
    return {
        "run_id": 1,
        "sources": [{"name": "wire", "errors": len(errors), "error_samples": errors, "warnings": []}],
        "new_article_ids": [],
    }


def test_a_run_summary_keeps_a_sample_and_counts_the_rest(tmp_path: Path) -> None:
    with Store(tmp_path / "nw.db") as store:
        run = store.start_run("cli")
        store.finish_run(run, "ok", summary(5000))
        raw = store.scalar("SELECT summary FROM crawl_runs WHERE id = ?", [run])
    assert len(raw) < 10_000  # was about 370 KB for these 5,030 lines
    src = json.loads(raw)["sources"][0]
    assert src["errors"] == 5030 and len(src["error_samples"]) == store_module.RUN_SAMPLES
    assert src["error_samples_more"] == {"no article text found on the page": 4980, "HTTP 500": 30}


def test_old_runs_are_forgotten(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "RUNS_KEPT", 5)
    with Store(tmp_path / "nw.db") as store:
        old = store.start_run("daemon")
        store.conn.execute("UPDATE crawl_runs SET started = ? WHERE id = ?", [iso(utcnow() - timedelta(days=45)), old])
        store.finish_run(old, "ok", summary(1))
        assert store.scalar("SELECT count(*) FROM crawl_runs WHERE id = ?", [old]) == 0
        running = store.start_run("cli")  # left running (another process's crawl): never deleted
        for _ in range(12):
            store.finish_run(store.start_run("daemon"), "ok", summary(1))
        ids = [r["id"] for r in store.query("SELECT id FROM crawl_runs ORDER BY id")]
    assert running in ids and len(ids) == 6  # the running one and the newest 5
