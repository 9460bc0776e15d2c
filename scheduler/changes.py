"""What a config reload changed, in words for the daemon's log: per source and topic, which settings
changed (old → new for short values, the key alone for long ones such as a query), so that the journal
answers "did my edit take?"."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crawler.config import Config, Recipient, TopicConfig, format_duration

if TYPE_CHECKING:
    from crawler.model import Model

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
        if f.name == "recipients":
            out.append(_recipients_changed(old, new))
            continue
        a, b = _shown(f.name, old), _shown(f.name, new)
        short = len(a) + len(b) <= SHORT and "\n" not in a + b
        out.append(f"{f.name} {a} → {b}" if short else f.name)
    return out


def _own_query(query: str, sets: dict[str, str]) -> tuple[str, list[str]]:
    """A topic's query as written, and the sets it reads: the config stores it behind their definitions."""
    used = []
    while query.startswith("@"):
        name = query[1 : query.find(" = (\n")]
        head = f"@{name} = (\n{sets.get(name)}\n)\n"
        if name not in sets or not query.startswith(head):
            break
        used.append(name)
        query = query[len(head) :]
    return query, used


def topic_changed(old: TopicConfig, new: TopicConfig, old_sets: dict[str, str], new_sets: dict[str, str]) -> list[str]:
    """A topic's changes: the sets it reads that were edited (its query's, its model's), its query as written,
    its model (another file, new weights, or whether its features are still as trained), then its other settings."""
    old_query, old_used = _own_query(old.query, old_sets)
    new_query, new_used = _own_query(new.query, new_sets)
    reads = set(old_used) | set(new_used)
    reads |= {n for m in (old.model, new.model) if m is not None for n, _ in m.sets}
    edited = sorted(n for n in reads if old_sets.get(n) != new_sets.get(n))
    out = [f"set{'s' if len(edited) > 1 else ''} {', '.join(f'@{n}' for n in edited)} edited"] if edited else []
    if old_query != new_query:
        out.append("query")
    if old.model != new.model:
        out += _model_changed(old.model, new.model)
    return out + settings_changed(old, new, skip=frozenset({"query", "model"}))


def _model_changed(old: Model | None, new: Model | None) -> list[str]:
    """A model topic's model: another file, new weights in the same file, and whether its features are as the model
    was trained (a set they read edited makes them differ: `newswatch check` says which)."""
    a, b = (getattr(m, "source", None) for m in (old, new))
    if old is None or new is None or a != b:
        return [f"model {_shown('model', a)} → {_shown('model', b)}"]
    out = ["model: new weights"] if old.digest != new.digest else []
    if old.sets != new.sets:
        from crawler.model import stale_features

        stale = len(stale_features(new, dict(new.sets)))
        out.append(
            f"{stale} of its model's features no longer as trained, see 'newswatch check'"
            if stale
            else "its model's features as trained again"
        )
    return out or ["model"]


def _recipients_changed(old: tuple[Recipient, ...], new: tuple[Recipient, ...]) -> str:
    """[digest] recipients: who was added or removed, and whose topics changed (old → new)."""

    def topics(r: Recipient) -> str:
        return "all topics" if not r.topics else "[" + ", ".join(r.topics) + "]"

    before = {r.email.lower(): r for r in old}
    after = {r.email.lower(): r for r in new}
    said = [f"removed {r.email}" for key, r in before.items() if key not in after]
    for key, r in after.items():
        if key not in before:
            said.append(f"added {r.email} ({topics(r)})")
        elif before[key] != r:  # its topics, or its address's capitals (the ledger knows it either way)
            was = before[key]
            who = r.email if was.email == r.email else f"{r.email} (was {was.email})"
            said.append(f"{who} {topics(was)} → {topics(r)}" if was.topics != r.topics else who)
    return f"recipients: {', '.join(said)}" if said else "recipients (their order)"


def _named(kind: str, before: dict[str, Any], after: dict[str, Any], changed: Any = settings_changed) -> list[str]:
    out = [f"removed {kind}{name}" for name in before if name not in after]
    for name, now in after.items():
        if name not in before:
            out.append(f"added {kind}{name}")
        elif before[name] != now:
            out.append(f"changed {kind}{name} ({', '.join(changed(before[name], now))})")
    return out


def source_changes(old: Config, new: Config) -> list[str]:
    """`added NAME`, `removed NAME`, `changed NAME (every 15m → 30m, url)` for each source that changed."""
    return _named("", {s.name: s for s in old.sources}, {s.name: s for s in new.sources})


def other_changes(old: Config, new: Config, *, schedule_said: bool = False) -> list[str]:
    """The same for topics and sets, then the settings of [crawl], [digest] and [smtp] that changed; [digest]'s
    schedule and timezone are left out when the caller names the new schedule itself (``schedule_said``: the
    daemon, when it mails; in archive mode nothing else says them)."""
    before, after = dict(old.sets), dict(new.sets)
    out = _named(
        "topic ",
        {t.name: t for t in old.topics},
        {t.name: t for t in new.topics},
        lambda a, b: topic_changed(a, b, before, after),
    )
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
