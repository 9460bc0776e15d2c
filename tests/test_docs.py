"""The README documents every command and option of the real CLI (as sqlite-utils' test_docs does)."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from scheduler.cli import cli, iter_commands

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
SHARED = {"--help", "-h", "--config", "-c"}


def sections() -> dict[str, str]:
    """README text under each '### `newswatch CMD ...`' heading, by command name."""
    parts = re.split(r"^### `newswatch (\w+)[^\n]*$", README, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def options(command: click.Command) -> list[str]:
    out = []
    for p in command.params:
        if isinstance(p, click.Option):
            out += [o for o in p.opts if o.startswith("--") and o not in SHARED]
    return out


@pytest.mark.parametrize("name,command", list(iter_commands()))
def test_every_command_and_option_is_documented(name: str, command: click.Command) -> None:
    docs = sections()
    assert name in docs, f"README has no '### `newswatch {name} ...`' section"
    heading = re.search(rf"^### `newswatch {name}[^\n]*$", README, re.M).group(0)  # type: ignore[union-attr]
    for opt in options(command):
        assert opt in heading or opt in docs[name], f"newswatch {name} {opt} is not documented in the README"


def test_the_readme_names_every_internal_table() -> None:
    # the paragraph lists them as what a reader of the database finds: _sitemap_children, _feed_items and
    # _near_misses were made by later migrations and left out
    from scheduler.archive import INTERNAL_TABLES

    paragraph = README[README.index("Internal tables are named apart") : README.index("Query them if you like")]
    assert [t for t in INTERNAL_TABLES if f"`{t}`" not in paragraph] == []


def test_global_options_are_documented() -> None:
    for opt in options(cli):
        assert f"`{opt}" in README or f"{opt}`" in README or f" {opt} " in README, f"global {opt} undocumented"


def test_quick_start_commands() -> None:
    assert "pip install . && .venv/bin/newswatch demo" in README
    assert "pip install '.[test]' && .venv/bin/python -m pytest" in README


def module_map() -> list[str]:
    """The modules named in the map at the top of README's "How it works"."""
    section = README.split("## How it works", 1)[1].split("\n- **", 1)[0]
    return re.findall(r"^\| `([\w/]+\.py)` \|", section, re.M)


def test_module_map_names_modules_that_exist_and_every_product_module() -> None:
    named = module_map()
    assert len(named) > 20
    missing = [m for m in named if not (ROOT / m).is_file()]
    assert not missing, f"README's module map names modules that do not exist: {missing}"
    product = sorted(str(p.relative_to(ROOT)) for pkg in ("crawler", "scheduler") for p in (ROOT / pkg).glob("*.py"))
    unmapped = [m for m in product if m not in named and not m.endswith("__init__.py")]
    assert not unmapped, f"add these to README's module map (How it works): {unmapped}"


def test_the_unit_files_install_steps_agree_with_the_readme() -> None:
    # The unit's comment is the install guide a sysadmin has open; its steps must be the README's: newswatch
    # installed from its source tree (it is on no package index) and run by the venv's full path (root's PATH
    # and sudo's secure_path do not hold the venv).
    unit = (ROOT / "config" / "newswatch.service").read_text(encoding="utf-8")
    steps = [line[1:].strip() for line in unit.split("[Unit]")[0].splitlines() if line.startswith("#   ")]
    assert "pip install /path/to/newswatch" in README
    assert any("/opt/newswatch/bin/pip install /path/to/newswatch" in s for s in steps), steps
    bare = [s for s in steps if re.match(r"newswatch\b", s)]
    assert not bare, f"run newswatch by its full path in the unit's install steps: {bare}"
