"""Tasks that the extraction-pool tests hand to real workers (importable by a forked worker)."""

from __future__ import annotations

import os
import signal
import time


def ignore_sigterm(hold: float) -> int:
    """Makes this worker deaf to SIGTERM, holds it busy for `hold` seconds, and says which worker it was."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(hold)
    return os.getpid()
