"""Imported by the extraction pool's forkserver, when the run's first page needs it: the language model.

Loading it takes ~0.5 s of CPU (and ~70 MB), which each worker would otherwise pay for itself;
loaded once in the forkserver, every worker forked from it shares it (copy-on-write). A run whose
pages declare their language (by their feed or source) does without it.
"""

from crawler.textnorm import load_language_model

load_language_model()
