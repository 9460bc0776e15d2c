"""The compiled topics are frozen out of the garbage collector's way once per process, in every process that
matches a batch: extraction workers (by their forkserver), a crawl without workers, the archive's re-matching,
`search`, `topics eval`, `topics train`.

Each case runs in a fresh interpreter: freezing is per process, and this one's may be frozen already.
"""

from __future__ import annotations

import gc
import json
import weakref
from pathlib import Path
from typing import Any

import pytest

from crawler import process
from crawler.config import load_config
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
from crawler.longlived import matching_batch
"""
    + _FROZEN
    + r"""
topics = load_config(sys.argv[1]).topics
before = gc.get_freeze_count()
first = process.settle_topics(topics)
frozen_count = gc.get_freeze_count()
query = process._query(topics[0])
threshold = gc.get_threshold()[0]
with matching_batch():
    in_batch = gc.get_threshold()[0]
    for _ in range(3):  # articles freeze nothing
        process.match_topics("China and Russia", "A joint laboratory of Chinese and Russian science.", topics)
after_batch = gc.get_threshold()[0]
after_articles = gc.get_freeze_count()
# a reload: the same topic with a changed query, compiled and settled again in this process
reloaded = load_config(sys.argv[2]).topics
again = process.settle_topics(reloaded)
new_query = process._query(reloaded[0])
print(json.dumps({
    "before": before, "first": first, "frozen": frozen_count, "query_frozen": frozen(query),
    "after_articles": after_articles, "again": again, "after_reload": gc.get_freeze_count(),
    "new_query_frozen": frozen(new_query), "new_query_tracked": gc.is_tracked(new_query),
    "threshold": threshold, "in_batch": in_batch, "after_batch": after_batch,
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
    assert out["in_batch"] == YOUNG_THRESHOLD, "while a batch is matched, the young generation is larger"
    assert out["threshold"] == out["after_batch"] < YOUNG_THRESHOLD, "and Python's threshold before and after it"
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
    "(__import__('gc'), next(iter(__import__('crawler.process').process._compiled.values()))[1])"
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
threshold = gc.get_threshold()
result = CliRunner().invoke(cli, args, catch_exceptions=False)
print(json.dumps([result.exit_code, before, gc.get_freeze_count(), gc.get_threshold() == threshold]))
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
    code, before, after, threshold_put_back = run_script(
        _COMMANDS, json.dumps(["-c", str(tmp_path / "newswatch.toml"), *args]), cwd=tmp_path
    )
    assert code == 0
    assert before == 0 and after > 1000 and threshold_put_back


def test_a_topic_whose_query_changed_replaces_its_compiled_query_which_is_freed(tmp_path: Path) -> None:
    """What a reload does in the daemon, whose digests match with these: no compiled topic piles up."""
    first, second = _configs(tmp_path)
    old, new = load_config(first).topics[0], load_config(second).topics[0]
    gone = weakref.ref(process._query(old))
    assert process._query(load_config(first).topics[0]) is gone(), "the same query is compiled once"
    assert process._query(new) is not gone()
    gc.collect()
    assert gone() is None, "the replaced query is freed"
    assert [name for name in process._compiled if name == "cooperation"] == ["cooperation"]


_TRAIN = r"""
import gc, json, sys
from click.testing import CliRunner
from crawler.topics import Query
from scheduler.cli import cli

seen = []  # (threshold, frozen) as each story's gate is asked
holds = Query.holds
def spy(self, doc):
    seen.append((gc.get_threshold()[0], gc.get_freeze_count()))
    return holds(self, doc)
Query.holds = spy
threshold = gc.get_threshold()
result = CliRunner().invoke(cli, json.loads(sys.argv[1]), catch_exceptions=False)
print(json.dumps([result.exit_code, seen, gc.get_threshold() == threshold]))
"""


def test_topics_train_featurizes_its_stories_as_a_batch_of_frozen_queries(tmp_path: Path) -> None:
    first, _ = _configs(tmp_path)
    rows = [
        ("China and Russia open a joint laboratory", "Science and research of China and Russia.", 1),
        ("Russia and China sign a gas deal", "China and Russia agreed on gas prices after research.", 0),
        ("Chinese and Russian scientists meet", "A research laboratory in Moscow for China and Russia.", 1),
        ("China and Russia hold naval drills", "The navies of Russia and China sailed; science fiction.", 0),
    ]
    for n in (1, 2):
        stories = [{"title": t, "text": x, "language": "en", "label": y} for t, x, y in rows]
        (tmp_path / f"l{n}.jsonl").write_text("\n".join(json.dumps(s) for s in stories), encoding="utf-8")
    args = ["-c", str(first), "topics", "train", "-q", str(tmp_path / "l1.jsonl"), str(tmp_path / "l2.jsonl")]
    code, seen, threshold_put_back = run_script(
        _TRAIN, json.dumps([*args, "-o", str(tmp_path / "m.json")]), cwd=tmp_path
    )
    assert code == 0 and (tmp_path / "m.json").is_file()
    assert len(seen) == 2 * len(rows), "each story's gate asked once"
    assert all(t == YOUNG_THRESHOLD for t, _frozen in seen), "the stories are matched as a batch"
    assert all(frozen > 1000 for _t, frozen in seen), "with the compiled gate and features frozen before the first"
    assert threshold_put_back


_CRAWL = r"""
import gc, json, sys
from crawler import pipelines
from crawler.config import load_config
from crawler.run import crawl_once

seen = {}  # what was processed in this process -> (threshold, frozen) as each began
def spy(name, work):
    def call(*args, **kwargs):
        seen.setdefault(name, []).append((gc.get_threshold()[0], gc.get_freeze_count()))
        return work(*args, **kwargs)
    return call
pipelines.process_page = spy("page", pipelines.process_page)
pipelines.feed_only = spy("feed_only", pipelines.feed_only)
threshold = gc.get_threshold()
summary = crawl_once(load_config(sys.argv[1]), ["wire"], workers=0)
print(json.dumps([summary.totals()["new"], seen, gc.get_threshold() == threshold]))
"""


def test_a_crawl_without_workers_matches_its_pages_and_feed_entries_as_a_batch(tmp_path: Path, site: Any) -> None:
    """NEWSWATCH_WORKERS=0: the crawl child extracts and matches its pages itself, and the entries whose page
    failed (feed-only), with its topics frozen and the young generation larger only while it matches."""
    first, _ = _configs(tmp_path)
    feed = f"{site.base_url}/globalwire/rss.xml"
    source = f'\n[[sources]]\nname = "wire"\nkind = "feed"\nurl = "{feed}"\nstale_after = "3650d"\n'
    source += "\n[crawl]\nallow_private = true\n"  # the site is on 127.0.0.1
    first.write_text(first.read_text(encoding="utf-8") + source, encoding="utf-8")
    # the topics already matched the (empty) archive: the crawl itself has no re-matching batch
    run_script(_SYNC, str(first), cwd=tmp_path)
    new, seen, threshold_put_back = run_script(_CRAWL, str(first), cwd=tmp_path)
    assert new > 0 and set(seen) == {"page", "feed_only"}
    calls = [c for kind in seen.values() for c in kind]
    assert all(t == YOUNG_THRESHOLD for t, _frozen in calls), "each page and entry matched as a batch"
    assert all(frozen > 1000 for _t, frozen in calls[1:]), "the run's topics frozen from the first on"
    assert threshold_put_back, "the crawl's own fetching keeps Python's threshold"


_SYNC = r"""
import json, sys
from crawler.config import load_config
from crawler.matching import sync_topics
from crawler.store import Store

config = load_config(sys.argv[1])
with Store(config.storage.database) as store:
    sync_topics(config, store)
print(json.dumps(True))
"""
