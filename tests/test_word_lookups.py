"""A field's words looked up for many terms at once: the words that start some name of the gazetteers and country
lists (looked up once for all their indexes), and a set's words (looked up by the set, not one node call each).
Each must find what a search of the field's words for each term finds, also for a name index made after the field
first looked."""

from __future__ import annotations

from crawler import topics
from crawler.topics import _FirstIndex, _pattern, compile_query, prepare

TEXT = (
    "Учёные Росатома и китайские исследователи обсудили исследования реакторов; the researchers of both "
    "academies researched reactors at 大学 and 大学生 laboratories. Исследовательский центр открыт."
)


def test_an_index_made_after_a_field_looked_up_names_first_words_still_finds_its_names() -> None:
    f = prepare("", TEXT).fields["text"]
    old = _FirstIndex()
    old.add(0, _pattern("исследователи", False)[0])
    assert old.candidates(f) == [0]
    stems, surfaces, heads = f.first_words()
    assert stems <= set(f.by_stem) and surfaces <= set(f.by_surface) and heads <= set(f.heads())
    new = _FirstIndex()  # its first words are new to every index: the field looks them up again
    new.add(1, _pattern("laboratories", False)[0])
    new.add(2, _pattern("обсуди", True)[0])
    new.add(3, _pattern("nowhere", False)[0])
    assert sorted(new.candidates(f)) == [1, 2]
    assert topics._FIRST_WORDS.version > 0


def test_a_set_of_words_finds_what_its_words_find_one_by_one_and_keeps_each_for_the_article() -> None:
    words = ["research*", "исследован*", "reactor*", "大学", "laboratories", "центр", "nowhere*", "открыт"]
    doc = prepare("", TEXT)
    q = compile_query(" OR ".join(words))
    found = q.occurrences(doc)
    assert found is not None
    expected = []
    for w in words:
        expected += compile_query(w).occurrences(prepare("", TEXT)) or []
    assert found == expected and len(found) == 9
    # each word's places are kept for the article: another query of one of them reads them
    leaves = [leaf for leaf in q._root.leaves() if leaf.label != "nowhere*"]
    assert all(doc.memo[leaf.key][1] for leaf in leaves)
