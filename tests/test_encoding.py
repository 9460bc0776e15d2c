"""Golden decoding cases: exact text for pages in cp1251, koi8-r, GBK/GB18030 with right, missing or lying charsets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawler.encoding import Decoded, charset_from_content_type, decode_html, normalize_charset

CASES_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "encodings"
CASES = json.loads((CASES_DIR / "cases.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_case_decodes_exactly(name: str) -> None:
    case = CASES[name]
    body = (CASES_DIR / f"{name}.bin").read_bytes()
    expected = (CASES_DIR / f"{name}.txt").read_bytes().decode("utf-8")
    decoded = decode_html(body, case["content_type"])
    assert "\ufffd" not in decoded.text
    assert decoded.text == expected
    if case["codec"]:
        assert decoded.encoding == case["codec"]


def test_sources_say_how_the_codec_was_chosen() -> None:
    def source(name: str) -> str:
        case = CASES[name]
        return decode_html((CASES_DIR / f"{name}.bin").read_bytes(), case["content_type"]).source

    assert source("cp1251-http") == "http"
    assert source("cp1251-meta") == "meta"
    assert source("cp1251-http-equiv") == "meta"
    assert source("cp1251-xml-declaration") == "xml"
    assert source("cp1251-header-says-utf8") == "detected"
    assert source("cp1251-header-utf8-meta-right") == "meta"
    assert source("koi8r-header-says-cp1251") == "detected"
    assert source("utf8-bom-header-cp1251") == "bom"
    assert source("gbk-http-gb2312") == "http"


@pytest.mark.parametrize(
    ("header", "label"),
    [
        ("text/html; charset=UTF-8", "utf-8"),
        ('text/html; charset="windows-1251"', "windows-1251"),
        ("text/html;charset=gb2312;q=1", "gb2312"),
        ("text/html", None),
        (None, None),
        ("", None),
    ],
)
def test_charset_from_content_type(header: str | None, label: str | None) -> None:
    assert charset_from_content_type(header) == label


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("gb2312", "gb18030"),
        ("GBK", "gb18030"),
        ("iso-8859-1", "cp1252"),
        ("latin1", "cp1252"),
        ("us-ascii", "cp1252"),
        ("windows-1251", "cp1251"),
        ("koi8-r", "koi8-r"),
        ("utf8", "utf-8"),
        ("x-no-such-charset", None),
    ],
)
def test_labels_map_to_browser_codecs(label: str, codec: str | None) -> None:
    assert normalize_charset(label) == codec


def test_unknown_declared_charset_falls_through_to_detection() -> None:
    text = "<p>Российские учёные представили новый сверхпроводник для линий электропередачи.</p>"
    decoded = decode_html(text.encode("cp1251"), "text/html; charset=x-unknown-thing")
    assert decoded == Decoded(text, "cp1251", "detected")


def test_truncated_utf8_tail_is_dropped_not_replaced() -> None:
    text = "<p>中俄科学家将加强学术交流</p>"
    body = text.encode("utf-8")[:-5]  # "</p>" and one byte of "流" cut off
    decoded = decode_html(body, "text/html; charset=utf-8")
    assert "\ufffd" not in decoded.text
    assert decoded.encoding == "utf-8"
    assert decoded.text == "<p>中俄科学家将加强学术交"


def test_broken_utf8_with_a_stray_byte_stays_utf8() -> None:
    text = "<p>" + "Учёные России и Китая создадут совместную лабораторию. " * 40 + "</p>"
    cut = len(text[:300].encode("utf-8"))  # a character boundary
    raw = text.encode("utf-8")
    body = raw[:cut] + b"\xff" + raw[cut:]
    decoded = decode_html(body, "text/html; charset=utf-8")
    assert decoded.encoding == "utf-8"
    assert decoded.text.count("\ufffd") == 1
    assert decoded.text.replace("\ufffd", "") == text


def test_empty_body() -> None:
    assert decode_html(b"", None).text == ""


def test_what_a_reader_cannot_see_is_dropped_and_a_reference_to_no_character_is_ufffd() -> None:
    from crawler.encoding import html_char_refs, visible

    assert visible("a\x00b\x1bc\x7fd\x85e\ufffef\tg\nh\ri") == "abcdef\tg\nh\ri"
    assert visible("a\x0bb\x0cc") == "a b c" and visible("a\ud800b") == "a\ufffdb"
    assert visible("Китай 中国") == "Китай 中国"
    assert html_char_refs("a&#x1B;b&#27c&#0;d&#xD800;e&#x0C;f&#233;g&#x9;h") == "abc&#xFFFD;d&#xFFFD;e f&#233;g&#x9;h"
    # a terminal's escape sequence goes whole (its parameters are no text), in a page as in what is stored
    assert html_char_refs("<p>a&#27;]0;owned&#7;&#x1b;[2J&#27;[31mb</p>") == "<p>ab</p>"
    assert visible("a\x1b]0;owned\x07\x1b[2J\x1b[31mb\x9b1mc") == "abc"


def test_a_terminals_escape_sequence_in_a_page_as_its_characters_goes_whole() -> None:
    # Written with the characters themselves (not references), the extractor dropped ESC or CSI and kept the rest: a
    # page's title and text were stored as 'Port opens [31mred[0m now', ']0;ownedred', '31mred0m'
    from crawler.encoding import html_char_refs
    from crawler.extract import extract

    assert html_char_refs("<p>a\x1b[31mb\x1b[0mc\x1b]0;owned\x07d\x9b1me\x9b0m</p>") == "<p>abcde</p>"
    for dirt in ("\x1b[31mred\x1b[0m", "\x9b31mred\x9b0m", "\x1b]0;owned\x07red", "\x1b]0;owned\x1b\\red"):
        title = f"Port of Sabetta opens {dirt} now"
        body = "".join(
            f"<p>Part {k} of the story: the port of Sabetta took its first {dirt} grain ship from Novosibirsk on Monday,"
            " weeks after the agreement was signed.</p>"
            for k in range(5)
        )
        ex = extract(
            f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>{body}</article></body></html>",
            "https://example.org/a",
        )
        assert ex is not None and ex.title == "Port of Sabetta opens red now", (dirt, ex and ex.title)
        assert "its first red grain ship" in ex.text and "[" not in ex.text and "owned" not in ex.text, (dirt, ex.text)
