"""A model topic's scoring reads only what it needs (a truth value per zone, the labels of the features that raise
p, the sides of PARTNERS once per article): it must give exactly what the full path gives, every hit and span."""

from __future__ import annotations

import functools
import itertools
import math
import random
from dataclasses import replace
from pathlib import Path

import pytest

from crawler.config import load_config
from crawler.encoder import EncoderTerm
from crawler.evaluate import Story, load_labeled
from crawler.model import BODY_FORMS, ZONES, Scorer, read_part, zone_inputs
from crawler.topics import (
    TEXT,
    TITLE,
    Document,
    Match,
    _Partners,
    _walk,
    compile_query,
    hit_zones,
    located,
    prepare,
    shown_hits,
    shown_labels,
    with_definitions,
    zones_hit,
)
from tests.support.topic import CONFIG

LABELED = Path(__file__).resolve().parents[1] / "fixtures" / "topics" / "labeled.jsonl"


@functools.cache
def _topic():  # type: ignore[no-untyped-def]
    return load_config(CONFIG).topics[0]


@functools.cache
def _documents() -> tuple[tuple[Document, str], ...]:
    """The labeled stories, and per language a long article stitched from them (its body well past the lead)."""
    stories = load_labeled(LABELED)
    out = [(prepare(s.title, s.text), s.language) for s in stories]
    rng = random.Random(3)
    for lang in ("en", "ru", "zh"):
        own: list[Story] = [s for s in stories if s.language == lang]
        picked = rng.sample(own, min(12, len(own)))
        out.append((prepare(picked[0].title, "\n\n".join(s.text for s in picked)), lang))
    return tuple(out)


def _reference(scorer: Scorer, doc: Document, language: str, spans: bool) -> Match:
    """The model's match through the full path: every feature's set of hits, counted per zone, in the part of the
    article the model reads."""
    model = scorer.model
    whole = doc  # an encoder block reads its own part of the whole article
    doc = read_part(doc, model.text_chars)
    z = model.bias
    lang_w = dict(model.languages).get(language, 0.0)
    if lang_w:
        z += lang_w
    positive = []
    for f, q in scorer.features:
        hits = q.hits_prepared(doc)
        if hits is None:
            continue
        total = 0.0
        for w, x in zip(f.weights, zone_inputs(doc, hits, model.body)):
            if w and x:
                total += w * x
        z += total
        if total > 0:
            positive.append((total, hits))
    z = _sentences(scorer, doc, z)
    if model.length is not None:  # W x ln(1 + the characters of the text read), the title not counted
        z += model.length.weight * math.log1p(len(doc.text))
    if model.encoder is not None:  # its own exactness is tests/test_model_encoder.py's (np.dot of the vector)
        z += EncoderTerm(model.encoder).value(whole.title, whole.text)
    p = 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0
    positive.sort(key=lambda t: -t[0])
    labels: dict[str, None] = {}
    raised: set[tuple[str, str, int, int]] = set()
    for _total, hits in positive:
        shown = shown_hits(hits)
        labels.update(dict.fromkeys(sorted({h[0] for h in shown})))
        raised |= shown
    return Match(round(10.0 * p, 3), tuple(labels), located(doc, raised) if spans else ())


def _sentences(scorer: Scorer, doc: Document, z: float) -> float:
    """z with the sentence inputs through the full path: each kind's set of hits, the sentences they lie in."""
    model = scorer.model
    text = doc.fields[TEXT]
    n = (text.positions[-1] >> text.shift) + 1 if text.positions else 1
    in_text: dict[str, set[int]] = {}
    in_title: dict[str, bool] = {}
    for k in model.kinds:
        hits = compile_query(k.expression, dict(model.sets)).hits_prepared(doc) or set()
        in_text[k.name] = {first >> text.shift for _label, field, first, _last in hits if field != TITLE}
        in_title[k.name] = any(field == TITLE for _label, field, _first, _last in hits)
    for x in model.sentence_inputs:
        if x.measure == "title":
            value = float(all(any(in_title[k] for k in g) for g in x.all) and not any(in_title[k] for k in x.none))
        else:
            counted = set.intersection(*(set().union(*(in_text[k] for k in g)) for g in x.all))
            counted -= set().union(*(in_text[k] for k in x.none))
            if x.within:  # the sentences whose first token starts before the window's end
                counted = {s for s in counted if _sentence_start(text, s) < x.within}
            value = {"share": len(counted) / n, "log": math.log1p(len(counted)), "first": float(0 in counted)}[
                x.measure
            ]
        if x.weight and value:
            z += x.weight * value
    return z


def _sentence_start(text, sentence: int) -> int:  # type: ignore[no-untyped-def]
    return min(start for position, start in zip(text.positions, text.starts) if position >> text.shift == sentence)


@pytest.mark.parametrize("body", BODY_FORMS)
def test_a_model_scores_every_story_as_the_full_path_does(body: str) -> None:
    topic = _topic()
    scorer = Scorer(replace(topic.model, body=body))
    compared = raised = 0
    for doc, lang in _documents():
        for spans in (True, False):
            got = scorer.score(doc, lang, spans).match
            assert got == _reference(scorer, doc, lang, spans)
            compared += 1
            raised += bool(got.hits)
    assert compared >= 200 and raised >= 50  # the sample reaches the paths that collect hits


def test_the_truth_of_each_zone_is_whether_it_holds_a_hit() -> None:
    scorer = _topic().model.scorer()
    seen = [0, 0, 0]
    for doc, _lang in _documents():
        for _f, q in scorer.features:
            occs = q.occurrences(doc)
            if occs is None:
                assert q.hits_prepared(doc) is None
                continue
            hits = q.hits_prepared(doc)
            assert hits == {h for o in occs for h in o[3]}
            truths = zones_hit(doc, occs)
            assert truths == tuple(n > 0 for n in hit_zones(doc, hits))
            assert shown_labels(occs) == {h[0] for h in shown_hits(hits)}
            for i, t in enumerate(truths):
                seen[i] += t
    assert all(n >= 5 for n in seen), seen  # title, lead and body each held hits


def test_partners_of_the_same_sides_give_the_same_places_alone_or_after_one_another() -> None:
    sets = dict(load_config(CONFIG).sets)
    partners = [f.expression for f in _topic().model.features if f.expression.startswith("PARTNERS(")]
    assert len(partners) >= 2 and ZONES[0] == "any"
    # other sides on the same article keep their own places: the sides swapped, a third country for one
    partners += ["PARTNERS(@russia, @china, @research_act)", "PARTNERS(@china, country:US, @cooperation, @off_topic)"]
    queries = [compile_query(with_definitions(e, sets)) for e in partners]
    held = 0
    for doc, _lang in _documents():
        alone = [q.hits_prepared(Document(doc.title, doc.text)) for q in queries]
        for order in (queries, queries[::-1]):
            shared = Document(doc.title, doc.text)  # the sides' places kept from the first for the next
            got = {id(q): q.hits_prepared(shared) for q in order}
            assert [got[id(q)] for q in queries] == alone
        held += any(a is not None for a in alone)
    assert held >= 20


def test_whether_a_third_country_leads_is_kept_apart_for_the_headline_and_the_whole_text() -> None:
    # the sides in the title, a third country only in the body: it leads the whole text, not the headline. A
    # PARTNERS evaluation asks the whole text only when the title lacks a side, so the answers kept with the
    # sides are compared with fresh ones directly, every flag asked first and last
    query = compile_query("PARTNERS(country:CN, country:RU, cooperation)")
    partners = next(n for n in _walk(query._root) if isinstance(n, _Partners))
    title = "China and Russia agree on research cooperation"
    text = (
        "Kazakhstan will host the joint laboratory, the ministry of Kazakhstan said on Monday. "
        "Scientists from Kazakhstan and China will work there. Kazakhstan pays for the building."
    )
    flags = list(itertools.product((True, False), repeat=3))
    doc = prepare(title, text)
    oa, ob = partners.a.eval(doc)[1], partners.b.eval(doc)[1]
    fresh = {f: partners._third_country_leads(doc, oa, ob, *f) for f in flags}
    assert fresh[True, True, False] and not fresh[True, True, True]  # the story tells headline from text
    for order in (flags, flags[::-1]):
        doc = prepare(title, text)
        sides = partners._sides(doc, partners.a.eval(doc)[1], partners.b.eval(doc)[1])
        assert {f: partners._leads(doc, sides, *f) for f in order} == fresh
    assert query.hits_prepared(prepare(title, text)) is not None  # the headline holds: Kazakhstan is not there
