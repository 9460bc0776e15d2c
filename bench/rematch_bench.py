"""The upgrade that cleans stored text (store migration 0140) and the matching again it leaves to the first crawl or
digest after it, on an archive of a few thousand stories.

    python bench/rematch_bench.py                         # 5,000 articles, one in ten holding control characters
    python bench/rematch_bench.py --articles 20000 --dirty 1.0 --runs 3

The archive is made once in a temporary folder, as an older newswatch left it: articles stored through the store
(Store.add_article) and matched with the shipped config's default topic on the text as it came; the labeled en/ru/zh
stories of fixtures/topics, each copy with a line of its own (so that no two texts are the same), first seen over the
last 60 days; a share of them (``--dirty``) with terminal escape sequences and control characters in the title and
text. Each run copies it and measures, on the copy:

- the upgrade, as the daemon applies it before READY=1: opening the database (migration 0140, which now notes the
  articles it changed), beside the same upgrade with the note left out (the code before, in the same run);
- the first crawl's or digest's ``sync_topics``, which matches the noted articles again (the topics compiled first,
  as the crawl child does), and the next one's, which finds nothing to do (what every later crawl child pays);
- a topic's query edited, for comparison: ``sync_topics`` matching again the articles of the digest's window.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler import store as store_module  # noqa: E402
from crawler.config import Config, StorageConfig, load_config  # noqa: E402
from crawler.matching import rematch_due, sync_topics  # noqa: E402
from crawler.process import score_topics, settle_topics  # noqa: E402
from crawler.store import REMATCH, Store, iso, utcnow  # noqa: E402
from tests.support.articles import article_record  # noqa: E402

LABELED = [ROOT / "fixtures" / "topics" / "labeled.jsonl", ROOT / "fixtures" / "topics" / "heldout" / "dev.jsonl"]
CLEANING = "0140_invisible_characters_removed"
WORDS = "energy research station laboratory reactor fuel satellite university pipeline trade summit".split()


def dirty(text: str, rng: random.Random) -> str:
    """The text with what older versions kept: a bold word in escape sequences, a window title, a NUL."""
    words = text.split(" ")
    k = rng.randrange(len(words))
    words[k] = f"\x1b[1m{words[k]}\x1b[0m"
    return "\x1b]0;feed\x07" + " ".join(words) + "\x00"


def build(path: Path, n: int, share: float, config: Config, rng: random.Random) -> int:
    """An archive of ``n`` articles as an older newswatch left it (0140 not applied, its topics' state written);
    returns how many hold control characters."""
    topics = config.topics
    stories = [json.loads(line) for f in LABELED for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    settle_topics(topics)
    made = 0
    with Store(path) as st:
        st.conn.execute("PRAGMA synchronous = OFF")  # a bulk load; the measured steps run with the store's own
        for i in range(n):
            s = stories[i % len(stories)]
            title = s["title"]
            text = f"{s['text']}\n\nUpdate {i}: {' '.join(rng.choices(WORDS, k=8))}."
            if rng.random() < share:
                title, text = dirty(title, rng), dirty(text, rng)
                made += 1
            rec = dataclasses.replace(
                article_record(i, title, text, age=timedelta(days=rng.uniform(0, 60)), indexed=True),
                language=s["language"],
            )
            with st.transaction():
                aid = st.add_article(rec).article_id
                st.set_matches(aid, *score_topics(title, text, topics, s["language"]))
        sync_topics(dataclasses.replace(config, storage=StorageConfig(path)), st)  # the topics' state, as a crawl's
        st.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = ?", [CLEANING])
    conn.execute(f"DROP TABLE {REMATCH}")  # an older newswatch made none
    conn.close()
    return made


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--dirty", type=float, default=0.1, help="share of the articles holding control characters")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    shipped = load_config(ROOT / "config" / "newswatch.toml")
    topics = shipped.topics
    rng = random.Random(20261130)
    with tempfile.TemporaryDirectory(prefix="nw-bench-rematch-") as tmp:
        base = Path(tmp) / "old.db"
        t0 = time.perf_counter()
        made = build(base, args.articles, args.dirty, shipped, rng)
        print(
            f"archive: {args.articles:,} articles ({base.stat().st_size / 1e6:.0f} MB), {made:,} holding control"
            f" characters, matched with the default topic as before; built in {time.perf_counter() - t0:.0f} s"
        )
        figures: dict[str, list[float]] = {}
        shown = 0
        for _ in range(args.runs):
            for noted in (False, True):  # alternately: the machine's load hits both alike
                db = Path(tmp) / "run.db"
                shutil.copyfile(base, db)
                real = store_module._rematch_later
                if not noted:
                    store_module._rematch_later = lambda *a: None  # type: ignore[assignment]
                try:
                    upgrade = timed(lambda: Store(db).close())  # noqa: B023
                finally:
                    store_module._rematch_later = real
                figures.setdefault("upgrade, noted" if noted else "upgrade, no note (before)", []).append(upgrade)
                if not noted:
                    continue
                config = dataclasses.replace(shipped, storage=StorageConfig(db))
                with Store(db) as st:
                    noted_count = rematch_due(st)
                    first = timed(lambda: sync_topics(config, st))  # noqa: B023
                    assert rematch_due(st) == 0
                    later = timed(lambda: sync_topics(config, st))  # noqa: B023
                    edited = dataclasses.replace(topics[0], query=topics[0].query + " OR zzzunused")
                    max_age = config.digest.max_age if config.digest else 7 * 86400.0
                    window = st.scalar(
                        "SELECT count(*) FROM articles WHERE first_seen >= ?",
                        [iso(utcnow() - timedelta(seconds=max_age))],
                    )
                    edit = timed(
                        lambda: sync_topics(dataclasses.replace(config, topics=(edited, *topics[1:])), st)  # noqa: B023
                    )
                figures.setdefault(f"first sync: {noted_count:,} matched again", []).append(first)
                figures.setdefault("next sync: nothing to do", []).append(later)
                shown = shown or window  # the first run's count names the row (the window moves with the clock)
                figures.setdefault(f"a query edited: ~{shown:,} in the window matched again", []).append(edit)
        for name, xs in figures.items():
            print(f"  {name:52} median {statistics.median(xs):7.2f} s   (runs: {', '.join(f'{x:.2f}' for x in xs)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
