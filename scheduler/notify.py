"""systemd's sd_notify protocol over $NOTIFY_SOCKET: READY=1, WATCHDOG=1, STATUS=, STOPPING=1,
EXTEND_TIMEOUT_USEC= (a start that takes longer than the unit's TimeoutStartSec=, see sd_notify(3)).

Standard library only: one datagram per message to an AF_UNIX socket, where a leading '@'
names an abstract socket. Without $NOTIFY_SOCKET (not under systemd) every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger("newswatch.notify")


def _address(value: str) -> str | bytes | None:
    if not value:
        return None
    if value.startswith("@"):
        return b"\0" + value[1:].encode()  # abstract namespace
    if value.startswith("/"):
        return value
    return None  # vsock and other transports: not supported, silently off


class Notifier:
    """Sends sd_notify messages; failures are logged once and never raised."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.address = _address(env.get("NOTIFY_SOCKET", ""))
        self._sock: socket.socket | None = None
        self._warned = False
        self._watchdog = _watchdog_seconds(env)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    @property
    def watchdog_interval(self) -> float | None:
        """How often to send WATCHDOG=1 (half of $WATCHDOG_USEC), or None when no watchdog is set."""
        return self._watchdog / 2 if self._watchdog else None

    def send(self, *fields: str) -> bool:
        if self.address is None:
            return False
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                # Never block the scheduler loop on a receiver that is not reading (its queue is small).
                self._sock.setblocking(False)
            self._sock.sendto("\n".join(fields).encode("utf-8"), self.address)
            return True
        except OSError as exc:
            if not self._warned:  # a vanished socket must not flood the log every watchdog tick
                log.warning("cannot notify systemd at %s: %s", os.environ.get("NOTIFY_SOCKET"), exc)
                self._warned = True
            return False

    def ready(self, status: str | None = None) -> bool:
        return self.send("READY=1", *([f"STATUS={_one_line(status)}"] if status else []))

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={_one_line(text)}")

    def extend_start(self, seconds: float, status: str) -> bool:
        """Asks systemd to wait ``seconds`` more for the next message (READY=1 or another of these) before it
        counts the start as timed out, and says why in STATUS=."""
        return self.send(f"EXTEND_TIMEOUT_USEC={int(seconds * 1_000_000)}", f"STATUS={_one_line(status)}")

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def stopping(self, status: str | None = None) -> bool:
        return self.send("STOPPING=1", *([f"STATUS={_one_line(status)}"] if status else []))

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _watchdog_seconds(env: Mapping[str, str]) -> float | None:
    """$WATCHDOG_USEC in seconds when it is meant for this process ($WATCHDOG_PID, if set, is ours)."""
    usec = env.get("WATCHDOG_USEC", "")
    if not usec.isdigit() or int(usec) <= 0:
        return None
    pid = env.get("WATCHDOG_PID", "")
    if pid and (not pid.isdigit() or int(pid) != os.getpid()):
        return None
    return int(usec) / 1_000_000
