"""A child that ends with the process that started it (crawler.procs.ends_with_this_process)."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from crawler.procs import NotMainThread, ends_with_this_process

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_child_is_tied_to_this_process_from_the_main_thread_only() -> None:
    # the kernel sends PR_SET_PDEATHSIG's signal when the thread that forked the child ends, not the process: a child
    # started from another thread was killed as soon as that thread finished, the process still running
    made_on_main = ends_with_this_process()
    started: list[subprocess.Popen[bytes]] = []
    refused: list[BaseException] = []

    def start(preexec_made_here: bool) -> None:
        try:
            preexec = ends_with_this_process() if preexec_made_here else made_on_main
            started.append(subprocess.Popen(SLEEPER, preexec_fn=preexec))
        except (NotMainThread, subprocess.SubprocessError) as exc:
            refused.append(exc)

    for made_here in (True, False):
        thread = threading.Thread(target=start, args=(made_here,))
        thread.start()
        thread.join()
    try:
        assert started == [], "a child tied to a thread that has ended"  # before: both started, then SIGKILLed
        assert type(refused[0]) is NotMainThread and "start this one from the main thread" in str(refused[0])
        assert type(refused[1]) is subprocess.SubprocessError  # made on the main thread, forked by another
    finally:
        for child in started:
            child.kill()
            child.wait()
    child = subprocess.Popen(SLEEPER, preexec_fn=made_on_main)  # the main thread's child runs
    try:
        assert child.poll() is None
    finally:
        child.kill()
        child.wait()
