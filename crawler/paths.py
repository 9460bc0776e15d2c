"""What stands in the way of a file newswatch is to write: kept apart from the store, whose import costs
`newswatch check` (scheduler.advice asks the same questions) a quarter of a second."""

from __future__ import annotations

import os
from pathlib import Path


def file_in_the_way(path: Path) -> Path | None:
    """The file standing where a folder of ``path`` should be (``[storage] database = "notes.txt/nw.db"``)."""
    for folder in path.parents:
        if folder.exists():
            return None if folder.is_dir() else folder
    return None


LOW_SPACE = 1 << 20  # bytes: below this the database's disk is full for SQLite (a page, a WAL frame, a journal)


def low_space(path: Path) -> int | None:
    """The bytes free on the file system holding ``path`` (or the nearest folder of it that exists) when fewer than
    ``LOW_SPACE``, else None: a write that failed there failed for want of space, whatever SQLite called it
    ("disk I/O error" when it could not grow its -wal or -shm file)."""
    for at in (path, *path.parents):
        try:
            st = os.statvfs(at)
        except FileNotFoundError:
            continue
        except OSError:
            return None
        free = st.f_bavail * st.f_frsize
        return free if free < LOW_SPACE else None
    return None


def on_read_only_mount(path: Path) -> bool:
    """Whether ``path``, or the nearest folder of it that exists, lies on a file system mounted read-only: a
    read-only disk, or /etc for a service that systemd's ProtectSystem=strict lets write only its StateDirectory
    (no permission would help there)."""
    for at in (path, *path.parents):
        try:
            return bool(os.statvfs(at).f_flag & os.ST_RDONLY)
        except FileNotFoundError:
            continue
        except OSError:
            return False
    return False


def service_folder() -> str:
    """Where the newswatch service may write: its StateDirectory, as systemd tells it, else the shipped unit's."""
    return os.environ.get("STATE_DIRECTORY", "").split(":")[0] or "/var/lib/newswatch"


def closed_folder(path: Path) -> Path | None:
    """The first folder on the way to ``path`` that this user may not enter, or None: nothing in it can be opened, nor
    even told to exist, whatever its own mode (the service's state folder, mode 2770, to a user outside its group)."""
    for folder in reversed(Path(os.path.abspath(path)).parents):
        if not os.path.isdir(folder):  # missing: what is made there is another question
            return None
        if not os.access(folder, os.X_OK):
            return folder
    return None


def no_entry(path: Path) -> str | None:
    """Why this user cannot reach ``path``, naming the folder closed to it and who may enter, or None."""
    folder = closed_folder(path)
    if folder is None:
        return None
    return f"the folder {folder} is closed to this user ({_whose(folder)}); {_who_may(folder)}"


def not_readable(path: Path) -> str | None:
    """Why this user may not read the file ``path`` (its folder closed to it, or its own mode), or None."""
    reason = no_entry(path)
    if reason is not None or not os.path.exists(path) or os.access(path, os.R_OK):
        return reason
    return f"{path} is not readable by this user ({_whose(path)}); {_who_may(path)}"


def unwritable_folder(path: Path) -> str:
    """Which folder on the way to ``path`` this user may not enter or write, with its owner, group and mode."""
    folder = closed_folder(path)
    if folder is not None:
        return f"the folder {folder} is closed to this user ({_whose(folder)})"
    folder = Path(os.path.abspath(path)).parent
    while not os.path.isdir(folder) and folder != folder.parent:
        folder = folder.parent
    return f"the folder {folder} is not writable by this user ({_whose(folder)})"


def _owners(path: Path) -> tuple[str, str, int]:
    """The names of the owner and group of ``path`` (their numbers when the system has no name for them), its mode."""
    import grp
    import pwd
    import stat

    st = os.stat(path)
    try:
        owner = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        owner = str(st.st_uid)
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    return owner, group, stat.S_IMODE(st.st_mode)


def _whose(path: Path) -> str:
    owner, group, mode = _owners(path)
    return f"owner {owner}, group {group}, mode {mode:04o}"


def _who_may(path: Path) -> str:
    owner, group, _ = _owners(path)
    member = f"a member of the group {group} (sudo usermod -aG {group} USER, then log in again)"
    return (
        f"run newswatch as {member}"
        if owner == "root"
        else f"run newswatch as {owner} (sudo -u {owner}) or as {member}"
    )


def database_write_problem(path: Path) -> str | None:
    """Why this user could not write the database (crawl, digest and run need to), or None."""
    closed = no_entry(path)
    if closed is not None:  # nothing below could even tell whether the file exists
        return f"this user cannot open {path}: {closed}"
    if path.is_dir():
        return f"{path} is a folder, not a file; set it to a file, e.g. {path / 'newswatch.db'}"
    blocker = file_in_the_way(path)
    if blocker is not None:
        return f"{blocker} is a file, not a folder, so {path} cannot be made there"
    if on_read_only_mount(path):
        return (
            f"{path} lies on a read-only file system; crawl, digest and run need to write it: set it to a file on a "
            f'writable one (the systemd service may write only {service_folder()}: "{service_folder()}/newswatch.db")'
        )
    if path.exists():
        if not os.access(path, os.W_OK):
            return f"{path} is not writable by this user; crawl, digest and run need write permission on it"
        if not os.access(path.parent, os.W_OK):
            return (
                f"the folder {path.parent} is not writable by this user; SQLite needs it for the database's "
                "-wal and -shm files"
            )
        for side in (Path(f"{path}-wal"), Path(f"{path}-shm")):
            if side.exists() and not os.access(side, os.W_OK):  # left by another user's command (root's, often)
                return (
                    f"{side} is not writable by this user, so neither is the database; SQLite writes it with the "
                    f"database: give it the database's owner, group and mode (chown and chmod as {path.name})"
                )
        return None
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not os.access(folder, os.W_OK):
        return f"the folder {folder} is not writable by this user, so {path} cannot be created there"
    return None
