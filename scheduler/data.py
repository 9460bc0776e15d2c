"""Files shipped with newswatch (configs, the sample site): found in a wheel or in a source tree."""

from __future__ import annotations

from pathlib import Path

_PACKAGED = Path(__file__).resolve().parent / "data"
_SOURCE_TREE = Path(__file__).resolve().parent.parent


def data_path(*parts: str) -> Path:
    """`data_path("config", "demo.toml")`: the installed copy, else the source tree's."""
    for root in (_PACKAGED, _SOURCE_TREE):
        candidate = root.joinpath(*parts)
        if candidate.exists():
            return candidate
    raise FileNotFoundError("/".join(parts))
