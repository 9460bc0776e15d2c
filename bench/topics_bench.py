"""Topic matching on the labeled set: precision/recall per language, default topic vs a naive rule.

Run: python bench/topics_bench.py [--errors]

The default topic is read from config/newswatch.toml (first [[topics]] block), else from
fixtures/topics/default_query.txt. The baseline is the naive English-only keyword rule most
alert services offer. A speed section times matching of long (5,000-word) articles.
"""

from __future__ import annotations

import json
import random
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crawler import textnorm
from crawler.topics import compile_query, prepare, snippet

LABELED = ROOT / "fixtures" / "topics" / "labeled.jsonl"
NAIVE = "China AND Russia AND (science OR technology)"


def default_topic() -> tuple[str, str, float]:
    """(name, query, min_score) of the shipped default topic."""
    toml = ROOT / "config" / "newswatch.toml"
    if toml.exists():
        topics = tomllib.loads(toml.read_text(encoding="utf-8")).get("topics", [])
        if topics and topics[0].get("query"):
            t = topics[0]
            return t.get("name", "default"), t["query"], float(t.get("min_score", 1.0))
    text = (ROOT / "fixtures" / "topics" / "default_query.txt").read_text(encoding="utf-8")
    return "default", text, 1.0


def evaluate(query: str, min_score: float, rows: list[dict]) -> dict[str, dict]:
    q = compile_query(query)
    out: dict[str, dict] = {}
    for r in rows:
        m = q.match(r["title"], r["text"])
        pred = m is not None and m.score >= min_score
        s = out.setdefault(r["language"], {"tp": 0, "fp": 0, "fn": 0, "tn": 0, "fps": [], "fns": []})
        if pred and r["label"]:
            s["tp"] += 1
        elif pred:
            s["fp"] += 1
            s["fps"].append(f"{r['id']}({m.score if m else 0})")
        elif r["label"]:
            s["fn"] += 1
            s["fns"].append(f"{r['id']}({m.score if m else '-'})")
        else:
            s["tn"] += 1
    return out


def prf(s: dict) -> tuple[float, float, float]:
    p = s["tp"] / (s["tp"] + s["fp"]) if s["tp"] + s["fp"] else 0.0
    r = s["tp"] / (s["tp"] + s["fn"]) if s["tp"] + s["fn"] else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def table(title: str, results: dict[str, dict], show_errors: bool) -> None:
    print(f"\n{title}")
    print(f"  {'lang':<5}{'prec':>7}{'recall':>8}{'F1':>7}{'TP':>5}{'FP':>5}{'FN':>5}{'TN':>5}")
    total = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    for lang in ("en", "ru", "zh"):
        s = results.get(lang, {"tp": 0, "fp": 0, "fn": 0, "tn": 0, "fps": [], "fns": []})
        p, r, f = prf(s)
        print(f"  {lang:<5}{p:>7.3f}{r:>8.3f}{f:>7.3f}{s['tp']:>5}{s['fp']:>5}{s['fn']:>5}{s['tn']:>5}")
        for k in total:
            total[k] += s[k]
        if show_errors and (s["fps"] or s["fns"]):
            print(f"       false positives: {' '.join(s['fps']) or '-'}")
            print(f"       false negatives: {' '.join(s['fns']) or '-'}")
    p, r, f = prf(total)
    print(f"  {'all':<5}{p:>7.3f}{r:>8.3f}{f:>7.3f}{total['tp']:>5}{total['fp']:>5}{total['fn']:>5}{total['tn']:>5}")


def long_articles(rows: list[dict], n: int, words: int) -> list[tuple[str, str]]:
    """n different ~words-long articles stitched from shuffled labeled paragraphs."""
    rng = random.Random(5)
    paras = [p for r in rows for p in r["text"].split("\n") if p.strip()]
    out = []
    for i in range(n):
        body: list[str] = []
        count = 0
        while count < words:
            p = rng.choice(paras)
            body.append(f"{p} ({i}-{len(body)})")  # vary every article
            count += len(p.split()) if p.isascii() or " " in p else len(p) // 2
        out.append((f"Article {i}", "\n\n".join(body)))
    return out


def speed(rows: list[dict], queries: dict[str, str]) -> None:
    sets = {
        "on-topic": long_articles([r for r in rows if r["label"]], 30, 5000),
        "off-topic": long_articles([r for r in rows if not r["label"]], 30, 5000),
    }
    print("\nSpeed, ms per 5,000-word article (30 different articles per row; stitched from the")
    print("labeled set, so 'on-topic' ones hold hundreds of hits: a worst case):")
    for kind, docs in sets.items():
        t0 = time.perf_counter()
        for _title, text in docs:
            textnorm.tokenize(text)
        tok = (time.perf_counter() - t0) / len(docs)
        print(f"  {kind}: tokenize only (baseline)       {tok * 1000:7.2f}")
        for name, q in queries.items():
            cq = compile_query(q)
            t0 = time.perf_counter()
            prepared = [prepare(t, x) for t, x in docs]
            prep = (time.perf_counter() - t0) / len(docs)
            t0 = time.perf_counter()
            for d in prepared:
                cq.match_prepared(d)
            m = (time.perf_counter() - t0) / len(docs)
            print(f"  {kind}: prepare + match, {name:<14}{prep * 1000:7.2f} + {m * 1000:.2f}")


def main() -> None:
    show_errors = "--errors" in sys.argv
    rows = [json.loads(line) for line in LABELED.read_text(encoding="utf-8").splitlines() if line.strip()]
    name, query, min_score = default_topic()
    print(f"Labeled set: {len(rows)} articles, {sum(r['label'] for r in rows)} positive")
    table(f"Default topic '{name}' (min_score {min_score})", evaluate(query, min_score, rows), show_errors)
    table(f"Naive baseline: {NAIVE}", evaluate(NAIVE, 0.0, rows), show_errors)

    seed = next(r for r in rows if r["kind"].startswith("seed"))
    m = compile_query(query).match(seed["title"], seed["text"])
    print(f"\nSeed article {seed['id']}: " + (f"score {m.score}" if m else "NOT MATCHED"))
    if m:
        print("  terms that hit: " + ", ".join(m.hits))
        print("  snippet: " + "".join(f"**{s}**" if hit else s for s, hit in snippet(seed["text"], m)))
    speed(rows, {"default topic": query, "naive rule": NAIVE})


if __name__ == "__main__":
    main()
