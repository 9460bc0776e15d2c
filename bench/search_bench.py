"""`newswatch search` on a large archive: a filtered search against the same search unfiltered, in one run.

    python bench/search_bench.py                 # 20,000 articles, 3 runs of each, best
    python bench/search_bench.py --articles 50000 --runs 5

The archive is made once in a temporary folder: articles of about 450 words, each text its own (words
drawn at random, a number of its own), in three languages and two sources (one in 500 from "small"),
fetched over the last 300 days. Each query is searched plainly (the baseline) and with --source small,
--language ru and --since 120d; the table gives the time, the filtered time as a multiple of the baseline,
and how many results each found: a filter must still find --limit results when its articles hold that
many (the index's candidates are narrowed by the filters before they are cut, crawler.search).
Target: a filtered search within 3x the plain one, and complete.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.config import load_config  # noqa: E402
from crawler.search import search_articles  # noqa: E402
from crawler.store import Store  # noqa: E402
from tests.support.articles import article_record  # noqa: E402

WORDS = (
    "energy research science station lunar materials laboratory reactor fuel satellite university academy "
    "pipeline gas oil trade talks minister visit summit agreement"
).split()
QUERIES = ("Russia", "lunar AND reactor", '"joint laboratory" OR satellite*')
LIMIT = 20


def build(folder: Path, n: int) -> Path:
    cfg = folder / "nw.toml"
    cfg.write_text(
        '[storage]\ndatabase = "nw.db"\n\n[[sources]]\nname = "small"\nkind = "feed"\nurl = "http://127.0.0.1:1/f"\n',
        encoding="utf-8",
    )
    rnd = random.Random(1)
    with Store(folder / "nw.db") as store:
        store.begin_batch()
        for i in range(n):
            words = " ".join(rnd.choice(WORDS) for _ in range(450))
            rec = article_record(
                i,
                f"Russia news {i} {rnd.choice(WORDS)}",
                f"Russia and China, a joint laboratory: {words} number{i}",
                age=timedelta(days=i % 300, hours=1),
                indexed=True,
            )
            rec = dataclasses.replace(rec, language=("en", "ru", "zh")[i % 3], source="small" if i % 500 == 0 else "s")
            store.add_article(rec)
            if i % 5000 == 4999:
                store.commit_batch()
                store.begin_batch()
        store.commit_batch()
    return cfg


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="newswatch-search-bench-") as tmp:
        started = time.perf_counter()
        config = load_config(build(Path(tmp), args.articles))
        print(f"archive: {args.articles} articles in {time.perf_counter() - started:.0f}s")
        filters: list[tuple[str, dict]] = [
            ("plain", {}),
            ("--source small", {"sources": ["small"]}),
            ("--language ru", {"languages": ["ru"]}),
            ("--since 120d", {"since": datetime.now(UTC) - timedelta(days=120)}),
        ]
        missed = False
        print(f"{'query':34} {'filter':16} {'results':>7} {'seconds':>8} {'x plain':>8}")
        for query in QUERIES:
            best = {name: float("inf") for name, _kw in filters}
            found = dict.fromkeys(best, 0)
            for _ in range(args.runs):  # the plain and filtered searches alternate, as the machine is shared
                for name, kw in filters:
                    t = time.perf_counter()
                    found[name] = len(search_articles(config, query, limit=LIMIT, **kw))
                    best[name] = min(best[name], time.perf_counter() - t)
            for name, _kw in filters:
                ratio = best[name] / best["plain"]
                ok = found[name] == LIMIT and ratio <= 3.0
                missed |= not ok
                print(f"{query:34} {name:16} {found[name]:7} {best[name]:8.2f} {ratio:8.2f}{'' if ok else '  MISSED'}")
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
