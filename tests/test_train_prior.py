"""`topics train --prior MODEL`: a model adapted to new labeled stories, pulled towards MODEL's weights."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from crawler.model import ZONES, fingerprint, load_model
from scheduler.cli import cli
from tests.support.topic import CONFIG, model_data
from tests.support.topic import topics_train as _train

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "fixtures" / "topics" / "heldout" / "dev.jsonl"
SHIPPED = ROOT / "crawler" / "data" / "models" / "china-russia-st.json"

SETS = {
    "coop": "cooperat* OR joint OR together",
    "science": "scien* OR research* OR laborator*",
    "sport": "sport* OR football",
    "space": "rocket* OR satellite*",
    "cooking": "cook* OR recipe*",
}
PRIOR = {"@science": 2.0, "@sport": -2.0, "@space": 1.0}  # "any" weights; @space: no story below names it
TRAINED = "2026-01-02T03:04:05+00:00"


def _config(tmp_path: Path, sets: dict[str, str] = SETS, model: str = "") -> Path:
    cfg = tmp_path / "newswatch.toml"
    lines = ['[storage]\ndatabase = "nw.db"\n\n[sets]'] + [f"{k} = '{v}'" for k, v in sets.items()]
    lines.append('\n[[topics]]\nname = "t"\nquery = "@coop"')
    if model:
        lines.append(f'model = "{model}"')
    cfg.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return cfg


def _prior(
    tmp_path: Path,
    weights: dict[str, float] = PRIOR,
    fitted_at: float = 0.5,
    fingerprints: dict[str, str] | None = None,
    name: str = "prior.json",
    sentences: dict | None = None,
) -> Path:
    """A model file as 'topics train' writes one (the threshold it was fitted at folded into the bias)."""
    features = [
        {
            "expression": expr,
            "fingerprint": (fingerprints or {}).get(expr, fingerprint(expr, SETS)),
            "weights": {"any": w, "title": 0.0, "lead": 0.0, "body": 0.0},
        }
        for expr, w in weights.items()
    ]
    data = model_data(
        features,
        languages={"en": 0.25},
        threshold={"p": 0.5, "fitted_at": fitted_at, "by_language": {}},
        training={"date": TRAINED},
        **({"sentences": sentences} if sentences else {}),
    )
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _stories(tmp_path: Path) -> list[Path]:
    """Two labeled files: joint research (relevant), joint talk (not), and joint football robots, which the
    stories call relevant where the prior's @sport says otherwise."""
    files = []
    for f in range(2):
        rows = []
        for n in range(6):
            k = f"{f}-{n}"
            rows += [
                {
                    "id": f"r{k}",
                    "title": f"Joint research lab {k}",
                    "text": "Scientists do research together.",
                    "label": 1,
                },
                {
                    "id": f"s{k}",
                    "title": f"Joint football robots {k}",
                    "text": "Engineers build them together.",
                    "label": 1,
                },
                {"id": f"x{k}", "title": f"Joint statement {k}", "text": "They spoke together at length.", "label": 0},
                {"id": f"y{k}", "title": f"Joint parade {k}", "text": "They marched together.", "label": 0},
            ]
        path = tmp_path / f"labeled{f}.jsonl"
        path.write_text("\n".join(json.dumps({**r, "language": "en"}) for r in rows) + "\n", encoding="utf-8")
        files.append(path)
    return files


def _weights(model: dict) -> dict[str, tuple[float, ...]]:
    return {f["expression"]: tuple(f["weights"][z] for z in ZONES) for f in model["features"]}


def test_with_a_huge_pull_the_adapted_model_is_the_prior_and_a_new_feature_stays_at_0(tmp_path: Path) -> None:
    cfg, out = _config(tmp_path), tmp_path / "m.json"
    prior = _prior(tmp_path)
    code, output = _train(
        cfg, _stories(tmp_path), out, "--prior", str(prior), "--pull", "1e9", "--features", "@cooking"
    )
    assert code == 0, output
    model = json.loads(out.read_text(encoding="utf-8"))
    assert model["bias"] == pytest.approx(-1.0, abs=1e-5)
    assert model["languages"] == {"en": pytest.approx(0.25, abs=1e-5)}
    got = _weights(model)
    assert set(got) == set(PRIOR)  # @cooking, new, started at 0 and stayed there: not written
    for expr, w in PRIOR.items():
        assert got[expr] == pytest.approx((w, 0.0, 0.0, 0.0), abs=1e-5)
    assert model["training"]["candidates"] == 4
    # the threshold the prior was fitted at is taken out of its bias, and the new one folded in
    prior = _prior(tmp_path, fitted_at=0.3, name="at03.json")
    for threshold, bias in (("0.3", -1.0), ("0.5", -1.0 - 0.8472979)):  # logit(0.3) = -0.8473: stricter
        code, output = _train(
            cfg, _stories(tmp_path), out, "--prior", str(prior), "--pull", "1e9", "--threshold", threshold
        )
        assert code == 0, output
        assert json.loads(out.read_text(encoding="utf-8"))["bias"] == pytest.approx(bias, abs=1e-4)


def test_a_feature_the_stories_contradict_moves_and_one_they_do_not_name_stays(tmp_path: Path) -> None:
    cfg, out = _config(tmp_path), tmp_path / "m.json"
    prior = _prior(tmp_path)
    code, output = _train(cfg, _stories(tmp_path), out, "--prior", str(prior))
    assert code == 0, output
    model = json.loads(out.read_text(encoding="utf-8"))
    got = _weights(model)
    assert got["@sport"][0] > PRIOR["@sport"] + 0.5  # relevant football robots: @sport counts less against
    assert got["@space"] == (1.0, 0.0, 0.0, 0.0)  # no story names it: left alone, exactly
    assert model["training"]["options"]["pull"] == 3.0 and "C" not in model["training"]["options"]
    assert "L2 towards " in output and "pull 3)" in output


def test_cross_validation_prints_the_prior_as_it_is_on_the_same_stories_as_topics_eval_measures_it(
    tmp_path: Path,
) -> None:
    cfg, out = _config(tmp_path), tmp_path / "m.json"
    prior = _prior(tmp_path)
    files = _stories(tmp_path)
    code, output = _train(cfg, files, out, "--prior", str(prior), "--pull", "0.5")  # a dozen stories: a light pull
    assert code == 0, output
    assert "cross-validated (leave one file out" in output
    assert f"{prior} as it is, on the same stories" in output
    figures = json.loads(out.read_text(encoding="utf-8"))["training"]["figures"]
    own, adapted = figures["prior"]["all"], figures["cross_validated"]["all"]
    assert own["fn"] == 12 and own["fp"] == 0  # the prior misses every football robot
    assert adapted["fn"] + adapted["fp"] < own["fn"] + own["fp"]
    line = f"adapted, cross-validated {adapted['fn'] + adapted['fp']} (en "
    assert line in output and f"{prior} as it is 12 (en 12)" in output
    # the prior's figures are what `topics eval` says of it as the topic's model
    (tmp_path / "eval").mkdir()
    cfg_eval = _config(tmp_path / "eval", model=str(prior))
    total = {"tp": 0, "fp": 0, "fn": 0}
    for f in files:
        result = CliRunner().invoke(cli, ["-c", str(cfg_eval), "topics", "eval", str(f), "--json"])
        assert result.exit_code == 0, result.output
        (ev,) = json.loads(result.output)
        for k in total:
            total[k] += ev["all"][k]
    assert total == {k: own[k] for k in total}
    # one file, no cross-validation: the prior's figures still, and how to get one to compare
    code, output = _train(cfg, files[:1], out, "--prior", str(prior))
    assert code == 0, output
    assert "as it is, on the same stories" in output and "for a cross-validated figure" in output


def test_the_adapted_model_records_its_prior(tmp_path: Path) -> None:
    cfg, out = _config(tmp_path), tmp_path / "m.json"
    prior = _prior(tmp_path)
    code, output = _train(cfg, _stories(tmp_path), out, "--prior", str(prior), "--folds", "2")
    assert code == 0, output
    training = json.loads(out.read_text(encoding="utf-8"))["training"]
    assert training["prior"] == {
        "model": str(prior),
        "sha256": hashlib.sha256(prior.read_bytes()).hexdigest(),
        "digest": load_model(str(prior), tmp_path).digest,
        "trained": TRAINED,
        "training": {"date": TRAINED},  # the prior's own record (its figures left out): how its weights came to be
    }
    assert training["options"]["penalty"] == "l2 towards the prior" and "scipy" in training
    # adapting the adapted model keeps the whole chain: its prior's options and files, and their prior
    again = tmp_path / "m2.json"
    code, output = _train(cfg, _stories(tmp_path), again, "--prior", str(out), "--folds", "2")
    assert code == 0, output
    chain = json.loads(again.read_text(encoding="utf-8"))["training"]["prior"]["training"]
    assert chain["options"] == training["options"] and chain["files"] == training["files"]
    assert chain["prior"]["model"] == str(prior) and "figures" not in chain
    # it loads as a topic's model
    code = CliRunner().invoke(cli, ["-c", str(_config(tmp_path, model="m.json")), "check"]).exit_code
    assert code == 0


SENTENCES = {  # a headline of sport counts against a story, as @sport does
    "kinds": {"sport": "@sport", "sci": "@science"},
    "fingerprints": {"sport": fingerprint("@sport", SETS), "sci": fingerprint("@science", SETS)},
    "inputs": [
        {"name": "sport_title", "all": [["sport"]], "none": ["sci"], "measure": "title", "weight": -1.0},
        {"name": "sci_share", "all": [["sci"]], "none": [], "measure": "share", "weight": 0.5},
    ],
}


def test_a_priors_sentence_inputs_are_fitted_pulled_towards_its_weights_and_written(tmp_path: Path) -> None:
    cfg, files = _config(tmp_path), _stories(tmp_path)
    prior = _prior(tmp_path, sentences=SENTENCES)
    held, out = tmp_path / "held.json", tmp_path / "m.json"
    code, output = _train(cfg, files, held, "--prior", str(prior), "--pull", "1e9")
    assert code == 0, output
    (note,) = [line for line in output.splitlines() if "sentence inputs" in line]
    assert "2 sentence inputs" in note and "sport_title, sci_share" in note and "fitted too" in note
    model = json.loads(held.read_text(encoding="utf-8"))
    assert model["sentences"]["kinds"] == SENTENCES["kinds"]
    assert model["sentences"]["fingerprints"] == SENTENCES["fingerprints"]
    assert [(x["name"], x["all"], x["none"], x["measure"]) for x in model["sentences"]["inputs"]] == [
        (x["name"], x["all"], x["none"], x["measure"]) for x in SENTENCES["inputs"]
    ]
    assert [x["weight"] for x in model["sentences"]["inputs"]] == pytest.approx([-1.0, 0.5], abs=1e-5)
    assert "sentences.inputs" in model["about"]
    # the prior as it is scores with its sentence inputs: its own figures are what topics eval says of it
    _assert_prior_figures_are_evals(tmp_path, files, model)
    # pulled as hard as the features: the stories call the football robots relevant, so the sport headline's
    # weight rises from the prior's -1; the stories name no science in a sport headline's story, so sci_share moves
    # only as far as the research stories carry it
    code, output = _train(cfg, files, out, "--prior", str(prior))
    assert code == 0, output
    fitted = {x["name"]: x["weight"] for x in json.loads(out.read_text(encoding="utf-8"))["sentences"]["inputs"]}
    assert fitted["sport_title"] > -1.0 + 0.1
    code = CliRunner().invoke(cli, ["-c", str(_config(tmp_path, model="m.json")), "check"]).exit_code
    assert code == 0


def _assert_prior_figures_are_evals(tmp_path: Path, files: list[Path], model: dict[str, Any]) -> None:
    """The figures a trained model's file gives for its prior (prior.json) on ``files`` are topics eval's."""
    both = tmp_path / "both.jsonl"
    both.write_text("".join(f.read_text(encoding="utf-8") for f in files), encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["-c", str(_config(tmp_path, model="prior.json")), "topics", "eval", str(both), "--json"]
    )
    (ev,) = json.loads(result.output)
    own = model["training"]["figures"]["prior"]["all"]
    assert {k: own[k] for k in ("tp", "fp", "fn")} == {k: ev["all"][k] for k in ("tp", "fp", "fn")}


def test_a_priors_windowed_log_input_keeps_its_window(tmp_path: Path) -> None:
    cfg, files = _config(tmp_path), _stories(tmp_path)
    windowed = {"name": "sci_log", "all": [["sci"]], "none": [], "measure": "log", "within": 2500, "weight": 0.3}
    prior = _prior(tmp_path, sentences={**SENTENCES, "inputs": [*SENTENCES["inputs"], windowed]})
    out = tmp_path / "m.json"
    code, output = _train(cfg, files, out, "--prior", str(prior), "--pull", "1e9")
    assert code == 0, output
    inputs = json.loads(out.read_text(encoding="utf-8"))["sentences"]["inputs"]
    assert [x.get("within") for x in inputs] == [None, None, 2500]
    assert inputs[2]["weight"] == pytest.approx(0.3, abs=1e-5)


def test_a_priors_text_chars_is_kept_and_its_stories_are_read_as_it_reads_them(tmp_path: Path) -> None:
    cfg, files = _config(tmp_path), _stories(tmp_path)
    prior = _prior(tmp_path, sentences=SENTENCES)
    data = json.loads(prior.read_text(encoding="utf-8"))
    data["inputs"] = {**data.get("inputs", {}), "text_chars": 12}
    prior.write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "m.json"
    code, output = _train(cfg, files, out, "--prior", str(prior), "--pull", "1e9")
    assert code == 0, output
    model = json.loads(out.read_text(encoding="utf-8"))
    assert model["inputs"]["text_chars"] == 12
    # the prior as it is, measured on the stories as it reads them, is what topics eval says of it
    _assert_prior_figures_are_evals(tmp_path, files, model)


def test_a_shipped_model_by_name_with_a_huge_pull_is_itself(tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    args = ["--prior", "china-russia-st", "--pull", "1e9", "--folds", "2"]
    code, output = _train(CONFIG, [DEV], out, *args)
    assert code == 0, output
    model, shipped = json.loads(out.read_text(encoding="utf-8")), json.loads(SHIPPED.read_text(encoding="utf-8"))
    assert model["training"]["prior"]["model"] == "china-russia-st"
    assert model["training"]["prior"]["trained"] == shipped["training"]["date"]
    assert model["bias"] == pytest.approx(shipped["bias"], abs=1e-4)
    got, want = _weights(model), _weights(shipped)
    assert set(got) == set(want)
    for expr, w in want.items():
        assert got[expr] == pytest.approx(w, abs=1e-4), expr
    # its sentence inputs too, with their kinds
    assert model["sentences"]["kinds"] == shipped["sentences"]["kinds"]
    assert model["sentences"]["fingerprints"] == shipped["sentences"]["fingerprints"]
    got_s = {x["name"]: x["weight"] for x in model["sentences"]["inputs"]}
    want_s = {x["name"]: x["weight"] for x in shipped["sentences"]["inputs"]}
    assert got_s == pytest.approx(want_s, abs=1e-4)
    result = CliRunner().invoke(cli, ["-c", str(CONFIG), "topics", "eval", str(DEV), "--json"])
    (ev,) = json.loads(result.output)
    own = model["training"]["figures"]["prior"]["all"]
    assert {k: own[k] for k in ("tp", "fp", "fn")} == {k: ev["all"][k] for k in ("tp", "fp", "fn")}


def test_a_prior_feature_whose_set_was_edited_is_adapted_with_a_note(tmp_path: Path) -> None:
    cfg, out = _config(tmp_path), tmp_path / "m.json"
    prior = _prior(tmp_path, fingerprints={"@science": "0123456789abcdef"})
    code, output = _train(cfg, _stories(tmp_path), out, "--prior", str(prior))
    assert code == 0, output
    (note,) = [line for line in output.splitlines() if line.startswith("note:")]
    assert "1 of " in note and "uses a set edited since it was trained (@science)" in note
    assert _weights(json.loads(out.read_text(encoding="utf-8")))["@science"][0] > 0  # refitted, fingerprint renewed
    assert json.loads(out.read_text(encoding="utf-8"))["features"][0]["fingerprint"] == fingerprint("@science", SETS)


def test_a_prior_feature_that_no_longer_compiles_is_named_and_may_be_excluded(tmp_path: Path) -> None:
    sets = {k: v for k, v in SETS.items() if k != "space"}  # a set the prior uses, removed
    cfg, out = _config(tmp_path, sets), tmp_path / "m.json"
    prior = _prior(tmp_path)
    code, output = _train(cfg, _stories(tmp_path), out, "--prior", str(prior))
    assert code == 2, output
    (line,) = [x for x in output.splitlines() if x.startswith("error:")]
    assert "its feature @space does not compile" in line and "--exclude '@space'" in line
    assert not out.exists()
    code, output = _train(cfg, _stories(tmp_path), out, "--prior", str(prior), "--exclude", "@space")
    assert code == 0, output
    assert "@space" not in _weights(json.loads(out.read_text(encoding="utf-8")))


def test_an_excluded_prior_feature_is_not_written_but_counts_in_the_priors_own_figures(tmp_path: Path) -> None:
    cfg, out = _config(tmp_path), tmp_path / "m.json"
    prior = _prior(tmp_path)
    code, output = _train(cfg, _stories(tmp_path), out, "--prior", str(prior), "--exclude", "@sport")
    assert code == 0, output
    model = json.loads(out.read_text(encoding="utf-8"))
    assert set(_weights(model)) == {"@science", "@space"} and model["training"]["candidates"] == 2
    assert model["training"]["figures"]["prior"]["all"]["fn"] == 12  # the prior as it is: with its @sport


@pytest.mark.parametrize(
    ("prior", "message"),
    [
        ("nosuch.json", "--prior nosuch.json: no such model file, nor a model shipped with newswatch"),
        ("labeled0.jsonl", "is not a newswatch topic model (not JSON)"),
        ("other.json", 'is not a newswatch topic model (no "format"'),
    ],
)
def test_a_prior_that_is_no_model_is_a_clear_error(
    tmp_path: Path, prior: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, out = _config(tmp_path), tmp_path / "m.json"
    (tmp_path / "other.json").write_text('{"weights": [1, 2]}', encoding="utf-8")
    files = _stories(tmp_path)
    monkeypatch.chdir(tmp_path)  # a relative --prior is relative to the current folder
    code, output = _train(cfg, files, out, "--prior", prior)
    assert code == 2, output
    (line,) = [x for x in output.splitlines() if x.startswith("error:")]
    assert message in line and "Traceback" not in output
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--l1"], "--l1 does not go with --prior"),
        (["--C", "0.3"], "--C does not go with --prior"),
        (["--pull", "0"], "--pull 0 must be a number above 0"),
        (["--pull", "nan"], "--pull nan must be a number above 0"),
    ],
)
def test_options_that_do_not_go_with_a_prior_are_refused(tmp_path: Path, args: list[str], message: str) -> None:
    cfg, out = _config(tmp_path), tmp_path / "m.json"
    code, output = _train(cfg, _stories(tmp_path), out, "--prior", str(_prior(tmp_path)), *args)
    assert code == 2, output
    assert message in output and not out.exists()


def test_the_help_of_l1_says_it_does_not_go_with_a_prior() -> None:
    result = CliRunner().invoke(cli, ["topics", "train", "--l1", "--help"])
    assert result.exit_code == 0, result.output
    l1 = " ".join(result.output.split("  --l1", 1)[1].split("  --threshold", 1)[0].split())
    assert l1 == "L1 regularisation: a sparse model, fewer features to evaluate (not with --prior)."


def test_options_that_do_not_go_with_a_prior_are_named_first_all_of_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # before the config (none here), the labeled files (none) or SciPy (missing) are looked at
    monkeypatch.setitem(sys.modules, "scipy", None)
    args = ["topics", "train", "missing.jsonl", "--prior", "china-russia-st", "--l1", "--C", "0.3"]
    result = CliRunner().invoke(cli, ["-c", str(tmp_path / "missing.toml"), *args])
    assert result.exit_code == 2
    assert result.output.startswith("error: --C and --l1 do not go with --prior: the fit is pulled towards"), (
        result.output
    )


def test_pull_without_a_prior_is_refused(tmp_path: Path) -> None:
    cfg, out = _config(tmp_path), tmp_path / "m.json"
    code, output = _train(cfg, _stories(tmp_path), out, "--pull", "3")
    assert code == 2, output
    assert "give --prior MODEL with it" in output and not out.exists()


def test_topics_train_with_a_prior_says_how_to_install_scipy_when_it_is_missing(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    files = _stories(tmp_path)
    code = (
        "import sys; sys.modules['scipy'] = None\n"
        "from scheduler.cli import main\n"
        f"sys.argv = ['newswatch', '-c', {str(cfg)!r}, 'topics', 'train', {str(files[0])!r}, "
        f"'--prior', {str(_prior(tmp_path))!r}]\n"
        "main()\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert r.returncode == 2, r.stderr
    assert "'topics train --prior' needs SciPy" in r.stderr
    assert f"run: {sys.executable} -m pip install 'scikit-learn>=1.6,<2'" in r.stderr and "Traceback" not in r.stderr
