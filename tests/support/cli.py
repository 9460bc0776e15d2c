"""`newswatch` run in this process, for tests about a command's output and exit code.

Click's CliRunner calls the same `cli` group the console script calls, with argv, stdin and
environment given, and captures stdout, stderr and the exit code; it saves a Python start-up and
the CLI's imports per command. Tests about the process itself (signals, another user, a closed
pipe or a full disk on the real stdout, the installed script) start a real subprocess instead.
`crawl` still runs its crawl in a child process, as it does for a user.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from scheduler.cli import cli

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Outcome:
    """What a subprocess.run(..., capture_output=True, text=True) would hold."""

    returncode: int
    stdout: str
    stderr: str


def newswatch(*args: str | Path, stdin: str | None = None, env: dict[str, str] | None = None) -> Outcome:
    """`newswatch ARGS...` in this process; ``env`` is added to the environment for the command."""
    result = CliRunner().invoke(
        cli, [str(a) for a in args], input=stdin, env=env, catch_exceptions=False, prog_name="newswatch"
    )
    return Outcome(result.exit_code, result.stdout, result.stderr)


# Runs in the fresh interpreter: each command (argv as a JSON list) as `newswatch()` below runs it here.
_BATCH = """
import json, sys
from dataclasses import asdict
from tests.support.cli import newswatch
print(json.dumps([asdict(newswatch(*argv)) for argv in json.loads(sys.argv[1])]))
"""


def in_one_process(
    *commands: Sequence[str | Path],
    prefix: Sequence[str] = (),
    env: dict[str, str] | None = None,
    python: str | Path = sys.executable,
) -> list[Outcome]:
    """Several `newswatch` commands in one fresh interpreter, each run there in-process as `newswatch()` runs it.

    For tests about who runs the commands (another user, via a ``prefix`` such as setpriv) rather than about
    each command's own process: one Python start-up for all of them. ``env`` is added to the environment.
    """
    argv = json.dumps([[str(a) for a in command] for command in commands])
    done = subprocess.run(
        [*prefix, str(python), "-c", _BATCH, argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [Outcome(**outcome) for outcome in json.loads(done.stdout.splitlines()[-1])]


def on_a_terminal(args: Sequence[str | Path], columns: int, env: dict[str, str] | None = None) -> str:
    """`newswatch ARGS...` in a subprocess whose stdout is a real pseudo-terminal ``columns`` wide: what it showed,
    its styles (bold, underline) taken out and its line ends as "\n". The command must exit 0."""
    import pty
    import re

    main, tty = pty.openpty()
    command = [sys.executable, "-c", "from scheduler.launch import main; main()", *map(str, args)]
    proc = subprocess.Popen(
        command, stdout=tty, stderr=subprocess.PIPE, env={**os.environ, **(env or {}), "COLUMNS": str(columns)}
    )
    os.close(tty)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    assert proc.wait(timeout=120) == 0, proc.stderr.read() if proc.stderr else ""
    return re.sub(r"\x1b\[[0-9;]*m", "", b"".join(chunks).decode("utf-8")).replace("\r\n", "\n")
