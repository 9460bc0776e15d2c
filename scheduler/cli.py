"""The `newswatch` command line. The only place that turns errors into messages and exit codes."""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Any

import click

from crawler import __version__
from crawler.config import Config, find_config, load_config, parse_duration
from crawler.errors import ConfigError, NewswatchError, UsageError

EXPORT_FIELDS = (
    "id",
    "url",
    "canonical_url",
    "source",
    "title",
    "text",
    "text_from",
    "published",
    "language",
    "topics",
    "story",
    "fetched",
)


class State:
    def __init__(self, config_path: str | None = None, debug: bool = False) -> None:
        self.config_path = config_path
        self.debug = debug
        self._config: Config | None = None

    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(find_config(self.config_path))
        return self._config


def _set_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.ensure_object(State).config_path = value


def config_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """-c/--config also after the command name: `newswatch check -c FILE`."""
    return click.option(
        "-c",
        "--config",
        "config_path",
        metavar="PATH",
        expose_value=False,
        is_eager=True,
        callback=_set_config,
        type=click.Path(dir_okay=False),
        help="Config file (same as the global -c).",
    )(fn)


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turns NewswatchError into one line on stderr and its exit code (a traceback only with --debug)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        state: State | None = click.get_current_context().find_object(State)
        try:
            return fn(*args, **kwargs)
        except NewswatchError as exc:
            if state and state.debug:
                traceback.print_exc()
            if isinstance(exc, ConfigError) and len(exc.problems) > 1:
                where = f"{exc.path}: " if exc.path else ""
                click.echo(f"error: {where}{len(exc.problems)} problems in the config:", err=True)
                for p in exc.problems:
                    click.echo(f"  {p}", err=True)
            else:
                click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:
            if state and state.debug:
                raise
            click.echo(
                f"error: unexpected {type(exc).__name__}: {exc} (run with --debug for details, and please report it)",
                err=True,
            )
            sys.exit(1)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="newswatch")
@click.option(
    "-c",
    "--config",
    "config_path",
    metavar="PATH",
    type=click.Path(dir_okay=False),
    help="Config file (default: $NEWSWATCH_CONFIG, ./newswatch.toml, "
    "~/.config/newswatch/newswatch.toml, /etc/newswatch/newswatch.toml).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, debug: bool) -> None:
    """newswatch: watch news sources for a topic and email what matters."""
    state = ctx.ensure_object(State)
    state.config_path = config_path
    state.debug = debug


# -- check ----------------------------------------------------------------------------------


@cli.command()
@config_option
@click.pass_obj
@handle_errors
def check(state: State) -> None:
    """Validate the config; print each problem with its key path (exit 2 if invalid)."""
    path = find_config(state.config_path)
    config = load_config(path)
    click.echo(
        f"{path}: OK — {len(config.sources)} sources, {len(config.topics)} topics, "
        f"database {config.storage.database}"
        + ("" if config.digest else "; no [digest] (needed by 'digest' and 'run')")
        + ("" if config.smtp else "; no [smtp] (needed to send mail)")
    )


# -- crawl ----------------------------------------------------------------------------------


@cli.command()
@config_option
@click.argument("sources", nargs=-1)
@click.option("--url", "urls", multiple=True, metavar="URL", help="Fetch this article URL (repeatable).")
@click.option(
    "--timeout", "timeout", default=None, metavar="DURATION", help="Stop the crawl after this long (e.g. 30m)."
)
@click.pass_obj
@handle_errors
def crawl(state: State, sources: tuple[str, ...], urls: tuple[str, ...], timeout: str | None) -> None:
    """One ad-hoc pass over the named sources (default: all), or over given article URLs.

    Ends with a table per source: fetched, new articles, duplicates, matched, errors.
    Exits 1 only when every selected source failed.
    """
    from crawler.run import run_in_child, select_sources
    from crawler.urls import is_http_url

    config = state.config()
    for u in urls:
        if not is_http_url(u):
            raise UsageError(f"--url {u!r} is not an http(s) URL")
    names = list(sources)
    if urls and not names:
        selected = []
    else:
        selected = [s.name for s in select_sources(config, names)]
        if not selected and not urls:
            raise UsageError("the config has no [[sources]]; add one or pass --url URL")
    seconds = _duration_option("--timeout", timeout) if timeout else None
    progress = Progress(enabled=sys.stderr.isatty())
    summary = run_in_child(
        config.path or Path("newswatch.toml"), selected, urls, trigger="cli", on_event=progress.update, timeout=seconds
    )
    progress.done()
    _print_crawl_table(summary)
    if summary.all_failed:
        sys.exit(1)


def _duration_option(name: str, value: str) -> float:
    try:
        return parse_duration(value)
    except ValueError:
        raise UsageError(f"{name} {value!r} is not a duration; use 30s, 15m, 6h or 1d") from None


class Progress:
    """A one-line live counter on a terminal; silent otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.counts = {"pages": 0, "new": 0, "errors": 0, "sources": 0}

    def update(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "page":
            self.counts["pages"] += 1
            if event.get("status") == "new":
                self.counts["new"] += 1
            elif event.get("status") == "error":
                self.counts["errors"] += 1
        elif kind == "source":
            self.counts["sources"] += 1
        if self.enabled:
            c = self.counts
            sys.stderr.write(
                f"\rcrawling: {c['sources']} sources polled, {c['pages']} pages, {c['new']} new, {c['errors']} errors "
            )
            sys.stderr.flush()

    def done(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 78 + "\r")
            sys.stderr.flush()


def _print_crawl_table(summary: Any) -> None:
    headers = ("source", "status", "fetched", "new", "duplicates", "matched", "errors")
    rows = [(s.name, s.status, s.fetched, s.new, s.duplicates, s.matched, s.errors) for s in summary.sources]
    t = summary.totals()
    rows.append(("total", "", t["fetched"], t["new"], t["duplicates"], t["matched"], t["errors"]))
    _print_table(headers, rows)
    for s in summary.sources:
        if s.message:
            click.echo(f"{s.name}: {s.message}", err=True)
        for w in s.warnings[:3]:
            click.echo(f"{s.name}: warning: {w}", err=True)
        shown = 0
        for e in s.error_samples:
            if e != s.message and shown < 3:
                click.echo(f"{s.name}: {e}", err=True)
                shown += 1
        if len(s.error_samples) > shown + (1 if s.message else 0):
            click.echo(f"{s.name}: … and {len(s.error_samples) - shown} more errors", err=True)


def _print_table(headers: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    cells = [tuple(str(c) for c in headers)] + [tuple("" if c is None else str(c) for c in r) for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def fmt(r: tuple[str, ...]) -> str:
        return "  ".join(c.rjust(w) if c.isdigit() else c.ljust(w) for c, w in zip(r, widths)).rstrip()

    click.echo(fmt(cells[0]))
    click.echo("  ".join("-" * w for w in widths))
    for r in cells[1:]:
        click.echo(fmt(r))


# -- search ---------------------------------------------------------------------------------


@cli.command()
@config_option
@click.argument("query")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1), help="At most this many results.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of text.")
@click.pass_obj
@handle_errors
def search(state: State, query: str, limit: int, as_json: bool) -> None:
    """Search stored articles with the topic query syntax (AND OR NOT ( ) "phrase" prefix* NEAR/n title:)."""
    from crawler.search import search_articles

    config = state.config()
    results = search_articles(config, query, limit=limit)
    if as_json:
        click.echo(json.dumps([r.to_json() for r in results], ensure_ascii=False, indent=2))
        return
    if not results:
        click.echo("no matches")
        return
    tty = sys.stdout.isatty()
    for r in results:
        date = (r.published or r.fetched or "")[:10]
        click.echo(click.style(f"{r.score:6.2f}  {r.title}", bold=tty))
        click.echo(f"        {r.source} · {date} · {r.language or '?'} · {r.url}")
        click.echo(f"        matched: {', '.join(r.hits)}")
        snippet = "".join(
            click.style(seg, bold=True, underline=True) if hit and tty else (f"[{seg}]" if hit else seg)
            for seg, hit in r.snippet
        )
        click.echo(f"        {snippet}")
        click.echo()


# -- export ---------------------------------------------------------------------------------


@cli.command()
@config_option
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option(
    "--since",
    default=None,
    metavar="DATE",
    help="Only articles fetched on or after DATE "
    "(YYYY-MM-DD, an ISO 8601 time, or a duration like 7d meaning that long ago).",
)
@click.option("--matched", is_flag=True, help="Only articles that matched a topic.")
@click.pass_obj
@handle_errors
def export(state: State, fmt: str, since: str | None, matched: bool) -> None:
    """Write stored articles to stdout, one record per article."""
    from crawler.store import Store

    config = state.config()
    since_dt = _parse_since(since) if since else None
    if not config.storage.database.exists():
        return
    with Store(config.storage.database) as store:
        records = (export_record(row) for row in store.iter_export(since_dt, matched))
        out = click.get_text_stream("stdout")
        if fmt == "jsonl":
            for rec in records:
                out.write(json.dumps(rec, ensure_ascii=False) + "\n")
        else:
            writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\n")
            writer.writeheader()
            for rec in records:
                writer.writerow({**rec, "topics": ";".join(rec["topics"])})


def export_record(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "url": row["url"],
        "canonical_url": row["canonical_url"],
        "source": row["source"],
        "title": row["title"],
        "text": row["text"],
        "text_from": row["text_from"],
        "published": row["published"],
        "language": row["language"],
        "topics": json.loads(row["topic_list"] or "[]"),
        "story": str(row["story"]),
        "fetched": row["fetched"],
    }


def _parse_since(value: str) -> datetime:
    try:
        return datetime.now(UTC) - timedelta(seconds=parse_duration(value))
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"--since {value!r} is not a date; use YYYY-MM-DD, an ISO 8601 time or a duration like 7d"
        ) from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


# -- sources --------------------------------------------------------------------------------


def _short_time(value: str | None) -> str:
    if not value:
        return ""
    return value.replace("T", " ")[:16] + "Z" if value.endswith("+00:00") else value[:16]


# -- digest ---------------------------------------------------------------------------------


@cli.command()
@config_option
@click.option("--dry-run", is_flag=True, help="Build the digests; send nothing, mark nothing.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write one recipient's digest to FILE (.html or .eml) and send nothing.",
)
@click.option(
    "--to", "to", metavar="ADDR", default=None, help="Mail a preview of the next digest to ADDR; mark nothing."
)
@click.option(
    "--recipient", metavar="ADDR", default=None, help="With --output/--to: whose digest (default: the first)."
)
@click.pass_obj
@handle_errors
def digest(state: State, dry_run: bool, output: Path | None, to: str | None, recipient: str | None) -> None:
    """Build each recipient's digest of due stories and email it."""
    from crawler.matching import sync_topics
    from crawler.store import Store
    from scheduler.digest import check_options, run_digest

    config = state.config()
    check_options(config, dry_run=dry_run, output=output, to=to, recipient=recipient)
    with Store(config.storage.database) as store:
        sync_topics(config, store)  # an edited query re-matches recent articles first
        outcome = run_digest(config, store, dry_run=dry_run, output=output, to=to, recipient=recipient)
    for r in outcome.results:
        line = {
            "sent": f"{r.email}: sent {r.stories} stories",
            "empty": f"{r.email}: nothing new to send",
            "dry-run": f"{r.email}: would send {r.stories} stories (dry run)",
            "preview": (
                f"{r.email}: preview of {r.stories} stories sent to {to}"
                if to
                else f"{r.email}: digest of {r.stories} stories written"
            ),
            "failed": f"{r.email}: not sent: {r.error}",
        }.get(r.status, f"{r.email}: {r.status}")
        if r.held:
            line += f" ({r.held} more stay due)"
        click.echo(line, err=r.status == "failed")
    if outcome.output:
        click.echo(f"wrote {outcome.output}")
    if outcome.failed:
        sys.exit(1)


# -- run ------------------------------------------------------------------------------------


@cli.command()
@config_option
@click.pass_obj
@handle_errors
def run(state: State) -> None:
    """The daemon: schedule every source and digest until SIGTERM/SIGINT."""
    from scheduler.daemon import run_daemon

    path = find_config(state.config_path)
    sys.exit(run_daemon(path, debug=state.debug))


# -- prune / backup / init --------------------------------------------------------------------


@cli.command()
@config_option
@click.option("--older-than", "older_than", required=True, metavar="DURATION", help="e.g. 180d")
@click.pass_obj
@handle_errors
def prune(state: State, older_than: str) -> None:
    """Delete articles older than DURATION (never unsent matched stories) and vacuum."""
    from crawler.store import Store, utcnow
    from scheduler import ledger

    config = state.config()
    seconds = _duration_option("--older-than", older_than)
    with Store(config.storage.database) as store:
        n = ledger.prune_articles(store, utcnow() - timedelta(seconds=seconds))
        store.conn.execute("VACUUM")
    click.echo(f"deleted {n} articles older than {older_than}")


@cli.command()
@config_option
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
@handle_errors
def backup(state: State, file: Path) -> None:
    """Write a consistent copy of the database to FILE, even while the daemon runs."""
    import sqlite3

    config = state.config()
    if not config.storage.database.exists():
        raise UsageError(f"no database at {config.storage.database} yet; run 'newswatch crawl' first")
    tmp = file.with_name(file.name + ".tmp")
    src = sqlite3.connect(str(config.storage.database))
    dst = sqlite3.connect(str(tmp))
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    os.replace(tmp, file)
    click.echo(f"wrote {file}")


@cli.command()
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@handle_errors
def init(path: Path | None) -> None:
    """Write the default config (real sources, default topic) to PATH or your config path."""
    from scheduler.data import data_path

    if path is None:
        xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        path = Path(xdg) / "newswatch" / "newswatch.toml"
    if path.exists():
        raise UsageError(f"{path} already exists; newswatch will not overwrite it (choose another PATH)")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    shutil.copyfile(data_path("config", "newswatch.toml"), tmp)
    os.replace(tmp, path)
    click.echo(f"wrote {path}; edit [[digest.recipients]] and [smtp], then run 'newswatch check -c {path}'")


# -- demo -----------------------------------------------------------------------------------


@cli.command()
@config_option
@click.option("--serve", is_flag=True, help="Only serve the sample site and print a config to try 'crawl' by hand.")
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write the demo's database and digest (default: a new temporary directory).",
)
@click.pass_obj
@handle_errors
def demo(state: State, serve: bool, output_dir: Path | None) -> None:
    """The whole flow offline: serve the bundled sample site, crawl it, write the digest."""
    from scheduler.demo import run_demo, serve_forever

    if serve:
        serve_forever(click.echo)
        return
    run_demo(output_dir, click.echo)


# Command modules use this module's helpers; under `python -m scheduler.cli` this module is
# __main__, so it is made importable under its own name first (one module, not two copies).
sys.modules.setdefault("scheduler.cli", sys.modules[__name__])
from scheduler import cmd_sources  # noqa: E402

cmd_sources.register(cli)


def main() -> None:
    cli(prog_name="newswatch")


def iter_commands() -> Iterator[tuple[str, click.Command]]:
    """Every command, for the docs-sync test."""
    yield from sorted(cli.commands.items())


if __name__ == "__main__":
    main()
