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


def mail_config(port: int, *, schedule: str = "0 7 * * *", timezone: str = "UTC", send_empty: bool = False) -> str:
    """A config's [digest] (stories up to ten years old, to analyst@example.org) and [smtp] (127.0.0.1:``port``,
    no TLS) tables, for tests that mail a local SMTP server."""
    return f"""
[digest]
schedule = "{schedule}"
timezone = "{timezone}"
{"send_empty = true" if send_empty else ""}
max_age = "3650d"

[[digest.recipients]]
email = "analyst@example.org"

[smtp]
host = "127.0.0.1"
port = {port}
security = "none"
sender = "newswatch <alerts@example.org>"
"""
