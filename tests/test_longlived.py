"""The compiled topics are frozen out of the garbage collector's way once per process, in every process that
matches a batch: extraction workers (by their forkserver), the archive's re-matching, `search`, `topics eval`.

Each case runs in a fresh interpreter: freezing is per process, and this one's may be frozen already.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawler.longlived import YOUNG_THRESHOLD
from tests.support.pyrun import run_script

CONFIG = """
[storage]
database = "n.db"

[sets]
st = ["science", "research", "laboratory"]

[[topics]]
name = "cooperation"
query = "country:CN AND country:RU AND @st"
"""

# Whether an object is frozen: tracked by the collector, yet in none of its generations.
_FROZEN = "def frozen(obj):\n    return gc.is_tracked(obj) and not any(o is obj for o in gc.get_objects())\n"

_BATCHES = (
    r"""
import gc, json, sys
from crawler.config import load_config
from crawler import process
"""
    + _FROZEN
    + r"""
topics = load_config(sys.argv[1]).topics
before = gc.get_freeze_count()
first = process.settle_topics(topics)
frozen_count = gc.get_freeze_count()
query = process._query(topics[0])
for _ in range(3):  # articles freeze nothing
    process.match_topics("China and Russia", "A joint laboratory of Chinese and Russian science.", topics)
after_articles = gc.get_freeze_count()
# a reload: the same topic with a changed query, compiled and settled again in this process
reloaded = load_config(sys.argv[2]).topics
again = process.settle_topics(reloaded)
new_query = process._query(reloaded[0])
print(json.dumps({
    "before": before, "first": first, "frozen": frozen_count, "query_frozen": frozen(query),
    "after_articles": after_articles, "again": again, "after_reload": gc.get_freeze_count(),
    "new_query_frozen": frozen(new_query), "new_query_tracked": gc.is_tracked(new_query),
    "threshold": gc.get_threshold()[0],
}))
"""
)


def _configs(tmp_path: Path) -> tuple[Path, Path]:
    first, second = tmp_path / "a.toml", tmp_path / "b.toml"
    first.write_text(CONFIG, encoding="utf-8")
    second.write_text(CONFIG.replace('"laboratory"', '"laboratory", "academy"'), encoding="utf-8")
    return first, second


def test_a_batch_freezes_its_compiled_topics_once_and_a_reload_adds_nothing_frozen(tmp_path: Path) -> None:
    first, second = _configs(tmp_path)
    out = run_script(_BATCHES, str(first), str(second), cwd=tmp_path)
    assert out["before"] == 0 and out["first"] is True
    assert out["frozen"] > 1000 and out["query_frozen"], "the compiled query and what it built are frozen"
    assert out["threshold"] == YOUNG_THRESHOLD
    # (frozen objects are still freed by reference counting: the count may only fall)
    assert out["after_articles"] <= out["frozen"], "matching articles freezes nothing more"
    assert out["again"] is False and out["after_reload"] <= out["frozen"], "a reload does not freeze again"
    assert out["new_query_tracked"] and not out["new_query_frozen"], "a reloaded topic stays collectable"


_POOL = r"""
import json, os, sys
from crawler.config import checked_digest, load_config
from crawler.pipelines import make_pool
from crawler.process import POOL_TOPICS_ENV

path = sys.argv[1]
load_config(path)
os.environ[POOL_TOPICS_ENV] = f"{checked_digest(path)}:{path}"  # as a crawl child does
pool = make_pool(1, language_model=sys.argv[2] == "yes")
state = (
    "(lambda gc, q: (gc.get_freeze_count(), gc.get_threshold()[0], gc.is_tracked(q),"
    " any(o is q for o in gc.get_objects())))"
    "(__import__('gc'), next(iter(__import__('crawler.process').process._compiled.values())))"
)
print(json.dumps(pool.submit(eval, state).result(timeout=120)))
pool.shutdown(wait=True)
"""


@pytest.mark.parametrize("language_model", ["yes", "no"])
def test_workers_inherit_their_forkservers_frozen_topics(tmp_path: Path, language_model: str) -> None:
    first, _ = _configs(tmp_path)
    count, threshold, tracked, in_a_generation = run_script(_POOL, str(first), language_model, cwd=tmp_path)
    assert count > 1000 and threshold == YOUNG_THRESHOLD
    assert tracked and not in_a_generation, "the compiled query was frozen before the worker was forked"


_COMMANDS = r"""
import gc, json, sys
from click.testing import CliRunner
from scheduler.cli import cli

args = json.loads(sys.argv[1])
before = gc.get_freeze_count()
result = CliRunner().invoke(cli, args, catch_exceptions=False)
print(json.dumps([result.exit_code, before, gc.get_freeze_count(), gc.get_threshold()[0]]))
"""


@pytest.mark.parametrize(
    "args",
    [
        ["search", "--topic", "cooperation"],
        ["topics", "eval", "labeled.jsonl", "--summary"],
        ["digest", "--dry-run"],  # an edited topic re-matches the archive first
    ],
)
def test_the_cli_batch_commands_freeze_their_topics(tmp_path: Path, args: list[str]) -> None:
    first, _ = _configs(tmp_path)
    config = first.read_text(encoding="utf-8") + (
        '\n[digest]\nschedule = "0 7 * * *"\n\n[[digest.recipients]]\nemail = "a@example.org"\n'
    )
    (tmp_path / "newswatch.toml").write_text(config, encoding="utf-8")
    story = {"title": "China and Russia", "text": "A joint laboratory.", "language": "en", "label": 1}
    (tmp_path / "labeled.jsonl").write_text(json.dumps(story) + "\n", encoding="utf-8")
    from crawler.store import Store

    Store(tmp_path / "n.db").close()
    code, before, after, threshold = run_script(
        _COMMANDS, json.dumps(["-c", str(tmp_path / "newswatch.toml"), *args]), cwd=tmp_path
    )
    assert code == 0
    assert before == 0 and after > 1000 and threshold == YOUNG_THRESHOLD
