"""Operators and the service share one database, as the README's systemd section says they may.

Two real uids via `setpriv` (as root): the service user (its own group is the `newswatch` group)
and an operator who is a member of that group but whose primary group is their own, in a state
folder set up as the unit's `StateDirectory` (mode 2770) and with the unit's `UMask=0007`.
The interpreter is a venv made from Debian's /usr/bin/python3.11 (the test's own Python may live
where other users cannot read it), seeing this checkout and the test environment's packages.
"""

from __future__ import annotations

import os
import shutil
import site as pysite
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import in_one_process

ROOT = Path(__file__).resolve().parent.parent
SYSTEM_PYTHON = Path("/usr/bin/python3.11")
SERVICE = 64101  # uid and gid of "newswatch"
OPERATOR = 64102  # uid and own primary group; member of SERVICE's group
OUTSIDER = 64103  # uid and own primary group; not in SERVICE's group
SECURE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # sudo's secure_path
NO_WORKERS = {"NEWSWATCH_WORKERS": "0"}  # the crawl child extracts its pages itself: no worker pool to start


class Users:
    """Runs the venv's `newswatch` as the service user or an operator, with sudo's reset environment."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.venv = base / "venv"
        subprocess.run([str(SYSTEM_PYTHON), "-m", "venv", "--without-pip", str(self.venv)], check=True, timeout=120)
        purelib = next(self.venv.glob("lib/python3*/site-packages"))
        paths = [str(ROOT), *pysite.getsitepackages()]
        (purelib / "newswatch-tests.pth").write_text("\n".join(paths) + "\n")
        self.newswatch = self.venv / "bin" / "newswatch"
        self.newswatch.write_text(f"#!{self.venv}/bin/python\nfrom scheduler.cli import main\nmain()\n")
        self.newswatch.chmod(0o755)

    def run(
        self, who: int, *args: str, umask: str = "0022", cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.prefix(who, umask, env), *args],
            cwd=str(cwd or self.base),
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    def prefix(self, who: int, umask: str = "0022", env: dict[str, str] | None = None) -> list[str]:
        """What runs the command after it as `who`: setpriv, sudo's reset environment, the umask."""
        groups = f"{SERVICE}" if who == OPERATOR else ""
        ids = ["--reuid", str(who), "--regid", str(who)]
        ids += ["--groups", groups] if groups else ["--clear-groups"]
        return [
            "setpriv",
            *ids,
            "--",
            "env",
            "-i",
            f"PATH={SECURE_PATH}",
            *[f"{k}={v}" for k, v in (env or {}).items()],
            "sh",
            "-c",
            f'umask {umask}; exec "$@"',
            "sh",
        ]


@pytest.fixture(scope="module")
def users() -> Iterator[Users]:
    """One venv and base folder for the module's tests (each works in folders of its own under it)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run commands as two other uids with setpriv")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    if not SYSTEM_PYTHON.exists() or sys.version_info[:2] != (3, 11):
        pytest.skip(f"needs {SYSTEM_PYTHON} matching this interpreter's version (3.11)")
    base = Path(tempfile.mkdtemp(prefix="newswatch-operators-", dir="/tmp"))
    try:
        base.chmod(0o755)
        u = Users(base)
        probe = u.run(OPERATOR, str(u.venv / "bin" / "python"), "-c", "import crawler.store, scrapy, click")
        if probe.returncode != 0:
            pytest.skip(f"this checkout or its packages are not readable by other users: {probe.stderr[-300:]}")
        yield u
    finally:
        shutil.rmtree(base, ignore_errors=True)


def state_folder(users: Users, name: str) -> Path:
    """A folder as systemd makes the unit's StateDirectory= (StateDirectoryMode=2770), the service user's."""
    state = users.base / name
    state.mkdir()
    os.chown(state, SERVICE, SERVICE)
    state.chmod(0o2770)
    return state


def _config(path: Path, db: Path, base_url: str) -> Path:
    path.write_text(
        f"""
[storage]
database = "{db}"

[crawl]
user_agent = "newswatch-test/1.0 (+mailto:ops@example.org)"
allow_private = true

[[sources]]
name = "globalwire"
url = "{base_url}/globalwire/rss.xml"

[[sources]]
name = "vestnik"
url = "{base_url}/vestnik/rss.xml"

[[topics]]
name = "china-russia"
query = '(China OR Chinese) AND (Russia OR Russian)'
""",
        encoding="utf-8",
    )
    path.chmod(0o644)
    return path


def test_an_operators_read_does_not_break_the_service(users: Users, site: Any) -> None:
    state = state_folder(users, "state")
    db = state / "newswatch.db"
    conf = _config(users.base / "newswatch.toml", db, site.base_url)
    nw = str(users.newswatch)  # the full path, as `sudo -u newswatch /opt/newswatch/bin/newswatch` gives it

    out = users.run(SERVICE, nw, "-c", str(conf), "crawl", "globalwire", umask="0007", env=NO_WORKERS)
    assert out.returncode == 0, out.stderr
    assert db.stat().st_mode & 0o060 == 0o060, oct(db.stat().st_mode)  # group-writable, as the README says

    # An operator's session holds the database open: SQLite's -wal/-shm are now the operator's files.
    holder = subprocess.Popen(
        [
            "setpriv",
            "--reuid",
            str(OPERATOR),
            "--regid",
            str(OPERATOR),
            "--groups",
            str(SERVICE),
            "--",
            str(users.venv / "bin" / "python"),
            "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
            "print(c.execute('SELECT count(*) FROM articles').fetchone()[0], flush=True); sys.stdin.read()",
            str(db),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert int(holder.stdout.readline()) > 0, holder.stderr.read() if holder.poll() is not None else ""
        shm = Path(f"{db}-shm")
        assert shm.stat().st_uid == OPERATOR and shm.stat().st_gid == SERVICE
        commands = (["sources"], ["search", "China"], ["export", "--matched"])
        # the operator's three reads in one process of theirs (the user is at stake, not each command's process)
        reads = in_one_process(
            *(["-c", str(conf), *c] for c in commands),
            prefix=users.prefix(OPERATOR),
            python=users.venv / "bin" / "python",
        )
        for command, out in zip(commands, reads, strict=True):
            assert out.returncode == 0 and "Traceback" not in out.stderr, (command, out.stderr)
        out = users.run(SERVICE, nw, "-c", str(conf), "crawl", "vestnik", umask="0007", env=NO_WORKERS)
        assert out.returncode == 0, out.stderr  # the service still writes through the operator's files
    finally:
        holder.communicate("", timeout=30)
    out = users.run(SERVICE, nw, "-c", str(conf), "sources", "--json", umask="0007")
    assert out.returncode == 0, out.stderr
    assert '"last_success": null' not in out.stdout  # both polls were stored
    conn = sqlite3.connect(str(db))
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


def test_config_discovery_skips_an_unreadable_folder(users: Users, site: Any) -> None:
    private = users.base / "private"  # the operator's working directory, which they may not read
    private.mkdir(mode=0o700)
    xdg = users.base / "xdg"
    (xdg / "newswatch").mkdir(parents=True)
    xdg.chmod(0o755)
    (xdg / "newswatch").chmod(0o755)
    state = users.base / "state2"
    state.mkdir(mode=0o777)
    state.chmod(0o777)
    _config(xdg / "newswatch" / "newswatch.toml", state / "nw.db", site.base_url)
    out = users.run(OPERATOR, str(users.newswatch), "sources", cwd=private, env={"XDG_CONFIG_HOME": str(xdg)})
    assert out.returncode == 0, out.stderr
    assert "globalwire" in out.stdout
    out = users.run(OPERATOR, str(users.newswatch), "sources", cwd=private)  # no $HOME, no passwd entry
    assert out.returncode == 2 and "no config file found" in out.stderr, out.stderr


def test_a_user_outside_the_group_is_told_which_folder_is_closed_and_who_may_enter(users: Users, site: Any) -> None:
    """The state folder (2770) is closed to a user outside the service's group: nothing in it can even be told to
    exist. check warned of nothing and failed (exit 1), run exited 1 where a database it cannot write is exit 2, crawl
    said 'the crawl process failed: PermissionError: [Errno 13] ...', the others '...: Permission denied; this user
    lacks the permission this command needs there': none named the folder, nor who may use it."""
    state = state_folder(users, "state3")
    db = state / "newswatch.db"
    conf = _config(users.base / "outsider.toml", db, site.base_url)
    closed = f"the folder {state} is closed to this user (owner {SERVICE}, group {SERVICE}, mode 2770)"
    fix = f"run newswatch as {SERVICE} (sudo -u {SERVICE}) or as a member of the group {SERVICE}"

    check, sources, search, export = in_one_process(
        ["-c", conf, "check"],
        ["-c", conf, "sources"],
        ["-c", conf, "search", "China"],
        ["-c", conf, "export"],
        prefix=users.prefix(OUTSIDER),
        python=users.venv / "bin" / "python",
    )
    assert check.returncode == 0, check.stderr  # a warning, as for a database this user cannot write
    assert f"warning: storage.database: this user cannot open {db}: {closed}; {fix}" in check.stderr, check.stderr
    for out in (sources, search, export):
        assert out.returncode == 1, out.stderr
        assert (
            out.stderr
            == f"error: cannot open the database {db}: {closed}; {fix} (sudo usermod -aG {SERVICE} USER, then log in again)\n"
        )
    nw = str(users.newswatch)
    crawl = users.run(OUTSIDER, nw, "-c", str(conf), "crawl", "globalwire", env=NO_WORKERS)
    assert crawl.returncode == 1, crawl.stderr
    assert f"error: cannot open the database {db}: {closed}; {fix}" in crawl.stderr, crawl.stderr
    assert "Errno" not in crawl.stderr and "PermissionError" not in crawl.stderr
    run = users.run(OUTSIDER, nw, "-c", str(conf), "run")
    assert run.returncode == 2, run.stderr  # starting again cannot fix it: systemd does not restart on 2
    assert f"this user cannot open {db}: {closed}; {fix}" in run.stderr, run.stderr


def test_a_config_this_user_may_not_read_says_who_may(users: Users, site: Any) -> None:
    """/etc/newswatch (0750 root:newswatch) and its config (0640): 'cannot read the config file: Permission denied'
    said neither which of the two was closed nor who may read them."""
    etc = users.base / "etc"
    etc.mkdir()
    os.chown(etc, 0, SERVICE)
    etc.chmod(0o750)
    conf = _config(etc / "newswatch.toml", users.base / "nw.db", site.base_url)
    os.chown(conf, 0, SERVICE)
    conf.chmod(0o640)
    open_etc = users.base / "etc-open"  # the folder open to all, the file not
    open_etc.mkdir(mode=0o755)
    open_etc.chmod(0o755)
    conf2 = shutil.copy(conf, open_etc / "newswatch.toml")
    os.chown(conf2, 0, SERVICE)
    Path(conf2).chmod(0o640)
    in_folder, own_mode, operator = in_one_process(
        ["-c", conf, "check"],
        ["-c", conf2, "check"],
        ["-c", conf, "check"],
        prefix=users.prefix(OUTSIDER),
        python=users.venv / "bin" / "python",
    )
    member = f"run newswatch as a member of the group {SERVICE} (sudo usermod -aG {SERVICE} USER, then log in again)"
    assert in_folder.returncode == 2
    assert in_folder.stderr == (
        f"error: {conf}: cannot read the config file: the folder {etc} is closed to this user "
        f"(owner root, group {SERVICE}, mode 0750); {member}\n"
    )
    assert own_mode.returncode == 2
    assert own_mode.stderr == (
        f"error: {conf2}: cannot read the config file: {conf2} is not readable by this user "
        f"(owner root, group {SERVICE}, mode 0640); {member}\n"
    )
    (operator,) = in_one_process(
        ["-c", conf, "check", "--quiet"], prefix=users.prefix(OPERATOR), python=users.venv / "bin" / "python"
    )
    assert operator.returncode == 0, operator.stderr  # a member of the group reads it


def test_init_where_this_user_may_not_write_says_which_folder_and_what_to_do(users: Users) -> None:
    """The README's `newswatch init /etc/newswatch/newswatch.toml` run without sudo, and `init` for a user whose home
    is /nonexistent: '/etc/newswatch/newswatch.toml: Permission denied; this user lacks the permission this command
    needs there' (exit 1), no folder named, no way out."""
    etc = users.base / "etc-init"  # as the README's `install -d -m 0750 -o root -g newswatch /etc/newswatch`
    etc.mkdir()
    os.chown(etc, 0, SERVICE)
    etc.chmod(0o750)
    shared = users.base / "shared-init"  # open to all, written by root only
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    nw = str(users.newswatch)
    closed = users.run(OPERATOR, nw, "init", str(etc / "newswatch.toml"))  # a member of the group reads it only
    outside = users.run(OUTSIDER, nw, "init", str(etc / "newswatch.toml"))
    unwritable = users.run(OUTSIDER, nw, "init", str(shared / "sub" / "newswatch.toml"))
    homeless = users.run(OUTSIDER, nw, "init", env={"HOME": "/nonexistent"})
    fix = "run newswatch init as a user who may (sudo, for /etc/newswatch), or name a PATH in a folder of yours"
    assert closed.returncode == 2, closed.stderr
    assert closed.stderr == (
        f"error: cannot write {etc}/newswatch.toml: the folder {etc} is not writable by this user "
        f"(owner root, group {SERVICE}, mode 0750); {fix}: newswatch init PATH\n"
    )
    assert outside.returncode == 2, outside.stderr
    assert outside.stderr == (
        f"error: cannot write {etc}/newswatch.toml: the folder {etc} is closed to this user "
        f"(owner root, group {SERVICE}, mode 0750); {fix}: newswatch init PATH\n"
    )
    assert unwritable.returncode == 2, unwritable.stderr
    assert f"the folder {shared} is not writable by this user (owner root, group root, mode 0755)" in unwritable.stderr
    assert homeless.returncode == 2, homeless.stderr
    assert homeless.stderr == (
        "error: cannot write /nonexistent/.config/newswatch/newswatch.toml: the folder / is not writable by this "
        f"user (owner root, group root, mode 0755); {fix}: newswatch init PATH\n"
    )
    assert not (etc / "newswatch.toml").exists() and not (shared / "sub").exists()


def test_a_file_written_where_this_user_may_not_write_is_named_with_its_folder(users: Users, site: Any) -> None:
    """export -o, digest --output and sources add (an operator editing /etc/newswatch/newswatch.toml, readable by
    the group, writable by root only) named the temporary file beside the target ('/etc/newswatch/.newswatch.toml.
    u3l3js7h.tmp: Permission denied; this user lacks the permission this command needs there'), not the file asked
    for, its folder or a way out."""
    etc = users.base / "etc-edit"
    etc.mkdir()
    os.chown(etc, 0, SERVICE)
    etc.chmod(0o750)
    state = state_folder(users, "state-edit")
    conf = _config(etc / "newswatch.toml", state / "nw.db", site.base_url)
    with conf.open("a", encoding="utf-8") as f:
        f.write('\n[digest]\n[[digest.recipients]]\nemail = "analyst@example.org"\n')
    os.chown(conf, 0, SERVICE)
    conf.chmod(0o640)
    out = users.run(SERVICE, str(users.newswatch), "-c", str(conf), "crawl", "globalwire", umask="0007", env=NO_WORKERS)
    assert out.returncode == 0, out.stderr
    export, digest, add = in_one_process(
        ["-c", conf, "export", "-o", etc / "x.jsonl"],
        ["-c", conf, "digest", "--output", etc / "d.html"],
        ["-c", conf, "sources", "add", "more", f"{site.base_url}/huaxia/atom.xml", "--force"],
        prefix=users.prefix(OPERATOR),
        python=users.venv / "bin" / "python",
    )
    folder = f"the folder {etc} is not writable by this user (owner root, group {SERVICE}, mode 0750)"
    fix = "run the command as a user who may write there, or choose another path"
    for out, target in ((export, etc / "x.jsonl"), (digest, etc / "d.html"), (add, conf)):
        assert out.returncode == 1, out.stderr
        assert out.stderr.splitlines()[-1] == f"error: cannot write {target}: {folder}; {fix}"
    assert sorted(p.name for p in etc.iterdir()) == ["newswatch.toml"]


def test_a_crawl_of_a_database_left_read_only_names_the_permission_it_lacks(users: Users, site: Any) -> None:
    """A database whose file lost its write permission (a copy restored read-only, a chmod): crawl said only
    'cannot write to the database ...: attempt to write a readonly database', as the daemon logged at each crawl."""
    state = state_folder(users, "state-ro")
    db = state / "newswatch.db"
    conf = _config(users.base / "read-only.toml", db, site.base_url)
    nw = str(users.newswatch)
    out = users.run(SERVICE, nw, "-c", str(conf), "crawl", "globalwire", umask="0007", env=NO_WORKERS)
    assert out.returncode == 0, out.stderr
    db.chmod(0o440)

    crawl = users.run(SERVICE, nw, "-c", str(conf), "crawl", "vestnik", umask="0007", env=NO_WORKERS)
    assert crawl.returncode == 1, crawl.stderr
    assert crawl.stderr.endswith(
        f"error: cannot write to the database {db}: {db} is not writable by this user; crawl, digest and run need "
        "write permission on it\n"
    ), crawl.stderr
    assert "readonly" not in crawl.stderr
