"""Counted words in what newswatch says: '1 story', '2 stories', '0 stories'; and the columns a text takes."""

from __future__ import annotations

import unicodedata


def noun(n: int, singular: str, plural: str | None = None) -> str:
    """``singular`` for one, else ``plural`` (by default ``singular`` + 's'): f"{n} {noun(n, 'entry', 'entries')}"."""
    return singular if n == 1 else (plural or singular + "s")


def count(n: int, singular: str, plural: str | None = None) -> str:
    """``n`` and its noun: '1 story', '1,200 stories' (thousands grouped)."""
    return f"{n:,} {noun(n, singular, plural)}"


def columns(text: str) -> int:
    """Columns ``text`` takes in a terminal or a plain-text mail: a wide (CJK) character two, a combining mark none."""
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
