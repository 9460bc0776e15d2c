"""newswatch's crawler: from a URL to a stored, deduplicated, topic-matched article."""

__version__ = "0.1.0"
