"""Which tests pytest-xdist must run on one worker (``--dist=loadgroup``, set in pyproject.toml).

The tests that read a module- or class-scoped world (one crawl serving many tests) run on one worker,
so the world is built once; tests sharing any such fixture share the group. Every other test goes to
whichever worker is free, so a slow file no longer runs on one worker while the other waits.
"""

from __future__ import annotations

import pytest

_SHARED = ("package", "module", "class")


def group_by_shared_world(items: list[pytest.Item]) -> None:
    """Marks the tests of each module that share a module-, class- or package-scoped fixture
    (directly or through another test) with one xdist_group."""
    groups: dict[tuple[str, str], set[str]] = {}  # (module, fixture) -> the fixtures of its group
    uses: list[tuple[pytest.Item, str, list[str]]] = []
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None:
            continue
        shared = [name for name, defs in info.name2fixturedefs.items() if any(d.scope in _SHARED for d in defs)]
        if not shared:
            continue
        module = item.nodeid.split("::")[0]
        merged = set(shared).union(*(groups.get((module, name), set()) for name in shared))
        for name in merged:
            groups[(module, name)] = merged
        uses.append((item, module, shared))
    for item, module, shared in uses:
        item.add_marker(pytest.mark.xdist_group(f"{module}:{'+'.join(sorted(groups[(module, shared[0])]))}"))
