"""One exception family; the CLI alone turns these into messages and exit codes."""

from __future__ import annotations


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
        self.query = query
        self.position = position
        super().__init__(f"{message} at position {position + 1}: {query[:position]}\u2192{query[position:]}")


class StoreError(NewswatchError):
    """The database could not be opened, migrated or written."""


class FetchError(NewswatchError):
    """A URL could not be fetched or parsed."""


class MailError(NewswatchError):
    """The SMTP server refused or could not be reached."""
