"""newswatch's scheduler: when things run and what leaves the machine (daemon, digests, mail, CLI)."""
