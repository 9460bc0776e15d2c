"""Language detection and token normalization shared by topic matching and the search index.

Language comes from the script (Han/kana, Hangul, Cyrillic with Ukrainian letters), then from
the page's or feed's own tag when it fits the script; Latin text without one is classified with
py3langid (the detector trafilatura uses), and stays unknown (None) when it is unsure.

Words (Latin, Cyrillic, digits, other alphabets) are runs of letters and digits; hyphens,
apostrophes and punctuation split them, so "российско-китайский" and "China-Russia" are two
tokens each.  Each word is folded (NFKC, casefold, ё→е, Latin diacritics removed) and stemmed
with Snowball (Russian for Cyrillic words, English for Latin ones).

Chinese and Japanese have no spaces, so runs of Han/kana characters become overlapping
character bigrams, one token per character position: "中俄科技" → 中俄 俄科 科技 技 (the last
character of a run is a unigram).  Every character therefore starts exactly one token, a
query "科技合作" is the phrase 科技 技合 合作, and a one-character query is a token prefix.
No dictionary is loaded.

The search index stores the folded surface forms (``index_tokens``), never stems: Snowball
stems are prefixes of the folded word for Russian, and nearly so for English, so topic
queries become FTS5 prefix queries over them (see ``fts_prefix``).
"""

from __future__ import annotations

import contextlib
import functools
import operator
import os
import re
import threading
import unicodedata
from array import array
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache
from itertools import accumulate, repeat
from typing import TYPE_CHECKING, Any, NamedTuple

import Stemmer

if TYPE_CHECKING:
    from pathlib import Path

# FTS5 tokenizer for index_tokens() columns: 'ascii' splits only on ASCII non-alphanumerics
# (our tokens hold none) and treats every non-ASCII character as part of a token, so FTS5
# sees exactly our tokens, CJK bigrams included.
INDEX_TOKENIZE = "ascii"

LEAD_CHARS = 300  # the "lead" of an article: its first characters, weighted above the body

_MARKS = "\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
# Character-class bodies (for [...] in a regex), the one definition of these scripts' ranges.
HAN_CHARS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
KANA_CHARS = "\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f"
CJK_CHARS = "\u3005" + KANA_CHARS + HAN_CHARS  # written without spaces: tokenized as character bigrams
# A word: letters/digits but not CJK, with any combining marks inside it.
_WORD = f"[^\\W_{CJK_CHARS}]+(?:[{_MARKS}]+[^\\W_{CJK_CHARS}]*)*"
# One pass finds CJK runs (group 1) and other words (group 2).
_TOKEN_RE = re.compile(f"([{CJK_CHARS}]+)|({_WORD})")
# A text without CJK characters is only words and what separates them: split on the words (in C)
_WORD_SPLIT_RE = re.compile(f"({_WORD})")
_CJK_CHAR_RE = re.compile(f"[{CJK_CHARS}]")
# ... and without combining marks, a word is a run of letters and digits: a simpler expression, a faster split
_PLAIN_WORD_SPLIT_RE = re.compile(r"([^\W_]+)")
# ... and without an underscore, simpler still: \w is a letter, a digit or "_" (one class test a character, not two)
_WORD_CHARS_SPLIT_RE = re.compile(r"(\w+)")
_CJK_OR_MARK_RE = re.compile(f"[{CJK_CHARS}{_MARKS}]")
_FIRST, _SECOND = operator.itemgetter(0), operator.itemgetter(1)
_MARKS_RE = re.compile(f"[{_MARKS}]")
_CYRILLIC_RE = re.compile("[\u0400-\u04ff]")
_LATIN_RE = re.compile("[a-z]")

_RU = Stemmer.Stemmer("russian")
_EN = Stemmer.Stemmer("english")
_RU_TRIM = frozenset("аеиоуыэюяйь")

# Token kinds
WORD, CJK, CJK_END = 0, 1, 2


# A token is a plain tuple (tuples are several times cheaper to build than named ones):
#   (surface, stem, start, end, kind)
# surface: folded form, as indexed; stem: Snowball stem for words, the surface for CJK tokens;
# start/end: character offsets in the original string (a CJK token spans its first character);
# kind: WORD, CJK (bigram) or CJK_END (last character of a run).
Token = tuple[str, str, int, int, int]


@lru_cache(maxsize=1 << 17)
def fold_word(raw: str) -> str:
    """Case-, width- and accent-folded form of one word ('' if nothing alphanumeric is left)."""
    if raw.isascii():
        return raw.lower()
    t = unicodedata.normalize("NFKC", raw).casefold().replace("ё", "е")
    if _CYRILLIC_RE.search(t):
        t = _MARKS_RE.sub("", t)  # stress marks; й and ё are already composed/folded
    else:
        t = unicodedata.normalize("NFC", _MARKS_RE.sub("", unicodedata.normalize("NFD", t)))
    if not t.isalnum():  # NFKC can expand to punctuation (e.g. ½ → 1⁄2)
        t = "".join(ch for ch in t if ch.isalnum())
    return t


@lru_cache(maxsize=1 << 17)
def stem_word(folded: str) -> str:
    """Snowball stem of a folded word: Russian for Cyrillic, English for Latin, else unchanged."""
    if _CYRILLIC_RE.search(folded):
        s = _RU.stemWord(folded)
        # Snowball leaves a final vowel or й on some stems (китай → кита, but китая → кит);
        # dropping it lets a noun's cases meet. It stays a prefix of the word.
        if len(s) > 3 and s[-1] in _RU_TRIM:
            s = s[:-1]
        return s
    if _LATIN_RE.search(folded) and not folded.isdigit():
        return _EN.stemWord(folded)
    return folded


def fts_prefix(stem: str) -> str:
    """A prefix that every word with this stem starts with (for FTS5 prefix queries).

    Russian Snowball only strips endings; English may rewrite the stem's last letter
    (study → studi, hoping → hope) and, for a few short words, two (dying → die).
    """
    if _CYRILLIC_RE.search(stem) or not _LATIN_RE.search(stem):
        return stem
    if stem in ("die", "lie", "tie"):
        return stem[0]
    return stem[:-1] if len(stem) >= 3 else stem


_NORMALIZED: dict[str, tuple[str, str]] = {}  # raw word -> (surface, stem): read once per word of a text
_NORMALIZED_MAX = 1 << 17


def _normalize(raw: str) -> tuple[str, str]:
    if len(_NORMALIZED) >= _NORMALIZED_MAX:
        _NORMALIZED.clear()  # a long crawl's words of many languages: start again rather than grow
    surface = fold_word(raw)
    hit = _NORMALIZED[raw] = (surface, stem_word(surface) if surface else "")
    return hit


class Columns(NamedTuple):
    """The tokens of a text as parallel lists (one list per tuple field of ``Token``)."""

    surfaces: list[str]
    stems: list[str]
    starts: list[int]
    ends: list[int]
    kinds: list[int]


@lru_cache(maxsize=8)
def tokenize(text: str) -> tuple[Token, ...]:
    """Tokens of ``text`` in order, as (surface, stem, start, end, kind); positions are tuple indices."""
    return tuple(zip(*columns(text)))


# the characters of text whose tokens are kept, all texts together: a few articles' (a long one has tens of thousands
# of characters); a Chinese text's tokens take some 170 bytes a character, so a hostile page's megabytes of text,
# kept, held hundreds of MB: such a page is tokenized each time it is read instead
COLUMNS_KEPT = 200_000


class _Recent:
    """A function of a text whose results for its last ``count`` texts are kept while those texts hold at most
    ``chars`` characters in all; a longer text's result is computed each time and not kept."""

    def __init__(self, fn: Callable[[str], Any], count: int, chars: int) -> None:
        functools.update_wrapper(self, fn)
        self._fn, self._count, self._chars = fn, count, chars
        self._kept: OrderedDict[str, Any] = OrderedDict()
        self._held = 0  # characters of the texts kept
        self._lock = threading.Lock()  # the daemon's threads compose digests and match at the same time

    def __call__(self, text: str) -> Any:
        with self._lock:
            if text in self._kept:
                self._kept.move_to_end(text)
                return self._kept[text]
        value = self._fn(text)
        self.keep(text, value)
        return value

    def keep(self, text: str, value: Any) -> None:
        """Keeps ``value``, made otherwise, as the result for ``text``, as a call would have kept its own."""
        if len(text) <= self._chars:
            with self._lock:
                if text not in self._kept:
                    self._kept[text] = value
                    self._held += len(text)
                while len(self._kept) > self._count or self._held > self._chars:
                    self._held -= len(self._kept.popitem(last=False)[0])

    def kept(self, text: str) -> Any | None:
        """The result for ``text`` when it is kept, else None (nothing computed)."""
        with self._lock:
            return self._kept.get(text)

    def cache_clear(self) -> None:
        with self._lock:
            self._kept.clear()
            self._held = 0


def _recent(count: int, chars: int) -> Callable[[Callable[[str], Any]], _Recent]:
    return lambda fn: _Recent(fn, count, chars)


@_recent(8, COLUMNS_KEPT)
def columns(text: str) -> Columns:
    """The tokens of ``text`` as columns: what topic matching and the search index read, built without
    a tuple per token (a long article has thousands).

    The last few results are kept (COLUMNS_KEPT characters of text in all): the search index and topic matching
    tokenize the same article.
    """
    return _columns(text, 0)


def columns_after(text: str, start: int) -> Columns:
    """The tokens of ``text`` from ``start`` on, as ``columns(text)`` has them, where no token holds the character
    before ``start`` (a sentence end): the rest of a text whose first part is tokenized already. Not kept."""
    return _columns(text, start)


def _columns(text: str, at: int) -> Columns:
    """``columns``' tokens of ``text`` from ``at`` on (a token's characters are words' or a CJK run's, and every
    token ends at a character it does not hold, so those before ``at`` are left whole). A CJK run is folded to
    Simplified with the whole text, as ``columns(text)`` folds it."""
    rest = text[at:] if at else text
    if _CJK_OR_MARK_RE.search(rest) is None:
        return _word_columns(rest, _PLAIN_WORD_SPLIT_RE if "_" in rest else _WORD_CHARS_SPLIT_RE, at)
    if not has_cjk(rest):  # combining marks, no CJK
        return _word_columns(rest, _WORD_SPLIT_RE, at)
    surfaces: list[str] = []
    stems: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    kinds: list[int] = []
    simple: str | None = None  # the whole text folded to Simplified Chinese, at its first CJK run ("" if it cannot be)
    normalized = _NORMALIZED.get
    for m in _TOKEN_RE.finditer(text, at):
        word = m.group(2)
        if word is not None:
            surface, stem = normalized(word) or _normalize(word)
            if surface:
                surfaces.append(surface)
                stems.append(stem)
                starts.append(m.start())
                ends.append(m.end())
                kinds.append(WORD)
            continue
        start, end = m.span()
        run: str | list[str] = m.group(1)
        if unicodedata.is_normalized("NFKC", run):
            if simple is None:
                simple = simplified(text) or ""
            run = simple[start:end] if simple else to_simplified(run)  # else: fold this run alone
        else:
            run = [unicodedata.normalize("NFKC", ch) for ch in run]
        # every character but the last starts a bigram with the next; the last is a unigram
        n = len(run)
        grams = list(map(operator.add, run[:-1], run[1:]))
        grams.append(run[-1])
        surfaces += grams
        stems += grams
        starts.extend(range(start, end))
        ends.extend(range(start + 1, end + 1))
        kinds.extend(repeat(CJK, n - 1))
        kinds.append(CJK_END)
    return Columns(surfaces, stems, starts, ends, kinds)


def has_cjk(text: str) -> bool:
    """Whether ``text`` holds a CJK character (one written without spaces, tokenized as bigrams)."""
    return _CJK_CHAR_RE.search(text) is not None


def _word_columns(text: str, words_re: re.Pattern[str], at: int = 0) -> Columns:
    """``columns`` of a text without CJK characters: the same tokens, found by one split (on ``words_re``, which
    captures the words) and list operations instead of a loop over match objects (a third of the time); ``at``: the
    text's offset in a longer one, added to its tokens' (``columns_after``)."""
    parts = words_re.split(text)  # separator, word, separator, word, ..., separator
    words = parts[1::2]
    if not words:
        return Columns([], [], [], [], [])
    offsets = list(accumulate(map(len, parts), initial=at))  # where each part starts, then where the last ends
    starts = offsets[1:-1:2]
    ends = offsets[2::2]
    pairs = list(map(_NORMALIZED.get, words))
    if None in pairs:
        pairs = [pair or _normalize(word) for pair, word in zip(pairs, words)]
    surfaces = list(map(_FIRST, pairs))
    stems = list(map(_SECOND, pairs))
    if "" in surfaces:  # nothing alphanumeric left after folding: not a token
        keep = [i for i, surface in enumerate(surfaces) if surface]
        surfaces = [surfaces[i] for i in keep]
        stems = [stems[i] for i in keep]
        starts = [starts[i] for i in keep]
        ends = [ends[i] for i in keep]
    return Columns(surfaces, stems, starts, ends, [WORD] * len(surfaces))


_t2s: Any = None


def to_simplified(run: str) -> str:
    """Traditional Chinese folded to Simplified (OpenCC t2s), so 俄羅斯 meets 俄罗斯; same length or unchanged."""
    global _t2s
    if _t2s is None:
        import opencc

        _t2s = opencc.OpenCC("t2s")
    simple = _t2s.convert(run)
    return simple if len(simple) == len(run) else run  # token offsets must keep pointing into the text


# the longest text whose Simplified form is kept: any article's (a long one has tens of thousands of characters); a
# hostile page's megabytes are folded each time they are read, not held (eight of them held tens of MB)
SIMPLIFIED_KEPT = 100_000


def simplified(text: str) -> str | None:
    """A whole text folded to Simplified (``to_simplified``), or None when that would change its length; kept for
    the last few texts of at most SIMPLIFIED_KEPT characters: tokenizing a text and matching names in it both read it."""
    return _kept_simplified(text) if len(text) <= SIMPLIFIED_KEPT else _simplified(text)


def _simplified(text: str) -> str | None:
    simple = to_simplified(text)
    return None if simple is text else simple


_kept_simplified = lru_cache(maxsize=8)(_simplified)
simplified.cache_clear = _kept_simplified.cache_clear  # type: ignore[attr-defined]


def index_tokens(text: str) -> str:
    """Normalized tokens, space-separated, for an FTS5 column created with INDEX_TOKENIZE."""
    return " ".join(columns(text).surfaces)


# --- language detection -------------------------------------------------------------------

_SAMPLE = 4000
_SCRIPT_RES = {
    "latin": re.compile("[A-Za-z\u00c0-\u024f\u1e00-\u1eff]"),
    "cyrillic": re.compile("[\u0400-\u04ff]"),
    "han": re.compile(f"[{HAN_CHARS}]"),
    "kana": re.compile(f"[{KANA_CHARS}]"),
    "hangul": re.compile("[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]"),
}
_UKRAINIAN_RE = re.compile("[іїєґІЇЄҐ]")
_CYRILLIC_LANGS = frozenset(["ru", "uk", "be", "bg", "sr", "mk", "kk", "ky", "mn", "tg", "tt", "ba"])
_CJK_LANGS = frozenset(("zh", "ja", "ko"))
# ISO 639-2 codes feeds and pages use instead of ISO 639-1 ones.
_ISO639_2 = {
    "rus": "ru", "eng": "en", "zho": "zh", "chi": "zh", "ukr": "uk", "bel": "be", "kaz": "kk",
    "fra": "fr", "fre": "fr", "deu": "de", "ger": "de", "spa": "es", "jpn": "ja", "kor": "ko",
    "ita": "it", "por": "pt", "ara": "ar",
}  # fmt: skip


# ISO 639-1: a two-letter tag outside it is a slip, most often a country's code ('cn' for zh, 'jp', 'ua', 'kr')
ISO639_1 = frozenset(
    "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv dz ee el "
    "en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik io is it iu "
    "ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na "
    "nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so "
    "sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu".split()
)


def language_code(value: str | None) -> str | None:
    """'ru-RU' -> 'ru', 'zh_CN' -> 'zh', 'rus' -> 'ru'; None when it is not a language tag."""
    if not value:
        return None
    primary = re.split(r"[-_\s]", value.strip().lower(), maxsplit=1)[0]
    if len(primary) == 2 and primary.isalpha():
        return primary
    return _ISO639_2.get(primary)


def detect_language(text: str, hint: str | None = None) -> str | None:
    """ISO 639-1 code of ``text`` from its script, trusting ``hint`` when it fits the script."""
    sample = text[:_SAMPLE]
    code = language_code(hint)
    counts = {name: len(rx.findall(sample)) for name, rx in _SCRIPT_RES.items()}
    # A CJK character carries about as much as a short word; weigh it up against letters.
    weights = {
        "latin": counts["latin"],
        "cyrillic": counts["cyrillic"],
        "cjk": 3 * (counts["han"] + counts["kana"]),
        "hangul": 3 * counts["hangul"],
    }
    script, top = max(weights.items(), key=lambda kv: kv[1])
    if top == 0:
        return code
    if script == "cjk":
        if counts["kana"] * 10 >= counts["han"] or code == "ja":
            return "ja"
        return "zh"
    if script == "hangul":
        return "ko"
    if script == "cyrillic":
        if code in _CYRILLIC_LANGS:
            return code
        return "uk" if len(_UKRAINIAN_RE.findall(sample)) * 50 > counts["cyrillic"] else "ru"
    if code and code not in _CYRILLIC_LANGS and code not in _CJK_LANGS:
        return code
    return _classify_latin(sample)


# Below this probability the classifier's best guess is no better than "unknown": short titles
# and lists of names ("China and Russia") are not enough to tell English from Shona.
_MIN_CONFIDENCE = 0.5
_NOT_LATIN = _CYRILLIC_LANGS | _CJK_LANGS | {"ar", "he", "el", "hy", "ka", "th", "fa", "hi"}


def load_language_model() -> None:
    """Loads the Latin-script classifier's model now (see crawler.warmup_langid) rather than on first use."""
    _identifier()


@lru_cache(maxsize=1)
def _identifier() -> Any:
    """py3langid's classifier (probabilities normalized), from the uncompressed copy of its model when
    there is one (see ``_model_copy``)."""
    import io
    import lzma
    import zipfile

    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier  # numpy and the model: only when needed

    try:
        packed = (MODEL_DIR / MODEL_FILE).read_bytes()
    except OSError:
        return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    copy = _model_copy(packed)
    if copy is not None:
        try:
            identifier = _identifier_from(copy, LanguageIdentifier)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            pass  # none yet, or a damaged one: made below
        else:
            with contextlib.suppress(OSError):
                os.utime(copy)  # in use: kept when another model's copy is written (see _keep_copy)
            return identifier
    try:
        raw = lzma.decompress(packed)
        identifier = _identifier_from(io.BytesIO(raw), LanguageIdentifier)
    except (ValueError, KeyError, lzma.LZMAError, zipfile.BadZipFile):
        return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)  # a layout we do not know
    if copy is not None:
        _keep_copy(copy, raw)
    return identifier


# The packaged model is an .npz compressed with LZMA: decompressing it costs ~0.35 s of CPU, more than
# everything else a process does to load it (~0.1 s). Every process that classifies Latin text (a crawl
# child, an extraction pool's forkserver, a probe) would pay it; instead the first one keeps the
# decompressed .npz (~70 MB) in the user's cache folder, named after the packaged file's content (so
# installations of the same model share it), and later ones read that.
_MODEL_COPY = "langid-{key}.npz"
_UNUSED_COPY_DAYS = 30  # a copy no process read for this long (another model's) is dropped


def _model_copy(packed: bytes) -> Path | None:
    """Where the uncompressed copy of this packaged model lives; None without a cache folder."""
    import hashlib

    from crawler.config import user_cache_dir

    try:
        folder = user_cache_dir()
    except RuntimeError:
        return None
    return folder / _MODEL_COPY.format(key=hashlib.sha256(packed).hexdigest()[:16])


def _keep_copy(copy: Path, raw: bytes) -> None:
    """Writes the copy whole or not at all (a temporary file renamed), and drops copies of other models
    that no process has read for a month."""
    import tempfile
    import time

    try:
        copy.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=copy.parent, prefix=".langid-")
    except OSError:
        return  # no cache folder to write: every process decompresses the model, as without one
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
        os.replace(tmp, copy)
    except OSError:  # the disk is full: the next process tries again
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return
    unused = time.time() - _UNUSED_COPY_DAYS * 86400
    for old in copy.parent.glob(_MODEL_COPY.format(key="*")):
        with contextlib.suppress(OSError):
            if old != copy and old.stat().st_mtime < unused:
                old.unlink()


def _identifier_from(source: Any, identifier_class: Any) -> Any:
    """The classifier from an uncompressed model .npz: the arrays py3langid's own loader
    (``py3langid.modelio.load_model``) makes of it, given to its classifier's constructor."""
    import numpy as np

    def uint_array(values: Any) -> array:  # the classifier walks these per byte: stdlib arrays, as py3langid's
        out = array({2: "H", 4: "I", 8: "L"}[values.dtype.itemsize])
        out.frombytes(np.ascontiguousarray(values).tobytes())
        return out

    with np.load(source, allow_pickle=False) as data:
        return identifier_class(
            np.asarray(data["ptc"]),
            np.asarray(data["pc"]),
            data["classes"].tolist(),
            uint_array(data["nextmove"]),
            data["out_feat"].tolist(),
            norm_probs=True,
            tk_row=uint_array(data["nextmove_row"]),
        )


def _classify_latin(sample: str) -> str | None:
    lang, confidence = _identifier().classify(sample)
    if confidence < _MIN_CONFIDENCE or len(lang) != 2 or lang in _NOT_LATIN:
        return None
    return str(lang)
