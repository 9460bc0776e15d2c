"""`python -m crawler.rematch`: the stored topic matches brought up to date in a child process.

The daemon loads no topics, models or sentence encoders (its crawl children do): before a digest whose matches are
not in step with the config it runs under (crawler.topicstate), it runs crawler.matching.sync_topics here, on the
same config snapshot, for the articles that digest may mail (``recent``). Each batch is its own transaction: a
kill at any moment leaves a usable database, and the next run goes on from there. One JSON line on stdout says
what was done (``{"event": "synced", "looked": N}``) or why not (``{"event": "error", "message": ...}``).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections.abc import Sequence

from crawler.config import load_config
from crawler.errors import NewswatchError, StoreError
from crawler.matching import sync_topics
from crawler.procs import exit_with_parent
from crawler.run import open_store
from crawler.store import database_problem


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawler.rematch")
    parser.add_argument("--config", required=True)
    parser.add_argument("--config-checked", default=None)
    args = parser.parse_args(argv)
    exit_with_parent()
    try:
        config = load_config(args.config, checked=args.config_checked)
        database = config.storage.database
        try:
            with open_store(config, "daemon") as store:  # the daemon upgraded it at its start
                looked = sync_topics(config, store, recent=True)
        except sqlite3.Error as exc:
            raise StoreError(database_problem(database, exc)) from None
    except NewswatchError as exc:
        # a database problem is the parent's to handle as its own (a write lock another process holds is waited out)
        said = {"event": "error", "message": str(exc), "database": isinstance(exc, StoreError)}
        print(json.dumps(said, ensure_ascii=False), flush=True)
        return exc.exit_code
    print(json.dumps({"event": "synced", "looked": looked}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
