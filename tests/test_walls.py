"""What a crawl keeps of a source's stored pages to tell a wall that shows each story's headline (crawler.walls), with a
real SQLite file: their lines' hashes and lengths, not their text."""

from __future__ import annotations

import random
import tracemalloc
from pathlib import Path

from crawler.config import load_config
from crawler.process import FeedInfo
from crawler.run import REPEATED_READ, CrawlContext
from crawler.store import Store
from crawler.walls import Said, Sayings, said
from tests.support.articles import article_record
from tests.test_faults import feed_source, write_config

WORDS = (
    "China Russia reactor joint laboratory energy minister talks signed research pipeline Arctic port grain "
    "university academy satellite railway bridge fuel nuclear vaccine institute delegation agreement"
).split()
WALL = (
    "Subscribe to read the whole story and every other story of the Daily Planet.",
    "Already a subscriber? Log in to your account to go on reading.",
    "Our cookie settings and privacy choices are explained in the notice below.",
)


def story(rng: random.Random, n: int, chars: int) -> str:
    """Paragraphs of 200-400 characters of words in random order, none another story's."""
    paragraphs, total = [], 0
    while total < chars:
        words = [rng.choice(WORDS) for _ in range(rng.randint(25, 50))]
        paragraphs.append(f"{' '.join(words)} ({n}.{len(paragraphs)}).")
        total += len(paragraphs[-1]) + 1
    return "\n".join(paragraphs)


def test_the_pages_a_wall_is_told_by_are_kept_as_their_lines_hashes_not_their_text(tmp_path: Path) -> None:
    # A crawl held every line of a source's last 100 stored pages (up to 100,000 characters each) as text, with a
    # set of pages a line (some 350 bytes besides its text), for as long as the crawl ran, in each of its sources
    cfg = load_config(write_config(tmp_path, feed_source("s", "https://example.org/feed.xml")))
    rng = random.Random(5)
    texts = 0
    with Store(tmp_path / "nw.db") as store:
        for n in range(2):  # two pages of a wall that shows each story's headline, stored as stories
            store.add_article(article_record(n, f"Kazan reactor opened, part {n}", "\n".join(WALL)))
        for n in range(2, REPEATED_READ):
            text = story(rng, n, 20_000)
            texts += len(text)
            store.add_article(article_record(n, f"Kazan reactor opened, part {n}", text))
        ctx = CrawlContext(cfg, store, cfg.sources, [], emit=lambda event: None)
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            sayings = ctx._said_by("s")
            held = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        # before bc4c044: 4.3 MB for 1.98 million characters; then 0.22 MB (34 bytes a line); now 0.105 MB
        assert held < texts / 16, (held, texts)
        assert len(sayings.pages) == REPEATED_READ
        # the verdicts are those of the pages' text: a third page of the wall is told by the two stored
        wall = "Arctic port opens to grain ships"
        rec = article_record(200, wall, "\n".join((wall, *WALL)))
        listed = "https://example.org/200"
        other, victims = ctx.repeated_text(rec, listed, FeedInfo(title=wall, summary="Grain ships in the Arctic."))
        assert other == article_record(0, "", "").url
        assert sorted(v.url for v in victims) == [article_record(n, "", "").url for n in range(2)]
        # a story of its own is not: its lines are no other page's
        own = story(rng, 201, 3_000)
        rec = article_record(201, "Reactor talks signed", f"Reactor talks signed\n{own}")
        assert ctx.repeated_text(rec, rec.url, FeedInfo(title="Reactor talks signed")) == (None, [])


def test_a_stored_pages_lines_held_by_the_sayings_give_the_verdicts_of_its_own() -> None:
    # The pages read from the store keep no lines of their own: their Sayings holds each line once a page, with the
    # characters of its lines of that hash. Which other pages make four fifths of what a page says is the same as from
    # the page's own lines (a page of this run's), lines said twice in one page and shared by several pages alike
    rng = random.Random(7)
    pool = [f"{' '.join(rng.choice(WORDS) for _ in range(rng.randint(4, 12)))} ({k})." for k in range(40)]
    pages = []
    for n in range(60):
        lines = [rng.choice(pool[: 8 + n % 30]) for _ in range(rng.randint(1, 12))] + ["Short line."]
        lines += [f"A line of page {n} alone, {k}." for k in range(n % 3 * 4)]  # a third say most on their own
        pages.append((f"https://example.org/{n}", lines))

    def made(url: str, lines: list[str]) -> Said:
        return said(url, None, "Tundra festival opens", lines, None)  # no line names it

    stored = Sayings(made(url, lines) for url, lines in pages)
    own = Sayings()
    for url, lines in pages:
        own.add(url, made(url, lines))
    assert all(stored.pages[url].row >= 0 and not stored.pages[url].hashes for url, _ in pages)
    verdicts = [stored.sharing(url, stored.pages[url]) for url, _ in pages]
    assert verdicts == [own.sharing(url, own.pages[url]) for url, _ in pages]
    assert 20 < sum(map(bool, verdicts)) < len(pages) - 10  # walls and stories both
