"""`newswatch topics label`: stored stories shown one at a time, each answer a line of a labeled file.

Answers come from stdin: typed at a terminal (an unknown answer is asked again), or one a line from a pipe
or a file (an unknown answer stops the run, exit 2; the end of the input is `q`). Every answer is on disk
before the next story is shown, so Ctrl-C, `q` or a closed pipe loses none.
"""

from __future__ import annotations

import os
import sys
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from crawler.errors import UsageError
from crawler.wording import noun

PROMPT = "relevant? [y]es [n]o [s]kip [u]ndo [q]uit "
ANSWERS = {
    "y": "y",
    "yes": "y",
    "n": "n",
    "no": "n",
    "s": "s",
    "skip": "s",
    "u": "u",
    "undo": "u",
    "q": "q",
    "quit": "q",
}


def label(
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
    """`topics label`: see the README's section of that name."""
    from crawler.evaluate import Story, judge
    from crawler.labeling import Journal, read_labeled, record, select
    from crawler.store import Store
    from crawler.topics import compile_query
    from scheduler.cli import _absent_languages, _check_sources, _parse_since, _quoted
    from scheduler.cmd_topics import _pick

    config = state.config()
    if name is None and len(config.topics) > 1:
        raise UsageError(
            f"the config has several topics; pass --topic NAME ({', '.join(t.name for t in config.topics)})"
        )
    topic = _pick(config.topics, (name,) if name else (), "add one to label stories for it")[0]
    since_dt = _parse_since(since) if since else None
    folder = output.resolve().parent
    if not folder.is_dir():
        raise UsageError(f"-o {output}: the folder {folder} does not exist; create it or choose another")
    labeled = read_labeled(output)
    other = {t: n for t, n in labeled.topics.items() if t != topic.name}
    if other:
        first = min(other, key=lambda t: other[t])
        raise UsageError(
            f"-o {output} holds labels for topic {first!r} (line {other[first]}), not {topic.name!r}; "
            "a story relevant to one topic may not be to another: give each topic its own labeled file"
        )
    _check_writable(output, folder)
    for other_file in others:
        if not other_file.is_file():
            raise UsageError(f"--skip-labeled {other_file}: no such file; give a labeled file")
        if other_file.resolve() == output.resolve():
            continue
        labeled.urls |= read_labeled(other_file, "--skip-labeled").urls
    db = config.storage.database
    if since_dt is not None and since_dt > datetime.now(UTC):
        click.echo(f"nothing to label: --since {_quoted(since or '')} is in the future")
        return
    if not db.exists():
        click.echo(f"nothing to label: no articles are stored yet in {db} (newswatch crawl stores them)")
        return
    languages = tuple(lang.lower() for lang in languages)
    query = compile_query(topic.query)
    scorer = topic.model.scorer() if topic.model is not None else None
    with Store(db, readonly=True) as store:
        _check_sources(config, store, sources)

        def scoring(n: int) -> None:
            if not state.quiet and n >= 200:
                click.echo(f"scoring {n} stories for topic {topic.name} ...", err=True)

        sel = select(
            store,
            topic,
            query,
            scorer,
            labeled,
            sources=sources,
            languages=languages,
            since=since_dt,
            which=which,
            order=order,
            progress=scoring,
        )
        if not sel.stories:
            used = [o for o, v in (("--source", sources), ("--language", languages), ("--since", since_dt)) if v]
            line = _nothing(sel, db, output, topic.name, which, used)
            absent = _absent_languages(languages, store.languages()) if sel.kept == 0 and sel.stored else None
            click.echo(f"{line}; {absent}" if absent else line)  # as search says it: 'cn' for zh, most often
            return
        ms = topic.min_score
        if not state.quiet:
            already = (
                f"; {output} holds {labeled.lines} {noun(labeled.lines, 'label')} already" if labeled.lines else ""
            )
            click.echo(
                f"{len(sel.stories)} {noun(len(sel.stories), 'story', 'stories')} to label for topic {topic.name} "
                f"(min_score {ms:g}), in {order} order{already}. Each answer is written to {output} at once.",
                err=True,
            )
        interactive = sys.stdin.isatty()
        pending = deque(sel.stories)
        answered: list[tuple[Any, bool]] = []  # (candidate, label) of each line this run wrote, in order
        skipped = 0
        journal: Journal | None = None
        finished = False
        try:
            while pending:
                cand = pending.popleft()
                row = store.article(cand.id)
                if row is None:  # pruned meanwhile
                    continue
                story = Story(str(row["id"]), row["language"] or "?", row["title"], row["text"], False)
                verdict = judge(query, ms, story, scorer)
                _show(len(answered) + skipped + 1, len(sel.stories), row, cand, verdict, ms, scorer is not None)
                answer = _ask(interactive)
                if answer in ("y", "n"):
                    if journal is None:
                        journal = Journal(output, labeled.ends_in_newline)
                    journal.append(record(row, answer == "y", topic.name))
                    answered.append((cand, answer == "y"))
                elif answer == "s":
                    skipped += 1
                elif answer == "u":
                    pending.appendleft(cand)
                    if journal is None or not journal.undo():
                        click.echo(
                            "  nothing to undo: this run has written no label (edit the file to change older ones)"
                        )
                        continue
                    undone, was = answered.pop()
                    pending.appendleft(undone)
                    click.echo(f"  undone: {'relevant' if was else 'not relevant'}, removed from {output}; asked again")
                else:
                    break
            else:
                finished = True
        finally:
            if journal is not None:
                journal.close()
            if not state.quiet:
                click.echo(_summary(answered, skipped, labeled, output, finished), err=True)


def _check_writable(output: Path, folder: Path) -> None:
    """UsageError when the first answer could not be written to ``output``: said before any story is scored (minutes
    on a large archive) and shown, not after the first answer."""
    from crawler.paths import on_read_only_mount

    if on_read_only_mount(output):
        raise UsageError(f"-o {output} lies on a read-only file system; give a file on a writable one")
    target = output if output.exists() else folder
    if not os.access(target, os.W_OK):
        raise UsageError(f"-o {output}: this user may not write {target}; give a file you may write")


def _show(n: int, total: int, row: dict[str, Any], cand: Any, verdict: Any, ms: float, model: bool) -> None:
    from scheduler.cli import _first_lines, terminal_safe

    safe = terminal_safe  # stored text is scraped: its escape sequences must not reach the terminal
    if verdict.score is None:
        status = f"not matched: its {'gate' if model else 'query'} does not hold"
    elif verdict.predicted:
        status = f"matched, score {verdict.score:.2f} (min_score {ms:g})"
    else:
        status = f"not matched, score {verdict.score:.2f} (min_score {ms:g})"
    tty = sys.stdout.isatty()
    click.echo()
    click.echo(f"[{n} of {total}] {status}")
    click.echo(click.style(safe(row["title"]) or "(no headline)", bold=tty))
    date = (row["published"] or row["fetched"] or "")[:10]
    copies = f" · {cand.copies} copies" if cand.copies > 1 else ""
    feed = " · feed summary only" if row["text_from"] == "feed" else ""
    click.echo(f"  {safe(row['source'])} · {date} · {safe(row['language'] or '?')}{copies}{feed} · {safe(row['url'])}")
    if verdict.hits:
        click.echo(f"  hits: {safe(', '.join(verdict.hits))}")
    if verdict.gate is not None:
        click.echo(f"  gate: {safe(verdict.gate)}")
    if verdict.why_not:
        click.echo(f"  why: {safe(verdict.why_not)}")
    if verdict.explain:
        click.echo(f"  model: {verdict.explain}")
    for line in _first_lines(row["text"], 4, 400):
        click.echo(f"    {safe(line)}")


def _ask(interactive: bool) -> str:
    """One answer: y, n, s, u or q (q too at the end of the input)."""
    while True:
        click.echo(PROMPT, nl=False)
        line = sys.stdin.readline()
        if not line:
            click.echo()
            return "q"
        given = line.strip().lower()
        if not interactive:
            click.echo(given)  # the answer beside its question, as a terminal shows it
        if given in ANSWERS:
            return ANSWERS[given]
        if not interactive:
            raise UsageError(
                f"answer {given!r} is not one of y, n, s, u, q (read from stdin, one answer a line); "
                "the answers before it are written"
            )
        click.echo("  answer y (relevant), n (not relevant), s (skip), u (undo the last answer) or q (quit)")


def _summary(answered: list[tuple[Any, bool]], skipped: int, labeled: Any, output: Path, finished: bool) -> str:
    relevant = sum(1 for _c, y in answered if y)
    total, total_relevant = labeled.lines + len(answered), labeled.relevant + relevant
    head = "no stories left to label" if finished else "stopped"
    line = (
        f"{head}: {len(answered)} labeled this run ({relevant} relevant), {skipped} skipped; "
        f"{output} holds {total} {noun(total, 'label')} ({total_relevant} relevant)"
    )
    if total:
        line += f"\nnext: newswatch topics eval {output}"
    return line


def _nothing(sel: Any, db: Path, output: Path, topic: str, which: str, used: list[str]) -> str:
    """Why there is no story to label: no article, none the filters (the options ``used``) keep, all labeled, or
    none --matched / --unmatched keeps."""
    if sel.stored == 0:
        return f"nothing to label: no articles are stored yet in {db} (newswatch crawl stores them)"
    if sel.kept == 0:
        return f"nothing to label: {' and '.join(used)} kept none of the {sel.stored} stored articles"
    kept = f"the {sel.kept_stories} {noun(sel.kept_stories, 'story', 'stories')}" + (
        f" {' and '.join(used)} kept" if used else " stored"
    )
    if sel.labeled == sel.kept_stories:
        return f"nothing left to label: {output} has labels for all {kept}"
    left = sel.kept_stories - sel.labeled
    return (
        f"nothing to label: of {kept}, {left} have no label yet in {output}, and topic {topic} "
        f"{'matches none' if which == 'matched' else 'matches all'} of them (--{which})"
    )
