"""Article text and metadata from decoded HTML (the only module that imports trafilatura)."""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import htmldate.extractors
import trafilatura
import trafilatura.metadata

from crawler.dates import FUTURE_SLACK, parse_published, utcnow
from crawler.encoding import html_char_refs
from crawler.readings import strip_readings

if TYPE_CHECKING:
    from dateparser import DateDataParser

# trafilatura logs every page it finds too short at WARNING; that is our decision to report.
logging.getLogger("trafilatura").setLevel(logging.ERROR)
logging.getLogger("htmldate").setLevel(logging.ERROR)

_DATE_PARAMS = {
    "extensive_search": True,
    "original_date": True,
    "outputformat": "%Y-%m-%dT%H:%M:%S%z",
    # a date in the URL (/2026/11/18/, as news sites write theirs) only when the page declares none: taken first, it
    # was the day without its time, midnight UTC for a page that says 12:30 Moscow time
    "deferred_url_extractor": True,
}

# The extensive date search's last resort hands free text to dateparser, which by default tries
# every one of its ~200 locales: a string that none accepts ("pressure 19, 2019") loads and
# compiles them all, ~1.6 s of CPU in each extraction worker. Our sources' languages plus the
# widest-read others cost ~0.2 s; on the real pages of the bench corpus and the fixture site the
# published dates found are the same (bench/README.md).
DATE_LANGUAGES = ("en", "ru", "zh", "fr", "es", "ar", "de", "it", "pt", "ja", "ko", "uk")


@functools.cache
def _date_parser() -> DateDataParser:
    """htmldate's external date parser (its own settings), limited to DATE_LANGUAGES."""
    from dateparser import DateDataParser  # loaded when a page first needs it, as htmldate does

    return DateDataParser(
        languages=list(DATE_LANGUAGES),
        settings={
            "NORMALIZE": True,
            "PARSERS": ["custom-formats", "absolute-time"],
            "PREFER_DATES_FROM": "past",
            "PREFER_LOCALE_DATE_ORDER": True,
            "RETURN_AS_TIMEZONE_AWARE": False,
            "STRICT_PARSING": True,
        },
    )


if hasattr(htmldate.extractors, "get_external_parser"):  # htmldate >= 1.9 builds it lazily here
    htmldate.extractors.get_external_parser = _date_parser


# trafilatura's metadata pass also scans every page for category and tag links and a licence
# (~2 ms of CPU a page on the bench site, a tenth of the extraction); an article keeps none of
# them, so they are not computed.
def _no_categories_or_tags(metatype: str, tree: object) -> list[str]:
    return []


def _no_licence(tree: object) -> None:
    return None


if hasattr(trafilatura.metadata, "extract_catstags"):
    trafilatura.metadata.extract_catstags = _no_categories_or_tags
if hasattr(trafilatura.metadata, "extract_license"):
    trafilatura.metadata.extract_license = _no_licence


# An in-body "read also" teaser line is a link to another story, not part of this one; kept, it
# lends the other story's words to this article (and to its topic matches).
_TEASER = re.compile(
    r"^\s*(read also|read more|see also|also read|related|читайте также|читайте нас|смотрите также|"
    r"читать также|по теме|相关阅读|延伸阅读|相关新闻|推荐阅读)\s*[:：]",
    re.I,
)
_TEASER_MAX = 300
# Less than this is a menu or a stub, not an article (a Chinese news sentence is already longer).
MIN_TEXT = 20


def _drop_headline(text: str, title: str) -> str:
    """The body without a first line that repeats the headline (it would count twice as lead text)."""
    first, sep, rest = text.partition("\n")
    if sep and title and " ".join(first.split()) == " ".join(title.split()):
        return rest.lstrip("\n")
    return text


def _drop_teasers(text: str) -> str:
    lines = text.split("\n")
    kept = [ln for ln in lines if not (len(ln) <= _TEASER_MAX and _TEASER.match(ln))]
    return "\n".join(kept) if len(kept) != len(lines) else text


@dataclass(frozen=True)
class Extracted:
    title: str
    text: str
    author: str | None
    published: datetime | None
    site_name: str | None
    language: str | None
    declared_url: str | None  # the page's rel=canonical or og:url, as trafilatura found it
    description: str | None


NO_TEXT = "no article text found on the page"


def no_text_reason(html: str) -> str:
    """Why a page gave no article text, for the crawl's report: its markup nested past libxml2's limit (256
    elements deep, a broken or hostile page: lxml drops everything deeper, so the text seems absent), else
    NO_TEXT."""
    from lxml import etree

    parser = etree.HTMLParser(recover=True)
    try:
        etree.fromstring(html, parser)
    except (etree.LxmlError, ValueError):
        return NO_TEXT
    if any("excessive depth" in e.message.lower() for e in parser.error_log):
        return "the page's markup nests more than 255 elements deep (a broken or hostile page); no text read from it"
    return NO_TEXT


def extract(html: str, url: str) -> Extracted | None:
    """The main text and metadata of one page, or None when it holds no article text."""
    html = html_char_refs(html)
    try:
        # fast: skip the readability/jusText comparison (stage 2); the baseline rescue and the
        # recall retry still run. On the 181 real pages of bench/run.py's quality part this is
        # ~35% less extraction time at an unchanged F1 (bench/README.md).
        doc = trafilatura.bare_extraction(
            html,
            url=url,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            # htmldate refuses a date after its machine's today and then guesses from the rest: a page east of
            # UTC dated the new day ("2026-12-01", Beijing past midnight) came out as 2026-01-01 or the 1st of
            # this month, and won over its feed's right date. As late as any date we keep (dates.plausible):
            date_extraction_params={**_DATE_PARAMS, "max_date": (utcnow() + FUTURE_SLACK).date().isoformat()},
            fast=True,
        )
    except Exception:  # trafilatura raises assorted lxml/parsing errors on hostile markup
        return None
    if doc is None or len((doc.text or "").strip()) < MIN_TEXT:
        return None
    # pinyin readings inside Chinese words (flattened <ruby>) go before anything reads the text
    title = strip_readings((doc.title or "").strip())
    return Extracted(
        title=title,
        text=_drop_headline(_drop_teasers(strip_readings(doc.text.strip())), title),
        author=(doc.author or None),
        published=parse_published(doc.date),
        site_name=doc.sitename or None,
        language=(doc.language or None),
        declared_url=doc.url if doc.url and doc.url != url else None,
        description=doc.description or None,
    )
