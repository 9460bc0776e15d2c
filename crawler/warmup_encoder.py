"""Imported by the extraction pool's forkserver of a run that will score gated stories (``newswatch demo``): the
sentence encoder of a topic's model, loaded once (from its copy in the cache folder, made now when there is none)
for every worker forked from it, which shares it (copy-on-write), where each worker that scores a gated story would
load it itself (~0.25 s of CPU and ~45 MB each from the copy; the first to need it making the copy while the others
wait on its lock). Other crawls do without: most polls bring no story that passes a gate.
"""

import contextlib

from crawler.encoder import load

# a forkserver whose preload raised would break the pool: a worker that needs the encoder loads it (or says why)
with contextlib.suppress(Exception):
    load()
