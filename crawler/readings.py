"""Pinyin readings left inside Chinese words, removed where article text enters the product.

Pages whose ``<ruby>`` readings are flattened by extraction, and mirrors that convert Simplified to
Traditional, carry a syllable's reading right after its character: 聯(lián)合 for 聯合, 客機(jī) for
客機. Kept, every word so annotated is broken for matching, search, snippets and digests.

Removed: a parenthesis (ASCII or full-width) right after a Han character holding exactly one pinyin
syllable with a tone, marked (lián, yuǎn) or numbered (lian2). Kept: anything else in parentheses,
a toneless word included, so 中国(China), 王(Wang), 公司(CNNC), (2024) and (中国) stay.
"""

from __future__ import annotations

import re
import unicodedata

from crawler.textnorm import HAN_CHARS

__all__ = ["strip_readings"]

# A candidate: one Latin word (letters with their tone marks, ü, an optional tone number 1-5) in
# parentheses right after a Han character. Whether it is a syllable is decided by _SYLLABLE.
_CANDIDATE = re.compile(f"(?<=[{HAN_CHARS}])[(（]([a-zA-Z\u00c0-\u024f\u0300-\u036f]{{1,7}}[1-5]?)[)）]")

# The pinyin syllable inventory without tones: an initial and a final, or a final that stands alone
# (a, e, o and their compounds; i, u and ü alone are written yi, wu, yu). A few impossible pairs
# such as "bü" are admitted: none is an English word, and a candidate needs a tone besides. ü may
# be written v.
_INITIAL = "(?:[zcs]h|[bpmfdtnlgkhjqxrzcsyw])"
_FINAL = (
    "(?:a(?:i|o|ng|n)?"
    "|e(?:i|ng|n|r)?"
    "|o(?:u|ng)?"
    "|i(?:a(?:o|ng|n)?|e|u|ong|ng|n)?"
    "|u(?:a(?:i|ng|n)?|o|i|n|e|eng)?"
    "|[üv](?:e|an|n)?)"
)
_ALONE = "(?:a(?:i|o|ng|n)?|e(?:i|ng|n|r)?|o(?:u|ng)?)"
_SYLLABLE = re.compile(f"{_INITIAL}{_FINAL}|{_ALONE}")
# Tone marks as combining characters after NFD: macron, acute, caron, grave (1st to 4th tone).
_TONE_MARKS = re.compile("[\u0304\u0301\u030c\u0300]")


def _is_reading(word: str) -> bool:
    """True for one pinyin syllable that carries a tone (a mark on a vowel, or a number 1-5 after it)."""
    numbered = word[-1].isdigit()
    if numbered and not word[:-1].islower():  # a numbered reading is lower case: 等级(A1), 型号(Ka2) stay
        return False
    base = word[:-1] if numbered else word
    decomposed = unicodedata.normalize("NFD", base.lower())
    toneless = _TONE_MARKS.sub("", decomposed)
    if not numbered and toneless == decomposed:
        return False
    return _SYLLABLE.fullmatch(unicodedata.normalize("NFC", toneless)) is not None


def _replace(m: re.Match[str]) -> str:
    return "" if _is_reading(m.group(1)) else m.group(0)


def strip_readings(text: str) -> str:
    """The text without pinyin readings inside its Chinese words: 聯(lián)合 → 聯合."""
    if "(" not in text and "（" not in text:
        return text
    return _CANDIDATE.sub(_replace, text)
