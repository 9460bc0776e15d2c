"""Imported by the extraction pool's forkserver before it forks workers, last: one warm-up extraction.

What every worker would load on its first page (trafilatura's start-up, the Public Suffix List,
the run's compiled topics) is loaded once in the forkserver, and every worker forked from it
shares it (copy-on-write). The language model is crawler.warmup_langid's, imported before this.
Then all of it is frozen out of the garbage collector's reach (crawler.longlived): the workers
inherit that, so their collections never walk the compiled topics nor write to the shared pages.
"""

from crawler.longlived import freeze_long_lived
from crawler.process import warm_topics, warm_up

warm_up()
warm_topics()
freeze_long_lived()
