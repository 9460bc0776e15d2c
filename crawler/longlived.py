"""Keeping what a process built at start-up (compiled topics, models, gazetteers) out of the garbage collector's way.

The compiled default topic is some 70,000 long-lived objects (queries, entity tables, model features).
Python's cyclic garbage collector walked all of them on every full collection, and a 5,000-word
article's token lists on each of the ~7 young collections its matching set off: about a fifth of
matching CPU. ``freeze_long_lived`` moves what is alive once start-up is over into the collector's
permanent generation (never walked again, and in a forkserver never written to, so the workers it
forks keep sharing those pages); while a batch of articles is matched (``matching_batch``; an
extraction worker's whole life) the young generation's threshold is raised, so that an article's
short-lived containers are freed by reference counting before a collection comes to walk them.

Memory stays bounded: it freezes once per process (a forked worker inherits its forkserver's), never
per article or per batch, and a young generation of at most ``YOUNG_THRESHOLD`` containers waits
for its collection, only while articles are matched (a crawl's own fetching keeps Python's default, but while
its extraction thread, without worker processes, matches one).
Frozen objects are still freed by reference counting; only a reference cycle among them outlives
its use. So it is called by processes that end with their batch (an extraction pool's forkserver, a
crawl, the CLI's batch commands), never by one that swaps its config while it runs: the daemon,
which reloads on SIGHUP, matches only a digest's few stories and does not freeze.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crawler.model import Scorer
    from crawler.topics import Query

YOUNG_THRESHOLD = 10_000  # containers allocated (net) before a young collection; Python's default is 700

# Words of each language's country names and S&T terms: matching it builds what a topic builds on its
# first article (the query's word forms, its countries' gazetteers), so that they are frozen too.
WARM_UP_TITLE = "Warm-up"
WARM_UP_TEXT = (
    "Scientists from China and Russia opened a joint laboratory in Moscow. "
    "Учёные России и Китая открыли совместную лабораторию. 中俄科学家在莫斯科开设联合实验室。"
)

_frozen = False


def freeze_long_lived() -> bool:
    """Freezes everything alive now, the first time a process calls it (True then); later calls do nothing.
    Call it once the process's long-lived structures are built."""
    global _frozen
    if _frozen:
        return False
    gc.collect()  # garbage of the start-up is freed, not frozen
    gc.freeze()
    _frozen = True
    return True


def raise_young_threshold() -> tuple[int, int, int]:
    """Raises the young generation's threshold to ``YOUNG_THRESHOLD`` (for good: an extraction worker's);
    returns the thresholds it replaced."""
    before = gc.get_threshold()
    young, middle, old = before
    if young:  # 0: the collector is off, and stays so
        gc.set_threshold(max(young, YOUNG_THRESHOLD), middle, old)
    return before


@contextmanager
def matching_batch() -> Iterator[None]:
    """While a batch of articles is matched: the young generation's threshold raised, then put back."""
    before = raise_young_threshold()
    try:
        yield
    finally:
        gc.set_threshold(*before)


def settle(query: Query, scorer: Scorer | None = None, features: Sequence[Query] = ()) -> bool:
    """Before a batch of articles: matches the built-in text with the batch's compiled query (and a model topic's
    scorer, or the candidate ``features`` a training reads), building what its first article would, then
    ``freeze_long_lived``."""
    if _frozen:
        return False
    from crawler.model import gated_match
    from crawler.topics import prepare

    doc = prepare(WARM_UP_TITLE, WARM_UP_TEXT)
    gated_match(query, scorer, doc, None, encoder=False)  # a sentence encoder is loaded by a story, if one needs it
    for q in features:
        q.hits_prepared(doc)
    return freeze_long_lived()
