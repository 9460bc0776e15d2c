"""A frozen copy of the config the daemon accepted, for its crawl children to read.

Crawl children take a config *path*. If they read the operator's file, an edit that the daemon
rejected on SIGHUP (or has not been told about) would still reach them. So the daemon writes
the accepted document to a private file, with relative paths made absolute (they are relative
to the original file's directory), and hands children that file.
"""

from __future__ import annotations

import json
import math
import os
import re
import tomllib
from dataclasses import replace
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from crawler.config import Config, load_config
from crawler.errors import ConfigError
from scheduler.files import write_atomic

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def load_snapshot(path: Path, dest_dir: Path) -> tuple[Config, Path]:
    """Validates ``path`` and writes its snapshot into ``dest_dir``; returns (config, snapshot path).

    Raises ConfigError naming ``path`` when the file is invalid; nothing is written then.
    """
    load_config(path)  # its messages name the operator's file
    raw = path.read_bytes()
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:  # edited between the two reads
        raise ConfigError([f"the file changed while it was read ({exc}); try again"], str(path)) from None
    _absolutize(data, path.resolve().parent)
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / "config-snapshot.toml"
    header = f"# a copy of {path} as accepted by 'newswatch run'; edit the original, not this\n"
    write_atomic(target, header + dumps(data), mode=0o600)
    try:
        config = load_config(target)
    except ConfigError as exc:
        raise ConfigError(exc.problems, str(path)) from None
    return replace(config, path=path), target


def _absolutize(data: dict[str, Any], base: Path) -> None:
    storage = data.get("storage")
    if storage is None:
        storage = data["storage"] = {}
    if isinstance(storage, dict):
        storage["database"] = _absolute(storage.get("database", "newswatch.db"), base)
    smtp = data.get("smtp")
    if isinstance(smtp, dict) and isinstance(smtp.get("password_file"), str):
        smtp["password_file"] = _absolute(smtp["password_file"], base)
    topics = data.get("topics")
    for t in topics if isinstance(topics, list) else ():
        if isinstance(t, dict) and isinstance(t.get("model"), str):
            # a model file beside the config (a path wins over a shipped model of that name)
            from crawler.model import SHIPPED, resolve

            found = resolve(t["model"], base)
            if found is not None and found.parent != SHIPPED:
                t["model"] = str(found.resolve())


def _absolute(value: Any, base: Path) -> Any:
    if not isinstance(value, str):
        return value  # invalid: load_config will say so
    p = Path(os.path.expanduser(value))
    return str(p if p.is_absolute() else base / p)


def dumps(data: dict[str, Any]) -> str:
    """TOML for a tomllib document: top-level keys, tables written inline."""
    return "".join(f"{_key(k)} = {_value(v)}\n" for k, v in data.items())


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # JSON string escapes are valid TOML basic strings
    if isinstance(v, (datetime, date, time)):
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")
