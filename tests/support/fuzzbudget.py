"""How many inputs each Hypothesis fuzz target gets: the loaded settings profile decides.

Two profiles, both derandomized (the same inputs on every run) and without an example database:

- ``quick`` (the default run): a fifth of each target's inputs, at least one;
- ``thorough`` (``--hypothesis-profile thorough``, or ``HYPOTHESIS_PROFILE=thorough``): every
  target's full count, the one written beside it in the test.

``NEWSWATCH_FUZZ_SCALE`` multiplies either (``NEWSWATCH_FUZZ_SCALE=10`` runs ten times as many).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

THOROUGH = 100  # the thorough profile's max_examples: a target's full count is used as written
QUICK = 20
PROFILE_ENV = "HYPOTHESIS_PROFILE"

_COMMON = {
    "derandomize": True,
    "database": None,
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}


def register_profiles() -> None:
    """Registers ``quick`` and ``thorough`` and loads ``$HYPOTHESIS_PROFILE`` (``quick`` when unset).

    ``--hypothesis-profile NAME`` on the pytest command line loads its profile after this.
    """
    settings.register_profile("thorough", max_examples=THOROUGH, **_COMMON)
    settings.register_profile("quick", max_examples=QUICK, **_COMMON)
    settings.load_profile(os.environ.get(PROFILE_ENV) or "quick")


def examples(full: int) -> int:
    """A target's number of inputs: ``full`` under the thorough profile, the loaded profile's share otherwise."""
    scale = settings.default.max_examples / THOROUGH * float(os.environ.get("NEWSWATCH_FUZZ_SCALE", "1"))
    return max(1, round(full * scale))
