"""newswatch installed anew under a running daemon (`pip install -U` into its venv, without a restart): the daemon
notices its installed files changed and exits with status 75, which the unit restarts (Restart=on-failure, and
RestartForceExitStatus=75 should an operator turn Restart= off), so the new version runs and upgrades the database
at its start. Before, the old daemon went on starting crawl children from the new code, each failing (a migration
the new version brings: 'restart the daemon') about every 30 s per source, until someone restarted it.

A real daemon run from its own copy of the packages (as from a venv's site-packages), upgraded in place."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scheduler.daemon import UPGRADED_EXIT
from tests.support.daemonworld import NO_WORKERS, ROOT, Daemon, crawl_config, unit_with_stand_in, wait_until

SOURCE = """
[[sources]]
name = "globalwire"
url = "__BASE__/globalwire/rss.xml"
every = "2s"
"""


def dist_info(app: Path, version: str) -> None:
    """What pip writes beside the packages: newswatch-VERSION.dist-info, its METADATA and RECORD."""
    folder = app / f"newswatch-{version}.dist-info"
    folder.mkdir()
    (folder / "METADATA").write_text(f"Metadata-Version: 2.1\nName: newswatch\nVersion: {version}\n", encoding="utf-8")
    (folder / "RECORD").write_text(
        f"crawler/__init__.py,,\nnewswatch-{version}.dist-info/METADATA,,\n", encoding="utf-8"
    )


def installed_copy(tmp_path: Path) -> Path:
    """The crawler and scheduler packages installed where a venv's site-packages would hold them."""
    app = tmp_path / "site-packages"
    for package in ("crawler", "scheduler"):
        shutil.copytree(ROOT / package, app / package, ignore=shutil.ignore_patterns("__pycache__"))
    dist_info(app, "0.1.0")
    return app


def test_a_daemon_whose_newswatch_is_installed_anew_under_it_exits_for_systemd_to_start_the_new_one(
    tmp_path: Path, site: Any, daemons: Callable[..., Daemon]
) -> None:
    app = installed_copy(tmp_path)
    cfg = crawl_config(tmp_path, SOURCE.replace("__BASE__", site.base_url))
    d = daemons(cfg, env={"PYTHONPATH": str(app), **NO_WORKERS})
    d.wait_note("READY=1")
    d.wait_log("crawl globalwire: ok")  # a crawl child, from the installed copy
    store = app / "crawler" / "store.py"
    # an edit of a module alone is no install (a developer's checkout): the daemon goes on polling
    store.write_text(store.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    edited = len(d.log())
    wait_until(lambda: "crawl globalwire: not-modified" in d.log()[edited:] or d.proc.poll() is not None, 60, "a poll")
    assert d.proc.poll() is None, d.log()
    # pip install -U: the new files, the old dist-info removed, the new one written
    store.write_text(store.read_text(encoding="utf-8") + "\n# 0.2.0\n", encoding="utf-8")
    shutil.rmtree(app / "newswatch-0.1.0.dist-info")
    dist_info(app, "0.2.0")
    assert d.proc.wait(60) == UPGRADED_EXIT, d.log()
    log = d.log()
    line = next(line for line in log.splitlines() if "was installed over" in line)
    assert "newswatch 0.2.0 was installed over this daemon's 0.1.0: its crawl processes would run the new code" in line
    assert line.endswith(
        f"exiting with status {UPGRADED_EXIT} so that systemd starts the new version, which upgrades the database "
        "first if it must"
    )
    assert log.count("was installed over") == 1
    after = log[log.index("was installed over") :]
    assert "crawl globalwire: failed" not in log and "crawl globalwire: " not in after
    assert "Traceback" not in log


def test_the_unit_restarts_a_daemon_that_exits_for_a_new_version() -> None:
    unit = (ROOT / "config" / "newswatch.service").read_text().splitlines()
    settings = dict(line.split("=", 1) for line in unit if "=" in line and not line.startswith("#"))
    assert settings["Restart"] == "on-failure"
    assert str(UPGRADED_EXIT) in settings["RestartForceExitStatus"].split()
    assert str(UPGRADED_EXIT) not in settings["RestartPreventExitStatus"].split()


def test_an_upgrade_restart_flushes_the_units_start_counter_and_a_crash_does_not(tmp_path: Path) -> None:
    # each exit 75 counted toward StartLimitBurst=5 (systemd counts every start, automatic or not): a few upgrades
    # within ten minutes left the unit failed, 'start request repeated too quickly', until someone ran reset-failed
    unit = (ROOT / "config" / "newswatch.service").read_text().splitlines()
    posts = [line.split("=", 1)[1] for line in unit if line.startswith("ExecStopPost=")]
    assert len(posts) == 1
    prefix = posts[0][: len(posts[0]) - len(posts[0].lstrip("-+@:!"))]
    assert set(prefix) == {"-", "+"}  # the service manager's user (only it may), its own failure ignored
    calls = tmp_path / "calls"
    systemctl = tmp_path / "systemctl"
    systemctl.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    systemctl.chmod(0o755)
    # systemd's own substitutions on the line: '$$' is a literal '$', %n the unit's name
    line = posts[0][len(prefix) :].replace("$$", "$").replace("%n", "newswatch.service")
    argv = shlex.split(line.replace("/bin/systemctl", str(systemctl)))
    for code, status in (("exited", "75"), ("exited", "1"), ("exited", "0"), ("killed", "TERM"), ("dumped", "ABRT")):
        env = {"PATH": "/usr/bin:/bin", "SERVICE_RESULT": "exit-code", "EXIT_CODE": code, "EXIT_STATUS": status}
        out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30, check=False)
        assert out.returncode == 0, (code, status, out.stderr)
    assert calls.read_text().splitlines() == ["reset-failed newswatch.service"]  # after the upgrade's exit alone
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed")
    copy = unit_with_stand_in("\n".join(unit), tmp_path)
    out = subprocess.run([tool, "verify", str(copy)], check=False, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "newswatch.service" not in out.stderr, out.stderr


# The daemon's prelude: Python finds no installed newswatch (the test's venv has one, editable), as for a checkout
# never installed, run with PYTHONPATH.
NOT_INSTALLED = """
from importlib import metadata
found = metadata.distribution
def distribution(name):
    if name == "newswatch":
        raise metadata.PackageNotFoundError(name)
    return found(name)
metadata.distribution = distribution
"""


def test_a_daemon_run_from_a_checkout_never_installed_sees_its_code_change_as_an_upgrade(
    tmp_path: Path, site: Any, daemons: Callable[..., Daemon]
) -> None:
    # with no dist-info to compare, the daemon looked at nothing: a git pull under it went unseen while each of its
    # crawl children started from the new files (failing on a database upgrade they bring), until a restart by hand
    checkout = tmp_path / "checkout"
    for package in ("crawler", "scheduler"):
        shutil.copytree(ROOT / package, checkout / package, ignore=shutil.ignore_patterns("__pycache__"))
    cfg = crawl_config(tmp_path, SOURCE.replace("__BASE__", site.base_url))
    d = daemons(cfg, env={"PYTHONPATH": str(checkout), **NO_WORKERS}, prelude=NOT_INSTALLED)
    d.wait_note("READY=1")
    d.wait_log("crawl globalwire: ok")
    assert f"newswatch runs from a checkout never installed ({checkout})" in d.log()
    store = checkout / "crawler" / "store.py"
    store.write_text(store.read_text(encoding="utf-8") + "\n# pulled\n", encoding="utf-8")  # git pull
    assert d.proc.wait(60) == UPGRADED_EXIT, d.log()
    log = d.log()
    line = next(line for line in log.splitlines() if "was changed under this daemon" in line)
    assert f"the code of newswatch in the checkout {checkout} was changed under this daemon (crawler/store.py)" in line
    assert f"exiting with status {UPGRADED_EXIT} so that systemd starts the new version" in line
    assert "Traceback" not in log
