"""What a config reload changed, in words for the daemon's log: per source and topic, which settings
changed (old → new for short values, the key alone for long ones such as a query), so that the journal
answers "did my edit take?"."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

from crawler.config import Config, format_duration

SHORT = 60  # old and new together up to this many characters are shown; beyond, the key alone
DURATIONS = frozenset({"every", "window", "stale_after", "timeout", "delay", "max_age"})
SCHEDULED = frozenset({"schedule", "timezone"})  # the daemon's own line names a new digest schedule


def _shown(key: str, value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if key in DURATIONS and isinstance(value, int | float):
        return format_duration(value) or "0s"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return "[" + ", ".join(_shown(key, v) for v in value) + "]"
    if isinstance(value, Path):
        return str(value)
    return repr(value) if isinstance(value, str) else str(value)


def settings_changed(before: Any, after: Any, skip: frozenset[str] = frozenset()) -> list[str]:
    """The settings of one config table (a source, a topic, [crawl], ...) that differ: `key old → new`, or `key`."""
    out: list[str] = []
    for f in fields(after):
        old, new = getattr(before, f.name), getattr(after, f.name)
        if old == new or f.name in skip:
            continue
        if f.name == "model":  # a model topic's file: named when it is another file, else "model" (new weights)
            a, b = (getattr(m, "source", None) for m in (old, new))
            out.append(f"model {_shown('model', a)} → {_shown('model', b)}" if a != b else "model")
            continue
        a, b = _shown(f.name, old), _shown(f.name, new)
        short = len(a) + len(b) <= SHORT and "\n" not in a + b
        out.append(f"{f.name} {a} → {b}" if short else f.name)
    return out


def _named(kind: str, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    out = [f"removed {kind}{name}" for name in before if name not in after]
    for name, now in after.items():
        if name not in before:
            out.append(f"added {kind}{name}")
        elif before[name] != now:
            out.append(f"changed {kind}{name} ({', '.join(settings_changed(before[name], now))})")
    return out


def source_changes(old: Config, new: Config) -> list[str]:
    """`added NAME`, `removed NAME`, `changed NAME (every 15m → 30m, url)` for each source that changed."""
    return _named("", {s.name: s for s in old.sources}, {s.name: s for s in new.sources})


def other_changes(old: Config, new: Config, *, schedule_said: bool = False) -> list[str]:
    """The same for topics and sets, then the settings of [crawl], [digest] and [smtp] that changed; [digest]'s
    schedule and timezone are left out when the caller names the new schedule itself (``schedule_said``: the
    daemon, when it mails; in archive mode nothing else says them)."""
    out = _named("topic ", {t.name: t for t in old.topics}, {t.name: t for t in new.topics})
    before, after = dict(old.sets), dict(new.sets)
    out += [f"removed set @{n}" for n in before if n not in after]
    out += [f"{'added' if n not in before else 'changed'} set @{n}" for n in after if before.get(n) != after[n]]
    for table in ("crawl", "digest", "smtp"):
        a, b = getattr(old, table), getattr(new, table)
        if a == b:
            continue
        if a is None or b is None:
            out.append(f"{'added' if a is None else 'removed'} [{table}]")
            continue
        changed = settings_changed(a, b, SCHEDULED if table == "digest" and schedule_said else frozenset())
        if changed:
            out.append(f"changed [{table}] ({', '.join(changed)})")
    return out
