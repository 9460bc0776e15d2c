"""Exact duplicates, near-duplicate stories and the persisted story index."""

from __future__ import annotations

import json
import pickle
import sqlite3
from pathlib import Path

import pytest

from crawler.dedup import SCHEMA, Signature, StoryIndex, content_hash, fingerprint, signature
from crawler.errors import StoreError

PAIRS = Path(__file__).resolve().parent.parent / "fixtures" / "stories" / "pairs.jsonl"
RECORDS = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines() if line]

# A story of several paragraphs, none of which appears in the fixtures.
STORY = [
    (
        "VLADIVOSTOK, March 3 -- Russian and Chinese shipbuilders agreed on Wednesday to design a "
        "class of ice-breaking bulk carriers for year-round voyages on the Northern Sea Route."
    ),
    (
        "The Zvezda shipyard near Vladivostok and Shanghai's Jiangnan Shipyard will share the work, "
        "with hulls welded in Shanghai and propulsion units installed in the Russian Far East."
    ),
    (
        "Sovcomflot said it had taken options on six of the vessels, each able to carry 70,000 tonnes "
        "of iron ore or grain through ice up to 1.8 metres thick."
    ),
    (
        "The agreement follows two years of model tests at the Krylov State Research Centre in St. "
        "Petersburg, where engineers tried out a new bow shape designed to cut fuel use by 15 percent."
    ),
    (
        "Chinese officials said the first ship could be delivered in 2029 if financing is arranged by "
        "the end of next year, and that a joint design bureau would open in Harbin this summer."
    ),
    (
        "Cargo traffic on the route reached 36 million tonnes last year, most of it liquefied gas "
        "and oil, according to the Rosatom-run Northern Sea Route directorate."
    ),
]
OTHER = [
    (
        "KAZAN, Oct. 9 -- A joint laboratory for battery recycling opened at Kazan Federal University "
        "on Monday with equipment supplied by a company from Ningbo."
    ),
    (
        "Researchers will test ways to recover lithium, cobalt and nickel from used electric-vehicle "
        "batteries, which Russia currently exports for processing."
    ),
    (
        "University rector Lenar Safin said that forty students would work in the laboratory each year "
        "and that the first patents were expected within three years."
    ),
    "The Chinese partner will receive rights to use the methods at its plants in Zhejiang.",
]


def text(paras: list[str]) -> str:
    return "\n\n".join(paras)


@pytest.fixture
def conn(tmp_path: Path) -> sqlite3.Connection:
    c = sqlite3.connect(tmp_path / "stories.db", isolation_level=None)
    # A real file; skip fsync so that each autocommitted statement stays cheap.
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("PRAGMA synchronous=OFF")
    for stmt in SCHEMA:
        c.execute(stmt)
    yield c
    c.close()


@pytest.fixture
def index(conn: sqlite3.Connection) -> StoryIndex:
    return StoryIndex(conn)


def test_content_hash_ignores_spacing_case_punctuation_and_invisible_characters() -> None:
    base = content_hash("Rosatom signed the contract, the company said.\n\nUnits 7 and 8 follow.")
    assert content_hash("  ROSATOM signed the contract the company said!\nUnits 7 and 8 follow") == base
    assert content_hash("Ros\u00adatom signed the\u200b contract — the company said… Units 7 and 8 follow.") == base
    # Full-width forms (NFKC) and Chinese text with line breaks inside it.
    assert content_hash("Ｒｏｓａｔｏｍ signed the contract, the company said. Units ７ and 8 follow.") == base
    assert content_hash("中俄科技合作，不断深化。") == content_hash("中俄科技\n合作 不断深化")
    assert content_hash("Ещё один договор") == content_hash("еще один договор")


def test_content_hash_differs_when_words_or_numbers_differ() -> None:
    base = content_hash("Units 7 and 8 will enter service in 2026.")
    assert content_hash("Units 3 and 4 will enter service in 2026.") != base
    assert content_hash("Units 7 and 8 will enter service in 2027.") != base
    assert content_hash("") != base


def test_signature_round_trips_through_bytes_and_pickle() -> None:
    sig = signature("Shipbuilders agree on Arctic carriers", text(STORY))
    assert Signature.from_bytes(sig.to_bytes()) == sig
    assert pickle.loads(pickle.dumps(sig)) == sig
    assert len(sig.bands) > 0 and len(sig.sketch) > 0
    empty = signature("", "")
    assert Signature.from_bytes(empty.to_bytes()) == empty


def test_corrupt_signature_bytes_raise_store_error() -> None:
    blob = signature("t", text(STORY)).to_bytes()
    with pytest.raises(StoreError):
        Signature.from_bytes(blob[:-3])
    with pytest.raises(StoreError):
        Signature.from_bytes(b"\x07garbage")


@pytest.mark.parametrize("kind", ["syndicated", "retitled", "edited", "truncated", "template"])
def test_labeled_copies_of_each_kind_join_one_story(kind: str, index: StoryIndex) -> None:
    pairs = [r for r in RECORDS if r["kind"] == kind]
    assert {r["language"] for r in pairs} == {"en", "ru", "zh"}
    for n, rec in enumerate(pairs):
        a, _ = index.assign(2 * n + 1, signature(**rec["a"]), f"a{n}")
        b, merged = index.assign(2 * n + 2, signature(**rec["b"]), f"b{n}")
        assert b == a, rec["id"]
        assert merged == ()


def test_labeled_same_subject_events_stay_apart(index: StoryIndex) -> None:
    pairs = [r for r in RECORDS if r["label"] == "different"]
    assert len(pairs) >= 30
    for n, rec in enumerate(pairs):
        index.assign(2 * n + 1, signature(**rec["a"]), f"a{n}")
        b, _ = index.assign(2 * n + 2, signature(**rec["b"]), f"b{n}")
        assert b == f"b{n}", rec["id"]


def test_exact_copy_and_unrelated_article(index: StoryIndex) -> None:
    assert index.assign(1, signature("Arctic carriers", text(STORY)), "s1") == ("s1", ())
    assert index.assign(2, signature("Other title", text(STORY).upper()), "s2") == ("s1", ())
    assert index.assign(3, signature("Battery lab", text(OTHER)), "s3") == ("s3", ())
    assert index.story_of(2) == "s1" and index.story_of(3) == "s3" and index.story_of(99) is None


def test_templated_notices_with_other_figures_stay_apart(index: StoryIndex) -> None:
    notice = (
        "The state corporation said on {day} that the first concrete had been poured at unit {u} "
        "of the {plant} nuclear power plant in {prov} province. The unit will use a VVER-1200 "
        "reactor of generation III+ design and is due to enter commercial operation in {year}. "
        "Russia is responsible for the design of the nuclear island and for the supply of key "
        "equipment, while the Chinese side builds the plant."
    )
    a = notice.format(day="Wednesday", u=7, plant="Tianwan", prov="Jiangsu", year=2026)
    b = notice.format(day="Thursday", u=3, plant="Xudapu", prov="Liaoning", year=2028)
    index.assign(1, signature("Construction starts", a), "s1")
    assert index.assign(2, signature("Construction starts", b), "s2") == ("s2", ())


def test_short_texts_must_be_near_exact(index: StoryIndex) -> None:
    index.assign(1, signature("", "Photo: Xinhua. All rights reserved. Share this story."), "s1")
    short_other = "Photo: Xinhua. All rights reserved. Reactor contract signed in Beijing."
    assert index.assign(2, signature("", short_other), "s2") == ("s2", ())
    assert index.assign(3, signature("", "Photo: XINHUA - all rights reserved; share this story"), "s3")[0] == "s1"


def test_merge_keeps_oldest_story_and_reports_merged_ids(index: StoryIndex) -> None:
    # The first half and the second half of an article share nothing: two stories, until
    # the full article arrives and bridges them.
    assert index.assign(10, signature("Arctic carriers", text(OTHER)), "s0")[0] == "s0"
    assert index.assign(11, signature("Part one", text(STORY[:3])), "s1") == ("s1", ())
    assert index.assign(12, signature("Part two", text(STORY[3:])), "s2") == ("s2", ())
    story, merged = index.assign(13, signature("Full story", text(STORY)), "s3")
    assert (story, merged) == ("s1", ("s2",))
    assert [index.story_of(i) for i in (10, 11, 12, 13)] == ["s0", "s1", "s1", "s1"]
    # The merged story's articles were relabelled in our tables: a copy of part two joins s1.
    assert index.assign(14, signature("Again", text(STORY[3:])), "s4") == ("s1", ())


def test_oldest_wins_by_registration_order_not_by_string(index: StoryIndex) -> None:
    index.assign(1, signature("a", text(STORY[:3])), "story-9")
    index.assign(2, signature("b", text(STORY[3:])), "story-10")
    assert index.assign(3, signature("c", text(STORY)), "story-11") == ("story-9", ("story-10",))


def test_roundup_joins_one_story_without_gluing_stories_together(index: StoryIndex) -> None:
    # A round-up carrying short pieces of several stories must not merge those stories.
    pieces = [STORY[0] + " " + STORY[1], OTHER[0] + " " + OTHER[1]]
    extra = [
        (
            "Novosibirsk physicists launched a compact synchrotron light source on Friday, the first of "
            "its kind built with parts from a Chinese accelerator maker in Hefei, its director said."
        ),
        (
            "A Russian-Chinese venture in Tianjin began assembling electric buses for Moscow, with "
            "batteries from Chinese suppliers and bodies welded at a plant outside St. Petersburg."
        ),
    ]
    pieces += extra
    for i, piece in enumerate(pieces):
        index.assign(i + 1, signature(f"piece {i}", piece), f"s{i}")
    _story, merged = index.assign(9, signature("Week in review", "\n\n".join(pieces)), "roundup")
    assert merged == ()
    assert len({index.story_of(i + 1) for i in range(len(pieces))}) == len(pieces)


def test_story_survives_reopening_the_database(tmp_path: Path) -> None:
    path = tmp_path / "persist.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for stmt in SCHEMA:
        conn.execute(stmt)
    conn.execute("BEGIN")
    StoryIndex(conn).assign(1, signature("Arctic carriers", text(STORY)), "s1")
    conn.execute("COMMIT")
    conn.close()
    conn = sqlite3.connect(path, isolation_level=None)
    for stmt in SCHEMA:  # re-running the schema is harmless
        conn.execute(stmt)
    copy = text(STORY[:4]) + "\n\nRead more on our website."
    assert StoryIndex(conn).assign(2, signature("New title", copy), "s2") == ("s1", ())
    conn.close()


def test_assign_does_not_commit_the_callers_transaction(conn: sqlite3.Connection, index: StoryIndex) -> None:
    conn.execute("BEGIN")
    index.assign(1, signature("Arctic carriers", text(STORY)), "s1")
    assert conn.in_transaction
    conn.execute("ROLLBACK")
    assert conn.execute("SELECT count(*) FROM _story_sig").fetchone()[0] == 0
    assert index.assign(2, signature("Arctic carriers", text(STORY)), "s2") == ("s2", ())


def test_remove_forgets_article_and_empty_story(conn: sqlite3.Connection, index: StoryIndex) -> None:
    index.assign(1, signature("Arctic carriers", text(STORY)), "s1")
    index.assign(2, signature("Copy", text(STORY[:4])), "s2")
    index.remove(1)
    assert index.story_of(1) is None
    # The story lives on through its other article.
    assert index.assign(3, signature("Again", text(STORY)), "s3") == ("s1", ())
    for aid in (2, 3):
        index.remove(aid)
    index.remove(42)  # unknown ids are ignored
    for table in ("_story_sig", "_story_band", "_story_cluster"):
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0
    assert index.assign(4, signature("Arctic carriers", text(STORY)), "s4") == ("s4", ())


def test_reassigning_an_article_replaces_its_signature(conn: sqlite3.Connection, index: StoryIndex) -> None:
    # A feed entry stored with its summary later gets its full page.
    index.assign(1, signature("Arctic carriers", text(OTHER)), "s1")
    index.assign(1, signature("Arctic carriers", text(STORY)), "ignored")
    assert index.story_of(1) == "s1"
    assert conn.execute("SELECT count(*) FROM _story_sig").fetchone()[0] == 1
    assert index.assign(2, signature("Copy", text(STORY)), "s2") == ("s1", ())
    assert index.assign(3, signature("Lab", text(OTHER)), "s3") == ("s3", ())


def test_story_id_already_in_use_is_a_store_error(index: StoryIndex) -> None:
    index.assign(1, signature("Arctic carriers", text(STORY)), "s1")
    with pytest.raises(StoreError):
        index.assign(2, signature("Battery lab", text(OTHER)), "s1")


def test_chinese_is_shingled_on_characters(index: StoryIndex) -> None:
    zh = next(r for r in RECORDS if r["language"] == "zh" and r["label"] == "same")
    body = zh["a"]["text"]
    # The same Chinese text with spaces between characters is the same story.
    spaced = " ".join(body)
    index.assign(1, signature(zh["a"]["title"], body), "s1")
    assert index.assign(2, signature("", spaced), "s2") == ("s1", ())


def test_fingerprint_is_the_content_hash_and_signature_in_one_pass() -> None:
    long = " ".join(f"Researchers met in Harbin on day {i} to plan the joint laboratory." for i in range(30))
    for title, text in (
        ("Joint lab", long),
        ("Короткая заметка", "Всего три слова."),
        ("中俄", "中俄举行联合军演" * 20),
    ):
        assert fingerprint(title, text) == (content_hash(text), signature(title, text))


def test_sketch_overlap_counts_match_the_sets_below_the_cut_off() -> None:
    import random

    from crawler.dedup import _overlap

    rng = random.Random(7)
    for _ in range(200):
        pool = [rng.getrandbits(32) for _ in range(600)]
        a = tuple(sorted(set(rng.sample(pool, rng.randint(1, 300)))))
        b = tuple(sorted(set(rng.sample(pool, rng.randint(1, 300)))))
        cap = rng.choice((8, 32, 256))
        cut = min(a[-1] if len(a) >= cap else 2**32, b[-1] if len(b) >= cap else 2**32)
        sa, sb = {x for x in a if x <= cut}, {x for x in b if x <= cut}
        assert _overlap(a, b, cap) == (len(sa & sb), len(sa | sb), len(sa), len(sb))
