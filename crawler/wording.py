"""Counted words in what newswatch says: '1 story', '2 stories', '0 stories'."""

from __future__ import annotations


def noun(n: int, singular: str, plural: str | None = None) -> str:
    """``singular`` for one, else ``plural`` (by default ``singular`` + 's'): f"{n} {noun(n, 'entry', 'entries')}"."""
    return singular if n == 1 else (plural or singular + "s")


def count(n: int, singular: str, plural: str | None = None) -> str:
    """``n`` and its noun: '1 story', '1,200 stories' (thousands grouped)."""
    return f"{n:,} {noun(n, singular, plural)}"
