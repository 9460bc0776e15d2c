"""`newswatch sources`: each source's health, and managing the source list without hand-editing.

`sources` alone lists health (`--json`, `--reset NAME`); `add`, `remove`, `import` and `export`
edit or write the config through ``scheduler.sourcelist`` (comments and layout kept).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from crawler.config import find_config, format_duration
from crawler.errors import UsageError
from crawler.wording import noun
from scheduler.cli import (
    State,
    _duration_option,
    _duration_text,
    _print_table,
    _short_time,
    _time_cell,
    config_names,
    config_option,
    echo_wrapped,
    handle_errors,
    quiet_option,
    terminal_safe,
)


@click.group(invoke_without_command=True)
@config_option
@quiet_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option(
    "--reset",
    "reset",
    metavar="NAME",
    default=None,
    callback=config_names,
    help="Re-enable a deactivated source (after a 410) and clear its backoff.",
)
@click.pass_context
@handle_errors
def sources(ctx: click.Context, as_json: bool, reset: str | None) -> None:
    """Each source's health (ok, failing, stale, inactive); subcommands add, remove, import, export."""
    if ctx.invoked_subcommand is not None:
        return
    from crawler.child import select_sources
    from crawler.health import source_health
    from crawler.store import RESET_LOOK, Store, utcnow

    state: State = ctx.ensure_object(State)
    config = state.config()
    if reset:
        select_sources(config, [reset])
        with Store(config.storage.database) as store:
            before = store.reset_source(reset)
            store.forget_resets({s.name for s in config.sources})
        if not state.quiet:
            if not before["active"]:
                done = "re-enabled"
            elif before["failures"] or before["retry_after"]:
                done = (
                    f"backoff cleared after {before['failures']} failure(s)"
                    if before["failures"]
                    else "Retry-After cleared"
                )
            else:
                click.echo(f"{reset}: was neither inactive nor backing off; nothing to reset")
                return
            click.echo(
                f"{reset}: {done}; the next crawl polls it, and a running daemon takes it up within "
                f"{RESET_LOOK:g} s (polled then if its interval has passed since its last poll)"
            )
        return
    now = utcnow()
    if config.storage.database.exists():  # a listing never creates or migrates the database
        with Store(config.storage.database, readonly=True) as store:
            health = source_health(config, store, now)
    else:
        health = source_health(config, None, now)
    if as_json:
        click.echo(json.dumps([h.to_json() for h in health], ensure_ascii=False, indent=2))
        return
    headers = (
        "source",
        "kind",
        "state",
        "last success",
        "newest entry",
        "per day",
        "failures",
        "next poll",
        "articles",
    )
    rows = [
        (
            h.name,
            h.kind,
            h.state if h.state in ("ok", "new") else h.state.upper(),
            _time_cell(h.last_success, now),
            _time_cell(h.newest_entry, now),
            "" if h.entries_per_day is None else f"{h.entries_per_day:g}",
            h.failures,
            (_time_cell(h.next_poll, now) if h.next_poll else "soon") if h.active else "never (--reset)",
            h.articles,
        )
        for h in health
    ]
    # a narrow terminal keeps what says whether each source works (name, state, last success, next poll) and
    # leaves out first what the config says (kind), then how much it brings
    _print_table(headers, rows, droppable=(1, 5, 4, 8, 6), cut_first=False)  # a name is typed again: never cut
    for h in health:  # on a terminal each wrapped to its width, under its first line's start
        if h.last_error and h.error_before_change:
            echo_wrapped(
                f"{h.name}: last error before its url, kind or spider changed "
                f"{_short_time(h.last_error_at)}: {terminal_safe(h.last_error)}"
            )
        elif h.last_error and (h.failures or not h.active):
            echo_wrapped(f"{h.name}: last error {_short_time(h.last_error_at)}: {terminal_safe(h.last_error)}")
        if h.stale_reason:
            limit = f"stale_after {format_duration(h.stale_after)}" if h.stale_after else "by its cadence, at most 7d"
            echo_wrapped(f"{h.name}: stale: {h.stale_reason} ({limit})")
        if h.crawl_delay:
            echo_wrapped(
                f"{h.name}: robots.txt asks for Crawl-delay {h.crawl_delay:g}s on its host; newswatch waits that long"
            )


def register(cli: click.Group) -> None:
    """Replaces the plain `sources` command with this group (called from scheduler/cli.py)."""
    cli.add_command(sources, "sources")
    cli.add_command(probe, "probe")


# -- probe ------------------------------------------------------------------------------------


@click.command()
@config_option
@quiet_option
@click.argument("url")
@click.option("--follow", metavar="REGEX", default=None, help="Treat URL as a listing; show which links REGEX takes.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
@handle_errors
def probe(state: State, url: str, follow: str | None, as_json: bool) -> None:
    """One polite fetch of URL and a report: what it is, its entries and dates, robots.txt, one article."""
    from crawler.probe import probe_in_child

    report = probe_in_child(_optional_config(state), url, follow)
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
        return
    for line in format_report(report):
        click.echo(line)


def _optional_config(state: State) -> Path | None:
    """The config in effect if there is one; probe works without (default [crawl] settings)."""
    try:
        return find_config(state.config_path)
    except UsageError:
        if state.config_path:
            raise
        return None


_KINDS = {
    "feed": "an RSS/Atom feed",
    "sitemap": "a sitemap",
    "sitemap-index": "a sitemap index",
    "listing": "a listing page (links to articles)",
    "article": "an article page",
    "homepage": "a homepage that advertises feeds",
}


def format_report(r: Any) -> list[str]:
    """The probe report as short lines for a terminal."""
    from crawler.probe import before_window

    out = [f"url:      {r.url}"]
    if r.final_url and r.final_url != r.url:
        out.append(f"          -> {r.final_url}")
    out.append(f"answer:   HTTP {r.status}, {r.content_type or 'no Content-Type'}")
    out.append(f"is:       {_KINDS.get(r.kind, r.kind)}" + (f" — {r.title!r}" if r.title else ""))
    if r.charset:
        out.append(f"charset:  {r.charset} (from {_CHARSET_FROM.get(r.charset_from, r.charset_from)})")
    delay = f"Crawl-delay {r.crawl_delay:g}s" if r.crawl_delay else "no Crawl-delay"
    out.append(f"robots:   {'allowed' if r.robots_allowed else 'REFUSED'} for newswatch by {r.robots_url}; {delay}")
    if r.kind in ("feed", "sitemap"):
        line = f"entries:  {r.entries_total}"
        if r.newest:
            line += f", newest {r.newest} ({r.newest_age} old)"
        if r.cadence:
            line += f", {r.cadence}"
        out.append(line)
        for e in r.entries:
            out.append(f"  {(e.date or '(no date)')[:16]:16}  {e.title[:70] or e.url}")
        if r.entries_total > len(r.entries):
            out.append(f"  … and {r.entries_total - len(r.entries)} more")
    if r.kind == "sitemap-index":
        out.append(f"children: {len(r.child_sitemaps)} {noun(len(r.child_sitemaps), 'sitemap')}")
        out += [f"  {u}" for u in r.child_sitemaps[:10]]
    if r.feeds:
        out.append(f'feeds:    {len(r.feeds)} advertised (<link rel="alternate">)')
        out += [f"  {f['url']}  ({f['type']}{', ' + repr(f['title']) if f['title'] else ''})" for f in r.feeds]
    if r.follow is not None or r.suggested_follow:
        pattern = r.follow if r.follow is not None else r.suggested_follow
        what = "follow" if r.follow is not None else "suggested follow"
        out.append(f"{what}: '{pattern}' takes {r.taken_total} {noun(r.taken_total, 'link')}, leaves {r.left_total}")
        out += [f"  take   {u}" for u in r.taken]
        if r.taken_total > len(r.taken):
            out.append(f"  … and {r.taken_total - len(r.taken)} more taken")
        out += [f"  leave  {u}" for u in r.left]
        if r.left_total > len(r.left):
            out.append(f"  … and {r.left_total - len(r.left)} more left")
    if r.article:
        a = r.article
        out.append(f"article:  {a.url}")
        if a.error:
            out.append(f"  not extracted: {a.error}")
        else:
            out.append(f"  title:    {a.title}")
            out.append(f"  date:     {a.date or 'none found'}; language: {a.language or 'unknown'}")
            out += [f"  | {ln}" for ln in a.first_lines]
    for w in r.warnings:
        out.append(f"warning:  {w}")
    if r.source_block:
        out.append("")
        out.append("paste into newswatch.toml (or run 'newswatch sources add NAME URL'):")
        out += r.source_block.rstrip("\n").splitlines()
        if (before := before_window(r)) is not None:  # the window the block writes takes none of its entries
            out.append(f"warning:  {before}")
    return out


_CHARSET_FROM = {
    "bom": "a byte-order mark",
    "http": "the HTTP Content-Type",
    "meta": "the page's <meta>",
    "xml": "the XML declaration",
    "detected": "detection: nothing declared it, or the declaration was wrong",
}


# -- sources add / remove / import / export -------------------------------------------------------


@sources.command("add")
@config_option
@quiet_option
@click.argument("name", callback=config_names)
@click.argument("url")
@click.option(
    "--kind",
    type=click.Choice(["feed", "sitemap", "listing"]),
    default=None,
    help="Expected kind (default: as probed).",
)
@click.option("--every", metavar="DURATION", default=None, help="Poll interval (default: 30m, listings 6h).")
@click.option("--follow", metavar="REGEX", default=None, help="Listing only: regex of the article URLs to follow.")
@click.option("--force", is_flag=True, help="Add a source that looks dead (its newest entry is too old).")
@click.pass_obj
@handle_errors
def sources_add(
    state: State, name: str, url: str, kind: str | None, every: str | None, follow: str | None, force: bool
) -> None:
    """Probe URL, then add it as source NAME to the config file (comments kept); nothing written on failure."""
    from crawler.config import load_config
    from crawler.probe import SITEMAP_WINDOW, before_window, probe_in_child, source_block
    from scheduler.sourcelist import NewSource, add_sources, check_new_name

    path = find_config(state.config_path)
    config = load_config(path)
    check_new_name(config, name)
    if not force:
        from crawler.urls import canonicalize

        same = [s.name for s in config.sources if s.url and canonicalize(s.url) == canonicalize(url)]
        if same:
            raise UsageError(
                f"{url} is configured already as {same[0]!r}, which polls it; add it anyway with --force "
                "(a listing read with another --follow)"
            )
    if every is not None:
        _duration_option("--every", every, zero="give how often to poll it, such as 30m")
        every = _duration_text(every)
    if follow is not None and kind not in (None, "listing"):
        raise UsageError("--follow applies to --kind listing only")
    report = probe_in_child(path, url, follow, allow_private=config.crawl.allow_private)
    probed = {"feed": "feed", "sitemap": "sitemap", "sitemap-index": "sitemap", "listing": "listing"}.get(report.kind)
    if report.kind == "homepage" or (report.kind == "article" and report.feeds and kind != "listing"):
        feeds = ", ".join(f["url"] for f in report.feeds)
        raise UsageError(f"{url} is not a feed but a page that advertises {feeds}; add one of those instead")
    if report.kind == "article":
        raise UsageError(f"{url} is an article page, not a source; add its site's feed, sitemap or listing page")
    if kind is not None and probed != kind:
        raise UsageError(f"{url} is {_KINDS.get(report.kind, report.kind)}, not a {kind}; drop --kind or fix the URL")
    if probed == "listing" and follow is None:
        hint = f" (probe suggests --follow '{report.suggested_follow}')" if report.suggested_follow else ""
        raise UsageError(f"{url} is a listing page; add --follow REGEX of its article URLs{hint}")
    if probed == "listing" and report.taken_total == 0:
        raise UsageError(
            f"--follow {follow!r} takes none of the {report.left_total} {noun(report.left_total, 'link')} on {url}; "
            "fix the pattern"
        )
    dead = [w for w in report.warnings if w.startswith("looks dead")]
    if dead and not force:
        raise UsageError(f"{url} {dead[0]}; add it anyway with --force")
    assert probed is not None
    fields: dict[str, Any] = {"name": name, "kind": probed, "url": report.final_url or url}
    fields["every"] = every or ("6h" if probed == "listing" else "30m")
    if probed == "sitemap":
        fields["window"] = SITEMAP_WINDOW
    if probed == "listing":
        fields["follow"] = follow
    what = report.title or _KINDS.get(report.kind, report.kind)
    newest = f"; newest entry {report.newest[:10]}" if report.newest else ""
    delay = f"; Crawl-delay {report.crawl_delay:g}s" if report.crawl_delay else ""
    comment = f"{what} (probed {_today()}{newest}{delay})"
    add_sources(path, [NewSource(fields, " ".join(comment.split())[:160])])
    if not state.quiet:
        click.echo(f"added {name} ({probed}) to {path}:")
        click.echo(source_block(report, name=name, every=fields["every"]).rstrip("\n"))
    if (before := before_window(report)) is not None:  # a sitemap's, also with --quiet
        click.echo(f"{name}: warning: {before}", err=True)


@sources.command("remove")
@config_option
@quiet_option
@click.argument("name", callback=config_names)
@click.pass_obj
@handle_errors
def sources_remove(state: State, name: str) -> None:
    """Remove source NAME from the config file (its stored articles stay)."""
    from scheduler.sourcelist import remove_source

    path = find_config(state.config_path)
    remove_source(path, name)
    if not state.quiet:
        click.echo(f"removed {name} from {path}; its stored articles stay in the database")


@sources.command("import")
@config_option
@quiet_option
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--every", metavar="DURATION", default="1h", show_default=True, help="Poll interval of imported feeds.")
@click.pass_obj
@handle_errors
def sources_import(state: State, file: Path, every: str) -> None:
    """Add every feed of an OPML file (Miniflux, FreshRSS, rss2email...) in one edit; duplicates are skipped."""
    from scheduler.sourcelist import import_opml

    seconds = _duration_option("--every", every, zero="give how often to poll them, such as 1h")
    path = find_config(state.config_path)
    _, result = import_opml(path, file, seconds)
    for line in result.skipped:
        click.echo(f"skipped {line}", err=True)
    if state.quiet:
        return
    click.echo(
        f"imported {len(result.added)} {noun(len(result.added), 'feed')} into {path}; skipped {len(result.skipped)}"
    )
    if result.added:
        click.echo("run 'newswatch crawl' to poll them, then 'newswatch sources' to see which are stale")


@sources.command("export")
@config_option
@quiet_option
@click.option("--opml", "as_opml", is_flag=True, required=True, help="Write OPML 2.0 (the only format).")
@click.pass_obj
@handle_errors
def sources_export(state: State, as_opml: bool) -> None:
    """Write the feed sources as OPML to stdout, for feed readers."""
    from scheduler.sourcelist import comment_titles, export_opml

    config = state.config()
    titles = comment_titles(config.path) if config.path else {}
    click.echo(export_opml(config, titles), nl=False)
    others = [s.name for s in config.sources if s.kind != "feed"]
    if others:
        click.echo(f"not exported (OPML holds feeds only): {', '.join(others)}", err=True)


def _today() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).date().isoformat()
