"""`newswatch topics ...`: tools to tune a topic (precision and recall on a labeled file)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from crawler.config import Config, TopicConfig
from crawler.errors import UsageError

if TYPE_CHECKING:  # imported by `topics eval` itself: every other command starts without them
    from crawler.evaluate import Evaluation, Verdict


def _pick(all_topics: tuple[TopicConfig, ...], names: tuple[str, ...]) -> list[TopicConfig]:
    if not all_topics:
        raise UsageError("the config has no [[topics]]; add one, or pass --query")
    if not names:
        return list(all_topics)
    by_name = {t.name: t for t in all_topics}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise UsageError(f"no topic named {unknown[0]!r} (topics: {', '.join(by_name)})")
    return [by_name[n] for n in names]


def _pct(x: float) -> str:
    return f"{x:.3f}"


def _table(ev: Evaluation) -> list[str]:
    lines = [f"  {'language':<9}{'stories':>8}{'relevant':>9}{'P':>8}{'R':>8}{'TP':>5}{'FP':>5}{'FN':>5}"]
    rows = sorted(ev.by_language.items())
    rows.append(("all", ev.total))
    for lang, c in rows:
        n = c.tp + c.fp + c.fn + c.tn
        lines.append(
            f"  {lang:<9}{n:>8}{c.tp + c.fn:>9}{_pct(c.precision):>8}{_pct(c.recall):>8}{c.tp:>5}{c.fp:>5}{c.fn:>5}"
        )
    return lines


def _verdict_lines(v: Verdict, min_score: float) -> list[str]:
    score = "no match" if v.score is None else f"score {v.score:.2f} (min_score {min_score:g})"
    hits = ", ".join(v.hits) if v.hits else "-"
    lines = [
        f"  {v.story.id} [{v.story.language}] {score}",
        f"      title: {v.story.title}",
        f"      hits: {hits}",
    ]
    if v.why_not:
        lines.append(f"      why: {v.why_not}")
    lines.append(f"      {v.snippet}")
    return lines


def build(
    config_option: Callable[..., Any], handle_errors: Callable[..., Any], quiet_option: Callable[..., Any]
) -> click.Group:
    """The `topics` command group, built with the CLI's shared -c and -q options and error handling."""

    @click.group()
    def topics() -> None:
        """Tune topics: measure them on labeled stories."""

    @topics.command("eval")
    @config_option
    @quiet_option
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--topic", "names", multiple=True, metavar="NAME", help="Only this topic (repeatable); default: all.")
    @click.option("--query", "query", metavar="QUERY", help="Measure this query instead of the configured topics.")
    @click.option("--min-score", "min_score", type=float, default=None, help="Override the topic's min_score.")
    @click.option("--summary", is_flag=True, help="Only the precision/recall table, not each error.")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
    @click.pass_obj
    @handle_errors
    def eval_cmd(
        state: Any,
        file: Path,
        names: tuple[str, ...],
        query: str | None,
        min_score: float | None,
        summary: bool,
        as_json: bool,
    ) -> None:
        """Precision/recall per language of each topic on a labeled JSONL file, then each miss and false alarm."""
        from crawler.evaluate import evaluate, load_labeled
        from crawler.topics import compile_query

        stories = load_labeled(file)
        if query is not None:
            sets = dict(state.config().sets) if _has_config(state) else {}
            chosen = [(TopicConfig("query", query, 1.0 if min_score is None else min_score), sets)]
        else:
            config = state.config()
            chosen = [(t, {}) for t in _pick(config.topics, names)]
        out = []
        for t, sets in chosen:
            ms = t.min_score if min_score is None else min_score
            ev = evaluate(compile_query(t.query, sets), ms, stories)
            out.append((t, ms, ev))
        if as_json:
            click.echo(json.dumps([_to_json(t, ms, ev) for t, ms, ev in out], ensure_ascii=False, indent=2))
            return
        for t, ms, ev in out:
            click.echo(f"topic {t.name} (min_score {ms:g}) on {file} ({len(stories)} stories)")
            for line in _table(ev):
                click.echo(line)
            if summary:
                continue
            for title, items in (("misses (relevant, not matched)", ev.misses), ("false alarms", ev.false_alarms)):
                click.echo(f"\n{title}: {len(items)}")
                for v in items:
                    for line in _verdict_lines(v, ms):
                        click.echo(line)
            click.echo()

    return topics


def _has_config(state: object) -> bool:
    try:
        state.config()  # type: ignore[attr-defined]
    except Exception:
        return False
    return True


def _to_json(t: TopicConfig, ms: float, ev: Evaluation) -> dict[str, object]:
    def counts(c):  # type: ignore[no-untyped-def]
        return {"precision": round(c.precision, 4), "recall": round(c.recall, 4), "tp": c.tp, "fp": c.fp, "fn": c.fn}

    def verdicts(vs: list[Verdict]) -> list[dict[str, object]]:
        return [
            {
                "id": v.story.id,
                "language": v.story.language,
                "score": v.score,
                "hits": list(v.hits),
                "why_not": v.why_not,
                "snippet": v.snippet,
            }
            for v in vs
        ]

    return {
        "topic": t.name,
        "min_score": ms,
        "languages": {lang: counts(c) for lang, c in sorted(ev.by_language.items())},
        "all": counts(ev.total),
        "misses": verdicts(ev.misses),
        "false_alarms": verdicts(ev.false_alarms),
    }


def search_with_topic(
    config: Config, query: str | None, topic: str | None, limit: int, timeout: float, **filters: Any
) -> list:
    """`newswatch search`: a query, or a configured topic (its query and min_score); warns when cut short."""
    from crawler.search import SearchStats, search_articles

    if (query is None) == (topic is None):
        raise UsageError("give a QUERY or --topic NAME (one of the two)")
    min_score = 0.0
    if topic is not None:
        t = _pick(config.topics, (topic,))[0]
        query, min_score = t.query, t.min_score
    stats = SearchStats()
    results = search_articles(
        config, query or "", limit=limit, min_score=min_score, timeout=timeout, stats=stats, **filters
    )
    if stats.timed_out:
        click.echo(
            f"warning: the search stopped at its {timeout:g}s limit after scoring {stats.scored} candidates; "
            "results may be incomplete (narrow the query or raise --timeout)",
            err=True,
        )
    return results
