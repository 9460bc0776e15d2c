"""Training a topic's model from labeled stories (``newswatch topics train``).

Each candidate feature is a query expression (every named set of the config as ``@name``, the topic's
``features`` and any given on the command line), read per story as in ``crawler.model``: hit anywhere,
in the title, in the lead, a hit in the body after the lead (1/0: the labeled stories are mostly
excerpts, and a count there would make a full article score otherwise); plus one input per language. The
weights are a logistic regression fitted by scikit-learn (the optional extra ``newswatch[train]``,
imported here only) on the stories the topic's query lets through: the query stays the gate.

With a prior (``--prior MODEL``), the candidates are MODEL's features and the fit starts from MODEL's
weights and is pulled towards them: the logistic loss plus ``pull`` x ||w - w_prior||^2 (bias and languages'
weights included), minimised by SciPy's L-BFGS-B (SciPy comes with scikit-learn), so that a few hundred
stories correct the model where they disagree with it and leave it alone elsewhere. A prior's sentence inputs
(``crawler.model``: how much of the story a kind of sentence is) and its length input (how much text it read) are
columns of the fit too, pulled alike. A prior's
encoder block (``crawler.encoder``) is one column, its contribution to the prior's log-odds, starting at 1 and
pulled towards it: the written block is the prior's weights times the fitted factor.

``encoder_chars`` (``--encoder N``) fits an encoder block: one column per dimension of the sentence encoder's
vector of the title and the text's first N characters (with a prior lacking one: starting at 0, pulled towards 0).
"""

from __future__ import annotations

import hashlib
import math
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crawler import __version__
from crawler import encoder as sentence_encoder
from crawler.config import TopicConfig
from crawler.encoder import EncoderInput
from crawler.errors import QuerySyntaxError, UsageError
from crawler.evaluate import Counts, Evaluation, Story
from crawler.longlived import matching_batch, settle
from crawler.model import (
    BODY_TRAINED,
    FORMAT,
    LENGTH_VERSION,
    VERSION,
    ZONES,
    LengthInput,
    Model,
    ModelError,
    ModelFileError,
    SentenceInput,
    fingerprint,
    parse_model,
    read_model_file,
    read_part,
    sentence_values,
    shipped_names,
    zone_inputs,
)
from crawler.topics import Query, compile_query, prepare

SKLEARN = "scikit-learn>=1.6,<2"  # the `train` extra of pyproject.toml (tests keep the two the same)
PULL = 3.0  # --pull's default: a weight moves 1 from the prior's only when that gains 3 in log loss
NEGLIGIBLE = 0.01  # with a prior: a feature whose weights all stay below this is not kept (it moves z < 0.04)


def install_hint() -> str:
    """The command that installs scikit-learn into the environment newswatch runs in.

    With this interpreter's own pip and the `train` extra's requirement, so that it works as pasted: a bare
    ``pip`` may be another environment's, and ``newswatch[train]`` would be looked up on a package index,
    where a newswatch installed from its source tree is not.
    """
    return f"{shlex.quote(sys.executable)} -m pip install {shlex.quote(SKLEARN)}"


class TrainingError(UsageError):
    """Training cannot start or go on: a missing library, too few labeled stories of a kind."""


@dataclass(frozen=True)
class Options:
    c: float = 1.0  # inverse regularisation strength
    l1: bool = False  # L1 (sparse: fewer features to evaluate per article) instead of L2
    threshold: float = 0.5  # p at which a story matches, folded into the bias so that min_score 5 is it
    thresholds: tuple[tuple[str, float], ...] = ()  # per language, folded into the language's weight
    folds: int = 0  # k-fold cross-validation; 0: leave one file out when several files are given
    min_weight: float = 0.0  # features whose weights all stay below this are dropped and the rest refitted
    body: str = BODY_TRAINED  # the form of the features' body input (crawler.model.BODY_FORMS)
    text_chars: int = 0  # the features read the text's first this many characters (a prior's inputs.text_chars)
    pull: float | None = None  # with a prior: the strength of the pull towards its weights (c and l1 unused)
    encoder_chars: int = 0  # fit an encoder block reading the title and the text's first this many characters

    def threshold_for(self, language: str) -> float:
        return dict(self.thresholds).get(language, self.threshold)

    def as_json(self) -> dict[str, Any]:
        if self.pull is not None:
            regularisation: dict[str, Any] = {"pull": self.pull, "penalty": "l2 towards the prior"}
        else:
            regularisation = {"C": self.c, "penalty": "l1" if self.l1 else "l2"}
        return {
            **regularisation,
            "threshold": self.threshold,
            "thresholds": dict(self.thresholds),
            "folds": self.folds,
            "min_weight": self.min_weight,
            **({"encoder": self.encoder_chars} if self.encoder_chars else {}),
        }


@dataclass
class Example:
    story: Story
    file: str  # the labeled file's name
    gate: bool  # the topic's query holds
    x: dict[int, float] = field(default_factory=dict)  # column -> input (only non-zero ones)


@dataclass
class Data:
    expressions: list[str]
    languages: list[str]
    examples: list[Example]
    prior: Fit | None = None  # with a prior: its weights per column, in the fit's terms (thresholds unfolded)
    held: tuple[int, ...] = ()  # features held at 0 in every fit (a prior's features given to --exclude)
    # a prior's sentence inputs, columns after the languages', and the kinds they read, compiled (name, query)
    sentence_inputs: tuple[SentenceInput, ...] = ()
    kinds: tuple[tuple[str, Query], ...] = ()
    length: LengthInput | None = None  # a prior's length input, the column after the sentence inputs'
    # an encoder block's columns, after the sentence inputs' (and the length input's): the prior's block, one column (its contribution,
    # scaled by the fit), or one fitted (``fitted``: a column per dimension of the encoder's vector)
    encoder: EncoderInput | None = None
    fitted: bool = False

    @property
    def encoder_columns(self) -> int:
        if self.encoder is None:
            return 0
        return sentence_encoder.DIMENSIONS if self.fitted else 1

    @property
    def length_column(self) -> int:
        return len(self.expressions) * len(ZONES) + len(self.languages) + len(self.sentence_inputs)

    @property
    def encoder_column(self) -> int:
        return self.length_column + (self.length is not None)

    @property
    def columns(self) -> int:
        return self.encoder_column + self.encoder_columns

    def sentence_column(self, i: int) -> int:
        return len(self.expressions) * len(ZONES) + len(self.languages) + i

    def language_column(self, language: str) -> int | None:
        if language not in self.languages:
            return None
        return len(self.expressions) * len(ZONES) + self.languages.index(language)


@dataclass
class Fit:
    bias: float
    weights: list[float]  # per column of Data


@dataclass
class Result:
    model: dict[str, Any]  # the JSON written
    training: Evaluation  # fitted on all files, measured on them
    cross_validated: Evaluation | None  # each story scored by a model fitted without its file (or fold)
    by_file: list[tuple[str, Evaluation]]  # the cross-validated figures per held-out file
    passed_gate: int
    kept: int  # features with a non-zero weight
    prior: Evaluation | None = None  # the prior as it is (its own weights and threshold), on the same stories


@dataclass(frozen=True)
class Prior:
    """A model to adapt (``--prior``): its weights as its file holds them, and where it came from."""

    ref: str  # as given: a path or a shipped model's name
    path: Path
    sha256: str  # of the file's bytes
    model: Model
    trained: str | None  # its own training date, when it records one
    lineage: dict[str, Any] | None  # its own training record without the figures: how its weights came to be
    fitted_at: float  # the threshold folded into its bias (0.5 when it records none)
    by_language: tuple[tuple[str, float], ...]  # the languages' own thresholds folded into their weights

    def weights(self) -> dict[str, tuple[float, ...]]:
        return {f.expression: f.weights for f in self.model.features}

    def provenance(self) -> dict[str, Any]:
        return {
            "model": self.ref,
            "sha256": self.sha256,
            "digest": self.model.digest,
            "trained": self.trained,
            **({"training": self.lineage} if self.lineage else {}),
        }


def sklearn() -> Any:
    """scikit-learn's linear models, or TrainingError saying how to install them."""
    try:
        import sklearn as sk
        from sklearn import linear_model
    except ImportError:
        raise TrainingError(
            f"'topics train' needs scikit-learn, which is not installed; run: {install_hint()} "
            "(the optional extra newswatch[train])"
        ) from None
    return sk, linear_model


def scipy() -> Any:
    """SciPy's optimiser and the logistic function, or TrainingError saying how to install them (with
    scikit-learn, as the `train` extra brings both)."""
    try:
        from scipy import optimize, special
    except ImportError:
        raise TrainingError(
            f"'topics train --prior' needs SciPy (it comes with scikit-learn), which is not installed; "
            f"run: {install_hint()} (the optional extra newswatch[train])"
        ) from None
    return optimize, special


def load_prior(ref: str, base: Path) -> Prior:
    """The model ``--prior REF`` names: a file (relative to ``base``), else a shipped model of that name;
    TrainingError saying what is wrong with it."""
    try:
        file = read_model_file(ref, base)
        model = parse_model(file.data, ref, where=str(file.path))
    except ModelFileError as exc:  # read as a config's model is, said in terms of --prior
        said = {
            "missing": "no such model file, nor a model shipped with newswatch of that name (shipped: "
            f"{', '.join(shipped_names()) or 'none'}); give a model file's path or a shipped model's name",
            "unreadable": f"cannot read {exc.path}: {exc.detail}",
            "not JSON": f"{exc.path} is not a newswatch topic model (not JSON); give a model file "
            "'newswatch topics train' wrote, or a shipped model's name",
        }
        raise TrainingError(f"--prior {ref}: {said[exc.problem]}") from None
    except ModelError as exc:
        raise TrainingError(f"--prior {ref}: {exc}") from None
    path, raw, data = file.path, file.raw, file.data
    threshold = data.get("threshold")
    threshold = threshold if isinstance(threshold, dict) else {}
    fitted_at, by_language = threshold.get("fitted_at", 0.5), threshold.get("by_language", {})
    numbers = [fitted_at, *(by_language.values() if isinstance(by_language, dict) else [None])]
    if not all(isinstance(p, (int, float)) and not isinstance(p, bool) and 0.0 < p < 1.0 for p in numbers):
        raise TrainingError(
            f"--prior {ref}: {path}: threshold.fitted_at and threshold.by_language must be probabilities "
            "between 0 and 1; give a model file 'newswatch topics train' wrote"
        )
    training = data.get("training")
    trained = training.get("date") if isinstance(training, dict) else None
    return Prior(
        ref=ref,
        path=path,
        sha256=hashlib.sha256(raw).hexdigest(),
        model=model,
        trained=trained if isinstance(trained, str) else None,
        # the options, files and priors its weights came from, so a chain of adaptations keeps its whole history
        lineage={k: v for k, v in training.items() if k != "figures"} if isinstance(training, dict) else None,
        fitted_at=float(fitted_at),
        by_language=tuple(sorted((str(k), float(v)) for k, v in by_language.items())),
    )


def prior_candidates(prior: Prior, sets: Mapping[str, str], extra: Sequence[str], exclude: Sequence[str]) -> list[str]:
    """The prior's features, then ``extra``, each once, but those of them that do not compile with ``sets``
    and are excluded (one that is not excluded is an error naming it). An excluded feature that compiles
    stays a column, held at 0 by the fit, so that the prior's own figures are its own."""
    out: list[str] = []
    for expr in (*(f.expression for f in prior.model.features), *extra):
        if expr not in out:
            out.append(expr)
    unknown = [e for e in exclude if e not in out]
    if unknown:
        raise TrainingError(
            f"--exclude {unknown[0]!r} is not a candidate feature (with --prior: one of its features, or a --features)"
        )
    broken: list[str] = []
    for expr in out:
        if expr in extra and expr not in exclude:
            continue  # a --features expression that does not compile is named by its own QuerySyntaxError
        try:
            compile_query(expr, sets)
        except QuerySyntaxError as exc:
            if expr in exclude:
                broken.append(expr)
                continue
            raise TrainingError(
                f"--prior {prior.ref}: its feature {expr} does not compile with this config's sets: {exc.message}; "
                f"define the set again, or leave the feature out with --exclude '{expr}'"
            ) from None
    return [e for e in out if e not in broken]


def prior_fit(prior: Prior, data: Data, unfold: bool) -> Fit:
    """The prior's weights per column of ``data`` (0 for a feature or language it lacks), as its file holds
    them or, ``unfold``, in the fit's terms: the thresholds it was fitted at taken out of the bias and the
    languages' weights again (a fit starts from, and is pulled towards, what the prior's own fit found)."""
    by_expr = prior.weights()
    weights: list[float] = []
    for expr in data.expressions:
        weights.extend(by_expr.get(expr, (0.0,) * len(ZONES)))
    languages = dict(prior.model.languages)
    thresholds = dict(prior.by_language)
    shift = _logit(prior.fitted_at) if unfold else 0.0
    for lang in data.languages:
        own = _logit(thresholds.get(lang, prior.fitted_at)) if unfold else 0.0
        weights.append(languages.get(lang, 0.0) - shift + own)
    weights.extend(x.weight for x in data.sentence_inputs)  # the prior's, the only source of them
    if data.length is not None:  # as well
        weights.append(data.length.weight)
    if data.encoder is not None:  # its own block, as it is (a factor of 1); or one fitted here, from 0
        weights.extend([0.0] * sentence_encoder.DIMENSIONS if data.fitted else [1.0])
    return Fit(prior.model.bias + shift, weights)


def prior_kinds(prior: Prior, sets: Mapping[str, str]) -> tuple[tuple[str, Query], ...]:
    """The prior's sentence kinds compiled with ``sets``; TrainingError naming one that does not compile."""
    out = []
    for k in prior.model.kinds:
        try:
            out.append((k.name, compile_query(k.expression, sets)))
        except QuerySyntaxError as exc:
            raise TrainingError(
                f"--prior {prior.ref}: its sentence kind {k.name!r} ({k.expression}) does not compile with this "
                f"config's sets: {exc.message}; define the set again"
            ) from None
    return tuple(out)


def candidate_features(
    topic: TopicConfig, sets: Mapping[str, str], extra: Sequence[str] = (), exclude: Sequence[str] = ()
) -> list[str]:
    """Every named set as ``@name``, then the topic's ``features`` and ``extra``, each once, but ``exclude``."""
    out = [f"@{name}" for name in sets]
    for expr in (*topic.features, *extra):
        if expr not in out:
            out.append(expr)
    unknown = [e for e in exclude if e not in out]
    if unknown:
        raise TrainingError(f"--exclude {unknown[0]!r} is not a candidate feature (a named set as @name, or a feature)")
    return [e for e in out if e not in exclude]


def featurize(
    topic: TopicConfig,
    sets: Mapping[str, str],
    files: Sequence[tuple[str, Sequence[Story]]],
    expressions: Sequence[str],
    progress: Callable[[int], None] | None = None,
    body: str = BODY_TRAINED,
    languages: Sequence[str] = (),
    sentence_inputs: Sequence[SentenceInput] = (),
    kinds: Sequence[tuple[str, Query]] = (),
    text_chars: int = 0,
    encoder: EncoderInput | None = None,
    fitted: bool = False,
    length: LengthInput | None = None,
) -> Data:
    """Every story's inputs for every candidate feature (the stories the gate rejects get none); a weight for
    each of the stories' languages and of ``languages``; each of ``sentence_inputs`` (over ``kinds``); a
    ``length`` input (a prior's); an ``encoder`` block's contribution (a prior's) or, ``fitted``, each dimension of
    its vector."""
    gate = compile_query(topic.query)
    queries = [compile_query(e, sets) for e in expressions]  # QuerySyntaxError names the bad one
    found = {s.language for _name, stories in files for s in stories if s.language != "?"}
    languages = sorted(found | set(languages))
    data = Data(
        list(expressions),
        languages,
        [],
        sentence_inputs=tuple(sentence_inputs),
        kinds=tuple(kinds),
        length=length,
        encoder=encoder,
        fitted=fitted,
    )
    # a batch: the gate and the features, with what their first story builds, frozen out of the garbage
    # collector's way (crawler.longlived)
    settle(gate, features=[*queries, *(q for _name, q in kinds)])
    done = 0
    with matching_batch():
        for name, stories in files:
            for story in stories:
                data.examples.append(_example(gate, queries, data, name, story, body, text_chars))
                done += 1
                if progress is not None:
                    progress(done)
    return data


def _example(
    gate: Query, queries: Sequence[Query], data: Data, name: str, story: Story, body: str, text_chars: int = 0
) -> Example:
    """One story's inputs (none when the gate rejects it), read as the model reads them (``read_part``)."""
    doc = prepare(story.title, story.text)
    ex = Example(story, name, gate.holds(doc))
    if ex.gate and data.encoder is not None:  # it reads its own part of the whole story
        _encoder_inputs(ex, data, story)
    if ex.gate:
        doc = read_part(doc, text_chars)
        for i, q in enumerate(queries):
            hits = q.hits_prepared(doc)
            if hits is None:
                continue
            for z, value in enumerate(zone_inputs(doc, hits, body)):
                if value:
                    ex.x[i * len(ZONES) + z] = value
        col = data.language_column(story.language)
        if col is not None:
            ex.x[col] = 1.0
        if data.sentence_inputs:
            for i, value in enumerate(sentence_values(doc, data.kinds, data.sentence_inputs)):
                if value:
                    ex.x[data.sentence_column(i)] = value
        if data.length is not None:
            value = data.length.value(doc)
            if value:
                ex.x[data.length_column] = value
    return ex


def _encoder_inputs(ex: Example, data: Data, story: Story) -> None:
    """A story's encoder columns: the prior block's contribution, or the vector itself (a block to fit)."""
    assert data.encoder is not None
    col = data.encoder_column
    if not data.fitted:
        value = sentence_encoder.EncoderTerm(data.encoder).value(story.title, story.text)
        if value:
            ex.x[col] = value
        return
    text = sentence_encoder.input_text(story.title, story.text, data.encoder.chars)
    if text:
        for i, value in enumerate(sentence_encoder.embed(text).tolist()):
            if value:
                ex.x[col + i] = value


def fit(data: Data, examples: Sequence[Example], options: Options) -> Fit:
    """Logistic regression on the examples the gate let through (pulled towards ``data.prior`` when it has one)."""
    import numpy as np

    rows = [e for e in examples if e.gate]
    labels = {e.story.label for e in rows}
    if labels != {True, False}:
        kind = "relevant" if True not in labels else "irrelevant"
        raise TrainingError(
            f"the training stories the topic's query lets through hold no {kind} story; "
            "give labeled files with both kinds"
        )
    x = np.zeros((len(rows), data.columns))
    for r, e in enumerate(rows):
        for col, value in e.x.items():
            x[r, col] = value
    y = np.array([int(e.story.label) for e in rows])
    if data.prior is not None:
        return _fit_towards(data, x, y, options)
    sk, linear_model = sklearn()
    # liblinear: fast on a few thousand stories; it penalises the intercept too, which a large
    # intercept_scaling makes negligible
    kwargs: dict[str, Any] = {
        "C": options.c,
        "solver": "liblinear",
        "intercept_scaling": 10.0,
        "max_iter": 1000,
        "random_state": 0,  # liblinear shuffles: the same files and options give the same model
    }
    if options.l1:
        major, minor = (int(p) for p in sk.__version__.split(".")[:2])
        kwargs.update(
            {"l1_ratio": 1.0} if (major, minor) >= (1, 8) else {"penalty": "l1"}
        )  # 'penalty' deprecated in 1.8
    m = linear_model.LogisticRegression(**kwargs).fit(x, y)
    if options.min_weight > 0:
        # a feature costs matching time whatever its weight: drop the ones that barely count, fit the rest again
        weak = _weak(data, [float(w) for w in m.coef_[0]], options.min_weight)
        nz = len(ZONES)
        for i in weak:
            x[:, i * nz : (i + 1) * nz] = 0.0
        m = linear_model.LogisticRegression(**kwargs).fit(x, y)
    return Fit(float(m.intercept_[0]), [float(w) for w in m.coef_[0]])


def _weak(data: Data, weights: Sequence[float], below: float, held: Sequence[int] = ()) -> list[int]:
    """The features whose weights all stay below ``below``; TrainingError when that is every one."""
    nz = len(ZONES)
    weak = [i for i in range(len(data.expressions)) if max(abs(w) for w in weights[i * nz : (i + 1) * nz]) < below]
    if len(set(weak) | set(held)) == len(data.expressions):
        largest = max((abs(w) for w in weights[: len(data.expressions) * nz]), default=0.0)
        raise TrainingError(
            f"--min-weight {below:g} drops every feature (the largest weight is {largest:.3g}); give a smaller one"
        )
    return weak


def _fit_towards(data: Data, x: Any, y: Any, options: Options) -> Fit:
    """The log loss plus pull x ||w - w_prior||^2 (bias included) minimised from the prior's weights
    (L-BFGS-B with the analytic gradient); the features held at 0, then those whose weights all stay below
    ``max(min_weight, NEGLIGIBLE)``, are taken out and the rest fitted again."""
    import numpy as np

    optimize, special = scipy()
    assert data.prior is not None and options.pull is not None
    pull = options.pull
    theta0 = np.array([data.prior.bias, *data.prior.weights])
    design = np.hstack([np.ones((x.shape[0], 1)), x])  # column 0: the bias
    nz = len(ZONES)

    def solve(out: set[int]) -> Any:
        """The weights with the features ``out`` at 0 (the others fitted)."""
        cols = [c for c in range(data.columns) if c // nz not in out or c >= len(data.expressions) * nz]
        free = np.array([0, *(c + 1 for c in cols)])
        a, t0 = design[:, free], theta0[free]

        def loss(t: Any) -> tuple[float, Any]:
            z = a @ t
            d = t - t0
            value = float(np.logaddexp(0.0, z).sum() - y @ z + pull * (d @ d))
            return value, a.T @ (special.expit(z) - y) + 2.0 * pull * d

        # from the prior's weights; tight tolerances: the problem is small, and the weights are written to 6 places
        res = optimize.minimize(
            loss, t0, jac=True, method="L-BFGS-B", options={"maxiter": 10000, "ftol": 1e-13, "gtol": 1e-9}
        )
        theta = np.zeros_like(theta0)
        theta[free] = res.x
        return theta

    held = set(data.held)
    theta = solve(held)
    # a feature costs matching time whatever its weight: one that barely counts is not kept
    weak = _weak(data, list(theta[1:]), max(options.min_weight, NEGLIGIBLE), data.held)
    if set(weak) - held:
        theta = solve(held | set(weak))
    return Fit(float(theta[0]), [float(w) for w in theta[1:]])


def probability(f: Fit, e: Example) -> float:
    if not e.gate:
        return 0.0
    z = f.bias + sum(f.weights[col] * value for col, value in e.x.items())
    return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


def measure(examples: Sequence[Example], ps: Sequence[float], options: Options) -> Evaluation:
    """Precision/recall per language of predictions p >= the threshold (of the story's language)."""
    ev = Evaluation()
    for e, p in zip(examples, ps):
        c = ev.by_language.setdefault(e.story.language, Counts())
        predicted = e.gate and p >= options.threshold_for(e.story.language)
        c.count(predicted, e.story.label)
        ev.total.count(predicted, e.story.label)
    return ev


def cross_validate(data: Data, options: Options) -> tuple[Evaluation, list[tuple[str, Evaluation]]] | None:
    """Each story scored by a model fitted without it: leave one file out, or ``options.folds`` folds."""
    examples = data.examples
    if options.folds:
        if options.folds < 2 or options.folds > len(examples):
            raise TrainingError(f"--folds {options.folds}: give between 2 and {len(examples)} folds")
        groups = [str(i % options.folds) for i in range(len(examples))]  # stories interleaved into folds
    else:
        groups = [e.file for e in examples]
    names = list(dict.fromkeys(groups))
    if len(names) < 2:
        return None
    ps = [0.0] * len(examples)
    for n, g in enumerate(names, 1):
        train_rows = [e for e, h in zip(examples, groups) if h != g]
        kinds = {e.story.label for e in train_rows if e.gate}
        if kinds != {True, False}:
            # the files as a whole hold both kinds, but not without this fold or file
            left_out = f"fold {n} of {len(names)}" if options.folds else f"the file {g}"
            fix = "give fewer --folds" if options.folds else "give --folds K instead of leaving one file out"
            kind = "relevant" if True not in kinds else "irrelevant"
            raise TrainingError(
                f"cross-validation: without {left_out}, the stories the topic's query lets through hold no {kind} "
                f"story to fit on; {fix}, or label more stories of that kind"
            )
        f = fit(data, train_rows, options)
        for i, (e, h) in enumerate(zip(examples, groups)):
            if h == g:
                ps[i] = probability(f, e)
    per_file = []
    if not options.folds:
        for g in names:
            idx = [i for i, h in enumerate(groups) if h == g]
            per_file.append((g, measure([examples[i] for i in idx], [ps[i] for i in idx], options)))
    return measure(examples, ps, options), per_file


def check_options(options: Options, prior: bool = False, *, c_given: bool = False) -> None:
    """TrainingError naming the option when one is out of its range or does not go with ``prior`` (a
    --prior given; ``c_given``: --C was given, not left at its default), before any story is read."""
    if options.pull is not None and not prior:
        raise TrainingError("--pull is the pull towards a prior model's weights: give --prior MODEL with it")
    clash = [name for name, given in (("--C", c_given), ("--l1", options.l1)) if given and prior]
    if clash:
        raise TrainingError(
            f"{' and '.join(clash)} {'does' if len(clash) == 1 else 'do'} not go with --prior: the fit is pulled "
            "towards the prior's weights instead, as hard as --pull says (default 3); --min-weight W still drops "
            "the features whose weights all stay below W"
        )
    if options.pull is not None and not (math.isfinite(options.pull) and options.pull > 0):
        raise TrainingError(
            f"--pull {options.pull:g} must be a number above 0 (larger: closer to the prior, e.g. {PULL:g})"
        )
    if not (math.isfinite(options.c) and options.c > 0):
        raise TrainingError(f"--C {options.c:g} must be a number above 0 (smaller: stronger regularisation, e.g. 0.3)")
    if options.encoder_chars < 0:
        raise TrainingError(
            f"--encoder {options.encoder_chars}: give how many of the text's characters the sentence encoder reads "
            "after the title (above 0, e.g. 600)"
        )
    if not (math.isfinite(options.min_weight) and options.min_weight >= 0):
        raise TrainingError(f"--min-weight {options.min_weight:g} must be 0 (keep every feature) or more, e.g. 0.2")
    if options.folds == 1 or options.folds < 0:
        raise TrainingError(f"--folds {options.folds}: give 2 folds or more, or 0 to leave one file out")
    _logit(options.threshold)
    for _lang, p in options.thresholds:
        _logit(p)


def _logit(p: float) -> float:
    if not 0.0 < p < 1.0:
        raise TrainingError(f"threshold {p:g} must be between 0 and 1 (a probability)")
    return math.log(p / (1.0 - p))


SENTENCES_ABOUT = (
    " + sum over sentences.inputs of weight x value; a sentence input's value reads the sentences of the text that"
    " hold a kind of each group of its `all` and no kind of its `none` (a sentence holds a kind when a hit of the"
    " kind's query, run on the whole article, lies in it): their share of the text's sentences (share),"
    " log(1 + their number) (log), 1 when the title holds the kinds so (title), 1 when the text's first sentence"
    " is one of them (first)"
)
ENCODER_ABOUT = (
    " + encoder.weights . e, e the sentence encoder {name}'s 512-dimensional vector (package {package}) of the meaning"
    " of the title and the text's first {chars} characters (each stripped, one line apart; 0 when both are empty)"
)
LENGTH_ABOUT = (
    " + inputs.length.weight x ln(1 + n), n the number of characters of the text read (its first inputs.text_chars,"
    " all of it without; the title not counted)"
)
BODY_ABOUT = {"binary": "in body (a hit after the lead, 1/0)", "log": "log(1 + hits in the body after the lead)"}


def model_json(
    topic: TopicConfig,
    sets: Mapping[str, str],
    data: Data,
    f: Fit,
    options: Options,
    provenance: list[dict[str, Any]],
    figures: dict[str, Any],
    exclude: Sequence[str] = (),
    prior: Prior | None = None,
) -> dict[str, Any]:
    """The model file: features with a non-zero weight, the threshold folded into the bias (and a
    language's own threshold into its weight), so that p >= 0.5 (score 5, min_score's default) matches."""
    if prior is None:
        import sklearn as sk

        library = {"scikit-learn": sk.__version__}
    else:
        import scipy as sp

        library = {"scipy": sp.__version__}
    features = []
    for i, expr in enumerate(data.expressions):
        w = f.weights[i * len(ZONES) : (i + 1) * len(ZONES)]
        if any(abs(v) >= 1e-9 for v in w):
            features.append(
                {
                    "expression": expr,
                    "fingerprint": fingerprint(expr, sets),
                    "weights": {z: round(v, 6) for z, v in zip(ZONES, w)},
                }
            )
    shift = _logit(options.threshold)
    languages = {}
    for lang in data.languages:
        col = data.language_column(lang)
        assert col is not None
        languages[lang] = round(f.weights[col] + shift - _logit(options.threshold_for(lang)), 6)
    return {
        "format": FORMAT,
        "version": LENGTH_VERSION if data.length is not None else VERSION,  # an older newswatch refuses the input
        "topic": topic.name,
        "about": (
            "p = sigmoid(bias + languages[language] + sum over features holding of weights . "
            f"(1, in title, in lead, body input: {BODY_ABOUT[options.body]})"
            f"{SENTENCES_ABOUT if data.sentence_inputs else ''}"
            f"{LENGTH_ABOUT if data.length is not None else ''}"
            f"{_encoder_about(data)}); score = 10 p; scored only when the topic's query holds"
        ),
        "inputs": {
            "body": options.body,
            **({"text_chars": options.text_chars} if options.text_chars else {}),
            **({"length": _length_json(data, f)} if data.length is not None else {}),
        },
        "bias": round(f.bias - shift, 6),
        "languages": languages,
        "threshold": {
            "p": 0.5,
            "fitted_at": options.threshold,
            "by_language": dict(options.thresholds),
            "note": "the fitted threshold is folded into the bias (and the languages' weights): p >= 0.5 matches",
        },
        "features": features,
        **({"sentences": _sentences_json(data, f, sets, prior)} if data.sentence_inputs and prior else {}),
        **({"encoder": _encoder_json(data, f)} if data.encoder is not None else {}),
        "training": {
            "date": datetime.now(UTC).replace(microsecond=0).isoformat(),
            "newswatch": __version__,
            **library,
            "options": options.as_json(),
            **({"prior": prior.provenance()} if prior is not None else {}),
            "candidates": len(data.expressions) - len(data.held),
            "excluded": list(exclude),
            "files": provenance,
            "figures": figures,
        },
    }


def _length_json(data: Data, f: Fit) -> dict[str, Any]:
    """The model file's ``inputs.length``: the prior's measure, its fitted weight."""
    assert data.length is not None
    return {"measure": data.length.measure, "weight": round(f.weights[data.length_column], 6)}


def _encoder_about(data: Data) -> str:
    e = data.encoder
    return "" if e is None else ENCODER_ABOUT.format(name=e.name, package=e.package, chars=e.chars)


def _encoder_json(data: Data, f: Fit) -> dict[str, Any]:
    """The model file's ``encoder``: fitted weights, or the prior's scaled by its fitted factor; the version of
    the encoder's package the fit read the stories with."""
    e = data.encoder
    assert e is not None
    col = data.encoder_column
    if data.fitted:
        weights = f.weights[col : col + sentence_encoder.DIMENSIONS]
    else:
        weights = [f.weights[col] * w for w in e.weights]
    return {
        "name": e.name,
        "package": sentence_encoder.PACKAGE,
        "version": sentence_encoder.installed_version() or e.version,
        "chars": e.chars,
        "weights": [round(w, 6) for w in weights],
    }


def _sentences_json(data: Data, f: Fit, sets: Mapping[str, str], prior: Prior) -> dict[str, Any]:
    """The model file's ``sentences``: the prior's kinds (fingerprinted with these sets) and inputs, fitted weights."""
    kinds = {k.name: k.expression for k in prior.model.kinds}
    inputs = [
        {
            "name": x.name,
            "all": [list(g) for g in x.all],
            "none": list(x.none),
            "measure": x.measure,
            **({"within": x.within} if x.within else {}),
            "weight": round(f.weights[data.sentence_column(i)], 6),
        }
        for i, x in enumerate(data.sentence_inputs)
    ]
    return {
        "kinds": kinds,
        "fingerprints": {name: fingerprint(expr, sets) for name, expr in kinds.items()},
        "inputs": inputs,
    }


def file_provenance(path: Path, stories: Sequence[Story]) -> dict[str, Any]:
    by_lang: dict[str, list[int]] = {}
    for s in stories:
        n = by_lang.setdefault(s.language, [0, 0])
        n[0] += 1
        n[1] += int(s.label)
    return {
        "name": path.name,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "stories": len(stories),
        "relevant": sum(int(s.label) for s in stories),
        "languages": {k: {"stories": v[0], "relevant": v[1]} for k, v in sorted(by_lang.items())},
    }


def figures_json(ev: Evaluation) -> dict[str, Any]:
    return {**{lang: c.to_json() for lang, c in sorted(ev.by_language.items())}, "all": ev.total.to_json()}


def train(
    topic: TopicConfig,
    sets: Mapping[str, str],
    files: Sequence[tuple[Path, Sequence[Story]]],
    options: Options,
    extra: Sequence[str] = (),
    exclude: Sequence[str] = (),
    progress: Callable[[int], None] | None = None,
    prior: Prior | None = None,
) -> Result:
    """Fits the topic's model on all files (from scratch, or adapting ``prior``), measures it on them and
    cross-validated; the model's JSON."""
    if prior is not None and options.pull is None:
        options = replace(options, pull=PULL)
    check_options(options, prior is not None)
    if prior is None:
        sklearn()  # before the long part: say at once when it is missing
        expressions = candidate_features(topic, sets, extra, exclude)
    else:
        scipy()
        expressions = prior_candidates(prior, sets, extra, exclude)
        if all(e in exclude for e in expressions):
            raise TrainingError("--exclude leaves no candidate feature; give fewer, or a --features EXPR")
        options = replace(options, body=prior.model.body, text_chars=prior.model.text_chars)  # its inputs
    languages = [lang for lang, _w in prior.model.languages] if prior is not None else []
    sentence_inputs = prior.model.sentence_inputs if prior is not None else ()
    kinds = prior_kinds(prior, sets) if prior is not None else ()
    length = prior.model.length if prior is not None else None
    encoder, fitted = prior.model.encoder if prior is not None else None, False
    if options.encoder_chars:
        if encoder is not None:
            raise TrainingError(
                f"--encoder {options.encoder_chars}: the prior {prior.ref if prior else ''} has an encoder block already, "
                "which is refitted as a whole (its contribution scaled); leave --encoder out"
            )
        encoder = EncoderInput(
            sentence_encoder.NAME,
            sentence_encoder.PACKAGE,
            sentence_encoder.installed_version() or "",
            options.encoder_chars,
            (),
        )
        fitted = True
    if encoder is not None:
        sentence_encoder.load()  # said at once when it is missing, before the long part
    data = featurize(
        topic,
        sets,
        [(p.name, stories) for p, stories in files],
        expressions,
        progress,
        options.body,
        languages,
        sentence_inputs,
        kinds,
        options.text_chars,
        encoder,
        fitted,
        length,
    )
    own: Evaluation | None = None
    if prior is not None:
        data.held = tuple(i for i, e in enumerate(expressions) if e in exclude)
        data.prior = prior_fit(prior, data, unfold=True)
        # the prior as it is, with its own weights (every feature of it that compiles) and threshold
        as_is = prior_fit(prior, data, unfold=False)
        ps = [probability(as_is, e) for e in data.examples]
        own = measure(data.examples, ps, Options(threshold=prior.model.threshold))
    f = fit(data, data.examples, options)
    training = measure(data.examples, [probability(f, e) for e in data.examples], options)
    cv = cross_validate(data, options)
    figures: dict[str, Any] = {"training": figures_json(training)}
    if cv is not None:
        figures["cross_validated"] = figures_json(cv[0])
        if cv[1]:
            figures["cross_validated_by_file"] = {name: figures_json(ev) for name, ev in cv[1]}
    if own is not None:
        figures["prior"] = figures_json(own)
    provenance = [file_provenance(p, stories) for p, stories in files]
    model = model_json(topic, sets, data, f, options, provenance, figures, exclude, prior)
    return Result(
        model=model,
        training=training,
        cross_validated=cv[0] if cv else None,
        by_file=cv[1] if cv else [],
        passed_gate=sum(e.gate for e in data.examples),
        kept=len(model["features"]),
        prior=own,
    )
