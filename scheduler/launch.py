"""The `newswatch` console script's first code: SIGHUP and SIGTERM are held until the command can take them.

Until `newswatch run` has its handlers, either signal's default action would end the process: a
`systemctl reload` or `kill -HUP` right after start would kill the daemon, a stop would leave its
work folder behind. So both are blocked before anything else loads (a blocked signal waits, it is not
lost); the daemon releases them once its event loop handles them, so an early reload or stop is then
taken, and every other command releases them as soon as it is known, keeping their default actions.
"""

from __future__ import annotations

import signal

HELD = (signal.SIGHUP, signal.SIGTERM)


def hold_signals() -> None:
    """Block SIGHUP and SIGTERM in this thread and the threads and processes it starts from now on."""
    signal.pthread_sigmask(signal.SIG_BLOCK, HELD)


def release_signals(*signals: signal.Signals) -> None:
    """Unblock them (or only ``signals``): one that arrived while they were held is delivered now."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, signals or HELD)


def main() -> None:
    hold_signals()
    from scheduler.cli import main as cli_main

    cli_main()
