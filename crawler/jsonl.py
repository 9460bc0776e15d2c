"""JSON Lines as newswatch writes and reads them: one JSON object per line, lines ended by "\\n" only.

JSON leaves U+0085, U+2028 and U+2029 unescaped inside strings, and scraped text holds them now and then.
Python's ``str.splitlines()`` (and some editors and older JavaScript) break lines at them, so a record
written raw would read back as several broken lines: the writer escapes them (the same JSON value), and
the reader splits at "\\n" alone, so a file written by another tool with them raw reads too.
"""

from __future__ import annotations

import json
from typing import Any

_BREAKS = str.maketrans({c: f"\\u{ord(c):04x}" for c in "\x85\u2028\u2029"})


def dumps_line(record: Any) -> str:
    """``record`` as one line of JSON (no trailing newline), safe to split at any line break."""
    return json.dumps(record, ensure_ascii=False).translate(_BREAKS)


def split_lines(text: str) -> list[str]:
    """A JSON Lines file's lines: split at "\\n" only (a "\\r" before it is JSON whitespace)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines
