"""Topic matching: precision/recall per language on the labeled sets, and matching cost per article.

Run: python bench/topics_bench.py [--test] [--errors] [--no-speed] [--model FILE] | --gc

--model FILE: the default topic with this model file instead of its own (e.g. one carrying a sentence encoder
block, crawler/encoder.py); the speed table then adds the default topic with its own model beside it ('shipped'),
and 'all enc.': today's model with every article encoded, where 'today' (as a crawl matches) leaves out the
encoder for an article that cannot reach its floor whatever its encoder's vector (the floor a crawl scores to: the
topic's near_score when it has one, else its min_score).

Quality: the default topic (config/newswatch.toml, read through the config so its named sets and its
model come along; a model topic is scored as the product scores it) beside the hand-written rule topic
(fixtures/topics/rule-topic.toml) and two baselines — the topic shipped at commit 590a667 (before named sets, country
entities and PARTNERS) and a naive "China term AND Russia term AND S&T term" query in each
language — on fixtures/topics/labeled.jsonl (the old set the 590a667 topic was tuned on), the
held-out dev half, and with --test the frozen test half (measure it only at the end).

Speed: CPU ms per 5,000-word article (en, ru, zh) of prepare + match for the default topic as the
product matches it (a model topic: its gate query, then its model's features), against
the 590a667 topic run by the 590a667 code (crawler/topics.py and crawler/textnorm.py as of that
commit, loaded from git into a temporary package) in the same run, article by article in turn;
prints the ratio. A default topic whose model reads a sentence encoder is also measured without it ('no enc.'):
the encoder reads only the title and the text's first characters, a fixed cost per article past the gate (~10 ms
an English, ~20 ms a Chinese one here) that dominates 'today' and whose speed, against pure Python's, moves with the
shared machine's state more than anything the code does. Each side runs with the garbage collector as its product ran: today's sides with
everything the process holds frozen and the young generation's threshold raised, as the extraction
workers and the CLI's batch commands run once their topics are compiled (crawler.longlived); the
590a667 side with nothing frozen and Python's default thresholds, as that code ran. (Freezing and
unfreezing only move the collector's lists: switching between the sides costs nothing.)
Each article's best of 7 leaves out most full collections, on all sides.

--gc (alone): the garbage collector's share of matching CPU over a run of articles, as a worker or a batch
command matches them one after another (20 different 5,000-word articles per language, 3 passes, mean CPU
with every collection counted): Python's defaults with nothing frozen beside the product's way (its topics
settled and frozen, the batch threshold: crawler.longlived); each in a fresh process, alternately, twice.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import importlib
import json
import random
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crawler import textnorm  # noqa: E402
from crawler.config import TopicConfig, load_config, parse_config  # noqa: E402
from crawler.evaluate import Counts, Evaluation, Story, evaluate, load_labeled  # noqa: E402
from crawler.longlived import matching_batch  # noqa: E402
from crawler.model import bind, load_model  # noqa: E402
from crawler.process import match_topic, settle_topics  # noqa: E402
from crawler.topics import compile_query, prepare  # noqa: E402

BASE_COMMIT = "590a667"
OLD = ROOT / "fixtures" / "topics" / "labeled.jsonl"
DEV = ROOT / "fixtures" / "topics" / "heldout" / "dev.jsonl"
TEST = ROOT / "fixtures" / "topics" / "heldout" / "test.jsonl"
RULE_TOPIC = ROOT / "fixtures" / "topics" / "rule-topic.toml"
NAIVE = """
((China OR Chinese) AND (Russia OR Russian) AND (science OR scientific OR research OR technology))
OR ((Китай* OR китайск*) AND (Росси* OR российск*) AND (наук* OR научн* OR исследован* OR технолог*))
OR (中国 AND 俄罗斯 AND (科学 OR 科技 OR 研究 OR 技术))
"""


def git_show(path: str) -> str:
    return subprocess.run(
        ["git", "show", f"{BASE_COMMIT}:{path}"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout


def shipped_topic_at_base() -> tuple[str, float]:
    t = tomllib.loads(git_show("config/newswatch.toml"))["topics"][0]
    return t["query"], float(t.get("min_score", 1.0))


def old_modules() -> tuple[object, object]:
    """crawler.topics and crawler.textnorm as of BASE_COMMIT, as the package crawler_base."""
    tmp = Path(tempfile.mkdtemp(prefix="nw-base-"))
    pkg = tmp / "crawler_base"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    for name in ("topics", "textnorm", "errors"):
        src = git_show(f"crawler/{name}.py").replace("from crawler import", "from crawler_base import")
        src = src.replace("from crawler.errors import", "from crawler_base.errors import")
        (pkg / f"{name}.py").write_text(src, encoding="utf-8")
    sys.path.insert(0, str(tmp))
    return importlib.import_module("crawler_base.topics"), importlib.import_module("crawler_base.textnorm")


# --- quality --------------------------------------------------------------------------------


def row(ev: Evaluation, lang: str) -> str:
    c = ev.by_language.get(lang, Counts())
    p, r = c.precision, c.recall
    return f"{'-' if p is None else f'{p:.2f}'} / {'-' if r is None else f'{r:.2f}'}"


def rule_topic() -> TopicConfig:
    """The hand-written rule topic (fixtures/topics/rule-topic.toml) with the shipped config's sets."""
    data = tomllib.loads((ROOT / "config" / "newswatch.toml").read_text(encoding="utf-8"))
    data["topics"] = tomllib.loads(RULE_TOPIC.read_text(encoding="utf-8"))["topics"]
    data.pop("digest", None)
    return parse_config(data, base=ROOT / "config").topics[0]


def quality(show_errors: bool, with_test: bool) -> None:
    topic = default_topic()
    scorer = topic.model.scorer() if topic.model is not None else None
    rules = rule_topic()
    base_query, base_min = shipped_topic_at_base()
    sets: list[tuple[str, list[Story]]] = [("old labeled set", load_labeled(OLD))]
    if DEV.exists():
        sets.append(("held-out dev", load_labeled(DEV)))
    if with_test and TEST.exists():
        sets.append(("held-out TEST", load_labeled(TEST)))
    queries = [
        (f"default topic (min_score {topic.min_score:g})", topic.query, topic.min_score, scorer),
        (f"rule topic (min_score {rules.min_score:g})", rules.query, rules.min_score, None),
        (f"shipped at {BASE_COMMIT} (min_score {base_min:g})", base_query, base_min, None),
        ("naive China AND Russia AND S&T", NAIVE, 0.0, None),
    ]
    print("Precision / recall per language")
    print(f"  {'set':<16}{'query':<34}{'en P / R':>13}{'ru P / R':>13}{'zh P / R':>13}")
    for set_name, stories in sets:
        for qname, q, ms, sc in queries:
            ev = evaluate(compile_query(q), ms, stories, sc)
            print(f"  {set_name:<16}{qname:<34}{row(ev, 'en'):>13}{row(ev, 'ru'):>13}{row(ev, 'zh'):>13}")
            if show_errors and q is topic.query:
                for kind, items in (("miss", ev.misses), ("false alarm", ev.false_alarms)):
                    for v in items:
                        print(f"      {kind}: {v.story.id} score {v.score} {v.story.title[:70]}")
    seed = next((s for s in load_labeled(OLD) if s.id == "en-pos-01"), None)
    if seed is not None:
        m = match_topic(topic, prepare(seed.title, seed.text), seed.language)
        print(f"\nSeed article: {'score ' + str(m.score) if m else 'NOT MATCHED'}")
        if m:
            print("  hits: " + ", ".join(m.hits))


# --- speed ----------------------------------------------------------------------------------


def long_articles(stories: list[Story], lang: str, n: int, words: int) -> list[tuple[str, str]]:
    """n different ~words-long articles in one language, stitched from labeled paragraphs."""
    rng = random.Random(5)
    paras = [p for s in stories if s.language == lang for p in s.text.split("\n") if p.strip()]
    out = []
    for i in range(n):
        body: list[str] = []
        count = 0
        while count < words:
            p = rng.choice(paras)
            body.append(f"{p} ({i}-{len(body)})")  # every article differs
            count += len(p) // 2 if lang == "zh" else len(p.split())  # ~2 Chinese characters a word
        out.append((f"Article {i}", "\n\n".join(body)))
    return out


def default_topic() -> TopicConfig:
    """The default topic, with --model FILE's model instead of its own when given."""
    config = load_config(ROOT / "config" / "newswatch.toml")
    topic = config.topics[0]
    if "--model" in sys.argv:
        path = Path(sys.argv[sys.argv.index("--model") + 1]).resolve()
        model = bind(load_model(str(path), path.parent), dict(config.sets))
        topic = dataclasses.replace(topic, name=f"{topic.name}+{path.stem}", model=model)
    return topic


def forget_vectors() -> None:
    """The sentence encoder's vectors of the last few texts (crawler.encoder) forgotten: each article is encoded."""
    enc = sys.modules.get("crawler.encoder")
    if enc is not None:
        enc._vectors.clear()  # type: ignore[attr-defined]


def speed() -> None:
    topic = default_topic()
    shipped = load_config(ROOT / "config" / "newswatch.toml").topics[0] if "--model" in sys.argv else None
    rules = rule_topic()
    base_threshold = gc.get_threshold()  # Python's defaults, which the 590a667 code ran with
    # as the product's workers and batch commands do: compiled, warmed, then frozen
    frozen = settle_topics((topic, rules) + ((shipped,) if shipped else ()))
    with matching_batch():
        product_threshold = gc.get_threshold()  # a batch's, an extraction worker's
    old_topics, old_textnorm = old_modules()
    base_query, _ = shipped_topic_at_base()
    old_q = old_topics.compile_query(base_query)  # type: ignore[attr-defined]
    stories = load_labeled(OLD) + (load_labeled(DEV) if DEV.exists() else [])
    sides: dict[str, tuple[Callable[[str, str, str], object], object, tuple[int, int, int] | None]] = {
        BASE_COMMIT: (
            lambda title, text, _lang: old_q.match_prepared(old_topics.prepare(title, text)),  # type: ignore[attr-defined]
            old_textnorm,
            None,  # nothing frozen, Python's thresholds
        ),
        # the product's path: a model topic's gate, then its model's features (match_topics does this)
        "today": (
            lambda title, text, lang: match_topic(topic, prepare(title, text), lang, spans=False, floor=topic.floor),
            textnorm,
            product_threshold,
        ),
        # for comparison: the hand-written rule topic, today's code
        "rules": (
            lambda title, text, lang: match_topic(rules, prepare(title, text), lang, spans=False),
            textnorm,
            product_threshold,
        ),
    }
    if shipped is None and topic.model is not None and topic.model.encoder is not None:
        # the same, its encoder block left out: what matching costs beside the encoder's fixed cost per gated story
        # (the title and first characters encoded, whatever the article's length)
        sides["no enc."] = (
            lambda title, text, lang: match_topic(topic, prepare(title, text), lang, spans=False, encoder=False),
            textnorm,
            product_threshold,
        )
    if shipped is not None:  # with --model: the default topic with its own model too, and every article encoded
        sides["shipped"] = (
            lambda title, text, lang: match_topic(shipped, prepare(title, text), lang, spans=False),
            textnorm,
            product_threshold,
        )
        sides["all enc."] = (
            lambda title, text, lang: match_topic(topic, prepare(title, text), lang, spans=False),
            textnorm,
            product_threshold,
        )

    def cost(side: str, title: str, text: str, lang: str) -> float:
        """CPU seconds (user + system) of one article's prepare + match, tokenized afresh (no cache)."""
        run, norm, threshold = sides[side]
        norm.tokenize.cache_clear()  # type: ignore[attr-defined]
        for cache in ("columns", "simplified"):  # the per-text caches of today's code
            if hasattr(norm, cache):
                getattr(norm, cache).cache_clear()
        forget_vectors()
        if threshold is None:
            gc.unfreeze()
            gc.set_threshold(*base_threshold)
        else:
            gc.freeze()
            gc.set_threshold(*threshold)
        t0 = time.process_time()
        run(title, text, lang)
        return time.process_time() - t0

    print(f"\nMatching cost, ms of CPU per 5,000-word article (prepare + match; {BASE_COMMIT} code and topic vs")
    print("today's in this run, article by article in turn, each article's best of 7; CPU time, not wall time,")
    print("so that waiting for a shared machine's cores is not counted):")
    print("('today' is the default topic as configured; 'rules' the rule topic of fixtures/topics/rule-topic.toml)")
    if "no enc." in sides:
        print(
            "('no enc.': today's without its model's sentence-encoder block, which reads the title and first characters)"
        )
    if shipped is not None:
        print(f"('today' reads the model {sys.argv[sys.argv.index('--model') + 1]}; 'shipped' its own model)")
    print(
        f"garbage collector: today's sides {'frozen' if frozen else 'NOT frozen'}, thresholds {product_threshold};"
        f" {BASE_COMMIT}'s side nothing frozen, thresholds {base_threshold}"
    )
    extra = "".join(f"{side:>10}{'ratio':>8}" for side in list(sides)[3:])
    print(f"  {'lang':<6}{BASE_COMMIT:>10}{'today':>10}{'ratio':>8}{'rules':>10}{'ratio':>8}{extra}")
    for lang in ("en", "ru", "zh"):
        docs = long_articles(stories, lang, 20, 5000)
        for side in sides:  # first use: gazetteers, caches of word forms
            cost(side, *docs[0], lang)
        best = {side: [float("inf")] * len(docs) for side in sides}
        for r in range(7):
            for i, (title, text) in enumerate(docs):
                # each article measured on every side back to back, in turning order: the machine's
                # load moves, and all sides see the same moments of it
                order = list(sides)
                k = (r + i) % len(order)
                for side in order[k:] + order[:k]:
                    best[side][i] = min(best[side][i], cost(side, title, text, lang))
        old_t, new_t, rule_t, *own = (sum(best[side]) / len(docs) for side in sides)
        print(
            f"  {lang:<6}{old_t * 1000:>10.2f}{new_t * 1000:>10.2f}{new_t / old_t:>7.2f}x"
            f"{rule_t * 1000:>10.2f}{rule_t / old_t:>7.2f}x"
            + "".join(f"{t * 1000:>10.2f}{t / old_t:>7.2f}x" for t in own)
        )


def gc_run(product: bool) -> dict[str, tuple[float, float, float]]:
    """Per language: (ms of CPU an article, the collector's share of it in %, collections an article)."""
    topic = load_config(ROOT / "config" / "newswatch.toml").topics[0]
    stories = load_labeled(OLD) + (load_labeled(DEV) if DEV.exists() else [])
    if product:
        settle_topics((topic,))
    else:
        match_topic(topic, prepare("Warm-up", "China and Russia"), "en")  # compiled, as a first article would
    spent = [0.0]
    count = [0]
    began = [0.0]

    def watch(phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            began[0] = time.process_time()
        else:
            spent[0] += time.process_time() - began[0]
            count[0] += 1

    out = {}
    for lang in ("en", "ru", "zh"):
        docs = long_articles(stories, lang, 20, 5000)
        match_topic(topic, prepare(*docs[0]), lang, spans=False)  # first use: word forms, gazetteers
        spent[0], count[0], total = 0.0, 0, 0.0
        gc.callbacks.append(watch)
        with matching_batch() if product else contextlib.nullcontext():
            for _ in range(3):
                for title, text in docs:
                    textnorm.tokenize.cache_clear()
                    textnorm.columns.cache_clear()
                    textnorm.simplified.cache_clear()
                    t0 = time.process_time()
                    match_topic(topic, prepare(title, text), lang, spans=False)
                    total += time.process_time() - t0
        gc.callbacks.remove(watch)
        n = 3 * len(docs)
        out[lang] = (total / n * 1000, spent[0] / total * 100, count[0] / n)
    return out


def gc_share() -> None:
    runs: dict[bool, list[dict[str, list[float]]]] = {False: [], True: []}
    for _ in range(2):
        for product in (False, True):
            done = subprocess.run(
                [sys.executable, __file__, "--gc-run", "product" if product else "defaults"],
                capture_output=True,
                text=True,
                check=True,
            )
            runs[product].append(json.loads(done.stdout.splitlines()[-1]))
    print("Garbage collection while matching a run of articles (default topic, 20 different 5,000-word articles")
    print("per language, 3 passes; mean CPU an article with every collection counted; two runs of each, in fresh")
    print("processes): Python's defaults, nothing frozen | as the product runs (frozen, batch threshold)")
    print(f"  {'lang':<6}{'ms':>12}{'gc %':>12}{'collections':>13}  |{'ms':>12}{'gc %':>12}{'collections':>13}")
    for lang in ("en", "ru", "zh"):
        cells = []
        for product in (False, True):
            ms, share, count = (sorted(r[lang][k] for r in runs[product]) for k in range(3))
            cells += [f"{ms[0]:.1f}-{ms[-1]:.1f}", f"{share[0]:.1f}-{share[-1]:.1f}", f"{count[-1]:.2f}"]
        print(f"  {lang:<6}{cells[0]:>12}{cells[1]:>12}{cells[2]:>13}  |{cells[3]:>12}{cells[4]:>12}{cells[5]:>13}")


def main() -> None:
    if "--gc-run" in sys.argv:
        print(json.dumps(gc_run(sys.argv[sys.argv.index("--gc-run") + 1] == "product")))
        return
    if "--gc" in sys.argv:
        gc_share()
        return
    quality("--errors" in sys.argv, "--test" in sys.argv)
    if "--no-speed" not in sys.argv:
        speed()


if __name__ == "__main__":
    main()
