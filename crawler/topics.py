"""Topic queries: parse once, match many articles in en/ru/zh, score, and say why.

Syntax. Operators are case-sensitive UPPERCASE, so "and", "or", "not", "near" are plain words:

    word           the word in any form: Snowball stems (cooperation ~ cooperate,
                   России ~ Россия, Китая ~ Китаем)
    word*          words starting with the prefix (Росси* finds России, российский); a
                   Russian prefix also finds words of its stem (Китай* finds Китая)
    =word, =pre*   only that form, or words starting with the prefix, without the stem's
                   other words (=ученые is not учения, drills; =doctoral is not doctors)
    "a phrase"     consecutive words, each in any form; a word in it may end in *
    中俄 科技合作     Chinese/Japanese match as character sequences, no spaces needed
    China-Russia   a hyphenated term is a phrase of its parts; "российско-китайский"
                   in a text is found by российский, китайский or Китай*
    a b, a AND b   both
    a OR b         either
    NOT a, -a      a is absent (from title and text)
    a NEAR/n b     a and b in the same field and sentence, at most n words between
                   them, in either order (NEAR alone is NEAR/10); operands are terms,
                   phrases, NEARs or OR-groups of them. In Chinese, n counts characters.
    title:x        x only in the title; x is a term, a phrase or a (group)
    ( ... )        grouping
    # note         a comment to the end of the line (a '#' that starts a word)

Precedence, tightest first: title:, NEAR, NOT/-, AND (explicit or implicit), OR.
Phrases and NEAR never reach across a sentence end (. ! ? followed by a space, 。！？；, a line break) nor a
semicolon between two clauses (not one of a list).

Use: ``q = compile_query(text)`` once, then ``q.match(title, text)`` per article, or
``doc = prepare(title, text)`` once and ``q.match_prepared(doc)`` for each topic (the document
keeps its index and the results of sub-queries, which topics and repeated groups share).
``q.fts()`` gives an FTS5 expression over ``textnorm.index_tokens`` columns ``title``/``text``
that selects a superset of the matches, for ``search`` to narrow before matching.

Score (deterministic). For each distinct query term that hit, the weight of its best place
(title 1.0, lead = first 300 characters of the text 0.6, body 0.3) plus 0.1 per further hit,
at most 0.4; plus closeness: for the 15-position stretch of text with the most distinct terms,
0.5 x its zone weight per term beyond the first (0.3 in the lead, 0.15 in the body). A story
carried by its title or lead scores 3-12; terms scattered once each through the body stay
below 1 (the default ``min_score``), one body sentence with three terms about 1.2.
"""

from __future__ import annotations

import bisect
import difflib
import functools
import hashlib
import json
import operator
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice, repeat
from operator import itemgetter
from pathlib import Path

from crawler import textnorm
from crawler.errors import QuerySyntaxError

TITLE, TEXT = "title", "text"
FIELDS = (TITLE, TEXT)
LEAD = "lead"  # a scope: the title and the text's first LEAD_CHARS characters

ZONE_WEIGHT = {"title": 1.0, "lead": 0.6, "body": 0.3}
REPEAT_BONUS, REPEAT_CAP = 0.1, 0.4
WINDOW, CLOSENESS = 15, 0.5
DEFAULT_NEAR = 10
MULTILATERAL = 3  # third countries in one list with both sides of PARTNERS that make it a multilateral team
_FTS_MAX_COMBOS = 64
_KEY_CHARS = 512  # a node's structural key longer than this is kept as a digest of it

# Item kinds of a term pattern (one item per token position)
_STEM, _SURFACE, _PREFIX = 0, 1, 2


# --- prepared documents --------------------------------------------------------------------

# A sentence end: . ! ? … followed by a space, CJK full stops, or a line break. A full stop that ends
# an initial (Г.Б. Елякова, Victor V. Dyomin, д.х.н., U.S.) does not end the sentence, nor one followed by a
# lowercase word (5 тыс. человек). (Lookbehinds: the checks run inside the regex engine.) A full stop
# after an abbreviation is decided afterwards, by the abbreviation (``_ABBREVIATIONS``).
_NOT_AFTER = r"(?<![^\w.-][A-ZА-ЯЁ]\.)(?<!^[A-ZА-ЯЁ]\.)(?<!\.[^\W\d_]\.)"
_CLOSERS = "[\"'»”’)\\]]*"
_SENTENCE_END = rf"\.{_NOT_AFTER}{_CLOSERS}\s(?![a-zа-яё])|[!?]{_CLOSERS}\s|…{_CLOSERS}\s(?![a-zа-яё])|[。！？；]|\n"
# the characters a sentence end starts with, looked ahead first: the regex engine then skips to them
# instead of trying each alternative at every character
_SENTENCE_END_FIRST = ".!?…。！？；\n"
_SENTENCE_END_RE = re.compile(f"(?=[{_SENTENCE_END_FIRST}])(?:{_SENTENCE_END})")


_SENTENCE_END_FIRST_RE = re.compile(f"[{re.escape(_SENTENCE_END_FIRST)}]")

# Abbreviations (crawler/data/abbreviations.json, built by tools/build_abbreviations.py from razdel's
# Russian and pysbd's English lists). One that stands before what it names (Prof. Wang, акад. Петров,
# г. Димитровград, ул. Ленина) never ends a sentence; one that follows what it qualifies (5 тыс., 2030 г.,
# Univ., Inc.) ends one before a capitalised word, not before a digit (No. 5, Jan. 10). One of both kinds
# (г. город / 2030 г. год, с. село / 287 с.) follows what it qualifies right after a number. A year's or a
# century's that a sentence opens with (В 2024 г. Россия ..., В начале XX в. Китай ...: a few words, no
# punctuation) ends nothing, nor a month's (In Jan. China and Russia ...: the data's "months").
_ABBREVIATIONS = json.loads((Path(__file__).resolve().parent / "data" / "abbreviations.json").read_text("utf-8"))
_BEFORE = frozenset(_ABBREVIATIONS["before"])
_AFTER = frozenset(_ABBREVIATIONS["after"])
_KNOWN = _BEFORE | _AFTER
_LONGEST = max(len(part) for a in _KNOWN for part in a.split("."))
# a full stop after a word that could be one (the last word of one), checked first inside the regex engine:
# one lookbehind per length, as a lookbehind's alternatives must be equally long
_LAST_WORDS: dict[int, set[str]] = defaultdict(set)
for _a in _KNOWN:
    _last = _a.rsplit(".", 1)[-1]
    _LAST_WORDS[len(_last)].add(re.escape(_last))
_MAYBE_ABBR_RE = re.compile(
    "(?i)(?:"
    + "|".join(rf"(?<=(?<![^\W\d_])(?:{'|'.join(sorted(words))}))" for _, words in sorted(_LAST_WORDS.items()))
    + r")\."
)
_YEAR_OR_CENTURY = frozenset({"г", "гг", "в", "вв"})
_MONTHS = frozenset(_ABBREVIATIONS.get("months", ()))
_LEAD_IN_WORDS = 2  # words a sentence may open with before such a year or century ("В начале 2024 г.")
# the word before a full stop, after a space, an opening bracket or quote (a slash after a space is one: /г. Нижний
# Новгород/), a dash (чл.-корр., Moscow–St.) or a number (1999гг.), not part of a longer word or a path (км/ч.,
# кВт·ч.), and the word with its full stop before that one (т. е., и т. д.)
_ABBR_RE = re.compile(r"(?<![^\s(\[«\"“„'‘\d–—/-])(?<!\S/)[^\W\d_]+(?=\.\Z)")
_PAIR_FIRST_RE = re.compile(r"(?<![^\s(\[«\"“„'‘–—/-])(?<!\S/)([^\W\d_]{1,5})\.[ \u00a0]?\Z")
_NUMBER_BEFORE_RE = re.compile(r"(?:\d(?:-[а-яё]{1,3})?|(?<![^\W\d])[IVXLC]+)[ \u00a0]*\Z")
_NEXT_RE = re.compile(r"[\"'»”’)\]]*\s+([(\[])?\W*(\w)([^\W\d_]*)(\.|,| [a-zа-яё])?")
_WORD_RE = re.compile(r"[^\W\d_]+")
_LEAD_IN_RE = re.compile(r"[\w\s-]*")


def _abbreviation_goes_on(text: str, at: int, start: int) -> bool:
    """Whether the full stop at ``at``, before a space and not a lowercase word, ends an abbreviation and
    not the sentence that began at ``start``."""
    m = _ABBR_RE.search(text, max(start, at - _LONGEST - 1), at + 1)
    if m is None:
        return False
    word, w0 = m.group().lower(), m.start()
    pair = _PAIR_FIRST_RE.search(text, max(start, w0 - 8), w0)
    if pair is not None and f"{pair.group(1).lower()}.{word}" in _KNOWN:
        word, w0 = f"{pair.group(1).lower()}.{word}", pair.start()
    before, after = word in _BEFORE, word in _AFTER
    if not after and (not before or (w0 and text[w0 - 1].isdigit())):
        return False  # not an abbreviation, or 21st.
    number = _NUMBER_BEFORE_RE.search(text, max(start, w0 - 16), w0) if after else None
    if before and number is None:
        return True
    nxt = _NEXT_RE.match(text, at + 1)
    if nxt is None or nxt.group(1) or not nxt.group(2).isupper():
        return True  # No. 5, Jan. 10, 5 тыс. 200, Co., Ltd. (CEEC)
    if nxt.group(4) and (nxt.group(4) == "." or nxt.group(3)[1:]) and (nxt.group(2) + nxt.group(3)).lower() in _AFTER:
        return True  # Co. Ltd., Co. Ltd and
    if number is not None and word in _YEAR_OR_CENTURY:
        return _opens(text, start, number.start())  # a dateline (МОСКВА, 17 апреля 2024 г.) has a comma: it ends
    if number is None and word in _MONTHS:
        return _opens(text, start, w0)
    return False


def _opens(text: str, start: int, at: int) -> bool:
    """Whether what the sentence that began at ``start`` holds before ``at`` is a few words that open it, with no
    punctuation: a date after them (В 2024 г., In Jan.) opens the sentence, not ends one."""
    if at - start >= 48:
        return False
    lead = text[start:at]
    return _LEAD_IN_RE.fullmatch(lead) is not None and len(_WORD_RE.findall(lead)) <= _LEAD_IN_WORDS


def _sentence_ends(text: str, before: int | None = None) -> list[int]:
    """Character offsets where a sentence ends: where a search for ``_SENTENCE_END_RE`` finds one, found by a
    scan for the characters an end starts with and a match at each (not an attempt at every character),
    less the full stops of abbreviations that do not end one (``_abbreviation_goes_on``). With ``before``, only
    those before it: the whole text's, each decided by what follows it however far that reaches."""
    out: list[int] = []
    _scan_ends(text, out, 0, 0, before)
    return out


def _scan_ends(text: str, out: list[int], resume: int, start: int, before: int | None) -> int:
    """``_sentence_ends``' scan of ``text`` from ``start`` (to ``before``), adding the ends it finds to ``out``, which
    holds those before ``start``, as a scan from the text's start reaching it would (``resume``: a match's end, where
    it would try the next); returns that value, so that a scan stopped at ``before`` goes on from there as one."""
    match = _SENTENCE_END_RE.match
    for m in _SENTENCE_END_FIRST_RE.finditer(text, start):
        at = m.start()
        if before is not None and at >= before:
            break
        if at >= resume:  # a match's characters are not searched again, as a search would not
            end = match(text, at)
            if end is not None:
                if (
                    text[at] == "."
                    and _MAYBE_ABBR_RE.match(text, at)
                    and _abbreviation_goes_on(text, at, out[-1] + 1 if out else 0)
                ):
                    continue
                out.append(at)
                resume = end.end()
    return resume


# An ASCII semicolon joins two independent clauses ("France and China sign hydrogen pact; German firm to supply
# electrolysers"), and ends one for NEAR, phrases and PARTNERS as 。！？； do; but semicolons also separate the
# items of a list whose items hold commas ("Far Eastern Federal University, Vladivostok; and Jilin University,
# Changchun"): a semicolon before "and"/"or" (и, или), or one of two or more in a sentence, is a list's and
# ends nothing. In Chinese copy (a CJK character beside it) it is 。's and ；'s kin and always ends a clause.
# It does not end the sentence that headlines a text without a title.
_SEMICOLON_END_RE = re.compile(rf";{_CLOSERS}(?:\s|$)")
_CJK_CHAR = "[\u3000-\u9fff\uff00-\uffef]"
_CJK_BEFORE_RE = re.compile(_CJK_CHAR)
_CJK_AFTER_RE = re.compile(rf"\s*{_CJK_CHAR}")
_LIST_LAST_RE = re.compile(rf"{_CLOSERS}\s+(?:and|or|и|или)\b", re.IGNORECASE)


def _clause_ends(text: str, ends: list[int], before: int | None = None, after: int = 0) -> list[int]:
    """Offsets of the ASCII semicolons that end a clause, given the text's sentence ends (``_sentence_ends``); with
    ``before``, a sentence end, only those before it (all of a sentence's semicolons are, however many it has), and
    with ``after``, a sentence end, only those after it."""
    stop = len(text) if before is None else before
    at = text.find(";", after, stop)
    if at < 0:
        return []
    in_sentence: dict[int, list[int]] = defaultdict(list)  # sentence index -> the offsets of its semicolons
    while at >= 0:
        in_sentence[bisect.bisect_left(ends, at)].append(at)
        at = text.find(";", at + 1, stop)
    out: list[int] = []
    for found in in_sentence.values():
        for at in found:
            if (at and _CJK_BEFORE_RE.match(text, at - 1)) or _CJK_AFTER_RE.match(text, at + 1):
                out.append(at)  # Chinese copy: as ；
            elif len(found) == 1 and _SEMICOLON_END_RE.match(text, at) and not _LIST_LAST_RE.match(text, at + 1):
                out.append(at)
    return sorted(out)


# Positions added at a sentence end, so NEAR and phrases never span one: at least this many, and a power of
# two above the field's number of tokens, so that a position's low bits are its token's index (a word's
# characters are found without a search).
SENTENCE_GAP = 1024

# An occurrence: (field, first position, last position, hits); a hit is (label, field, first, last).
# The label of a term inside GLUE( ... ) starts with GLUE_MARK: it places other terms and is not evidence,
# so it counts in scores as the same term outside would, but is not listed among hits nor highlighted.
GLUE_MARK = "\x00"
_Hit = tuple[str, str, int, int]
_Occ = tuple[str, int, int, tuple[_Hit, ...]]
Occurrence = _Occ  # for a model's scoring (``Query.occurrences``)
_FIRST = itemgetter(1)  # an occurrence's first position
_LAST = itemgetter(2)  # and its last


class _Field:
    """One field's tokens, indexed by folded surface and by stem."""

    __slots__ = (
        "_cyrillic",
        "_first_words",
        "_folded",
        "_heads",
        "_holds",
        "_institution_words",
        "_long",
        "_memo",
        "_short",
        "_sorted",
        "_tokens",
        "added",
        "by_stem",
        "by_surface",
        "cjk",
        "cut",
        "ends",
        "lead_end",
        "lead_words",
        "limit",
        "mask",
        "positions",
        "first_end",
        "shift",
        "starts",
        "stems",
        "text",
    )

    def __init__(
        self,
        text: str,
        cut: _Cut | None = None,
        part: _Field | None = None,
        after: _Cut | None = None,
    ) -> None:
        """The field of ``text``, or of its part ``cut`` (``_cut``). ``after``: such a part of ``text``, whose tokens
        and sentence ends this one goes on from, and ``part``: its field, whose index too (taken over: ``part`` is
        not to be read again); the same as ``_Field(text)``, the part's tokens and sentences being the whole text's."""
        self.cut = cut
        if part is not None:
            after = part.cut
        if after is not None:
            pc = after
            kept = textnorm.columns.kept(text)  # (a crawl's search index has tokenized it)
            if kept is None:
                kept = textnorm.Columns(*map(operator.add, pc.columns, textnorm.columns_after(text, pc.limit)))
            surfaces, stem_col, starts, ends, kinds = kept
            full_stops = pc.full_stops.copy()
            _scan_ends(text, full_stops, pc.resume, pc.scanned, None)
            clauses = _clause_ends(text, full_stops, after=pc.limit)
            clauses = pc.clauses + clauses if pc.clauses else clauses
            self.limit, self.cjk = len(text), pc.cjk
        elif cut is None:
            part = None
            surfaces, stem_col, starts, ends, kinds = textnorm.columns(text)
            full_stops = _sentence_ends(text)
            clauses = _clause_ends(text, full_stops)
            self.limit = len(text)  # the characters its tokens are of (a part's: see ``_Cut``)
            self.cjk = textnorm.CJK in kinds or textnorm.CJK_END in kinds  # the text holds CJK characters
        else:
            part = None
            surfaces, stem_col, starts, ends, kinds = cut.columns
            full_stops, clauses, self.limit, self.cjk = cut.full_stops, cut.clauses, cut.limit, cut.cjk
        # A token's position is its index plus a gap per sentence end before it.
        gap = max(SENTENCE_GAP, 1 << len(surfaces).bit_length())
        self.mask = gap - 1  # a position's index: position & mask
        self.shift = gap.bit_length() - 1  # its sentence's: position >> shift
        cuts = [bisect.bisect_left(starts, e) for e in (sorted(full_stops + clauses) if clauses else full_stops)]
        positions: list[int] = []
        prev = 0
        for k, cut in enumerate(cuts):
            positions.extend(range(prev + k * gap, cut + k * gap))
            prev = cut
        positions.extend(range(prev + len(cuts) * gap, len(surfaces) + len(cuts) * gap))
        # the first position after the first sentence, which headlines a text without a title (a semicolon does
        # not end it: the cut of its first sentence end k starts sentence k + 1)
        if full_stops:
            k = bisect.bisect_left(clauses, full_stops[0]) if clauses else 0
            self.first_end = cuts[k] + (k + 1) * gap
        else:
            self.first_end = 1 << 62
        lead_i = bisect.bisect_left(starts, textnorm.LEAD_CHARS)
        self.lead_end = positions[lead_i] if lead_i < len(positions) else 1 << 62
        self.lead_words = surfaces[:lead_i]  # the folded words of the lead
        self.text = text
        # a part's positions are these (its tokens' sentences are) when its gap is this one's: its index is this one's
        # for its tokens, and goes on with the rest's
        done = len(part.positions) if part is not None and part.mask == self.mask else 0
        by_surface: dict[str, list[int]] = part.by_surface if done and part is not None else {}
        had = len(by_surface)  # the part's words, first among the keys
        known = by_surface.get
        for surface, pos in islice(zip(surfaces, positions), done, None) if done else zip(surfaces, positions):
            have = known(surface)
            if have is None:
                by_surface[surface] = [pos]
            else:
                have.append(pos)
        if self.cjk:
            stems = {sf: st for sf, st, kind in zip(surfaces, stem_col, kinds) if kind == textnorm.WORD}
        elif done and part is not None:
            stems = part.stems
            stems.update(islice(zip(surfaces, stem_col), done, None))
        else:
            stems = dict(zip(surfaces, stem_col))
        by_stem: dict[str, list[int]] = {}
        merged: set[str] = set()  # stems of several surfaces (a Russian noun's cases): sorted once, at the end
        for surface, stem in stems.items():
            have = by_stem.get(stem)
            if have is None:
                by_stem[stem] = by_surface[surface]
            elif stem in merged:
                have += by_surface[surface]
            else:
                by_stem[stem] = have + by_surface[surface]  # a new list: the first is the surface's own
                merged.add(stem)
        for stem in merged:
            by_stem[stem].sort()
        self.positions = positions
        self.starts = starts
        self.ends = ends
        self.by_stem = by_stem
        self.by_surface = by_surface
        self.stems = stems  # folded surface -> stem, for words (a CJK token is its own stem)
        self._sorted: list[str] | None = None
        self._long: list[str] | None = None  # a Chinese text's surfaces of three characters or more, sorted
        self._short = ""  # and its others, each after a line break (see ``starting``)
        self._heads: set[str] | None = None
        self._tokens: dict[tuple[int, str, str], set[int]] | None = None
        self._institution_words: list[int] | None = None
        self._memo: dict[tuple[int, str, str], list[int]] = {}
        self._holds: dict[tuple[str, ...], bool] = {}
        self._cyrillic: bool | None = None
        self._folded: str | None = None
        self._first_words: tuple[int, set[str], set[str], set[str]] | None = None
        self.added: list[str] = []  # the words a whole text's field found past its part (``part``)
        if part is not None:  # the words past the part's, in the order the index met them
            mine = part.by_surface
            self.added = list(islice(by_surface, had, None)) if done else [w for w in by_surface if w not in mine]
            self._grow(part)

    def _grow(self, part: _Field) -> None:
        """Takes over what the part's field (this text's, ``_cut``) made of its words (their heads, sorted), adding
        the words past the part (``added``)."""
        added = self.added
        if part._heads is not None:
            self._heads = part._heads
            self._heads.update([w[:3] for w in added])
        if part._sorted is not None:
            self._sorted = part._sorted + sorted(added)
            self._sorted.sort()  # two sorted runs: merged
        if part._long is not None:
            self._long = part._long + sorted([w for w in added if len(w) >= 3])
            self._long.sort()
            self._short = _joined(part._short, [w for w in added if len(w) < 3])

    @property
    def folded(self) -> str:
        """The text with its Chinese characters folded to Simplified (俄羅斯 is 俄罗斯), character for character,
        so an offset in it is one in the text."""
        if self._folded is None:
            self._folded = (textnorm.simplified(self.text) or self.text) if self.cjk else self.text
        return self._folded

    def lend(self, whole: _Field) -> None:
        """Gives the whole text's field what this part of it (``_cut``) found in the whole text's characters: its
        folded form and which needles it holds."""
        whole._holds.update(self._holds)
        if whole._cyrillic is None:
            whole._cyrillic = self._cyrillic
        if whole._folded is None:
            whole._folded = self._folded

    def holds_any(self, needles: tuple[str, ...]) -> bool:
        """Whether the text, its Chinese folded to Simplified, holds one of ``needles``; a needle in a script the
        text has no letter of is not searched for (Cyrillic or CJK in an English text)."""
        hit = self._holds.get(needles)
        if hit is None:
            hit = self._holds[needles] = any(n in self.folded for n in needles if self._may_hold(n))
        return hit

    def _may_hold(self, needle: str) -> bool:
        cjk, cyrillic = _scripts(needle)
        if cjk and not self.cjk:
            return False
        if cyrillic:
            if self._cyrillic is None:
                self._cyrillic = _CYRILLIC_RE.search(self.text) is not None
            return self._cyrillic
        return True

    def sorted_surfaces(self) -> list[str]:
        """The field's distinct folded surfaces, sorted (to find the words that start with a prefix)."""
        if self._sorted is None:
            self._sorted = sorted(self.by_surface)
        return self._sorted

    def starting(self, prefix: str) -> list[str]:
        """The field's distinct folded surfaces that start with ``prefix``.

        A Chinese text's thousands of bigrams are not sorted (that cost more than all the lookups that read them,
        0.8 ms a 5,000-word article): only its few words of three characters or more are, which are all that a
        prefix of three can start; a shorter prefix is looked up as a word, and one of one character searched for
        among the bigrams and characters, one a line."""
        out = []
        if self.cjk and len(prefix) < 3:
            if len(prefix) == 2:
                out = [prefix] if prefix in self.by_surface else []
            else:
                out = re.findall(f"\n({re.escape(prefix)}[^\n]*)", self._cjk_sorted()[1])
        keys = self._cjk_sorted()[0] if self.cjk else self.sorted_surfaces()
        i = bisect.bisect_left(keys, prefix)
        while i < len(keys) and keys[i].startswith(prefix):
            out.append(keys[i])
            i += 1
        return out

    def has_prefix(self, prefix: str) -> bool:
        """Whether some word of the field starts with ``prefix`` (``starting``, without collecting them)."""
        if self.cjk and len(prefix) < 3:
            return bool(self.starting(prefix))
        keys = self._cjk_sorted()[0] if self.cjk else self.sorted_surfaces()
        i = bisect.bisect_left(keys, prefix)
        return i < len(keys) and keys[i].startswith(prefix)

    def _cjk_sorted(self) -> tuple[list[str], str]:
        """A Chinese text's surfaces of three characters or more, sorted, and its others, each after a line break."""
        if self._long is None:
            self._long = sorted([s for s in self.by_surface if len(s) >= 3])
            self._short = "\n" + "\n".join([s for s in self.by_surface if len(s) < 3])
        return self._long, self._short

    def heads(self) -> set[str]:
        """The first three characters of the field's words (shorter words whole): a three-character
        prefix is in it when some word starts with it."""
        if self._heads is None:
            self._heads = {s[:3] for s in self.by_surface}
        return self._heads

    def first_words(self) -> tuple[set[str], set[str], set[str]]:
        """The field's stems, surfaces and heads (``heads``) that the names of some ``_FirstIndex`` start with: the
        field's words are looked up among all the names' first words once, then each index looks among these few."""
        have = self._first_words
        if have is None or have[0] != _FIRST_WORDS.version:
            stems, surfaces, heads = _FIRST_WORDS.stems, _FIRST_WORDS.surfaces, _FIRST_WORDS.heads
            have = self._first_words = (
                _FIRST_WORDS.version,
                stems.intersection(self.by_stem),
                surfaces.intersection(self.by_surface),
                heads.intersection(self.heads()),
            )
        return have[1], have[2], have[3]

    def chars(self, first: int, last: int) -> tuple[int, int]:
        """Character span of the positions first..last (positions of tokens of the field)."""
        return self.starts[first & self.mask], self.ends[last & self.mask]

    def lookup_set(self, kind: int, value: str, stem: str) -> set[int]:
        """``lookup`` as a set, kept for the document (names share their later words)."""
        if self._tokens is None:
            self._tokens = {}
        key = (kind, value, stem)
        hit = self._tokens.get(key)
        if hit is None:
            hit = self._tokens[key] = set(self.lookup(kind, value, stem))
        return hit

    def institution_words(self) -> list[int]:
        """Sorted positions of words that may end an institution's name (University, университета, 大学)."""
        if self._institution_words is None:
            found: list[int] = []
            for head in _INSTITUTION_HEADS:
                for word in self.starting(head):
                    found.extend(self.by_surface[word])
            self._institution_words = sorted(set(found))
        return self._institution_words

    def sentence(self, pos: int) -> int:
        """Index of the sentence holding position ``pos`` (a position of a token of the field)."""
        return pos >> self.shift

    def raw(self, first: int, last: int) -> str:
        """The original text of positions first..last."""
        cs, ce = self.chars(first, last)
        return self.text[cs:ce]

    def lookup(self, kind: int, value: str, stem: str) -> list[int]:
        """Sorted positions where one pattern item fits."""
        if kind == _STEM:
            return self.by_stem.get(value, [])
        if kind == _SURFACE:
            return self.by_surface.get(value, [])
        return self.lookup_key((kind, value, stem))

    def lookup_key(self, key: tuple[int, str, str]) -> list[int]:
        """``lookup`` of the item (kind, value, stem)."""
        kind, value, stem = key
        if kind == _STEM:
            return self.by_stem.get(value, [])
        if kind == _SURFACE:
            return self.by_surface.get(value, [])
        hit = self._memo.get(key)
        if hit is None:
            if len(value) >= 3 and value[:3] not in self.heads() and (not stem or stem not in self.by_stem):
                self._memo[key] = []  # no word starts like the prefix (most of a title's lookups)
                return self._memo[key]
            # the words of the stem, then the words starting with the prefix that are not of the stem: no
            # position is in two parts (each position is one word)
            of_stem = stem if stem and stem in self.by_stem else None
            parts: list[list[int]] = [self.by_stem[stem]] if of_stem else []
            stems = self.stems
            for word in self.starting(value):
                if of_stem is None or stems.get(word) != of_stem:
                    parts.append(self.by_surface[word])
            # most prefixes find nothing, one word or only the words of their stem: no copy and no sort
            if not parts:
                hit = []
            elif len(parts) == 1:
                hit = parts[0]
            else:
                hit = []
                for part in parts:
                    hit += part
                hit.sort()
            self._memo[key] = hit
        return hit


def _absent(present: tuple[set[str], set[str], set[str]], kind: int, value: str, stem: str) -> bool:
    """Whether a term's word surely is not among the words ``present`` (see ``Document.present``): a stem or
    surface not there, or a prefix that no word starts like and no word has the stem of."""
    if kind != _PREFIX:
        return value not in present[kind]
    return len(value) >= 3 and value[:3] not in present[2] and (not stem or stem not in present[_STEM])


@functools.lru_cache(maxsize=1024)
def _scripts(text: str) -> tuple[bool, bool]:
    """Whether ``text`` holds a CJK character, and a Cyrillic letter."""
    return textnorm.has_cjk(text), _CYRILLIC_RE.search(text) is not None


@dataclass(frozen=True)
class _Cut:
    """A long text's first sentences as the whole text's field holds them (``_cut``): its tokens before ``limit``, the
    last sentence end before the part's end, with the sentence and clause ends before it."""

    limit: int
    columns: textnorm.Columns
    full_stops: list[int]
    clauses: list[int]
    cjk: bool  # the whole text holds CJK characters
    scanned: int = 0  # where the scan for sentence ends stopped (the part's end), and where it would go on there
    resume: int = 0  # (``_scan_ends``): the whole text's field goes on from them


def _cut(text: str, chars: int) -> _Cut | None:
    """The sentences of ``text`` that end before ``chars``, tokenized as the text's first ``chars`` characters are
    (``textnorm.columns``, which a model reading that part calls anyway); None when no sentence ends there.

    They are the whole text's: a sentence end is a character no token holds (``_SENTENCE_END_FIRST``), so the tokens
    before it are those of the whole text, and the sentence ends before it are found in the whole text (what follows
    one decides it). Chinese is folded to Simplified for the whole text at once: None when the part's folding differs
    from the whole's before the cut (one changing the length of the text after it folds no run then)."""
    full_stops: list[int] = []
    resume = _scan_ends(text, full_stops, 0, 0, chars)
    if not full_stops:
        return None
    limit = full_stops[-1]
    cols = textnorm.columns.kept(text)  # the whole text's tokens, where a crawl's search index made them: theirs
    if cols is not None:
        cjk = textnorm.CJK_END in cols.kinds  # (a CJK run's last character is one)
    else:
        cjk = textnorm.has_cjk(text)
        if cjk and textnorm.has_cjk(text[:limit]):
            whole, part = textnorm.simplified(text), textnorm.simplified(text[:chars])
            if (whole is None) != (part is None) or (
                whole is not None and part is not None and whole[:limit] != part[:limit]
            ):
                return None
        cols = textnorm.columns(text[:chars])
    n = bisect.bisect_left(cols.starts, limit)
    columns = textnorm.Columns(*(c[:n] for c in cols))
    return _Cut(limit, columns, full_stops, _clause_ends(text, full_stops, limit), cjk, chars, resume)


def _joined(lines: str, more: list[str]) -> str:
    """``lines`` (words, each after a line break) with ``more`` after them."""
    if not more:
        return lines
    return lines + ("\n" if len(lines) > 1 else "") + "\n".join(more)


class _Unsure(Exception):
    """A gate asked of a part (``_Node.settled``) read something reaching past the part's last sentence: the whole
    text decides."""


class Document:
    """An article normalized once, to be matched against any number of queries. Its fields (tokens and indexes)
    are made when a query first reads them: a model topic's gate decided on the part its model reads (``part``,
    ``Query.holds``) never makes the whole text's."""

    __slots__ = (
        "_cuts",
        "_heading",
        "_parts",
        "_present",
        "_scoped",
        "fields",
        "made",
        "memo",
        "text",
        "title",
    )

    def __init__(self, title: str, text: str, fields: dict[str, _Field] | None = None) -> None:
        self.title = title or ""
        self.text = text or ""
        self.made = fields is not None  # whether its fields were made (else ``fields`` is unset until first read)
        if fields is not None:
            self.fields = fields
        self._cuts: dict[int, _Cut | None] | None = None  # the text's parts (``_cut``) by their characters
        self._parts: dict[int, Document | None] | None = None  # and as documents (``part``)
        self._heading: _Field | None = None  # the title's field, made for a part before the document's fields
        # results of sub-queries by structural key: topics repeat term groups, and so do queries
        self.memo: dict[str, tuple[bool, list[_Occ]]] = {}
        self._present: tuple[set[str], set[str], set[str]] | None = None
        self._scoped: dict[str, tuple[set[str], set[str], set[str]]] = {}

    def __getattr__(self, name: str) -> dict[str, _Field]:
        """``fields``, the title's and the text's ``_Field``, made at the first read (then a plain attribute: it is
        read for every term of every query)."""
        if name != "fields":
            raise AttributeError(name)
        head = next((p for p in (self._parts or {}).values() if p is not None), None)
        title = self._heading or _Field(self.title)
        if head is not None:  # the whole text's field goes on from the part's, taking it over (the part is dropped)
            self._parts = None
            part = head.fields[TEXT]
            fields = {TITLE: title, TEXT: _Field(self.text, part=part)}
            part.lend(fields[TEXT])  # what the part found in the whole text's characters need not be found again
        else:
            fields = {TITLE: title, TEXT: _Field(self.text)}
        self.fields = fields
        self.made = True
        return fields

    def part(self, chars: int) -> Document | None:
        """The title and the text's sentences that end within its first ``chars`` characters, as a document whose
        text field holds only their tokens (``_cut``) while every character read still reads the whole text: what a
        gate finds in them, it finds in the whole article (``_Node.settled``). None when the text is no longer than
        ``chars`` (the part is the whole) or no sentence ends within them."""
        cut = self.cut(chars)
        if cut is None:
            return None
        parts = self._parts
        if parts is None:
            parts = self._parts = {}
        if chars not in parts:
            parts[chars] = Document(self.title, self.text, {TITLE: self.heading(), TEXT: _Field(self.text, cut)})
        return parts[chars]

    def cut(self, chars: int) -> _Cut | None:
        """The text's sentences that end within its first ``chars`` characters (``_cut``), once: None when the text is
        no longer than ``chars`` or no sentence ends there."""
        if len(self.text) <= chars:
            return None
        cuts = self._cuts
        if cuts is None:
            cuts = self._cuts = {}
        if chars not in cuts:
            cuts[chars] = _cut(self.text, chars)
        return cuts[chars]

    def heading(self) -> _Field:
        """The title's field: the document's, or made for its parts before it (and then the document's)."""
        if self.made:
            return self.fields[TITLE]
        if self._heading is None:
            self._heading = _Field(self.title)
        return self._heading

    def present(self, scope: str | None = None) -> tuple[set[str], set[str], set[str]]:
        """(stems, folded surfaces, words' first three characters) found in any field, or only in the title
        or the lead (``scope``): a term whose first word is in none of them cannot match there."""
        if scope is not None:
            return self._scoped.get(scope) or self._scoped_present(scope)
        if self._present is None:
            title, text = self.fields[TITLE], self.fields[TEXT]
            self._present = (
                title.by_stem.keys() | text.by_stem.keys(),
                title.by_surface.keys() | text.by_surface.keys(),
                title.heads() | text.heads(),
            )
        return self._present

    def _scoped_present(self, scope: str) -> tuple[set[str], set[str], set[str]]:
        title, text = self.fields[TITLE], self.fields[TEXT]
        stems, surfaces, heads = set(title.by_stem), set(title.by_surface), set(title.heads())
        if scope == LEAD:
            lead = text.lead_words
            surfaces.update(lead)
            stems.update(text.stems[w] for w in lead if w in text.stems)  # words' stems (a CJK token has none)
            heads.update(w[:3] for w in lead)
        hit = self._scoped[scope] = (stems, surfaces, heads)
        return hit


def prepare(title: str, text: str) -> Document:
    """Normalize an article once for ``Query.match_prepared`` (one per topic)."""
    return Document(title, text)


# --- query tree ----------------------------------------------------------------------------


class _Node:
    positional = False
    key = ""

    def eval(self, doc: Document) -> tuple[bool, list[_Occ]]:
        """(satisfied, occurrences), memoized per document by the node's structural key."""
        hit = doc.memo.get(self.key)
        if hit is None:
            hit = doc.memo[self.key] = self._eval(doc)
        return hit

    def _eval(self, doc: Document) -> tuple[bool, list[_Occ]]:
        raise NotImplementedError

    def holds(self, doc: Document) -> bool:
        """Whether the node is satisfied (``eval``'s truth). AND, OR, NOT, EXCEPT and country entities find it
        with less work, stopping where it is known; what they leave unfinished is not kept for the document."""
        return self.eval(doc)[0]

    def settled(self, part: Document) -> bool | None:
        """The node's truth in the whole article when its part (``Document.part``) settles it, else None.

        What settles it: a term or a country's name found in the part holds in the whole article (the part's tokens,
        sentences and places are the whole text's before its last sentence end, and every check of a place reads the
        whole text: ``_cut``); nothing found there says nothing, except in the title, which the part holds whole.
        AND, OR and NOT settle from their children; ``a EXCEPT b`` when a place of a in the part is outside every
        place of b there (``_local``). A check reaching past the part's last sentence raises ``_Unsure``. Any other
        node is not settled by a part."""
        return None

    def leaves(self) -> Iterable[_Leaf]:
        return ()

    def finish(self) -> str:
        """Compute structural keys bottom-up, once: a set's subtree is shared by its uses."""
        if not self.key:
            key = self._finish()
            if len(key) > _KEY_CHARS:  # a set used many times, within sets used many times: not its expansion
                self.key = "#" + hashlib.blake2b(key.encode(), digest_size=16).hexdigest()
        return self.key

    def _finish(self) -> str:
        raise NotImplementedError


@dataclass(eq=False)
class _Leaf(_Node):
    label: str
    items: tuple[tuple[int, str, str, bool], ...]  # (kind, value, stem, implied)
    cjk: bool
    scope: str | None = None
    capitals: bool = False  # an abbreviation (НИИ, AI): only the word itself, written in capitals
    positional = True

    # set by finish(): the first item as a lookup key, and whether it is the only one to look up
    _first: tuple[int, str, str] = field(default=(_STEM, "", ""), init=False, repr=False)
    _one: bool = field(default=False, init=False, repr=False)
    _rest: tuple[tuple[int, str, str], ...] = field(default=(), init=False, repr=False)  # the other items to find

    def eval(self, doc: Document) -> tuple[bool, list[_Occ]]:
        hit = doc.memo.get(self.key)
        if hit is not None:
            return hit
        kind, value, stem = self._first
        present = doc._present or doc.present()
        where = doc.present(self.scope) if self.scope else present  # the first word: in the title or lead
        if _absent(where, kind, value, stem):
            return False, []  # most of a long query's terms: no need to look further
        for kind, value, stem in self._rest:  # a phrase's other words: anywhere in the article
            if _absent(present, kind, value, stem):
                return False, []
        hit = doc.memo[self.key] = self._eval(doc)
        return hit

    def _eval(self, doc: Document) -> tuple[bool, list[_Occ]]:
        out: list[_Occ] = []
        length = len(self.items)
        label = self.label
        if self._one:  # most terms: one word (or one CJK bigram and what it implies), anywhere
            last = length - 1
            kind, value, _stem = self._first
            for name, f in doc.fields.items():
                if kind == _STEM:
                    cands = f.by_stem.get(value)
                elif kind == _SURFACE:
                    cands = f.by_surface.get(value)
                else:
                    cands = f.lookup_key(self._first)
                if cands:  # (field, first, last, ((label, field, first, last),)) per place, built in C
                    lasts = [p + last for p in cands] if last else cands
                    named = repeat(name)
                    out += zip(named, cands, lasts, zip(zip(repeat(label), named, cands, lasts)))
            return bool(out), out
        for name in (TITLE,) if self.scope == TITLE else FIELDS:
            f = doc.fields[name]
            cands = f.lookup_key(self._first)
            if self.scope == LEAD and name == TEXT:  # the lead's: positions are sorted
                cands = cands[: bisect.bisect_left(cands, f.lead_end)]
            for k in range(1, length):
                if not cands:
                    break
                kind, value, stem, implied = self.items[k]
                if implied:
                    continue
                nxt = f.lookup_set(kind, value, stem)  # kept: phrases share their later words
                cands = [p for p in cands if p + k in nxt]
            if self.capitals:
                cands = [p for p in cands if f.raw(p, p).isupper()]
            for p in cands:
                e = p + length - 1
                out.append((name, p, e, ((label, name, p, e),)))
        return bool(out), out

    def leaves(self) -> Iterable[_Leaf]:
        yield self

    def settled(self, part: Document) -> bool | None:
        if self.eval(part)[0]:
            return True
        return False if self.scope == TITLE else None

    def _finish(self) -> str:
        self.key = f"{self.scope or ''}:{self.label}"
        self._first = self.items[0][:3]
        self._rest = tuple(it[:3] for it in self.items[1:] if not it[3])
        self._one = self.scope is None and not self.capitals and not any(not it[3] for it in self.items[1:])
        return self.key


@dataclass(eq=False)
class _Or(_Node):
    children: list[_Node]
    # set by finish(): the children that are terms, by what their first word must be for them to be
    # in an article (stem, surface, a prefix's first three characters, a Cyrillic prefix's stem), and
    # the children looked at in every article
    _gates: tuple[dict[str, list[int]], ...] = field(default=(), init=False, repr=False)
    _always: list[int] = field(default_factory=list, init=False, repr=False)
    _scope: str | None = field(default=None, init=False, repr=False)  # the scope of every gated child, if one

    @property
    def positional(self) -> bool:  # type: ignore[override]
        return all(c.positional for c in self.children)

    def _live(self, doc: Document) -> list[_Node]:
        """The children that may hold in ``doc``, in order: a set lookup per kind of first word, not a call
        per term (a set of a long query has hundreds of terms, an article holds a few of them)."""
        if not self._gates:
            return self.children
        present = doc.present(self._scope) if self._scope else (doc._present or doc.present())
        found = set(self._always)
        stems, surfaces, heads, prefix_stems = self._gates
        for gate, words in ((stems, present[_STEM]), (surfaces, present[_SURFACE]), (heads, present[2])):
            for w in gate.keys() & words:
                found.update(gate[w])
        for w in prefix_stems.keys() & present[_STEM]:
            found.update(prefix_stems[w])
        children = self.children
        return [children[i] for i in sorted(found)]

    def _eval(self, doc: Document) -> tuple[bool, list[_Occ]]:
        ok = False
        parts: list[list[_Occ]] = []
        memo = doc.memo
        gated = bool(self._gates)
        for c in self._live(doc):
            if gated and c.__class__ is _Leaf and c._one:
                # a word _live found in the article (what _Leaf.eval checks first): looked up at once
                hit = memo.get(c.key)
                if hit is None:
                    hit = memo[c.key] = c._eval(doc)
                cok, cocc = hit
            else:
                cok, cocc = c.eval(doc)
            if cok:
                ok = True
                if cocc:
                    parts.append(cocc)
        if len(parts) == 1:
            return ok, parts[0]  # one child's list, not a copy: occurrence lists are never changed once made
        out: list[_Occ] = []
        for part in parts:
            out += part
        return ok, out

    def holds(self, doc: Document) -> bool:
        hit = doc.memo.get(self.key)
        if hit is not None:
            return hit[0]
        return any(c.holds(doc) for c in self._live(doc))

    def settled(self, part: Document) -> bool | None:
        # a child not live has no word in the part: it holds there no more than it is settled
        return True if any(c.settled(part) for c in self._live(part)) else None

    def leaves(self) -> Iterable[_Leaf]:
        for c in self.children:
            yield from c.leaves()

    def _finish(self) -> str:
        self.key = "(|" + " ".join(c.finish() for c in self.children) + ")"
        gates: tuple[dict[str, list[int]], ...] = ({}, {}, {}, {})
        always: list[int] = []
        for i, c in enumerate(self.children):
            if not isinstance(c, _Leaf):
                always.append(i)
                continue
            kind, value, stem = c._first  # what _Leaf.eval checks first
            if kind != _PREFIX:
                gates[kind].setdefault(value, []).append(i)
            elif len(value) >= 3:
                gates[2].setdefault(value[:3], []).append(i)
                if stem:
                    gates[3].setdefault(stem, []).append(i)
            else:
                always.append(i)
        if len(always) < len(self.children) // 2:  # worth it: most children are terms
            self._gates, self._always = gates, always
            scopes = {c.scope for i, c in enumerate(self.children) if i not in always and isinstance(c, _Leaf)}
            self._scope = scopes.pop() if len(scopes) == 1 else None
        return self.key


@dataclass(eq=False)
class _And(_Node):
    children: list[_Node]
    spans: list[tuple[int, int]] = field(default_factory=list)  # each child's place in the query's text

    def _eval(self, doc: Document) -> tuple[bool, list[_Occ]]:
        occs: list[_Occ] = []
        for c in self.children:
            cok, cocc = c.eval(doc)
            if not cok:
                return False, []
            occs.extend(cocc)
        return True, occs

    def holds(self, doc: Document) -> bool:
        hit = doc.memo.get(self.key)
        if hit is not None:
            return hit[0]
        return all(c.holds(doc) for c in self.children)

    def settled(self, part: Document) -> bool | None:
        for c in self.children:
            truth = c.settled(part)
            if truth is not True:
                return truth  # False, or None: the whole article decides (what a later child says is not needed)
        return True

    def leaves(self) -> Iterable[_Leaf]:
        for c in self.children:
            yield from c.leaves()

    def _finish(self) -> str:
        self.key = "(&" + " ".join(c.finish() for c in self.children) + ")"
        return self.key


@dataclass(eq=False)
class _Not(_Node):
    child: _Node

    def _eval(self, doc: Document) -> tuple[bool, list[_Occ]]:
        ok, _ = self.child.eval(doc)
        return not ok, []

    def holds(self, doc: Document) -> bool:
        hit = doc.memo.get(self.key)
        if hit is not None:
            return hit[0]
        return not self.child.holds(doc)

    def settled(self, part: Document) -> bool | None:
        truth = self.child.settled(part)
        return None if truth is None else not truth

    def leaves(self) -> Iterable[_Leaf]:
        yield from self.child.leaves()

    def _finish(self) -> str:
        self.key = "(!" + self.child.finish() + ")"
        return self.key


@dataclass(eq=False)
class _Near(_Node):
    left: _Node
    right: _Node
    n: int
    positional = True

    def _eval(self, doc: Document) -> tuple[bool, list[_Occ]]:
        _, a = self.left.eval(doc)
        if not a:
            return False, []
        _, b = self.right.eval(doc)
        if not b:
            return False, []
        n = self.n
        out: list[_Occ] = []
        for name in FIELDS:
            xs_ = [o for o in a if o[0] == name]
            ys_ = [o for o in b if o[0] == name] if xs_ else None
            if not ys_:
                continue
            # the places of the shorter list looked up among those of the longer, sorted by their first word
            a_probes = len(xs_) <= len(ys_)
            probes, table = (xs_, ys_) if a_probes else (ys_, xs_)
            table.sort(key=_FIRST)
            starts = list(map(_FIRST, table))
            longest = max(map(operator.sub, map(_LAST, table), starts))
            for x in probes:
                xs, xe = x[1], x[2]
                lo = bisect.bisect_left(starts, xs - n - 1 - longest)
                hi = bisect.bisect_right(starts, xe + n + 1)
                for y in table[lo:hi]:
                    ys, ye = y[1], y[2]
                    if ys > xe:
                        gap = ys - xe - 1
                    elif xs > ye:
                        gap = xs - ye - 1
                    else:
                        continue  # overlapping occurrences are one place, not two near each other
                    if gap <= n:
                        first = xs if xs < ys else ys
                        out.append((name, first, xe if xe > ye else ye, x[3] + y[3] if a_probes else y[3] + x[3]))
        return bool(out), out

    def leaves(self) -> Iterable[_Leaf]:
        yield from self.left.leaves()
        yield from self.right.leaves()

    def _finish(self) -> str:
        self.key = f"(~{self.n} {self.left.finish()} {self.right.finish()})"
        return self.key


# --- country entities and partners ---------------------------------------------------------


class _FirstWords:
    """The first items of every ``_FirstIndex``'s patterns together (``_Field.first_words``)."""

    def __init__(self) -> None:
        self.stems: set[str] = set()
        self.surfaces: set[str] = set()
        self.heads: set[str] = set()  # a prefix item's first three characters
        self.version = 0  # changed with each item added: a field's intersection with them is then made again


_FIRST_WORDS = _FirstWords()


class _FirstIndex:
    """Patterns indexed by their first item, so a field is searched only for those that can start in it."""

    __slots__ = ("by_head", "by_stem", "by_surface", "short")

    def __init__(self) -> None:
        self.by_stem: dict[str, list[int]] = defaultdict(list)
        self.by_surface: dict[str, list[int]] = defaultdict(list)
        # a prefix item, by its first three characters, then by the item itself (as a lookup key)
        self.by_head: dict[str, dict[tuple[int, str, str], list[int]]] = {}
        self.short: dict[tuple[int, str, str], list[int]] = {}  # prefix items shorter than three characters

    def add(self, k: int, items: Sequence[tuple[int, str, str, bool]]) -> None:
        kind, value, stem = items[0][:3]
        if kind == _STEM:
            self.by_stem[value].append(k)
            _FIRST_WORDS.stems.add(value)
        elif kind == _SURFACE:
            self.by_surface[value].append(k)
            _FIRST_WORDS.surfaces.add(value)
        else:
            group = self.by_head.setdefault(value[:3], {}) if len(value) >= 3 else self.short
            group.setdefault((kind, value, stem), []).append(k)
            _FIRST_WORDS.heads.add(value[:3])
        _FIRST_WORDS.version += 1

    def candidates(self, f: _Field) -> list[int]:
        """The patterns whose first item occurs in ``f`` (in no particular order)."""
        stems, surfaces, heads = f.first_words()
        ks = [k for key in self.by_stem.keys() & stems for k in self.by_stem[key]]
        ks += [k for key in self.by_surface.keys() & surfaces for k in self.by_surface[key]]
        by_head = self.by_head
        # a prefix is looked at once for all the patterns it starts, and only when a word starts like it: does
        # the field hold a word of its stem or one starting with it (what lookup_key would find)
        by_stem = f.by_stem
        for head in by_head.keys() & heads:
            for (_kind, value, stem), kk in by_head[head].items():
                if (stem and stem in by_stem) or f.has_prefix(value):
                    ks += kk
        for item, kk in self.short.items():
            if f.lookup_key(item):
                ks += kk
        return ks

    def only(self, keep: Callable[[int], bool]) -> _FirstIndex:
        """This index of only the patterns ``keep`` takes: its candidates in a field are those of this one it takes."""
        out = _FirstIndex()
        for mine, theirs in ((self.by_stem, out.by_stem), (self.by_surface, out.by_surface)):
            for key, ks in mine.items():
                if kept := [k for k in ks if keep(k)]:
                    theirs[key] = kept
        for head, group in self.by_head.items():
            for item, ks in group.items():
                if kept := [k for k in ks if keep(k)]:
                    out.by_head.setdefault(head, {})[item] = kept
        for item, ks in self.short.items():
            if kept := [k for k in ks if keep(k)]:
                out.short[item] = kept
        return out

    def one_word(self, stem: str, surface: str) -> list[int]:
        """The patterns starting with this word (as a stem or as a surface)."""
        return self.by_stem.get(stem, []) + self.by_surface.get(surface, [])


@dataclass(frozen=True)
class _Gazetteer:
    """One country's names compiled to patterns, indexed by their first pattern item."""

    name: str
    # (label, items, exact surface or None, how a place name must be written: see _gazetteer)
    patterns: tuple[tuple[str, tuple[tuple[int, str, str, bool], ...], str | None, int], ...]
    index: _FirstIndex
    not_in: tuple[tuple[tuple[int, str, str, bool], ...], ...]
    places: frozenset[int] = frozenset()  # patterns naming a city, region or a place's adjective
    proper: dict[int, str] = field(default_factory=dict)  # one-word country names: see _Nations.proper
    institutions: frozenset[int] = frozenset()  # academies, agencies, institutes and universities
    # names of a family no list holds (ВНИИЖТ, 门捷列夫): (pattern, kind, a text without any of these has none,
    # what they name, the pattern's finditer: ``_scanner``)
    families: tuple[
        tuple[re.Pattern[str], str, tuple[str, ...], str, Callable[[str], Iterable[re.Match[str]]]], ...
    ] = ()
    code: str = ""  # ISO alpha-2
    # abbreviations that are also other things (HEU, TPU): pattern -> the full names, folded, one of which
    # the article must hold unless a word of a university stands beside the abbreviation
    contextual: dict[int, tuple[str, ...]] = field(default_factory=dict)
    # Latin-script place names -> their letters, folded: the words found must start with them (a stem is
    # not enough: "Day" has the stem of the city Daye)
    latin: dict[int, str] = field(default_factory=dict)
    # contextual abbreviations another country's institution also goes by (NEFU): only the full name decides
    shared: frozenset[int] = frozenset()


_GAZETTEERS: dict[str, _Gazetteer] = {}
_INSTITUTION_KINDS = frozenset({"academy", "university", "institute"})
_INSTITUTION_LABELS: dict[str, bool] = {}  # entity hit label -> the name is an academy's, university's or institute's
_ORGANISATION_KINDS = frozenset({"agency", "company"})
_ORGANISATION_LABELS: dict[str, bool] = {}  # entity hit label -> the name is a company's or a state agency's
_LABEL_KINDS: dict[str, str] = {}  # entity hit label -> the entry kind it names (academy, city...): country:XX/KIND
_CAPS_RE = re.compile(r"[A-ZА-ЯЁ].*[A-ZА-ЯЁ]")
# Place names from the gazetteer (cities, regions) in Latin or Cyrillic count only when written
# with a capital: many are also common words in some form (Дали ~ дали "gave", Daye ~ days).
_PLACE_KINDS = frozenset({"city", "region"})
_ALPHABETIC_RE = re.compile(r"[A-Za-z\u00c0-\u024f\u0400-\u04ff]")
_LATIN_RE = re.compile(r"[A-Za-z\u00c0-\u024f' .-]+")
_CYRILLIC_WORD_RE = re.compile(r"[\u0400-\u04ff]+")


@functools.lru_cache(maxsize=4096)
def _letters(text: str) -> str:
    """A name's letters and digits, folded ('Ulan-Ude' and 'Ulan Ude' are 'ulanude')."""
    return "".join(ch for ch in textnorm.fold_word(text) if ch.isalnum())


# A surname or patronymic right after a first name that is also a city (Vladimir Putin,
# Владимир Владимирович, Владимира Путина): the name is a person's, not the place's.
_SURNAME_RE = re.compile(
    r"[A-ZА-ЯЁ][a-zа-яё'-]*?(?:"
    r"ович|евич|вич|ич|овна|евна|ична|ов|ев|ёв|ин|ын|ский|цкий|ской|ская|цкая|ова|ева|ёва|ина|ына|енко|ук|юк|ян|их|ых"
    r")(?:а|у|ом|ым|ем|е|ой|ого|ому|им|ых|ую|ей|ы)?"
    r"|[A-Z][a-z'-]*?(?:ov|ev|yov|in|yn|sky|skiy|ski|skaya|ova|eva|ina|yna|enko|ich|vich|yan|ian|ovna|evna)"
)


def _gazetteer(code: str) -> _Gazetteer:
    g = _GAZETTEERS.get(code)
    if g is not None:
        return g
    from crawler import entities

    c = entities.country(code)
    patterns: list[tuple[str, tuple[tuple[int, str, str, bool], ...], str | None, int]] = []
    index = _FirstIndex()
    places: list[int] = []
    proper: dict[int, str] = {}
    given = entities.given_names()
    surnames = entities.surnames()
    generic: list[int] = []
    contextual: dict[int, tuple[str, ...]] = {}
    shared: list[int] = []
    shared_terms = entities.shared_abbreviations()
    latin: dict[int, str] = {}
    # a match inside one of the country's not_in words never counts (白俄 is Belarus, not Russia)
    not_in_words = sorted({n for t in c.terms for n in t.not_in} | set(c.not_in))
    for t in c.terms:
        text = t.term.strip('"')
        prefix = text.endswith("*")
        body = text[:-1] if prefix else text
        if t.kind in _PLACE_KINDS and _foreign_name_stem(code, body, t.kind):
            continue
        items: list[tuple[int, str, str, bool]] = []
        for w in body.split():
            items.extend(_pattern(w, prefix and w is body.split()[-1])[0])
        if not items:
            continue
        # an abbreviation in capitals (РАН, MIPT) matches only in capitals: "ран", "hit" are words
        exact = body if (" " not in body and _CAPS_RE.search(body) and body.upper() == body) else None
        k = len(patterns)
        _LABEL_KINDS[f"{text} \u2192 {c.name}"] = t.named
        if t.kind in _INSTITUTION_KINDS:
            _INSTITUTION_LABELS[f"{text} \u2192 {c.name}"] = True
        if t.kind in _ORGANISATION_KINDS:
            _ORGANISATION_LABELS[f"{text} \u2192 {c.name}"] = True
        # 0: any case; 1: capitalised; 2: capitalised and, being also a given name, not before a surname;
        # 3: capitalised and, being also a surname, not after a first name nor beside initials
        cased = 0
        if t.kind in _PLACE_KINDS and _ALPHABETIC_RE.search(body) is not None:
            cased = 2 if body in given else 3 if body in surnames else 1
            if _LATIN_RE.fullmatch(body):
                latin[len(patterns)] = _letters(body)
        if t.kind in _PLACE_KINDS or t.kind == "adjective":
            places.append(k)
        if t.kind in _GENERIC_KINDS:
            generic.append(k)
        if t.context:
            contextual[k] = tuple(n.casefold() for n in t.context)
            if body in shared_terms:
                shared.append(k)
        name = _proper_name(body) if t.kind == "name" and not prefix else None
        if name is not None:
            proper[k] = name
        patterns.append((f"{text} \u2192 {c.name}", tuple(items), exact, cased))
        index.add(k, items)
    not_in = tuple(tuple(_pattern(n, False)[0]) for n in not_in_words)
    families = []
    for pattern, kind, needles, what in c.patterns:
        rx = re.compile(pattern)
        families.append((rx, kind, needles, what, _scanner(rx)))
    g = _GAZETTEERS[code] = _Gazetteer(
        c.name,
        tuple(patterns),
        index,
        not_in,
        frozenset(places),
        proper,
        frozenset(generic),
        tuple(families),
        code,
        contextual,
        latin,
        frozenset(shared),
    )
    return g


try:  # the re module's own parser, to read a pattern's last letter and longest match; it is private, so a
    # Python without it (or a pattern it reads otherwise) scans the plain way: slower, the same matches
    import re._constants as _sre
    import re._parser as _sre_parse

    _ZERO_WIDTH = frozenset({_sre.AT, _sre.ASSERT, _sre.ASSERT_NOT})  # \b, lookaheads and lookbehinds
except ImportError:  # pragma: no cover - CPython 3.11 to 3.14 have it
    _sre_parse = None
_LONGEST_TRIED = 64  # the longest match a pattern's last letter is searched back from


def _scanner(rx: re.Pattern[str]) -> Callable[[str], Iterable[re.Match[str]]]:
    """``rx.finditer``, or the same matches found by trying the pattern at fewer places when each of its matches
    ends in one letter and is at most ``_LONGEST_TRIED`` characters long (a Russian university's short form: a
    place's stem, capitals and У, ТомГУ, КузГТУ): only at the few places before each place of that letter (found
    by ``str.find``), where a scan tries its regular expression at every character. Its needle, У, is in almost
    every Russian text, and the scan of a 5,000-word one took three times as long."""
    if _sre_parse is None:
        return rx.finditer
    try:
        tree = _sre_parse.parse(rx.pattern, rx.flags)
        items = list(tree.data)
        while items and items[-1][0] in _ZERO_WIDTH:
            items.pop()
        longest = tree.getwidth()[1]
        flags = tree.state.flags
    except Exception:  # noqa: BLE001 - a private parser that changed its shape: scan the plain way
        return rx.finditer
    if flags & re.IGNORECASE or not items or items[-1][0] is not _sre.LITERAL or longest > _LONGEST_TRIED:
        return rx.finditer
    return functools.partial(_scan_back, rx, chr(items[-1][1]), longest)


def _scan_back(
    rx: re.Pattern[str], last: str, longest: int, text: str, until: int | None = None
) -> list[re.Match[str]]:
    """``rx.finditer(text)`` for a pattern each of whose matches ends in the letter ``last`` and is at most
    ``longest`` characters long: no match starts elsewhere than at most that far before a place of the letter.
    Those places are tried in order, from the end of the last match, as finditer tries every place; a match at
    one is what a search reaching it finds (lookbehinds and \\b see the text before it). With ``until``, the
    matches found before one starting there or later: the first of finditer's (each read in the whole text)."""
    out: list[re.Match[str]] = []
    tried = 0  # every place before this one was tried, or is inside a match
    match = rx.match
    i = text.find(last)
    stop = len(text) if until is None else until + longest  # a match starting before ``until`` ends before this
    while 0 <= i < stop:
        for s in range(max(tried, i + 1 - longest), i + 1):
            m = match(text, s)
            if m is not None:
                out.append(m)
                tried = m.end()  # past i: a match ending at an earlier place of the letter was found there
                break
        else:
            tried = i + 1
        i = text.find(last, tried)
    return out


@functools.lru_cache(maxsize=1)
def _name_stems() -> dict[str, dict[str, frozenset[str]]]:
    """The stems of the one-word Cyrillic names of countries (Китай: кит) -> {country: its names, folded}."""
    from crawler import entities

    out: dict[str, dict[str, set[str]]] = {}
    for code in entities.codes():
        for term in entities.national_names(code):
            body = term.strip('"').rstrip("*")
            tokens = textnorm.tokenize(body) if _CYRILLIC_WORD_RE.fullmatch(body) else ()
            if len(tokens) == 1:
                out.setdefault(tokens[0][1], {}).setdefault(code, set()).add(textnorm.fold_word(body))
    return {stem: {c: frozenset(n) for c, n in by.items()} for stem, by in out.items()}


def _foreign_name_stem(code: str, name: str, kind: str) -> bool:
    """A one-word Cyrillic place name with the stem of another country's name (Кито, Quito, and Китами,
    Kitami, stem as Китай does): every form of that country's name would be taken for the place. A region
    named as a country is (Гонконг, Макао: China's special administrative regions) stays."""
    if not _CYRILLIC_WORD_RE.fullmatch(name):
        return False
    tokens = textnorm.tokenize(name)
    if len(tokens) != 1:
        return False
    others = {c: names for c, names in _name_stems().get(tokens[0][1], {}).items() if c != code}
    if kind == "region" and any(textnorm.fold_word(name) in names for names in others.values()):
        return False
    return bool(others)


# the words of a university beside an abbreviation: "HEU's delegation", "TPU Rector", "NSU students"
_UNIVERSITY_CONTEXT_RE = re.compile(
    r"(?i)\b(?:universit|rector|vice-rector|delegation|professor|faculty|student|campus|alumni|"
    r"ректор|проректор|делегаци|профессор|студент|университет|вуз)|校长|代表团|大学|教授|学生"
)
_CONTEXT_CHARS = 40  # characters each side of the abbreviation


def _in_context(
    doc: Document, f: _Field, first: int, last: int, full_names: tuple[str, ...], shared: bool = False
) -> bool:
    """An abbreviation that is also something else (HEU, highly enriched uranium) names its university
    when the article also names it in full, or a word of a university stands beside it; one that another
    country's university also goes by (NEFU) only when the article names it in full."""
    cs, ce = f.chars(first, last)
    if not shared and _UNIVERSITY_CONTEXT_RE.search(f.text, max(0, cs - _CONTEXT_CHARS), ce + _CONTEXT_CHARS):
        return True
    folded = doc.memo.get("\0folded")
    if folded is None:
        folded = doc.memo["\0folded"] = (doc.title + "\n" + doc.text).casefold()  # type: ignore[assignment]
    return any(n in folded for n in full_names)  # type: ignore[operator]


@dataclass(frozen=True)
class _Nations:
    """Every country's own names (not its places), to count which countries a story is about."""

    patterns: tuple[tuple[str, tuple[tuple[int, str, str, bool], ...], str | None], ...]
    index: _FirstIndex
    # a one-word proper name (Дания, Мали, Того, Chad) counts only when capitalised, and in Cyrillic
    # only in a form of the name itself: its stem is also a common word's (данные "data", мало "little")
    proper: dict[int, str]
    han: dict[str, str] = field(default_factory=dict)  # a name in Chinese characters -> its country
    # the names above and each country's listed academies, institutes, universities and agencies (NASA, JAXA,
    # Fraunhofer, ISRO): a third country named only by its institution is a partner as much as by its name
    # (``_counted``: indexed once for each set of countries left out, the sides of a PARTNERS)
    counted: dict[frozenset[str], _FirstIndex] = field(default_factory=dict)
    own: dict[frozenset[str], _FirstIndex] = field(default_factory=dict)  # ``index`` of only these countries' names
    not_in: dict[int, tuple[tuple[tuple[int, str, str, bool], ...], ...]] = field(default_factory=dict)


def _proper_name(body: str) -> str | None:
    """The folded name when ``body`` is one capitalised word of Latin or Cyrillic letters, else None."""
    if " " in body or "-" in body or not body[:1].isupper() or body.isupper() or not body.isalpha():
        return None
    if not _ALPHABETIC_RE.match(body):
        return None
    return textnorm.fold_word(body) if _CYRILLIC_RE.match(body) else ""


def _is_form_of(f: _Field, p: int, proper: str) -> bool:
    raw = f.raw(p, p)
    if not raw[:1].isupper():
        return False
    if proper:
        folded = textnorm.fold_word(raw)
        need = len(proper) - 1
        return folded[:need] == proper[:need]
    return True


_NATIONS: list[_Nations] = []

# unions of countries that are partners in their own right, as a third country is: "China and the European
# Union renewed their science agreement ... with other partners, Russia among them" is China and the EU's
_BLOCS: dict[str, tuple[str, ...]] = {
    "EU": ('"European Union"', "EU", '"Европейский союз"', "Евросоюз", "ЕС", "欧盟", "欧洲联盟"),
}


def _nations() -> _Nations:
    if _NATIONS:
        return _NATIONS[0]
    from crawler import entities

    patterns: list[tuple[str, tuple[tuple[int, str, str, bool], ...], str | None]] = []
    index = _FirstIndex()
    proper: dict[int, str] = {}
    han: dict[str, str] = {}
    named = [(code, term) for code in entities.codes() for term in entities.national_names(code)]
    named += [(code, term) for code, terms in _BLOCS.items() for term in terms]
    institutions = _listed_institutions()
    not_in: dict[int, tuple[tuple[tuple[int, str, str, bool], ...], ...]] = {}
    # (country, term, the longer names it does not count inside, or None for the country's own name)
    terms = [(code, term, None) for code, term in named] + institutions
    for code, term, longer in terms:
        text = term.strip('"')
        prefix = text.endswith("*")
        body = text[:-1] if prefix else text
        words = body.split()
        items: list[tuple[int, str, str, bool]] = []
        for w in words:
            items.extend(_pattern(w, prefix and w is words[-1])[0])
        if not items:
            continue
        exact = body if (len(words) == 1 and _CAPS_RE.search(body) and body.upper() == body) else None
        k = len(patterns)
        patterns.append((code, tuple(items), exact))
        name = None if prefix else _proper_name(body)
        if name is not None:
            proper[k] = name
        if longer is not None:  # an institution: not a name of the country itself
            if longer:
                not_in[k] = tuple(tuple(_pattern(w, False)[0]) for w in longer)
            continue
        if not prefix and _HAN_RE.fullmatch(body):
            han.setdefault(body, code)
        index.add(k, items)
    _NATIONS.append(_Nations(tuple(patterns), index, proper, han, {}, {}, not_in))
    return _NATIONS[0]


def _listed_institutions() -> list[tuple[str, str, tuple[str, ...] | None]]:
    """(country, term, longer names it does not count inside) of each country's listed academies, institutes,
    universities and agencies; an abbreviation that needs the article's context (KIT, TPU) is left out."""
    from crawler import entities

    return [(code, t.term, t.not_in) for code, t in entities.institutions() if not t.context]


_HAN_RE = re.compile("[\u4e00-\u9fff]+")
_GENERIC_KINDS = frozenset({"academy", "agency", "institute", "university"})


def _another_country_s(f: _Field, first: int, last: int, code: str) -> bool:
    """An institution's name with another country's name right after it (Минобрнауки Казахстана) or,
    in Chinese, right before it (印度国家航天局): that country's institution of the same kind."""
    n = _nations()
    cs, _ = f.chars(first, last)
    if _HAN_RE.match(f.text, cs):
        for k in range(2, 8):
            other = n.han.get(f.text[max(0, cs - k) : cs])
            if other is not None and other != code:
                return True
        return False
    j = (last & f.mask) + 1  # the next token
    if j >= len(f.positions) or f.positions[j] != last + 1:
        return False
    surface = textnorm.fold_word(f.text[f.starts[j] : f.ends[j]])
    stem = f.stems.get(surface, surface)
    for k in n.index.one_word(stem, surface):
        other, items, _exact = n.patterns[k]
        if other != code and len(items) == 1:
            proper = n.proper.get(k)
            if proper is None or _is_form_of(f, last + 1, proper):
                return True
    return False


# a sea named after a country is a sea (the Sea of Japan, Японское море, 日本海), not the country
# (or the first of several seas named together: Японского и Охотского морей, the Japan and Okhotsk seas)
_SEA_AFTER_RE = re.compile(
    r"(?:\s*(?:,|\bи\b|\band\b)\s*[A-ZА-ЯЁ][\w-]*)*\s*"
    r"(?i:мор(?:е|я|ю|ем|ей|ях|ям|ями)\b|seas?\b|oceans?\b|океан\w*\b|海(?![军上警洋域外关事运员])|洋(?![行人务货酒]))"
)
_SEA_BEFORE_RE = re.compile(r"\bsea of\s+(?:the\s+)?$", re.IGNORECASE)
# the characters _SEA_AFTER_RE can match first, other than white space: a list's comma, и or and, a sea's word
# (мор-, sea, ocean, океан- in any case: ſ is an s, ᲂ an о to the regex engine, 海, 洋)
_SEA_AFTER_FIRST = frozenset(",иaOSosſМОмоᲂ海洋")


def _sea_name(f: _Field, first: int, last: int) -> bool:
    """A country's name as the name of a sea: the Sea of Japan, Японское море, 日本海.

    Most names are followed by neither a list nor a sea, nor preceded by "sea of": the characters next to the name
    rule the regular expressions out first (a third of a name's check, and this runs for each name found)."""
    cs, ce = f.chars(first, last)
    text = f.text
    after = text[ce : ce + 1]
    if after.isspace():  # one white space or more: the first character after them
        after = text[ce + 1 : ce + 2]
        if after.isspace():
            after = ","  # more than one: the regex decides
    if after in _SEA_AFTER_FIRST and _SEA_AFTER_RE.match(text, ce):
        return True
    # "sea of" and white space, maybe "the" and white space, end right before the name
    if cs and text[cs - 1].isspace():
        before = text[max(0, cs - 12) : cs]
        return ("f" in before or "F" in before) and _SEA_BEFORE_RE.search(text, max(0, cs - 12), cs) is not None
    return False


def _nation_places(doc: Document, sides: Iterable[str]) -> dict[str, set[tuple[str, int]]]:
    """Where each country but the two sides is named by its own names in the story: (field, position)."""
    skip = frozenset(sides)
    key = "\0nations " + ",".join(sorted(skip))
    hit = doc.memo.get(key)
    if hit is not None:
        return hit  # type: ignore[return-value]
    places: dict[str, set[tuple[str, int]]] = defaultdict(set)
    ends: dict[tuple[str, int], int] = {}  # the last position of each name
    for name in FIELDS:
        for code, p, last in _nation_names(doc.fields[name], _counted(skip), lambda code: code not in skip):
            places[code].add((name, p))
            ends[(name, p)] = max(ends.get((name, p), p), last)
    doc.memo[key] = places  # type: ignore[assignment]
    doc.memo[key + " ends"] = ends  # type: ignore[assignment]
    return places


def _counted(skip: frozenset[str]) -> _FirstIndex:
    """The names and listed institutions of every country but those in ``skip``, indexed (once per ``skip``):
    what counts a third country."""
    n = _nations()
    index = n.counted.get(skip)
    if index is None:
        index = n.counted[skip] = _FirstIndex()
        for k, (code, items, _exact) in enumerate(n.patterns):
            if code not in skip:
                index.add(k, items)
    return index


def _nation_names(
    f: _Field, index: _FirstIndex, wanted: Callable[[str], bool], at: set[int] | None = None
) -> Iterable[tuple[str, int, int]]:
    """(country, first, last) of the names in a field of the patterns of ``index`` (countries' own names, or
    those and their listed institutions), of the countries ``wanted``, starting at one of the positions ``at``
    when given."""
    n = _nations()
    for k in index.candidates(f):
        code, items, exact = n.patterns[k]
        if not wanted(code):
            continue
        excluded: set[int] | None = None  # the positions of the pattern's longer names
        proper = n.proper.get(k)
        for p in _find(f, items):
            if at is not None and p not in at:
                continue
            longer = n.not_in.get(k)
            if longer is not None:
                if excluded is None:
                    excluded = {r for words in longer for q in _find(f, words) for r in range(q, q + len(words))}
                if p in excluded:
                    continue  # inside a longer name (École polytechnique in École polytechnique fédérale)
            if exact is not None and f.raw(p, p) != exact:
                continue
            if proper is not None and not _is_form_of(f, p, proper):
                continue
            if _sea_name(f, p, p + len(items) - 1):
                continue
            yield code, p, p + len(items) - 1


def _nation_place_ends(doc: Document, sides: Iterable[str]) -> dict[tuple[str, int], int]:
    """The last position of the longest name of any country, the sides' too, that starts where _nation_places
    found a name: (field, first) -> last."""
    skip = frozenset(sides)
    key = "\0nations " + ",".join(sorted(skip)) + " ends"
    _nation_places(doc, skip)
    ends: dict[tuple[str, int], int] = doc.memo[key]  # type: ignore[assignment]
    if skip and not doc.memo.get(key + " with sides"):
        # the sides' own names, only where another country's name starts (the sides' names are most of a story's),
        # looked for among the sides' names only
        n = _nations()
        own = n.own.get(skip)
        if own is None:
            own = n.own[skip] = n.index.only(lambda k: n.patterns[k][0] in skip)
        for name in FIELDS:
            at = {p for field, p in ends if field == name}
            if at:
                for _code, p, last in _nation_names(doc.fields[name], own, lambda code: code in skip, at):
                    ends[(name, p)] = max(ends[(name, p)], last)
        doc.memo[key + " with sides"] = (True, [])
    return ends


def _is_place(f: _Field, first: int, last: int, given_name: bool) -> bool:
    """A Latin/Cyrillic place name: capitalised, and (when a given name too) not followed by a surname."""
    start = f.starts[first & f.mask]
    if not f.text[start : start + 1].isupper():
        return False
    if not given_name:
        return True  # the Moscow Kremlin, Beijing Haidian
    j = (last & f.mask) + 1  # the next token
    if j < len(f.positions) and f.positions[j] == last + 1:
        between = f.text[f.ends[j - 1] : f.starts[j]]
        if between.isspace() and _SURNAME_RE.fullmatch(f.text[f.starts[j] : f.ends[j]]):
            return False
    return True


# A person's name around a surname that is also a city (Сергей Королёв, С. П. Королёв, Королёв С. П.,
# Alexei Ivanov): a capitalised word or an initial right before it, or an initial right after it.
_FIRST_NAME_BEFORE_RE = re.compile(r"(?:\b[A-ZА-ЯЁ][a-zа-яё]{2,}|\b[A-ZА-ЯЁ]\.)[ \u00a0]+\Z")
_INITIAL_AFTER_RE = re.compile(r"[ \u00a0]+[A-ZА-ЯЁ]\.(?:[ \u00a0]?[A-ZА-ЯЁ]\.)?")
# a capitalised word before a place that is not a first name: a preposition opening the sentence
_NOT_FIRST_NAMES = frozenset(
    {"под", "над", "для", "из", "от", "до", "при", "про", "через", "около", "возле", "между", "перед", "после",
     "near", "from", "into", "with", "for", "the", "in", "at", "by", "to", "of", "and"}
)  # fmt: skip


# a verb of saying right after a name: the name is the speaker's (Kirov said, Королёв заявил)
_SAID_AFTER_RE = re.compile(
    r"[ \u00a0]+(?:said|says|told|added|noted|stressed|explained|recalled|believes|"
    r"заявил|сказал|отметил|добавил|подчеркнул|сообщил|рассказал|пояснил|считает|уверен)\b"
)


def _is_surname(f: _Field, first: int, last: int) -> bool:
    """The name at first..last, also a city's, is a person's here (Сергей Королёв, Королёв С. П.,
    Kirov said)."""
    cs, ce = f.chars(first, last)
    if _SAID_AFTER_RE.match(f.text, ce) is not None:
        return True
    before = _FIRST_NAME_BEFORE_RE.search(f.text, max(0, cs - 40), cs)
    if before is not None and before.group().strip().lower() not in _NOT_FIRST_NAMES:
        # an English headline capitalises every word (Tsinghua Delegation Visits Kirov): there only
        # an initial says a person
        if before.group()[-2:].strip() == "." or not _title_case(f.text):
            return True
    return _INITIAL_AFTER_RE.match(f.text, ce) is not None


_LATIN_WORD_RE = re.compile(r"\b[A-Za-z][a-z]{3,}\b")


def _title_case(text: str) -> bool:
    """Text in Latin letters whose words of four letters or more are nearly all capitalised."""
    words = _LATIN_WORD_RE.findall(text[:300])
    return len(words) >= 3 and sum(w[0].isupper() for w in words) >= 0.8 * len(words)


# An institution named by its place: the place's name or adjective, then a few words of the name and
# an institution word (Tomsk Polytechnic University, Новосибирский государственный технический
# университет, 哈尔滨理工大学), or "University of" before it (University of Tyumen). The name is the
# place's country's institution. Group 1 is the institution word.
_INSTITUTION_AFTER = {
    "latin": re.compile(
        r"(?:[ -]+[A-Z][\w'’.-]*){0,3}[ -]+(University|Universities|Polytechnic|College|Institute|Academy|Observatory)\b"
        r"(?:\s+(?:of|for)\s+(?:the\s+)?[A-Z][\w-]*(?:\s+(?:and|&)\s+[A-Z][\w-]*)?)?"
    ),
    "cyrillic": re.compile(
        r"(?:\s+[а-яё-]+(?:ий|ый|ой|ая|ое|ого|ому|ом|ым|им|ей|ую|ие|ые|их|ых|ими|ыми)){0,3}\s+"
        r"(университет|вуз|политех|институт|академи|обсерватори|НИИ)[а-яё]*",
        re.IGNORECASE,
    ),
    "cjk": re.compile(r"[^\s\W\d的与和及在同对为是了向从将把被由其]{0,6}?(大学|学院|研究所|研究院|科学院|分院)"),
}
_INSTITUTION_BEFORE = re.compile(r"\b(University|Polytechnic|Institute|Academy) of (?:the )?\Z")
_RU_ADJECTIVE_RE = re.compile(r"[а-яё]+(?:ий|ый|ой|ая|ое|ого|ому|ом|ым|им|ей|ую|ие|ые|их|ых|ими|ыми)\Z", re.IGNORECASE)
_UNIVERSITY_WORDS = frozenset(
    {"university", "universities", "polytechnic", "college", "университет", "вуз", "политех", "大学", "学院"}
)
# An institute named by its place is a research body's (Сибирский научно-исследовательский институт, Novosibirsk
# Institute of Organic Chemistry) unless its name says it teaches a profession, as the higher schools called
# institutes do (Уральский горный институт, Новосибирский государственный педагогический институт, Kazan Medical
# Institute); a research institute's words win (Уральский научно-исследовательский горный институт).
_HIGHER_SCHOOL_RE = re.compile(
    r"\b(?:педагогическ|учительск|горн(?:ый|ого|ому|ом|ым|о-)|политехническ|медицинск|фармацевтическ|стоматологическ"
    r"|ветеринарн|сельскохозяйственн|авиационн|строительн|архитектурн|юридическ"
    r"|pedagogical|teachers|mining|polytechnic|medical|pharmaceutical|dental|veterinary|agricultural|aviation"
    r"|civil engineering|architectural|law)",
    re.IGNORECASE,
)
_RESEARCH_RE = re.compile(r"\b(?:научно-исследовательск|исследовательск|research)", re.IGNORECASE)
_INSTITUTE_WORDS = frozenset({"institute", "институт"})


def _teaches(name: str, word: str) -> bool:
    """Whether an institute named by its place (``name``: the words before its institution ``word``) is a
    higher school by what its name says."""
    return (
        word.lower() in _INSTITUTE_WORDS
        and _HIGHER_SCHOOL_RE.search(name) is not None
        and not _RESEARCH_RE.search(name)
    )


# how the words that end an institution's name begin, folded (大学 and 学院 are bigrams: 大学, 学院, 研究,
# 科学, 分院 begin with these characters)
_INSTITUTION_HEADS = (
    "universit", "polytechnic", "college", "institut", "academ", "observator", "университет", "вуз", "политех",
    "институт", "академи", "обсерватори", "нии", "大学", "学院", "研究", "科学", "分院",
)  # fmt: skip


def _place_institution(f: _Field, first: int, last: int, country: str) -> tuple[int, int, str] | None:
    """(first, last, label) of an institution named by the place at first..last, or None."""
    words = f.institution_words()
    i = bisect.bisect_left(words, first - 3)
    if i == len(words) or words[i] > last + 8:
        return None  # no institution word just before or after the place: the common case, decided fast
    cs, ce = f.chars(first, last)
    text = f.text
    ch = text[cs]
    if "\u4e00" <= ch <= "\u9fff":
        # read folded to Simplified, so a name in Traditional copy (喀山國立研究技術大學) is found as one in Simplified
        m = _INSTITUTION_AFTER["cjk"].match(f.folded, ce)
    elif ch.isascii():
        m = _INSTITUTION_AFTER["latin"].match(text, ce)
        if m is None:
            before = _INSTITUTION_BEFORE.search(text, max(0, cs - 20), cs)
            if before is not None:
                start = bisect.bisect_left(f.starts, before.start())
                label = f"{text[before.start() : ce]} \u2192 {country}"
                _note_institution(label, before.group(1).lower() in _UNIVERSITY_WORDS)
                return f.positions[start], last, label
            return None
    elif _RU_ADJECTIVE_RE.search(text, cs, ce):
        m = _INSTITUTION_AFTER["cyrillic"].match(text, ce)
    else:
        return None
    if m is None:
        return None
    if m.end() > f.limit:
        raise _Unsure  # the name goes on past a part's last sentence (``_cut``)
    end = f.positions[bisect.bisect_left(f.starts, m.end()) - 1]
    if f.sentence(end) != f.sentence(first):
        return None
    label = f"{text[cs : m.end()]} \u2192 {country}"
    word = m.group(1)
    _note_institution(label, word.lower() in _UNIVERSITY_WORDS or _teaches(text[m.start() : m.start(1)], word))
    return first, end, label


def _note_institution(label: str, university: bool) -> None:
    _INSTITUTION_LABELS[label] = True
    # named by its place: a university or college, else a research body (a listed name keeps its own kind)
    _LABEL_KINDS.setdefault(label, "university" if university else "institute")


def _find(f: _Field, items: tuple[tuple[int, str, str, bool], ...], lo: int = -1, hi: int = 0) -> list[int]:
    """Start positions where the pattern items occur in one field (from position ``lo`` up to ``hi`` when given)."""
    cands = f.lookup(*items[0][:3])
    if hi and cands:
        cands = cands[bisect.bisect_left(cands, lo) : bisect.bisect_left(cands, hi)]
    if cands and len(items) > 1:
        # a later word the field does not hold at all: no place, without looking at each of the first's
        by_stem, by_surface = f.by_stem, f.by_surface
        for kind, value, _stem, implied in items[1:]:
            if not implied and (
                (kind == _STEM and value not in by_stem) or (kind == _SURFACE and value not in by_surface)
            ):
                return []
    for k in range(1, len(items)):
        if not cands:
            break
        kind, value, stem, implied = items[k]
        if implied:
            continue
        nxt = f.lookup_set(kind, value, stem)
        cands = [p for p in cands if p + k in nxt]
    return cands


@dataclass(eq=False)
class _Entity(_Node):
    """``country:XX``: any name of the country, its regions, cities and institutions; ``country:XX/KIND``:
    those of one kind (the names ``country:XX`` finds, filtered: the longest name has already won)."""

    code: str
    scope: str | None = None
    kind: str = ""  # a kind of entities.KINDS, or "" for all
    positional = True
    _all: _Entity | None = field(default=None, init=False, repr=False)  # country:XX of the same scope
    _kinds: frozenset[str] = field(default=frozenset(), init=False, repr=False)  # the entry kinds KIND takes

    def _eval(self, doc: Document) -> tuple[bool, list[_Occ]]:
        if self._all is not None:
            out = [o for o in self._all.eval(doc)[1] if _LABEL_KINDS.get(o[3][0][0]) in self._kinds]
            return bool(out), out
        out = list(self.places(doc))
        return bool(out), out

    def places(self, doc: Document, in_parts: bool = False) -> Iterator[_Occ]:
        """The entity's occurrences (``eval``'s), one at a time, in the order ``eval`` lists them: a gate that asks
        only whether a side is named stops at the first (``holds``) and the checks of the rest are never run.
        ``in_parts``: a long field's names are found part by part (its first 256 words, to its 2,048th, the rest),
        so that one stopping early has not found every place of every name in the whole text."""
        hit = doc.memo.get(self.key)
        if hit is not None or self._all is not None:
            yield from (hit or self.eval(doc))[1]
            return
        g = _gazetteer(self.code)
        patterns = g.patterns
        for name in (TITLE,) if self.scope == TITLE else FIELDS:
            f = doc.fields[name]
            lead_end = f.lead_end if self.scope == LEAD and name == TEXT else 1 << 62
            candidates = g.index.candidates(f)
            families: list[tuple[int, int, int]] = []
            family_labels = _families(g, f, families, lead_only=self.scope == LEAD and name == TEXT)
            # the places of a part are those starting in it: the sweep over the parts in turn is the sweep over the
            # whole field, and a name reaching past a part's end is found whole in the part it starts in
            ends = [f.positions[i] for i in _PARTS if in_parts and i < len(f.positions)] + [1 << 62]
            start = -1
            last_end = -1
            excluded: list[set[int]] = []  # the positions of the country's longer words, found once when needed
            for end in ends:
                # every place of a candidate name, (first, -last, pattern), checked only when the sweep below reaches
                # it: the longest name wins where names overlap, and a name inside one that won is not looked at
                found = [place for place in families if start <= place[0] < end] if families else []
                for k in candidates:
                    items = patterns[k][1]
                    starts = _find(f, items, start, end) if len(ends) > 1 else _find(f, items)
                    if starts:
                        shift = 1 - len(items)  # -last of a place at p
                        if lead_end < 1 << 62:
                            found += [(p, shift - p, k) for p in starts if p < lead_end]
                        else:
                            found += [(p, shift - p, k) for p in starts]
                found.sort()
                start = end
                for p, neg_e, k in found:
                    e = -neg_e
                    if e <= last_end:
                        continue
                    if k >= 0:
                        if not self._fits(doc, g, f, k, p, e, excluded):
                            continue
                        label = patterns[k][0]
                    else:
                        label = family_labels[-k - 1]
                    if k in g.places:
                        if _HAN_RE.match(label) and _in_person_name(f, p, e):
                            continue
                        named = _place_institution(f, p, e, g.name)
                        if named is not None:
                            if _another_country_s(f, named[0], named[1], self.code):
                                continue  # Северо-Западный университет Китая: the other country's university
                            p, e, label = named
                    last_end = e
                    yield (name, p, e, ((label, name, p, e),))

    def holds(self, doc: Document) -> bool:
        return next(self.places(doc, in_parts=True), None) is not None

    def settled(self, part: Document) -> bool | None:
        if self.holds(part):
            return True
        return False if self.scope == TITLE else None

    def _fits(self, doc: Document, g: _Gazetteer, f: _Field, k: int, p: int, e: int, excluded: list[set[int]]) -> bool:
        """Whether the place p..e of the gazetteer's pattern ``k`` names the country (its case, a sea's name, a
        person's, another country's institution, an abbreviation's context, a longer word it is inside)."""
        label, _items, exact, cased = g.patterns[k]
        if exact is not None and f.raw(p, e) != exact:
            return False
        if cased == 3 and _is_surname(f, p, e):
            return False
        if cased and not _is_place(f, p, e, cased == 2):
            return False
        latin = g.latin.get(k)
        if latin is not None and not _letters(f.raw(p, e)).startswith(latin):
            return False
        proper = g.proper.get(k)
        if proper is not None and not _is_form_of(f, p, proper):
            return False
        if _LABEL_KINDS.get(label) == "name" and _sea_name(f, p, e):
            return False  # the Sea of Japan, the Indian Ocean: a sea, not the country
        if k in g.institutions and _another_country_s(f, p, e, self.code):
            return False
        context = g.contextual.get(k)
        if context is not None and not _in_context(doc, f, p, e, context, k in g.shared):
            return False
        if g.not_in:
            if not excluded:
                excluded.append({r for words in g.not_in for q in _find(f, words) for r in range(q, q + len(words))})
            if p in excluded[0]:  # starts inside the longer word
                return False
        return True

    def leaves(self) -> Iterable[_Leaf]:
        return ()

    def _finish(self) -> str:
        self.key = f"{self.scope or ''}:country:{self.code}"
        if self.kind:
            from crawler import entities

            self._kinds = entities.KINDS[self.kind]
            self._all = _Entity(self.code, self.scope)  # evaluated once per document, shared with country:XX
            self._all.finish()
            self.key += "/" + self.kind
        return self.key


_PARTS = (256, 2048)  # the words a long field's parts end at, for a gate asking whether a country is named


# a middle dot joins the parts of a foreign person's name in Chinese (弗拉基米尔·泽连斯基)
_NAME_DOTS = frozenset("·・•‧∙")


def _in_person_name(f: _Field, first: int, last: int) -> bool:
    """A place name in Chinese characters joined by a middle dot to another name: a person's name
    (弗拉基米尔·泽连斯基 is Volodymyr Zelensky, not the city of Vladimir)."""
    cs, ce = f.chars(first, last)
    if not _HAN_RE.match(f.text, cs):
        return False
    return f.text[ce : ce + 1] in _NAME_DOTS or (cs > 0 and f.text[cs - 1] in _NAME_DOTS)


_FOREIGN_HAN: list[tuple[re.Pattern[str], dict[str, str]]] = []


def _foreign_han() -> tuple[re.Pattern[str], dict[str, str]]:
    """Every country's own names in Chinese characters but China's (白俄罗斯, 俄, 哈萨克斯坦), longest first."""
    if not _FOREIGN_HAN:
        han = {name: code for name, code in _nations().han.items() if code not in _HAN_COUNTRIES}
        rx = re.compile("|".join(sorted(map(re.escape, han), key=len, reverse=True)))
        _FOREIGN_HAN.append((rx, han))
    return _FOREIGN_HAN[0]


# the countries that write in Chinese characters: their people's names are not transcribed
_HAN_COUNTRIES = frozenset({"CN", "TW", "HK", "MO", "SG"})


_NAMED_WITHIN = 200  # characters before a surname where the country of its person is named


def _named_before(text: str, at: int) -> str | None:
    """The country (not one writing in Chinese characters) named last in the few sentences before
    ``at``, or None."""
    rx, han = _foreign_han()
    last = None
    for m in rx.finditer(text, max(0, at - _NAMED_WITHIN), at):
        last = m.group()
    return han[last] if last is not None else None


def _after_country_name(text: str, at: int) -> int | None:
    """Where a country's name that ``at`` is inside of ends (at 罗 of 俄罗斯), or None."""
    rx, _ = _foreign_han()
    for k in (1, 2, 3):
        m = rx.match(text, at - k) if at >= k else None
        if m is not None and m.end() > at:
            return m.end()
    return None


def _families(g: _Gazetteer, f: _Field, found: list[tuple[int, int, int]], lead_only: bool) -> list[str]:
    """Add the names of ``g.families`` in ``f`` to ``found`` (pattern -1, -2, ...); their labels, the text as written.

    A transcribed surname is a person of the country named last before it, when that is another
    country (哈萨克斯坦总统托卡耶夫, 白俄罗斯国家科学院副主席特鲁哈诺夫): the same transcription
    writes the names of the neighbouring peoples."""
    from crawler import entities

    people = entities.people()  # 泽连斯基: listed people of other countries
    labels: list[str] = []
    text = f.folded  # names in Traditional copy are read as in Simplified (羅蒙諾索夫 as 罗蒙诺索夫), shown as written
    limit = f.limit if f.limit < len(f.text) else None  # a part's (``_cut``): the names starting before its end
    for rx, kind, needles, what, scan in g.families:
        if not f.holds_any(needles):
            continue  # most texts: a few substring searches instead of a regular expression's scan
        for m in scan(text) if limit is None else _scanned_until(scan, text, limit):
            if kind == "person":
                after = _after_country_name(text, m.start())
                if after is not None:  # 俄罗斯库尔恰托夫: the surname starts after the country's name
                    m = rx.match(text, after, m.end())  # type: ignore[assignment]
                    if m is None:
                        continue
            i = bisect.bisect_left(f.starts, m.start())
            if i == len(f.starts) or f.starts[i] != m.start():
                continue  # not at a word's start (ВНИИ inside a longer word)
            if kind == "person" and _named_before(text, m.start()) not in (None, g.code):
                continue
            if kind == "person" and people.get(m.group(), g.code) != g.code:
                continue  # 泽连斯基: a listed person of another country
            if limit is not None and m.end() > limit:
                raise _Unsure  # the name goes on past a part's last sentence
            p, e = f.positions[i], f.positions[bisect.bisect_left(f.starts, m.end()) - 1]
            if lead_only and p >= f.lead_end:
                continue
            label = f"{f.text[m.start() : m.end()]} \u2192 {g.name}"
            _LABEL_KINDS.setdefault(label, what)
            if kind in _INSTITUTION_KINDS:
                _note_institution(label, False)
            labels.append(label)
            found.append((p, -e, -len(labels)))
    return labels


def _scanned_until(scan: Callable[[str], Iterable[re.Match[str]]], text: str, until: int) -> Iterator[re.Match[str]]:
    """``scan(text)``'s matches that start before ``until``: those of the whole text, found without scanning past."""
    found = scan.func(*scan.args, text, until) if isinstance(scan, functools.partial) else scan(text)
    for m in found:
        if m.start() >= until:
            return
        yield m


def _institution(occs: list[_Occ]) -> bool:
    """Whether one of the occurrences names an academy, university or research institute."""
    return any(_INSTITUTION_LABELS.get(h[0]) for o in occs for h in o[3])


@dataclass(eq=False)
class _Partners(_Node):
    """``PARTNERS(a, b, what, unless)``: a and b are the actors of ``what``.

    That holds in a sentence naming a, b and ``what``, or when the title names a and b (or one of
    them, and the text's first sentence the other) and ``what`` is in the title or the lead; two academies, universities or institutes of the two sides
    in a sentence or the title need no ``what``. A sentence (or title) holding ``unless`` does not count.
    When a and b are countries (or each one country with other words for it) and a third country is
    named more often than one of them, or in
    the title while a and b are not both there, only the headline counts: the third country is
    the partner, and a and b meet in passing. A sentence listing a and b among MULTILATERAL or more third
    countries names a multilateral team, not partners: it does not count, alone or with the title.
    ``what`` inside the name of an academy, university, institute, company or state agency of a or b
    (Institute of Technology in Harbin Institute of Technology, 海洋 in 中国海洋石油) is part of a name,
    not what the sides do.
    The occurrences are those in the places that count.
    """

    a: _Node
    b: _Node
    what: _Node | None
    unless: _Node | None = None
    positional = False
    _side_codes: list[set[str]] | None = field(default=None, init=False, repr=False)  # countries of a and b

    def _eval(self, doc: Document) -> tuple[bool, list[_Occ]]:
        occs: list[list[_Occ]] = []
        for c in (self.a, self.b, self.what):
            if c is None:
                occs.append([])
                continue
            ok, occ = c.eval(doc)
            if c is self.what and not (ok and occ):
                occs.append([])  # two academic institutions may still be partners in one sentence
                continue
            if not ok or not occ:
                return False, []
            occs.append(occ)
        # a word inside a side's institution or company name is not what the sides do: universities also
        # teach languages and hold festivals (Harbin Institute of Technology), an academy's member speaks of
        # farming (a member of the Chinese Academy of Sciences), oil companies drill (中国海洋石油, CNOOC)
        sides = self._sides(doc, occs[0], occs[1])
        names = sides.names
        if names and self.what is not None:
            occs[2] = [o for o in occs[2] if (o[0], o[1]) not in names or (o[0], o[2]) not in names]
        shifts = {name: f.shift for name, f in doc.fields.items()}

        def unit(o: _Occ) -> tuple[str, int]:
            return (o[0], o[1] >> shifts[o[0]])  # the field and sentence of the occurrence's first word

        tainted: set[tuple[str, int]] = set()
        if self.unless is not None:
            tainted = {unit(o) for o in self.unless.eval(doc)[1]}
        # each side's places by sentence, grouped once for the document (PARTNERS of the same sides share them)
        ua, ub = (sides.units(i, shifts) for i in (0, 1))
        if tainted:
            ua, ub = ({u: us for u, us in d.items() if u not in tainted} for d in (ua, ub))
        uw = _units(occs[2], shifts, tainted)
        out: list[_Occ] = []
        # two countries among many in one list (scientists from China, the Czech Republic, France, Germany,
        # Italy, Russia and the United States) are members of a multilateral team, not partners: such a
        # sentence counts neither alone nor with the title
        crowded = sides.crowded
        for key in (ua.keys() & ub.keys()) - crowded:
            if self.what is not None and key not in uw and not (_institution(ua[key]) and _institution(ub[key])):
                continue  # two academies or universities in one sentence: academic cooperation itself
            if not _distinct(ua[key], ub[key]):
                continue  # one name cannot be both partners
            out.extend(ua[key])
            out.extend(ub[key])
            out.extend(uw.get(key, ()))
        # the headline: both sides in the title, what in the title or the lead
        ta = [o for o in occs[0] if o[0] == TITLE]
        tb = [o for o in occs[1] if o[0] == TITLE]
        # a third country named in the title more often than one side is the partner even when the title
        # names both sides (Belarus's academy four times and China, a Belarusian's name taken for Russian)
        third_in_title = bool(ta and tb) and self._leads(doc, sides, True, True, headline=True)
        if out and (third_in_title or (not (ta and tb) and self._leads(doc, sides, bool(ta), bool(tb)))):
            out = []  # another country is the partner; the two sides meet only in passing
        if ta and tb and _distinct(ta, tb) and not any(k[0] == TITLE for k in tainted) and not third_in_title:
            lead_end = doc.fields[TEXT].lead_end
            what = [o for o in occs[2] if (o[0] == TITLE or o[1] < lead_end) and unit(o) not in tainted]
            # two academic institutions in the title are partners in their own right, as in a sentence
            if what or self.what is None or (_institution(ta) and _institution(tb)):
                out.extend(ta)
                out.extend(tb)
                out.extend(what)
        elif (ta or tb) and not (ta and tb) and not any(k[0] == TITLE for k in tainted):
            # the headline also names both when the title names one side and the text's first sentence the
            # other ("Huawei delegation welcomed by University" / "KFU was represented by its vice-rector"),
            # with what in the title or the lead, unless a third country leads
            lead_end = doc.fields[TEXT].lead_end
            first_end = min(lead_end, doc.fields[TEXT].first_end)  # the text's first sentence, its clauses too
            left_out = tainted | crowded
            ha = ta or [o for o in occs[0] if o[0] == TEXT and o[1] < first_end and unit(o) not in left_out]
            hb = tb or [o for o in occs[1] if o[0] == TEXT and o[1] < first_end and unit(o) not in left_out]
            what = [o for o in occs[2] if (o[0] == TITLE or o[1] < lead_end) and unit(o) not in tainted]
            if ha and hb and what and _distinct(ha, hb) and not self._leads(doc, sides, bool(ta), bool(tb)):
                out.extend(ha)
                out.extend(hb)
                out.extend(what)
        return bool(out), out

    def _sides(self, doc: Document, oa: list[_Occ], ob: list[_Occ]) -> _Sides:
        """What the two sides' places alone decide, kept for the document: a model's PARTNERS features of the
        same two sides (with another ``what`` or ``unless``) share it."""
        key = f"\0sides {self.a.key} {self.b.key}"
        hit: _Sides | None = doc.memo.get(key)  # type: ignore[assignment]
        if hit is not None:
            return hit
        names = {
            (o[0], q)
            for o in oa + ob
            if o[2] > o[1] and any(_INSTITUTION_LABELS.get(h[0]) or _ORGANISATION_LABELS.get(h[0]) for h in o[3])
            for q in range(o[1], o[2] + 1)
        }
        crowded: set[tuple[str, int]] = set()
        codes = self._countries()
        if codes:
            places = _nation_places(doc, codes)
            if places:
                _listed_with_sides(doc, oa, ob, places, codes, crowded)
        hit = _Sides(oa, ob, names, crowded)
        doc.memo[key] = hit  # type: ignore[assignment]
        return hit

    def _leads(self, doc: Document, sides: _Sides, ta: bool, tb: bool, headline: bool = False) -> bool:
        """``_third_country_leads`` for the sides' places, kept with them."""
        key = (ta, tb, headline)
        hit = sides.leads.get(key)
        if hit is None:
            hit = sides.leads[key] = self._third_country_leads(doc, sides.oa, sides.ob, ta, tb, headline)
        return hit

    def _countries(self) -> set[str]:
        """The two sides' countries when each side is one country, or a country with other words for it
        (country:CN OR 我国); empty otherwise."""
        codes = self._side_codes
        if codes is None:
            codes = self._side_codes = [
                {n.code.upper() for n in _walk(side) if isinstance(n, _Entity) and not n.kind}
                for side in (self.a, self.b)
            ]
        if not all(len(c) == 1 for c in codes) or codes[0] == codes[1]:
            return set()
        return codes[0] | codes[1]

    def _third_country_leads(
        self, doc: Document, oa: list[_Occ], ob: list[_Occ], ta: bool, tb: bool, headline: bool = False
    ) -> bool:
        """A third country is named more often than one of the two sides, or in the title instead; for the
        headline, a third country named in the title more often than one of the sides is."""
        sides = self._countries()
        if not sides:
            return False
        in_field = (lambda f: f == TITLE) if headline else (lambda f: True)
        weaker = min(
            len({(o[0], o[1]) for o in oa if in_field(o[0])}), len({(o[0], o[1]) for o in ob if in_field(o[0])})
        )
        places = _nation_places(doc, sides)
        if not places:
            return False
        # a name inside a side's name is the side's (蒙古 in 内蒙古, Inner Mongolia, is China): those positions are
        # gathered only for a country named often enough, or in the title, before they are taken out (taking
        # them out never adds a name; most third countries are named less often than either side)
        inside: set[tuple[str, int]] | None = None
        listed: set[tuple[str, int]] | None = None
        for ps in places.values():
            ps = {(f, p) for f, p in ps if in_field(f)}
            if not (len(ps) > weaker or (not headline and any(f == TITLE for f, _ in ps) and not (ta and tb))):
                continue
            if inside is None:
                inside = {(o[0], q) for o in oa + ob for q in range(o[1], o[2] + 1)}
            ps -= inside
            if not (len(ps) > weaker or (not headline and any(f == TITLE for f, _ in ps) and not (ta and tb))):
                continue  # not even before the names listed with both sides are taken out
            if listed is None:
                listed = _listed_with_sides(doc, oa, ob, places, sides)
            ps -= listed
            if len(ps) > weaker or (not headline and any(f == TITLE for f, _ in ps) and not (ta and tb)):
                return True
        return False

    def leaves(self) -> Iterable[_Leaf]:
        for c in (self.a, self.b, self.what, self.unless):
            if c is not None:
                yield from c.leaves()

    def _finish(self) -> str:
        parts = [c.finish() if c is not None else "" for c in (self.a, self.b, self.what, self.unless)]
        self.key = "(P " + " ".join(parts) + ")"
        return self.key


@dataclass
class _Sides:
    """The places of a PARTNERS' two sides in one document and what they alone decide (``_Partners._sides``)."""

    oa: list[_Occ]
    ob: list[_Occ]
    names: set[tuple[str, int]]  # positions inside a side's institution or company name
    crowded: set[tuple[str, int]]  # sentences listing both sides among many third countries
    leads: dict[tuple[bool, bool, bool], bool] = field(default_factory=dict)  # _third_country_leads by its flags
    _units: list[dict[tuple[str, int], list[_Occ]]] = field(default_factory=list)  # each side's places by sentence

    def units(self, side: int, shifts: dict[str, int]) -> dict[tuple[str, int], list[_Occ]]:
        """The places of side a (0) or b (1) by their (field, sentence), in order: not to be changed."""
        if not self._units:
            self._units.extend(dict(_units(occs, shifts, set())) for occs in (self.oa, self.ob))
        return self._units[side]


def _units(
    occs: list[_Occ], shifts: dict[str, int], left_out: set[tuple[str, int]]
) -> dict[tuple[str, int], list[_Occ]]:
    """Occurrences by the (field, sentence) of their first word, in order, but those of the sentences ``left_out``."""
    out: dict[tuple[str, int], list[_Occ]] = defaultdict(list)
    for o in occs:
        u = (o[0], o[1] >> shifts[o[0]])
        if u not in left_out:
            out[u].append(o)
    return out


# what may stand between two members of one coordinated list: commas and one "and" (Russia, Japan, China and Mongolia)
_LIST_JOINT_RE = re.compile(r"[\s,、，]*(?:(?:and|и|和|与|及|以及)[\s,、，]*)?", re.IGNORECASE)


def _listed_with_sides(
    doc: Document,
    oa: list[_Occ],
    ob: list[_Occ],
    places: dict[str, set[tuple[str, int]]],
    sides: set[str],
    crowded: set[tuple[str, int]] | None = None,
) -> set[tuple[str, int]]:
    """The places of third countries in one coordinated list with both sides, in one sentence ("scientists from
    Russia, Japan, China and Mongolia"): one more member of the team, not the partner instead of a side. The
    sentences whose list holds MULTILATERAL or more third countries go into ``crowded``."""
    ends = _nation_place_ends(doc, sides)
    items: dict[str, list[tuple[int, int, int]]] = defaultdict(list)  # field -> (first, last, 0 a / 1 b / 2 third)
    for kind, occ in ((0, oa), (1, ob)):
        for o in occ:
            items[o[0]].append((o[1], o[2], kind))
    for code, ps in places.items():
        if code not in sides:
            for name, p in ps:
                if name in items:
                    items[name].append((p, ends.get((name, p), p), 2))
    out: set[tuple[str, int]] = set()
    for name, xs in items.items():
        f = doc.fields[name]
        shift = f.shift
        third = {x[0] >> shift for x in xs if x[2] == 2}  # the sentences naming a third country
        if not third:
            continue
        # a list is inside one sentence (no name spans a sentence end): only these sentences can hold one with a
        # third country in it
        xs = [x for x in xs if x[0] >> shift in third or x[1] >> shift in third]
        xs.sort()
        run: list[tuple[int, int, int]] = [xs[0]]
        last = xs[0][1]  # the run's last position
        kinds = 1 << xs[0][2]  # a bit per kind in the run
        for x in [*xs[1:], None]:
            if x is not None:
                if (
                    x[0] <= last
                    or (
                        last >> shift == x[0] >> shift  # one sentence
                        and _LIST_JOINT_RE.fullmatch(f.text[f.chars(last, last)[1] : f.chars(x[0], x[0])[0]])
                    )
                ):
                    run.append(x)
                    last = max(last, x[1])
                    kinds |= 1 << x[2]
                    continue
            if kinds == 0b111:  # both sides and a third country
                out.update((name, r[0]) for r in run if r[2] == 2)
                if crowded is not None and sum(r[2] == 2 for r in run) >= MULTILATERAL:
                    crowded.add((name, run[0][0] >> shift))
            if x is not None:
                run = [x]
                last = x[1]
                kinds = 1 << x[2]
    return out


def _distinct(xs: list[_Occ], ys: list[_Occ]) -> bool:
    """Some occurrence of xs and some of ys are different places (not one name taken for both), or one
    name is an academic institution of both sides: a joint university or institute the two founded
    (Shenzhen MSU-BIT University is Moscow State University's and Beijing Institute of Technology's)."""
    sx = {(o[0], o[1], o[2]) for o in xs}
    sy = {(o[0], o[1], o[2]) for o in ys}
    if not sx or not sy:
        return False
    if len(sx | sy) >= 2:
        return True
    return _institution(xs) and _institution(ys)


@dataclass(eq=False)
class _Except(_Node):
    """``a EXCEPT b``: the places of a that are not inside a place of b (卫星 EXCEPT 卫星通讯社)."""

    left: _Node
    right: _Node
    positional = True
    _both_local: bool | None = field(default=None, init=False, repr=False)  # both sides ``_local``: found once

    def _eval(self, doc: Document) -> tuple[bool, list[_Occ]]:
        ok, a = self.left.eval(doc)
        if not ok:
            return False, []
        _, b = self.right.eval(doc)
        if not b:
            return True, a
        # an occurrence is inside one place of b when some place is over both its ends (places are runs of
        # positions): when the places over its first position reach its last. Each position of b -> how far
        # the places over it reach.
        reach = _reach(b)
        out = [o for o in a if reach.get((o[0], o[1]), -1) < o[2]]
        return bool(out), out

    def holds(self, doc: Document) -> bool:
        """Whether a place of a is outside every place of b: a country entity's places are taken one at a time,
        up to the first outside (a side named as a partner, not as the press), and b found only if a has one."""
        hit = doc.memo.get(self.key)
        if hit is not None:
            return hit[0]
        if not isinstance(self.left, _Entity):
            return self.eval(doc)[0]
        reach: dict[tuple[str, int], int] | None = None
        for o in self.left.places(doc, in_parts=True):
            if reach is None:
                reach = _reach(self.right.eval(doc)[1])
            if reach.get((o[0], o[1]), -1) < o[2]:
                return True
        return False

    def settled(self, part: Document) -> bool | None:
        """True when a place of a in the part is outside every place of b there: b's places over it, all in its
        sentence, are the whole article's (both ``_local``)."""
        if self._both_local is None:
            self._both_local = _local(self.left) and _local(self.right)
        if not self._both_local:
            return None
        places = self.left.places(part, in_parts=True) if isinstance(self.left, _Entity) else self.left.eval(part)[1]
        reach: dict[tuple[str, int], int] | None = None
        for o in places:
            if reach is None:
                reach = _reach(self.right.eval(part)[1])
            if reach.get((o[0], o[1]), -1) < o[2]:
                return True
        return None

    def leaves(self) -> Iterable[_Leaf]:
        yield from self.left.leaves()

    def _finish(self) -> str:
        self.key = f"(- {self.left.finish()} {self.right.finish()})"
        return self.key


def _local(node: _Node) -> bool:
    """Whether each of the node's places is inside one sentence and found in a part (``Document.part``) as in the
    whole article wherever that sentence is in the part: terms, phrases and country entities, and OR and EXCEPT
    of such nodes."""
    if isinstance(node, (_Leaf, _Entity)):
        return True
    if isinstance(node, _Or):
        return all(_local(c) for c in node.children)
    if isinstance(node, _Except):
        return _local(node.left) and _local(node.right)
    return False


def _reach(occs: list[_Occ]) -> dict[tuple[str, int], int]:
    """(field, position) -> how far the occurrences over that position reach (the last of their last positions)."""
    reach: dict[tuple[str, int], int] = {}
    for name, first, last, _ in occs:
        for q in range(first, last + 1):
            key = (name, q)
            if reach.get(key, -1) < last:
                reach[key] = last
    return reach


# --- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    """Why an article matched: its score, the query terms that hit, and where."""

    score: float
    hits: tuple[str, ...]
    spans: tuple[tuple[str, int, int], ...]


@dataclass
class Query:
    """A compiled query; build it with ``compile_query``."""

    source: str
    _root: _Node = field(repr=False)
    _order: dict[str, int] = field(repr=False)  # label -> rank of its first leaf in the query
    _shown_order: dict[str, int] = field(repr=False)  # the same with GLUE( ... )'s labels as the terms they are
    _body: tuple[int, int] = field(default=(0, 0), repr=False)  # the query's text after its set definitions
    # the text the top-level AND's places are in: the set's when the query is a set of the config (@name)
    _conditions: str | None = field(default=None, repr=False)

    def match(self, title: str, text: str) -> Match | None:
        """Match one article; None when the boolean query is not satisfied."""
        return self.match_prepared(prepare(title, text))

    def match_prepared(self, doc: Document) -> Match | None:
        """Like ``match`` for an article already normalized by ``prepare``."""
        ok, occs = self._root.eval(doc)
        if not ok:
            return None
        hits = {h for o in occs for h in o[3]}
        return _score(doc, hits, self._order, self._shown_order)

    def holds(self, doc: Document, part: int = 0) -> bool:
        """Whether the boolean query is satisfied (no score: a model topic's gate needs only this). Found with
        less work than ``match_prepared``'s (``_Node.holds``): a gate ``@china AND @russia`` stops at the first name
        of each side. With ``part`` (a model's ``text_chars``), first in the title and the text's sentences that end
        within its first ``part`` characters (``Document.part``), which the model tokenizes anyway: where they settle
        it (``_Node.settled``), the whole text is never tokenized; where they do not, the whole text's field goes on
        from the part's tokens, sentence ends and index (``_Field``)."""
        if part and not doc.made:  # (a text already tokenized for another topic is asked whole)
            head = doc.part(part)
            if head is not None:
                try:
                    truth = self._root.settled(head)
                except _Unsure:
                    truth = None
                if truth is not None:
                    return truth
        return self._root.holds(doc)

    def hits_prepared(self, doc: Document) -> set[_Hit] | None:
        """The query's hits (label, field, first and last position), without scoring; None when the boolean
        query is not satisfied: the hits of its ``occurrences`` (``topics train`` counts them by zone)."""
        occs = self.occurrences(doc)
        return None if occs is None else {h for o in occs for h in o[3]}

    def occurrences(self, doc: Document) -> list[_Occ] | None:
        """The query's occurrences (each with its hits), as evaluated and kept for the document: not to be
        changed; None when the boolean query is not satisfied. A model's scoring reads them per feature."""
        ok, occs = self._root.eval(doc)
        return occs if ok else None

    def found(self, doc: Document) -> list[_Occ]:
        """The occurrences of what the query found in an article, whether or not it holds: all of its own
        when it holds, else those of the top-level AND conditions that hold (a gate ``@china AND @russia``
        that fails still shows the side it recognised)."""
        ok, occs = self._root.eval(doc)
        if ok or not isinstance(self._root, _And):
            return occs if ok else []
        out: list[_Occ] = []
        for node in self._root.children:
            held, part = node.eval(doc)
            if held and not isinstance(node, _Not):
                out.extend(part)
        return out

    def why_not(self, doc: Document) -> str | None:
        """Why the query's boolean part fails for an article (None when it holds): the first of the
        query's top-level AND conditions that fails, in the query's own words, and for a NOT condition
        the words of the article that made the excluded part hold."""
        ok, _ = self._root.eval(doc)
        if ok:
            return None
        root = self._root
        parts = list(zip(root.children, root.spans)) if isinstance(root, _And) else [(root, self._body)]
        for node, (a, b) in parts:
            if node.eval(doc)[0]:
                continue
            words = " ".join((self._conditions or self.source)[a:b].split())
            if len(words) > 120:
                words = words[:119] + "…"
            if isinstance(node, _Not) and isinstance(node.child, _Not):
                return f"not satisfied: {words} (none of it is in the article)"
            if isinstance(node, _Not):
                shown = _found_words(doc, node.child.eval(doc)[1])
                return f"excluded by: {words}" + (f" — through {shown}" if shown else "")
            if isinstance(node, _Partners):
                args = [("side a", node.a), ("side b", node.b), ("what", node.what), ("unless", node.unless)]
                told = []
                for name, arg in args:
                    if arg is not None:
                        ok, occs = arg.eval(doc)
                        told.append(f"{name}: {_found_words(doc, occs, 3) if ok and occs else 'none'}")
                return f"not satisfied: {words} ({'; '.join(told)}; not together in a sentence or the headline)"
            return f"not satisfied: {words}"
        return None  # pragma: no cover - a failing AND has a failing condition

    def fts(self) -> str | None:
        """FTS5 MATCH expression over index_tokens() columns (title, text) selecting a superset.

        None when the query cannot narrow the search (e.g. it is only NOT terms).
        """
        return _fts(self._root)


def shown_hits(hits: Iterable[_Hit]) -> set[_Hit]:
    """The hits that are evidence: those of terms outside GLUE( ... )."""
    return {h for h in hits if h[0][:1] != GLUE_MARK}


def shown_labels(occs: Iterable[_Occ]) -> set[str]:
    """The labels of the occurrences' hits that are evidence: ``{h[0] for h in shown_hits(hits)}`` of their
    hits, without collecting the hits."""
    labels = {h[0] for o in occs for h in o[3]}
    return {label for label in labels if label[:1] != GLUE_MARK}  # each label looked at once, not each hit


def _found_words(doc: Document, occs: list[_Occ], most: int = 8) -> str:
    """The article's words behind some occurrences, in reading order: 'label (surface)', or the surface."""
    found: dict[str, str] = {}
    hits = {h for o in occs for h in o[3]}
    for label, name, first, last in sorted(shown_hits(hits) or hits, key=lambda h: (h[1] != TITLE, h[2], h[3], h[0])):
        label = label.removeprefix(GLUE_MARK)
        if label not in found:
            raw = " ".join(doc.fields[name].raw(first, last).split())
            found[label] = label if raw.casefold() in label.casefold() else f"{label} ({raw})"
    shown = list(found.values())
    return ", ".join(shown[:most]) + (", …" if len(shown) > most else "")


def hit_zones(doc: Document, hits: Iterable[_Hit]) -> tuple[int, int, int]:
    """(in the title, in the lead, in the body after the lead): how many distinct places of some hits are there."""
    lead_end = doc.fields[TEXT].lead_end
    title: set[tuple[int, int]] = set()
    lead: set[tuple[int, int]] = set()
    body: set[tuple[int, int]] = set()
    for _label, name, s, e in hits:
        (title if name == TITLE else lead if s < lead_end else body).add((s, e))
    return len(title), len(lead), len(body)


def zones_hit(doc: Document, occs: Iterable[_Occ]) -> tuple[bool, bool, bool]:
    """Whether some hit of the occurrences is in the title, in the lead, in the body after the lead: what
    ``hit_zones`` counts, as truth values (each count above 0), without collecting the hits."""
    lead_end = doc.fields[TEXT].lead_end
    title = lead = body = False
    for o in occs:
        for _label, name, s, _e in o[3]:
            if name == TITLE:
                title = True
            elif s < lead_end:
                lead = True
            else:
                body = True
        if title and lead and body:
            break
    return title, lead, body


def located(doc: Document, hits: Iterable[_Hit]) -> tuple[tuple[str, int, int], ...]:
    """Distinct (field, first char, end char) spans of some hits, title first, in reading order."""
    fields = doc.fields
    spans = set()
    for _label, name, s, e in hits:
        f = fields[name]
        spans.add((name, f.starts[s & f.mask], f.ends[e & f.mask]))
    return tuple(sorted(spans, key=lambda sp: (sp[0] != TITLE, sp[1], sp[2])))


def _score(doc: Document, hits: set[_Hit], order: dict[str, int], shown_order: dict[str, int]) -> Match:
    hidden: set[_Hit] = set()
    glued = [h for h in hits if h[0][:1] == GLUE_MARK]
    if glued:  # scored as the same terms outside GLUE would be; listed and highlighted only where also evidence
        hits = hits.difference(glued)
        hidden = {(label[1:], name, s, e) for label, name, s, e in glued} - hits
        hits |= hidden
    best: dict[str, float] = {}
    count: dict[str, int] = {}
    spans: set[tuple[str, int, int]] = set()
    text_hits: list[tuple[int, str, float]] = []
    lead = textnorm.LEAD_CHARS
    fields = doc.fields
    in_title, in_lead, in_body = ZONE_WEIGHT["title"], ZONE_WEIGHT["lead"], ZONE_WEIGHT["body"]
    # an article without a title (a feed item of a description only, an excerpt) is headlined by its first
    # sentence: the terms there weigh as a title's
    text = fields[TEXT]
    headline_end = text.first_end if not fields[TITLE].positions else 0
    for label, name, s, e in hits:
        f = fields[name]
        cs, ce = f.starts[s & f.mask], f.ends[e & f.mask]  # f.chars(s, e)
        if not hidden or (label, name, s, e) not in hidden:
            spans.add((name, cs, ce))
        if name == TITLE or s < headline_end:
            w = in_title
        else:
            w = in_lead if cs < lead else in_body
            text_hits.append((s, label, w))
        if w > best.get(label, 0.0):
            best[label] = w
        count[label] = count.get(label, 0) + 1
    score = sum(w + min(REPEAT_BONUS * (count[label] - 1), REPEAT_CAP) for label, w in best.items())
    score += _closeness(text_hits)
    shown = {h[0] for h in hits - hidden} if hidden else best
    order = shown_order if glued else order
    labels = tuple(sorted((lb for lb in best if lb in shown), key=lambda lb: (order.get(lb, len(order)), lb)))
    field_rank = {TITLE: 0, TEXT: 1}
    ordered = tuple(sorted(spans, key=lambda sp: (field_rank[sp[0]], sp[1], sp[2])))
    return Match(score=round(score, 3), hits=labels, spans=ordered)


def _closeness(hits: list[tuple[int, str, float]]) -> float:
    """Bonus for the window of WINDOW positions holding most distinct terms (zone-weighted)."""
    hits.sort()
    best, lo = 0.0, 0
    counts: dict[str, int] = {}
    for pos, label, _w in hits:
        counts[label] = counts.get(label, 0) + 1
        while hits[lo][0] <= pos - WINDOW:
            old = hits[lo][1]
            counts[old] -= 1
            if not counts[old]:
                del counts[old]
            lo += 1
        bonus = CLOSENESS * hits[lo][2] * (len(counts) - 1)
        if bonus > best:
            best = bonus
    return best


# --- snippets ------------------------------------------------------------------------------


def snippet(text: str, match: Match, width: int = 240, field: str = TEXT) -> list[tuple[str, bool]]:
    """A window of ``text`` around its densest hits as (segment, is_hit) pairs, '…' where cut."""
    if not text:
        return []
    spans = sorted({(s, e) for f, s, e in match.spans if f == field and e <= len(text)})
    if len(text) <= width:
        ws, we = 0, len(text)
    else:
        if spans:
            # Only spans starting within the window can end in it: a text repeating a term 100,000 times
            # (a hostile page) counted every later hit for each hit, and a digest or search never ended.
            starts = [s for s, _e in spans]
            best_i, best_n = 0, 0
            for i, (s, _e) in enumerate(spans):
                n = sum(1 for _s2, e2 in spans[i : bisect.bisect_right(starts, s + width, i)] if e2 <= s + width)
                if n > best_n:
                    best_i, best_n = i, n
            first = spans[best_i][0]
            last = max(e for s2, e in spans[best_i : best_i + best_n])
            pad = max((width - (last - first)) // 2, 0)
            ws = max(0, first - pad)
            we = min(len(text), ws + width)
            ws = max(0, min(ws, we - width))
        else:
            first, last = 0, 0
            ws, we = 0, width
        # move the cuts to word boundaries, never into a hit
        if ws > 0 and not text[ws - 1].isspace():
            sp = _next_space(text, ws, first if spans else we)
            ws = sp if sp is not None else ws
        if we < len(text):
            sp = text.rfind(" ", max(ws, last), we)
            if sp > ws:
                we = sp
    inside = [(s, e) for s, e in spans if s >= ws and e <= we]
    out: list[tuple[str, bool]] = []
    pos = ws
    for s, e in inside:
        if s < pos:  # overlapping hits: extend the previous one
            if e > pos and out:
                out[-1] = (out[-1][0] + _clean(text[pos:e]), True)
                pos = e
            continue
        if s > pos:
            out.append((_clean(text[pos:s]), False))
        out.append((_clean(text[s:e]), True))
        pos = e
    if pos < we:
        out.append((_clean(text[pos:we]), False))
    if ws > 0:
        out = _edge(out, False, "…")
    if we < len(text):
        out = _edge(out, True, "…")
    return [(s, h) for s, h in out if s]


_SPACE_RE = re.compile(r"\s+")


def _next_space(text: str, start: int, limit: int) -> int | None:
    m = _SPACE_RE.search(text, start, max(limit, start))
    return m.end() if m else None


def _clean(s: str) -> str:
    return _SPACE_RE.sub(" ", s)


def _edge(out: list[tuple[str, bool]], at_end: bool, mark: str) -> list[tuple[str, bool]]:
    """Put the cut mark on the first or last segment (beside it when that one is a hit)."""
    if not out:
        return [(mark, False)]
    i = len(out) - 1 if at_end else 0
    seg, is_hit = out[i]
    if is_hit:
        out.insert(len(out) if at_end else 0, (mark, False))
    elif at_end:
        out[i] = (seg.rstrip() + mark, False)
    else:
        out[i] = (mark + seg.lstrip(), False)
    return out


# --- parser --------------------------------------------------------------------------------

_NEAR_RE = re.compile(r"NEAR(?:/(\d*))?$")
_CYRILLIC_RE = re.compile("[\u0400-\u04ff]")
_STARTS_OPERAND = {"TERM", "PHRASE", "LPAREN", "NOT", "SCOPE", "SET", "COUNTRY", "PARTNERS", "GLUE"}


@dataclass(frozen=True)
class _Tok:
    kind: str  # TERM PHRASE LPAREN RPAREN AND OR NOT NEAR SCOPE SET DEF COUNTRY PARTNERS GLUE COMMA END
    text: str
    pos: int
    n: int = 0
    arg: str = ""  # COUNTRY: the kind after '/', or ""


def _name_char(ch: str, first: bool) -> bool:
    """Whether ``ch`` may be in a set name: a letter or digit of any alphabet, '_', or a mark after one (an accent, a
    vowel sign), as in source and topic names."""
    if ch.isascii():
        return ch.isalnum() or ch == "_"
    cat = unicodedata.category(ch)
    return cat[0] == "L" or cat in ("Nd", "Nl") or (cat[0] == "M" and not first)


def set_name_end(q: str, i: int) -> int:
    """Where the set name starting at ``q[i]`` (after its '@') ends; ``i`` when none starts there. Name characters,
    and a '-' between two of them: ``@space_en``, ``@наука-техника``, ``@科技``; it ends at a space, a parenthesis,
    punctuation or an operator's character, so a Chinese one is followed by a space before more Chinese text."""
    j, n = i, len(q)
    while j < n:
        if _name_char(q[j], j == i):
            j += 1
        elif q[j] == "-" and i < j and j + 1 < n and _name_char(q[j + 1], True):
            j += 2
        else:
            break
    return j


def _caseless(rest: str) -> bool:
    """Whether ``rest`` starts with a letter of a script written without spaces between words (Chinese, Japanese,
    Thai: letters without case), which may follow a set's name unspaced."""
    return bool(rest) and unicodedata.category(rest[0]) == "Lo"


def set_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a set (queries write it @name), or None."""
    if name and set_name_end(name, 0) == len(name):
        return None
    return (
        "a set name may hold only letters and digits of any alphabet (space_en, наука, 科技), '_', and '-' between them"
    )


def normal_set_name(name: str) -> str:
    """A set name as compared everywhere, where it is defined and where a query names it: NFKC, as the query's words
    are read (its letters composed, full-width forms as their ASCII: @ｃｈｉｎａ is the set china, however typed)."""
    return unicodedata.normalize("NFKC", name)


_COUNTRY_RE = re.compile(r"country:([A-Za-z]{2})\b(?:/([^\s()\",]*))?")


@functools.lru_cache(maxsize=1024)
def _lexed(q: str) -> tuple[_Tok, ...]:
    """``_lex(q)``, kept: a config's sets are compiled in each query that uses them and on their own."""
    return tuple(_lex(q))


# The full-width forms of a Chinese input method, read as the query's own ASCII: （a OR b） a group, ＊ a prefix.
# One character for one, so a syntax error's position is the same in the query as typed.
_TYPED_FORMS = str.maketrans({chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)})
# Quotes as Russian, English and Chinese keyboards type them open a phrase as '"' does, closed by their own
# closing quote: «a b», “a b”, „a b“, 「a b」. Inside a phrase any other quote is text ("ГК «Росатом»").
_PHRASE_CLOSERS = {'"': '"', "«": "»", "“": "”", "„": "“”", "「": "」", "『": "』"}


def _lex(typed: str) -> list[_Tok]:
    """The query's tokens, read from its full-width forms as from ASCII (see _TYPED_FORMS)."""
    try:
        return _lex_ascii(typed.translate(_TYPED_FORMS), typed)
    except QuerySyntaxError as exc:  # shown in the query as it was typed
        raise QuerySyntaxError(exc.message, typed, exc.position) from None


def _lex_ascii(q: str, typed: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(q)
    calls: list[bool] = []  # open parentheses: True for a PARTNERS( call, where ',' separates
    while i < n:
        c = q[i]
        if c.isspace():
            i += 1
        elif c == "#" and (i == 0 or q[i - 1].isspace()):
            j = q.find("\n", i)  # a comment, to the end of the line
            i = n if j < 0 else j
        elif c == "(":
            toks.append(_Tok("LPAREN", c, i))
            calls.append(False)
            i += 1
        elif c == ")":
            toks.append(_Tok("RPAREN", c, i))
            if calls:
                calls.pop()
            i += 1
        elif c == "," and calls and calls[-1]:
            toks.append(_Tok("COMMA", c, i))
            i += 1
        elif c in _PHRASE_CLOSERS:
            ends = [e for e in (q.find(closer, i + 1) for closer in _PHRASE_CLOSERS[c]) if e >= 0]
            j = min(ends, default=-1)
            if j < 0:
                raise QuerySyntaxError(f"unterminated phrase: this '{typed[i]}' is never closed", q, i)
            toks.append(_Tok("PHRASE", q[i + 1 : j], i))
            i = j + 1
        elif c == "@":
            end = set_name_end(q, i + 1)
            if end == i + 1:
                raise QuerySyntaxError("expected a set name after '@' (letters, digits, '_', '-')", q, i + 1)
            toks.append(_Tok("SET", normal_set_name(q[i + 1 : end]), i))
            i = end
            j = i
            while j < n and q[j] in " \t":
                j += 1
            if j < n and q[j] == "=":
                toks.append(_Tok("DEF", "=", j))
                i = j + 1
        elif (
            c == "-"
            and i + 1 < n
            and not q[i + 1].isspace()
            and q[i + 1] != ")"
            and (i == 0 or q[i - 1].isspace() or q[i - 1] == "(")
        ):
            toks.append(_Tok("NOT", c, i))
            i += 1
        elif q.startswith("title:", i):
            toks.append(_Tok("SCOPE", "title:", i))
            i += 6
        elif q.startswith("lead:", i):
            toks.append(_Tok("SCOPE", "lead:", i))
            i += 5
        elif q.startswith("country:", i):
            m = _COUNTRY_RE.match(q, i)
            code = m.group(1).upper() if m else ""
            if m is None:
                raise QuerySyntaxError(
                    "expected a country's two-letter ISO code after 'country:' (country:CN, country:RU)", q, i + 8
                )
            if not _country_known(code):
                raise QuerySyntaxError(
                    f"unknown country code '{m.group(1)}' after 'country:': use an ISO 3166-1 two-letter code "
                    "(country:CN, country:DE, country:IN)",
                    q,
                    i + 8,
                )
            kind = m.group(2)
            if kind is not None and not _entity_kind_known(kind.lower()):
                what = f"unknown kind '{kind}'" if kind else "expected a kind"
                raise QuerySyntaxError(
                    f"{what} after 'country:{code}/': use one of {', '.join(_entity_kinds())}", q, m.start(2)
                )
            toks.append(_Tok("COUNTRY", code, i, arg=(kind or "").lower()))
            i = m.end()
        elif q.startswith("PARTNERS(", i):
            toks.append(_Tok("PARTNERS", "PARTNERS(", i))
            calls.append(True)
            i += 9
        elif q.startswith("GLUE(", i):
            toks.append(_Tok("GLUE", "GLUE(", i))
            calls.append(False)
            i += 5
        else:
            j = i
            stop = "()" + "".join(_PHRASE_CLOSERS) + ("," if calls and calls[-1] else "")
            while j < n and not q[j].isspace() and q[j] not in stop:
                j += 1
            word = q[i:j]
            if word.upper() in ("PARTNERS", "GLUE") and q.startswith("(", j):  # partners( is no word of a query
                raise QuerySyntaxError(f"{word.upper()}( ... ) is written in capitals, as operators are", q, i)
            if word in ("AND", "OR", "NOT", "EXCEPT"):
                toks.append(_Tok(word, word, i))
            elif word.startswith("NEAR/") or word == "NEAR":
                m2 = _NEAR_RE.match(word)
                if m2 is None or m2.group(1) == "":
                    raise QuerySyntaxError("expected a number after 'NEAR/'", q, i + 5)
                toks.append(_Tok("NEAR", word, i, int(m2.group(1)) if m2.group(1) else DEFAULT_NEAR))
            else:
                toks.append(_Tok("TERM", word, i))
            i = j
    toks.append(_Tok("END", "", n))
    return toks


def _place(q: str, pos: int) -> str:
    """Where ``pos`` is in a query, as its syntax errors say it: a position in one short line, else the line and
    column."""
    if "\n" not in q and len(q) <= 120:
        return f"position {pos + 1}"
    start = q.rfind("\n", 0, pos) + 1
    return f"line {q.count(chr(10), 0, pos) + 1}, column {pos - start + 1}"


def _country_known(code: str) -> bool:
    from crawler import entities

    return entities.known(code)


def _entity_kinds() -> list[str]:
    from crawler import entities

    return list(entities.KINDS)


def _entity_kind_known(kind: str) -> bool:
    return kind in _entity_kinds()


MAX_TERMS = 10_000  # terms in a query, each named set's counted once however often the query uses it
MAX_QUERY_CHARS = 200_000
# terms with every use of a set written out: matching gathers a set's places at each use, so sets using other sets
# several times over (each using the next twice) must not multiply them without end
MAX_EXPANDED_TERMS = 20 * MAX_TERMS

_SetId = tuple[int, str]  # a named set: (the text defining it, 0 for the config's [sets]; its name)


class _Frame:
    """The terms a set's text (or the query's own) has itself and the sets it uses: what using it adds."""

    __slots__ = ("counts", "own", "uses")

    def __init__(self, counts: bool = False) -> None:
        self.own = 0
        self.uses: dict[_SetId, None] = {}
        self.counts = counts  # the query's own text: its terms and the sets it uses count at once


class _Shared:
    """What the parsers of one query and of the sets it uses have in common.

    A set is compiled once per query (and per ``title:``/``lead:`` scope and GLUE around it): its uses share the
    subtree, which nothing changes once built, and its terms count once towards MAX_TERMS."""

    def __init__(self, sets: Mapping[str, str]) -> None:
        self.sets = sets
        self.terms = 0
        self.expanding: list[str] = []
        # -> (subtree, its leaves, its terms), the two counted as if every use of a set in it were written out
        self.built: dict[tuple[_SetId, str | None, bool], tuple[_Node, int, int]] = {}
        self.sizes: dict[_SetId, tuple[int, tuple[_SetId, ...]]] = {}  # set -> (its own terms, the sets it uses)
        self.counted: set[_SetId] = set()
        self.frame = _Frame(counts=True)
        self.misses: set[tuple[int, str]] = set()  # names looked up among a text's definitions before defined
        self.texts = 0  # the texts parsed (the query, the sets of the config), numbered from 1
        self.set_texts: dict[int, str] = {}  # id of a config set's subtree -> its text, which its places are in
        self.scope: str | None = None  # title:/lead: around what is being parsed (the outermost wins)
        self.glue = False  # inside GLUE( ... )
        # each label's first leaf and the leaves so far, counted as if every use of a set were written out
        self.order: dict[str, int] = {}
        self.leaves = 0
        self.expanded = 0  # terms so far, counted in the same way


class _Parser:
    def __init__(
        self,
        q: str,
        shared: _Shared | None = None,
        toks: Sequence[_Tok] | None = None,
        local: tuple[int, dict[str, list[_Tok]]] | None = None,
    ) -> None:
        self.q = q
        self.toks = _lexed(q) if toks is None else toks
        self.i = 0
        self.shared = shared or _Shared({})
        if local is None:  # a text of its own: the query or a set of the config, with its own definitions
            self.shared.texts += 1
            local = (self.shared.texts, {})
        self.where, self.local = local  # name -> its definition's tokens

    def count_term(self, pos: int) -> None:
        frame = self.shared.frame
        frame.own += 1
        self.shared.expanded += 1
        if frame.counts:
            self.shared.terms += 1
            self.check_terms(pos)

    def check_terms(self, pos: int) -> None:
        if self.shared.terms > MAX_TERMS:
            raise self.error(
                f"the query has more than {MAX_TERMS} terms (each set counted once, however often it is used); "
                "split it into several topics or shorten its sets",
                pos,
            )

    def use(self, ident: _SetId, pos: int) -> None:
        """Count a set's terms, and those of the sets it uses, the first time the query's own text uses it."""
        shared = self.shared
        frame = shared.frame
        frame.uses[ident] = None
        if not frame.counts:
            return
        todo = [ident]
        while todo:
            s = todo.pop()
            if s in shared.counted:
                continue
            shared.counted.add(s)
            own, uses = shared.sizes[s]
            shared.terms += own
            todo.extend(uses)
        self.check_terms(pos)

    def definitions(self) -> None:
        """``@name = ( ... )`` lines at the start of the query."""
        shared = self.shared
        outer, expanded = shared.frame, shared.expanded
        shared.frame = _Frame()  # a definition's terms count where it is used
        try:
            self._definitions()
        finally:
            shared.frame, shared.expanded = outer, expanded
        where = self.where
        if any((where, name) in shared.misses for name in self.local):
            # a definition used a name defined after it (a set of the config then): where the query uses it,
            # the name is the query's own set; compiled again there
            for key in [k for k in shared.built if k[0][0] == where]:
                del shared.built[key]
            for ident in [k for k in shared.sizes if k[0] == where]:
                del shared.sizes[ident]

    def _definitions(self) -> None:
        while self.peek().kind == "SET" and self.toks[self.i + 1].kind == "DEF":
            name_tok = self.take()
            self.take()
            if name_tok.text in self.local:
                raise self.error(f"@{name_tok.text} is defined twice in this query", name_tok.pos)
            from crawler.config import name_problem  # (crawler.config reads this module's set names)

            problem = name_problem(name_tok.text)  # what a set of the config may not hold either: 'st1' + U+0301
            if problem:
                raise self.error(f"@{name_tok.text}: {problem}", name_tok.pos)
            if self.peek().kind != "LPAREN":
                raise self.error(
                    f"put the definition of @{name_tok.text} in parentheses: @{name_tok.text} = ( ... )",
                    self.peek().pos,
                )
            start = self.i
            depth = 0
            while True:
                t = self.take()
                if t.kind in ("LPAREN", "PARTNERS", "GLUE"):  # PARTNERS( and GLUE( open a parenthesis too
                    depth += 1
                elif t.kind == "RPAREN":
                    depth -= 1
                    if depth == 0:
                        break
                elif t.kind == "END":
                    raise self.error(f"expected ')' to close the definition of @{name_tok.text}", t.pos)
            self.local[name_tok.text] = [*self.toks[start : self.i], _Tok("END", "", self.toks[self.i - 1].pos + 1)]
            self.expand(name_tok)  # compiled now, so an error in it is reported at its place

    def expand(self, t: _Tok) -> _Node:
        name = t.text
        shared = self.shared
        if name in shared.expanding:
            cycle = " -> ".join(f"@{n}" for n in [*shared.expanding[shared.expanding.index(name) :], name])
            raise self.error(f"set @{name} refers to itself ({cycle})", t.pos)
        own = name in self.local
        if not own:
            shared.misses.add((self.where, name))
        ident: _SetId = (self.where if own else 0, name)
        key = (ident, shared.scope, shared.glue)
        built = shared.built.get(key)
        if built is not None:
            node, leaves, expanded = built
            shared.leaves += leaves
            shared.expanded += expanded
        else:
            node, frame = self.build(t, ident)
            if ident not in shared.sizes:  # the same set under another scope or GLUE: counted as one
                shared.sizes[ident] = (frame.own, tuple(frame.uses))
        if shared.expanded > MAX_EXPANDED_TERMS:
            raise self.error(
                f"the query has more than {MAX_EXPANDED_TERMS} terms when its sets are written out at each use; "
                f"use @{name} (or the sets it uses) fewer times",
                t.pos,
            )
        self.use(ident, t.pos)
        return node

    def build(self, t: _Tok, ident: _SetId) -> tuple[_Node, _Frame]:
        """Compile the set ``t`` names, the first time the query uses it in the scope and GLUE around it;
        with what it holds (its own terms, the sets it uses)."""
        name = t.text
        own = ident[0] != 0
        shared = self.shared
        outer = shared.frame
        shared.frame = _Frame()
        leaves, expanded = shared.leaves, shared.expanded
        shared.expanding.append(name)
        try:
            if own:
                sub = _Parser(self.q, shared, self.local[name], (self.where, self.local))
                node = sub.parse_or()
            elif name in shared.sets:
                text = shared.sets[name]
                try:
                    sub = _Parser(text, shared)
                    node = sub.parse()
                    shared.set_texts.setdefault(id(node), text)  # @t = "@s": the places are in @s
                except QuerySyntaxError as exc:
                    if exc.query is not text:
                        raise
                    raise QuerySyntaxError(f"in set @{name}: {exc.message}", text, exc.position) from None
            else:
                names = sorted({*self.local, *shared.sets})
                close = difflib.get_close_matches(name, names, n=3, cutoff=0.75)
                run_on = max(
                    (n for n in names if name.startswith(n) and _caseless(name[len(n) :])), key=len, default=None
                )
                if run_on is not None:  # Chinese written on after the name: @科技合作 for @科技 合作
                    known = f"did you mean @{run_on} {name[len(run_on) :]}? a set's name ends at a space"
                elif close:  # a misspelt name: the sets it is closest to, not the first of the alphabet
                    known = "did you mean " + " or ".join(f"@{n}" for n in close) + "?"
                elif names:
                    known = "sets: " + ", ".join(f"@{n}" for n in names[:8]) + (", ..." if len(names) > 8 else "")
                else:
                    known = "sets: none"
                raise self.error(
                    f"unknown set @{name}: define it under [sets] in the config or at the start of the query "
                    f"as @{name} = ( ... ) ({known})",
                    t.pos,
                )
        finally:
            shared.expanding.pop()
            frame, shared.frame = shared.frame, outer
        shared.built[(ident, shared.scope, shared.glue)] = (node, shared.leaves - leaves, shared.expanded - expanded)
        return node, frame

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def error(self, message: str, pos: int) -> QuerySyntaxError:
        return QuerySyntaxError(message, self.q, pos)

    def expected_operand(self, after: str | None) -> QuerySyntaxError:
        t = self.peek()
        found = "the query ended" if t.kind == "END" else f"found '{t.text}'"
        where = f" after '{after}'" if after else ""
        return self.error(f"expected a term, phrase or '('{where}, but {found}", t.pos)

    def parse(self) -> _Node:
        self.definitions()
        self.body = (self.peek().pos, len(self.q))  # the query after its set definitions
        if self.peek().kind == "END":
            raise self.error("empty query: expected a term, phrase or '('", self.peek().pos if self.i else 0)
        node = self.parse_or()
        t = self.peek()
        if t.kind == "RPAREN":
            raise self.error("unexpected ')': there is no '(' for it to close", t.pos)
        if t.kind == "DEF":
            raise self.error("a set is defined only at the start of the query: @name = ( ... )", t.pos)
        if t.kind != "END":  # pragma: no cover - every other token starts or joins an operand
            raise self.error(f"unexpected '{t.text}'", t.pos)
        return node

    def parse_or(self) -> _Node:
        parts = [self.parse_and(None)]
        while self.peek().kind == "OR":
            self.take()
            parts.append(self.parse_and("OR"))
        return parts[0] if len(parts) == 1 else _Or(parts)

    def parse_and(self, after: str | None) -> _Node:
        start = self.peek().pos
        parts = [self.parse_unary(after)]
        spans = [(start, self.peek().pos)]
        while True:
            t = self.peek()
            if t.kind == "AND":
                self.take()
            elif t.kind not in _STARTS_OPERAND:
                break
            start = self.peek().pos
            parts.append(self.parse_unary("AND" if t.kind == "AND" else None))
            spans.append((start, self.peek().pos))
        return parts[0] if len(parts) == 1 else _And(parts, spans)

    def parse_unary(self, after: str | None) -> _Node:
        if self.peek().kind == "NOT":
            t = self.take()
            return _Not(self.parse_unary("NOT" if t.text == "NOT" else "-"))
        return self.parse_near(after)

    def parse_near(self, after: str | None) -> _Node:
        start = self.peek().pos
        left = self.parse_primary(after)
        while self.peek().kind in ("NEAR", "EXCEPT"):
            op = self.take()
            if op.kind == "EXCEPT":
                rstart = self.peek().pos
                right = self.parse_primary("EXCEPT")
                if not left.positional or not right.positional:
                    raise self.error("EXCEPT needs a term, phrase or OR-group on each side (not AND/NOT)", rstart)
                left = _Except(left, right)
                continue
            if not left.positional:
                raise self.error(
                    f"{op.text} needs a term, phrase or OR-group on its left"
                    " (not AND/NOT); put it in parentheses or simplify it",
                    start,
                )
            rstart = self.peek().pos
            right = self.parse_primary(op.text)
            if not right.positional:
                raise self.error(f"{op.text} needs a term, phrase or OR-group on its right (not AND/NOT)", rstart)
            left = _Near(left, right, op.n)
        return left

    def parse_primary(self, after: str | None) -> _Node:
        t = self.peek()
        if t.kind == "SCOPE":
            self.take()
            shared = self.shared
            outer = shared.scope
            if outer is None:  # title:(lead:x) looks in the title: the outer scope is the one that holds
                shared.scope = TITLE if t.text == "title:" else LEAD
            try:
                return self.parse_primary(t.text)
            finally:
                shared.scope = outer
        if t.kind == "SET":
            self.take()
            if self.peek().kind == "DEF":
                raise self.error("a set is defined only at the start of the query: @name = ( ... )", self.peek().pos)
            return self.expand(t)
        if t.kind == "COUNTRY":
            self.take()
            self.count_term(t.pos)
            return _Entity(code=t.text, scope=self.shared.scope, kind=t.arg)
        if t.kind == "PARTNERS":
            self.take()
            args: list[_Node] = []
            while True:
                args.append(self.parse_or())
                nt = self.take()
                if nt.kind == "RPAREN":
                    break
                if nt.kind != "COMMA":
                    found = "the query ended" if nt.kind == "END" else f"found '{nt.text}'"
                    raise self.error(f"expected ',' or ')' in PARTNERS( ... ), but {found}", nt.pos)
            if len(args) not in (2, 3, 4):
                raise self.error(
                    "PARTNERS takes two sides, what they do together and what rules a sentence out: "
                    f"PARTNERS(a, b, what, unless); found {len(args)} argument(s)",
                    t.pos,
                )
            return _Partners(args[0], args[1], args[2] if len(args) > 2 else None, args[3] if len(args) > 3 else None)
        if t.kind == "GLUE":
            self.take()
            shared = self.shared
            outer = shared.glue
            shared.glue = True  # its terms are labelled as glue when built
            try:
                node = self.parse_primary_group(t)
            finally:
                shared.glue = outer
            for n in _walk(node):
                if isinstance(n, (_Entity, _Partners)):
                    raise self.error(
                        "GLUE( ... ) takes terms, phrases and sets of them (words that place others), "
                        "not country: or PARTNERS: their names are evidence",
                        t.pos,
                    )
            return node
        if t.kind == "LPAREN":
            self.take()
            return self.parse_primary_group(t)
        if t.kind == "TERM":
            self.take()
            return self.leaf_from_term(t)
        if t.kind == "PHRASE":
            self.take()
            return self.leaf_from_phrase(t)
        raise self.expected_operand(after)

    def parse_primary_group(self, t: _Tok) -> _Node:
        """What is inside the parentheses opened by ``t`` (taken), up to and with their ')'."""
        if self.peek().kind == "RPAREN":
            raise self.error("empty parentheses: expected a term, phrase or '('", self.peek().pos)
        node = self.parse_or()
        if self.peek().kind != "RPAREN":
            nt = self.peek()
            found = "the query ended" if nt.kind == "END" else f"found '{nt.text}'"
            raise self.error(f"expected ')' to close the '(' at {_place(self.q, t.pos)}, but {found}", nt.pos)
        self.take()
        return node

    def new_leaf(
        self, label: str, items: list[tuple[int, str, str, bool]], cjk: bool, pos: int = 0, capitals: bool = False
    ) -> _Leaf:
        self.count_term(pos)
        shared = self.shared
        if shared.glue:
            label = GLUE_MARK + label
        leaf = _Leaf(label=label, items=tuple(items), cjk=cjk, scope=shared.scope, capitals=capitals)
        shared.order.setdefault(label, shared.leaves)
        shared.leaves += 1
        return leaf

    def leaf_from_term(self, t: _Tok) -> _Leaf:
        word = t.text
        exact = word.startswith("=") and len(word) > 1
        star = word.find("*")
        if star >= 0 and (star != len(word) - 1):
            raise self.error("'*' may only end a term (a prefix search, as in Росси*)", t.pos + star)
        prefix = star >= 0
        body = word[1 if exact else 0 : -1 if prefix else None]
        items, cjk = _pattern(body, prefix, exact)
        if not items:
            raise self.error(f"expected a term with letters or digits, but found '{word}'", t.pos)
        if (
            not exact
            and not prefix
            and len(items) == 1
            and items[0][0] == _STEM
            and _CAPS_RE.search(body)
            and body.upper() == body
        ):
            # an abbreviation has no word forms: НИИ is not a form of ни, AI not of ai
            return self.new_leaf(word, [(_SURFACE, textnorm.fold_word(body), "", False)], cjk, t.pos, capitals=True)
        return self.new_leaf(word, items, cjk, t.pos)

    def leaf_from_phrase(self, t: _Tok) -> _Leaf:
        items: list[tuple[int, str, str, bool]] = []
        cjk = False
        offset = t.pos + 1
        for m in re.finditer(r"\S+", t.text):
            w = m.group()
            star = w.find("*")
            if star >= 0 and star != len(w) - 1:
                raise self.error("'*' may only end a word", offset + m.start() + star)
            exact = w.startswith("=") and len(w) > 1
            part, part_cjk = _pattern(w[1 if exact else 0 : -1 if star >= 0 else None], star >= 0, exact)
            items.extend(part)
            cjk = cjk or part_cjk
        if not items:
            raise self.error("empty phrase: expected words between the quotes", t.pos)
        return self.new_leaf(f'"{t.text}"', items, cjk, t.pos)


@functools.lru_cache(maxsize=1 << 14)
def _query_word_tokens(text: str) -> tuple[textnorm.Token, ...]:
    """The tokens of one word of a query, kept: configs and their sets compile the same words many times
    (each set item alone when checked, then in each topic). Not through textnorm's article caches, which
    hold the last few articles for the search index and topic matching."""
    return tuple(zip(*textnorm.columns.__wrapped__(text)))


def _pattern(text: str, prefix: bool, exact: bool = False) -> tuple[list[tuple[int, str, str, bool]], bool]:
    """Pattern items for one query word (possibly several tokens: hyphenated, CJK).

    ``exact`` (``=word``): the word as written, folded, without its other forms: Snowball gives
    ученые (scientists) and учения (drills), doctoral and doctors one stem each."""
    tokens = _query_word_tokens(text)
    items: list[tuple[int, str, str, bool]] = []
    cjk = False
    for i, (surface, stem, _s, _e, kind) in enumerate(tokens):
        last = i == len(tokens) - 1
        if kind == textnorm.WORD and exact:
            items.append((_PREFIX, surface, "", False) if prefix and last else (_SURFACE, surface, "", False))
        elif kind == textnorm.WORD:
            if prefix and last:
                # Russian nouns change their last letters (Китай, Китая, Китаем): a Cyrillic
                # prefix also takes words of its stem. English prefixes are plain prefixes.
                cyrillic = _CYRILLIC_RE.search(surface) is not None
                items.append((_PREFIX, surface, stem if cyrillic else "", False))
            else:
                items.append((_STEM, stem, stem, False))
        elif kind == textnorm.CJK:
            cjk = True
            items.append((_SURFACE, surface, "", False))
        else:
            cjk = True
            # the run's last character: any token starting with it; implied when a bigram precedes
            implied = i > 0 and tokens[i - 1][4] == textnorm.CJK
            items.append((_PREFIX, surface, "", implied))
    return items, cjk


def _walk(node: _Node, seen: set[int] | None = None) -> Iterable[_Node]:
    """The nodes under ``node``, each once (a set's subtree is shared by its uses)."""
    if seen is None:
        seen = set()
    if id(node) in seen:
        return
    seen.add(id(node))
    yield node
    for c in getattr(node, "children", ()):
        yield from _walk(c, seen)
    for name in ("child", "left", "right", "a", "b", "what", "unless"):
        c = getattr(node, name, None)
        if isinstance(c, _Node):
            yield from _walk(c, seen)


_SET_AT_RE = re.compile(r"(?<![\w.])@")  # an '@' that may start a set's name (not an address's)


def with_definitions(text: str, sets: Mapping[str, str]) -> str:
    """``text`` preceded by ``@name = ( ... )`` for each set it uses (directly or through another).

    The result compiles without ``sets``: stored and passed around as a topic's query, it changes
    whenever a set it uses changes.
    """
    sets = normal_sets(sets)
    order = sets_used(text, sets)
    if not order:
        return text
    defs = "".join(f"@{name} = (\n{sets[name]}\n)\n" for name in order)
    return f"{defs}{text}"


def unglued(text: str) -> str:
    """``text`` without its GLUE( ... ) wrappers (their insides kept): what it matches and how it scores."""
    try:
        toks = _lex(text)
    except QuerySyntaxError:
        return text
    cut: list[tuple[int, int]] = []
    opened: list[bool] = []  # open parentheses: True for a GLUE(
    for t in toks:
        if t.kind in ("LPAREN", "PARTNERS", "GLUE"):
            opened.append(t.kind == "GLUE")
            if t.kind == "GLUE":
                cut.append((t.pos, t.pos + len(t.text)))
        elif t.kind == "RPAREN" and opened and opened.pop():
            cut.append((t.pos, t.pos + 1))
    for a, b in sorted(cut, reverse=True):
        text = text[:a] + text[b:]
    return text


def normal_sets(sets: Mapping[str, str]) -> Mapping[str, str]:
    """``sets`` by their names as a query names them (`normal_set_name`): as given when they are already."""
    if all(normal_set_name(name) == name for name in sets):
        return sets
    return {normal_set_name(name): text for name, text in sets.items()}


def set_references(text: str) -> list[str]:
    """The set names ``text`` itself uses as @name (comments aside), read as _lex reads them (full-width forms too)."""
    text = strip_comments(text).translate(_TYPED_FORMS)
    found = []
    for m in _SET_AT_RE.finditer(text):
        end = set_name_end(text, m.end())
        if end > m.end():
            found.append(normal_set_name(text[m.end() : end]))
    return found


def sets_used(text: str, sets: Mapping[str, str]) -> list[str]:
    """The names of the sets ``text`` uses, directly or through another, each after those it uses."""
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in order or name in path or name not in sets:
            return
        for ref in set_references(sets[name]):
            visit(ref, (*path, name))
        order.append(name)

    for ref in set_references(text):
        visit(ref, ())
    return order


def strip_comments(text: str) -> str:
    """``text`` without its # comments (a # that starts the text or follows a space, to the end of its line)."""
    return re.sub(r"(^|\s)#[^\n]*", r"\1", text)


def compile_query(text: str, sets: Mapping[str, str] | None = None) -> Query:
    """Parse a query; raises QuerySyntaxError saying what was expected and where.

    ``sets`` maps set names to query text, used in the query as ``@name``.
    """
    if len(text) > MAX_QUERY_CHARS:
        raise QuerySyntaxError(
            f"the query is {len(text)} characters long, more than {MAX_QUERY_CHARS}; shorten it or split it into topics",
            text,
            MAX_QUERY_CHARS,
        )
    p = _Parser(text, _Shared(normal_sets(sets or {})))
    root = p.parse()
    root.finish()
    order = p.shared.order
    shown_order = order
    if any(label[:1] == GLUE_MARK for label in order):  # a term's first rank, glued or not
        shown_order = {label.removeprefix(GLUE_MARK): rank for label, rank in reversed(order.items())}
    return Query(
        source=text,
        _root=root,
        _order=order,
        _shown_order=shown_order,
        _body=p.body,
        _conditions=p.shared.set_texts.get(id(root)),
    )


# --- FTS5 prefilter ------------------------------------------------------------------------


def _fts_segments(leaf: _Leaf) -> list[str]:
    """FTS5 phrases that every occurrence of the leaf contains (within len(items) tokens)."""
    segs: list[str] = []
    cur: list[str] = []
    for kind, value, stem, implied in leaf.items:
        if implied:
            if cur:
                segs.append('"' + " ".join(cur) + '"')
                cur = []
            continue
        if kind == _SURFACE:
            cur.append(value)
        elif kind == _STEM:
            cur.append(textnorm.fts_prefix(value))
            segs.append('"' + " ".join(cur) + '"*')
            cur = []
        else:
            pre = value
            if stem:
                sp = textnorm.fts_prefix(stem)
                pre = _common_prefix(value, sp)
            cur.append(pre)
            segs.append('"' + " ".join(cur) + '"*')
            cur = []
    if cur:
        segs.append('"' + " ".join(cur) + '"')
    return segs


def _common_prefix(a: str, b: str) -> str:
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    return a[:i] or a[:1]


def _leaf_fts(leaf: _Leaf) -> str:
    segs = _fts_segments(leaf)
    expr = segs[0] if len(segs) == 1 else f"NEAR({' '.join(segs)}, {len(leaf.items)})"
    return f"{TITLE} : ({expr})" if leaf.scope == TITLE else expr


def _near_alternatives(node: _Node) -> list[tuple[_Leaf, str]] | None:
    """Single-segment leaves an operand of NEAR is an OR of, or None if it is more complex."""
    if isinstance(node, _Leaf):
        segs = _fts_segments(node)
        return [(node, segs[0])] if len(segs) == 1 else None
    if isinstance(node, _Or):
        out: list[tuple[_Leaf, str]] = []
        for c in node.children:
            sub = _near_alternatives(c)
            if sub is None:
                return None
            out.extend(sub)
        return out
    return None


def _fts(node: _Node) -> str | None:
    """FTS5 expression for node, or None meaning "cannot narrow" (true for every document)."""
    if isinstance(node, _Leaf):
        return _leaf_fts(node)
    if isinstance(node, _Entity):
        return None  # hundreds of names: the rest of the query narrows the search
    if isinstance(node, _Except):
        return _fts(node.left)
    if isinstance(node, _Partners):
        parts = [p for p in (_fts(c) for c in (node.a, node.b, node.what) if c is not None) if p is not None]
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"
    if isinstance(node, _Not):
        return None  # never let NOT drop a document the broader FTS terms would misjudge
    if isinstance(node, _And):
        parts = [p for p in (_fts(c) for c in node.children) if p is not None]
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"
    if isinstance(node, _Or):
        parts = [_fts(c) for c in node.children]
        if any(p is None for p in parts):
            return None
        return "(" + " OR ".join(p for p in parts if p) + ")"
    if isinstance(node, _Near):
        a, b = _near_alternatives(node.left), _near_alternatives(node.right)
        if a is not None and b is not None and len(a) * len(b) <= _FTS_MAX_COMBOS:
            combos = []
            for la, sa in a:
                for lb, sb in b:
                    # our positions count a CJK term's last character, FTS5's bigram phrase does not
                    slack = len(la.items) + len(lb.items)
                    expr = f"NEAR({sa} {sb}, {node.n + slack})"
                    if la.scope == TITLE or lb.scope == TITLE:
                        expr = f"{TITLE} : ({expr})"
                    combos.append(expr)
            return combos[0] if len(combos) == 1 else "(" + " OR ".join(combos) + ")"
        left, right = _fts(node.left), _fts(node.right)
        parts = [p for p in (left, right) if p is not None]
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"
    raise TypeError(node)  # pragma: no cover
