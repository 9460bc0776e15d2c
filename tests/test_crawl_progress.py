"""`crawl`'s live line on a terminal counts as its summary table does: each source once, a failed one as an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.run import run_in_child
from scheduler.cli import Progress
from tests.support.sitesrv import SiteServer

ROOT = Path(__file__).resolve().parent.parent


def test_the_live_line_counts_each_source_once_and_a_failed_source_as_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with SiteServer(ROOT / "fixtures" / "site") as site:
        cfg = tmp_path / "nw.toml"
        cfg.write_text(
            '[storage]\ndatabase = "nw.db"\n[crawl]\nallow_private = true\n'
            # a listing read two pages deep answers twice; a feed that is gone fails
            f'[[sources]]\nname = "academy"\nkind = "listing"\nurl = "{site.base_url}/academy/news/index.html"\n'
            'follow = "/academy/news/\\\\d{4}/"\ndepth = 2\n'
            f'[[sources]]\nname = "missing"\nurl = "{site.base_url}/_fault/status/404"\n',
            encoding="utf-8",
        )
        progress = Progress(enabled=True)
        summary = run_in_child(cfg, on_event=progress.update, extra_env={"NEWSWATCH_WORKERS": "0"})
    last = capsys.readouterr().err.split("\r")[-1]
    totals = summary.totals()
    status = {s.name: s.status for s in summary.sources}
    assert status == {"academy": "ok", "missing": "failed"} and totals["new"] > 0
    assert last.startswith("crawling: 2 sources polled, "), last
    errors = f"{totals['errors']} {'error' if totals['errors'] == 1 else 'errors'}"
    assert last.endswith(f" {totals['new']} new, {errors} "), last
