"""The CPU-bound work on one fetched page: decode, extract, canonicalize, fingerprint, match.

Runs in worker processes (see pipelines.py) so extraction uses every core; everything here is a
pure function of its input plus the compiled topics, so it can be pickled across processes.
A worker imports only what its forkserver preloaded: this module (its initializer, ``worker_start``,
lives here too), ``crawler.extract`` and the warm-up; never Scrapy, which only the crawl process needs.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from crawler import dedup, textnorm, topics, urls
from crawler.config import TopicConfig
from crawler.encoding import decode_html, visible
from crawler.longlived import WARM_UP_TEXT, WARM_UP_TITLE, freeze_long_lived
from crawler.model import Model, Scorer, gated_match
from crawler.procs import process_alive
from crawler.records import ArticleRecord


@dataclass(frozen=True)
class FeedInfo:
    """What a feed or sitemap said about an entry: the fallback when its page fails."""

    key: str | None = None
    title: str = ""
    summary: str = ""
    published: datetime | None = None
    language: str | None = None
    text_key: str | None = None  # a feed entry's identity from its text (FeedEntry.text_key)
    shared: bool = False  # its link is one page other entries link too: its own story, its URL's fragment its own


@dataclass(frozen=True)
class PageJob:
    source: str
    url: str  # the URL as listed (before redirects)
    final_url: str  # after redirects
    body: bytes
    content_type: str | None
    fetched: datetime
    feed: FeedInfo | None = None
    source_language: str | None = None
    backlog: bool = False


@dataclass(frozen=True)
class Processed:
    record: ArticleRecord | None  # None: the page holds no article
    matches: tuple[tuple[str, float, tuple[str, ...]], ...]
    reason: str | None = None  # why there is no record
    note: str | None = None  # what the crawl says of the record (its title or text cut to TITLE_CHARS, TEXT_CHARS)
    near: tuple[tuple[str, float, tuple[str, ...]], ...] = ()  # near misses: [near_score, min_score) (score_topics)


# An article's text is stored, matched, indexed and searched up to its first TEXT_CHARS characters (some 15,000 words
# of English; the longest of the 181 real news pages of bench/run.py's corpus has 53,000, their median 3,000), its
# title up to TITLE_CHARS: a hostile page of megabytes of Chinese took some 500 MB of memory to fingerprint, tokenize
# and match, in each extraction worker that read one
TEXT_CHARS = 100_000
TITLE_CHARS = 1_000
_SENTENCE_ENDS = ("。", "！", "？", ". ", "! ", "? ", "…")


def cut_text(text: str, chars: int) -> str:
    """``text`` when it holds at most ``chars`` characters, else its beginning up to a paragraph's end in its last
    tenth, else a sentence's, else a word's, else its first ``chars`` characters."""
    if len(text) <= chars:
        return text
    head, floor = text[:chars], chars - chars // 10
    ends = (head.rfind("\n", floor), max(head.rfind(end, floor) + 1 for end in _SENTENCE_ENDS), head.rfind(" ", floor))
    at = next((end for end in ends if end >= floor), chars)
    return head[:at].rstrip()


def _bounded(url: str, title: str, text: str) -> tuple[str, str, str | None]:
    """The article's title and text within TITLE_CHARS and TEXT_CHARS, and what the crawl says of a cut (or None): one
    line for the item, naming what was cut. Neither holds what a reader cannot see (``encoding.visible``)."""
    title, text = visible(title), visible(text)
    kept, headline = cut_text(text, TEXT_CHARS), cut_text(title, TITLE_CHARS)
    cuts, limits = [], []
    if len(headline) < len(title):
        cuts.append(f"its title of {len(title):,} characters is kept up to its first {len(headline):,}")
        limits.append(f"{TITLE_CHARS:,} characters of an article's title")
    if len(kept) < len(text):
        cuts.append(f"its text of {len(text):,} characters is kept up to its first {len(kept):,}")
        limits.append(f"{TEXT_CHARS:,} characters of an article" if not limits else f"{TEXT_CHARS:,} of its text")
    if not cuts:
        return headline, kept, None
    note = f"{url}: {' and '.join(cuts)} (at most {' and '.join(limits)} are stored, matched and searched)"
    return headline, kept, note


# Each topic's compiled query and scorer, by the topic's name, with what they were compiled from: a topic
# whose query or model changed (a reloaded config: the daemon's digests match with these) replaces its
# old ones, which are then freed, so that reloads do not pile up compiled topics.
_compiled: dict[str, tuple[str, topics.Query]] = {}
_scorers: dict[str, tuple[Model, Scorer]] = {}


def _query(topic: TopicConfig) -> topics.Query:
    hit = _compiled.get(topic.name)
    if hit is None or hit[0] != topic.query:
        hit = _compiled[topic.name] = (topic.query, topics.compile_query(topic.query))
    return hit[1]


def _scorer(topic: TopicConfig) -> Scorer:
    assert topic.model is not None
    hit = _scorers.get(topic.name)  # compiled from the model with the definitions of its features' sets
    if hit is None or (hit[0] is not topic.model and hit[0] != topic.model):
        hit = _scorers[topic.name] = (topic.model, topic.model.scorer())
    return hit[1]


def match_topic(
    topic: TopicConfig,
    doc: topics.Document,
    language: str | None,
    spans: bool = True,
    encoder: bool = True,
    floor: float | None = None,
) -> topics.Match | None:
    """The article's match for one topic (below min_score included), or None when its query does not hold
    (``crawler.model.gated_match``; ``encoder`` False: a warm-up, which loads no sentence encoder; ``floor``: a
    score below it is dropped, exact only at or above it)."""
    scorer = _scorer(topic) if topic.model is not None else None
    return gated_match(_query(topic), scorer, doc, language, spans, encoder, floor)


Scored = tuple[tuple[str, float, tuple[str, ...]], ...]  # (topic, score, hits) each


def score_topics(
    title: str, text: str, topic_list: tuple[TopicConfig, ...], language: str | None = None, *, warm_up: bool = False
) -> tuple[Scored, Scored]:
    """(matches, near misses): (topic, score, hits) for every topic the article matches at or above its min_score,
    and for every topic with a ``near_score`` it scores in [near_score, min_score) for (a digest's near misses).

    ``language`` (en, ru, zh...) is one of a model topic's inputs. ``warm_up``: the built-in text, matched to build
    what a topic's first article would; a model's sentence encoder is left out (loaded by a story that needs it).
    """
    if not topic_list:
        return (), ()
    doc = topics.prepare(title, text)  # tokenized once for every topic
    out, near = [], []
    for t in topic_list:
        # a score below the lowest one kept is dropped: a story that cannot reach it is not given to a sentence encoder
        floor = t.floor
        m = match_topic(t, doc, language, spans=False, encoder=not warm_up, floor=floor)
        if m is not None and m.score >= t.min_score:
            out.append((t.name, round(m.score, 3), tuple(m.hits)))
        elif m is not None and m.score >= floor:
            near.append((t.name, round(m.score, 3), tuple(m.hits)))
    return tuple(out), tuple(near)


def match_topics(
    title: str, text: str, topic_list: tuple[TopicConfig, ...], language: str | None = None, *, warm_up: bool = False
) -> Scored:
    """(topic, score, hits) for every topic the article matches at or above its min_score (``score_topics``)."""
    return score_topics(title, text, topic_list, language, warm_up=warm_up)[0]


def settle_topics(topic_list: tuple[TopicConfig, ...]) -> bool:
    """Before a batch of articles: compiles the topics and matches them once on a built-in text (building what
    their first article would), then freezes what the process holds (``crawler.longlived``)."""
    if not topic_list:
        return False
    match_topics(WARM_UP_TITLE, WARM_UP_TEXT, topic_list, warm_up=True)
    return freeze_long_lived()


def process_page(job: PageJob, topic_list: tuple[TopicConfig, ...]) -> Processed:
    from crawler.extract import (
        NO_TEXT,
        extract,
        no_text_reason,
    )  # trafilatura: loaded by the workers, not by a crawl of 304s

    decoded = decode_html(job.body, job.content_type)
    ex = extract(decoded.text, job.final_url)
    if ex is None:
        reason = no_text_reason(decoded.text)
        if reason == NO_TEXT and job.feed is None:  # a page of its own (crawl --url, a listing's link), no entry's
            from crawler.probe import not_an_article

            reason = not_an_article(job.final_url, job.body, job.content_type) or reason
        return Processed(None, (), reason)
    title, text, note = _bounded(job.final_url, ex.title or (job.feed.title if job.feed else ""), ex.text)
    # a page reached by a redirect to another URL must show one of its headline's words: every page of a site sent
    # to one login or consent page, under headlines too short for three words, was taken for the first story
    redirected = urls.canonicalize(job.final_url) != urls.canonicalize(job.url)
    if job.feed is not None and not shows_headline(
        job.feed.title, f"{ex.title[:TITLE_CHARS]}\n{text}", at_least=1 if redirected else 3
    ):
        return Processed(None, (), WALL)
    if job.feed is not None and (why := less_than_its_entry(ex.text, job.feed.title, ex.title, job.feed.summary)):
        return Processed(None, (), why)
    canonical = urls.choose_canonical(job.final_url, ex.declared_url)
    published = ex.published
    if job.feed and job.feed.published:
        if published is None or (
            published.time() == datetime.min.time() and published.date() == job.feed.published.date()
        ):
            published = job.feed.published
    # 1,000 characters tell the language as well as more (the same on all 181 corpus pages as 2,000), at half the cost
    language = textnorm.detect_language(
        f"{title}\n{text[:1000]}", ex.language or job.source_language or (job.feed.language if job.feed else None)
    )
    aliases = tuple(u for u in {urls.canonicalize(job.url), urls.canonicalize(job.final_url)} if u != canonical)
    body_hash, signature = dedup.fingerprint(title, text)
    record = ArticleRecord(
        url=job.final_url,
        canonical_url=canonical,
        source=job.source,
        title=title,
        text=text,
        text_from="page",
        published=published,
        language=language,
        fetched=job.fetched,
        author=visible(ex.author) if ex.author else None,
        site_name=visible(ex.site_name) if ex.site_name else None,
        aliases=aliases,
        content_hash=body_hash,
        signature=signature.to_bytes(),
        index_title=textnorm.index_tokens(title),
        index_text=textnorm.index_tokens(text),
        backlog=job.backlog,
    )
    matches, near = score_topics(title, text, topic_list, language)
    return Processed(record, matches, note=note, near=near)


WALL_HINT = " (a login, cookie or subscription wall?)"
WALL = "the page does not show its entry's headline" + WALL_HINT
_HEADLINE_WORDS = re.compile(r"[^\W\d_]{5,}")  # words of 5 letters or more: 'China', 'reactor', not 'with', 'and'
_HAN_RUN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{2,}")


def headline_terms(text: str) -> set[str]:
    """The words of 5 letters or more and the pairs of Chinese characters in ``text``, case-folded."""
    folded = text.casefold()
    terms = set(_HEADLINE_WORDS.findall(folded))
    for run in _HAN_RUN.findall(folded):
        terms.update(run[i : i + 2] for i in range(len(run) - 1))
    return terms


def shows_headline(headline: str, page: str, at_least: int = 3) -> bool:
    """Whether a page shows something of its entry's headline: False when a headline of ``at_least`` terms or more
    (``headline_terms``) has none of them in the page's title and text, not even as another form of the word,
    as a login, cookie or subscription wall that every page of a site answers with has none; a shorter headline
    cannot tell, and passes."""
    terms = headline_terms(headline)
    if not terms or len(terms) < at_least:
        return True
    folded = page.casefold()
    return any(term[: max(4, len(term) - 2)] in folded for term in terms)  # 'России' shows 'Россия'; 'Китая' 'Китай'


# Words of the walls a site shows in place of a story (a subscription, login, registration, cookie or consent page),
# each family counted once: a story's own text may name one (a subscription price rise), a wall names two or more.
_WALL_WORDS = {
    "subscribe": r"subscrib|subscription|abonn|подписк|подписчик|подпишитесь|订阅|訂閱",
    "log in": r"\blog ?in\b|\bsign ?in\b|\blogged in\b|войдите|авторизуйтесь|авторизац|登录|登入|登錄",
    "register": r"\bsign ?up\b|register (?:now|for free|to)|registered users|create (?:a |an |your )?(?:free )?account|"
    r"зарегистрируйтесь|пройдите регистрацию|立即注册|免费注册|注册账号|注册登录|註冊",
    "cookies": r"cookie|куки|\bconsent\b|privacy (?:policy|settings|choices|notice)|политик\w* конфиденциальности|"
    r"согласие на обработку|隐私政策|隱私政策",
    "continue": r"continue reading|keep reading|read the (?:full|whole|rest)|full (?:access|article|story)|"
    r"unlimited access|free trial|members? only|premium (?:content|article|subscription|members?)|\bpaywall|"
    r"unlock (?:this|the|all|full)|ad ?blocker|продолж\w* чтени|читать далее|полн\w* (?:доступ|верси)|"
    r"继续阅读|阅读全文|付费阅读|付费内容|会员专享|开通会员|成为会员",
}
_WALL_FAMILIES = [re.compile(pattern, re.I) for pattern in _WALL_WORDS.values()]
WALL_TEXT_MAX = 1500  # characters of a page's own text beyond which it is a story, whatever words it holds
SUMMARY_MIN = 200  # characters of a feed summary from which a page showing less than half of it loses to it


def own_lines(text: str, headlines: tuple[str, ...], summary: str = "") -> list[str]:
    """The lines of a page's text that are neither its headline (nor hold it, and little more) nor a line of its
    feed's summary: what the page says of its own, case-folded, whitespace collapsed."""
    heads = [h for h in (" ".join(x.casefold().split()) for x in headlines if x) if len(h) >= 8]
    summary = " ".join(summary.casefold().split())
    kept = []
    for line in text.split("\n"):
        folded = " ".join(line.casefold().split())
        # a line holding the headline, not much longer ('Politics | <headline> | 12 May'), or part of it
        if not folded or any(
            (h in folded and len(folded) <= 2 * len(h) + 20) or (len(folded) >= 8 and folded in h) for h in heads
        ):
            continue
        if len(folded) >= 20 and folded in summary:
            continue
        kept.append(folded)
    return kept


def less_than_its_entry(text: str, headline: str, title: str, summary: str) -> str | None:
    """Why a page that shows its entry's ``headline`` (its own title: ``title``) is no story but what its site shows
    in its place, else None: its own text is short, shows nothing of the headline and is mostly a wall's words
    (subscribe, log in, cookies...: two families at least), or it is under half of its feed entry's summary (a
    paywall or a teaser page: the feed says more)."""
    own = own_lines(text, (headline, title), summary)
    size = sum(len(line) for line in own)
    # a story names what its headline does; a wall, nothing of it
    if size <= WALL_TEXT_MAX and not (headline_terms(headline) and shows_headline(headline, "\n".join(own), 1)):
        walled = [line for line in own if any(f.search(line) for f in _WALL_FAMILIES)]
        families = sum(1 for f in _WALL_FAMILIES if any(f.search(line) for line in walled))
        if families >= 2 and sum(len(line) for line in walled) * 3 >= size * 2:
            return "the page shows its headline but, for text, what a wall says" + WALL_HINT
    if len(summary) >= SUMMARY_MIN:
        shown = sum(len(line) for line in own_lines(text, (headline, title)))  # the summary's lines count as its own
        if shown * 2 < len(summary):
            return (
                f"the page shows {shown:,} characters of text, its feed entry's summary {len(summary):,}; the summary is "
                "kept (a paywall or a teaser page?)"
            )
    return None


def feed_only(
    source: str,
    url: str,
    feed: FeedInfo,
    fetched: datetime,
    topic_list: tuple[TopicConfig, ...],
    *,
    backlog: bool,
    pending: bool,
    source_language: str | None = None,
) -> Processed:
    """The article as the feed described it, kept when its page failed."""
    title, text, note = _bounded(url, feed.title, feed.summary or "")
    language = textnorm.detect_language(f"{title}\n{text}", feed.language or source_language)
    canonical = urls.canonicalize(url)
    if feed.shared:  # one of several entries of one page: the fragment is what tells its story's URL apart
        canonical = f"{canonical}#{urlsplit(url).fragment}"
    aliases = (url,) if url != canonical else ()
    record = ArticleRecord(
        url=url,
        canonical_url=canonical,
        source=source,
        title=title,
        text=text,
        text_from="feed",
        published=feed.published,
        language=language,
        fetched=fetched,
        aliases=aliases,
        content_hash=None,
        signature=dedup.signature(title, text).to_bytes() if len(text) > 200 else None,
        index_title=textnorm.index_tokens(title),
        index_text=textnorm.index_tokens(text),
        backlog=backlog,
        page_pending=pending,
    )
    matches, near = score_topics(title, text, topic_list, language)
    return Processed(record, matches, note=note, near=near)


# A canonical link, so the Public Suffix List is loaded. Its language is declared (by the job's
# source), so the language model is not: crawler.warmup_langid loads it when a run needs it.
_WARM_UP_PAGE = (
    b"<html><head><title>Warm-up page</title><link rel='canonical' href='http://www.example.org/a'></head>"
    b"<body><article><h1>Warm-up page</h1>"
    b"<p>Researchers of two institutes met to discuss a joint laboratory for new materials and energy.</p>"
    b"</article></body></html>"
)


def warm_up() -> None:
    """Extracts a built-in page, loading what every worker would load on its first page (the Public
    Suffix List, trafilatura's and lxml's own start-up).

    Run by the extraction pool's forkserver before it forks workers, so that they share it.
    (The extensive date search's per-locale patterns are left to the first worker that needs
    them: a poll of a few plain pages should not wait for them. The language model is loaded
    by crawler.warmup_langid, when the run's first page needs it: see ``needs_language_model``.)
    """
    job = PageJob(
        "warm-up",
        "http://example.org/a",
        "http://example.org/a",
        _WARM_UP_PAGE,
        "text/html",
        datetime.now(UTC),
        source_language="en",
    )
    try:
        process_page(job, ())
    except Exception:  # a worker that loads things itself is slower, not wrong
        pass


# Set by a crawl child to "DIGEST:PATH" of its config (see crawler.config.checked_digest), so that
# its extraction pool's forkserver compiles the run's topics once for all workers (``warm_topics``).
POOL_TOPICS_ENV = "NEWSWATCH_POOL_TOPICS"


def warm_topics() -> None:
    """Compiles the run's topics and matches them once, building what a worker would on its first page
    (the compiled queries, their countries' gazetteers: ~0.2 s of CPU for the default topic).

    Run by the extraction pool's forkserver, which reads the crawl's config named by $NEWSWATCH_POOL_TOPICS;
    the workers forked from it find the queries compiled (kept by topic name with the query they came from, so a
    config that changed meanwhile is only slower, never wrong).
    """
    digest, _, path = os.environ.get(POOL_TOPICS_ENV, "").partition(":")
    if not path:
        return
    from crawler.config import load_config

    try:
        match_topics(WARM_UP_TITLE, WARM_UP_TEXT, load_config(path, checked=digest or None).topics, warm_up=True)
    except Exception:  # a worker that compiles its topics itself is slower, not wrong
        pass


def needs_language_model(job: PageJob) -> bool:
    """Whether this page's language will likely be told by the language model: neither its feed nor
    its source declares one (pages in Latin script then need the model; Cyrillic and CJK do not).

    The model costs a process ~0.5 s of CPU and ~70 MB to load: the extraction pool's forkserver loads
    it for all its workers when the run's first page needs it; otherwise a worker loads it only if a
    later page does.
    """
    return not (job.source_language or (job.feed is not None and job.feed.language))


def worker_start(owner: int) -> None:
    """An extraction worker ends when the crawl process that owns its pool is gone (no orphans after a SIGKILL).

    The worker is forked by the forkserver, not by its owner, and holds its own queue pipes open,
    so neither a parent-death signal nor an end-of-file would reach it: it watches its owner.
    """

    def watch() -> None:
        while process_alive(owner):
            time.sleep(0.5)
        os._exit(3)

    threading.Thread(target=watch, name="owner-watch", daemon=True).start()
