"""The session's shared `newswatch demo` world (the ``demo_world`` fixture in tests/conftest.py): copies of it."""

from __future__ import annotations

import shutil
from pathlib import Path


def copy_demo(demo_world: Path, target: Path, config_name: str = "newswatch-demo.toml") -> Path:
    """The shared demo's config (as ``config_name``) and database copied into ``target``; returns the config."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(demo_world / "newswatch-demo.toml", target / config_name)
    shutil.copy(demo_world / "newswatch-demo.db", target / "newswatch-demo.db")
    return target / config_name
