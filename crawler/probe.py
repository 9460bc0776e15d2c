"""`newswatch probe URL`: one polite look at a URL and what newswatch would make of it.

The fetch goes through the crawler's own Scrapy stack (robots.txt always obeyed, Crawl-delay
honoured, private addresses refused unless the config allows them). The URL is classified (feed,
sitemap, sitemap index, listing, article, or a homepage advertising feeds), its entries are dated,
one article is extracted, and a ready-to-paste ``[[sources]]`` block is proposed.

A Twisted reactor runs once per process, so callers use :func:`probe_in_child`, which runs
``python -m crawler.probe`` and reads its JSON report.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from crawler import staleness, urls
from crawler.config import (
    Config,
    CrawlConfig,
    checked_digest,
    format_duration,
    load_config,
    parse_duration,
    source_name_for,
)
from crawler.errors import FetchError, NewswatchError
from crawler.wording import noun

MAX_LISTED = 10  # entries and links shown in the report
# A sitemap's proposed block (and `sources add`) takes entries dated this recently: a source watched from now on, not
# years of its archive at once
SITEMAP_WINDOW = "2d"
_ALTERNATE_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json", "application/rdf+xml")


class ProbeError(NewswatchError):
    """The URL could not be probed; ``exit_code`` 1 for network trouble, 2 for a URL to fix."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class Entry:
    url: str
    title: str
    date: str | None = None


@dataclass
class Article:
    url: str
    title: str
    date: str | None
    language: str | None
    first_lines: list[str]
    error: str | None = None


@dataclass
class Report:
    url: str
    final_url: str = ""
    status: int = 0
    content_type: str | None = None
    kind: str = "unknown"  # feed | sitemap | sitemap-index | listing | article | homepage | unknown
    title: str | None = None
    charset: str | None = None
    charset_from: str | None = None
    robots_url: str = ""
    robots_allowed: bool = True
    crawl_delay: float | None = None
    entries_total: int = 0
    undated: int = 0  # a sitemap's entries without a date: a crawl takes them whatever its window
    entries: list[Entry] = field(default_factory=list)
    newest: str | None = None
    newest_age: str | None = None
    cadence: str | None = None
    child_sitemaps: list[str] = field(default_factory=list)
    feeds: list[dict[str, str]] = field(default_factory=list)
    follow: str | None = None
    taken: list[str] = field(default_factory=list)
    taken_total: int = 0
    left: list[str] = field(default_factory=list)
    left_total: int = 0
    suggested_follow: str | None = None
    article: Article | None = None
    warnings: list[str] = field(default_factory=list)
    source_block: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Report:
        data = dict(data)
        data["entries"] = [Entry(**e) for e in data.get("entries", [])]
        if data.get("article"):
            data["article"] = Article(**data["article"])
        return cls(**data)


# -- classifying a fetched document (pure: bytes in, report fields out) ------------------------------


def read_document(
    report: Report, body: bytes, content_type: str | None, now: datetime, follow: str | None
) -> str | None:
    """Fills the report from the fetched bytes; returns the URL of an article to extract, if any."""
    from crawler.encoding import decode_html

    decoded = decode_html(body, content_type)
    report.charset, report.charset_from = decoded.encoding, decoded.source
    text = decoded.text.lstrip("\ufeff")
    root = _root(text)
    url = report.final_url or report.url
    if root in ("rss", "feed", "rdf:rdf", "rdf"):
        return _read_feed(report, body, content_type, url, now)
    if root in ("urlset", "sitemapindex") or (root is None and text.strip().startswith("http")):
        return _read_sitemap(report, body, url, now)
    if root != "html" and not re.search(r"<(html|body|a)\b", text[:5000], re.I):
        ctype = (content_type or "").split(";")[0].strip() or "no content type"
        raise ProbeError(f"{url} is neither a feed, a sitemap nor an HTML page ({ctype}); check the URL", 2)
    return _read_html(report, text, url, follow)


def _root(text: str) -> str | None:
    m = re.match(
        r"""^(?:\s|<\?.*?\?>|<!--.*?-->|<!DOCTYPE\b[^\[>]*(?:\[.*?\])?\s*>)*<([A-Za-z_][\w:.-]*)""", text, re.S
    )
    return m.group(1).lower() if m else None


def _read_feed(report: Report, body: bytes, content_type: str | None, url: str, now: datetime) -> str | None:
    from crawler.feeds import parse_feed

    try:
        feed = parse_feed(body, url, content_type)
    except FetchError as exc:
        raise ProbeError(str(exc), 2) from None
    report.kind, report.title = "feed", feed.title
    if feed.warning:
        report.warnings.append(feed.warning)
    entries = [Entry(e.link or "", e.title, _iso(e.published)) for e in feed.entries]
    _dated(report, entries, [e.published for e in feed.entries if e.published], now)
    newest = max(feed.entries, key=lambda e: e.published or datetime.min.replace(tzinfo=UTC), default=None)
    return newest.link if newest and newest.link else None


def _read_sitemap(report: Report, body: bytes, url: str, now: datetime) -> str | None:
    from crawler.sitemaps import parse_sitemap

    try:
        sm = parse_sitemap(body, url)
    except FetchError as exc:
        raise ProbeError(str(exc), 2) from None
    if sm.sitemaps:
        report.kind = "sitemap-index"
        report.child_sitemaps = list(sm.sitemaps)
        report.entries_total = len(sm.sitemaps)
        return None
    report.kind = "sitemap"
    dates = [e.news_published or e.lastmod for e in sm.entries]
    entries = [Entry(e.loc, e.news_title or "", _iso(d)) for e, d in zip(sm.entries, dates)]
    _dated(report, entries, [d for d in dates if d], now)
    report.undated = sum(1 for d in dates if d is None)
    if not any(e.news_published for e in sm.entries) and sm.entries:
        report.warnings.append(
            "no <news:news> tags: newswatch dates entries by <lastmod> (set window = ... to bound it)"
        )
    newest = max(
        sm.entries, key=lambda e: e.news_published or e.lastmod or datetime.min.replace(tzinfo=UTC), default=None
    )
    return newest.loc if newest else None


def _dated(report: Report, entries: list[Entry], dates: list[datetime], now: datetime) -> None:
    entries.sort(key=lambda e: e.date or "", reverse=True)
    report.entries_total = len(entries)
    report.entries = entries[:MAX_LISTED]
    if not entries:
        report.warnings.append("it lists no entries at all")
        return
    if not dates:
        report.warnings.append("its entries carry no dates: staleness is judged by when new links appear")
        return
    newest = max(dates)
    age = (now - newest).total_seconds()
    report.newest, report.newest_age = _iso(newest), staleness.describe_age(age)
    gap = staleness.typical_gap(dates)
    if gap:
        report.cadence = f"about one entry every {staleness.describe_age(gap)}"
    verdict = staleness.assess(now=now, kind=report.kind, entry_dates=dates, last_new=None, links=len(entries), every=0)
    if verdict.stale:
        report.warnings.append(f"looks dead: {verdict.reason}")


def _read_html(report: Report, text: str, url: str, follow: str | None) -> str | None:
    from lxml import html as lxml_html

    try:
        doc = lxml_html.document_fromstring(text)
    except Exception:  # lxml raises on empty or binary documents
        raise ProbeError(f"{url} could not be read as HTML; check the URL", 2) from None
    report.title = " ".join(" ".join(doc.xpath("//title//text()")).split()) or None
    for link in doc.xpath("//link[@href]"):
        rel = (link.get("rel") or "").lower().split()
        ctype = (link.get("type") or "").lower().strip()
        if "alternate" in rel and ctype in _ALTERNATE_TYPES:
            report.feeds.append(
                {"url": urljoin(url, link.get("href").strip()), "type": ctype, "title": link.get("title") or ""}
            )
    links = []
    for a in doc.xpath("//a[@href]"):
        href = urljoin(url, a.get("href").strip())
        if urls.is_http_url(href):
            links.append(href.split("#")[0])
    links = list(dict.fromkeys(links))
    if follow is not None:
        report.kind, report.follow = "listing", follow
        pattern = re.compile(follow)
        taken = [u for u in links if pattern.search(u)]
        left = [u for u in links if not pattern.search(u)]
        report.taken_total, report.left_total = len(taken), len(left)
        report.taken, report.left = taken[:MAX_LISTED], left[:MAX_LISTED]
        if not taken:
            report.warnings.append(
                f"follow {follow!r} takes none of the {len(links)} {noun(len(links), 'link')} on the page"
            )
        return taken[0] if taken else None
    if _looks_like_article(doc):
        report.kind = "article"
        return url
    report.kind = "homepage" if report.feeds else "listing"
    report.suggested_follow = suggest_follow(url, links)
    if report.suggested_follow:
        pattern = re.compile(report.suggested_follow)
        report.taken_total = sum(1 for u in links if pattern.search(u))
        report.left_total = len(links) - report.taken_total
        report.taken = [u for u in links if pattern.search(u)][:MAX_LISTED]
    return None


def not_an_article(url: str, body: bytes, content_type: str | None) -> str | None:
    """What a page that gave no article text is instead, and what to do with it: a feed, a sitemap or a listing of
    articles is a source to add (or probe), not an article; None for any other page."""
    report = Report(url=url)
    try:
        read_document(report, body, content_type, datetime.now(UTC), None)
    except (ProbeError, ValueError):
        return None
    what = {
        "feed": "a feed",
        "sitemap": "a sitemap",
        "sitemap-index": "a sitemap index",
        "listing": "a listing of articles" if report.suggested_follow else None,
        "homepage": "a front page with a feed" if report.feeds else None,
    }.get(report.kind)
    if what is None:
        return None
    return (
        f"the page is {what}, not an article: to poll it, add it as a source (newswatch sources add NAME {url}); "
        f"newswatch probe {url} shows what it lists"
    )


def _looks_like_article(doc: Any) -> bool:
    og = " ".join(doc.xpath("//meta[@property='og:type']/@content")).lower()
    if "article" in og:
        return True
    for block in doc.xpath("//script[@type='application/ld+json']/text()"):
        if re.search(r'"@type"\s*:\s*"(News|Report|Scholarly|Blog)?(Article|Posting)"', block):
            return True
    return bool(doc.xpath("//article//p") and doc.xpath("//meta[@property='article:published_time']"))


def suggest_follow(page_url: str, links: Sequence[str]) -> str | None:
    """A regex for the page's most common article-like URL shape (same host, a number or date in the path)."""
    host = urlsplit(page_url).netloc
    shapes: Counter[str] = Counter()
    for u in links:
        parts = urlsplit(u)
        segments = [s for s in parts.path.split("/") if s]
        if parts.netloc != host or len(segments) < 2 or not re.search(r"\d", "/".join(segments[1:])):
            continue
        shape = [re.escape(segments[0])]
        for i, seg in enumerate(segments[1:], start=1):
            stem, dot, ext = seg.rpartition(".") if "." in seg else (seg, "", "")
            if re.fullmatch(r"\d+", stem):
                part = rf"\d{{{len(stem)}}}" if len(stem) <= 8 else r"\d+"
            elif i == len(segments) - 1 or re.search(r"\d", stem):
                part = r"[^/]+"
            else:
                part = re.escape(stem)
            shape.append(part + (re.escape(dot + ext) if dot else ""))
        shapes["/" + "/".join(shape) + ("/?$" if parts.path.endswith("/") else "$")] += 1
    if not shapes:
        return None
    shape, n = shapes.most_common(1)[0]
    return shape if n >= 2 else None


def extract_article(url: str, body: bytes, content_type: str | None, fallback_language: str | None) -> Article:
    from crawler import textnorm
    from crawler.encoding import decode_html
    from crawler.extract import extract

    text = decode_html(body, content_type).text
    ex = extract(text, url)
    if ex is None:
        return Article(url, "", None, None, [], error="no article text found on the page")
    language = textnorm.detect_language(f"{ex.title}\n{ex.text[:2000]}", ex.language or fallback_language)
    lines = [ln.strip() for ln in ex.text.splitlines() if ln.strip()][:3]
    return Article(url, ex.title, _iso(ex.published), language, [ln[:200] for ln in lines])


def source_block(report: Report, name: str | None = None, every: str | None = None) -> str:
    """A ``[[sources]]`` block for this URL, ready to paste into newswatch.toml."""
    kind = {"feed": "feed", "sitemap": "sitemap", "sitemap-index": "sitemap", "listing": "listing"}.get(report.kind)
    url = report.final_url or report.url
    if report.kind in ("homepage", "article") and report.feeds:
        kind, url = "feed", report.feeds[0]["url"]
    if kind is None:
        return ""
    name = name or source_name_for(url)
    every = every or ("6h" if kind == "listing" else "30m")
    lines = ["[[sources]]", f"name = {json.dumps(name)}", f"kind = {json.dumps(kind)}", f"url = {json.dumps(url)}"]
    lines.append(f"every = {json.dumps(every)}")
    if kind == "sitemap":
        lines.append(f"window = {json.dumps(SITEMAP_WINDOW)}")
    if kind == "listing":
        follow = report.follow or report.suggested_follow or "REGEX OF ARTICLE URLS"
        lines.append(f"follow = {_toml_literal(follow)}")
    if report.crawl_delay:
        lines.insert(1, f"# robots.txt asks for Crawl-delay {report.crawl_delay:g}s; newswatch honours it")
    return "\n".join(lines) + "\n"


def before_window(report: Report, window: str = SITEMAP_WINDOW, now: datetime | None = None) -> str | None:
    """What a crawl takes from a sitemap whose every entry is dated before ``window`` (nothing), and how to take
    older ones; None when it takes something."""
    if report.kind != "sitemap" or not report.newest or report.undated:
        return None
    age = ((now or datetime.now(UTC)) - datetime.fromisoformat(report.newest)).total_seconds()
    if age <= parse_duration(window):
        return None
    days = math.ceil(age / 86400) + 1  # a day to spare: the entry is still within it at the next crawl
    return (
        f'its newest entry is dated {report.newest[:10]}, older than its window = "{window}": a crawl takes nothing '
        f'from it until it publishes again (window = "{days}d" in its [[sources]] table would take that entry and '
        "every later one)"
    )


def _toml_literal(value: str) -> str:
    return f"'{value}'" if "'" not in value and "\n" not in value else json.dumps(value)


def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).isoformat(timespec="seconds") if dt else None


# -- fetching (in the child process) -----------------------------------------------------------------


def check_input(url: str, follow: str | None, allow_private: bool | None) -> None:
    """Refuses what needs no network to refuse: a URL that is not http(s), a --follow that is not a
    regular expression, and (when ``allow_private`` is known and false) a literal non-public IP address.

    The probe runs it first, and so does :func:`probe_in_child` before it starts a child for nothing.
    Host names resolving to private addresses are refused when fetched, in the child.
    """
    if not urls.is_http_url(url):
        raise ProbeError(f"{url!r} is not an http(s) URL; write it like https://example.org/rss.xml", 2)
    if follow is not None:
        try:
            re.compile(follow)
        except re.error as exc:
            raise ProbeError(f"--follow {follow!r} is not a regular expression: {exc}", 2) from None
    if allow_private is not None:
        try:
            urls.check_url(url, allow_private, resolve=False)
        except FetchError as exc:
            raise ProbeError(f"{url}: {exc}", 2) from None


def run_probe(config: Config, url: str, follow: str | None, now: datetime | None = None) -> Report:
    """Fetches URL (and one article) with the crawler's Scrapy settings; robots.txt always obeyed."""
    check_input(url, follow, config.crawl.allow_private)  # before Scrapy is imported: refusing is cheap
    import scrapy
    from scrapy.crawler import AsyncCrawlerProcess
    from scrapy.exceptions import IgnoreRequest

    from crawler.middlewares import RefusedURL, RobotsMiddleware, crawl_delay
    from crawler.settings import scrapy_settings
    from crawler.spiders import describe_failure

    now = now or datetime.now(UTC)
    report = Report(url=url)
    parts = urlsplit(url)
    report.robots_url = f"{parts.scheme}://{parts.netloc}/robots.txt"
    outcome: dict[str, Any] = {}

    class ProbeSpider(scrapy.Spider):
        name = "newswatch-probe"

        async def start(self) -> Any:
            yield scrapy.Request(url, callback=self.page, errback=self.failed, meta={"handle_httpstatus_all": True})

        def page(self, response: Any) -> Any:
            report.final_url, report.status = response.url, response.status
            ctype = response.headers.get(b"Content-Type")
            report.content_type = ctype.decode("latin-1") if ctype else None
            if response.status >= 400:
                outcome["error"] = ProbeError(
                    _status_message(response.url, response.status), _status_code(response.status)
                )
                return
            try:
                article_url = read_document(report, response.body, report.content_type, now, follow)
            except ProbeError as exc:
                outcome["error"] = exc
                return
            if article_url and article_url == response.url:
                report.article = extract_article(response.url, response.body, report.content_type, None)
            elif article_url and urls.is_http_url(article_url):
                yield scrapy.Request(
                    article_url,
                    callback=self.article,
                    errback=self.article_failed,
                    meta={"handle_httpstatus_all": True},
                )

        def article(self, response: Any) -> None:
            if response.status >= 400:
                report.article = Article(response.url, "", None, None, [], error=f"answered HTTP {response.status}")
                return
            ctype = response.headers.get(b"Content-Type")
            report.article = extract_article(
                response.url, response.body, ctype.decode("latin-1") if ctype else None, None
            )

        def article_failed(self, failure: Any) -> None:
            report.article = Article(
                failure.request.url, "", None, None, [], error=describe_failure(failure, failure.request.url)
            )

        def failed(self, failure: Any) -> None:
            exc = failure.value
            if isinstance(exc, RefusedURL):
                outcome["error"] = ProbeError(f"{url}: {exc}", 2)
            elif isinstance(exc, IgnoreRequest):
                report.robots_allowed = False
                outcome["error"] = ProbeError(
                    f"{url} is refused by {report.robots_url} for newswatch; newswatch will not fetch it "
                    "(find a feed or page the site allows, or ask the site)",
                    2,
                )
            else:
                outcome["error"] = ProbeError(describe_failure(failure, url), 1)

        def closed(self, reason: str) -> None:
            for mw in self.crawler.engine.downloader.middleware.middlewares:
                if isinstance(mw, RobotsMiddleware):
                    parser = mw._parsers.get(parts.netloc)
                    if parser is not None and not hasattr(parser, "addCallbacks"):
                        ua = self.crawler.settings["ROBOTSTXT_USER_AGENT"]
                        report.crawl_delay = crawl_delay(parser, ua)
                        report.robots_allowed = bool(parser.allowed(url, ua))

    settings = scrapy_settings(config.crawl)
    settings.update(
        ROBOTSTXT_OBEY=True,
        NEWSWATCH_ALLOW_PRIVATE=config.crawl.allow_private,
        RETRY_ENABLED=False,
        ITEM_PIPELINES={},
        LOG_INSTALL_ROOT_HANDLER=False,
        LOG_LEVEL="CRITICAL",
    )
    process = AsyncCrawlerProcess(settings)
    process.crawl(ProbeSpider)
    process.start(install_signal_handlers=False)
    if "error" in outcome:
        raise outcome["error"]
    if report.crawl_delay:
        report.warnings.append(
            f"robots.txt asks for Crawl-delay {report.crawl_delay:g}s: newswatch waits that long between "
            f"requests to {parts.hostname} (a poll of N new articles takes about N x {format_duration(report.crawl_delay)})"
        )
    report.source_block = source_block(report)
    return report


def _status_message(url: str, status: int) -> str:
    if status in (401, 403):
        return (
            f"{url} answered HTTP {status}: the site refuses this client (anti-bot service, or your network's "
            "country); see README 'Troubleshooting'"
        )
    if status in (404, 410):
        return f"{url} answered HTTP {status}: no such page; check the URL"
    if status == 451:
        return f"{url} answered HTTP 451: unavailable for legal reasons from your network; see README 'Troubleshooting'"
    return f"{url} answered HTTP {status}; try again later"


def _status_code(status: int) -> int:
    return 1 if status >= 500 or status in (408, 429) else 2


# -- the child process ------------------------------------------------------------------------------


def probe_in_child(
    config_path: Path | None,
    url: str,
    follow: str | None = None,
    timeout: float = 300.0,
    *,
    allow_private: bool | None = None,
) -> Report:
    """Runs the probe in a fresh `python -m crawler.probe` child and returns its report.

    Input refused without the network (see :func:`check_input`) is refused here, with no child.
    ``allow_private``: the loaded config's ``crawl.allow_private``; None when the caller has not
    loaded the config (the child then judges literal addresses). Without a config the default applies.
    """
    if allow_private is None and config_path is None:
        allow_private = CrawlConfig().allow_private
    check_input(url, follow, allow_private)
    cmd = [sys.executable, "-m", "crawler.probe", "--url", url]
    if config_path is not None:
        cmd += ["--config", str(config_path)]
    if follow is not None:
        cmd += ["--follow", follow]
    checked = checked_digest(config_path) if config_path is not None else None
    if checked:  # this process found the file valid: the child need not compile its queries
        cmd += ["--config-checked", checked]
    env = dict(os.environ)
    pkg_root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = pkg_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    try:
        proc = subprocess.run(cmd, capture_output=True, env=env, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise ProbeError(f"probing {url} took longer than {int(timeout)}s; the site is too slow", 1) from None
    try:
        data = json.loads(proc.stdout.decode("utf-8").strip().splitlines()[-1])
    except (ValueError, IndexError):
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ProbeError(f"the probe process failed: {tail[-1] if tail else proc.returncode}", 1) from None
    if "error" in data:
        raise ProbeError(data["error"], int(data.get("exit_code", 1)))
    return Report.from_json(data["report"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawler.probe")
    parser.add_argument("--url", required=True)
    parser.add_argument("--config")
    parser.add_argument("--follow")
    parser.add_argument("--config-checked", default=None)
    args = parser.parse_args(argv)
    from crawler.settings import import_tls_early, quiet_scrapy_logs  # not crawler.run: it loads the store

    import_tls_early()
    quiet_scrapy_logs()
    try:
        config = load_config(args.config, checked=args.config_checked) if args.config else _default_config()
        report = run_probe(config, args.url, args.follow)
    except NewswatchError as exc:
        print(json.dumps({"error": str(exc), "exit_code": exc.exit_code}, ensure_ascii=False))
        return exc.exit_code
    print(json.dumps({"report": report.to_json()}, ensure_ascii=False))
    return 0


def _default_config() -> Config:
    from crawler.config import StorageConfig

    return Config(path=None, storage=StorageConfig(Path("newswatch.db")), crawl=CrawlConfig())


if __name__ == "__main__":
    sys.exit(main())
