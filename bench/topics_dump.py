"""Per-story results of topic matching, to compare two versions of the matching code.

Run: python bench/topics_dump.py OUT.jsonl [LABELED.jsonl ...]
     python bench/topics_dump.py --against REV [LABELED.jsonl ...]

Writes one line per story and topic: the story's file and id, the topic (the default topic of
config/newswatch.toml, a model topic, and the rule topic of fixtures/topics/rule-topic.toml), its score,
whether it reaches the topic's min_score, its hits and its spans, and for a model topic past its gate each
contribution to its score (a feature's term in a zone, the language, with weight x input: what ``topics eval``
explains a score by); and the same for the long articles bench/topics_bench.py measures. No story text is
written.

``--against REV`` (a commit, e.g. HEAD~1): writes the results of this tree's code and of REV's ``crawler``
package (its code and its data: abbreviations, gazetteers, the shipped model) on this tree's config and
stories, and compares them: prints each story whose results differ and how many changed verdict (reach the
topic's min_score or not); exit 1 when any result differs. A change meant to make matching cheaper must
leave them equal. ``--code DIR`` (used by ``--against``) matches with the ``crawler`` package found in DIR.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

if "--code" in sys.argv:  # the crawler package to match with: imported before topics_bench puts ROOT first
    i = sys.argv.index("--code")
    sys.path.insert(0, sys.argv[i + 1])
    del sys.argv[i : i + 2]
    import crawler  # noqa: F401

import topics_bench  # noqa: E402

from crawler.config import TopicConfig, load_config  # noqa: E402
from crawler.evaluate import Story, load_labeled  # noqa: E402
from crawler.model import Scorer  # noqa: E402
from crawler.process import match_topic  # noqa: E402
from crawler.topics import Document, prepare  # noqa: E402

DEFAULT_FILES = [
    *sorted((ROOT / "fixtures" / "topics").glob("*.jsonl")),
    *sorted((ROOT / "fixtures" / "topics" / "heldout").glob("*.jsonl")),
]


def dump(out: Path, files: list[Path]) -> int:
    """Writes the results of the stories of ``files`` (and the long articles) to ``out``; returns how many."""
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
                    for row in results(topic, doc, name, s):
                        fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                        n += 1
    return n


_scorers: dict[str, Scorer] = {}


def results(topic: TopicConfig, doc: Document, file: str, story: Story) -> list[dict]:
    """One story's results for one topic, with spans and without: its score, whether it reaches min_score, hits,
    spans and, for a model topic past its gate, the model's contributions as (what, weight x input), floats
    written in full, so that a change in one feature's input shows even where the score rounds the same."""
    out = []
    for spans in (True, False):
        m = match_topic(topic, doc, story.language, spans=spans)
        row = {"file": file, "id": story.id, "topic": topic.name, "spans_asked": spans}
        if m is not None:
            row |= {"score": m.score, "matched": m.score >= topic.min_score}
            row |= {"hits": list(m.hits), "spans": [list(sp) for sp in m.spans]}
            if topic.model is not None:
                scorer = _scorers.get(topic.name) or _scorers.setdefault(topic.name, topic.model.scorer())
                scored = scorer.score(doc, story.language, spans)
                row["contributions"] = [[what, value] for what, value in scored.contributions]
        out.append(row)
    return out


def against(rev: str, files: list[str]) -> int:
    """Compares this tree's results with those of REV's crawler package; 0 when equal."""
    with tempfile.TemporaryDirectory(prefix="nw-dump-") as tmp:
        base = Path(tmp) / "code"
        base.mkdir()
        archive = subprocess.run(["git", "archive", rev, "crawler"], cwd=ROOT, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive.stdout, check=True)
        outs = {}
        for side, code in ((rev, [str(base)]), ("this tree", [])):
            outs[side] = Path(tmp) / f"{len(outs)}.jsonl"
            cmd = [sys.executable, __file__, *(["--code", *code] if code else []), str(outs[side]), *files]
            subprocess.run(cmd, check=True, env=os.environ | {"PYTHONHASHSEED": "0"})
        old, new = (outs[s].read_text(encoding="utf-8").splitlines() for s in (rev, "this tree"))
    if len(old) != len(new):
        print(f"different numbers of results: {len(old)} at {rev}, {len(new)} here")
        return 1
    changed: dict[tuple[str, str, str], tuple[dict, dict]] = {}
    for a, b in zip(old, new):
        if a != b:
            ra, rb = json.loads(a), json.loads(b)
            changed.setdefault((ra["file"], ra["id"], ra["topic"]), (ra, rb))
    verdicts = 0
    for (file, sid, topic), (ra, rb) in changed.items():
        flip = bool(ra.get("matched")) != bool(rb.get("matched"))
        verdicts += flip
        what = sorted(k for k in ra.keys() | rb.keys() if ra.get(k) != rb.get(k))
        print(
            f"{file} {sid} {topic}: score {ra.get('score')} -> {rb.get('score')} ({', '.join(what)} differ)"
            + (" VERDICT CHANGED" if flip else "")
        )
    stories = {(f, s) for f, s, _ in changed}
    print(f"{len(old)} results compared with {rev}: {len(changed)} story-topic results differ "
          f"({len(stories)} stories), {verdicts} changed verdict")  # fmt: skip
    return 1 if changed else 0


def main() -> None:
    args = sys.argv[1:]
    if args and args[0] == "--against" and len(args) >= 2:
        sys.exit(against(args[1], args[2:]))
    if not args:
        print(
            "usage: python bench/topics_dump.py OUT.jsonl [LABELED.jsonl ...] | --against REV [LABELED.jsonl ...]",
            file=sys.stderr,
        )
        sys.exit(2)
    files = [Path(p) for p in args[1:]] or DEFAULT_FILES
    n = dump(Path(args[0]), files)
    print(f"{n} results of stories written to {args[0]}")


if __name__ == "__main__":
    main()
