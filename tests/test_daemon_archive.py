"""`newswatch run` on a config without mail (the demo's): it archives, and says what it will do."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crawler.store import Store
from scheduler.demo import demo_config_text
from tests.support.daemonworld import Daemon


def test_run_without_smtp_archives_and_logs_each_sources_next_poll_and_errors(
    tmp_path: Path, site: Any, daemons: Callable[..., Daemon]
) -> None:
    cfg = tmp_path / "demo.toml"
    cfg.write_text(demo_config_text(site.base_url), encoding="utf-8")  # [digest] but no [smtp]
    d = daemons(cfg, env={"NEWSWATCH_WORKERS": "0"})  # each crawl child extracts its pages itself
    d.wait_note("READY=1")
    d.wait_log("archive mode (no [smtp] in the config)")
    names = ("globalwire", "vestnik", "huaxia", "huaxia-sitemap", "digestnet", "academy", "frozen")
    for name in names:
        d.wait_log(f"source {name}: next poll ")
    assert re.search(r"source academy: next poll \S+ \(in \d+s\), then every 6h", d.log())
    # One batch polls all seven. A source's own line is at INFO when it stored something or met an
    # error (a feed whose pages its sitemap twin fetched first in the same batch has neither: DEBUG).
    d.wait_log(f"crawl batch of {len(names)}: {len(names)} polled, 0 failed", timeout=120)
    assert d.terminate() == 0
    log = d.log()
    batch = re.search(r"crawl batch of \d+: .*; fetched \d+, new (\d+), errors (\d+);", log)
    assert batch, log
    lines = re.findall(r"\bcrawl (\S+): \w+; fetched \d+, new (\d+), duplicates \d+, matched \d+, errors (\d+)", log)
    assert {name for name, _new, _errors in lines} <= set(names)
    assert len(lines) >= len(names) - 1, log  # at most one twin had nothing of its own
    assert sum(int(new) for _name, new, _errors in lines) == int(batch.group(1)) > 20
    assert sum(int(errors) for _name, _new, errors in lines) == int(batch.group(2)) > 0
    assert "Traceback" not in log
    with Store(tmp_path / "newswatch-demo.db") as store:
        assert store.count("articles") > 20
    # a crawl that counted errors names them (the sample site has broken links on purpose)
    with_errors = re.findall(r"\bcrawl (\S+): .*errors ([1-9]\d*) \((.+?)\); ", log)
    assert with_errors, log
    counted = re.findall(r"\bcrawl (\S+): .*errors ([1-9]\d*)", log)
    assert len(with_errors) == len(counted)
    assert any("http" in text for _name, _n, text in with_errors)


def test_a_source_polled_alone_has_its_line_also_when_nothing_is_new(
    tmp_path: Path, site: Any, daemons: Callable[..., Daemon]
) -> None:
    """A batch's sources with nothing new are counted by the batch's line; a source polled on its own has no
    batch line, so its own says that it was polled (a daemon with one source logged nothing after its first poll)."""
    cfg = tmp_path / "nw.toml"
    cfg.write_text(
        '[storage]\ndatabase = "nw.db"\n[crawl]\nallow_private = true\n'
        f'[[sources]]\nname = "gw"\nurl = "{site.base_url}/huaxia/atom.xml"\nevery = "2s"\n',
        encoding="utf-8",
    )
    d = daemons(cfg, env={"NEWSWATCH_WORKERS": "0"})
    d.wait_log("crawl gw: ok; fetched ", timeout=120)  # the first poll stores the feed's articles
    d.wait_log("crawl gw: not-modified; fetched 1, new 0, duplicates 0, matched 0, errors 0; ", timeout=120)
    assert d.terminate() == 0
    assert "crawl batch of" not in d.log()
