"""Files written whole: the old file or the new one, never half, and no temporary file left behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scheduler.files import replacing, write_atomic


def test_write_atomic_replaces_the_file_with_the_umask_applied(tmp_path: Path) -> None:
    target = tmp_path / "out.html"
    target.write_text("old", encoding="utf-8")
    old = os.umask(0o027)
    try:
        write_atomic(target, "новый")
        write_atomic(tmp_path / "secret.toml", b"x", mode=0o600)
    finally:
        os.umask(old)
    assert target.read_text(encoding="utf-8") == "новый"
    assert target.stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "secret.toml").stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.html", "secret.toml"]


def test_a_target_that_refuses_the_rename_is_named_not_the_temporary(tmp_path: Path) -> None:
    # the error a user sees names the file they asked for (another user's file in /tmp, an immutable file,
    # a folder), not ".d.html.x1y2.tmp"
    from scheduler.cli import os_problem

    target = tmp_path / "d.html"
    (target / "inside").mkdir(parents=True)
    with pytest.raises(OSError) as info:
        write_atomic(target, "<p>digest</p>")
    assert info.value.filename == str(target)
    assert os_problem(info.value, None) == f"{target}: Is a directory"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.html"]


def test_a_permission_error_naming_its_file_in_bytes_is_one_line(tmp_path: Path) -> None:
    # os functions given a bytes path name it in bytes: the line for a refused write must not fail on it (a
    # TypeError inside the error handler is a traceback), nor show b'...'
    import errno

    from scheduler.cli import os_problem

    target = tmp_path / "missing" / "x.jsonl"
    line = os_problem(PermissionError(errno.EACCES, "Permission denied", os.fsencode(target)), None)
    assert line is not None and line.startswith(f"cannot write {target}: the folder ") and "b'" not in line


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "export.csv"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), replacing(target) as tmp:
        tmp.write_text("half", encoding="utf-8")
        raise RuntimeError("disk full")
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["export.csv"]
