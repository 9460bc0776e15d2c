"""Story dedup benchmark: pair precision/recall on the labeled set, and per-article cost
of signature()+assign() with 10k and with 100k stored articles in a real SQLite file.

Run: python bench/dedup_bench.py [--pairs-only]
"""

from __future__ import annotations

import itertools
import json
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.dedup import SCHEMA, Signature, StoryIndex, signature

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
    print(
        "  correct per language/kind: "
        + ", ".join(
            f"{lang}/{kind} {by_kind[(lang, kind, True)]}/{by_kind[(lang, kind, True)] + by_kind[(lang, kind, False)]}"
            for lang, kind in kinds
        )
    )
    if wrong:
        print("  wrong: " + ", ".join(wrong))


# --- synthetic archive -------------------------------------------------------------------


def make_vocab(rng: random.Random, n: int = 30000) -> tuple[list[str], list[float]]:
    syll = [
        "ka",
        "ro",
        "mi",
        "ten",
        "sha",
        "vo",
        "lin",
        "dar",
        "ex",
        "qu",
        "pol",
        "ist",
        "na",
        "gru",
        "bel",
        "ost",
        "ze",
        "chan",
        "mor",
        "fi",
        "tra",
        "un",
        "sk",
        "ova",
        "ly",
        "ber",
        "dom",
        "ic",
    ]
    words = {"".join(rng.choice(syll) for _ in range(rng.randint(1, 4))) for _ in range(n * 2)}
    vocab = sorted(words)[:n]
    rng.shuffle(vocab)
    # Zipf-like frequencies, as in real text (cumulative, for random.choices).
    weights = list(itertools.accumulate(1.0 / (i + 1) for i in range(len(vocab))))
    return vocab, weights


BOILERPLATE = [
    (
        "Subscribe to our Telegram channel for the latest news. All rights reserved. "
        "Reproduction of materials is allowed only with an active link to the source."
    ),
    "Follow us on WeChat and Weibo. Copyright 2024 the news agency. All rights reserved.",
    "If you find a mistake in the text, select it and press Ctrl+Enter. Photo: press service.",
    "Read more: the latest stories on science and technology cooperation in our special section.",
    "Share this article on VK, Telegram or by email. Comments are moderated before publication.",
]


def make_article(rng: random.Random, vocab: list[str], weights: list[float]) -> tuple[str, str]:
    paras = []
    for _ in range(rng.randint(4, 9)):
        words = rng.choices(vocab, cum_weights=weights, k=rng.randint(40, 110))
        # Numbers and dates, as news has them.
        for _ in range(rng.randint(0, 3)):
            words.insert(
                rng.randrange(len(words)),
                str(rng.choice([rng.randint(2, 999), rng.randint(1990, 2030)])),
            )
        paras.append(" ".join(words).capitalize() + ".")
    if rng.random() < 0.5:
        # Outlet boilerplate that extraction let through: shared by many unrelated articles,
        # so band buckets collide and candidates must be verified and rejected.
        paras.append(BOILERPLATE[rng.randrange(len(BOILERPLATE))])
    title = " ".join(rng.choices(vocab, cum_weights=weights, k=rng.randint(5, 12))).capitalize()
    return title, "\n\n".join(paras)


def make_copy(rng: random.Random, title: str, text: str, vocab: list[str], how: str) -> tuple[str, str]:
    paras = text.split("\n\n")
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
    cur = conn.execute("SELECT coalesce(max(seq), 0) FROM _story_cluster").fetchone()[0]
    ids = range(first_id, first_id + len(sigs))
    conn.executemany(
        "INSERT INTO _story_cluster (seq, story_id) VALUES (?, ?)",
        [(cur + i + 1, f"s{aid:08d}") for i, aid in enumerate(ids)],
    )
    conn.executemany(
        "INSERT INTO _story_sig (article_id, seq, sig) VALUES (?, ?, ?)",
        [(aid, cur + i + 1, s.to_bytes()) for i, (aid, s) in enumerate(zip(ids, sigs))],
    )
    bands = sorted((k, aid) for aid, s in zip(ids, sigs) for k in s.bands)
    conn.executemany("INSERT OR IGNORE INTO _story_band (key, article_id) VALUES (?, ?)", bands)
    conn.execute("COMMIT")


def new_articles(
    rng: random.Random, originals: list[tuple[str, str]], vocab: list[str], weights: list[float]
) -> list[tuple[str, str, str]]:
    """MEASURED new articles, all different; one in five is a copy of a stored article."""
    out = []
    for i in range(MEASURED):
        if i % 5 == 0:
            how = ("truncate", "edit", "template")[i // 5 % 3]
            out.append((how, *make_copy(rng, *rng.choice(originals), vocab, how)))
        else:
            out.append(("fresh", *make_article(rng, vocab, weights)))
    return out


class Store:
    """One archive file and the running figures measured on it."""

    def __init__(self, path: str) -> None:
        self.conn, self.index = fresh_index(path)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.sig_ms: list[float] = []
        self.assign_ms: list[float] = []
        self.joined: Counter[str] = Counter()
        self.next_id = 10_000_000

    def add(self, kind: str, title: str, text: str, timed: bool = True) -> None:
        aid = self.next_id
        self.next_id += 1
        t0 = time.perf_counter()
        sig = signature(title, text)
        t1 = time.perf_counter()
        self.conn.execute("BEGIN")
        story, _merged = self.index.assign(aid, sig, f"n{aid:08d}")
        self.conn.execute("COMMIT")
        t2 = time.perf_counter()
        if timed:
            self.sig_ms.append((t1 - t0) * 1000)
            self.assign_ms.append((t2 - t1) * 1000)
            self.joined[kind] += story != f"n{aid:08d}"

    def report(self) -> tuple[float, float]:
        stored = self.conn.execute("SELECT count(*) FROM _story_sig").fetchone()[0]
        bands = self.conn.execute("SELECT count(*) FROM _story_band").fetchone()[0]
        total = [a + b for a, b in zip(self.sig_ms, self.assign_ms)]
        mean, median = statistics.mean(total), statistics.median(total)
        copies = sum(self.joined[k] for k in ("truncate", "edit", "template"))
        print(
            f"  {stored:>7} stored ({bands} band rows): signature+assign mean {mean:.2f} ms, "
            f"median {median:.2f} ms (signature {statistics.mean(self.sig_ms):.2f}, "
            f"assign+commit {statistics.mean(self.assign_ms):.2f})"
        )
        print(
            f"      copies that joined their story: {copies}/{MEASURED // 5} (truncate "
            f"{self.joined['truncate']}, edit {self.joined['edit']}, template {self.joined['template']}); "
            f"fresh articles that joined one: {self.joined['fresh']}"
        )
        return mean, median


def bench_cost() -> None:
    rng = random.Random(20240601)
    vocab, weights = make_vocab(rng)
    with tempfile.TemporaryDirectory() as tmp:
        small_path, large_path = os.path.join(tmp, "10k.db"), os.path.join(tmp, "100k.db")
        t0 = time.perf_counter()
        originals = [make_article(rng, vocab, weights) for _ in range(REAL)]
        real_sigs = [signature(t, x) for t, x in originals]
        print(
            f"archive: {REAL} generated articles signed in {time.perf_counter() - t0:.1f}s; "
            "the other stored articles get random signatures (an unrelated text's hashes are uniform)"
        )
        t0 = time.perf_counter()
        small = Store(small_path)
        fill(small.conn, rng, 1, real_sigs)
        fill(small.conn, rng, REAL + 1, [random_signature(rng) for _ in range(10_000 - REAL)])
        small.conn.close()
        shutil.copyfile(small_path, large_path)
        small, large = Store(small_path), Store(large_path)
        fill(large.conn, rng, 10_001, [random_signature(rng) for _ in range(90_000)])
        print(
            f"  built 10k and 100k stores in {time.perf_counter() - t0:.1f}s "
            f"({os.path.getsize(small_path) / 1e6:.0f} MB, {os.path.getsize(large_path) / 1e6:.0f} MB)"
        )
        for kind, title, text in new_articles(rng, originals, vocab, weights)[:50]:
            small.add(kind, title, text, timed=False)
            large.add(kind, title, text, timed=False)
        # Interleaved, so that load from other processes hits both sizes alike.
        for (k1, t1, x1), (k2, t2, x2) in zip(
            new_articles(rng, originals, vocab, weights),
            new_articles(rng, originals, vocab, weights),
        ):
            small.add(k1, t1, x1)
            large.add(k2, t2, x2)
        mean10, median10 = small.report()
        mean100, median100 = large.report()
        small.conn.close()
        large.conn.close()
    print(f"cost ratio 100k/10k: mean {mean100 / mean10:.2f}, median {median100 / median10:.2f} (target <= 2.0)")


def main() -> None:
    bench_pairs()
    if "--pairs-only" not in sys.argv:
        bench_cost()


if __name__ == "__main__":
    main()
