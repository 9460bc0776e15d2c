"""`newswatch sources add/remove/import/export`: the config edited in place, comments kept; OPML in and out."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import listparser
import pytest
from click.testing import CliRunner, Result

from crawler.config import load_config
from scheduler.cli import cli
from tests.support.sitesrv import SiteServer

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "config" / "newswatch.toml"
PLENARY = REPO / "fixtures" / "opml" / "plenary-russia.opml"


def shipped_config(tmp_path: Path) -> Path:
    """The shipped default config, allowed to reach the local test server."""
    path = tmp_path / "newswatch.toml"
    text = SHIPPED.read_text(encoding="utf-8").replace("allow_private = false", "allow_private = true")
    path.write_text(text, encoding="utf-8")
    return path


def small_config(tmp_path: Path, sources: str = "", allow_private: bool = True) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "newswatch.toml"
    path.write_text(
        '# my sources\n[storage]\ndatabase = "nw.db"\n\n[crawl]\nuser_agent = "newswatch-listtest/1.0"\n'
        f'timeout = "3s"\nallow_private = {"true" if allow_private else "false"}\n\n{sources}',
        encoding="utf-8",
    )
    return path


def nw(cfg: Path, *args: str) -> Result:
    res = CliRunner().invoke(cli, ["-c", str(cfg), *args])
    assert "Traceback" not in res.output, res.output
    return res


def test_sources_add_probes_then_appends_keeping_every_comment(site: SiteServer, tmp_path: Path) -> None:
    cfg = shipped_config(tmp_path)
    before = cfg.read_text(encoding="utf-8")
    res = nw(
        cfg,
        "sources",
        "add",
        "sample-listing",
        site.url("/academy/news/index.html"),
        "--follow",
        r"/academy/news/\d{4}/\d{2}/",
    )
    assert res.exit_code == 0, res.output
    after = cfg.read_text(encoding="utf-8")
    old_lines, new_lines = before.splitlines(), after.splitlines()
    # Every old line is still there, in order; the new source sits after the last [[sources]] table.
    it = iter(new_lines)
    assert all(any(line == n for n in it) for line in old_lines), "a line of the old config was lost or moved"
    added = [line[2:] for line in difflib.ndiff(old_lines, new_lines) if line.startswith("+ ") and line[2:].strip()]
    assert added[0] == "[[sources]]" and added[1].startswith('name = "sample-listing" # Новости | Академия (probed ')
    assert "follow = '/academy/news/\\d{4}/\\d{2}/'" in added
    topics_header = next(i for i, line in enumerate(new_lines) if line.startswith("# ---- Topics"))
    assert new_lines.index(added[0]) < topics_header, "the new source goes before the topics section"
    assert sum(1 for line in new_lines if line.startswith("#")) == sum(1 for line in old_lines if line.startswith("#"))
    config = load_config(cfg)
    assert config.source("sample-listing").follow == r"/academy/news/\d{4}/\d{2}/"
    check = nw(cfg, "check")
    assert check.exit_code == 0, check.output


# Each refused `sources add`: its arguments ({site} is the test server), the words of its one error line,
# and whether it is a usage error (exit 2) rather than a failure to reach the site (exit 1).
ADD_FAILURES = [
    (["taken", "{site}/globalwire/rss.xml"], "exists already", True),
    (["again", "https://example.org/rss?utm_source=x"], "is configured already as 'taken', which polls it", True),
    (["robots", "{site}/private/secret.html"], "is refused by", True),
    (["missing", "{site}/no/such/feed.xml"], "HTTP 404", True),
    (["home", "{site}/portal/"], "advertises {site}/globalwire/rss.xml", True),
    (["article", "{site}/frozen/2018/01/05/harbin-joint-laboratory.html"], "is an article page", True),
    (["frozen", "{site}/frozen/rss.xml"], "looks dead: newest entry 2018-01-05", True),
    (["asfeed", "{site}/huaxia/sitemap-news.xml", "--kind", "feed"], "is a sitemap, not a feed", True),
    (["nofollow", "{site}/academy/news/index.html"], "add --follow REGEX", True),
    (["badfollow", "{site}/academy/news/index.html", "--follow", "/activities/"], "takes none of the", True),
    (["bad name!", "{site}/globalwire/rss.xml"], "may hold only letters", True),
    (["slow", "{site}/globalwire/rss.xml", "--every", "often"], "is not a duration", True),
    (["down", "http://127.0.0.1:9/rss.xml"], "connection refused", False),
]


@pytest.mark.parametrize("args,words,usage", ADD_FAILURES, ids=[case[0][0] for case in ADD_FAILURES])
def test_sources_add_writes_nothing_on_failure(
    site: SiteServer, tmp_path: Path, args: list[str], words: str, usage: bool
) -> None:
    cfg = small_config(tmp_path, '[[sources]]\nname = "taken"\nkind = "feed"\nurl = "https://example.org/rss"\n')
    before = cfg.read_bytes()
    args = [a.replace("{site}", site.base_url) for a in args]
    words = words.replace("{site}", site.base_url)
    res = nw(cfg, "sources", "add", *args)
    assert res.exit_code == (2 if usage else 1), (args, res.output)
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], (args, res.output)
    assert cfg.read_bytes() == before, f"{args} changed the config"


def test_sources_add_of_a_private_address_needs_allow_private(
    site: SiteServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess

    def no_child(*args: object, **kwargs: object) -> None:
        raise AssertionError("a probe child was started for a literal private address")

    monkeypatch.setattr(subprocess, "run", no_child)  # the loaded config says no: refused before any child
    private = small_config(tmp_path / "p", allow_private=False)
    before = private.read_bytes()
    res = nw(private, "sources", "add", "gw2", site.url("/globalwire/rss.xml"))
    assert res.exit_code == 2 and "allow_private = true" in res.output, res.output
    assert private.read_bytes() == before
    assert not site.requests, "nothing fetched"


def test_sources_add_force_and_remove(site: SiteServer, tmp_path: Path) -> None:
    cfg = shipped_config(tmp_path)
    before = cfg.read_text(encoding="utf-8")
    res = nw(cfg, "sources", "add", "frozen", site.url("/frozen/rss.xml"), "--force", "--every", "2h")
    assert res.exit_code == 0, res.output
    assert load_config(cfg).source("frozen").every == 7200
    assert nw(cfg, "sources", "remove", "frozen").exit_code == 0
    assert cfg.read_text(encoding="utf-8") == before, "add then remove gives back the file byte for byte"
    first = load_config(cfg).sources[0].name
    assert nw(cfg, "sources", "remove", first).exit_code == 0
    text = cfg.read_text(encoding="utf-8")
    assert f'name = "{first}"' not in text and "# ---- English" in text
    missing = nw(cfg, "sources", "remove", "no-such-source")
    assert missing.exit_code == 2 and "unknown source 'no-such-source'" in missing.output


def test_opml_round_trip_with_a_real_feed_reader_export(tmp_path: Path) -> None:
    cfg = small_config(tmp_path, '[[sources]]\nname = "rg"\nkind = "feed"\nurl = "https://rg.ru/xml/index.xml"\n')
    res = nw(cfg, "sources", "import", str(PLENARY))
    assert res.exit_code == 0, res.output
    assert "imported 12 feeds" in res.output and "skipped 1" in res.output
    assert "skipped Российская Газета (line 13): already configured as 'rg'" in res.output
    config = load_config(cfg)
    assert len(config.sources) == 13
    kommersant = next(s for s in config.sources if "kommersant" in s.url)
    assert kommersant.url == "https://www.kommersant.ru/RSS/main.xml" and kommersant.every == 3600
    assert 'Газета "Коммерсантъ". Главное [Russia]' in cfg.read_text(encoding="utf-8")
    assert cfg.read_text(encoding="utf-8").startswith("# my sources\n"), "comments kept"

    exported = nw(cfg, "sources", "export", "--opml")
    assert exported.exit_code == 0, exported.output
    opml = exported.stdout
    parsed = listparser.parse(opml.encode("utf-8"))
    assert not parsed.bozo
    original = {f["url"] for f in listparser.parse(PLENARY.read_bytes()).feeds}
    assert {f["url"] for f in parsed.feeds} == original
    lenta = '<outline type="rss" text="Lenta.ru : Новости" title="Lenta.ru : Новости" xmlUrl="https://lenta.ru/rss"/>'
    assert lenta in opml, opml
    assert {s.name for s in config.sources} >= {"lenta", "vesti", "gazeta", "mk", "newsru", "rt", "tass", "kommersant"}

    # ...and back in: a second config imports the export and ends with the same feeds.
    other = small_config(tmp_path / "other")
    (tmp_path / "export.opml").write_text(opml, encoding="utf-8")
    assert nw(other, "sources", "import", str(tmp_path / "export.opml")).exit_code == 0
    assert {s.url for s in load_config(other).sources} == original
    again = nw(other, "sources", "import", str(tmp_path / "export.opml"))
    assert again.exit_code == 0 and "imported 0 feeds" in again.output and "skipped 13" in again.output


def test_500_feeds_import_in_one_write_and_a_broken_file_names_its_line(tmp_path: Path) -> None:
    outlines = [
        f'    <outline type="rss" text="Feed {i}" xmlUrl="https://feeds{i % 50}.example.org/{i}.xml"/>'
        for i in range(500)
    ]
    outlines += ['    <outline type="rss" text="Again" xmlUrl="https://feeds7.example.org/7.xml"/>'] * 3
    good = "<?xml version='1.0'?>\n<opml version='2.0'><head><title>big</title></head>\n  <body>\n"
    good += "\n".join(outlines) + "\n  </body>\n</opml>\n"
    (tmp_path / "big.opml").write_text(good, encoding="utf-8")
    broken_lines = good.splitlines()
    broken_lines[300] = broken_lines[300].replace('text="Feed', 'text="Feed & Co')
    (tmp_path / "broken.opml").write_text("\n".join(broken_lines), encoding="utf-8")
    (tmp_path / "notopml.xml").write_text("<rss version='2.0'><channel/></rss>", encoding="utf-8")

    cfg = small_config(tmp_path)
    before = cfg.read_bytes()
    broken = nw(cfg, "sources", "import", str(tmp_path / "broken.opml"))
    assert broken.exit_code == 2 and "broken.opml line 301: not well-formed OPML" in broken.output, broken.output
    assert cfg.read_bytes() == before
    wrong = nw(cfg, "sources", "import", str(tmp_path / "notopml.xml"))
    assert wrong.exit_code == 2 and "line 1: not an OPML file" in wrong.output
    assert cfg.read_bytes() == before

    res = nw(cfg, "sources", "import", str(tmp_path / "big.opml"), "--every", "2h")
    assert res.exit_code == 0, res.output
    assert "imported 500 feeds" in res.output and "skipped 3" in res.output
    assert res.output.count("already configured as 'feeds7'") == 3 and "skipped Again (line 504)" in res.output
    config = load_config(cfg)
    assert len(config.sources) == 500 and all(s.every == 7200 for s in config.sources)
    assert len({s.name for s in config.sources}) == 500


def test_the_shipped_source_list_is_backed_by_evidence_and_covers_each_language() -> None:
    import tomlkit

    config = load_config(SHIPPED)
    doc = tomlkit.parse(SHIPPED.read_text(encoding="utf-8"))
    per_language: dict[str, int] = {}
    for table, source in zip(doc["sources"], config.sources, strict=True):
        text = table.as_string()
        assert "# evidence: " in text, f"{source.name} has no evidence comment"
        assert re.search(r"\b20\d\d\b", text), f"{source.name}'s evidence names no year"
        assert "news.google." not in source.url, "Google News is not a default source (robots.txt refuses it)"
        if source.language:
            per_language[source.language] = per_language.get(source.language, 0) + 1
    assert all(per_language.get(lang, 0) >= 6 for lang in ("en", "ru", "zh")), per_language
    for s in config.sources:
        if s.kind == "listing":
            assert s.follow and re.compile(s.follow), s.name


def test_opml_export_titles_a_feed_by_its_title_before_its_name_lines_comment(tmp_path: Path) -> None:
    """`title` is the outlet's display name (digests show it); the comment may only describe the source."""
    cfg = small_config(
        tmp_path,
        '[[sources]]\nname = "gw"                 # an English-language agency\'s RSS feed\ntitle = "GlobalWire"\n'
        'url = "https://globalwire.example.org/rss.xml"\n\n'
        '[[sources]]\nname = "vestnik"            # Вестник, a Russian daily\nurl = "https://vestnik.example.org/rss.xml"\n\n'
        '[[sources]]\nname = "plain"\nurl = "https://plain.example.org/rss.xml"\n',
    )
    exported = nw(cfg, "sources", "export", "--opml")
    assert exported.exit_code == 0, exported.output
    titles = {f["url"]: f["title"] for f in listparser.parse(exported.stdout.encode("utf-8")).feeds}
    assert titles == {
        "https://globalwire.example.org/rss.xml": "GlobalWire",
        "https://vestnik.example.org/rss.xml": "Вестник, a Russian daily",
        "https://plain.example.org/rss.xml": "plain",
    }


def test_removing_the_last_source_leaves_a_config_sources_can_be_added_to(tmp_path: Path) -> None:
    # Removing the last [[sources]] table wrote "sources = []" above the file's first comment, and then
    # 'sources import' and 'sources add' refused the file: "not written as [[sources]] tables; edit it by hand".
    rows = "".join(f'[[sources]]\nname = "{n}"\nkind = "feed"\nurl = "https://{n}.example/rss"\n\n' for n in "ab")
    cfg = small_config(tmp_path, "# ---- my feeds\n" + rows + '# my own sets\n[sets]\nmine = ["x"]\n')
    assert nw(cfg, "sources", "remove", "a").exit_code == 0
    assert nw(cfg, "sources", "remove", "b").exit_code == 0
    text = cfg.read_text(encoding="utf-8")
    assert text.startswith("# my sources\n") and "sources" not in text.replace("# my sources", ""), text
    assert 'allow_private = true\n\n# ---- my feeds\n\n# my own sets\n[sets]\nmine = ["x"]\n' in text, "comments stay"
    assert load_config(cfg).sources == ()
    res = nw(cfg, "sources", "import", str(PLENARY))
    assert res.exit_code == 0 and "imported 13 feeds" in res.output, res.output
    assert len(load_config(cfg).sources) == 13
    assert 'mine = ["x"]\n\n[[sources]]\n' in cfg.read_text(encoding="utf-8"), "a blank line before the first"

    # a config written so by an older version is read as having no sources
    old = small_config(tmp_path / "old", '[sets]\nmine = ["x"]\n')
    old.write_text("sources = []\n" + old.read_text(encoding="utf-8"), encoding="utf-8")
    res = nw(old, "sources", "import", str(PLENARY))
    assert res.exit_code == 0 and "imported 13 feeds" in res.output, res.output
    assert not old.read_text(encoding="utf-8").startswith("sources = []")


def test_removing_the_first_source_keeps_the_comment_that_introduces_the_next(tmp_path: Path) -> None:
    # The comments after a removed source stay (what introduces the next one, a section heading), but after the
    # first of several they were deleted with it: "# ---- Russian" went when the only English source was removed.
    rows = (
        '# ---- English\n[[sources]]\nname = "en"\nkind = "feed"\nurl = "https://en.example/rss"\n\n'
        '# ---- Russian\n[[sources]]\nname = "ru"\nkind = "feed"\nurl = "https://ru.example/rss"\n'
    )
    cfg = small_config(tmp_path, rows)
    assert nw(cfg, "sources", "remove", "en").exit_code == 0
    text = cfg.read_text(encoding="utf-8")
    assert 'allow_private = true\n\n# ---- English\n\n# ---- Russian\n[[sources]]\nname = "ru"\n' in text, text
    assert [s.name for s in load_config(cfg).sources] == ["ru"]


def _sitemap(site: SiteServer, path: str, *entries: tuple[str, str | None]) -> str:
    """A sitemap served at ``path``: (page, lastmod or None) per entry; its URL."""
    urls = "".join(
        f"<url><loc>{site.base_url}{page}</loc>{f'<lastmod>{lastmod}</lastmod>' if lastmod else ''}</url>"
        for page, lastmod in entries
    )
    body = f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
    site.set_route(path, body=body.encode(), headers={"Content-Type": "application/xml"})
    return site.url(path)


def _crawled(cfg: Path, name: str) -> int:
    """Pages a crawl of source ``name`` fetched."""
    res = nw(cfg, "crawl", name, "--json")
    assert res.exit_code == 0, res.output
    return next(s for s in json.loads(res.stdout)["sources"] if s["name"] == name)["fetched"]


def _set_window(cfg: Path, name: str, window: str) -> None:
    """Sets source ``name``'s window in the config file, as a user edits it."""
    text = cfg.read_text(encoding="utf-8")
    at = text.index(f'name = "{name}"')
    cfg.write_text(text[:at] + re.sub(r'window = "\w+"', f'window = "{window}"', text[at:], count=1), encoding="utf-8")
    assert load_config(cfg).source(name).window == int(window[:-1]) * 86400


def _sitemap_requests(site: SiteServer, path: str) -> list[tuple[int | None, bool]]:
    """Each request of ``path`` so far: its status, and whether it was conditional (sent a validator)."""
    return [
        (r.status, any(h.lower() in ("if-none-match", "if-modified-since") for h in r.headers))
        for r in site.requests
        if r.path == path
    ]


def _read_whole_once_after(cfg: Path, name: str, site: SiteServer, path: str, change: Callable[[], None]) -> None:
    """Source ``name``, which takes nothing from ``path`` as configured, is answered 304 while unchanged; after
    ``change`` (its settings edited) it reads ``path`` once without validators and takes entries, then conditionally."""
    assert _crawled(cfg, name) == 1 and _sitemap_requests(site, path)[-1] == (304, True)  # unchanged: a 304
    change()
    assert _crawled(cfg, name) > 1, _sitemap_requests(site, path)  # what its new settings pick out, taken
    assert _sitemap_requests(site, path)[-1] == (200, False)  # one unconditional read
    assert _crawled(cfg, name) == 1 and _sitemap_requests(site, path)[-1] == (304, True)  # then conditional again


def test_a_widened_window_reads_an_unchanged_sitemap_whole_once(
    site: SiteServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the stored ETag/Last-Modified were not tied to the window they were read with: after window = "2d" -> "12d"
    # the unchanged sitemap answered 304 at each poll, and its older entries were never taken
    monkeypatch.setenv("NEWSWATCH_WORKERS", "0")
    gw = "/globalwire/sitemap.xml"
    source = f'[[sources]]\nname = "gwmap"\nkind = "sitemap"\nurl = "{site.url(gw)}"\nwindow = "2d"\n'
    cfg = small_config(tmp_path, source)
    assert _crawled(cfg, "gwmap") == 1  # every entry older than 2 days: the sitemap alone
    _read_whole_once_after(cfg, "gwmap", site, gw, lambda: _set_window(cfg, "gwmap", "30d"))

    # a sitemap index's child, listed without a date (fetched at each poll, answered 304 while unchanged), too
    index = (
        '<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{site.base_url}{gw}</loc></sitemap></sitemapindex>"
    )
    site.set_route("/idx/sitemap.xml", body=index.encode(), headers={"Content-Type": "application/xml"})
    source = f'[[sources]]\nname = "idx"\nkind = "sitemap"\nurl = "{site.url("/idx/sitemap.xml")}"\nwindow = "2d"\n'
    cfg = small_config(tmp_path / "index", source)
    assert _crawled(cfg, "idx") == 2  # the index and its child, no entry of it within 2 days
    assert _crawled(cfg, "idx") == 2 and _sitemap_requests(site, gw)[-1] == (304, True)
    _set_window(cfg, "idx", "30d")
    assert _crawled(cfg, "idx") > 2, _sitemap_requests(site, gw)
    assert _sitemap_requests(site, gw)[-1] == (200, False)


def test_a_changed_listing_pattern_or_depth_reads_an_unchanged_listing_whole_once(
    site: SiteServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a listing's validators were not tied to its follow, follow_css or depth: the unchanged page answered 304 to a
    # new pattern at each poll, and the links it picks out were never taken
    monkeypatch.setenv("NEWSWATCH_WORKERS", "0")
    page = "/academy/news/index.html"
    source = f'[[sources]]\nname = "acad"\nkind = "listing"\nurl = "{site.url(page)}"\nfollow = \'/nothing/\'\n'
    cfg = small_config(tmp_path, source)
    assert _crawled(cfg, "acad") == 1  # its pattern picks out no link: the listing alone

    def edit(old: str, new: str) -> None:
        cfg.write_text(cfg.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")

    _read_whole_once_after(
        cfg, "acad", site, page, lambda: edit("follow = '/nothing/'", "follow = '/academy/news/\\d{4}/\\d{2}/'")
    )

    # a css selector instead of the pattern
    edit("follow = '/academy/news/\\d{4}/\\d{2}/'", "follow_css = 'a.nothing'")
    assert _crawled(cfg, "acad") == 1 and _sitemap_requests(site, page)[-1] == (200, False)
    assert _crawled(cfg, "acad") == 1 and _sitemap_requests(site, page)[-1] == (304, True)
    # a deeper listing reads its next page
    edit("follow_css = 'a.nothing'", "follow_css = 'a.nothing'\ndepth = 2")
    assert _crawled(cfg, "acad") == 2 and _sitemap_requests(site, page)[-1] == (200, False)
    assert _sitemap_requests(site, "/academy/news/page-2.html")
    assert _crawled(cfg, "acad") == 1 and _sitemap_requests(site, page)[-1] == (304, True)


def test_a_changed_source_url_sends_none_of_the_old_urls_validators(
    site: SiteServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the old URL's ETag and Last-Modified were sent to the new one: a server whose ETags are not unique to one URL
    # (here the same document), or one that sends only Last-Modified, answered 304 to a document never read
    monkeypatch.setenv("NEWSWATCH_WORKERS", "0")
    old, new = "/globalwire/sitemap.xml", "/globalwire/sitemap.xml?mirror=1"
    cfg = small_config(tmp_path, f'[[sources]]\nname = "gwmap"\nkind = "sitemap"\nurl = "{site.url(old)}"\n')
    _crawled(cfg, "gwmap")
    cfg.write_text(cfg.read_text(encoding="utf-8").replace(site.url(old), site.url(new)), encoding="utf-8")
    _crawled(cfg, "gwmap")
    assert _sitemap_requests(site, new) == [(200, False)]
    _crawled(cfg, "gwmap")
    assert _sitemap_requests(site, new)[-1] == (304, True)  # its own validators, from then on


def test_sources_add_of_a_sitemap_older_than_its_window_says_a_crawl_takes_nothing_from_it(
    site: SiteServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # it wrote window = "2d" for a sitemap whose newest entry was older than that and said nothing: each crawl
    # then took none of its entries, and the user learnt it from digests without it
    monkeypatch.setenv("NEWSWATCH_WORKERS", "0")
    cfg = small_config(tmp_path)
    res = nw(cfg, "-q", "sources", "add", "gwmap", site.url("/globalwire/sitemap.xml"), "--force")
    assert res.exit_code == 0, res.output
    assert load_config(cfg).source("gwmap").window == 2 * 86400  # still 2d: not years of old entries at once
    (line,) = res.stderr.splitlines()  # said also with --quiet: it is a warning
    found = re.fullmatch(
        r'gwmap: warning: its newest entry is dated 2026-11-20, older than its window = "2d": a crawl takes nothing '
        r'from it until it publishes again \(window = "(\d+)d" in its \[\[sources\]\] table would take that entry '
        r"and every later one\)",
        line,
    )
    assert found, line
    assert _crawled(cfg, "gwmap") == 1  # the sitemap alone
    # the window it names takes them, set after that crawl too: the sitemap is read whole once, not answered 304
    _set_window(cfg, "gwmap", f"{found[1]}d")
    assert _crawled(cfg, "gwmap") > 1  # the sitemap, its newest entry and any others within the window

    # nothing to say of a sitemap with an entry within the window, nor of one with an undated entry (always taken)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    fresh = _sitemap(site, "/fresh/sitemap.xml", ("/globalwire/", "2026-11-20"), ("/fresh/a.html", now))
    undated = _sitemap(site, "/undated/sitemap.xml", ("/globalwire/", "2026-11-20"), ("/undated/a.html", None))
    for name, url in (("fresh", fresh), ("undated", undated)):
        res = nw(cfg, "sources", "add", name, url, "--force")
        assert res.exit_code == 0 and "warning" not in res.output, (name, res.output)
