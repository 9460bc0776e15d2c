"""Shared pytest fixtures: the sample site over real HTTP and a real SMTP server, both on 127.0.0.1."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"

# The suite starts ~150 crawl, probe and daemon processes and 4 xdist workers from this checkout. With
# bytecode caching off in the caller's environment (PYTHONDONTWRITEBYTECODE), each would compile the
# project's modules and the tests again: ~15 s of CPU in a run. Caching bytecode is Python's default;
# the tests turn it back on for themselves and the processes they start.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False

# A shell's background job (`... &`, nohup) starts with SIGINT ignored, and every process it starts
# inherits that: a Python started so never turns Ctrl-C into KeyboardInterrupt, and the tests that stop
# `demo --serve` with Ctrl-C would wait for it in vain. The tests take Python's usual SIGINT handling
# back for themselves and the processes they start.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN and threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGINT, signal.default_int_handler)

try:
    import scheduler  # noqa: F401 - installed, or run as "python -m pytest" from the root
except ImportError:  # plain "pytest" from a checkout without an install
    sys.path.insert(0, str(ROOT))

from tests.support.daemonworld import Daemon  # noqa: E402
from tests.support.fuzzbudget import register_profiles  # noqa: E402
from tests.support.sitesrv import SiteServer  # noqa: E402

register_profiles()  # Hypothesis: "quick" unless --hypothesis-profile or $HYPOTHESIS_PROFILE says "thorough"


def _load_smtpd():  # type: ignore[no-untyped-def]
    # Loaded by path: "smtpd" is also a (deprecated) stdlib module name in Python 3.11.
    name = "newswatch_tests_smtpd"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("smtpd.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


smtpd = _load_smtpd()
SMTPTestServer = smtpd.SMTPTestServer


@pytest.fixture
def fixtures_dir() -> Path:
    """The repository's fixtures/ directory."""
    return FIXTURES


@pytest.fixture
def site() -> Iterator[SiteServer]:
    """The sample news site (fixtures/site) served on 127.0.0.1 at a free port."""
    server = SiteServer(FIXTURES / "site").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp() -> Iterator[smtpd.SMTPTestServer]:
    """A plain SMTP server on 127.0.0.1 (no TLS, no AUTH) collecting messages in ``.messages``."""
    server = SMTPTestServer().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def smtp_factory(tmp_path: Path) -> Iterator[Callable[..., smtpd.SMTPTestServer]]:
    """Make SMTP servers with options (``auth=(user, pw)``, ``tls="starttls"|"implicit"``); all closed after."""
    made: list[smtpd.SMTPTestServer] = []

    def make(**options: object) -> smtpd.SMTPTestServer:
        options.setdefault("cert_dir", tmp_path / f"smtp-tls-{len(made)}")
        server = SMTPTestServer(**options).start()
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    """Start `newswatch run` daemons (``daemons(config, env=..., watchdog_usec=...)``); each is stopped after."""
    made: list[Daemon] = []

    def start(config: Path, **kw: Any) -> Daemon:
        d = Daemon(tmp_path, config, name=f"daemon{len(made)}", **kw)
        made.append(d)
        return d

    yield start
    for d in made:
        d.close()


def _run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This test run's folder, shared by its xdist workers (each has its own folder below it)."""
    shared = tmp_path_factory.getbasetemp()
    return shared.parent if os.environ.get("PYTEST_XDIST_WORKER") else shared


@pytest.fixture(scope="session", autouse=True)
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """newswatch's cache folder for the whole run ($XDG_CACHE_HOME, which every process a test starts inherits):
    the sentence encoder's copy and the language model's are made there once per run, by the first process that
    needs one (their own locks let the others wait), and the user's own ~/.cache/newswatch is never read or
    written. A test that needs an empty cache folder sets its own."""
    folder = _run_folder(tmp_path_factory) / "xdg-cache"
    folder.mkdir(exist_ok=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(folder))
        yield folder


@pytest.fixture(scope="session")
def demo_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real `newswatch demo -q` run (the sample site crawled, the digest written) for the whole test run.

    Its folder holds ``newswatch-demo.toml``, ``newswatch-demo.db``, the digest files and ``demo-stdout.txt``
    (what the command printed). The first xdist worker that needs it makes it; the others wait for it and
    reuse it. Tests only read it; a test that writes (or serves it) works on a copy of the two files.
    """
    import fcntl

    from tests.support.cli import newswatch

    shared = _run_folder(tmp_path_factory)
    out = shared / "demo-world"
    printed = out / "demo-stdout.txt"
    with open(shared / "demo-world.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not printed.exists():
            shutil.rmtree(out, ignore_errors=True)  # what a worker that failed midway left
            result = newswatch("demo", "-q", "--output-dir", out, env={"NEWSWATCH_WORKERS": "0"})  # no worker pool
            assert result.returncode == 0, result.stderr
            printed.write_text(result.stdout, encoding="utf-8")
    return out


# Test files that start many real processes (daemons, crawl children, probes) or wait on them, longest
# first, as measured file by file (each alone). They are handed to the xdist workers before everything
# else (`--no-loadscope-reorder` in pyproject.toml keeps this order), so no long file starts last and ends
# the run alone; the many short files then fill the gaps. Only the order changes, never what runs.
LONG_FIRST = (
    "test_sources.py",
    "test_faults.py",
    "test_sourcelist.py",
    "test_probe.py",
    "test_cli_usage.py",
    "test_batches.py",
    "test_demo_playground.py",
    "test_daemon.py",
    "test_recrawl.py",
    "test_operators.py",
    "test_internal_tables.py",
    "test_workers.py",
    "test_fuzz.py",
    "test_daemon_restart.py",
    "test_datasette.py",
    "test_staleness.py",
    "test_fuzz_fetch.py",
    "test_crawl.py",
    "test_every_reload.py",
    "test_deadline_cancel.py",
    "test_daemon_health.py",
    "test_startup.py",
    "test_cli_flow.py",
    "test_daemon_archive.py",
    "test_topics.py",
    "test_digest.py",
    "test_terminal_output.py",
    "test_sitesrv.py",
)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`--numprocesses=auto`: two workers per core (pyproject.toml caps them at four).

    Most of a process-level test is spent waiting on its daemon, crawl children and servers, not
    computing; a second worker per core runs while the first waits.
    """
    return 2 * len(os.sched_getaffinity(0))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--cpu-report",
        metavar="PATH",
        default=None,
        help="write each test's CPU seconds (its own, and of the processes it started and waited for) and wall "
        "seconds to PATH as JSON, most CPU first; each xdist worker writes PATH.gwN",
    )


_cpu_rows: list[dict[str, Any]] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    """With --cpu-report: what each test costs, set-up and tear-down included (a module fixture's crawl counts
    for the first test that uses it). A process still running or killed and never waited for counts nowhere."""
    if not item.config.getoption("cpu_report"):
        yield
        return
    import resource
    import time

    def cpu() -> tuple[float, float]:
        own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime

    (own0, kids0), wall0 = cpu(), time.monotonic()
    yield
    (own1, kids1), wall1 = cpu(), time.monotonic()
    row = {"test": item.nodeid, "cpu": own1 - own0 + kids1 - kids0, "children": kids1 - kids0, "wall": wall1 - wall0}
    _cpu_rows.append({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()})


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = session.config.getoption("cpu_report")
    if path and _cpu_rows:
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        target = Path(f"{path}.{worker}" if worker else path)
        target.write_text(json.dumps(sorted(_cpu_rows, key=lambda r: -r["cpu"]), indent=1) + "\n", encoding="utf-8")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return LONG_FIRST.index(name) if name in LONG_FIRST else len(LONG_FIRST)

    items.sort(key=rank)  # stable: the order within a file, and among the other files, stays
