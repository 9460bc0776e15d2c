"""A huge feed's parse: crawler.feeds.parse_feed as the crawl runs it, against the parse before it was bounded, in one run.

    python bench/feed_bench.py                    # 5.6 MB, 30,000 entries, 3 runs of each, best
    python bench/feed_bench.py --entries 100000 --runs 1

The feed is RSS 2.0 whose entries each have their own title, link, guid, date and HTML summary (~190 bytes an
entry). Each row is parsed --runs times; its CPU time is the best run's, of which the time inside feedparser.parse
(the rest is ours: decoding, the entry's fields, plain text, keys); its peak is the Python heap's (tracemalloc, in
a run of its own). The baseline is the parse as it was before this bench: every entry, with feedparser's two HTML
passes over each summary (resolve_relative_uris, sanitize_html) on; the ratio is each row's time over it. The last
two rows read the feed again as the crawl's next poll does, given the items its first parse read (``known``, as the
store keeps them): unchanged, and with one new entry on top.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import feedparser  # noqa: E402

from crawler import feeds  # noqa: E402

URL = "https://news.example.org/rss.xml"
WORDS = "China Russia joint laboratory reactor satellite energy gas pipeline academy university research".split()


def item(i: int) -> str:
    """Entry ``i`` of the feed (a negative one is newer than the feed built)."""
    a, b = WORDS[i % len(WORDS)], WORDS[(i * 7) % len(WORDS)]
    return (
        f"<item><title>{a} {b} {i}</title><link>/n/{i}</link><guid>n{i}</guid>"
        f"<pubDate>01 Dec 2025 {i % 24:02d}:{i % 60:02d} GMT</pubDate>"
        f"<description>&lt;b&gt;{b}&lt;/b&gt; {i}</description>"
        "</item>"
    )


def build(entries: int, newer: int = 0) -> bytes:
    """The feed of ``entries`` entries, ``newer`` new ones on top."""
    items = "".join(item(i) for i in range(-newer, entries))
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>News</title>'
        f"<link>https://news.example.org/</link><description>d</description>{items}</channel></rss>"
    ).encode()


class Timed:
    """feedparser.parse, timed, its HTML passes on or off as the row asks."""

    def __init__(self, html_passes: bool | None) -> None:
        self.html_passes = html_passes
        self.seconds = 0.0
        self.real = feedparser.parse

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.html_passes is not None:
            kwargs.update(resolve_relative_uris=self.html_passes, sanitize_html=self.html_passes)
        began = time.process_time()
        try:
            return self.real(*args, **kwargs)
        finally:
            self.seconds += time.process_time() - began


def measure(
    body: bytes, html_passes: bool | None, limit: int | None, runs: int, known: dict[str, str] | None = None
) -> dict[str, float]:
    timed = Timed(html_passes)
    feedparser.parse = timed
    try:

        def once() -> feeds.ParsedFeed:
            return feeds.parse_feed(body, URL, "application/rss+xml", max_entries=limit, known=known)

        best, inside, entries = float("inf"), 0.0, 0
        for _ in range(runs):
            timed.seconds = 0.0
            began = time.process_time()
            entries = len(once().entries)
            took = time.process_time() - began
            if took < best:
                best, inside = took, timed.seconds
        tracemalloc.start()
        once()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    finally:
        feedparser.parse = timed.real
    return {"seconds": best, "feedparser": inside, "peak_mb": peak / 1e6, "entries": entries}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=30_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    body = build(args.entries)
    everything = args.entries + 1
    # the items a crawl keeps for the next parse of the feed (as JSON, as the store keeps them), and the feed at
    # that next poll: one new entry on top, the rest as they were
    known = {h: r.to_json() for h, r in feeds.parse_feed(body, URL, "application/rss+xml", known={}).read.items()}
    newer = build(args.entries, newer=1)
    first = feeds.MAX_FEED_ENTRIES
    rows: list[tuple[str, Callable[[], dict[str, float]]]] = [
        ("before: every entry, HTML passes on", lambda: measure(body, True, everything, args.runs)),
        ("every entry, HTML passes off", lambda: measure(body, None, everything, args.runs)),
        (f"newswatch: first {first:,} entries", lambda: measure(body, None, None, args.runs)),
        ("  the same, read again, unchanged", lambda: measure(body, None, None, args.runs, known)),
        ("  the same, read again, 1 new entry", lambda: measure(newer, None, None, args.runs, known)),
    ]
    print(f"a feed of {args.entries:,} entries, {len(body) / 1e6:.1f} MB; best of {args.runs}")
    print(f"{'parse':40} {'entries':>8} {'CPU s':>7} {'feedparser':>10} {'ours':>6} {'peak MB':>8} {'ratio':>6}")
    baseline = None
    for name, run in rows:
        got = run()
        baseline = baseline or got["seconds"]
        print(
            f"{name:40} {got['entries']:>8,} {got['seconds']:>7.2f} {got['feedparser']:>10.2f} "
            f"{got['seconds'] - got['feedparser']:>6.2f} {got['peak_mb']:>8.0f} {got['seconds'] / baseline:>5.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
