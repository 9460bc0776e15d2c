"""What the daemon tests and the soak benchmark share: the daemon's config and a vocabulary for
generated articles."""

from __future__ import annotations

# Words for generated article pages: distinct texts that match no topic by accident.
WORDS = (
    "reactor",
    "satellite",
    "polymer",
    "vaccine",
    "turbine",
    "graphene",
    "laser",
    "bridge",
    "isotope",
    "battery",
    "catalyst",
    "telescope",
    "genome",
    "alloy",
    "pipeline",
    "semiconductor",
    "glacier",
    "enzyme",
    "robot",
    "drone",
    "quantum",
    "fusion",
    "lithium",
    "hydrogen",
    "railway",
    "port",
    "harbour",
    "grid",
    "solar",
    "wind",
    "nuclear",
    "academy",
    "university",
    "institute",
    "laboratory",
    "engineers",
    "students",
    "training",
    "programme",
    "agreement",
    "memorandum",
    "contract",
    "supply",
    "tender",
    "factory",
    "plant",
    "research",
    "development",
    "investment",
    "export",
    "import",
    "market",
    "price",
    "output",
    "capacity",
    "network",
    "data",
    "cloud",
    "software",
)


def daemon_config(
    *,
    sources: str,
    topics: str,
    smtp_port: int,
    schedule: str,
    database: str = "nw.db",
    user_agent: str = "newswatch-test/1.0 (+mailto:ops@example.org)",
    send_empty: bool = False,
    timeout: str = "10s",
) -> str:
    """A config for `newswatch run` against local servers: private addresses allowed, one recipient.

    ``timeout`` is [crawl] timeout, each request's limit (a stalled request holds its crawl child that long).
    """
    return f"""
[storage]
database = "{database}"

[crawl]
user_agent = "{user_agent}"
timeout = "{timeout}"
allow_private = true

{sources}
{topics}
[digest]
schedule = "{schedule}"
timezone = "UTC"
{"send_empty = true" if send_empty else ""}
max_age = "3650d"

[[digest.recipients]]
email = "analyst@example.org"

[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
sender = "newswatch <alerts@example.org>"
"""
