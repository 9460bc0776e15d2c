"""The code a daemon test's prelude holds the daemon at, checked before the daemon runs.

A prelude (tests.support.daemonworld.Daemon's ``prelude``) holds the daemon by replacing its functions by name and
reading their arguments and locals by name (a frame's ``f_locals``). Renamed in the code, a hold never comes, and
its test would wait its safety timeout (30 minutes) before failing. A prelude made by ``prelude`` names what it
relies on, as hold points; they are checked first, in the daemon's process, which ends at once with a line naming
what it could not find; the same points are checked in the test process by ``missing``.

A hold point is ``module:qualname``, then optionally the function's first parameters in order, ``(self, store,
event)``, and the names its code must use, `` uses left, utcnow``: a local or argument, or a global, attribute or
function it reads or calls, in it or in a function defined inside it.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator, Sequence
from types import CodeType

_POINT = re.compile(r"(?P<module>[\w.]+):(?P<qualname>[\w.]+)(?:\((?P<params>[\w, ]*)\))?(?: uses (?P<uses>[\w, ]+))?")


class Prelude(str):
    """A prelude's code, with the hold points it checks before anything else (``points``)."""

    points: tuple[str, ...]


def prelude(points: Sequence[str], code: str) -> Prelude:
    """``code``, run once every one of ``points`` is found in the code; else the daemon ends at once, naming it."""
    made = Prelude(f"from tests.support.holds import require\nrequire({tuple(points)!r})\n{code}")
    made.points = tuple(points)
    return made


def require(points: Sequence[str]) -> None:
    """Ends this process with a line naming each hold point not found (SystemExit: exit status 1)."""
    gone = missing(points)
    if gone:
        raise SystemExit(
            "the test's prelude cannot hold the daemon, its hold would never come: "
            + "; ".join(gone)
            + " (renamed in the code? name the new one in the prelude)"
        )


def missing(points: Sequence[str]) -> list[str]:
    """What of ``points`` the code does not have, one line each."""
    return [problem for point in points for problem in _check(point)]


def _check(point: str) -> Iterator[str]:
    found = _POINT.fullmatch(point)
    if found is None:
        yield f"{point!r} is not a hold point (module:qualname(params) uses names)"
        return
    where = f"{found['module']}:{found['qualname']}"
    try:
        target: object = importlib.import_module(found["module"])
    except ImportError:
        yield f"no module {found['module']}"
        return
    for part in found["qualname"].split("."):
        if not hasattr(target, part):
            yield f"no {where}"
            return
        target = getattr(target, part)
    if not callable(target):
        yield f"{where} is not a function"
        return
    params = [p.strip() for p in (found["params"] or "").split(",") if p.strip()]
    uses = [u.strip() for u in (found["uses"] or "").split(",") if u.strip()]
    code = getattr(target, "__code__", None)
    if code is None:
        if params or uses:
            yield f"{where} is not a function whose code can be read"
        return
    first = list(code.co_varnames[: code.co_argcount + code.co_kwonlyargcount][: len(params)])
    if params and first != params:
        yield f"{where}'s first parameters are ({', '.join(first)}), not ({', '.join(params)})"
    named = set(_names(code))
    for name in uses:
        if name not in named:
            yield f"{where} does not use {name!r}"


def _names(code: CodeType) -> Iterator[str]:
    """Every name ``code`` uses (locals, arguments, globals, attributes), with the functions defined inside it."""
    yield from code.co_varnames
    yield from code.co_cellvars
    yield from code.co_freevars
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield from _names(const)
