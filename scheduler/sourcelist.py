"""Editing the config's ``[[sources]]`` in place, and OPML in and out.

The only module that imports tomlkit (style-preserving TOML: comments and layout survive an edit)
and listparser (OPML as feed readers write it). Every edit is validated as a whole config before
the file is replaced (temp file + rename), so a failed edit writes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import tomlkit
from tomlkit.items import AoT, Array, Comment, Table

from crawler.config import (
    Config,
    SourceConfig,
    format_duration,
    load_config,
    name_problem,
    normal_name,
    parse_config,
    source_name_for,
)
from crawler.errors import ConfigError, UsageError, did_you_mean

OPML_TYPES = {"rss", "atom", "feed", ""}


@dataclass(frozen=True)
class NewSource:
    """A source to add: the keys of its ``[[sources]]`` table, in order, and a comment for the line."""

    fields: dict[str, Any]
    comment: str | None = None


@dataclass(frozen=True)
class ImportResult:
    added: tuple[str, ...]
    skipped: tuple[str, ...]  # "NAME-or-URL: why"


def _read(path: Path) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    except tomlkit.exceptions.TOMLKitError as exc:
        raise UsageError(f"{path} is not valid TOML ({exc}); fix it first ('newswatch check')") from None


def _sources(doc: tomlkit.TOMLDocument) -> AoT:
    if isinstance(doc.get("sources"), Array) and not doc["sources"]:
        del doc["sources"]  # "sources = []": no source yet, as an older 'sources remove' of the last one wrote it
    if "sources" not in doc:
        last = _last_table(doc)
        if last is not None:
            last.value.body.append((None, tomlkit.ws("\n")))  # a blank line before the first [[sources]]
        doc.append("sources", tomlkit.aot())
    sources = doc["sources"]
    if not isinstance(sources, AoT):
        raise UsageError("the config's sources are not written as [[sources]] tables; edit it by hand")
    return sources


def _write(path: Path, doc: tomlkit.TOMLDocument) -> Config:
    """Validates the edited document as a config, then atomically replaces the file."""
    text = tomlkit.dumps(doc)
    import tomllib

    try:
        config = parse_config(tomllib.loads(text), base=path.resolve().parent, path=path)
    except ConfigError as exc:
        raise UsageError(f"the edit would make the config invalid ({exc.problems[0]}); nothing written") from None
    from scheduler.files import write_atomic

    try:
        mode = path.stat().st_mode & 0o7777  # keep the config's own permissions (it may be group-only)
    except OSError:
        mode = 0o666
    write_atomic(path, text, mode | 0o200)
    return config


def _table(new: NewSource) -> Table:
    table = tomlkit.table()
    for key, value in new.fields.items():
        if isinstance(value, str) and key == "follow" and "'" not in value and "\n" not in value:
            value = tomlkit.string(value, literal=True)  # a regex reads best without doubled backslashes
        table.add(key, value)
    if new.comment and "name" in table:
        table["name"].comment(new.comment)
    return table


def _last_table(doc: tomlkit.TOMLDocument) -> Table | None:
    """The table the document ends with (an array of tables' last one), if it ends with one."""
    item = doc.body[-1][1] if doc.body else None
    if isinstance(item, AoT):
        item = item[-1] if len(item) else None
    return item if isinstance(item, Table) else None


def _table_before(doc: tomlkit.TOMLDocument, key: str) -> Table | None:
    """The table written right before ``key``'s (an array of tables' last one), if a table is."""
    keys = [k.key if k is not None else None for k, _ in doc.body]
    at = keys.index(key)
    item = doc.body[at - 1][1] if at else None
    if isinstance(item, AoT):
        item = item[-1] if len(item) else None
    return item if isinstance(item, Table) else None


def _pop_trailing(table: Table) -> list[tuple[Any, Any]]:
    """Removes the blank lines and comments after a table's last key: they introduce what follows it."""
    body = table.value.body
    cut = len(body)
    while cut and body[cut - 1][0] is None:
        cut -= 1
    trailing = body[cut:]
    del body[cut:]
    return trailing


def _push_trailing(table: Table, trailing: list[tuple[Any, Any]]) -> None:
    table.value.body.extend(trailing)


def add_sources(path: Path, new: Sequence[NewSource]) -> Config:
    """Appends the sources after the last ``[[sources]]`` table, in one write (all or nothing).

    Whatever followed the last source (a blank line, the next section's comment) still follows the
    new last one.
    """
    doc = _read(path)
    sources = _sources(doc)
    trailing = _pop_trailing(sources[-1]) if len(sources) else []
    if len(sources):
        sources[-1].value.body.append((None, tomlkit.ws("\n")))
    for i, n in enumerate(new):
        table = _table(n)
        if i < len(new) - 1:
            table.value.body.append((None, tomlkit.ws("\n")))
        sources.append(table)
    _push_trailing(sources[-1], trailing or [(None, tomlkit.ws("\n"))])
    return _write(path, doc)


def remove_source(path: Path, name: str) -> Config:
    """Deletes one ``[[sources]]`` table with the comments inside it; the comments after it stay."""
    doc = _read(path)
    sources = _sources(doc)
    for i, table in enumerate(sources):
        if normal_name(str(table.get("name"))) == normal_name(name):
            trailing = _pop_trailing(table)
            if i > 0:
                _pop_trailing(sources[i - 1])
                _push_trailing(sources[i - 1], trailing)
            elif len(sources) > 1 and any(isinstance(item, Comment) for _, item in trailing):
                # the first of several: what introduces the second ("# ---- Russian") goes before it, not away
                before = _table_before(doc, "sources")
                if before is not None:
                    _push_trailing(before, trailing)
            if len(sources) > 1:
                del sources[i]
                return _write(path, doc)
            # The last one: no key at all (an empty array of tables is written as "sources = []" at the file's
            # top, which 'sources add' and 'import' then refused). What introduced it stays, for the next one
            # added, and what followed it (the next section's comment) still follows.
            before = _table_before(doc, "sources")
            if before is not None:
                _push_trailing(before, trailing)
            del doc["sources"]
            return _write(path, doc)
    names = [str(t.get("name")) for t in sources]
    known = ", ".join(names) or "none configured"
    raise UsageError(f"unknown source {name!r}; {did_you_mean(name, names)}configured sources: {known}")


def check_new_name(config: Config, name: str) -> None:
    problem = name_problem(name)
    if problem:
        raise UsageError(f"source name {problem}")
    if any(s.name == name for s in config.sources):
        raise UsageError(f"a source named {name!r} exists already; choose another name or 'sources remove {name}'")


# -- OPML ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpmlFeed:
    url: str
    title: str
    html_url: str | None
    categories: tuple[str, ...]
    line: int | None = None


def read_opml(path: Path) -> list[OpmlFeed]:
    """The feeds of an OPML file; a file that is not well-formed XML is named with its line."""
    import listparser
    from lxml import etree

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    try:
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False))
    except etree.XMLSyntaxError as exc:
        line = exc.lineno or (exc.position[0] if exc.position else "?")
        message = re.sub(r",? line \d+, column \d+$", "", exc.msg or str(exc))
        raise UsageError(f"{path} line {line}: not well-formed OPML ({message}); fix the file and retry") from None
    if root is None or etree.QName(root).localname.lower() != "opml":
        tag = etree.QName(root).localname if root is not None else "nothing"
        raise UsageError(f"{path} line 1: not an OPML file (its root element is <{tag}>, not <opml>)")
    # listparser reads titles and categories (nested outlines) as feed readers do; the tree gives
    # every outline in file order with its line, repeats included, so a duplicate can be named.
    parsed = {(f.get("url") or "").strip(): f for f in listparser.parse(data).feeds}
    feeds = []
    for el in root.iter("{*}outline", "outline"):
        url = (el.get("xmlUrl") or el.get("xmlurl") or "").strip()
        if not url:
            continue
        f = parsed.get(url, {})
        title = (el.get("title") or el.get("text") or f.get("title") or "").strip()
        cats = tuple("/".join(c) for c in f.get("categories", []) if c)
        feeds.append(OpmlFeed(url=url, title=title, html_url=el.get("htmlUrl"), categories=cats, line=el.sourceline))
    return feeds


def import_opml(path: Path, opml: Path, every: float) -> tuple[Config, ImportResult]:
    """Adds every feed of the OPML file not already configured, in one write; names what it skipped."""
    config = load_config(path)
    feeds = read_opml(opml)
    if not feeds:
        raise UsageError(f"{opml} lists no feeds (no <outline xmlUrl=...>); nothing imported")
    from crawler.urls import canonicalize, is_http_url

    taken = {s.name for s in config.sources}
    known = {canonicalize(s.url): s.name for s in config.sources if s.url}
    new, skipped, added = [], [], []
    for f in feeds:
        label = (f.title or f.url) + (f" (line {f.line})" if f.line else "")
        if not is_http_url(f.url):
            skipped.append(f"{label}: {f.url!r} is not an http(s) URL")
            continue
        key = canonicalize(f.url)
        if key in known:
            skipped.append(f"{label}: already configured as {known[key]!r}")
            continue
        name = source_name_for(f.url, taken)
        taken.add(name)
        known[key] = name
        fields: dict[str, Any] = {"name": name, "kind": "feed", "url": f.url, "every": format_duration(every)}
        comment = f.title + (f" [{', '.join(f.categories)}]" if f.categories else "") if f.title else None
        new.append(NewSource(fields, _one_line(comment) if comment else None))
        added.append(name)
    if not new:
        return config, ImportResult((), tuple(skipped))
    return add_sources(path, new), ImportResult(tuple(added), tuple(skipped))


def export_opml(config: Config, titles: dict[str, str] | None = None) -> str:
    """OPML 2.0 with one ``<outline type="rss">`` per feed source, as Miniflux, FreshRSS and rss2email read it.

    A feed is titled by its ``title``, else by ``titles`` (its name line's comment), else by its name.
    """
    titles = titles or {}
    now = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        "  <head>",
        f"    <title>{escape('newswatch sources')}</title>",
        f"    <dateCreated>{now}</dateCreated>",
        "  </head>",
        "  <body>",
    ]
    groups: dict[str, list[SourceConfig]] = {}
    for s in config.sources:
        if s.kind == "feed" and s.url:
            groups.setdefault(s.language or "", []).append(s)
    for lang, items in groups.items():
        indent = "    "
        if lang:
            lines.append(f"    <outline text={quoteattr(lang)} title={quoteattr(lang)}>")
            indent = "      "
        for s in items:
            title = s.title or titles.get(s.name) or s.name  # its display name, as digests show it
            lines.append(
                f'{indent}<outline type="rss" text={quoteattr(title)} title={quoteattr(title)} xmlUrl={quoteattr(s.url)}/>'
            )
        if lang:
            lines.append("    </outline>")
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)


def comment_titles(path: Path) -> dict[str, str]:
    """Each source's title as its ``name`` line's comment gives it (as import and add write it)."""
    titles = {}
    for table in _sources(_read(path)):
        name, item = table.get("name"), table.value.item("name") if "name" in table else None
        comment = (item.trivia.comment if item is not None else "").lstrip("#").strip()
        comment = re.sub(r"\s*(\(probed [^)]*\)|\[[^\]]*\])$", "", comment)  # the probe note, OPML folders
        if name and comment:
            titles[str(name)] = comment
    return titles


def _one_line(text: str) -> str:
    return " ".join(text.split())[:150]
