"""Articles and feeds the tests make up: a stored article's record, an RSS channel, an RSS feed of dated entries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from crawler import textnorm
from crawler.store import ArticleRecord, utcnow

# A page of the sample site (fixtures/site) every made-up entry links to, told apart by a query string.
GW_PAGE = "/globalwire/2026/11/20/gazprom-cnpc-raise-power-of-siberia-volumes.html"


def article_record(
    n: int, title: str, text: str, *, age: timedelta = timedelta(0), indexed: bool = False
) -> ArticleRecord:
    """Article `n` of source "s" in English, fetched `age` ago; ``indexed``: with its full-text index tokens."""
    return ArticleRecord(
        url=f"https://example.org/{n}",
        canonical_url=f"https://example.org/{n}",
        source="s",
        title=title,
        text=text,
        text_from="page",
        published=None,
        language="en",
        fetched=utcnow() - age,
        index_title=textnorm.index_tokens(title) if indexed else "",
        index_text=textnorm.index_tokens(text) if indexed else "",
    )


RSS = {"Content-Type": "application/rss+xml"}  # the header a made-up feed is served with


def rss_channel(link: str, items: str, description: str = "d") -> bytes:
    """An RSS 2.0 feed titled "T" whose channel links to ``link``, holding the ``<item>`` elements ``items``."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>T</title>'
        f"<link>{link}</link><description>{description}</description>{items}</channel></rss>"
    ).encode()


def dated_rss(ages: list[timedelta]) -> bytes:
    """An RSS feed with one entry per age, published that long ago, each linking to `GW_PAGE` on ``__BASE__``."""
    now = datetime.now(UTC)
    items = "".join(
        f"<item><title>Story {i}</title><link>__BASE__{GW_PAGE}?n={i}</link>"
        f"<guid>s{i}</guid><pubDate>{format_datetime(now - age)}</pubDate></item>"
        for i, age in enumerate(ages)
    )
    return f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Fresh</title>{items}</channel></rss>'.encode()
