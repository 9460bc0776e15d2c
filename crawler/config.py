"""The TOML config, parsed once at the edge into frozen typed objects.

Every problem is collected with its key path (``sources[2].every``) and how to fix it, so
``newswatch check`` can print them all at once. Relative paths resolve against the config file.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import re
import string
import tomllib
import unicodedata
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from email.utils import getaddresses, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crawler.errors import ConfigError, closest, did_you_mean
from crawler.paths import not_readable

if TYPE_CHECKING:  # a model topic's weights; crawler.model is imported only by a config that has one
    from crawler.model import Model

SOURCE_KINDS = ("feed", "sitemap", "listing", "spider")
SMTP_SECURITY = ("none", "starttls", "tls")
NAME_RULE = "letters and digits of any alphabet, '-' and '_'"


# letters and marks that show nothing (Unicode's default-ignorable ones): Hangul fillers, variation selectors, the
# combining grapheme joiner and Khmer's inherent vowels; "tass" and "tass" + U+FE0F would be two sources alike
_INVISIBLE = frozenset(
    [0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFFA0]
    + list(range(0x180B, 0x1810))
    + list(range(0xFE00, 0xFE10))
    + list(range(0xE0100, 0xE01F0))
)


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a source or topic, or None: letters and digits of any script (新闻, Новости),
    '-' and '_', never a space, a control or invisible character, or a path's '/' or '.'."""
    on_letter = False  # whether a mark here sits on a letter (after it, or after the marks already on it)
    for i, ch in enumerate(name):
        cat = unicodedata.category(ch)
        # a mark (an accent, a vowel sign) only on a letter: after '-', '_' or a digit it makes another name that
        # reads as a letter's, or none ('tass-' + U+0301 is 'tass-́')
        shows = cat[0] == "L" or cat in ("Nd", "Nl") or ch in "-_" or (cat[0] == "M" and on_letter)
        if shows and ord(ch) not in _INVISIBLE:
            on_letter = cat[0] in "LM"
            continue
        shown = f"'{ch}'" if cat[0] in "PSN" else f"U+{ord(ch):04X} {unicodedata.name(ch, '')}".rstrip()
        fix = "; an accent or other mark goes only after a letter" if cat[0] == "M" and not on_letter else ""
        return f"{name!r} may hold only {NAME_RULE}, not {shown} (character {i + 1}){fix}"
    return None


def _shown(key: str) -> str:
    """A key or name as a problem's key path shows it: as written, or quoted with its escapes when it holds a line
    break or another character that shows nothing (the problem would be split over two lines, or name nothing)."""
    return key if key.isprintable() else repr(key)


def normal_name(name: str) -> str:
    """A source or topic name as compared everywhere: composed (NFC), as a terminal types it."""
    return unicodedata.normalize("NFC", name)


_HOST_PREFIXES = ("www", "rss", "feeds", "feed", "m", "news", "en")
_IP_HOST = re.compile(r"[\d.]+|[0-9a-f:]+")


def source_name_for(url: str, taken: Collection[str] = ()) -> str:
    """A valid source name for the feed or page at ``url`` (probe's block, `sources import`), not in ``taken``: its
    host's distinctive part (lenta.ru -> lenta, rss.newsru.com -> newsru, en.people.cn -> people), or the first
    segment of its path for an IP address or localhost (127.0.0.1:8765/digestnet/feed.xml -> digestnet)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host in ("", "localhost") or _IP_HOST.fullmatch(host):
        return unique_name(next((s for s in parts.path.split("/") if s), host or "feed"), taken)
    labels = host.split(".")
    while len(labels) > 2 and labels[0] in _HOST_PREFIXES:
        labels = labels[1:]
    return unique_name(labels[0], taken)  # host names read well in any script: новости.рф -> новости


def unique_name(wanted: str, taken: Collection[str] = ()) -> str:
    """A valid source name made of ``wanted``'s letters, digits, '-' and '_' (others join its words with '-'), not in
    ``taken``."""
    words, word = [], ""
    for ch in normal_name(wanted)[:200]:
        if name_problem(word + ch) is None:
            word += ch
        else:  # a character no name holds, or a mark on no letter (it starts no word)
            words.append(word)
            word = ""
    base = "-".join(w for w in [*words, word] if w).lower()[:40] or "feed"  # any alphabet stays: новости.рф -> новости
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    return name


_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_DURATION_FULL = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMG]i?B|kB|B)?\s*$")
_SIZE_UNITS = {
    None: 1,
    "B": 1,
    "kB": 10**3,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "KiB": 2**10,
    "MiB": 2**20,
    "GiB": 2**30,
}


DAY = 86400.0
MAX_DURATION = 36500 * DAY  # a century: anything longer is a typo, and overflows date arithmetic
MAX_NESTING = 32  # tables and arrays inside one another; newswatch's own config uses 3


def parse_duration(value: str, maximum: float = MAX_DURATION) -> float:
    """``"1h30m"`` → 5400.0 seconds; raises ValueError on anything else or beyond ``maximum`` (a century)."""
    text = value.strip().replace(" ", "")
    if not text:
        raise ValueError(value)
    pos, total = 0, 0.0
    for m in _DURATION_RE.finditer(text):
        if m.start() != pos:
            raise ValueError(value)
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not total <= maximum:
        raise ValueError(value)
    return total


def parse_size(value: str | int) -> int:
    """``"5MB"`` → 5_000_000 bytes (kB/MB/GB powers of 10, KiB/MiB/GiB powers of 2)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    m = _SIZE_RE.match(str(value))
    if not m:
        raise ValueError(value)
    # "999…9MB" beyond a float is inf: a size beyond any maximum, where int() raised OverflowError in check
    return int(min(float(m.group(1)) * _SIZE_UNITS[m.group(2)], 2**63))


def format_duration(seconds: float) -> str:
    """The inverse of parse_duration, for messages and listings: 5400 → ``1h30m``."""
    seconds = int(round(seconds))
    if seconds <= 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts)


@dataclass(frozen=True)
class StorageConfig:
    database: Path


@dataclass(frozen=True)
class CrawlConfig:
    user_agent: str = "newswatch/0.1 (+https://github.com/newswatch/newswatch)"
    obey_robots: bool = True
    timeout: float = 30.0
    max_page_size: int = 5_000_000
    concurrency: int = 16
    per_domain: int = 2
    delay: float = 0.0
    allow_private: bool = False


@dataclass(frozen=True)
class SourceConfig:
    name: str
    kind: str
    url: str
    every: float = 900.0
    window: float = 172800.0
    follow: str | None = None
    follow_css: str | None = None
    depth: int = 1
    spider: str | None = None
    language: str | None = None
    stale_after: float | None = None  # None: the source's cadence decides, at most 7 days
    title: str | None = None  # display name in digests (default: name)

    @property
    def display(self) -> str:
        return self.title or self.name


@dataclass(frozen=True)
class TopicConfig:
    name: str
    query: str  # a model topic's gate: what can match at all
    min_score: float = 1.0  # a model topic's: 10 x its file's threshold.p (5.0: p >= 0.5)
    alert_score: float | None = None
    near_score: float | None = None  # a digest's near misses: best score in [near_score, min_score), no match
    title: str | None = None  # display name in digests (default: name)
    model: Model | None = None  # learned weights scored after the query holds (crawler.model)
    features: tuple[str, ...] = ()  # extra candidate expressions for `topics train`

    @property
    def display(self) -> str:
        return self.title or self.name

    @property
    def floor(self) -> float:
        """The score a crawl scores this topic down to: its near_score when it has one (a near miss is stored
        too), else its min_score."""
        return self.min_score if self.near_score is None else self.near_score

    @property
    def identity(self) -> str:
        """What the stored matches were made with: the query, and a model topic's model (the digest of what
        scoring reads, not of the file's bytes: retraining to the same weights keeps it) and the definitions
        of the sets its features use. A change re-matches recent articles."""
        if self.model is None:
            return self.query
        sets = hashlib.sha256(repr(self.model.sets).encode("utf-8")).hexdigest()[:16]
        return f"{self.query}\n# model sha256:{self.model.digest} sets:{sets}"


@dataclass(frozen=True)
class Recipient:
    email: str
    topics: tuple[str, ...] = ()


@dataclass(frozen=True)
class DigestConfig:
    schedule: str = "0 7 * * *"
    timezone: str = "UTC"
    send_empty: bool = False
    subject: str = "newswatch: {count} new stories"
    max_age: float = 7 * 86400.0
    max_stories: int = 100
    include_alerted: bool = False
    recipients: tuple[Recipient, ...] = ()
    translate_url: str | None = None  # e.g. "https://translate.google.com/translate?sl=auto&tl=en&u={url}"
    contact: str | None = None  # who changes or stops a recipient's mail: a bare address (List-Unsubscribe)


@dataclass(frozen=True)
class SmtpConfig:
    host: str = "localhost"
    port: int = 587
    security: str = "starttls"
    username: str | None = None
    password_env: str | None = "NEWSWATCH_SMTP_PASSWORD"
    password_file: Path | None = None
    sender: str = "newswatch <newswatch@localhost>"
    timeout: float = 60.0


@dataclass(frozen=True)
class Config:
    path: Path | None
    storage: StorageConfig
    crawl: CrawlConfig = field(default_factory=CrawlConfig)
    sources: tuple[SourceConfig, ...] = ()
    topics: tuple[TopicConfig, ...] = ()
    digest: DigestConfig | None = None
    smtp: SmtpConfig | None = None
    sets: tuple[tuple[str, str], ...] = ()  # named term sets ([sets]), used in queries as @name

    def source(self, name: str) -> SourceConfig:
        for s in self.sources:
            if s.name == name:
                return s
        raise KeyError(name)


class _Checker:
    """Collects problems while reading one table; every reader returns a usable default."""

    def __init__(self, check_queries: bool = True, models: bool = True) -> None:
        self.problems: list[str] = []
        self.check_queries = check_queries  # compile every set and topic query to report its syntax errors
        self.models = models  # read the topics' model files (`topics train` does without: it writes one)

    def add(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def table(self, data: Any, path: str) -> dict[str, Any]:
        if data is None:
            return {}
        if not isinstance(data, dict):
            self.add(path, f"must be a table ([{path}]), not {type(data).__name__}")
            return {}
        return data

    def tables(self, items: Any, key: str, how: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """Each table of the array of tables ``key`` with its key path (naming it when it has a name)."""
        if not isinstance(items, list):
            self.add(key, f"must be an array of tables: write each {how}")
            return
        for i, item in enumerate(items):
            name = item.get("name") if isinstance(item, dict) else None
            path = f"{key}[{i}]" + (f" ({_shown(name)})" if isinstance(name, str) and name else "")
            t = self.table(item, path)
            if t:
                yield path, t

    def name(self, data: dict[str, Any], path: str, seen: set[str], what: str) -> str:
        """The required, unique ``name`` of a source or topic."""
        name = normal_name(self.get(data, "name", path, str, "", required=True) or "")
        problem = name_problem(name) if name else None
        if problem:
            self.add(f"{path}.name", problem)
        elif name in seen:
            self.add(f"{path}.name", f"{name!r} is used by another {what}; {what} names must be unique")
        seen.add(name)
        return str(name)

    def unknown(self, data: dict[str, Any], allowed: set[str], path: str) -> None:
        for key in data:
            if key not in allowed:
                hint = closest(key, allowed)
                fix = f"did you mean '{hint}'?" if hint else f"allowed keys: {', '.join(sorted(allowed))}"
                self.add(f"{path}.{_shown(key)}" if path else _shown(key), f"unknown key; {fix}")

    def get(
        self,
        data: dict[str, Any],
        key: str,
        path: str,
        kind: type | tuple[type, ...],
        default: Any,
        *,
        required: bool = False,
    ) -> Any:
        if key not in data:
            if required:
                self.add(f"{path}.{key}", f"is required; add {key} = ... to [{path.split('[')[0]}]")
            return default
        value = data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            ok = False
        elif float in kinds and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        else:
            ok = isinstance(value, kinds)
        if not ok:
            want = " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)
            self.add(f"{path}.{key}", f"{value!r} is not {want}")
            return default
        return value

    def duration(self, data: dict[str, Any], key: str, path: str, default: float, maximum: float = 3650 * DAY) -> float:
        value = self.get(data, key, path, (str, int), None)
        if value is None:
            return default
        # a number without its unit: '0' is zero as '0s' is (refused alike below); another is ambiguous in a file read
        # for months ('every = 30': seconds or minutes?), where the command line's options take it as seconds
        plain = isinstance(value, int) or bool(re.fullmatch(r"\d+", value.strip()))
        if plain and int(value) != 0:
            self.add(f"{path}.{key}", f'{value!r} has no unit; write it as a string like "{value}s" or "{value}m"')
            return default
        try:
            seconds = 0.0 if plain else parse_duration(value)
        except ValueError:
            if _DURATION_FULL.fullmatch(value.strip().replace(" ", "")):
                seconds = maximum + 1  # well-formed but beyond even MAX_DURATION
            else:
                self.add(
                    f"{path}.{key}",
                    f"{_short(value)} is not a duration; use 30s, 15m, 6h or 1d (or compounds like 1h30m)",
                )
                return default
        if seconds <= 0:
            self.add(f"{path}.{key}", f"{value!r} must be longer than zero")
            return default
        if seconds > maximum:
            self.add(f"{path}.{key}", f"{_short(value)} is too long; at most {format_duration(maximum)}")
            return default
        return seconds

    def size(self, data: dict[str, Any], key: str, path: str, default: int, maximum: int = 2**30) -> int:
        value = self.get(data, key, path, (str, int), None)
        if value is None:
            return default
        try:
            size = parse_size(value)
        except ValueError:
            self.add(f"{path}.{key}", f"{value!r} is not a size; use e.g. 500kB, 5MB or 8MiB")
            return default
        if size <= 0:
            self.add(f"{path}.{key}", "must be larger than zero")
            return default
        if size > maximum:
            self.add(f"{path}.{key}", f"{_short(value)} is too large; at most {maximum // 2**20}MiB")
            return default
        return size

    def positive_int(
        self, data: dict[str, Any], key: str, path: str, default: int, minimum: int = 1, maximum: int = 10_000
    ) -> int:
        value = self.get(data, key, path, int, default)
        if not minimum <= value <= maximum:
            self.add(f"{path}.{key}", f"must be from {minimum} to {maximum}, got {_short(value)}")
            return default
        return value

    def number(
        self, data: dict[str, Any], key: str, path: str, default: float | None, allowed: str = ""
    ) -> float | None:
        """A finite number; else a problem (with ``allowed``, what the key takes) and ``default``."""
        value = self.get(data, key, path, float, None)
        if value is None:
            return default
        try:
            number = float(value)
        except OverflowError:  # an integer beyond a float (TOML's integers have no bound here)
            number = math.inf if value > 0 else -math.inf
        if not math.isfinite(number):
            shown = _short(value) if isinstance(value, int) else repr(value)
            self.add(f"{path}.{key}", f"{shown} is not a finite number" + (f"; {allowed}" if allowed else ""))
            return default
        return number

    def nul_and_depth(self, data: Any) -> None:
        """Refuses NUL characters anywhere (they cut paths and headers short) and absurdly deep nesting."""
        todo: list[tuple[str, Any, int]] = [("", data, 0)]
        while todo:
            path, value, depth = todo.pop()
            if depth > MAX_NESTING:
                self.add(path, f"is nested more than {MAX_NESTING} levels deep; newswatch's config is flat")
                continue
            items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
            for key, item in items:
                sub = f"{path}.{key}" if isinstance(key, str) and path else str(key) if not path else f"{path}[{key}]"
                if isinstance(key, str) and "\0" in key:
                    self.add(sub.replace("\0", "\\0"), "the key contains a NUL character; remove it")
                if isinstance(item, str) and "\0" in item:
                    self.add(sub, "contains a NUL character (\\u0000); remove it")
                elif isinstance(item, (dict, list)):
                    todo.append((sub, item, depth + 1))


_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    list: "a list",
    dict: "a table",
}


def _short(value: Any, limit: int = 60) -> str:
    """A value quoted for a message, cut short: a config may hold megabytes in one string."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + "…" + text[-4:]


def user_config_path() -> Path | None:
    """The user's config file: $XDG_CONFIG_HOME/newswatch/newswatch.toml (~/.config by default).

    None for a user with neither $HOME nor a passwd entry (setpriv, containers).
    """
    xdg = os.environ.get("XDG_CONFIG_HOME")
    if not xdg:
        try:
            xdg = str(Path.home() / ".config")
        except RuntimeError:
            return None
    return Path(xdg) / "newswatch" / "newswatch.toml"


def user_cache_dir() -> Path:
    """newswatch's cache folder: $XDG_CACHE_HOME/newswatch (~/.cache/newswatch by default).

    Raises RuntimeError for a user with neither $HOME nor a passwd entry.
    """
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "newswatch"


def default_config_paths() -> list[Path]:
    """Where a config is looked for when neither -c nor $NEWSWATCH_CONFIG is given."""
    user = user_config_path()
    return [Path("newswatch.toml"), *([user] if user else []), Path("/etc/newswatch/newswatch.toml")]


def _missing(path: Path) -> bool:
    """True when there is surely no file there; one that cannot be checked is left to load_config to report."""
    try:
        return not path.is_file()
    except OSError:
        return False


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:
        return False


def _what(path: Path) -> str:
    return "a folder" if path.is_dir() else "a device or pipe"


def _is_file(path: Path) -> bool:
    """Like Path.is_file, but a folder this user may not read holds no config (no PermissionError)."""
    try:
        return path.is_file()
    except OSError:
        return False


def find_config(explicit: str | os.PathLike[str] | None) -> Path:
    """The config file to use: -c, else $NEWSWATCH_CONFIG, else the first default path that exists."""
    from crawler.errors import UsageError

    if explicit:
        path = Path(explicit)
        if _missing(path):
            if _exists(path):  # /dev/null, a pipe, a folder given through $NEWSWATCH_CONFIG
                raise UsageError(f"config file {path} is {_what(path)}, not a file; check -c/--config")
            raise UsageError(f"config file {path} does not exist; check -c/--config or run 'newswatch init {path}'")
        return path
    env = os.environ.get("NEWSWATCH_CONFIG")
    if env:
        path = Path(env)
        if _missing(path):
            if _exists(path):
                raise UsageError(
                    f"config file {path} (from $NEWSWATCH_CONFIG) is {_what(path)}, not a file; fix the variable"
                )
            raise UsageError(
                f"config file {path} (from $NEWSWATCH_CONFIG) does not exist; fix the variable or run 'newswatch init {path}'"
            )
        return path
    for path in default_config_paths():
        if _is_file(path):
            return path
    raise UsageError(
        "no config file found (tried ./newswatch.toml, ~/.config/newswatch/newswatch.toml, "
        "/etc/newswatch/newswatch.toml); pass -c PATH or run 'newswatch init'"
    )


# Digests of config texts this process has loaded without a problem (see ``checked_digest``).
_CHECKED: set[str] = set()


def checked_digest(path: str | os.PathLike[str]) -> str | None:
    """A digest of the config file's current text when this process has loaded exactly that text
    without a problem; None otherwise.

    A crawl child is handed it, so that it does not compile the file's ~1,400 set and topic
    queries again only to find them valid (~0.15 s of CPU in every child): see ``load_config``.
    """
    try:
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None
    return digest if digest in _CHECKED else None


def load_config(path: str | os.PathLike[str], *, checked: str | None = None, models: bool = True) -> Config:
    """Reads and validates a config file; raises ConfigError listing every problem.

    ``checked``: a ``checked_digest`` from the process that started this one. When the file's text
    still has that digest, its queries are known to compile and are not compiled again here.
    ``models=False``: the topics' model files are not read (their topics load as rule topics), for
    `topics train`, which must work when a model no longer fits the config's sets.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        reason = not_readable(p) if isinstance(exc, PermissionError) else None
        raise ConfigError([f"cannot read the config file: {reason or exc.strerror}"], str(p)) from None
    digest = hashlib.sha256(raw).hexdigest()
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))  # a byte order mark (Windows editors add one) is no TOML
    except UnicodeDecodeError:
        raise ConfigError(["the file is not UTF-8 text; save it as UTF-8"], str(p)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"not valid TOML: {exc}"], str(p)) from None
    except RecursionError:
        raise ConfigError(["tables or arrays are nested too deeply; newswatch's config is flat"], str(p)) from None
    config = parse_config(data, base=p.resolve().parent, path=p, check_queries=digest != checked, models=models)
    if models:
        _CHECKED.add(digest)
    return config


def parse_config(
    data: dict[str, Any], base: Path, path: Path | None = None, *, check_queries: bool = True, models: bool = True
) -> Config:
    """Validates an already-decoded TOML document."""
    c = _Checker(check_queries, models)
    c.nul_and_depth(data)
    if c.problems:
        raise ConfigError(c.problems, str(path) if path else None)
    c.unknown(data, {"storage", "crawl", "sources", "sets", "topics", "digest", "smtp"}, "")

    storage_t = c.table(data.get("storage"), "storage")
    c.unknown(storage_t, {"database"}, "storage")
    db = c.get(storage_t, "database", "storage", str, "newswatch.db")
    if not db.strip():  # else the config's own folder would be taken for the database
        c.add("storage.database", 'is empty; name the SQLite file, e.g. "newswatch.db" (relative to the config file)')
    db_path = Path(os.path.expanduser(db))
    storage = StorageConfig(database=db_path if db_path.is_absolute() else (base / db_path))

    crawl = _parse_crawl(c, c.table(data.get("crawl"), "crawl"))
    sources = _parse_sources(c, data.get("sources", []))
    sets = _parse_sets(c, data.get("sets", {}))
    topics = _parse_topics(c, data.get("topics", []), dict(sets), base)
    digest = None
    if "digest" in data:
        digest = _parse_digest(c, c.table(data["digest"], "digest"), {t.name for t in topics})
    smtp = None
    if "smtp" in data:
        smtp = _parse_smtp(c, c.table(data["smtp"], "smtp"), base)

    if c.problems:
        raise ConfigError(c.problems, str(path) if path else None)
    return Config(
        path=path, storage=storage, crawl=crawl, sources=sources, topics=topics, digest=digest, smtp=smtp, sets=sets
    )


def _parse_crawl(c: _Checker, t: dict[str, Any]) -> CrawlConfig:
    d = CrawlConfig()
    c.unknown(
        t,
        {
            "user_agent",
            "obey_robots",
            "timeout",
            "max_page_size",
            "concurrency",
            "per_domain",
            "delay",
            "allow_private",
        },
        "crawl",
    )
    ua = c.get(t, "user_agent", "crawl", str, d.user_agent)
    if "\n" in ua or "\r" in ua or not ua.strip():
        c.add("crawl.user_agent", 'must be one non-empty line, e.g. "newswatch/1.0 (+mailto:you@example.org)"')
        ua = d.user_agent
    return CrawlConfig(
        user_agent=ua.strip(),
        obey_robots=c.get(t, "obey_robots", "crawl", bool, d.obey_robots),
        timeout=c.duration(t, "timeout", "crawl", d.timeout, maximum=3600.0),
        max_page_size=c.size(t, "max_page_size", "crawl", d.max_page_size),
        concurrency=c.positive_int(t, "concurrency", "crawl", d.concurrency),
        per_domain=c.positive_int(t, "per_domain", "crawl", d.per_domain),
        delay=_delay(c, t),
        allow_private=c.get(t, "allow_private", "crawl", bool, d.allow_private),
    )


def _delay(c: _Checker, t: dict[str, Any]) -> float:
    value = c.get(t, "delay", "crawl", str, "0s")
    try:
        delay = parse_duration(value)
    except ValueError:
        c.add("crawl.delay", f"{_short(value)} is not a duration; use 0s, 500ms, 2s or 1m")
        return 0.0
    if delay > 3600:
        c.add("crawl.delay", f"{_short(value)} is too long; at most 1h")
        return 0.0
    return delay


_SOURCE_KEYS = {
    "name",
    "kind",
    "url",
    "every",
    "window",
    "follow",
    "follow_css",
    "depth",
    "spider",
    "language",
    "stale_after",
    "title",
}
_KIND_KEYS = {"sitemap": {"window"}, "listing": {"follow", "follow_css", "depth"}, "spider": {"spider"}}


def _parse_sources(c: _Checker, items: Any) -> tuple[SourceConfig, ...]:
    out: list[SourceConfig] = []
    seen: set[str] = set()
    for path, t in c.tables(items, "sources", "source as [[sources]]"):
        c.unknown(t, _SOURCE_KEYS, path)
        name = c.name(t, path, seen, "source")
        kind = c.get(t, "kind", path, str, "feed")
        if kind not in SOURCE_KINDS:
            c.add(f"{path}.kind", f"{kind!r} is not a source kind; use one of {', '.join(SOURCE_KINDS)}")
            kind = "feed"
        for other, keys in _KIND_KEYS.items():
            for key in keys & t.keys():
                if other != kind:
                    c.add(f"{path}.{key}", f'only applies to kind = "{other}" sources')
        url = c.get(t, "url", path, str, "", required=kind != "spider")
        if url and not re.match(r"^https?://[^\s/]+", url, re.I):
            c.add(f"{path}.url", f"{_short(url)} is not an http(s) URL; write it like https://example.org/rss.xml")
        elif url:
            problem = _url_problem(url)
            if problem:
                c.add(f"{path}.url", f"{_short(url)} {problem}")
        follow = c.get(t, "follow", path, str, None)
        if follow is not None:
            try:
                re.compile(follow)
            except re.error as exc:
                c.add(f"{path}.follow", f"is not a valid regular expression: {exc}")
        follow_css = c.get(t, "follow_css", path, str, None)
        if follow_css is not None:
            problem = _css_problem(follow_css)
            if problem:
                c.add(f"{path}.follow_css", problem)
        if kind == "listing" and follow is None and follow_css is None:
            c.add(path, 'a listing source needs follow = "regex of article URLs" or follow_css = "a.selector"')
        spider = c.get(t, "spider", path, str, None)
        if kind == "spider" and not (spider and re.match(r"^[\w.]+:[\w]+$", spider)):
            c.add(f"{path}.spider", 'a spider source needs spider = "package.module:ClassName"')
        language = c.get(t, "language", path, str, None)
        out.append(
            SourceConfig(
                name=name,
                kind=kind,
                url=url,
                every=c.duration(t, "every", path, 900.0, maximum=365 * DAY),
                window=c.duration(t, "window", path, 172800.0),
                follow=follow,
                follow_css=follow_css,
                depth=c.positive_int(t, "depth", path, 1, minimum=0, maximum=10),
                spider=spider,
                language=language.lower() if language else None,
                stale_after=c.duration(t, "stale_after", path, None),  # type: ignore[arg-type]
                title=_title(c, t, path),
            )
        )
    return tuple(out)


def _parse_sets(c: _Checker, t: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(t, dict):
        c.add("sets", 'must be a table of named term sets: [sets] then st_en = "science OR research"')
        return ()
    from crawler.topics import normal_set_name, set_name_problem

    out: list[tuple[str, str]] = []
    # @наука as typed finds "наука" however the config composed its letters, and @china the set "ｃｈｉｎａ" written
    # in full-width letters (a Chinese input method's), as a query reads its words
    normal: dict[str, Any] = {}
    written: dict[str, str] = {}  # each set's name as the config writes it, for the key paths of its problems
    for name, value in t.items():
        same = normal_set_name(name)
        if same in normal:
            first = f"sets.{_shown(written[same])}"
            c.add(
                f"sets.{_shown(name)}",
                f"is the set {same!r} again, defined first as {first}: set names are compared with their letters "
                "composed and full-width forms read as ASCII; keep one of the two (its terms may take the other's)",
            )
        normal.setdefault(same, value)
        written.setdefault(same, name)
    t = normal
    for name, value in t.items():
        problem = set_name_problem(name) or name_problem(name)  # name_problem: no invisible letter in it
        if problem:
            c.add(f"sets.{_shown(written[name])}", f"{problem} (queries write it @name)")
        elif isinstance(value, list) and value and all(isinstance(x, str) and x.strip() for x in value):
            # a list of terms: any of them; an item with a space is a phrase
            for i, item in enumerate(value if c.check_queries else ()):
                problem = _query_problem(_set_item(item), {n: "x" for n in t})
                if problem:
                    c.add(f"sets.{written[name]}[{i}]", problem)
            out.append((name, " OR ".join(_set_item(x) for x in value)))
        elif isinstance(value, list) and not value:
            c.add(
                f"sets.{written[name]}", 'is empty: give at least one term, ["science", "research*"], or remove the set'
            )
        elif isinstance(value, list) and all(isinstance(x, str) for x in value):
            blank = next(i for i, x in enumerate(value) if not x.strip())
            c.add(f"sets.{written[name]}[{blank}]", "is an empty term: write a term or remove it")
        elif not isinstance(value, str) or not value.strip():
            c.add(f"sets.{written[name]}", 'must be a list of terms, ["science", "research*"], or a query string')
        else:
            out.append((name, value))
    known = dict(out)
    for name, text in out if c.check_queries else ():
        problem = _query_problem(text, known)
        if problem:
            c.add(f"sets.{written[name]}", problem)
    return tuple(out)


def _set_item(item: str) -> str:
    item = item.strip()
    if item[0] in '"(@' or " " not in item:
        return item
    return f'"{item}"'


def _parse_topics(
    c: _Checker, items: Any, sets: dict[str, str] | None = None, base: Path | None = None
) -> tuple[TopicConfig, ...]:
    out: list[TopicConfig] = []
    seen: set[str] = set()
    for path, t in c.tables(items, "topics", "topic as [[topics]]"):
        c.unknown(t, {"name", "query", "min_score", "alert_score", "near_score", "title", "model", "features"}, path)
        name = c.name(t, path, seen, "topic")
        query = c.get(t, "query", path, str, "", required=True)
        if query:
            problem = _query_problem(query, sets or {}) if c.check_queries else None
            if problem:
                c.add(f"{path}.query", problem)
            elif sets:
                query = _with_sets(query, sets)
        features = _features(c, t, path, sets or {})
        model = _model(c, t, path, sets or {}, base or Path.cwd())
        min_score, alert, near = _scores(c, t, path, model)
        out.append(
            TopicConfig(
                name=name,
                query=query,
                min_score=min_score,
                alert_score=alert,
                near_score=near,
                title=_title(c, t, path),
                model=model,
                features=features,
            )
        )
    return tuple(out)


MODEL_TOP_SCORE = 10.0  # a model topic's highest score (10 x p); every topic's lowest is 0


def _scores(c: _Checker, t: dict[str, Any], path: str, model: Model | None) -> tuple[float, float | None, float | None]:
    """A topic's min_score, alert_score and near_score, each refused (in one problem) outside what its scores can be:
    a topic scores 0 or more (a rule topic by where its terms hit, 0 for a match of no counted term; a model topic
    10 x p, at most 10)."""
    scale = "a model topic scores 10 x p, 0 to 10" if model is not None else "a rule topic scores 0 or more"
    default = 1.0 if model is None else round(10 * model.threshold, 3)
    allowed = "0 or more" + (" and at most 10" if model is not None else "")
    written = len(c.problems)
    min_score = c.number(t, "min_score", path, None, f"min_score must be {allowed} ({scale})")
    if min_score is None:
        min_score, known = default, len(c.problems) == written  # refused: near_score and alert_score are not held to it
    elif min_score < 0:
        c.add(
            f"{path}.min_score",
            f"{min_score:g} is below 0, the lowest score ({scale}): min_score must be {allowed}; 0 lets through every"
            " story the query holds",
        )
        min_score, known = default, False
    elif model is not None and min_score > MODEL_TOP_SCORE:
        c.add(f"{path}.min_score", f"{min_score:g} is above 10, the highest score of a model topic (10 x p)")
        min_score, known = default, False
    else:
        known = True
    floor = f"min_score {min_score:g}" if known else "min_score"
    below = f" and below {floor}" if known else ""
    alert = c.number(t, "alert_score", path, None, f"alert_score must be at least {floor}")
    if alert is not None and known and alert < min_score:
        c.add(f"{path}.alert_score", f"{alert:g} is below min_score {min_score:g}; raise it or remove it")
        alert = None
    elif alert is not None and model is not None and alert > MODEL_TOP_SCORE:
        c.add(
            f"{path}.alert_score",
            f"{alert:g} is above 10, the highest score of a model topic (10 x p): nothing would be alerted; lower it or"
            " remove it",
        )
        alert = None
    near = c.number(t, "near_score", path, None, f"near_score must be above 0{below}")
    if near is not None and near <= 0:
        encoder = ", its sentence encoder reading each" if model is not None and model.encoder is not None else ""
        c.add(
            f"{path}.near_score",
            f"{near:g} is not above 0: every story the query holds scores 0 or more, so each one below min_score would"
            f" be a near miss{encoder}; near_score must be above 0{below}",
        )
        near = None
    elif near is not None and known and near >= min_score:
        c.add(
            f"{path}.near_score",
            f"{near:g} is not below min_score {min_score:g}: a near miss scores at least near_score and less than"
            " min_score; lower it or remove it",
        )
        near = None
    return min_score, alert, near


def _features(c: _Checker, t: dict[str, Any], path: str, sets: dict[str, str]) -> tuple[str, ...]:
    """A topic's extra candidate features for `topics train`: query expressions."""
    items = c.get(t, "features", path, list, [])
    out = []
    for i, expr in enumerate(items):
        if not isinstance(expr, str) or not expr.strip():
            c.add(
                f"{path}.features[{i}]",
                'must be a query expression in quotes, e.g. "PARTNERS(@china, @russia, @st_any)"',
            )
            continue
        problem = _query_problem(expr, sets) if c.check_queries else None
        if problem:
            c.add(f"{path}.features[{i}]", problem)
        out.append(expr)
    return tuple(out)


def _model(c: _Checker, t: dict[str, Any], path: str, sets: dict[str, str], base: Path) -> Model | None:
    """A topic's model file, read and checked against the config's sets; None without one (or when broken)."""
    ref = c.get(t, "model", path, str, None)
    if not ref:
        if ref == "":
            c.add(f"{path}.model", "is empty; name a model file (relative to the config) or remove the key")
        return None
    if not c.models:
        return None
    from crawler.model import ModelError, bind, load_model

    try:
        model = load_model(ref, base)
    except ModelError as exc:
        c.add(f"{path}.model", str(exc))
        return None
    if model.encoder is not None:  # said now, not by the first story it scores (the encoder is not imported here)
        from crawler.encoder import installed_version, missing_message

        if installed_version() is None:
            c.add(f"{path}.model", missing_message(ref))
            return None
    # without check_queries (a crawl child of a checked config) only the cheap check: the model file is not
    # part of the config's text, so it may have changed since
    problem = _model_problem(model, tuple(sets.items())) if c.check_queries else _unknown_set(model, sets)
    if problem:
        c.add(
            f"{path}.model",
            f"{problem}; define the set under [sets], or retrain the model with 'newswatch topics train'",
        )
        return None
    return bind(model, sets)


def _unknown_set(model: Model, sets: dict[str, str]) -> str | None:
    from crawler.topics import set_references

    for what, expression in model.expressions():
        for name in set_references(expression):
            if name not in sets:
                return f"{what} ({expression}) uses @{name}, which [sets] does not define"
    return None


@functools.lru_cache(maxsize=64)
def _model_problem(model: Model, sets: tuple[tuple[str, str], ...]) -> str | None:
    """Why a model's features do not compile with these sets, or None; remembered like ``_compile_problem``."""
    from crawler.model import feature_problem

    return feature_problem(model, dict(sets))


def _with_sets(query: str, sets: dict[str, str]) -> str:
    """The query with the definitions of the sets it uses in front, so it compiles on its own."""
    from crawler.topics import with_definitions

    return with_definitions(query, sets)


def _query_problem(query: str, sets: dict[str, str] | None = None) -> str | None:
    return _compile_problem(query, tuple((sets or {}).items()))


@functools.lru_cache(maxsize=8192)
def _compile_problem(query: str, sets: tuple[tuple[str, str], ...]) -> str | None:
    """Why the query does not compile, or None; remembered, as a process may load one config many times."""
    try:
        from crawler.topics import compile_query
    except ImportError:  # the query language lands with the topics module
        return None
    from crawler.errors import QuerySyntaxError

    try:
        compile_query(query, dict(sets) if sets else None)
    except QuerySyntaxError as exc:
        return str(exc)
    return None


def _parse_digest(c: _Checker, t: dict[str, Any], topic_names: set[str]) -> DigestConfig:
    d = DigestConfig()
    c.unknown(
        t,
        {
            "schedule",
            "timezone",
            "send_empty",
            "subject",
            "max_age",
            "max_stories",
            "include_alerted",
            "recipients",
            "translate_url",
            "contact",
        },
        "digest",
    )
    schedule = c.get(t, "schedule", "digest", str, d.schedule)
    problem = _cron_problem(schedule)
    if problem:
        c.add("digest.schedule", problem)
    tz = c.get(t, "timezone", "digest", str, d.timezone)
    try:
        if len(tz) > 64:  # the longest IANA name has 32 characters
            raise ValueError(tz)
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        c.add("digest.timezone", f'{_short(tz)} is not a time zone; use an IANA name like "Europe/Moscow" or "UTC"')
        tz = d.timezone
    subject = c.get(t, "subject", "digest", str, d.subject)
    if "\n" in subject or "\r" in subject:
        c.add("digest.subject", "must be one line")
    else:
        problem = _subject_problem(subject)
        if problem:
            c.add("digest.subject", problem)
            subject = d.subject
    recipients: list[Recipient] = []
    for path, r in c.tables(t.get("recipients", []), "digest.recipients", "as [[digest.recipients]]"):
        c.unknown(r, {"email", "topics"}, path)
        email = c.get(r, "email", path, str, "", required=True)
        if email and not valid_address(email):
            c.add(f"{path}.email", f"{email!r} is not an email address; write a bare address like analyst@example.org")
        topics = [normal_name(x) if isinstance(x, str) else x for x in c.get(r, "topics", path, list, [])]
        for j, name in enumerate(topics):
            if not isinstance(name, str) or name not in topic_names:
                known = ", ".join(sorted(topic_names)) or "none defined"
                hint = did_you_mean(name, topic_names) if isinstance(name, str) else ""
                c.add(
                    f"{path}.topics[{j}]",
                    f"{name!r} is not a topic name{'; ' + hint if hint else ' '}(topics: {known})",
                )
        recipients.append(Recipient(email=email, topics=tuple(x for x in topics if isinstance(x, str))))
    return DigestConfig(
        schedule=schedule,
        timezone=tz,
        send_empty=c.get(t, "send_empty", "digest", bool, d.send_empty),
        subject=subject,
        max_age=c.duration(t, "max_age", "digest", d.max_age),
        max_stories=c.positive_int(t, "max_stories", "digest", d.max_stories),
        include_alerted=c.get(t, "include_alerted", "digest", bool, d.include_alerted),
        recipients=tuple(recipients),
        translate_url=_translate_url(c, t),
        contact=_contact(c, t),
    )


def _title(c: _Checker, t: dict[str, Any], path: str) -> str | None:
    """An optional display name: one line of text."""
    title = c.get(t, "title", path, str, None)
    if title is not None and (not title.strip() or "\n" in title or len(title) > 120):
        c.add(f"{path}.title", "must be one non-empty line of at most 120 characters")
        return None
    return title.strip() if title else None


def _translate_url(c: _Checker, t: dict[str, Any]) -> str | None:
    """digest.translate_url: an http(s) URL template with {url} (and optionally {lang})."""
    value = c.get(t, "translate_url", "digest", str, None)
    if value is None:
        return None
    if not re.match(r"^https?://[^\s/]+", value) or "{url}" not in value:
        c.add(
            "digest.translate_url",
            'must be an http(s) URL with {url} in it, e.g. "https://translate.google.com/translate?sl=auto&tl=en&u={url}"',
        )
        return None
    try:
        value.format(url="x", lang="ru")
    except (KeyError, IndexError, ValueError):
        c.add("digest.translate_url", "may use only {url} and {lang} (write {{ and }} for literal braces)")
        return None
    return value


def _contact(c: _Checker, t: dict[str, Any]) -> str | None:
    """digest.contact: a mailbox someone reads, as an address or a mailto: URL; kept as the bare address."""
    value = c.get(t, "contact", "digest", str, None)
    if value is None:
        return None
    address = value.strip()
    if address[:7].lower() == "mailto:":
        address = address[7:]
    if address.startswith("<") and address.endswith(">"):  # as List-Unsubscribe writes it: the address inside
        address = address[1:-1].strip()
    # exactly the address the mail parser reads in it: not "ops @example.org", "ops@example.org," or
    # "<ops@example.org>" left in brackets, each kept as written into the mailto: URL and the closing lines
    if (
        not valid_address(address)
        or parseaddr(address)[1] != address
        or "?" in address
        or "%" in address
        or not address.isprintable()
    ):
        c.add(
            "digest.contact",
            f"{_short(value)} is not an email address; write the address of whoever edits "
            '[[digest.recipients]], like "ops@example.org" or "mailto:ops@example.org"',
        )
        return None
    return address


def _url_problem(url: str) -> str | None:
    """Why an http(s) URL cannot be fetched as written (a port out of range, no host, spaces), or None."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if not parts.hostname:
        return "has no host name; write it like https://example.org/rss.xml"
    if any(ch.isspace() for ch in url):
        return "contains spaces; percent-encode them (%20)"
    return None


def _css_problem(selector: str) -> str | None:
    """Why a CSS selector cannot be used for follow_css (checked with the selector library Scrapy uses)."""
    try:
        from cssselect import GenericTranslator, SelectorError
    except ImportError:
        return None
    try:
        GenericTranslator().css_to_xpath(selector)
    except SelectorError as exc:
        return f'{_short(selector)} is not a valid CSS selector ({exc}); e.g. "a.headline" or "h2 a"'
    return None


def _subject_problem(subject: str) -> str | None:
    """Why the subject template cannot be formatted, or None: only {count}, {near}, {topics} and {date}."""
    fix = "use {count}, {near}, {topics} or {date} (write {{ and }} for literal braces)"
    try:
        fields = list(string.Formatter().parse(subject))
    except ValueError as exc:
        return f"is not a valid template ({exc}); {fix}"
    for _text, name, spec, _conversion in fields:
        if name is None:
            continue
        if name not in ("count", "near", "topics", "date"):
            return f"has the placeholder {{{_short(name, 30)}}}; {fix}"
        if spec and (len(spec) > 10 or "{" in spec or re.search(r"\d{4}", spec)):
            return f"has the format {_short(spec, 30)} for {{{name}}}; keep it short, e.g. {{count:d}}"
    try:
        subject.format(count=1, near=1, topics="topic", date="2026-01-01")
    except (ValueError, TypeError) as exc:
        return f"cannot be formatted ({exc}); {fix}"
    return None


def _cron_problem(expr: str) -> str | None:
    fields = expr.split()
    if len(fields) != 5:
        return f'{expr!r} is not a cron expression; use five fields: minute hour day month weekday, e.g. "0 7 * * *"'
    try:
        from apscheduler.triggers.cron import CronTrigger

        CronTrigger.from_crontab(expr)
    except ValueError as exc:
        return f'{expr!r} is not a valid cron expression ({exc}); e.g. "0 7 * * *" for 07:00 daily'
    return None


# Controls, line/paragraph separators, bidi embeddings/overrides/isolates and BOM: never in an address.
_ADDRESS_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")


def valid_address(value: str, *, display_name: bool = False) -> bool:
    """An e-mail address: one '@' with something on each side, no control characters; a display
    name ("newswatch <alerts@example.org>") only where ``display_name`` allows it (the sender)."""
    if _ADDRESS_UNSAFE.search(value) or len(value) > 320 or len(getaddresses([value])) != 1:
        return False  # "a@x, b@y" is two addresses, not one
    name, addr = parseaddr(value)
    if name and not display_name:
        return False
    return bool(addr) and addr.count("@") == 1 and all(addr.split("@"))


def ascii_address(address: str) -> str:
    """The address as mail without SMTPUTF8 carries it (envelope and headers): an internationalized domain (пример.рф) in its ASCII
    form (xn--e1afmkfd.xn--p1ai), so that only a non-ASCII part before the '@' needs the server's SMTPUTF8."""
    local, at, domain = address.rpartition("@")
    if not at or domain.isascii():
        return address
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:
        return address


def _parse_smtp(c: _Checker, t: dict[str, Any], base: Path) -> SmtpConfig:
    d = SmtpConfig()
    if "password" in t:
        c.add(
            "smtp.password",
            "passwords are never read from the config file; set password_env "
            "(an environment variable's name), password_file, or systemd's LoadCredential=smtp-password",
        )
        t = {k: v for k, v in t.items() if k != "password"}
    c.unknown(t, {"host", "port", "security", "username", "password_env", "password_file", "sender", "timeout"}, "smtp")
    security = c.get(t, "security", "smtp", str, d.security)
    if security not in SMTP_SECURITY:
        c.add(
            "smtp.security",
            f"{security!r} is not one of {', '.join(SMTP_SECURITY)}: starttls upgrades a plain connection (port 587), "
            "tls is implicit TLS from the start (port 465; what some call SSL)",
        )
        security = d.security
    default_port = {"none": 25, "starttls": 587, "tls": 465}[security]
    port = c.get(t, "port", "smtp", int, default_port)
    if not 0 < port < 65536:
        c.add("smtp.port", f"{port} is not a TCP port (1-65535)")
    sender = c.get(t, "sender", "smtp", str, d.sender)
    if not valid_address(sender, display_name=True):
        c.add("smtp.sender", f'{sender!r} is not an address; write it like "newswatch <alerts@example.org>"')
    pw_file = c.get(t, "password_file", "smtp", str, None)
    pw_path = None
    if pw_file:
        pw_path = Path(os.path.expanduser(pw_file))
        pw_path = pw_path if pw_path.is_absolute() else base / pw_path
    return SmtpConfig(
        host=c.get(t, "host", "smtp", str, d.host),
        port=port,
        security=security,
        username=c.get(t, "username", "smtp", str, None),
        password_env=c.get(t, "password_env", "smtp", str, d.password_env),
        password_file=pw_path,
        sender=sender,
        timeout=c.duration(t, "timeout", "smtp", d.timeout, maximum=3600.0),
    )
