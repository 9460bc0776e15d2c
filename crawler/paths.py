"""What stands in the way of a file newswatch is to make: kept apart from the store, whose import costs
`newswatch check` (scheduler.advice asks the same question) a quarter of a second."""

from __future__ import annotations

from pathlib import Path


def file_in_the_way(path: Path) -> Path | None:
    """The file standing where a folder of ``path`` should be (``[storage] database = "notes.txt/nw.db"``)."""
    for folder in path.parents:
        if folder.exists():
            return None if folder.is_dir() else folder
    return None
