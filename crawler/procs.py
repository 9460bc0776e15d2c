"""Whether a process still runs: for the store (the crawl holding a source's lease, the digest holding a
recipient's) and for the extraction workers (the crawl that owns their pool); and a child that ends with the
process that started it. Apart from both, so that a worker never loads the store and the store none of the
page work."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path


def process_alive(pid: int | None) -> bool:
    """Whether a process with this id runs on this host (one we may not signal counts as running; one
    that has exited but not yet been collected by its parent, a zombie, does not)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return not _exited(pid)


def _exited(pid: int) -> bool:
    """Whether the process has ended and only its entry is left (Linux's /proc; elsewhere: not known, False).

    A crawl killed along with the daemon that started it is collected by init, which may take a while
    (seconds in some containers, never under an init that does not reap): until then its pid still
    answers signals, and its leases must not hold a restarted daemon's polls back.
    """
    try:
        line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = line[line.rfind(")") + 2 :].split()
    return bool(fields) and fields[0] in ("Z", "X")


def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True).prctl  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


def die_with_parent(sig: int = signal.SIGKILL) -> bool:
    """Asks the kernel to send ``sig`` to this process when its parent dies (Linux's prctl PR_SET_PDEATHSIG);
    False where it cannot."""
    prctl = _prctl()
    return prctl is not None and prctl(1, sig, 0, 0, 0) == 0  # 1: PR_SET_PDEATHSIG


class NotMainThread(RuntimeError):
    """ends_with_this_process used off the main thread, where it would end the child with that thread."""


OFF_MAIN_THREAD = (
    "ends_with_this_process() ties a child to the thread that starts it (Linux sends PR_SET_PDEATHSIG's signal when "
    "that thread ends, not the process), so it starts children from the main thread only, which ends with the "
    "process; start this one from the main thread"
)


def ends_with_this_process(sig: int = signal.SIGKILL) -> Callable[[], None]:
    """A ``preexec_fn`` for subprocess.Popen on the main thread: the child gets ``sig`` when this process ends,
    however it ends (a SIGKILL included), so that it never stays behind with init as its parent. Linux only;
    elsewhere a no-op.

    The kernel sends the signal when the *thread* that forked the child ends: a child started from another thread
    would be killed as soon as that thread finished, the process still running. So it is made and used on the main
    thread (which ends with the process) only: NotMainThread otherwise (from Popen: a SubprocessError, no child).
    """
    if threading.current_thread() is not threading.main_thread():
        raise NotMainThread(OFF_MAIN_THREAD)
    parent, main = os.getpid(), threading.main_thread().ident
    prctl = _prctl()  # looked up before the fork: the child between fork and exec only calls it

    def preexec() -> None:
        if threading.get_ident() != main:  # forked by another thread than the one that made it
            raise NotMainThread(OFF_MAIN_THREAD)
        if prctl is not None:
            prctl(1, sig, 0, 0, 0)
            if os.getppid() != parent:  # the parent died before the kernel was asked
                os.kill(os.getpid(), sig)

    return preexec


def exit_with_parent() -> None:
    """A child (a crawl's, a match's) whose parent died (a SIGKILLed daemon or CLI) stops at once; SQLite rolls back
    its write."""
    parent = os.getppid()
    die_with_parent()
    if os.getppid() != parent or parent == 1:  # the parent died before the kernel was asked
        os._exit(3)

    def watch() -> None:  # where prctl is missing
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
