"""The `newswatch` command line. The only place that turns errors into messages and exit codes."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from crawler import __version__, envsettings, notices
from crawler.config import (
    MAX_DURATION,
    Config,
    find_config,
    format_duration,
    load_config,
    parse_duration,
    user_config_path,
)
from crawler.dates import iso, parse_user_date
from crawler.errors import ConfigError, NewswatchError, UsageError, did_you_mean
from crawler.jsonl import dumps_line
from crawler.wording import columns, count, noun
from scheduler.files import check_output_folder, replacing, write_atomic
from scheduler.launch import hold_signals, release_signals

if TYPE_CHECKING:
    from crawler.store import Store

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
        self.quiet = False
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
        type=click.Path(dir_okay=False, readable=False),  # load_config says who may read it
        help="Config file (same as the global -c).",
    )(fn)


def _set_quiet(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(State).quiet = True


def quiet_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """-q/--quiet also after the command name."""
    return click.option(
        "-q",
        "--quiet",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_set_quiet,
        help="Print only errors and warnings (same as the global -q).",
    )(fn)


def config_names(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """A click callback: source and topic names as the config's are compared (composed, NFC), whatever the
    terminal sent."""
    from crawler.config import normal_name

    if isinstance(value, tuple):
        return tuple(normal_name(v) for v in value)
    return normal_name(value) if isinstance(value, str) else value


# the article filters search, export and topics label share (export's --since is its own: it filters on fetched)
source_option = click.option(
    "--source",
    "sources",
    multiple=True,
    metavar="NAME",
    callback=config_names,
    help="Only articles from this source (repeatable).",
)
language_option = click.option(
    "--language",
    "languages",
    multiple=True,
    metavar="CODE",
    help="Only articles in this language: en, ru, zh (repeatable).",
)
published_since_option = click.option(
    "--since",
    default=None,
    metavar="DATE",
    help="Only articles published (else fetched) on or after DATE (YYYY-MM-DD, ISO 8601, or a duration like 7d).",
)


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
        except BrokenPipeError:
            # the reader went away (`newswatch export | head -1`): stop quietly, as cat and grep do
            _silence_stdout()
            sys.exit(0)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:
            if state and state.debug:
                raise
            line = os_problem(exc, state)
            if line:
                _silence_stdout()  # what could not be written must not fail again at exit
                click.echo(f"error: {line}", err=True)
                sys.exit(1)
            click.echo(
                f"error: unexpected {type(exc).__name__}: {exc} (run with --debug for details, and please report it)",
                err=True,
            )
            sys.exit(1)

    return wrapper


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def os_problem(exc: BaseException, state: State | None) -> str | None:
    """One line for an ordinary condition of the machine (disk full, permission denied, missing folder)."""
    import errno
    import sqlite3

    from crawler.paths import low_space, no_entry, unwritable_folder

    database = None
    if state is not None and state._config is not None:
        database = state._config.storage.database
    where = str(database) if database else "the database"
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc)
        if "readonly" in text:
            return (
                f"cannot write the database {where}: permission denied; this command needs write permission "
                f"on it and on its folder (run it as the service user or in its group)"
            )
        if "disk is full" in text or "disk I/O error" in text:
            free = low_space(Path(database)) if database and "disk I/O error" in text else None
            if free is not None:  # SQLite's word when it cannot grow its -wal or -shm file
                text = f"the disk holding it is full ({free:,} bytes free)"
            return f"cannot write the database {where}: {text}; free some disk space and run the command again"
        if "unable to open" in text:
            return f"cannot open the database {where}: {text}; check [storage] database and the folder's permissions"
        return None
    if isinstance(exc, OSError):
        name = exc.filename or where
        if exc.errno == errno.ENOSPC:
            what = exc.filename or "the output"
            return f"no space left on the device writing {what}; free some disk space and run the command again"
        path = Path(os.fsdecode(exc.filename)) if isinstance(exc.filename, (str, bytes)) and exc.filename else None
        closed = no_entry(path) if exc.errno == errno.EACCES and path is not None else None
        if closed is not None:
            return f"cannot open {'the database ' if database and path == database else ''}{path}: {closed}"
        if exc.errno == errno.EACCES and path is not None and _refused_write(path):
            return (
                f"cannot write {path}: {unwritable_folder(path)}; run the command as a user who may write "
                "there, or choose another path"
            )
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return f"{name}: {exc.strerror}; this user lacks the permission this command needs there"
        if exc.errno == errno.ENOENT:
            return f"{name}: no such file or folder; create the folder first or choose another path"
        if exc.errno is not None:
            return f"{name}: {exc.strerror}"
    return None


def _refused_write(path: Path) -> bool:
    """Whether a permission error on ``path`` was a write its folder refused (a file is written as a temporary one
    beside it, then renamed): the folder not writable, the file new or one this user may read."""
    return not os.access(path.parent, os.W_OK) and (not os.path.lexists(path) or os.access(path, os.R_OK))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="newswatch")
@click.option(
    "-c",
    "--config",
    "config_path",
    metavar="PATH",
    type=click.Path(dir_okay=False, readable=False),  # load_config says who may read it
    help="Config file (default: $NEWSWATCH_CONFIG, ./newswatch.toml, "
    "~/.config/newswatch/newswatch.toml, /etc/newswatch/newswatch.toml).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors and warnings (no tables or progress).")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, debug: bool, quiet: bool) -> None:
    """newswatch: watch news sources for a topic and email what matters."""
    state = ctx.ensure_object(State)
    state.config_path = config_path
    state.debug = debug
    state.quiet = quiet
    problem = envsettings.problem()  # before any command: no process of newswatch meets it later
    if problem is not None:
        click.echo(f"error: {problem}", err=True)
        sys.exit(2)
    if ctx.invoked_subcommand != "run":  # the daemon takes SIGHUP and SIGTERM once its loop handles them
        release_signals()
        notices.on_upgrade(_upgrade_notice(state))  # the daemon logs its own
        ctx.call_on_close(lambda: notices.on_upgrade(None))


def _upgrade_notice(state: State) -> Callable[[Path, Sequence[str], float | None], None]:
    """What the user waiting on a command hears of an upgrade of the database it makes first (not with --quiet)."""

    def say(database: Path, migrations: Sequence[str], seconds: float | None) -> None:
        if state.quiet:
            return
        if seconds is None:
            click.echo(
                f"upgrading the database {database} for newswatch {__version__} ({', '.join(migrations)}): once, "
                "by the first command after an upgrade of newswatch; on a large archive this takes minutes "
                "(interrupted, the database stays as it was and the next command upgrades it)",
                err=True,
            )
        else:
            took = f"{seconds:.1f} s" if seconds < 60 else format_duration(round(seconds))
            click.echo(f"database upgraded in {took}; {database} is ready for this version", err=True)

    return say


# -- check ----------------------------------------------------------------------------------


@cli.command()
@config_option
@quiet_option
@click.option("--json", "as_json", is_flag=True, help="Print the result (problems, warnings, counts) as JSON.")
@click.pass_obj
@handle_errors
def check(state: State, as_json: bool) -> None:
    """Validate the config; print each problem with its key path (exit 2 if invalid), then warnings."""
    from scheduler.advice import config_warnings

    path = find_config(state.config_path)
    try:
        config = load_config(path)
    except ConfigError as exc:
        if not as_json:
            raise
        report = {"config": str(path), "ok": False, "problems": exc.problems, "warnings": []}
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))  # names as typed, as a valid config's report
        sys.exit(exc.exit_code)
    warnings = config_warnings(config)
    if as_json:
        report = {
            "config": str(path),
            "ok": True,
            "problems": [],
            "warnings": warnings,
            "sources": len(config.sources),
            "topics": len(config.topics),
            "database": str(config.storage.database),
            "digest": config.digest is not None,
            "smtp": config.smtp is not None,
        }
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    if not state.quiet:
        click.echo(
            f"{path}: OK — {count(len(config.sources), 'source')}, {count(len(config.topics), 'topic')}, "
            f"database {config.storage.database}"
            + ("" if config.digest else "; no [digest] (needed by 'digest'; 'run' then only archives)")
            + ("" if config.smtp else "; no [smtp] (needed to send mail)")
        )
    for w in warnings:
        click.echo(f"warning: {w}", err=True)


# -- crawl ----------------------------------------------------------------------------------


# a comment in a --urls-from file: a whole line, or after a space ('#' inside a URL is its fragment)
_URL_COMMENT = re.compile(r"(?:^|\s)#.*")


@cli.command()
@config_option
@quiet_option
@click.argument("sources", nargs=-1, callback=config_names)
@click.option("--url", "urls", multiple=True, metavar="URL", help="Fetch this article URL (repeatable).")
@click.option(
    "--urls-from",
    "urls_from",
    type=click.File("rb"),  # bytes: a line that is not UTF-8 is named, and a byte-order mark read past
    default=None,
    metavar="FILE",
    help="Fetch the article URLs listed in FILE, one a line ('-' reads stdin; '#' starts a comment).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary (and each --url page's extraction) as JSON.")
@click.option(
    "--timeout", "timeout", default=None, metavar="DURATION", help="Stop the crawl after this long (e.g. 30m)."
)
@click.pass_obj
@handle_errors
def crawl(
    state: State,
    sources: tuple[str, ...],
    urls: tuple[str, ...],
    urls_from: Any,
    as_json: bool,
    timeout: str | None,
) -> None:
    """One ad-hoc pass over the named sources (default: all), or over given article URLs.

    Ends with a table per source: fetched, new articles, duplicates, matched, errors.
    With --url (and no SOURCE) only those pages are fetched, and what was extracted from each is shown.
    Exits 1 only when every selected source failed.
    """
    from crawler.child import run_in_child, select_sources
    from crawler.urls import is_http_url

    config = state.config()
    url_list = list(urls)
    for u in url_list:
        if not is_http_url(u):
            raise UsageError(f"--url {u!r} is not an http(s) URL")
    if urls_from is not None:
        listed = getattr(urls_from, "name", "<stdin>")  # stdin's bytes have no name under a test's runner
        for n, raw in enumerate(urls_from, 1):
            try:
                line = raw.decode("utf-8-sig" if n == 1 else "utf-8")  # Notepad's UTF-8 starts with a BOM
            except UnicodeDecodeError:
                raise UsageError(f"--urls-from {listed}, line {n}: not UTF-8 text; save the file as UTF-8") from None
            u = _URL_COMMENT.sub("", line).strip()
            if u and not is_http_url(u):
                raise UsageError(
                    f"--urls-from {listed}, line {n}: {u!r} is not an http(s) URL; "
                    "give one URL a line ('#' starts a comment)"
                )
            if u:
                url_list.append(u)
    url_list = _one_url_a_page(url_list, quiet=state.quiet)
    if urls_from is not None and not url_list and not sources:
        raise UsageError(f"--urls-from {listed}: no URLs in it (one http(s) URL a line)")
    names = list(sources)
    if url_list and not names:
        selected: list[str] = []  # only the given pages, never the configured sources
    else:
        selected = [s.name for s in select_sources(config, names)]
        if not selected and not url_list:
            raise UsageError("the config has no [[sources]]; add one or pass --url URL")
    seconds = (
        _duration_option("--timeout", timeout, zero="leave it out for no limit", no_limit=True) if timeout else None
    )
    if seconds == float("inf"):
        seconds = None
    progress = Progress(enabled=sys.stderr.isatty() and not state.quiet and not as_json)
    pages: dict[str, dict[str, Any]] = {}

    def on_event(event: dict[str, Any]) -> None:
        progress.update(event)
        if event.get("event") != "page":
            return
        if event.get("url") in url_list:
            pages[event["url"]] = event
        elif event.get("status") == "error":  # a failed page's error names its URL
            named = url_named(str(event.get("error", "")), url_list)
            if named is not None and named not in pages:
                pages[named] = event

    summary = run_in_child(
        config.path or Path("newswatch.toml"), selected, url_list, trigger="cli", on_event=on_event, timeout=seconds
    )
    progress.done()
    extracted = _extracted_pages(config, url_list, pages) if url_list else []
    if as_json:
        out = {"sources": summary.to_json()["sources"], "totals": summary.totals()}
        if url_list:
            out["pages"] = extracted
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        for page in extracted:
            _print_extracted(page)
        if not state.quiet:
            _print_crawl_table(summary, selected, [_url_row(p, pages.get(p["url"])) for p in extracted])
        else:
            _print_crawl_errors(summary)
    if summary.storage_error:
        click.echo(f"error: {summary.storage_error}", err=True)
        sys.exit(1)
    if summary.all_failed:
        click.echo(f"error: {_all_failed(summary, urls_only=bool(url_list) and not selected)}", err=True)
        sys.exit(1)


def _one_url_a_page(urls: Sequence[str], *, quiet: bool) -> list[str]:
    """The given URLs, one per page: a URL that differs from an earlier one only in tracking parameters, case or
    fragment is the same article, fetched and counted once (under the spelling given first)."""
    from crawler.urls import canonicalize

    first: dict[str, str] = {}
    for u in urls:
        key = canonicalize(u)
        if key not in first:
            first[key] = u
        elif first[key] != u and not quiet:
            click.echo(
                f"warning: {_quoted(u, 200)} names the page {_quoted(first[key], 200)} does (tracking parameters and "
                "fragments aside); fetched and counted once",
                err=True,
            )
    return list(first.values())


def _all_failed(summary: Any, *, urls_only: bool) -> str:
    """The closing line of a crawl in which nothing was fetched, with the likely cause when all share one."""
    tried = summary.polled
    if urls_only:
        line = "every given URL failed"
    elif len(tried) == 1:
        line = f"{tried[0].name} failed"
    else:
        line = f"all {len(tried)} selected sources failed"
    reasons = [s.message or next(iter(s.error_samples), "") for s in tried]
    if all("host name not found" in r for r in reasons):
        line += "; no host name could be looked up: check this machine's network and DNS (or http_proxy/https_proxy)"
    return line


def _extracted_pages(config: Config, urls: list[str], pages: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """What was stored for each --url page: headline, date, language, topics with scores and hits, first lines."""
    from crawler.store import Store

    out: list[dict[str, Any]] = []
    store = Store(config.storage.database, readonly=True) if config.storage.database.exists() else None
    try:
        for url in urls:
            event = pages.get(url, {})
            row = store.article(event["article_id"]) if store and event.get("article_id") else None
            if row is None:
                out.append({"url": url, "status": "error", "error": _page_error(event, url)})
                continue
            matches = store.query(  # type: ignore[union-attr]
                "SELECT topic, score, hits FROM matches WHERE article_id = ? ORDER BY score DESC", [row["id"]]
            )
            out.append(
                {
                    "url": url,
                    "status": "stored" if event.get("status") in ("new", "updated") else "already stored",
                    "fetched": row["fetched"],
                    "id": str(row["id"]),
                    "story": str(row["story"]),
                    "source": row["source"],
                    "title": row["title"],
                    "published": row["published"],
                    "language": row["language"],
                    "text_from": row["text_from"],
                    "topics": [
                        {"name": m["topic"], "score": round(m["score"], 3), "hits": json.loads(m["hits"])}
                        for m in matches
                    ],
                    "first_lines": _first_lines(row["text"]),
                    "characters": len(row["text"]),
                }
            )
    finally:
        if store:
            store.close()
    return out


def url_named(line: str, urls: Sequence[str]) -> str | None:
    """Which of ``urls`` an error line names: a whole URL, not the start of a longer one (the longest wins)."""
    named = [u for u in urls if re.search(re.escape(u) + r"(?=$|[\s\"'<>)\]]|[:,;.](?:\s|$))", line)]
    return max(named, key=len) if named else None


def _page_error(event: dict[str, Any], url: str) -> str:
    if event.get("error"):
        return str(event["error"])
    if event.get("status") == "empty":
        return "no article text could be extracted from the page"
    return "the page was not fetched (see the errors below)"


def _first_lines(text: str, lines: int = 3, width: int = 300) -> list[str]:
    out = []
    for line in text.splitlines():
        line = " ".join(line.split())
        if line:
            out.append(line if len(line) <= width else line[: width - 1] + "…")
        if len(out) == lines:
            break
    return out


def _print_extracted(page: dict[str, Any]) -> None:
    """A page crawl --url extracted: on a terminal each line wrapped to its width under its label's column (the
    topic line lists every term that hit, often hundreds of characters); into a pipe or a file one line each."""

    def show(label: str, text: str, indent: str = " " * 13) -> None:
        first = f"  {label} ".ljust(len(indent)) if label else indent  # the label, then the text at the indent
        echo_wrapped(text, first, indent)

    safe = terminal_safe  # scraped text: its escape sequences must not reach the terminal
    click.echo(safe(page["url"]))
    if page["status"] == "error":
        show("error:", safe(page["error"]), " " * 9)
        click.echo()
        return
    show("title:", safe(page["title"]))
    show("published:", page["published"] or "unknown")
    show("language:", page["language"] or "unknown")
    show("source:", f"{safe(page['source'])} (article {page['id']}, story {page['story']}, {page['status']})")
    then = ""
    if page["status"] == "already stored":  # not stored again: its topics are what it matched when it was stored
        show("stored:", f"already, on {_utc_minute(page['fetched'])}; not stored again, topics as matched then")
        then = " then"
    if page["topics"]:
        for t in page["topics"]:
            show("topic:", f"{safe(t['name'])} score {t['score']:.2f}: {safe(', '.join(t['hits']))}")
    else:
        show("topics:", f"none matched{then}")
    show("text:", f"{page['characters']} characters" + (" (from the feed)" if page["text_from"] == "feed" else ""))
    for line in page["first_lines"]:
        show("", safe(line), "    ")
    click.echo()


def _duration_option(name: str, value: str, *, zero: str | None = None, no_limit: bool = False) -> float:
    """Every duration option's one parser: 30s, 15m, 6h, 1d or compounds (1h30m), or a plain number of seconds (as
    search --timeout always took); '0' is '0s'. With ``zero`` (what to do instead) a zero length is refused; with
    ``no_limit`` a number beyond a century ('inf', 1e12) is infinity, else it is too long."""
    seconds = _plain_seconds(value)
    if seconds is None or seconds < 0:
        try:
            seconds = parse_duration(value)
        except ValueError:
            raise UsageError(
                f"{name} {_quoted(value)} is not a duration; use 30s, 15m, 6h or 1d{_too_long(value)}"
            ) from None
    if not seconds <= MAX_DURATION:  # NaN too
        if no_limit:
            return float("inf")
        raise UsageError(f"{name} {_quoted(value)} is too long (at most {format_duration(MAX_DURATION)})")
    if zero is not None and seconds == 0:
        raise UsageError(f"{name} {_quoted(value)} must be longer than zero; {zero}")
    return seconds


def _plain_seconds(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _duration_text(value: str) -> str:
    """A duration option's value as the config writes it: a plain number of seconds gets its unit ('90' -> '1m30s')."""
    seconds = _plain_seconds(value)
    if seconds is None:
        return value
    return format_duration(seconds) if seconds == int(seconds) else f"{round(seconds * 1000)}ms"


def _quoted(value: str, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + "…" + text[-4:]


def _too_long(value: str) -> str:
    """The hint for a well-formed duration beyond the century parse_duration allows."""
    try:
        parse_duration(value, maximum=float("inf"))
    except ValueError:
        return ""
    return f" (at most {format_duration(MAX_DURATION)})"


class Progress:
    """A one-line live counter on a terminal; silent otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.counts = {"pages": 0, "new": 0, "errors": 0}
        self.polled: set[str] = set()

    def update(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "page":
            self.counts["pages"] += 1
            if event.get("status") == "new":
                self.counts["new"] += 1
            elif event.get("status") == "error":
                self.counts["errors"] += 1
        elif kind == "source":
            # A source answers once per document it reads (a listing's pages, a sitemap index's
            # sitemaps); a failed or gone one is an error, as the summary table counts it.
            self.polled.add(str(event.get("source")))
            if event.get("status") in ("failed", "gone"):
                self.counts["errors"] += 1
        if self.enabled:
            c = self.counts
            sys.stderr.write(
                f"\rcrawling: {len(self.polled)} {noun(len(self.polled), 'source')} polled, {c['pages']} "
                f"{noun(c['pages'], 'page')}, {c['new']} new, {c['errors']} {noun(c['errors'], 'error')} "
            )
            sys.stderr.flush()

    def done(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 78 + "\r")
            sys.stderr.flush()


def _utc_minute(stamp: str | None) -> str:
    from crawler.store import parse_iso

    when = parse_iso(stamp) if stamp else None
    return f"{when.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if when else "an unknown date"


def _url_row(page: dict[str, Any], event: dict[str, Any] | None) -> tuple[Any, ...]:
    """A --url page's row in crawl's table, named by the URL as given; an already stored page counts as
    matched when it matched a topic when it was stored."""
    status = (event or {}).get("status")
    if page["status"] == "error":
        shown = "no text" if status == "empty" else "failed" if event else "not fetched"
        return (page["url"], shown, 1 if event else 0, 0, 0, 0, 1 if event else 0)
    copy = page["status"] == "already stored" or page["story"] != page["id"]
    return (page["url"], page["status"], 1, int(status == "new"), int(copy), int(bool(page["topics"])), 0)


def _print_crawl_table(summary: Any, selected: Sequence[str] = (), url_rows: Sequence[tuple[Any, ...]] = ()) -> None:
    """One row per source, and one per --url page (named by its URL, not by the host it was counted under)."""
    headers = (
        "source" if selected or not url_rows else "url",
        "status",
        "fetched",
        "new",
        "duplicates",
        "matched",
        "errors",
    )
    sources = [s for s in summary.sources if not url_rows or s.name in selected]
    rows = [(s.name, s.status, s.fetched, s.new, s.duplicates, s.matched, s.errors) for s in sources] + list(url_rows)
    total = [sum(r[i] for r in rows) for i in range(2, 7)]
    rows.append(("total", "", *total))
    _print_table(headers, rows)
    _print_crawl_errors(summary)


def _print_crawl_errors(summary: Any) -> None:
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
            click.echo(
                f"{s.name}: … and {len(s.error_samples) - shown} more {noun(len(s.error_samples) - shown, 'error')}",
                err=True,
            )


@dataclass(frozen=True)
class Cell:
    """A table cell with a shorter form (a time without its year) for a terminal too narrow for the full one."""

    full: str
    short: str

    def __str__(self) -> str:
        return self.full


NARROWEST_CUT = 24  # a first column cut in the middle below this says too little (a URL's host and page)


def _print_table(
    headers: tuple[str, ...], rows: list[tuple[Any, ...]], droppable: Sequence[int] = (), cut_first: bool = True
) -> None:
    """A table of left-aligned text and right-aligned numbers. Into a pipe or a file every line is whole. On a terminal
    too narrow for it: cells' short forms (``Cell``), then the ``droppable`` columns left out in that order (a line
    after the table names them), then the first column's long cells (a --url page's URL) cut in the middle unless
    ``cut_first`` is false (a name to type again); narrower still, each row is a block: its first cell, then each
    column's name and value, wrapped to the width, the columns kept longest first."""
    head = tuple(str(c) for c in headers)
    full = [tuple("" if c is None else str(c) for c in r) for r in rows]
    if not sys.stdout.isatty():
        _echo_table(head, full)
        return
    width = shutil.get_terminal_size().columns
    if _table_width(head, full) <= width:
        _echo_table(head, full)
        return
    short = [tuple(c.short if isinstance(c, Cell) else f for c, f in zip(r, fr)) for r, fr in zip(rows, full)]
    keep = list(range(len(head)))
    for i in [None, *droppable]:
        if i is not None:
            keep.remove(i)
        cut_head, cut = tuple(head[k] for k in keep), [tuple(r[k] for k in keep) for r in short]
        if _table_width(cut_head, cut) <= width:
            break
    first = _table_width(cut_head[:1], [r[:1] for r in cut])
    room = width - (_table_width(cut_head, cut) - first)  # what the other columns leave the first
    if room < first:
        if not cut_first or room < max(NARROWEST_CUT, columns(head[0])):
            order = [0, *(i for i in range(1, len(head)) if i not in droppable), *reversed(droppable)]
            _echo_blocks(tuple(head[i] for i in order), [tuple(r[i] for i in order) for r in short], width)
            return
        cut = [(_middle_cut(r[0], room), *r[1:]) for r in cut]
    _echo_table(cut_head, cut)
    left_out = [h for h in head if h not in cut_head]
    if left_out:
        them = "it" if len(left_out) == 1 else "them"
        echo_wrapped(
            f"({', '.join(left_out)}: left out to fit {width} columns; a wider terminal or a pipe shows {them})"
        )


def _table_width(head: tuple[str, ...], rows: list[tuple[str, ...]]) -> int:
    return sum(max(columns(r[i]) for r in [head, *rows]) for i in range(len(head))) + 2 * (len(head) - 1)


def _echo_table(head: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(columns(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def fmt(r: tuple[str, ...]) -> str:
        pads = [" " * (w - columns(c)) for c, w in zip(r, widths)]
        return "  ".join(p + c if c.isdigit() else c + p for c, p in zip(r, pads)).rstrip()

    click.echo(fmt(head))
    click.echo("  ".join("-" * w for w in widths))
    for r in rows:
        click.echo(fmt(r))


def _echo_blocks(head: tuple[str, ...], rows: list[tuple[str, ...]], width: int) -> None:
    """Rows for a terminal too narrow for a table: the first cell on a line of its own, then "column value" pairs
    joined by " · ", as many to a line as fit under it (one wider than a line is cut in the middle)."""
    room = max(width - 2, 1)
    for r in rows:
        click.echo(_middle_cut(r[0], width))
        line = ""
        for name, value in zip(head[1:], r[1:]):
            if not value:
                continue
            pair = _middle_cut(f"{name} {value}", room)
            if line and columns(line) + 3 + columns(pair) <= room:
                line += " · " + pair
                continue
            if line:
                click.echo("  " + line)
            line = pair
        if line:
            click.echo("  " + line)


def _middle_cut(text: str, width: int) -> str:
    """``text`` in at most ``width`` columns: its start and end kept, "…" between (a URL's host and its page)."""
    if columns(text) <= width:
        return text
    head, tail = [], []
    room = width - 1
    left, right = 0, len(text)
    while room > 0 and left < right:  # alternately, two from the start for one from the end
        take_head = len(head) <= 2 * len(tail) + 1
        ch = text[left] if take_head else text[right - 1]
        cols = columns(ch)
        if cols > room:
            break
        room -= cols
        if take_head:
            head.append(ch)
            left += 1
        else:
            tail.append(ch)
            right -= 1
    return "".join(head) + "…" + "".join(reversed(tail))


# -- search ---------------------------------------------------------------------------------


class _QueryCommand(click.Command):
    """A command whose QUERY may start with '-' (NOT): click reads that as an option, so its error says how to
    pass it."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        given = list(args[: args.index("--")] if "--" in args else args)  # the parser consumes the list
        after = list(args[args.index("--") + 1 :] if "--" in args else [])
        # "-china AND russia" is -c (the config) "hina AND russia" to click: no such file, so it was a query
        for a in given:
            if a.startswith("-c") and len(a) > 2 and not a.startswith("--") and not Path(a[2:]).expanduser().exists():
                raise click.UsageError(
                    _query_as_option(a, f"-c (the config file {a[2:]!r}, which does not exist)"), ctx
                )
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as exc:
            # "-Russia" fails at -R, "-quantum" at -u (after -q, --quiet): the argument that holds the letter
            letter = exc.option_name[1:]
            query = next((a for a in given if a[:1] == "-" and a[1:2] != "-" and letter in a[1:]), None)
            if query is not None and not exc.option_name.startswith("--"):
                exc.message = _query_as_option(query)
            raise
        except click.UsageError as exc:
            # "search -- -sport --limit 1": after '--' everything is an argument, so the options are extra ones
            extra = after[1:]
            if exc.message.startswith("Got unexpected extra") and any(a[:1] == "-" and a != "-" for a in extra):
                import shlex

                exc.message += (
                    "; options go before '--' (all after it is the query): "
                    f"newswatch search {shlex.join(given + extra)} -- {shlex.quote(after[0])}"
                )
            raise


def _query_as_option(query: str, read_as: str = "an option") -> str:
    import shlex

    return (
        f"{query!r} was read as {read_as}; a query that starts with '-' (NOT) goes after '--': "
        f"newswatch search -- {shlex.quote(query)}"
    )


@cli.command(cls=_QueryCommand)
@config_option
@quiet_option
@click.argument("query", required=False)
@click.option(
    "--limit", default=20, show_default=True, type=click.IntRange(1, 100_000), help="At most this many results."
)
@source_option
@published_since_option
@language_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of text.")
@click.option("--topic", metavar="NAME", help="Search with a configured topic's query and min_score.")
@click.option(
    "--near", is_flag=True, help="With --topic: its near misses, scored from its near_score up to its min_score."
)
@click.option(
    "--timeout",
    default="60s",
    show_default=True,
    metavar="DURATION",
    help="Stop after this long (e.g. 30s or 2m, as crawl's; a plain number is seconds).",
)
@click.pass_obj
@handle_errors
def search(
    state: State,
    query: str | None,
    limit: int,
    sources: tuple[str, ...],
    since: str | None,
    languages: tuple[str, ...],
    as_json: bool,
    topic: str | None,
    near: bool,
    timeout: str,
) -> None:
    """Search stored articles with the topic query syntax (AND OR NOT ( ) "phrase" prefix* NEAR/n title:)."""
    from scheduler.cmd_topics import search_with_topic

    seconds = _search_timeout(timeout)
    config = state.config()
    since_dt = _parse_since(since) if since else None
    if sources:
        from crawler.store import Store

        db = config.storage.database
        with Store(db, readonly=True, upgrade=False) if db.exists() else nullcontext() as store:
            _check_sources(config, store, sources)
    results, stats, picked = search_with_topic(
        config,
        query,
        topic,
        limit,
        seconds,
        near,
        sources=sources,
        since=since_dt,
        languages=tuple(lang.lower() for lang in languages),
    )
    if as_json:
        click.echo(json.dumps([r.to_json() for r in results], ensure_ascii=False, indent=2))
        return
    if not results:
        if not state.quiet and not stats.timed_out:
            line = _no_matches(config, since, since_dt, sources, languages)
            if near and picked is not None:  # what was looked for: the scores between the two
                band = f"scores {picked.near_score:g} to below {picked.min_score:g} for {picked.name}"
                line = line.replace("no matches", f"no near misses ({band})", 1)
            click.echo(line)
        elif not state.quiet:  # cut short: the warning has said how far it got
            # no article scored: the limit came in the index's search or inside the first article
            click.echo(
                "no matches in what was searched"
                if stats.scored
                else "no matches: the search stopped before it had scored one article"
            )
        return
    tty = sys.stdout.isatty()
    safe = terminal_safe  # stored text is scraped: its escape sequences must not reach the terminal
    if tty:  # lines as wide as the terminal, each result's lines under its title, not from the first column
        width = shutil.get_terminal_size().columns
        indent = " " * 8

        def bold(text: str, hit: bool) -> str:
            return click.style(text, bold=True)

        def plain(text: str, hit: bool) -> str:
            return text

        def underlined(text: str, hit: bool) -> str:
            return click.style(text, bold=True, underline=True) if hit else text

        for r in results:
            date = (r.published or r.fetched or "")[:10]
            lines = [
                *wrap_segments([(safe(r.title), True)], width, indent, bold, first=f"{r.score:6.2f}  "),
                *wrap_segments(
                    [(f"{safe(r.source)} · {date} · {safe(r.language or '?')} · {safe(r.link)}", False)],
                    width,
                    indent,
                    plain,
                ),
                *wrap_segments([("matched: " + _hits(r.hits), False)], width, indent, plain),
                *wrap_segments([(safe(seg), hit) for seg, hit in r.snippet], width, indent, underlined),
            ]
            click.echo("\n".join(lines) + "\n")
    else:
        for r in results:  # for a pipe or a file: one line each, for grep and scripts
            date = (r.published or r.fetched or "")[:10]
            click.echo(f"{r.score:6.2f}  {safe(r.title)}")
            click.echo(f"        {safe(r.source)} · {date} · {safe(r.language or '?')} · {safe(r.link)}")
            click.echo(f"        matched: {_hits(r.hits)}")
            click.echo("        " + "".join(f"[{safe(seg)}]" if hit else safe(seg) for seg, hit in r.snippet))
            click.echo()
    more = stats.found - len(results)
    if more > 0 and not state.quiet:  # else the limit's results read as all there were
        what = noun(more, "near miss", "near misses") if near else noun(more, "story", "stories")
        if stats.capped or stats.timed_out:  # the index held more candidates than were scored
            line = f"…and at least {more} more {what} matched: raise --limit to see more"
        else:
            line = f"…and {more} more {what} matched: --limit {stats.found} shows them all"
        click.echo(line, err=True)


def _hits(hits: Sequence[str]) -> str:
    """A result's terms that hit; '-' when none did (NOT x, GLUE( ... )), as topics eval writes it."""
    return terminal_safe(", ".join(hits)) if hits else "-"


def _search_timeout(value: str) -> float:
    """search's --timeout: a duration as crawl's takes (30s, 2m), or a plain number of seconds as it always took."""
    seconds = _duration_option("--timeout", value, zero="give at least 0.1s (the default is 60s)", no_limit=True)
    if seconds < 0.1:
        raise UsageError(f"--timeout {_quoted(value)} is too short; give at least 0.1s (the default is 60s)")
    return seconds


def _no_matches(
    config: Config, since: str | None, since_dt: datetime | None, sources: Sequence[str], languages: Sequence[str]
) -> str:
    """ "no matches", and what the search ran on: the articles its filters kept, or why there were none."""
    from crawler.search import search_scope

    if since_dt is not None and since_dt > datetime.now(UTC):
        return f"no matches: --since {_quoted(since)} is in the future"
    languages = [lang.lower() for lang in languages]
    scope = search_scope(config, sources=sources, since=since_dt, languages=languages)
    if scope.stored == 0:
        return f"no matches: no articles are stored yet in {config.storage.database} (newswatch crawl stores them)"
    if not (sources or languages or since_dt):
        return f"no matches among {scope.stored} stored articles"
    used = [o for o, v in (("--source", sources), ("--language", languages), ("--since", since_dt)) if v]
    line = f"no matches among the {scope.kept} of {scope.stored} stored articles that {' and '.join(used)} kept"
    if since_dt is not None and scope.newest is not None and scope.newest < iso(since_dt):
        line += f"; the newest article is from {scope.newest[:10]}"
    absent = _absent_languages(languages, scope.languages)
    return f"{line}; {absent}" if absent else line


def _absent_languages(asked: Sequence[str], stored: Sequence[str]) -> str | None:
    """What search and export say of a --language no stored article is in ('cn' for zh, most often), or None."""
    unknown = [lang for lang in dict.fromkeys(x.lower() for x in asked) if lang not in stored]
    if not unknown:
        return None
    return f"no article is in {', '.join(map(repr, unknown))} (stored: {', '.join(sorted(stored)) or 'none'})"


# Terminal escape sequences (CSI, OSC up to BEL or ST, two-byte ESC forms, 8-bit CSI), then any other
# control, line separator, bidi override or BOM.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]?|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[ -~]?|\x9b[0-?]*[ -/]*[@-~]?")
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")


def _check_sources(config: Config, store: Store | None, names: Sequence[str]) -> None:
    """``--source NAME``s that are neither configured nor in the database are a usage error (a typo, most often)."""
    configured = {s.name for s in config.sources}
    for name in names:
        if name not in configured and not (store is not None and store.knows_source(name)):
            listing = ", ".join(sorted(configured)) or "none configured"
            hint = did_you_mean(name, sorted(configured))
            raise UsageError(
                f"--source {name!r}: no such source in the config or the database; {hint}configured sources: {listing}"
            )


_WIDE = "\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6"
# What a line may break around: a run of spaces, one wide (CJK) character, a run of other characters.
_UNITS = re.compile(rf"\s+|[{_WIDE}]|[^\s{_WIDE}]+")


def wrap_segments(
    segments: Sequence[tuple[str, bool]],
    width: int,
    indent: str,
    style: Callable[[str, bool], str],
    first: str | None = None,
) -> list[str]:
    """``segments`` (text, and whether it is a hit) styled, in lines of at most ``width`` columns after ``indent``
    (the first after ``first``, as wide), broken at spaces and around wide characters (Chinese has no spaces);
    a word longer than a line (a URL) has a line of its own."""
    words: list[tuple[list[tuple[str, bool]], int, bool | None]] = []  # pieces, columns, the space before
    space: bool | None = None  # a space owed before the next word, and its style
    glued = False  # the next unit continues the last word (a hit inside a word: «[Росатом]»)
    for text, flag in segments:
        for unit in _UNITS.findall(text):
            if unit.isspace():
                space, glued = (flag if words else None), False
                continue
            wide = columns(unit) == 2 and len(unit) == 1
            if glued and not wide:
                pieces, cols, before = words[-1]
                words[-1] = ([*pieces, (unit, flag)], cols + columns(unit), before)
            else:
                words.append(([(unit, flag)], columns(unit), space))
            space, glued = None, not wide
    lines: list[str] = []
    line, used, start = "", 0, indent if first is None else first
    room = max(width - columns(indent), 20)
    for pieces, cols, before in words:
        gap = 1 if before is not None and used else 0
        if used and used + gap + cols > room:
            lines.append(start + line)
            line, used, gap, start = "", 0, 0, indent
        line += (style(" ", bool(before)) if gap else "") + "".join(style(t, f) for t, f in pieces)
        used += gap + cols
    lines.append(start + line)
    return lines


def echo_wrapped(text: str, first: str = "", indent: str = "    ") -> None:
    """``first`` then ``text``: on a terminal wrapped to its width, the further lines at ``indent`` (``first`` is no
    wider); into a pipe or a file one whole line, as scripts read it."""
    if sys.stdout.isatty():
        width = shutil.get_terminal_size().columns
        click.echo("\n".join(wrap_segments([(text, False)], width, indent, lambda t, hit: t, first=first)))
    else:
        click.echo(first + text)


def terminal_safe(text: str | None) -> str:
    """Text for a terminal: escape sequences removed, other controls shown as spaces."""
    return _CONTROLS.sub(" ", _ESCAPES.sub("", text or ""))


# -- export ---------------------------------------------------------------------------------


@cli.command()
@config_option
@quiet_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv"]),
    default=None,
    help="jsonl or csv (default: csv for an --output FILE ending in .csv, else jsonl).",
)
@click.option(
    "--since",
    default=None,
    metavar="DATE",
    help="Only articles fetched on or after DATE "
    "(YYYY-MM-DD, an ISO 8601 time, or a duration like 7d meaning that long ago).",
)
@click.option(
    "--until", default=None, metavar="DATE", help="Only articles fetched before DATE (same forms as --since)."
)
@click.option("--matched", is_flag=True, help="Only articles that matched a topic.")
@click.option(
    "--topic",
    "topics",
    multiple=True,
    metavar="NAME",
    callback=config_names,
    help="Only articles matching this topic (repeatable).",
)
@source_option
@language_option
@click.option(
    "--output",
    "-o",
    "output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to FILE (atomically: a temp file renamed at the end) instead of stdout.",
)
@click.option(
    "--bom",
    is_flag=True,
    help="Start with a UTF-8 byte-order mark, so spreadsheet programs read Cyrillic and Chinese CSV correctly.",
)
@click.option(
    "--separator",
    type=click.Choice([",", ";", "tab"]),
    default=",",
    show_default=True,
    help="CSV's separator: ';' for a spreadsheet set to a language that writes decimals with a comma "
    "(Russian, German), which opens a comma CSV in one column.",
)
@click.pass_obj
@handle_errors
def export(
    state: State,
    fmt: str | None,
    since: str | None,
    until: str | None,
    matched: bool,
    topics: tuple[str, ...],
    sources: tuple[str, ...],
    languages: tuple[str, ...],
    output: Path | None,
    bom: bool,
    separator: str,
) -> None:
    """Write stored articles to stdout (or --output FILE), one record per article."""
    from crawler.store import Store

    config = state.config()
    if fmt is None:  # "-o last-month.csv" is a CSV file, as digest --output goes by FILE's suffix
        fmt = "csv" if output is not None and output.suffix.lower() == ".csv" else "jsonl"
    since_dt = _parse_since(since) if since else None
    until_dt = _parse_since(until, "--until") if until else None
    if since_dt is not None and until_dt is not None and until_dt <= since_dt:
        raise UsageError(
            f"--until {_quoted(until or '')} is not after --since {_quoted(since or '')}: no article was fetched "
            "between them; --since is where the export starts, --until where it ends"
        )
    if separator != "," and fmt != "csv":
        raise UsageError(f"--separator {_quoted(separator)} is for --format csv; jsonl has no separator")
    if since_dt is not None and since_dt > datetime.now(UTC):
        click.echo(f"warning: --since {_quoted(since or '')} is in the future: no article was fetched since", err=True)
    known_topics = {t.name for t in config.topics}
    for t in topics:
        if t not in known_topics:
            listing = ", ".join(sorted(known_topics)) or "none"
            raise UsageError(
                f"unknown topic {t!r}; {did_you_mean(t, sorted(known_topics))}configured topics: {listing}"
            )
    if output is not None:
        check_output_folder("--output", output)
    db = config.storage.database
    store = Store(db, readonly=True) if db.exists() else None
    try:
        _check_sources(config, store, sources)
        rows = (
            store.iter_export(
                since_dt,
                matched,
                until=until_dt,
                topics=topics,
                sources=sources,
                languages=[lang.lower() for lang in languages],
            )
            if store
            else ()
        )
        records = (export_record(row) for row in rows)
        if output is None:
            out = sys.stdout
            n = _write_export(out, fmt, records, bom, separator)
            out.flush()
        else:
            with replacing(output) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
                n = _write_export(f, fmt, records, bom, separator)
            if not state.quiet:
                click.echo(f"wrote {n} {noun(n, 'article')} to {output}", err=True)
        absent = _absent_languages(languages, store.languages()) if n == 0 and languages and store else None
        if absent:  # nothing written: a code no article has is a typo, most often
            click.echo(f"warning: --language: {absent}", err=True)
    finally:
        if store:
            store.close()


def _write_export(out: Any, fmt: str, records: Iterator[dict[str, Any]], bom: bool, separator: str = ",") -> int:
    if bom:
        out.write("\ufeff")
    n = 0
    if fmt == "jsonl":
        for rec in records:
            out.write(dumps_line(rec) + "\n")
            n += 1
    else:
        delimiter = "\t" if separator == "tab" else separator
        writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\n", delimiter=delimiter)
        writer.writeheader()
        for rec in records:
            writer.writerow({k: _cell(v) for k, v in {**rec, "topics": ";".join(rec["topics"])}.items()})
            n += 1
    return n


# A cell a spreadsheet would run as a formula (scraped text is anyone's: =HYPERLINK(...), =cmd|...): these starts,
# also in full width, which some spreadsheets read as their ASCII forms
_FORMULA_STARTS = tuple("=+-@\t\r＝＋－＠")


def _cell(value: Any) -> Any:
    """A CSV cell as a spreadsheet shows it: text that would start a formula gets a leading ' (OWASP's advice)."""
    return "'" + value if isinstance(value, str) and value.startswith(_FORMULA_STARTS) else value


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


def _parse_since(value: str, option: str = "--since") -> datetime:
    try:
        return datetime.now(UTC) - timedelta(seconds=parse_duration(value))
    except ValueError:
        pass
    try:
        return parse_user_date(value)
    except ValueError:
        raise UsageError(
            f"{option} {_quoted(value)} is not a date; use YYYY-MM-DD, an ISO 8601 time or a duration like 7d"
            + _too_long(value)
        ) from None
    except OverflowError:
        raise UsageError(f"{option} {_quoted(value)} is out of range; use a date from year 2 to 9998") from None


# -- sources --------------------------------------------------------------------------------


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def _short_time(value: str | None) -> str:
    if not value:
        return ""
    return value.replace("T", " ")[:16] + "Z" if value.endswith("+00:00") else value[:16]


def _time_cell(value: str | None, now: datetime) -> Cell:
    """A stored time for a table: in full, and for a narrow terminal without its year when it is within half a year
    of ``now`` (11-30 08:50Z), else its date alone (2018-01-05), as `ls -l` shows times."""
    from crawler.store import parse_iso

    when = parse_iso(value) if value else None
    if when is None:
        return Cell(_short_time(value), _short_time(value))
    when = when.astimezone(UTC)
    short = f"{when:%m-%d %H:%M}Z" if abs(when - now) < timedelta(days=183) else f"{when:%Y-%m-%d}"
    return Cell(_short_time(value), short)


# -- digest ---------------------------------------------------------------------------------


@cli.command()
@config_option
@quiet_option
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
    from crawler.matching import changed_topics, rematch_due
    from scheduler import ledger

    db = config.storage.database
    readonly = bool(dry_run or output or to) and db.exists()
    if readonly:
        # nothing is marked sent: the database is only read (a read-only file or user is fine); an edited topic, an
        # article whose text an upgrade changed or a missing ledger table is still brought up to date when it can be
        with Store(db, readonly=True) as store:
            stale = any(changed_topics(config, store))
            cleaned = rematch_due(store)
            unprepared = bool(ledger.migrations.pending(store.db))
        if (stale or cleaned or unprepared) and _writable(db):
            with Store(db) as store:
                sync_topics(config, store)
                ledger.prepare(store)
        else:  # each that holds: an edited topic and cleaned text may both wait
            if stale:
                click.echo(
                    f"warning: the topics changed but {db} is read-only; matches are from the last crawl", err=True
                )
            if cleaned:
                click.echo(
                    f"warning: an upgrade changed the stored text of {count(cleaned, 'article')} but {db} is"
                    " read-only here; their matches are those of their old text until a crawl or a digest by a user"
                    " who may write it matches them again",
                    err=True,
                )
    else:
        with Store(db) as store:
            sync_topics(config, store)  # an edited query re-matches recent articles first
    with Store(db, readonly=readonly) as store:
        outcome = run_digest(config, store, dry_run=dry_run, output=output, to=to, recipient=recipient)
    for r in outcome.results:
        if state.quiet and r.status != "failed" and not dry_run:
            continue  # the mail or file is the product; a dry run's listing is
        stories = f"{r.stories} {noun(r.stories, 'story', 'stories')}"
        if r.near:  # a digest's near misses after its matches (their own held ones said apart)
            stories += f" and {count(r.near, 'near miss', 'near misses')}"
        # a preview mailed elsewhere says whose digest it shows, not the address it went to twice
        whose = (
            f"{r.of}'s digest ({stories})" if r.of else f"a digest of all topics ({stories}; no recipient configured)"
        )
        line = {
            "sent": f"{r.email}: sent {stories}",
            "empty": f"{r.email}: nothing new to send",
            "dry-run": (
                f"preview of {whose} would be sent to {to} (dry run)"
                if to
                else f"{r.email}: would send {stories} (dry run)"
            ),
            "preview": f"preview of {whose} sent to {to}" if to else f"{r.email}: digest of {stories} written",
            "failed": f"{r.email}: not sent: {r.error}",
        }.get(r.status, f"{r.email}: {r.status}")
        previewed = r.status == "preview" or (r.status == "dry-run" and to)  # a dry run's --to would mail it anyway
        if previewed and not (r.stories or r.near) and not config.digest.send_empty:  # type: ignore[union-attr]
            # a preview is sent or written even so (it tries the mail set-up); the scheduled digest would not be
            line += "; nothing is due: with send_empty = false the scheduled digest sends nothing now"
        held = [f"{r.held} more {noun(r.held, 'stays', 'stay')} due"] if r.held else []
        if r.near_held and r.status != "failed":
            held.append(f"{r.near_held} more near {noun(r.near_held, 'miss stays', 'misses stay')} due")
        if held:
            line += f" ({'; '.join(held)})"
        click.echo(line, err=r.status == "failed")
        if r.subject is not None:  # on a terminal wrapped to its width under the headline, into a pipe whole
            echo_wrapped(f"subject: {r.subject}", "  ")
        for story in r.lines:
            echo_wrapped(story, "  - ")
    if outcome.output and not state.quiet:
        click.echo(f"wrote {outcome.output}")
    if outcome.failed:
        sys.exit(1)


# -- run ------------------------------------------------------------------------------------


@cli.command()
@config_option
@quiet_option
@click.pass_obj
@handle_errors
def run(state: State) -> None:
    """The daemon: schedule every source and digest until SIGTERM/SIGINT."""
    from scheduler.daemon import run_daemon

    path = find_config(state.config_path)
    sys.exit(run_daemon(path, debug=state.debug, quiet=state.quiet))


# -- prune / backup / init --------------------------------------------------------------------

# Under a week, --older-than is most likely a slip ("0s", or "6m" meant as months): it would empty the
# archive, and the copies of a story that arrive late would no longer join it (a new story, sent again).
PRUNE_FLOOR = 7 * 86400


@cli.command()
@config_option
@quiet_option
@click.option("--older-than", "older_than", required=True, metavar="DURATION", help="e.g. 180d")
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@click.option("--force", is_flag=True, help=f"Prune also with a DURATION under {format_duration(PRUNE_FLOOR)}.")
@click.pass_obj
@handle_errors
def prune(state: State, older_than: str, dry_run: bool, force: bool) -> None:
    """Delete articles older than DURATION (never unsent matched stories) and vacuum."""
    from crawler.matching import rematch_cleaned, rematch_due
    from crawler.store import Store, utcnow
    from scheduler import ledger

    config = state.config()
    seconds = _duration_option("--older-than", older_than)
    cutoff = utcnow() - timedelta(seconds=seconds)
    # the cutoff as a time: "6m" is six minutes, not months, and the date shows it
    which = f"fetched before {cutoff:%Y-%m-%d %H:%M} UTC (older than {format_duration(seconds)})"
    too_recent = seconds < PRUNE_FLOOR and not force
    if dry_run:
        ids: list[int] = []
        db = config.storage.database
        if db.exists():  # a dry run writes nothing: it counts on the matches stored
            with Store(db, readonly=True) as store:
                cleaned = rematch_due(store)
                ids = ledger.prunable_articles(store, cutoff)
            if cleaned:
                click.echo(
                    f"warning: an upgrade changed the stored text of {count(cleaned, 'article')}; this count is on"
                    " their matches from the text before it (prune matches them again first, so it may keep or"
                    " delete others)",
                    err=True,
                )
        needs = f"; under {format_duration(PRUNE_FLOOR)} the real run needs --force" if too_recent else ""
        click.echo(f"would delete {len(ids)} {noun(len(ids), 'article')} {which} (dry run; nothing deleted{needs})")
        return
    if too_recent:
        minutes = " ('m' is minutes: six months is 180d)" if re.fullmatch(r"\s*\d+\s*m\s*", older_than) else ""
        raise UsageError(
            f"--older-than {_quoted(older_than)} keeps only the last {format_duration(seconds)} of the archive "
            f"(it deletes every article fetched before {cutoff:%Y-%m-%d %H:%M} UTC but unsent matched stories); "
            f"prune refuses durations under {format_duration(PRUNE_FLOOR)}{minutes}: to do it on purpose add --force "
            "(--dry-run counts what it would delete)"
        )
    with Store(config.storage.database) as store:
        # a match keeps an unsent story: the articles an upgrade changed the text of are matched again first
        rematch_cleaned(config, store)
        n = ledger.prune_articles(store, cutoff)
        store.conn.execute("VACUUM")
    if not state.quiet:
        click.echo(f"deleted {n} {noun(n, 'article')} {which}")


@cli.command()
@config_option
@quiet_option
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@click.pass_obj
@handle_errors
def backup(state: State, file: Path, force: bool) -> None:
    """Write a consistent copy of the database to FILE, even while the daemon runs."""
    import sqlite3

    from crawler.store import Store

    config = state.config()
    if not config.storage.database.exists():
        raise UsageError(f"no database at {config.storage.database} yet; run 'newswatch crawl' first")
    own = _database_file(config.storage.database, file)
    if own:  # also with --force: writing over its log or lock would lose what the daemon has written
        raise UsageError(f"{file} is {own}; choose another FILE")
    if file.exists() and not force:
        raise UsageError(
            f"{file} already exists; newswatch will not overwrite it (add --force, or choose another FILE)"
        )
    if not file.parent.is_dir():
        raise UsageError(f"cannot write {file}: the folder {file.parent} does not exist; create it first")
    if not os.access(file.parent, os.W_OK) or (file.exists() and not os.access(file, os.W_OK)):
        raise NewswatchError(
            f"cannot write {file}: permission denied; this user needs write permission on {file.parent}"
        )
    # copied as it is, also one a newer newswatch upgraded (a copy to keep before going back to an older one)
    with Store(config.storage.database, readonly=True, upgrade=False, newer=True) as src:
        missing = _missing_tables(src.conn)
        if missing:
            raise NewswatchError(
                f"{config.storage.database} is not a newswatch database (it has no {', '.join(missing)} table); "
                "check [storage] database"
            )
        try:
            with replacing(file) as tmp:
                dst = sqlite3.connect(str(tmp))
                try:
                    src.conn.backup(dst)
                    problem = _copy_problem(dst)
                finally:
                    dst.close()
                if problem:  # raised inside: the temporary copy is removed, FILE left as it was
                    raise NewswatchError(f"the backup did not verify ({problem}); {file} was not written")
        except sqlite3.Error as exc:
            raise NewswatchError(f"cannot write the backup {file}: {exc}; check free space and the folder") from None
    if not state.quiet:
        click.echo(f"wrote {file}")


BACKUP_TABLES = ("articles", "sources", "stories")


def _database_file(database: Path, file: Path) -> str | None:
    """What ``file`` is when it is the database or one of the files SQLite and the daemon keep beside it."""
    target = file.resolve()
    for suffix, what in (
        ("", "the database itself"),
        ("-wal", "the database's write-ahead log"),
        ("-shm", "the database's shared-memory index"),
        ("-journal", "the database's rollback journal"),
        (".lock", "the daemon's lock on the database"),
    ):
        if target == Path(f"{database}{suffix}").resolve():
            return what
    return None


def _missing_tables(conn: Any) -> list[str]:
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return [t for t in BACKUP_TABLES if t not in names]


def _copy_problem(conn: Any) -> str | None:
    """Why a freshly written backup is not a sound newswatch database, or None."""
    import sqlite3

    try:
        result = [r[0] for r in conn.execute("PRAGMA quick_check").fetchall()]
        missing = _missing_tables(conn)
    except sqlite3.Error as exc:
        return str(exc)
    if result != ["ok"]:
        return "; ".join(result[:3])
    return f"no {', '.join(missing)} table" if missing else None


# the shipped config's database line (in [storage], its first table), which `init --database` rewrites
_DATABASE_LINE = re.compile(r"""^database\s*=\s*(?:"(?:[^"\\\n]|\\.)*"|'[^'\n]*')""", re.MULTILINE)


def _with_database(text: str, database: str) -> str:
    """The config ``text`` with its [storage] database set to ``database``, whatever the line held."""
    line = f"database = {_toml_string(database)}"
    storage = re.search(r"^\[storage\][ \t]*(?:#.*)?$", text, re.MULTILINE)
    if storage is None:
        return f"[storage]\n{line}\n\n{text}"
    found = _DATABASE_LINE.search(text, storage.end())
    following = re.search(r"^\[", text[storage.end() :], re.MULTILINE)
    end = storage.end() + following.start() if following else len(text)
    if found is not None and found.start() < end:
        return text[: found.start()] + line + text[found.end() :]
    return text[: storage.end()] + "\n" + line + text[storage.end() :]


def _toml_string(value: str) -> str:
    """``value`` as a TOML basic string."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c >= " " and c != "\x7f" else f"\\u{ord(c):04x}" for c in escaped) + '"'


@cli.command()
@quiet_option
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--database",
    metavar="FILE",
    default=None,
    help="The database file the config names (default: newswatch.db beside the config; a relative path is "
    "relative to the config; under the systemd unit: /var/lib/newswatch/newswatch.db).",
)
@click.pass_obj
@handle_errors
def init(state: State, path: Path | None, database: str | None) -> None:
    """Write the default config (real sources, default topic) to PATH or your config path."""
    from scheduler.data import data_path

    if path is None:
        path = user_config_path()
        if path is None:
            raise UsageError("this user has no home folder for a config; name one: newswatch init PATH")
    if os.path.lexists(path):  # a folder closed to this user says False: writing there is refused below
        raise UsageError(f"{path} already exists; newswatch will not overwrite it (choose another PATH)")
    text = data_path("config", "newswatch.toml").read_text(encoding="utf-8")
    if database is not None:
        if database.strip() == "" or database.endswith("/"):
            raise UsageError(
                f"--database {database!r} names no file; give the database file's path (/var/lib/newswatch/newswatch.db)"
            )
        text = _with_database(text, database)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text.encode("utf-8"))
    except PermissionError:
        from crawler.paths import unwritable_folder

        raise UsageError(
            f"cannot write {path}: {unwritable_folder(path)}; run newswatch init as a user who may (sudo, for "
            "/etc/newswatch), or name a PATH in a folder of yours: newswatch init PATH"
        ) from None
    if not state.quiet:
        # where the database will be, as the config just written reads it (a relative path is the config's folder's)
        import tomllib

        from crawler.config import parse_config

        read = parse_config(tomllib.loads(text), path.resolve().parent, check_queries=False, models=False)
        db = read.storage.database
        click.echo(
            f"wrote {path} (its database: {db}); edit [[digest.recipients]] and [smtp], then run "
            f"'newswatch check -c {path}'"
        )


# -- demo -----------------------------------------------------------------------------------


@cli.command()
@config_option
@quiet_option
@click.option(
    "--serve",
    is_flag=True,
    help="Only serve the sample site (until Ctrl-C) with a config in --output-dir for trying commands by hand.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="The sample site's port on 127.0.0.1 (--serve: default 8765; the demo run: any free port).",
)
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write the demo's config, database and digest "
    "(default: a new temporary directory; with --serve: ~/.cache/newswatch/demo).",
)
@click.pass_obj
@handle_errors
def demo(state: State, serve: bool, port: int | None, output_dir: Path | None) -> None:
    """The whole flow offline: serve the bundled sample site, crawl it, write the digest."""
    from scheduler.demo import DEFAULT_PORT, run_demo, serve_forever

    if serve:
        serve_forever(click.echo, DEFAULT_PORT if port is None else port, output_dir, quiet=state.quiet)
        return
    run_demo(output_dir, click.echo, port or 0, quiet=state.quiet)


from scheduler import cmd_topics  # noqa: E402  (built with the shared helpers above)

cli.add_command(
    cmd_topics.build(
        config_option, handle_errors, quiet_option, (published_since_option, source_option, language_option)
    )
)


# -h is datasette's --host, as its users type it (datasette serve -h 0.0.0.0); --help alone is help here
@cli.command(context_settings={"ignore_unknown_options": True, "help_option_names": ["--help"]})
@config_option
@quiet_option
@click.option(
    "--metadata",
    "metadata_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Only write datasette's metadata (tables, columns, search, hidden internals) to FILE.",
)
@click.option("--port", type=click.IntRange(0, 65535), default=8001, show_default=True, help="datasette's port.")
@click.option(
    "-h",
    "--host",
    default="127.0.0.1",
    show_default=True,
    is_flag=False,
    flag_value="",  # -h alone, typed for help: said below, not click's "requires an argument"
    help="datasette's address, as its -h (keep it local).",
)
@click.argument("datasette_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
@handle_errors
def datasette(state: State, metadata_file: Path | None, port: int, host: str, datasette_args: tuple[str, ...]) -> None:
    """Browse the archive in datasette (read-only), with tables described and full-text search on articles."""
    import shutil
    import signal
    import subprocess
    import tempfile

    from crawler.procs import ends_with_this_process
    from crawler.store import Store
    from scheduler.archive import datasette_metadata

    if not host:
        raise UsageError(
            "-h/--host needs an address: here -h is datasette's host, as in 'datasette serve -h 0.0.0.0' "
            "(default 127.0.0.1); this command's help is --help"
        )
    config = state.config()
    db = config.storage.database
    meta = json.dumps(datasette_metadata(db), ensure_ascii=False, indent=2)
    if metadata_file is not None:
        write_atomic(metadata_file, meta + "\n")
        if not state.quiet:
            click.echo(f"wrote {metadata_file}; use it with: datasette {db} --metadata {metadata_file}")
        return
    if not db.exists():
        raise UsageError(f"no database at {db} yet; run 'newswatch crawl' first")
    Store(db, readonly=True).close()  # a database an older newswatch made is upgraded first (or says how)
    listens = _datasette_listens(datasette_args, host, port)
    if listens is not None:
        _check_listen(*listens)
    exe = shutil.which("datasette", path=str(Path(sys.executable).parent)) or shutil.which("datasette")
    if exe is None:
        import shlex

        raise UsageError(
            f"datasette is not installed; install it beside newswatch ({shlex.quote(sys.executable)} -m pip install "
            "datasette) or with pipx, or write the metadata with --metadata FILE"
        )
    with tempfile.TemporaryDirectory(prefix="newswatch-datasette-") as tmpdir:
        meta_path = Path(tmpdir) / "metadata.json"
        meta_path.write_text(meta, encoding="utf-8")
        cmd = [exe, "serve", str(db), "--metadata", str(meta_path), "--host", host, "--port", str(port)]
        # datasette ends with this process however it ends: a SIGKILL (an interrupted script, the OOM killer) left
        # it serving with init as its parent, holding the port and reading the database, with nobody to stop it
        proc = subprocess.Popen([*cmd, *datasette_args], preexec_fn=ends_with_this_process())
        # a service manager or `kill` stops this process: datasette must stop with it, not stay behind
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, lambda sig, _frame: proc.send_signal(sig))
        try:
            code = proc.wait()
        except KeyboardInterrupt:  # Ctrl-C reached datasette too (same process group): let it finish
            code = proc.wait()
        sys.exit(128 - code if code < 0 else code)  # killed by a signal: the shell's 128 + its number


# datasette serve's options that take values (0.65 and 1.x), each with how many; the others are flags
_DATASETTE_VALUES = {
    **dict.fromkeys(("-i", "--immutable", "-h", "--host", "-p", "--port", "--uds", "--load-extension"), 1),
    **dict.fromkeys(("--inspect-file", "-m", "--metadata", "--template-dir", "--plugins-dir", "--static"), 1),
    **dict.fromkeys(("-c", "--config", "--secret", "--get", "--token", "--actor", "--version-note"), 1),
    **dict.fromkeys(("--ssl-keyfile", "--ssl-certfile"), 1),
    **dict.fromkeys(("-s", "--setting"), 2),
}
_LISTEN = {"-h": "host", "--host": "host", "-p": "port", "--port": "port"}


def _datasette_listens(args: Sequence[str], host: str, port: int) -> tuple[str, int] | None:
    """Where datasette will listen once ``args``, its own options, follow newswatch's --host and --port: the last
    --host/-h and --port/-p win, as in datasette, written apart (-p 8002), joined (-p8002, --port=8002) or after
    flags (-op8002). None with --uds (a socket file) or a port that is no port (datasette says so itself)."""
    where = {"host": host, "port": str(port)}
    i = 0
    while i < len(args):
        arg, i = args[i], i + 1
        if arg == "--":  # datasette's files follow
            break
        if not arg.startswith("-") or arg == "-":
            continue
        if arg.startswith("--"):
            name, joined, value = arg.partition("=")
            if name == "--uds":
                return None
            if not joined and name in _DATASETTE_VALUES:
                value, i = (args[i] if i < len(args) else ""), i + _DATASETTE_VALUES[name]
        else:  # short options together: flags, then perhaps one that takes the rest of the word or the next
            for at, letter in enumerate(arg[1:], start=2):
                name = f"-{letter}"
                if name in _DATASETTE_VALUES:
                    value = arg[at:]
                    if not value:
                        value, i = (args[i] if i < len(args) else ""), i + _DATASETTE_VALUES[name]
                    break
            else:
                continue
        if name in _LISTEN:
            where[_LISTEN[name]] = value
    try:
        number = int(where["port"])
    except ValueError:
        return None
    return (where["host"], number) if 0 <= number <= 65535 else None


def _check_listen(host: str, port: int) -> None:
    """A usage error, in one line, when datasette could not listen on host:port: the port is taken at one of the
    addresses ``host`` names (datasette listens at each: ``localhost`` may be ::1 and 127.0.0.1), or it names none
    this machine has."""
    import contextlib
    import errno
    import socket

    if port == 0:
        return
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host} port {port}: {exc.strerror or exc}; check --host") from None
    bound = 0
    with contextlib.ExitStack() as held:  # each address held until all are tried, as the server binds them
        for family, kind, proto, _name, addr in dict.fromkeys(found):
            try:
                s = held.enter_context(socket.socket(family, kind, proto))
            except OSError:  # an address family this machine lacks: the server passes it over too
                continue
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as datasette's server does
            if family == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # ::1 is not 127.0.0.1
            try:
                s.bind(addr)
            except OSError as exc:
                if exc.errno == errno.EADDRNOTAVAIL:  # not on this machine: passed over too
                    continue
                at = f" ({addr[0]})" if addr[0] != host else ""
                if exc.errno == errno.EADDRINUSE:
                    raise UsageError(
                        f"port {port} on {host}{at} is already in use (another datasette?); choose another with --port"
                    ) from None
                raise UsageError(
                    f"cannot listen on {host}{at} port {port}: {exc.strerror or exc}; check --host"
                ) from None
            bound += 1
    if not bound:
        raise UsageError(f"cannot listen on {host} port {port}: this machine has no such address; check --host")


# Command modules use this module's helpers; under `python -m scheduler.cli` this module is
# __main__, so it is made importable under its own name first (one module, not two copies).
sys.modules.setdefault("scheduler.cli", sys.modules[__name__])
from scheduler import cmd_sources  # noqa: E402

cmd_sources.register(cli)


def main() -> None:
    hold_signals()  # already held when started as the console script (scheduler.launch)
    cli(prog_name="newswatch")


def iter_commands() -> Iterator[tuple[str, click.Command]]:
    """Every command, for the docs-sync test."""
    yield from sorted(cli.commands.items())


if __name__ == "__main__":
    main()
