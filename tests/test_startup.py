"""What a process loads before its first page: each CLI command, crawl child and worker pays it once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _loaded_after(code: str, tmp_path: Path) -> dict[str, object]:
    """Runs ``code`` in a fresh interpreter; it leaves what to report in ``out`` (a dict)."""
    script = (
        "import json, sys\nout = {}\n"
        + code
        + "\nout['modules'] = sorted(m for m in sys.modules if '.' not in m)\nprint(json.dumps(out))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_opening_the_store_does_not_load_numpy_and_numpy_still_loads_later(tmp_path: Path) -> None:
    out = _loaded_after(
        "from crawler.store import Store\n"
        "store = Store('n.db')\n"
        "out['tables'] = len(store.query(\"SELECT name FROM sqlite_master WHERE type = 'table'\"))\n"
        "out['numpy_at_open'] = 'numpy' in sys.modules\n"
        "import numpy, sqlite_utils\n"
        "out['numpy_later'] = numpy.__name__\n",
        tmp_path,
    )
    assert out["tables"] and out["numpy_at_open"] is False
    assert out["numpy_later"] == "numpy"


def test_a_crawl_child_loads_its_scrapy_components_without_aiohttp_tldextract_or_numpy(tmp_path: Path) -> None:
    out = _loaded_after(
        "import crawler.run\n"
        "from scrapy.settings import Settings\n"
        "from scrapy.utils.misc import load_object\n"
        "from crawler.config import CrawlConfig\n"
        "from crawler.settings import scrapy_settings\n"
        "s = Settings(scrapy_settings(CrawlConfig()))\n"
        "names = [*s.get_component_priority_dict_with_base('DOWNLOADER_MIDDLEWARES'),\n"
        "         *s.get_component_priority_dict_with_base('EXTENSIONS')]\n"
        "out['components'] = [load_object(n).__name__ for n in names]\n",
        tmp_path,
    )
    assert "RetryMiddleware" in out["components"] and "SafetyMiddleware" in out["components"]
    assert not {"aiohttp", "tldextract", "requests", "numpy"} & set(out["modules"]), out["modules"]
