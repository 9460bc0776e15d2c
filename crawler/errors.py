"""One exception family; the CLI alone turns these into messages and exit codes."""

from __future__ import annotations

from collections.abc import Iterable


class NewswatchError(Exception):
    """Base of every error newswatch reports to a user. The message says what and how to fix it."""

    exit_code = 1


class UsageError(NewswatchError):
    """The user must fix the command or the config (exit 2)."""

    exit_code = 2


class ConfigError(UsageError):
    """The config is invalid; ``problems`` holds one line per problem, each with its key path."""

    def __init__(self, problems: list[str], path: str | None = None) -> None:
        self.problems = list(problems)
        self.path = path
        where = f"{path}: " if path else ""
        first = self.problems[0] if self.problems else "invalid config"
        more = (
            f" (and {len(self.problems) - 1} more problem(s); run 'newswatch check')" if len(self.problems) > 1 else ""
        )
        super().__init__(f"{where}{first}{more}")


class QuerySyntaxError(UsageError):
    """A topic or search query could not be parsed; ``position`` is a 0-based character offset."""

    def __init__(self, message: str, query: str, position: int) -> None:
        self.message = message
        self.query = query
        self.position = position
        if "\n" not in query and len(query) <= 120:
            super().__init__(f"{message} at position {position + 1}: {query[:position]}\u2192{query[position:]}")
            return
        # a long query: the line and column, and that line with a caret under the place (an error
        # at the end points just past the last word, not at an empty last line)
        position = min(position, len(query.rstrip()))
        line_no = query.count("\n", 0, position) + 1
        start = query.rfind("\n", 0, position) + 1
        end = query.find("\n", position)
        line = query[start : end if end >= 0 else len(query)]
        col = position - start
        if len(line) > 160:  # a very long line: the 160 characters around the place
            cut = max(0, min(col - 80, len(line) - 160))
            line, col = line[cut : cut + 160], col - cut
        super().__init__(
            f"{message} at line {line_no}, column {col + 1} (position {position + 1}):\n    {line}\n    {' ' * col}^"
        )


class StoreError(NewswatchError):
    """The database could not be opened, migrated or written."""


class FetchError(NewswatchError):
    """A URL could not be fetched or parsed."""


class MailError(NewswatchError):
    """The SMTP server refused or could not be reached."""


def closest(name: str, known: Iterable[str], cutoff: float = 0.6, fold: bool = False) -> str | None:
    """The known name nearest ``name`` (a typo; with ``fold``, another case first), or None when none is near."""
    import difflib

    by_key = {(k.casefold() if fold else k): k for k in known}
    key = name.casefold() if fold else name
    if key in by_key:
        return by_key[key]
    found = difflib.get_close_matches(key, sorted(by_key), n=1, cutoff=cutoff)
    return by_key[found[0]] if found else None


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """'did you mean 'globalwire'? ' when a known name is close to ``name`` (a typo, another case), else ''."""
    near = closest(name, known, cutoff=0.75, fold=True)
    return f"did you mean {near!r}? " if near else ""
