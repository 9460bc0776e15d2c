"""Build crawler/data/abbreviations.json: the abbreviations whose full stop may not end a sentence.

Run: python tools/build_abbreviations.py   (needs: pip install razdel pysbd)

A full stop after an abbreviation ends a sentence or not depending on the abbreviation, as the
rule-based sentence segmenters decide it:
- "before": an abbreviation that stands before what it names (a title, a kind of place or a
  reference: Prof. Wang, акад. Петров, г. Димитровград, ул. Ленина, см. рис.) never ends one;
- "after": one that follows what it qualifies (a unit, a year, a company form: 5 тыс., 2030 г.,
  Univ., Inc.) ends one before a capitalised word, and not before a digit or a lowercase word.
An abbreviation in both lists (г. город / 2030 г. год, с. село / 287 с. страниц) is an "after" one
right after a number and a "before" one elsewhere. Pairs (т. е., и т. д.) are written "т.е", "т.д".
- "months": the "after" ones that shorten a month's name (Jan., Sept.): a date a sentence may open with
  ("In Jan. China and Russia ...", as "В 2024 г. Россия ..."), where its full stop ends nothing. They are
  the listed abbreviations that are the start of a month's name and shorter than it ("May" is the name).

Sources (the lists are read from the installed packages, nothing else is typed by hand except
EXTRA_BEFORE below):
- Russian (the Cyrillic ones): razdel (natasha, MIT), ``razdel.segmenters.sokr``: HEAD_SOKRS,
  HEAD_PAIR_SOKRS and the initials list are "before"; TAIL_SOKRS, OTHER_SOKRS, TAIL_PAIR_SOKRS and
  OTHER_PAIR_SOKRS "after";
- English (the Latin ones): pysbd (MIT, the Golden Rules segmenter), ``pysbd.lang.common.standard``:
  PREPOSITIVE_ABBREVIATIONS are "before", the other ABBREVIATIONS "after" (NUMBER_ABBREVIATIONS
  among them: No. 5 goes on before its digit, "they say no. Usually" ends).

The runtime reads only the compact JSON this writes; the packages above are not dependencies.
"""

from __future__ import annotations

import calendar
import json
import locale
import re
import sys
from collections.abc import Iterable
from importlib.metadata import version
from pathlib import Path

from pysbd.lang.common.standard import Standard
from razdel.segmenters import sokr

OUT = Path(__file__).resolve().parent.parent / "crawler" / "data" / "abbreviations.json"

# English forms of titles the Russian list has (акад., чл.-корр.) that science copy translated from
# Russian keeps: "Acad. Ivanov", "RAS Corr. Member", and "Assoc. Prof."
EXTRA_BEFORE = ("acad", "assoc", "corr")


def _cyrillic(words: Iterable[str]) -> set[str]:
    return {w for w in words if re.fullmatch(r"[а-яё.]+", w)}


def _pairs(pairs: Iterable[tuple[str, ...]]) -> set[str]:
    return {".".join(p) for p in pairs if len(p) == 2}


def build() -> dict[str, object]:
    english = Standard.Abbreviation
    before = _cyrillic(sokr.HEAD_SOKRS | _pairs(sokr.HEAD_PAIR_SOKRS) | sokr.INITIALS)
    after = _cyrillic(sokr.TAIL_SOKRS | sokr.OTHER_SOKRS | _pairs(sokr.TAIL_PAIR_SOKRS | sokr.OTHER_PAIR_SOKRS))
    prepositive = {a.lower() for a in english.PREPOSITIVE_ABBREVIATIONS}
    before |= prepositive | set(EXTRA_BEFORE)
    after |= {a.lower() for a in english.ABBREVIATIONS} - prepositive
    locale.setlocale(locale.LC_TIME, "C")  # the months' English names
    names = [m.lower() for m in calendar.month_name if m]
    months = {a for a in after if len(a) >= 3 and any(n.startswith(a) and n != a for n in names)}
    return {
        "source": f"razdel {version('razdel')} (Russian), pysbd {version('pysbd')} (English); "
        "tools/build_abbreviations.py",
        "before": sorted(before),
        "after": sorted(after),
        "months": sorted(months),
    }


def main() -> int:
    data = build()
    tmp = OUT.with_suffix(".tmp")
    text = (
        "{\n" + ",\n".join(f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in data.items()) + "\n}\n"
    )
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(OUT)
    print(f"{OUT}: {len(data['before'])} before, {len(data['after'])} after, {len(data['months'])} months")  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
