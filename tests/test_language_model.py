"""The language detector's model: loaded from an uncompressed copy in the cache folder, the same classifier."""

from __future__ import annotations

import lzma
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from crawler import textnorm

TEXTS = [
    "Les deux académies ont ouvert lundi un laboratoire commun consacré aux matériaux des batteries.",
    "Die beiden Akademien eröffneten am Montag ein gemeinsames Labor für Batteriematerialien.",
    "The two academies opened a joint laboratory for battery materials on Monday.",
    "Las dos academias abrieron el lunes un laboratorio conjunto dedicado a los materiales de baterías.",
    "Le due accademie hanno aperto lunedì un laboratorio comune dedicato ai materiali per batterie.",
    "China and Russia",
]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    textnorm._identifier.cache_clear()
    yield tmp_path / "cache" / "newswatch"
    textnorm._identifier.cache_clear()


def _copies(folder: Path) -> list[Path]:
    return sorted(folder.glob("langid-*.npz"))


def test_the_model_is_kept_uncompressed_and_read_back_as_the_same_classifier(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    packaged = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    first = textnorm._identifier()
    [copy] = _copies(cache)
    assert copy.stat().st_size > 10 * 2**20, "the copy is the decompressed model"

    def no_lzma(data: bytes) -> bytes:
        raise AssertionError("the packaged model was decompressed although its copy was there")

    monkeypatch.setattr(lzma, "decompress", no_lzma)
    textnorm._identifier.cache_clear()
    second = textnorm._identifier()
    assert second is not first
    for identifier in (first, second):
        assert [identifier.classify(t) for t in TEXTS] == [packaged.classify(t) for t in TEXTS]
        assert identifier.nb_classes == packaged.nb_classes
        assert (identifier.nb_ptc == packaged.nb_ptc).all() and (identifier.nb_pc == packaged.nb_pc).all()
        assert identifier.tk_nextmove == packaged.tk_nextmove and identifier.tk_row == packaged.tk_row
        assert identifier.tk_output == packaged.tk_output
    assert textnorm.detect_language(TEXTS[0]) == "fr" and textnorm.detect_language(TEXTS[1]) == "de"


def test_a_damaged_copy_is_made_again_and_copies_of_other_models_unused_for_a_month_are_dropped(
    cache: Path,
) -> None:
    cache.mkdir(parents=True)
    unused = cache / "langid-0000000000000000.npz"
    unused.write_bytes(b"a copy of a model installed long ago")
    month_ago = time.time() - 31 * 86400
    os.utime(unused, (month_ago, month_ago))
    in_use = cache / "langid-1111111111111111.npz"
    in_use.write_bytes(b"a copy of the model another installation reads")
    textnorm._identifier()
    copy = (set(_copies(cache)) - {in_use}).pop()
    assert _copies(cache) == sorted([copy, in_use])
    size = copy.stat().st_size
    copy.write_bytes(b"PK\x03\x04 cut short")  # a copy damaged on disk
    textnorm._identifier.cache_clear()
    assert textnorm.detect_language(TEXTS[1]) == "de"
    assert copy.stat().st_size == size and in_use.exists()


def test_without_a_writable_cache_folder_the_packaged_model_is_used(tmp_path: Path, cache: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would be")
    textnorm._identifier.cache_clear()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(blocked))
        assert textnorm.detect_language(TEXTS[0]) == "fr"
    assert blocked.read_text() == "a file where the cache folder would be"
    assert not list(tmp_path.glob("not-a-folder*/**/langid-*"))
