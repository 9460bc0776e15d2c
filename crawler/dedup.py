"""Duplicate detection: content hashes for exact copies, and near-duplicate stories.

An article's signature holds a bottom-k sketch of its shingle hashes (to estimate
containment and Jaccard similarity against another article), a bottom-k sketch of its
number tokens (dates and figures tell two events on one subject apart), and LSH band keys
built from one-permutation MinHash. Band keys are indexed rows in SQLite, so finding the
candidates for a new article touches a bounded number of rows however large the archive.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import struct
import sys
import unicodedata
from array import array
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from crawler import textnorm
from crawler.errors import StoreError

__all__ = [
    "SCHEMA",
    "Match",
    "Signature",
    "StoryIndex",
    "compare",
    "content_hash",
    "fingerprint",
    "normalize",
    "signature",
    "tokens",
]

SCHEMA: tuple[str, ...] = (
    # seq orders stories by first registration: on a merge the smallest seq (oldest) wins.
    "CREATE TABLE IF NOT EXISTS _story_cluster (seq INTEGER PRIMARY KEY, story_id TEXT NOT NULL UNIQUE)",
    "CREATE TABLE IF NOT EXISTS _story_sig (article_id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, sig BLOB NOT NULL)",
    "CREATE INDEX IF NOT EXISTS _story_sig_seq ON _story_sig (seq)",
    # One B-tree keyed on (key, article_id): the lookup by key is the index.
    (
        "CREATE TABLE IF NOT EXISTS _story_band (key INTEGER NOT NULL, article_id INTEGER NOT NULL,"
        " PRIMARY KEY (key, article_id)) WITHOUT ROWID"
    ),
)

# Shingle sizes. Chinese and Japanese have no spaces: characters are tokens there.
WORD_SHINGLE = 3
CJK_SHINGLE = 5
# Below this many body tokens the text alone does not identify a story; add the title.
TITLE_BELOW_TOKENS = 50
SKETCH_SIZE = 256  # shingle hashes kept (32-bit): ~1 KiB per article
NUMBER_SKETCH_SIZE = 32
BINS = 64  # one-permutation MinHash bins
ROWS = 2  # bins per LSH band, so BINS // ROWS bands
BANDS = BINS // ROWS
# Guards that keep a lookup's cost bounded when boilerplate fills a bucket.
BUCKET_LIMIT = 40  # newest articles read per band key
VERIFY_LIMIT = 60  # candidates verified per new article, most band hits first
# Verification thresholds.
SHORT_SHINGLES = 25  # shorter texts must be near-exact copies
SHORT_JACCARD = 0.8
CONTAINMENT_MIN = 0.5  # share of the shorter text's shingles found in the longer
CONTAINMENT_SURE = 0.8  # above this, differing numbers do not veto (updated figures)
NUMBERS_MIN = 0.5  # share of the shorter text's numbers found in the longer
MERGE_JACCARD = 0.4  # a match also merges its story only if it covers much of both texts

_CJK = textnorm.CJK_CHARS
_TOKEN = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")
_CJK_CHAR = re.compile(rf"[{_CJK}]")
_DIGIT = re.compile(r"\d")
# Invisible characters that split words in extracted text (soft hyphen, zero widths, BOM).
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
_MAX32 = 0xFFFFFFFF
_MAX64 = (1 << 64) - 1
_VERSION = 1
_HEADER = struct.Struct("<BIHHH")


def normalize(text: str) -> str:
    """Unicode-compatible, case-folded text without invisible characters; 'ё' reads as 'е'."""
    return _INVISIBLE.sub("", unicodedata.normalize("NFKC", text)).casefold().replace("ё", "е")


def tokens(text: str) -> list[str]:
    """Words, or single characters in CJK scripts; punctuation and spacing dropped."""
    return _TOKEN.findall(normalize(text))


def content_hash(text: str) -> str:
    """Hash of the normalized body text: equal for copies differing in spacing, case, punctuation.

    Every text without words hashes alike; callers should not treat empty bodies as copies.
    """
    return _hash_tokens(tokens(text))


def _hash_tokens(toks: list[str]) -> str:
    return hashlib.blake2b(" ".join(toks).encode(), digest_size=16).hexdigest()


def _h64(s: str) -> int:
    return int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "little")


def _h64s(strings: Iterable[str]) -> list[int]:
    """``_h64`` of each string (one loop without a call per string: a text has hundreds)."""
    blake2b, from_bytes = hashlib.blake2b, int.from_bytes
    return [from_bytes(blake2b(s.encode(), digest_size=8).digest(), "little") for s in strings]


def _shingles(toks: list[str], cjk: bool) -> set[str]:
    k = CJK_SHINGLE if cjk else WORD_SHINGLE
    if len(toks) <= k:
        return {" ".join(toks)} if toks else set()
    return set(map(" ".join, zip(*(toks[i:] for i in range(k)))))  # every run of k consecutive tokens


def _bands(hashes: list[int]) -> tuple[int, ...]:
    """LSH band keys (signed 64-bit) from one-permutation MinHash with rotation densification."""
    if not hashes:
        return ()
    mins = [_MAX64] * BINS
    for h in hashes:
        i = h & (BINS - 1)
        v = h >> 6
        if v < mins[i]:
            mins[i] = v
    filled = [i for i in range(BINS) if mins[i] != _MAX64]
    if len(filled) < BINS:
        # Empty bins borrow the next filled bin's value, offset by distance, so that
        # two near-identical texts fill them the same way.
        dense = list(mins)
        for i in range(BINS):
            if mins[i] == _MAX64:
                d = 1
                while mins[(i + d) % BINS] == _MAX64:
                    d += 1
                dense[i] = mins[(i + d) % BINS] + d * 0x9E3779B97F4A7C15
        mins = dense
    keys = []
    for b in range(BANDS):
        packed = struct.pack("<H", b) + b"".join(
            (v & _MAX64).to_bytes(8, "little") for v in mins[b * ROWS : (b + 1) * ROWS]
        )
        digest = hashlib.blake2b(packed, digest_size=8).digest()
        keys.append(int.from_bytes(digest, "little", signed=True))
    return tuple(keys)


@dataclass(frozen=True, slots=True)
class Signature:
    """What dedup keeps of an article: sizes, sketches and LSH band keys."""

    size: int  # distinct shingles
    sketch: tuple[int, ...]  # smallest 32-bit shingle hashes, ascending
    numbers: tuple[int, ...]  # smallest 32-bit hashes of number tokens, ascending
    bands: tuple[int, ...]  # signed 64-bit LSH keys

    def to_bytes(self) -> bytes:
        """Compact little-endian encoding for storage."""
        sketch = array("I", self.sketch)
        numbers = array("I", self.numbers)
        bands = array("q", self.bands)
        if sys.byteorder == "big":
            for a in (sketch, numbers, bands):
                a.byteswap()
        header = _HEADER.pack(_VERSION, self.size, len(sketch), len(numbers), len(bands))
        return header + sketch.tobytes() + numbers.tobytes() + bands.tobytes()

    @classmethod
    def from_bytes(cls, b: bytes) -> Signature:
        """Decode what to_bytes wrote; StoreError if the bytes are not a signature."""
        try:
            version, size, n_sketch, n_numbers, n_bands = _HEADER.unpack_from(b)
            if version != _VERSION:
                raise ValueError(f"version {version}")
            off = _HEADER.size
            parts = []
            for code, n in (("I", n_sketch), ("I", n_numbers), ("q", n_bands)):
                a = array(code)
                end = off + n * a.itemsize
                if end > len(b):
                    raise ValueError("truncated")
                a.frombytes(b[off:end])
                if sys.byteorder == "big":
                    a.byteswap()
                parts.append(tuple(a))
                off = end
            if off != len(b):
                raise ValueError("trailing bytes")
        except (struct.error, ValueError) as e:
            raise StoreError(f"a stored story signature is unreadable ({e}); rebuild the story index") from None
        return cls(size, parts[0], parts[1], parts[2])


def signature(title: str, text: str) -> Signature:
    """Signature of an article; the title counts only when the body is too short to identify it."""
    norm = normalize(text)
    return _signature(title, norm, _TOKEN.findall(norm))


def fingerprint(title: str, text: str) -> tuple[str, Signature]:
    """``content_hash(text)`` and ``signature(title, text)`` from one normalization of the text."""
    norm = normalize(text)
    toks = _TOKEN.findall(norm)
    return _hash_tokens(toks), _signature(title, norm, toks)


def _signature(title: str, norm: str, toks: list[str]) -> Signature:
    if len(toks) < TITLE_BELOW_TOKENS:
        tnorm = normalize(title)
        toks = _TOKEN.findall(tnorm) + toks
        norm = tnorm + " " + norm
    cjk = len(_CJK_CHAR.findall(norm)) * 2 >= len(toks) > 0
    hashes = _h64s(_shingles(toks, cjk))
    sketch = sorted({h >> 32 for h in hashes})[:SKETCH_SIZE]
    # a word of letters only (isalpha, cheap) has no digit
    nums = sorted({h >> 32 for h in _h64s(t for t in toks if not t.isalpha() and _DIGIT.search(t))})
    nums = nums[:NUMBER_SKETCH_SIZE]
    return Signature(len(hashes), tuple(sketch), tuple(nums), _bands(hashes))


def _overlap(a: tuple[int, ...], b: tuple[int, ...], cap: int) -> tuple[int, int, int, int]:
    """Shared, union, a-only-sample and b-only-sample sizes of two bottom-k sketches.

    Below the smaller of the two sketches' cut-offs both sketches hold every element of
    their sets, so membership there is exact and the counts are a uniform sample.
    """
    cut = min(a[-1] if len(a) >= cap else _MAX32, b[-1] if len(b) >= cap else _MAX32)
    # sketches are ascending and without repeats: the part below the cut-off is a prefix
    na, nb = bisect_right(a, cut), bisect_right(b, cut)
    shared = len(set(a[:na]).intersection(b[:nb]))
    return shared, na + nb - shared, na, nb


@dataclass(frozen=True, slots=True)
class Match:
    """How much two articles share: of the shorter one's shingles, and Jaccard of both."""

    containment: float
    jaccard: float


def compare(a: Signature, b: Signature) -> Match | None:
    """The similarity of two articles if they are copies of one story, else None."""
    if not a.sketch or not b.sketch:
        return None
    shared, union, na, nb = _overlap(a.sketch, b.sketch, SKETCH_SIZE)
    jaccard = shared / union if union else 0.0
    if min(a.size, b.size) < SHORT_SHINGLES:
        return Match(jaccard, jaccard) if jaccard >= SHORT_JACCARD else None
    small = na if a.size <= b.size else nb
    containment = shared / small if small else 0.0
    if containment < CONTAINMENT_MIN:
        return None
    if containment < CONTAINMENT_SURE and not _numbers_agree(a, b):
        return None
    return Match(containment, jaccard)


def _numbers_agree(a: Signature, b: Signature) -> bool:
    """Most numbers (dates, counts, sums) of the text with fewer of them recur in the other."""
    if min(len(a.numbers), len(b.numbers)) < 2:
        return True
    shared, _union, na, nb = _overlap(a.numbers, b.numbers, NUMBER_SKETCH_SIZE)
    fewer = min(na, nb)
    return fewer == 0 or shared / fewer >= NUMBERS_MIN


class StoryIndex:
    """Clusters articles into stories, persisted in the caller's SQLite connection.

    Runs inside the caller's transaction: it never begins or commits.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def assign(self, article_id: int, sig: Signature, new_story_id: str) -> tuple[str, tuple[str, ...]]:
        """Register an article; returns its story id and the ids of stories merged into it.

        With no matching stored article the article starts story ``new_story_id``. Matches in
        several stories merge them; the oldest story's id wins. Re-assigning a registered
        article replaces its signature and keeps it in its story.
        """
        try:
            return self._assign(article_id, sig, new_story_id)
        except sqlite3.IntegrityError as e:
            raise StoreError(f"story index: story id {new_story_id!r} is already in use ({e})") from None
        except sqlite3.Error as e:
            raise StoreError(f"story index could not be updated: {e}") from None

    def replace(self, article_id: int, sig: Signature) -> None:
        """Replace a registered article's signature, in its story as it is: no other story is joined or merged (its
        text was cleaned, not changed: store migration 0140)."""
        try:
            row = self._conn.execute("SELECT seq, sig FROM _story_sig WHERE article_id = ?", (article_id,)).fetchone()
            if row is None:
                return
            self._drop(article_id, Signature.from_bytes(row[1]))
            self._conn.execute(
                "INSERT INTO _story_sig (article_id, seq, sig) VALUES (?, ?, ?)", (article_id, row[0], sig.to_bytes())
            )
            self._conn.executemany(
                "INSERT OR IGNORE INTO _story_band (key, article_id) VALUES (?, ?)",
                [(k, article_id) for k in sig.bands],
            )
        except sqlite3.Error as e:
            raise StoreError(f"story index could not be updated: {e}") from None

    def remove(self, article_id: int) -> None:
        """Forget an article; a story left without articles is dropped."""
        try:
            row = self._conn.execute("SELECT seq, sig FROM _story_sig WHERE article_id = ?", (article_id,)).fetchone()
            if row is None:
                return
            seq, blob = row
            self._drop(article_id, Signature.from_bytes(blob))
            left = self._conn.execute("SELECT 1 FROM _story_sig WHERE seq = ? LIMIT 1", (seq,)).fetchone()
            if left is None:
                self._conn.execute("DELETE FROM _story_cluster WHERE seq = ?", (seq,))
        except sqlite3.Error as e:
            raise StoreError(f"story index could not be updated: {e}") from None

    def story_of(self, article_id: int) -> str | None:
        """The story id of a registered article, else None."""
        row = self._conn.execute(
            "SELECT c.story_id FROM _story_sig s JOIN _story_cluster c ON c.seq = s.seq WHERE s.article_id = ?",
            (article_id,),
        ).fetchone()
        return row[0] if row else None

    def _drop(self, article_id: int, sig: Signature) -> None:
        self._conn.executemany(
            "DELETE FROM _story_band WHERE key = ? AND article_id = ?",
            [(k, article_id) for k in sig.bands],
        )
        self._conn.execute("DELETE FROM _story_sig WHERE article_id = ?", (article_id,))

    def _assign(self, article_id: int, sig: Signature, new_story_id: str) -> tuple[str, tuple[str, ...]]:
        conn = self._conn
        row = conn.execute("SELECT seq, sig FROM _story_sig WHERE article_id = ?", (article_id,)).fetchone()
        seqs: set[int] = set()
        if row is not None:
            seqs.add(row[0])
            self._drop(article_id, Signature.from_bytes(row[1]))
        seqs |= self._matching_stories(article_id, sig)
        if seqs:
            winner = min(seqs)
            losers = sorted(seqs - {winner})
        else:
            winner = conn.execute("INSERT INTO _story_cluster (story_id) VALUES (?)", (new_story_id,)).lastrowid
            losers = []
        ids = dict(
            conn.execute(
                f"SELECT seq, story_id FROM _story_cluster WHERE seq IN ({','.join('?' * (len(losers) + 1))})",
                [winner, *losers],
            ).fetchall()
        )
        for seq in losers:
            conn.execute("UPDATE _story_sig SET seq = ? WHERE seq = ?", (winner, seq))
            conn.execute("DELETE FROM _story_cluster WHERE seq = ?", (seq,))
        conn.execute(
            "INSERT INTO _story_sig (article_id, seq, sig) VALUES (?, ?, ?)",
            (article_id, winner, sig.to_bytes()),
        )
        conn.executemany(
            "INSERT OR IGNORE INTO _story_band (key, article_id) VALUES (?, ?)",
            [(k, article_id) for k in sig.bands],
        )
        return ids[winner], tuple(ids[s] for s in losers)

    def _matching_stories(self, article_id: int, sig: Signature) -> set[int]:
        """Stories to join: the best verified match's, plus those of matches strong enough to merge."""
        hits: Counter[int] = Counter()
        keys = list(set(sig.bands))
        if keys:  # one statement for every band: each bucket still read newest first, at most BUCKET_LIMIT rows
            bucket = "SELECT * FROM (SELECT article_id FROM _story_band WHERE key = ? ORDER BY article_id DESC LIMIT ?)"
            params = [p for key in keys for p in (key, BUCKET_LIMIT)]
            for (aid,) in self._conn.execute(" UNION ALL ".join([bucket] * len(keys)), params):
                if aid != article_id:
                    hits[aid] += 1
        if not hits:
            return set()
        ids = [aid for aid, _n in hits.most_common(VERIFY_LIMIT)]
        rows = self._conn.execute(
            f"SELECT seq, sig FROM _story_sig WHERE article_id IN ({','.join('?' * len(ids))})", ids
        ).fetchall()
        best: tuple[float, int] | None = None
        strong: set[int] = set()
        for seq, blob in rows:
            m = compare(Signature.from_bytes(blob), sig)
            if m is None:
                continue
            # Ties go to the older story, so the choice does not depend on row order.
            if best is None or (m.containment, -seq) > (best[0], -best[1]):
                best = (m.containment, seq)
            # A long round-up containing several short pieces joins one of their stories
            # but must not glue those stories together: merging needs two-sided overlap.
            if m.jaccard >= MERGE_JACCARD:
                strong.add(seq)
        if best is None:
            return set()
        return {best[1]} | strong
