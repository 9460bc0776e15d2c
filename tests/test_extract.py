"""Extraction: article text and metadata from a page, without in-body teasers for other stories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crawler.extract import extract

BODY = [
    "Researchers from both universities will share a laboratory for polar materials from next spring.",
    "The laboratory will test steels and composites at temperatures down to minus sixty degrees.",
    "Funding comes from both governments and from three industrial partners, the organisers said.",
]


def page(middle: str) -> str:
    paras = "".join(f"<p>{p}</p>" for p in BODY[:2]) + middle + f"<p>{BODY[2]}</p>"
    return (
        "<html lang='en'><head><title>Joint lab opens</title>"
        "<meta property='article:published_time' content='2026-11-18T12:30:00+03:00'>"
        "<link rel='canonical' href='https://news.example.org/lab'></head><body>"
        "<nav><a href='/'>Home</a> <a href='/world'>World</a></nav>"
        f"<article><h1>Joint lab opens</h1>{paras}</article>"
        "<footer>© Example News. All rights reserved.</footer></body></html>"
    )


def test_text_metadata_and_no_boilerplate() -> None:
    ex = extract(page(""), "https://news.example.org/lab?utm_source=rss")
    assert ex is not None
    for sentence in BODY:
        assert sentence in ex.text
    assert "All rights reserved" not in ex.text and "Home" not in ex.text
    assert ex.title == "Joint lab opens" and not ex.text.startswith("Joint lab opens")  # headline not repeated
    assert ex.published == datetime(2026, 11, 18, 9, 30, tzinfo=UTC)
    assert ex.declared_url == "https://news.example.org/lab"


def test_read_also_teasers_are_dropped() -> None:
    for teaser in (
        "Читайте также: Россия и Китай подписали газовый контракт",
        "Read also: Navies begin joint exercise",
        "相关阅读：中俄举行联合军演",
    ):
        ex = extract(page(f"<p>{teaser}</p>"), "https://news.example.org/lab")
        assert ex is not None
        assert teaser not in ex.text
        assert all(sentence in ex.text for sentence in BODY)


def test_a_page_without_article_text_is_none() -> None:
    assert extract("<html><body><nav>Home</nav></body></html>", "https://example.org/") is None


def test_a_date_written_out_in_the_text_is_found_by_the_limited_date_parser() -> None:
    import htmldate.extractors

    from crawler import extract as extract_module

    body = "".join(f"<p>{p}</p>" for p in BODY)
    html = (
        "<html><head><title>Лаборатория</title></head><body><article><h1>Лаборатория</h1>"
        f"<div class='byline'><span>3 мая 2023 года</span></div>{body}</article></body></html>"
    )
    ex = extract(html, "https://news.example.org/lab")
    assert ex is not None and ex.published == datetime(2023, 5, 3, tzinfo=UTC)
    # htmldate's last-resort parser is ours, limited to a few languages (all ~200 cost seconds per worker)
    assert htmldate.extractors.get_external_parser() is extract_module._date_parser()


def test_category_tag_and_licence_scans_are_skipped_and_the_kept_fields_are_unchanged() -> None:
    import trafilatura

    import crawler.extract  # noqa: F401  (its import turns trafilatura's unused scans off)

    html = page(
        "<div class='tags'><a href='/tag/polar'>polar</a> <a href='/tag/steel'>steel</a></div>"
        "<p class='postmeta'><a href='/category/science/'>Science</a></p>"
    ).replace(
        "<footer>",
        "<footer><a rel='license' href='https://creativecommons.org/licenses/by-sa/4.0/'>CC BY-SA</a>",
    )
    doc = trafilatura.bare_extraction(html, url="https://news.example.org/lab", with_metadata=True)
    assert doc is not None and not doc.tags and not doc.categories and doc.license is None
    ex = extract(html, "https://news.example.org/lab")
    assert ex is not None and all(sentence in ex.text for sentence in BODY)
    assert ex.title == "Joint lab opens" and ex.published == datetime(2026, 11, 18, 9, 30, tzinfo=UTC)
    assert ex.declared_url is None  # the page's canonical URL is the one it was fetched from


def test_a_page_dated_the_next_day_east_of_utc_keeps_its_date() -> None:
    # Past midnight in Beijing or Vladivostok a page is dated a day UTC has not reached. htmldate took no date
    # after its machine's today and guessed from the rest: 2026-12-01 came out as 2026-01-01, and a date
    # without its hour as the 1st of this month, which then won over the feed's right date.
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
    for declared, published in (
        (
            f"{tomorrow}T01:00:00+08:00",
            datetime(tomorrow.year, tomorrow.month, tomorrow.day, 1, tzinfo=UTC) - timedelta(hours=8),
        ),
        (f"{tomorrow}", datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=UTC)),
    ):
        html = page("").replace("2026-11-18T12:30:00+03:00", declared)
        ex = extract(html, "https://news.example.org/lab")
        assert ex is not None and ex.published == published, (declared, ex and ex.published)


def test_a_page_whose_url_holds_its_date_keeps_the_time_it_declares() -> None:
    """htmldate took the date in a URL such as /2026/11/18/ before the page's own markup, so a news site's page
    declaring 12:30 Moscow time came out as midnight UTC: a listing's or sitemap's article, or `crawl --url`, stored
    it so (a feed's time mended it only on the same day), and `probe` showed 2026-11-20T00:00 for a page of 11:20."""
    url = "https://news.example.org/2026/11/18/lab.html"
    html = page("").replace("https://news.example.org/lab", url)  # its canonical URL, dated as news sites' are
    ex = extract(html, url)
    assert ex is not None and ex.published == datetime(2026, 11, 18, 9, 30, tzinfo=UTC)
    # without a date of its own, the page is still dated by its URL
    undated = html.replace("<meta property='article:published_time' content='2026-11-18T12:30:00+03:00'>", "")
    ex = extract(undated, url)
    assert ex is not None and ex.published == datetime(2026, 11, 18, tzinfo=UTC)
