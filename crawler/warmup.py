"""Imported by the extraction pool's forkserver before it forks workers: one warm-up extraction.

The language detector's model takes half a second of CPU to load, which each worker would
otherwise pay for itself; loaded once in the forkserver, every worker forked from it shares it
(copy-on-write).
"""

from crawler.process import warm_up

warm_up()
