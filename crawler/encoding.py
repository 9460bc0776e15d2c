"""Turn fetched page bytes into text: BOM, HTTP charset, <meta>/XML declaration, then detection.

Every declared charset is distrusted until the bytes decode with it *and* the result looks like
text rather than mojibake, because servers and templates lie (utf-8 headers on cp1251 bytes,
windows-1251 meta tags on koi8-r pages, latin-1 defaults on anything).
"""

from __future__ import annotations

import codecs
import math
import re
from dataclasses import dataclass

from charset_normalizer import from_bytes

from crawler import textnorm

__all__ = ["Decoded", "charset_from_content_type", "decode_html", "normalize_charset", "xml_as_utf8"]


@dataclass(frozen=True)
class Decoded:
    """Decoded page text and how the codec was chosen."""

    text: str
    encoding: str  # Python codec name actually used: 'utf-8', 'cp1251', 'koi8-r', 'gb18030', ...
    source: str  # 'bom' | 'http' | 'meta' | 'xml' | 'detected'


# WHATWG decodes these labels with a superset codec; Python's narrower codecs would fail on
# the characters real pages labelled this way contain (GBK extensions, cp1252 quotes, ...).
_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "gb_2312-80": "gb18030",
    "gb_2312": "gb18030",
    "csgb2312": "gb18030",
    "chinese": "gb18030",
    "iso-ir-58": "gb18030",
    "cp936": "gb18030",
    "euc-cn": "gb18030",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "iso_8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "cp819": "cp1252",
    "ibm819": "cp1252",
    "iso-ir-100": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "ansi_x3.4-1968": "cp1252",
    "iso-8859-9": "cp1254",
    "latin5": "cp1254",
    "iso-8859-11": "cp874",
    "tis-620": "cp874",
    "big5": "big5hkscs",
    "x-x-big5": "big5hkscs",
    "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "windows-31j": "cp932",
    "x-mac-cyrillic": "mac-cyrillic",
    "x-mac-ukrainian": "mac-cyrillic",
    "utf8": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
    "iso-8859-8-i": "iso8859-8",
}

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

_CT_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([^\s"';,]+)""", re.IGNORECASE)
# Prescan like a browser: a <meta charset> or <meta http-equiv content="...charset=..."> near the top.
_META_CHARSET = re.compile(rb"""<meta\b[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9._:()-]+)""", re.IGNORECASE)
_XML_DECL = re.compile(rb"""^\s*<\?xml\b[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""", re.IGNORECASE)
_XML_DECL_ENCODING = re.compile(r"""^(\ufeff?\s*<\?xml\b[^>]*?\bencoding\s*=\s*)(["'])[^"']*\2""")
_COMMENT = re.compile(rb"<!--.*?-->", re.DOTALL)
_PRESCAN_BYTES = 8192

# Fallback candidates when detection has nothing better: the encodings newswatch's languages
# actually arrive in.
_FALLBACKS = ("utf-8", "cp1251", "koi8-r", "gb18030", "big5hkscs", "cp1252")

# Detection proposes many codecs that decode short Cyrillic or Chinese bytes "cleanly" into Greek,
# Hebrew or Thai; codecs outside the ones news in our languages uses must earn their place.
_PRIOR_FREE = frozenset({*_FALLBACKS, "koi8-u", "utf-16-le", "utf-16-be", "cp932", "cp949"})
_OTHER_CODEC_PRIOR = 0.1

# Above this share of suspicious characters (relative to non-ASCII ones) a decoding is mojibake.
_MAX_PENALTY = 0.2
# Texts are judged on a bounded sample so a 200 KB page costs the same as a small one.
_SAMPLE_CHARS = 4_000
_SAMPLE_WINDOWS = 4


def charset_from_content_type(content_type: str | None) -> str | None:
    """The charset label of a Content-Type header value, lower-cased, or None."""
    if not content_type:
        return None
    match = _CT_CHARSET.search(content_type)
    return match.group(1).strip().lower() if match else None


def normalize_charset(label: str | None) -> str | None:
    """Map a charset label to the Python codec that decodes it as browsers do, or None if unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = _SUPERSETS.get(label, label)
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    # Normalise Python's aliases to the names we speak of (gb2312 -> gb18030 etc. once more).
    name = _SUPERSETS.get(name, name)
    if name in {"utf-16", "utf-32", "utf-32-le", "utf-32-be"}:
        # WHATWG: a BOM-less "utf-16" label means little-endian; utf-32 is not a web encoding.
        return "utf-16-le" if name == "utf-16" else None
    return codecs.lookup(name).name


def decode_html(body: bytes, content_type: str | None) -> Decoded:
    """Decode a page deliberately; a lying charset is recovered, never returned as mojibake."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            text = _strict(body[len(bom) :], codec)
            if text is not None:
                return Decoded(text, codec, "bom")
            body = body[len(bom) :]
            break

    tried: set[str] = set()
    declared = [
        (normalize_charset(charset_from_content_type(content_type)), "http"),
        *_declared_in_document(body),
    ]
    for codec, source in declared:
        if codec is None or codec in tried:
            continue
        tried.add(codec)
        text = _strict(body, codec)
        if text is not None and _plausible(body, codec, text):
            return Decoded(text, codec, source)

    return _detect(body, tried)


def xml_as_utf8(text: str) -> bytes:
    """Decoded XML as UTF-8 bytes whose declaration says so, for a parser that reads bytes; a numeric character
    reference to no character (a surrogate, '&#xD800;', past U+10FFFF, or NUL) is U+FFFD's: feedparser's fallback
    parser raised on one (UnicodeEncodeError, ValueError, OverflowError), and lxml's recovery let it through as bytes
    that are no UTF-8, so one such reference in one entry failed the whole feed or sitemap at every poll."""
    if "&#" in text:
        text = _CHAR_REF.sub(_no_char_ref, text)
    return _XML_DECL_ENCODING.sub(r"\1\2utf-8\2", text, count=1).encode("utf-8")


def html_char_refs(html: str) -> str:
    """A decoded page with no numeric character reference to a control character (but tab, line feed and carriage
    return) nor to U+FFFE or U+FFFF, which the extractor's tree may not hold ('All strings must be XML compatible'):
    lxml made '&#x1B;' that character, and the extractor found no text in the whole page. A terminal's escape
    sequence written with them ('&#27;[2J') or with the characters themselves (ESC, or C1's CSI) goes whole, as
    ``visible`` takes one: the extractor drops a control character and left the rest ('[31m', ']0;owned') in the
    title and text; other such references go (a browser shows nothing of them; a vertical tab or form feed is a
    space); one to no character is U+FFFD's, as a browser reads it. A page's references may go without their ';'."""
    if "&#" not in html and "\x1b" not in html and "\x9b" not in html:
        return html
    return _HTML_CHAR_REF.sub(_html_char_ref, _HTML_ESCAPES.sub("", html))


_CHAR_REF = re.compile(r"&#(?:[xX]([0-9A-Fa-f]+)|([0-9]+));")
_HTML_CHAR_REF = re.compile(r"&#(?:[xX]([0-9A-Fa-f]+)|([0-9]+));?")
_ESC, _BEL = r"(?:\x1b|&#0*27;?|&#[xX]0*1[bB];?)", r"(?:\x07|&#0*7;?|&#[xX]0*7;?)"
_HTML_ESCAPES = re.compile(
    rf"{_ESC}\[[0-;=?]*[ -/]*[@-~]|{_ESC}\][^\x07\x1b<&]*(?:{_BEL}|{_ESC}\\)|\x9b[0-;=?]*[ -/]*[@-~]"
)


def _ref_value(match: re.Match[str]) -> int:
    digits = match.group(1) or match.group(2)
    if len(digits.lstrip("0")) > 8:
        return -1
    return int(match.group(1), 16) if match.group(1) else int(match.group(2))


def _no_char_ref(match: re.Match[str]) -> str:
    value = _ref_value(match)
    return "&#xFFFD;" if value <= 0 or 0xD800 <= value <= 0xDFFF or value > 0x10FFFF else match.group(0)


def _html_char_ref(match: re.Match[str]) -> str:
    value = _ref_value(match)
    if value <= 0 or 0xD800 <= value <= 0xDFFF or value > 0x10FFFF:
        return "&#xFFFD;"
    if value in (0x0B, 0x0C):
        return " "
    if (value < 0x20 and value not in (0x09, 0x0A, 0x0D)) or value in (0xFFFE, 0xFFFF):
        return ""
    return match.group(0)


def visible(text: str) -> str:
    """``text`` as a reader sees it: without a terminal's escape sequences (CSI, OSC up to BEL or ST, as newswatch
    search's terminal_safe reads them: their parameters are no text of a story) nor control characters (but tab,
    line feed and carriage return; a vertical tab or form feed is a space), DEL, C1 controls, U+FFFE and U+FFFF,
    each lone surrogate a U+FFFD. What a stored title or text holds: a control character showed in the digest, the
    export and search ('&#x1B;' an escape sequence on a terminal)."""
    if not _INVISIBLE.search(text):
        return text
    return _INVISIBLE.sub(_seen_as, _ESCAPES.sub("", text))


_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x9b[0-?]*[ -/]*[@-~]")
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff]")


def _seen_as(match: re.Match[str]) -> str:
    char = match.group(0)
    if "\ud800" <= char <= "\udfff":
        return "\ufffd"
    return " " if char in "\x0b\x0c" else ""


def _declared_in_document(body: bytes) -> list[tuple[str | None, str]]:
    head = body[:_PRESCAN_BYTES]
    found: list[tuple[str | None, str]] = []
    xml = _XML_DECL.match(head)
    meta = _META_CHARSET.search(_COMMENT.sub(b"", head))
    if meta:
        codec = normalize_charset(meta.group(1).decode("ascii", "replace"))
        # A meta tag read as ASCII cannot truthfully declare UTF-16 (WHATWG says: use UTF-8).
        found.append(("utf-8" if codec and codec.startswith("utf-16") else codec, "meta"))
    if xml:
        found.append((normalize_charset(xml.group(1).decode("ascii", "replace")), "xml"))
    return found


def _strict(body: bytes, codec: str) -> str | None:
    """Decode without errors; an incomplete multibyte sequence cut off at the very end is dropped."""
    try:
        decoder = codecs.getincrementaldecoder(codec)("strict")
        return decoder.decode(body, final=False)
    except (UnicodeDecodeError, LookupError):
        return None


def _plausible(body: bytes, codec: str, text: str) -> bool:
    if codec == "utf-8":
        return True  # random legacy bytes essentially never form valid UTF-8
    if not body.isascii() and _strict(body, "utf-8") is not None:
        return False  # valid UTF-8 with non-ASCII content: any legacy reading of it is mojibake
    return _penalty(text) <= _MAX_PENALTY


def _detect(body: bytes, tried: set[str]) -> Decoded:
    """Rank candidates from charset-normalizer and a fixed list by how much they look like text."""
    if body.isascii():
        return Decoded(body.decode("ascii"), "utf-8", "detected")
    candidates: list[str] = []
    try:
        # The detector's cost grows with input; 64 KB is plenty to rank codecs.
        for match in from_bytes(body[:65_536], steps=5, chunk_size=512):
            codec = normalize_charset(match.encoding)
            if codec and codec not in candidates:
                candidates.append(codec)
    except Exception:  # noqa: BLE001, S110 - detection is advisory; the fixed list still applies
        pass
    for codec in _FALLBACKS:
        if codec not in candidates:
            candidates.append(codec)
    # Declared-but-rejected codecs stay in the race: with rank below the rest they only win
    # when nothing else decodes better.
    candidates += [c for c in tried if c not in candidates]

    utf8_valid = _strict(body, "utf-8") is not None
    clean: list[tuple[float, str, str]] = []
    lossy: list[tuple[float, str, str]] = []
    for rank, codec in enumerate(candidates):
        if utf8_valid and codec != "utf-8":
            continue
        text = _strict(body, codec)
        if text is not None:
            score = _penalty(text) + _cyrillic_unlikelihood(text) + _prior(codec) + rank * 1e-3
            (clean if score <= _MAX_PENALTY else lossy).append((score, codec, text))
            continue
        try:
            text = body.decode(codec, errors="replace")
        except LookupError:
            continue
        # A few replaced bytes in otherwise good text (a corrupt byte in a UTF-8 page) beat a
        # clean decoding that is mojibake throughout.
        sample = _sample(text)
        bad = sample.count("\ufffd") / max(1, len(sample) - len(sample.encode("ascii", "ignore")))
        lossy.append((_penalty(text) + 10 * bad + _prior(codec) + rank * 1e-3, codec, text))
    _, codec, text = min(clean or lossy)
    return Decoded(text, codec, "detected")


def _prior(codec: str) -> float:
    return 0.0 if codec in _PRIOR_FREE else _OTHER_CODEC_PRIOR


# ---------------------------------------------------------------------------------------------
# Plausibility: signs that text was decoded with the wrong codec.

_NON_ASCII = re.compile(r"[^\x00-\x7f]")
# Controls, box drawing, private use, half-width katakana: what wrong codecs produce, not writers.
_BAD = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\u2320\u2321\u2219\u2500-\u259f\ue000-\uf8ff\ufffd\uff61-\uff9f]")
_CYR_UPPER = re.compile(r"[\u0400-\u042f]+")
_CYR_LOWER = re.compile(r"[\u0430-\u045f]+")
# Lower-case followed by upper-case inside a word: 'пРИВЕТ' is koi8-r read as cp1251.
_CYR_FLIP = re.compile(r"[\u0430-\u045f][\u0400-\u042f]")
# A Cyrillic letter next to a Latin letter ('podpisaі' is Polish read as cp1251), or next to a sign that mojibake produces there
# ('÷≥нхуа' is cp1251 read as mac-cyrillic): no real word mixes those.
_ODD_NEIGHBOURS = (
    "A-Za-z\u00a4\u00a6\u00ac\u00b5\u00b6\u00c0-\u00d6\u00d8-\u00f6\u00f7\u00f8-\u00ff\u0192\u2020\u2021"
    "\u2022\u2030\u20ac\u2122\u2202\u2206\u2211\u221a\u221e\u2248\u2260\u2264\u2265"
)
_CYR_MIXED = re.compile(f"[\u0400-\u045f][{_ODD_NEIGHBOURS}]|[{_ODD_NEIGHBOURS}][\u0400-\u045f]")
_LATIN1_CLASS = "\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff"
_LATIN_WORD = re.compile(f"[A-Za-z{_LATIN1_CLASS}]*[{_LATIN1_CLASS}][A-Za-z{_LATIN1_CLASS}]*")
_LATIN1_LETTER = re.compile(r"[\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff]+")
_HAN = re.compile(f"[{textnorm.HAN_CHARS}]")
_KANA = re.compile(f"[{textnorm.KANA_CHARS}]+")
_HANGUL = re.compile(r"[\uac00-\ud7af]+")
# A letter-like sign inside a Latin word: 'podpisa³' is cp1250 read as cp1252.
_LATIN_SIGN = re.compile(
    r"[A-Za-z\u00c0-\u00ff][\u00a4\u00a6\u00a8\u00ac\u00af\u00b1-\u00b4\u00b6\u00b8\u00b9\u00bc-\u00be]"
)
_MAX_HAN_SAMPLE = 4000


def _common_han() -> frozenset[str]:
    """Frequently used Han characters: GB2312 level 1 (simplified) and Big5 level 1 (traditional)."""
    chars: set[str] = set()
    for lead in range(0xB0, 0xD8):
        for trail in range(0xA1, 0xFF):
            try:
                chars.add(bytes((lead, trail)).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    for lead in range(0xA4, 0xC7):
        for trail in [*range(0x40, 0x7F), *range(0xA1, 0xFF)]:
            if lead == 0xC6 and trail > 0x7E:
                break
            try:
                chars.add(bytes((lead, trail)).decode("big5"))
            except UnicodeDecodeError:
                pass
    return frozenset(chars)


_COMMON_HAN = _common_han()


def _sample(text: str) -> str:
    """A few windows of text starting at non-ASCII characters: enough evidence, bounded cost."""
    if len(text) <= _SAMPLE_CHARS:
        return text
    window = _SAMPLE_CHARS // _SAMPLE_WINDOWS
    parts: list[str] = []
    end = 0
    for i in range(_SAMPLE_WINDOWS):
        start = max(end, len(text) * i // _SAMPLE_WINDOWS)
        match = _NON_ASCII.search(text, start)
        if match is None:
            break
        end = match.start() + window
        parts.append(text[match.start() : end])
    return "\n".join(parts)


def _count(pattern: re.Pattern[str], text: str) -> int:
    """How many times ``pattern`` matches in ``text``."""
    return len(pattern.findall(text))


def _chars(pattern: re.Pattern[str], text: str) -> int:
    """How many characters of ``text`` fall in ``pattern``, a character class with '+'."""
    return len(text) - len(pattern.sub("", text))


def _penalty(text: str) -> float:
    """Share of suspicious characters among non-ASCII ones: ~0 for real text, large for mojibake."""
    text = _sample(text)
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    if not non_ascii:
        return 0.0
    suspicious = 5 * _count(_BAD, text)

    upper, lower = _chars(_CYR_UPPER, text), _chars(_CYR_LOWER, text)
    if upper + lower:
        # Real Cyrillic text is mostly lower-case; swapped-case codecs make it mostly upper-case.
        suspicious += 3 * _count(_CYR_FLIP, text) + max(0, upper - lower)
        suspicious += 2 * _count(_CYR_MIXED, text)

    suspicious += 3 * _count(_LATIN_SIGN, text)
    latin1 = _chars(_LATIN1_LETTER, text)
    if latin1:
        # In French or German an accented letter is a minority in its word; in cp1251 read as
        # cp1252 ('Ðîññèÿ') every letter is one.
        in_words = letters = 0
        for word in _LATIN_WORD.findall(text):
            letters += len(word)
            in_words += _chars(_LATIN1_LETTER, word)
        if letters and in_words / letters > 0.45:
            suspicious += in_words

    han = _HAN.findall(text, 0, len(text))
    if han:
        han = han[:_MAX_HAN_SAMPLE]
        rare = sum(1 for ch in han if ch not in _COMMON_HAN)
        kana, hangul = _chars(_KANA, text), _chars(_HANGUL, text)
        # Kana and Hangul are common by construction; they dilute rare kanji in Japanese text.
        share = rare / (len(han) + kana + hangul + 4)
        if share > 0.1:
            suspicious += rare
        if hangul and len(han) > 0.2 * (len(han) + hangul):
            suspicious += len(han)  # modern Korean uses few hanja: this is Chinese read as cp949
    return suspicious / non_ascii


# Russian letter frequencies (per mille), used only to rank Cyrillic readings against each other.
# fmt: off
_RU_FREQ = {
    "о": 110, "е": 85, "а": 80, "и": 74, "н": 67, "т": 63, "с": 55, "р": 47, "в": 45, "л": 44,
    "к": 35, "м": 32, "д": 30, "п": 28, "у": 26, "я": 20, "ы": 19, "ь": 17, "г": 17, "з": 16,
    "б": 16, "ч": 15, "й": 12, "х": 10, "ж": 9, "ш": 7, "ю": 6, "ц": 5, "щ": 4, "э": 3, "ф": 3,
    "ъ": 1, "ё": 1,
}
# fmt: on
# Ukrainian and Belarusian letters, so those texts are not mistaken for a permuted alphabet.
_RU_FREQ.update(dict(zip("іїєґў", (50, 6, 4, 1, 10))))
_RU_SURPRISE = {ch: -math.log(freq / 1000) for ch, freq in _RU_FREQ.items()}
_UNKNOWN_SURPRISE = -math.log(0.5 / 1000)
_CYR_LETTERS = re.compile(r"[\u0400-\u045f]+")


def _cyrillic_unlikelihood(text: str) -> float:
    """Mean surprise of Cyrillic letters under Russian frequencies, scaled to a small tie-breaker."""
    sample = _sample(text).lower()
    total = _chars(_CYR_LETTERS, sample)
    if total < 8:
        return 0.0
    known = 0
    surprise = 0.0
    for ch, cost in _RU_SURPRISE.items():
        n = sample.count(ch)
        known += n
        surprise += n * cost
    surprise += (total - known) * _UNKNOWN_SURPRISE
    # Real Russian averages ~3.3 nats; a permuted alphabet 4+; other Cyrillic languages in between.
    return max(0.0, surprise / total - 3.0) * 0.05
