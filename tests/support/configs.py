"""A config file's problems as `newswatch check` lists them, for tests of what a bad config says."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.config import load_config
from crawler.errors import ConfigError


def config_problems(tmp_path: Path, body: str) -> list[str]:
    """The problems of a config holding ``body`` below a [storage] table (loading it must fail)."""
    cfg = tmp_path / "newswatch.toml"
    cfg.write_text('[storage]\ndatabase = "nw.db"\n' + body, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_config(cfg)
    return exc.value.problems
