"""Per-story results of topic matching, to compare two versions of the matching code.

Run: python bench/topics_dump.py OUT.jsonl [LABELED.jsonl ...]

Writes one line per story and topic: the story's file and id, the topic (the default topic of
config/newswatch.toml, a model topic, and the rule topic of fixtures/topics/rule-topic.toml), its score,
whether it reaches the topic's min_score, its hits and its spans; and the same for the long articles
bench/topics_bench.py measures. No story text is written. Run it with each version of the code on the
import path (PYTHONPATH=...) and compare the two files with ``cmp``: a change meant to make matching
cheaper must leave them equal.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

import topics_bench  # noqa: E402  (puts the code to compare first on the import path only if PYTHONPATH does)

from crawler.config import load_config  # noqa: E402
from crawler.evaluate import Story, load_labeled  # noqa: E402
from crawler.process import match_topic  # noqa: E402
from crawler.topics import prepare  # noqa: E402

DEFAULT_FILES = [
    *sorted((ROOT / "fixtures" / "topics").glob("*.jsonl")),
    *sorted((ROOT / "fixtures" / "topics" / "heldout").glob("*.jsonl")),
]


def main() -> None:
    if len(sys.argv) < 2:
        print("usage: python bench/topics_dump.py OUT.jsonl [LABELED.jsonl ...]", file=sys.stderr)
        sys.exit(2)
    out = Path(sys.argv[1])
    files = [Path(p) for p in sys.argv[2:]] or DEFAULT_FILES
    topics = [load_config(ROOT / "config" / "newswatch.toml").topics[0], topics_bench.rule_topic()]
    groups: list[tuple[str, list[Story]]] = [(p.name, load_labeled(p)) for p in files]
    stories = load_labeled(topics_bench.OLD) + load_labeled(topics_bench.DEV)
    for lang in ("en", "ru", "zh"):
        long = topics_bench.long_articles(stories, lang, 20, 5000)
        groups.append((f"long-{lang}", [Story(f"{i}", lang, t, x, False) for i, (t, x) in enumerate(long)]))
    n = 0
    with out.open("w", encoding="utf-8") as fh:
        for name, group in groups:
            for s in group:
                doc = prepare(s.title, s.text)
                for topic in topics:
                    for spans in (True, False):
                        m = match_topic(topic, doc, s.language, spans=spans)
                        row = {"file": name, "id": s.id, "topic": topic.name, "spans_asked": spans}
                        if m is not None:
                            row |= {"score": m.score, "matched": m.score >= topic.min_score}
                            row |= {"hits": list(m.hits), "spans": [list(sp) for sp in m.spans]}
                        fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                        n += 1
    print(f"{n} results of {sum(len(g) for _, g in groups)} stories written to {out}")


if __name__ == "__main__":
    main()
