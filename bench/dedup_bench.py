"""Story dedup benchmark: pair precision/recall on the labeled set, and per-article cost
of signature()+assign() with 10k and with 100k stored articles in a real SQLite file.

Run: python bench/dedup_bench.py [--pairs-only]
"""

from __future__ import annotations

import itertools
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.dedup import SCHEMA, Signature, StoryIndex, signature  # noqa: E402

PAIRS = ROOT / "fixtures" / "stories" / "pairs.jsonl"
MEASURED = 500  # new articles timed at each store size
REAL = 3000  # stored articles with signatures of generated text (copies target these)


def fresh_index(path: str = ":memory:") -> tuple[sqlite3.Connection, StoryIndex]:
    conn = sqlite3.connect(path, isolation_level=None)
    for stmt in SCHEMA:
        conn.execute(stmt)
    return conn, StoryIndex(conn)


def bench_pairs() -> None:
    """Insert a into a fresh index, then b: predicted "same" iff b joins a's story."""
    records = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines() if line]
    tp = fp = fn = tn = 0
    by_kind: Counter[tuple[str, str, bool]] = Counter()
    wrong = []
    for rec in records:
        _conn, index = fresh_index()
        story_a, _ = index.assign(1, signature(rec["a"]["title"], rec["a"]["text"]), "a")
        story_b, _ = index.assign(2, signature(rec["b"]["title"], rec["b"]["text"]), "b")
        predicted = story_b == story_a
        actual = rec["label"] == "same"
        tp += predicted and actual
        fp += predicted and not actual
        fn += actual and not predicted
        tn += not predicted and not actual
        by_kind[(rec["language"], rec["kind"], predicted == actual)] += 1
        if predicted != actual:
            wrong.append(rec["id"])
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    print(f"pairs: {len(records)} ({tp + fn} same, {fp + tn} different)")
    print(f"  precision {precision:.3f} (target >= 0.99)   recall {recall:.3f} (target >= 0.95)")
    print(f"  tp={tp} fp={fp} fn={fn} tn={tn}")
    kinds = sorted({(lang, kind) for lang, kind, _ in by_kind})
    print("  correct per language/kind: " + ", ".join(
        f"{lang}/{kind} {by_kind[(lang, kind, True)]}/{by_kind[(lang, kind, True)] + by_kind[(lang, kind, False)]}"
        for lang, kind in kinds))
    if wrong:
        print("  wrong: " + ", ".join(wrong))


# --- synthetic archive -------------------------------------------------------------------

def make_vocab(rng: random.Random, n: int = 30000) -> tuple[list[str], list[float]]:
    syll = ["ka", "ro", "mi", "ten", "sha", "vo", "lin", "dar", "ex", "qu", "pol", "ist", "na", "gru",
            "bel", "ost", "ze", "chan", "mor", "fi", "tra", "un", "sk", "ova", "ly", "ber", "dom", "ic"]
    words = {"".join(rng.choice(syll) for _ in range(rng.randint(1, 4))) for _ in range(n * 2)}
    vocab = sorted(words)[:n]
    rng.shuffle(vocab)
    # Zipf-like frequencies, as in real text (cumulative, for random.choices).
    weights = list(itertools.accumulate(1.0 / (i + 1) for i in range(len(vocab))))
    return vocab, weights


def make_article(rng: random.Random, vocab: list[str], weights: list[float]) -> tuple[str, str]:
    paras = []
    for _ in range(rng.randint(4, 9)):
        words = rng.choices(vocab, cum_weights=weights, k=rng.randint(40, 110))
        # Numbers and dates, as news has them.
        for _ in range(rng.randint(0, 3)):
            words.insert(rng.randrange(len(words)), str(rng.choice([rng.randint(2, 999), rng.randint(1990, 2030)])))
        paras.append(" ".join(words).capitalize() + ".")
    title = " ".join(rng.choices(vocab, cum_weights=weights, k=rng.randint(5, 12))).capitalize()
    return title, "\n\n".join(paras)


def make_copy(rng: random.Random, title: str, text: str, vocab: list[str]) -> tuple[str, str]:
    paras = text.split("\n\n")
    how = rng.choice(["truncate", "edit", "template"])
    if how == "truncate":
        paras = paras[: max(2, len(paras) // 2)]
    elif how == "edit":
        i = rng.randrange(len(paras))
        words = paras[i].split()
        for _ in range(5):
            words[rng.randrange(len(words))] = rng.choice(vocab)
        paras[i] = " ".join(words)
        paras.insert(rng.randrange(len(paras)), " ".join(rng.choices(vocab, k=25)) + ".")
    else:
        paras = ["Photo: agency"] + paras[:-1] + ["Share this article"]
    return rng.choice(vocab).capitalize() + " " + title, "\n\n".join(paras)


def random_signature(rng: random.Random) -> Signature:
    """An unrelated article's signature: its hashes are uniform, so random values stand in."""
    size = rng.randint(200, 900)
    sketch = tuple(sorted({rng.getrandbits(32) for _ in range(min(256, size))}))
    numbers = tuple(sorted({rng.getrandbits(32) for _ in range(rng.randint(0, 4))}))
    bands = tuple(rng.getrandbits(64) - (1 << 63) for _ in range(32))
    return Signature(size, sketch, numbers, bands)


def fill(conn: sqlite3.Connection, rng: random.Random, first_id: int, sigs: list[Signature]) -> None:
    """Bulk-load stored articles, one story each, as the store would have left them."""
    conn.execute("BEGIN")
    cur = conn.execute("SELECT coalesce(max(seq), 0) FROM story_cluster").fetchone()[0]
    ids = range(first_id, first_id + len(sigs))
    conn.executemany("INSERT INTO story_cluster (seq, story_id) VALUES (?, ?)",
                     [(cur + i + 1, f"s{aid:08d}") for i, aid in enumerate(ids)])
    conn.executemany("INSERT INTO story_sig (article_id, seq, sig) VALUES (?, ?, ?)",
                     [(aid, cur + i + 1, s.to_bytes()) for i, (aid, s) in enumerate(zip(ids, sigs))])
    bands = sorted((k, aid) for aid, s in zip(ids, sigs) for k in s.bands)
    conn.executemany("INSERT OR IGNORE INTO story_band (key, article_id) VALUES (?, ?)", bands)
    conn.execute("COMMIT")


def measure(conn: sqlite3.Connection, index: StoryIndex, rng: random.Random, first_id: int,
            originals: list[tuple[str, str]], vocab: list[str], weights: list[float]) -> tuple[float, float, int]:
    """Mean ms of signature()+assign() (one committed transaction each) over MEASURED new articles."""
    articles = []
    for i in range(MEASURED):
        if i % 5 == 0:  # one in five is a copy of a stored article
            articles.append(make_copy(rng, *rng.choice(originals), vocab))
        else:
            articles.append(make_article(rng, vocab, weights))
    times = []
    joined = 0
    for i, (title, text) in enumerate(articles):
        aid = first_id + i
        t0 = time.perf_counter()
        sig = signature(title, text)
        conn.execute("BEGIN")
        story, _merged = index.assign(aid, sig, f"n{aid:08d}")
        conn.execute("COMMIT")
        times.append(time.perf_counter() - t0)
        joined += story != f"n{aid:08d}"
    return statistics.mean(times) * 1000, statistics.median(times) * 1000, joined


def bench_cost() -> None:
    rng = random.Random(20240601)
    vocab, weights = make_vocab(rng)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "stories.db")
        conn, index = fresh_index(path)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        t0 = time.perf_counter()
        originals = [make_article(rng, vocab, weights) for _ in range(REAL)]
        real_sigs = [signature(t, x) for t, x in originals]
        t_real = time.perf_counter() - t0
        fill(conn, rng, 1, real_sigs)
        fill(conn, rng, REAL + 1, [random_signature(rng) for _ in range(10_000 - REAL)])
        print(f"archive: {REAL} generated articles signed in {t_real:.1f}s "
              f"({t_real / REAL * 1000:.2f} ms each); the rest random signatures")
        results = {}
        for size, next_id in ((10_000, 1_000_001), (100_000, 2_000_001)):
            stored = conn.execute("SELECT count(*) FROM story_sig").fetchone()[0]
            if stored < size:
                t0 = time.perf_counter()
                start = conn.execute("SELECT max(article_id) FROM story_sig WHERE article_id < 1000000").fetchone()[0] + 1
                fill(conn, rng, start, [random_signature(rng) for _ in range(size - stored)])
                print(f"  grew store to {size} articles in {time.perf_counter() - t0:.1f}s")
            stored = conn.execute("SELECT count(*) FROM story_sig").fetchone()[0]
            bands = conn.execute("SELECT count(*) FROM story_band").fetchone()[0]
            mean, median, joined = measure(conn, index, rng, next_id, originals, vocab, weights)
            mb = os.path.getsize(path) / 1e6
            results[size] = mean
            print(f"  {stored:>7} stored ({bands} band rows, {mb:.0f} MB): signature+assign "
                  f"mean {mean:.2f} ms, median {median:.2f} ms; {joined}/{MEASURED} joined a story "
                  f"({MEASURED // 5} were copies)")
        conn.close()
    print(f"cost ratio 100k/10k: {results[100_000] / results[10_000]:.2f} (target <= 2.0)")


def main() -> None:
    bench_pairs()
    if "--pairs-only" not in sys.argv:
        bench_cost()


if __name__ == "__main__":
    main()
