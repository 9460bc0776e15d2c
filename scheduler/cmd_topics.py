"""`newswatch topics ...`: tools to tune a topic (precision and recall on a labeled file)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from crawler.config import MODEL_TOP_SCORE, Config, TopicConfig, normal_name
from crawler.errors import UsageError, did_you_mean
from crawler.jsonl import split_lines
from crawler.wording import noun

# `topics label --order` (crawler.labeling.ORDERS, not imported: every other command starts without it)
ORDER_CHOICES = ("boundary", "score", "newest", "random")

if TYPE_CHECKING:  # imported by `topics eval` itself: every other command starts without them
    from crawler.evaluate import Evaluation, Verdict
    from crawler.search import SearchStats


def _pick(all_topics: tuple[TopicConfig, ...], names: tuple[str, ...], otherwise: str) -> list[TopicConfig]:
    """The named topics (all when none); ``otherwise`` says what the command can do without one."""
    if not all_topics:
        raise UsageError(f"the config has no [[topics]]; {otherwise}")
    if not names:
        return list(all_topics)
    names = tuple(dict.fromkeys(normal_name(n) for n in names))  # composed (NFC) as the config's; each once
    by_name = {t.name: t for t in all_topics}
    unknown = [n for n in names if n not in by_name]
    if unknown:  # worded as export's --topic and the source names: a near name is named, then the whole list
        hint = did_you_mean(unknown[0], list(by_name))
        raise UsageError(f"unknown topic {unknown[0]!r}; {hint}configured topics: {', '.join(sorted(by_name))}")
    return [by_name[n] for n in names]


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"  # None: nothing to measure (no story matched, or none relevant)


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
    if v.gate is not None:
        lines.append(f"      gate: {v.gate}")
    if v.why_not:
        lines.append(f"      why: {v.why_not}")
    if v.explain:
        lines.append(f"      model: {v.explain}")
    lines.append(f"      {v.snippet}")
    return lines


def build(
    config_option: Callable[..., Any],
    handle_errors: Callable[..., Any],
    quiet_option: Callable[..., Any],
    article_filters: tuple[Callable[..., Any], ...],
) -> click.Group:
    """The `topics` command group, built with the CLI's shared options (-c, -q, and the article filters
    --since, --source and --language that search uses) and error handling."""
    since_option, source_option, language_option = article_filters

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
        from crawler.longlived import matching_batch, settle
        from crawler.topics import compile_query
        from scheduler.cli import echo_wrapped

        if min_score is not None and not (math.isfinite(min_score) and min_score >= 0):
            # a topic scores 0 or more: a negative one or nan lets every story its query holds through, inf none
            raise UsageError(
                f"--min-score {min_score:g} is not a score: give a number 0 or more (a model topic's: 0 to 10)"
            )
        if query is None:  # a misspelt --topic is said first, before the file is read (or found wanting)
            _pick(state.config().topics, names, "add one, or pass --query")
        # labels that name the config's topics: each topic reads its own
        labels = _topic_labels(file)  # read once: which topics it names, and on which lines
        names_known = {t.name for t in state.config().topics} if query is None else set()
        by_topic = query is None and any(name in names_known for name in labels)
        named = sorted(labels) if query is not None else []
        if named and len(names) != 1:
            # a query measured on a file labeled by topic names: relevant to which of them?
            raise UsageError(
                f"{file} labels its stories by topic name ({', '.join(named[:5])}): with --query, pass --topic NAME "
                "to measure the query against that topic's labels"
            )
        if by_topic:
            _warn_unknown_labels(file, labels, names_known)
        elif query is None:
            _refuse_unknown_labels(file, labels, names_known)
        warn = _warn_once()  # a file read once per topic says its warnings once
        stories = [] if by_topic else load_labeled(file, names[0] if named else None, warn)
        if query is not None:
            sets = dict(state.config().sets) if _has_config(state) else {}
            chosen = [(TopicConfig("query", query, 1.0 if min_score is None else min_score), sets)]
        else:
            config = state.config()
            chosen = [(t, {}) for t in _pick(config.topics, names, "add one, or pass --query")]
        out = []
        for t, sets in chosen:
            ms = t.min_score if min_score is None else min_score
            if t.model is not None and ms > MODEL_TOP_SCORE:  # as check refuses it in a config (crawler.config)
                raise UsageError(
                    f"--min-score {ms:g} is above 10, the highest score of topic {t.name}'s model (10 x p): give 0 to 10"
                )
            if by_topic:
                stories = load_labeled(file, t.name, warn)
            q, scorer = compile_query(t.query, sets), t.model.scorer() if t.model else None
            settle(q, scorer)  # a batch: the compiled topic is frozen out of the garbage collector's way
            with matching_batch():
                ev = evaluate(q, ms, stories, scorer)
            out.append((t, ms, ev))
        if as_json:
            click.echo(json.dumps([_to_json(t, ms, ev) for t, ms, ev in out], ensure_ascii=False, indent=2))
            return
        for t, ms, ev in out:
            kind = f"model {t.model.source}, " if t.model is not None else ""
            echo_wrapped(
                f"topic {t.name} ({kind}min_score {ms:g}) on {file} "
                f"({len(stories)} {noun(len(stories), 'story', 'stories')})"
            )
            for line in _table(ev):
                click.echo(line)
            if summary:
                continue
            for title, items in (("misses (relevant, not matched)", ev.misses), ("false alarms", ev.false_alarms)):
                click.echo(f"\n{title}: {len(items)}")
                for v in items:
                    for line in _verdict_lines(v, ms):  # on a terminal wrapped to its width, under its own start
                        text = line.lstrip(" ")
                        lead = line[: len(line) - len(text)]
                        echo_wrapped(text, lead, lead + "  ")
            click.echo()

    @topics.command("train")
    @config_option
    @quiet_option
    @click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--topic", "name", metavar="NAME", help="The topic to train (default: the config's only topic).")
    @click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Model file to write (default: NAME.json).",
    )
    @click.option("--features", "extra", multiple=True, metavar="EXPR", help="Another candidate feature (repeatable).")
    @click.option(
        "--exclude", "exclude", multiple=True, metavar="EXPR", help="Leave out this candidate feature (repeatable)."
    )
    @click.option(
        "--prior",
        metavar="MODEL",
        help="Adapt this model (a model file, or a shipped model's name) to the stories given: its features "
        "are the candidates, and the fit starts from its weights and is pulled towards them.",
    )
    @click.option(
        "--pull",
        type=float,
        default=None,
        metavar="PULL",
        help="With --prior: the pull towards its weights, the log loss plus PULL x ||w - w_prior||^2 "
        "(default 3; larger: closer to the prior).",
    )
    @click.option(
        "--C", "c", type=float, default=None, help="Inverse regularisation strength (default 1; not with --prior)."
    )
    @click.option(
        "--l1", is_flag=True, help="L1 regularisation: a sparse model, fewer features to evaluate (not with --prior)."
    )
    @click.option(
        "--threshold",
        "thresholds",
        multiple=True,
        metavar="P|LANG=P",
        help="p at which a story matches (default 0.5), or a language's own; folded into the weights.",
    )
    @click.option(
        "--min-weight",
        type=float,
        default=0.0,
        help="Drop features whose weights all stay below this, then fit again (each costs matching time).",
    )
    @click.option("--folds", type=int, default=0, help="k-fold cross-validation (default: leave one file out).")
    @click.option(
        "--encoder",
        "encoder_chars",
        type=int,
        default=0,
        metavar="N",
        help="Fit an encoder block too: a weight per dimension of a multilingual sentence encoder's vector of the "
        "title and the text's first N characters (e.g. 600).",
    )
    @click.pass_obj
    @handle_errors
    def train_cmd(
        state: Any,
        files: tuple[Path, ...],
        name: str | None,
        output: Path | None,
        extra: tuple[str, ...],
        exclude: tuple[str, ...],
        prior: str | None,
        pull: float | None,
        c: float | None,
        l1: bool,
        thresholds: tuple[str, ...],
        min_weight: float,
        folds: int,
        encoder_chars: int,
    ) -> None:
        """Fit a topic's model (weights over the config's named sets) on labeled JSONL files."""
        from crawler.config import find_config, load_config
        from crawler.evaluate import load_labeled
        from crawler.train import PULL, Options, check_options, load_prior, scipy, sklearn, train

        # options that do not go together are said first: before the config, the files or a missing library
        options = Options(
            c=1.0 if c is None else c,
            l1=l1,
            folds=folds,
            min_weight=min_weight,
            pull=PULL if prior is not None and pull is None else pull,
            encoder_chars=encoder_chars,
            **_thresholds(thresholds),
        )
        check_options(options, prior is not None, c_given=c is not None)
        # without reading the topics' models: retraining is the fix for one that no longer fits the sets
        config = load_config(find_config(state.config_path), models=False)
        if name is None and len(config.topics) > 1:
            raise UsageError(
                f"the config has several topics; pass --topic NAME ({', '.join(t.name for t in config.topics)})"
            )
        t = _pick(config.topics, (name,) if name else (), "add one to train a model for it")[0]
        # say at once when a library is missing, before reading the files
        if prior is not None:
            scipy()
        else:
            sklearn()
        base = load_prior(prior, Path.cwd()) if prior is not None else None
        seen: set[Path] = set()
        for f in files:
            if f.resolve() in seen:
                raise UsageError(
                    f"{f} is given twice; give each labeled file once (its stories would count twice, and "
                    "cross-validation would train on the file it holds out)"
                )
            seen.add(f.resolve())
        known = {x.name for x in config.topics}
        for f in files:
            labels = _topic_labels(f)
            if any(name in known for name in labels):
                _warn_unknown_labels(f, labels, known)
            else:  # read as "not this topic", every story of such a name would have been an irrelevant one
                _refuse_unknown_labels(f, labels, known)
        warn = _warn_once()
        loaded = [(f, load_labeled(f, t.name, warn)) for f in files]
        out = output or Path(f"{t.name}.json")
        if not out.resolve().parent.is_dir():
            raise UsageError(f"-o {out}: the folder {out.resolve().parent} does not exist; create it or choose another")
        if not state.quiet:
            n = sum(len(s) for _f, s in loaded)
            click.echo(
                f"topic {t.name}: reading the features of {n} {noun(n, 'story', 'stories')} from {len(files)} "
                f"{noun(len(files), 'file')}...",
                err=True,
            )
        if base is not None and not state.quiet:
            from crawler.model import stale_features

            edited = [e for e in stale_features(base.model, dict(config.sets)) if e not in exclude]
            if edited:
                uses = "uses a set" if len(edited) == 1 else "use sets"
                click.echo(
                    f"note: {len(edited)} of {prior}'s features {uses} edited since it was trained "
                    f"({', '.join(edited[:4])}{', ...' if len(edited) > 4 else ''}): they start from its weights "
                    "and the stories given correct them",
                    err=True,
                )
        if base is not None and base.model.sentence_inputs and not state.quiet:
            names = [x.name for x in base.model.sentence_inputs]
            click.echo(
                f"note: {prior} also has {len(names)} sentence inputs (how much of the story a kind of sentence is: "
                f"{', '.join(names[:4])}{', ...' if len(names) > 4 else ''}): they are fitted too, pulled towards "
                "its weights as its features are",
                err=True,
            )
        if base is not None and base.model.length is not None and not state.quiet:
            click.echo(
                f"note: {prior} also reads how much text it read (its length input, weight "
                f"{base.model.length.weight:g} x ln(1 + characters)): it is fitted too, pulled towards its weight as its "
                "features are",
                err=True,
            )
        if base is not None and base.model.encoder is not None and not state.quiet:
            click.echo(
                f"note: {prior} also reads the meaning of the title and the text's first {base.model.encoder.chars:,} "
                "characters (its encoder block): its contribution is fitted as one input, starting from 1 and pulled "
                "towards it as its features are, and the block written scaled by it",
                err=True,
            )
        result = train(t, dict(config.sets), loaded, options, extra, exclude, prior=base)
        _write_json(out, result.model)
        if state.quiet:
            return
        n = sum(len(s) for _f, s in loaded)
        how = f"L2 towards {prior}, pull {options.pull:g}" if prior else f"{'L1' if l1 else 'L2'}, C={options.c:g}"
        click.echo(
            f"topic {t.name}: {n} {noun(n, 'story', 'stories')}, {result.passed_gate} let through by its query; "
            f"{result.kept} of {result.model['training']['candidates']} candidate features kept ({how})"
        )
        click.echo("\non the training files (fitted on them):")
        for line in _table(result.training):
            click.echo(line)
        if result.cross_validated is None:
            click.echo("\nno cross-validation: give several files (leave one file out) or --folds K")
        else:
            how = f"{folds} folds" if folds else "leave one file out"
            click.echo(f"\ncross-validated ({how}; each story scored by a model fitted without it):")
            for line in _table(result.cross_validated):
                click.echo(line)
            for file_name, ev in result.by_file:
                langs = "  ".join(
                    f"{lang} {_pct(cnt.precision)}/{_pct(cnt.recall)}" for lang, cnt in sorted(ev.by_language.items())
                )
                click.echo(f"  {file_name:<24}{langs}")
        if result.prior is not None:
            click.echo(f"\n{prior} as it is, on the same stories (its own weights and threshold, not fitted on them):")
            for line in _table(result.prior):
                click.echo(line)
            adapted = result.cross_validated
            if adapted is None:
                click.echo("  (give several files or --folds K for a cross-validated figure to compare it with)")
            else:
                click.echo(
                    f"\nerrors (false alarms + misses): adapted, cross-validated {_errors(adapted)}; "
                    f"{prior} as it is {_errors(result.prior)}"
                )
        ref = os.path.relpath(out.resolve(), config.path.resolve().parent) if config.path else str(out.resolve())
        click.echo(f'\nwrote {out}; use it with model = "{ref}" in the topic (a path relative to the config file)')

    @topics.command("label")
    @config_option
    @quiet_option
    @click.option(
        "-o",
        "--output",
        required=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help="The labeled file to append to (JSON Lines, as topics eval and topics train read); "
        "stories it holds already are not asked again.",
    )
    @click.option("--topic", "name", metavar="NAME", help="The topic to label for (default: the config's only topic).")
    @since_option
    @source_option
    @language_option
    @click.option(
        "--skip-labeled",
        "others",
        multiple=True,
        type=click.Path(dir_okay=False, path_type=Path),
        metavar="FILE",
        help="Do not ask the stories labeled in FILE either (repeatable): a test file kept apart from training.",
    )
    @click.option("--matched", "which", flag_value="matched", help="Only stories the topic matches.")
    @click.option("--unmatched", "which", flag_value="unmatched", help="Only stories the topic does not match.")
    @click.option("--all", "which", flag_value="all", default=True, help="Both (the default).")
    @click.option(
        "--order",
        type=click.Choice(ORDER_CHOICES),
        default="boundary",
        show_default=True,
        help="boundary: what the topic's query lets through, nearest min_score first, then the rest; "
        "score: highest first; newest: newest first; random: a fixed shuffle (a fair sample to measure on).",
    )
    @click.pass_obj
    @handle_errors
    def label_cmd(
        state: Any,
        output: Path,
        name: str | None,
        since: str | None,
        sources: tuple[str, ...],
        languages: tuple[str, ...],
        others: tuple[Path, ...],
        which: str,
        order: str,
    ) -> None:
        """Label stored stories for a topic, one answer each, into a labeled file for topics eval and train."""
        from scheduler.cmd_label import label

        label(state, output, name, since, sources, languages, others, which, order)

    return topics


def _errors(ev: Evaluation) -> str:
    """'57 (en 20, ru 20, zh 17)': false alarms and misses, in all and per language."""
    langs = ", ".join(f"{lang} {c.fp + c.fn}" for lang, c in sorted(ev.by_language.items()))
    return f"{ev.total.fp + ev.total.fn} ({langs})"


def _topic_labels(file: Path) -> dict[str, list[int]]:
    """A labeled file's labels that are names (not true/false) -> the lines holding them; {} when the file
    cannot be read (load_labeled says what is wrong with it)."""
    from crawler.evaluate import _FALSE, _TRUE

    try:
        lines = split_lines(file.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError):
        return {}
    out: dict[str, list[int]] = {}
    for n, line in enumerate(lines, 1):
        try:
            label = json.loads(line).get("label") if line.strip() else None
        except (json.JSONDecodeError, AttributeError):
            return {}
        key = label.strip().lower() if isinstance(label, str) else label
        if isinstance(label, str) and key not in _TRUE and key not in _FALSE:
            out.setdefault(label.strip(), []).append(n)
    return out


def _warn_once() -> Callable[[str], None]:
    """A ``warning:`` line on stderr for each message, the first time it is given."""
    said: set[str] = set()

    def warn(message: str) -> None:
        if message not in said:
            said.add(message)
            click.echo(f"warning: {message}", err=True)

    return warn


def _warn_unknown_labels(file: Path, labels: dict[str, list[int]], topics: set[str]) -> None:
    """Say which of a file's topic-name ``labels`` (``_topic_labels``) name no configured topic: such a story is
    relevant to none of them, which a misspelt name makes silently."""
    for name, lines in labels.items():
        if name and name not in topics:
            where = ", ".join(str(n) for n in lines[:5]) + (", ..." if len(lines) > 5 else "")
            click.echo(
                f"warning: {file}: label {name!r} (line {where}) names no configured topic, so those stories "
                f"count as relevant to none; {did_you_mean(name, topics)}check the name (topics: "
                f"{', '.join(sorted(topics))})",
                err=True,
            )


def _refuse_unknown_labels(file: Path, labels: dict[str, list[int]], topics: set[str]) -> None:
    """A file labeled by names (``_topic_labels``) none of which is a configured topic's: a name misspelt on every
    line (or a word that is no label): refused, naming the first and the topic it may have meant."""
    for name, lines in labels.items():
        raise UsageError(
            f"{file} line {lines[0]}: 'label' must be true or false (1/0) or a configured topic's name, found {name!r}; "
            f"{did_you_mean(name, topics)}configured topics: {', '.join(sorted(topics))}"
        )


def _thresholds(values: tuple[str, ...]) -> dict[str, Any]:
    """--threshold P and --threshold LANG=P as Options fields."""
    out: dict[str, Any] = {}
    by_language = []
    for v in values:
        lang, _, p = v.rpartition("=")
        try:
            number = float(p)
        except ValueError:
            raise UsageError(f"--threshold {v!r}: give a probability (0.4) or LANG=P (zh=0.4)") from None
        if lang:
            by_language.append((lang, number))
        else:
            out["threshold"] = number
    out["thresholds"] = tuple(by_language)
    return out


def _write_json(path: Path, data: object) -> None:
    """Written whole or not at all: a temporary file beside it, then renamed."""
    import tempfile

    text = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent if str(path.parent) else ".")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as a plain new file would be: the daemon's user reads it too
        os.replace(tmp, path)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}; choose another -o PATH") from None


def _has_config(state: object) -> bool:
    try:
        state.config()  # type: ignore[attr-defined]
    except Exception:
        return False
    return True


def _to_json(t: TopicConfig, ms: float, ev: Evaluation) -> dict[str, object]:
    def verdicts(vs: list[Verdict]) -> list[dict[str, object]]:
        return [
            {
                "id": v.story.id,
                "language": v.story.language,
                "score": v.score,
                "hits": list(v.hits),
                "why_not": v.why_not,
                "gate": v.gate,
                "model": v.explain,
                "snippet": v.snippet,
            }
            for v in vs
        ]

    return {
        "topic": t.name,
        "min_score": ms,
        "languages": {lang: c.to_json() for lang, c in sorted(ev.by_language.items())},
        "all": ev.total.to_json(),
        "misses": verdicts(ev.misses),
        "false_alarms": verdicts(ev.false_alarms),
    }


def search_with_topic(
    config: Config,
    query: str | None,
    topic: str | None,
    limit: int,
    timeout: float,
    near: bool = False,
    **filters: Any,
) -> tuple[list, SearchStats, TopicConfig | None]:
    """`newswatch search`: a query, or a configured topic (its query and min_score; ``near``: its near misses,
    scored in [near_score, min_score) in stories no copy of which matches); warns when cut short.
    Returns the results, how the search went (whether it was cut short, how many articles it scored) and the topic
    searched with, as the config has it (its name composed)."""
    from crawler.search import SearchStats, search_articles

    if (query is None) == (topic is None):
        raise UsageError("give a QUERY or --topic NAME (one of the two)")
    if near and topic is None:
        raise UsageError("--near lists a topic's near misses: give --topic NAME with it")
    min_score = 0.0
    below = None
    scorer = None
    t = None
    if topic is not None:
        t = _pick(config.topics, (topic,), "add one, or search with a QUERY instead of --topic")[0]
        query, min_score = t.query, t.min_score
        if near:
            if t.near_score is None:
                raise UsageError(
                    f"--near: the topic {t.name} has no near_score; add one below its min_score"
                    f" ({t.min_score:g}) to its [[topics]] table"
                )
            min_score, below = t.near_score, t.min_score
        scorer = t.model.scorer() if t.model is not None else None
    stats = SearchStats()
    results = search_articles(
        config,
        query or "",
        limit=limit,
        min_score=min_score,
        timeout=timeout,
        stats=stats,
        scorer=scorer,
        below=below,
        **filters,
    )
    if stats.timed_out:
        how_far = (
            f"having scored {stats.scored} of the index's {stats.candidates} {noun(stats.candidates, 'candidate')}"
            if stats.candidates is not None
            else "before the index had found its candidates"
        )
        click.echo(
            f"warning: the search stopped early, at its {timeout:g}s limit, {how_far}; "
            "results may be incomplete (narrow the query or raise --timeout)",
            err=True,
        )
    return results, stats, t
