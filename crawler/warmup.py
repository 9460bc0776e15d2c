"""Imported by the extraction pool's forkserver before it forks workers: one warm-up extraction.

What every worker would load on its first page (trafilatura's start-up, the Public Suffix List,
the run's compiled topics) is loaded once in the forkserver, and every worker forked from it
shares it (copy-on-write). The language model is crawler.warmup_langid's.
"""

from crawler.process import warm_topics, warm_up

warm_up()
warm_topics()
