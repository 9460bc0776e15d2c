"""What newswatch says counts in words that agree with the number: 'imported 1 feed', 'tried 1 time', not '1 feeds'."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.staleness import describe_age
from crawler.wording import count, noun
from scheduler.cli import cli

ROOT = Path(__file__).resolve().parents[1]
# the nouns that messages count
COUNTED = (
    "articles candidates entries errors feeds files jobs labels links months numbers pages problems recipients "
    "sitemaps sources stories times topics warnings years"
).split()
_FOLLOWED = re.compile(rf"^ (?:more |new )?({'|'.join(COUNTED)})\b")
_PERCENT = re.compile(rf"%,?d (?:more |new )?({'|'.join(COUNTED)})\b")
# counts that are never one where they are said (file: the message's words)
NEVER_ONE = {
    "crawler/feeds.py": ["entries ("],  # a feed of more entries than it reads (5,000)
    "crawler/model.py": ["numbers (one per dimension"],  # the encoder's dimensions
    "crawler/spiders.py": ["entries: the"],  # more new entries than a poll takes, so two or more
    "scheduler/cli.py": ["problems in the config"],  # said only for two or more
    "scheduler/cmd_label.py": ["stories for topic"],  # said from 200 stories
    "scheduler/cmd_topics.py": ["folds", "labels its stories"],  # two or more; 'labels' is the verb
    "scheduler/compose.py": ["stories ("],  # an alert of one story is titled by its headline
    "scheduler/daemon.py": ["times, given up"],  # DIGEST_RETRIES + 1
}


def _constant(expr: ast.expr) -> bool:
    """A number the code fixes (MAX_TERMS, DIGEST_RETRIES + 1, limit:,), not one counted at run time."""
    names = [n.id for n in ast.walk(expr) if isinstance(n, ast.Name)]
    return bool(names) and all(n.isupper() or n == "limit" for n in names)


def counted_plurals(path: Path, source: str | None = None) -> list[str]:
    """The places in ``path`` (or ``source``) where a number counted at run time is followed by a plural noun
    written out."""
    found, source = [], path.read_text(encoding="utf-8") if source is None else source
    allowed = NEVER_ONE.get(f"{path.parent.name}/{path.name}", [])
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.JoinedStr):
            for value, after in zip(node.values, node.values[1:]):
                if not (isinstance(value, ast.FormattedValue) and isinstance(after, ast.Constant)):
                    continue
                m = _FOLLOWED.match(str(after.value))
                if m and not _constant(value.value) and not any(a in str(after.value) for a in allowed):
                    found.append(f"{path.name}:{node.lineno}: {{{ast.unparse(value.value)}}} {m.group(1)}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            for m in _PERCENT.finditer(node.value):
                if not any(a in node.value[m.start() :] for a in allowed):
                    found.append(f"{path.name}:{node.lineno}: {m.group(0)}")
    return found


def test_no_message_puts_a_counted_number_before_a_plural_written_out() -> None:
    # before: 'imported 1 feeds', 'tried 1 times', 'sent 1 stories', '… and 1 more errors', '1 months', ...
    files = sorted((ROOT / "crawler").glob("*.py")) + sorted((ROOT / "scheduler").glob("*.py"))
    assert [place for f in files for place in counted_plurals(f)] == []


def test_the_check_finds_a_plural_after_a_count() -> None:
    sample = ROOT / "crawler" / "wording.py"  # any file of the tree, read as a sample
    assert counted_plurals(sample) == []
    tree = "n = 2\nprint(f'imported {n} feeds', 'tried %d times' % n, f'{MAX_TERMS} terms', f'{n:,} new entries')\n"
    found = counted_plurals(sample, tree)
    assert sorted(p.split(": ", 1)[1] for p in found) == ["%d times", "{n} entries", "{n} feeds"]


def test_counted_words() -> None:
    assert [noun(n, "story", "stories") for n in (0, 1, 2)] == ["stories", "story", "stories"]
    assert (count(1, "feed"), count(1_200, "entry", "entries")) == ("1 feed", "1,200 entries")
    assert (describe_age(61 * 86400), describe_age(730.2 * 86400)) == ("2 months", "1 year")  # before: '1 years'
    assert describe_age(60.5 * 86400) == "1 month"  # before: '1 months'


@pytest.mark.parametrize("feeds", [1, 2])
def test_sources_import_counts_the_feeds_it_imported(tmp_path: Path, feeds: int) -> None:
    cfg = tmp_path / "newswatch.toml"
    cfg.write_text('[storage]\ndatabase = "nw.db"\n', encoding="utf-8")
    outlines = "".join(
        f'<outline type="rss" text="Feed {i}" xmlUrl="https://feeds{i}.example/rss.xml"/>' for i in range(feeds)
    )
    opml = tmp_path / "feeds.opml"
    opml.write_text(f'<opml version="2.0"><body>{outlines}</body></opml>', encoding="utf-8")
    res = CliRunner().invoke(cli, ["-c", str(cfg), "sources", "import", str(opml)])
    assert res.exit_code == 0, res.output
    assert f"imported {feeds} {'feed' if feeds == 1 else 'feeds'} into {cfg}" in res.output  # before: '1 feeds'
