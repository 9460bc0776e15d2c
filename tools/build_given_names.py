"""Build crawler/data/given_names.json: the place names of places.json that are also given names.

Run: python tools/build_given_names.py   (needs: pip install pymorphy3 pymorphy3-dicts-ru gender-guesser)

A city named like a person (Vladimir, Владимир, Артём) is a person when a surname or a patronymic
follows it (Vladimir Putin, Владимир Владимирович); any other place name followed by a capitalised
word is still the place (the Moscow Kremlin, Beijing Haidian). A city named like a surname (Королёв,
Киров, Николаев, Ivanov), or whose stem is a surname (Иваново, Пушкино: the matcher finds Иванова and Пушкин by
it), is a person after a first name or before initials (Сергей Королёв, Нина Иванова, Королёв С. П.): those are
listed under "surnames". Sources, nothing typed by hand:
- Cyrillic names: the OpenCorpora dictionary through pymorphy3, where the word's nominative singular
  is tagged as a given name (Name);
- Latin names: gender-guesser's list of first names (Jörg Michael's nam_dict, names of many countries);
- surnames: the OpenCorpora dictionary's Surn tag, for a Latin name through its BGN/PCGN reading in
  Cyrillic (Ivanov -> Иванов).

The runtime reads only the JSON this writes; the packages above are not dependencies.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import gender_guesser.detector
import pymorphy3
from build_places import bgn_to_cyrillic

from crawler import textnorm  # the matcher's own stemmer (build_places puts the project on the path)

ROOT = Path(__file__).resolve().parents[1]
PLACES = ROOT / "crawler" / "data" / "places.json"
OUT = ROOT / "crawler" / "data" / "given_names.json"


def _stem(name: str) -> str:
    tokens = textnorm.tokenize(name)
    return tokens[0][1] if len(tokens) == 1 else name


def _is_surname(morph: pymorphy3.MorphAnalyzer, word: str) -> bool:
    """A word of the dictionary whose nominative singular is tagged as a surname (Иванов, Королёв)."""
    folded = word.replace("ё", "е")
    return morph.word_is_known(word) and any(
        "Surn" in p.tag and "sing" in p.tag and "nomn" in p.tag and p.word.replace("ё", "е") == folded
        for p in morph.parse(word)
    )


def main() -> int:
    countries = json.loads(PLACES.read_text(encoding="utf-8"))["countries"]
    morph = pymorphy3.MorphAnalyzer()
    latin = gender_guesser.detector.Detector()
    names: set[str] = set()
    surnames: set[str] = set()
    for place in countries.values():
        for kind in ("city", "region"):
            for name in place.get(kind, []):
                if " " in name or "-" in name or not name[:1].isupper():
                    continue
                if "\u0400" <= name[0] <= "\u04ff":
                    # only words of the dictionary: pymorphy3 guesses a tag for unknown ones
                    given = morph.word_is_known(name.lower()) and any(
                        "Name" in p.tag and "sing" in p.tag and "nomn" in p.tag and p.word == name.lower()
                        for p in morph.parse(name)
                    )
                elif name.isascii():
                    given = latin.get_gender(name) != "unknown"
                else:
                    given = False
                if given:
                    names.add(name)
                cyrillic = (
                    name if "\u0400" <= name[0] <= "\u04ff" else bgn_to_cyrillic(name) if name.isascii() else None
                )
                if cyrillic and _is_surname(morph, cyrillic.lower()):
                    surnames.add(name)
                elif cyrillic and len(stem := _stem(cyrillic)) >= 5 and _is_surname(morph, stem):
                    # a place whose stem is a surname's (Иваново: Иванов, Иванова; Пушкино: Пушкин), which the
                    # matcher finds by that stem in the person's name too (Нина Иванова)
                    surnames.add(name)
    # the matcher finds a name by its stem: a spelling with a surname's stem is that surname too
    # (Корольов beside Королёв); a stem of four letters or fewer is too short to say so (Дали, Далян)
    stems = {st for st in map(_stem, surnames) if len(st) >= 5}
    for place in countries.values():
        for kind in ("city", "region"):
            surnames.update(n for n in place.get(kind, []) if " " not in n and _stem(n) in stems)
    tmp = OUT.with_suffix(".tmp")
    tmp.write_text(
        json.dumps(
            {
                "source": "place names of places.json that are given names: OpenCorpora (pymorphy3) Name tags "
                "for Cyrillic, gender-guesser first names for Latin; surnames: OpenCorpora Surn tags (Latin names "
                "through their BGN/PCGN reading); built by tools/build_given_names.py",
                "names": sorted(names),
                "surnames": sorted(surnames),
            },
            ensure_ascii=False,
            indent=0,
        )
        + "\n",
        encoding="utf-8",
    )
    tmp.replace(OUT)
    print(f"{OUT.relative_to(ROOT)}: {len(names)} given names, {len(surnames)} surnames")
    return 0


if __name__ == "__main__":
    sys.exit(main())
