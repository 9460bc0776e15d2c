"""`newswatch` run in this process, for tests about a command's output and exit code.

Click's CliRunner calls the same `cli` group the console script calls, with argv, stdin and
environment given, and captures stdout, stderr and the exit code; it saves a Python start-up and
the CLI's imports per command. Tests about the process itself (signals, another user, a closed
pipe or a full disk on the real stdout, the installed script) start a real subprocess instead.
`crawl` still runs its crawl in a child process, as it does for a user.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from scheduler.cli import cli


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
