"""Learned topic models: weights over query expressions (a config's named sets, PARTNERS(...)), scored
after the topic's query, its gate, holds.

A model file is JSON (``newswatch topics train`` writes it). Each feature is a query expression with
four weights, one per input it gives: hit anywhere (1/0), hit in the title (1/0), hit in the lead (the
text's first ``textnorm.LEAD_CHARS`` characters, 1/0) and the body input: a hit in the body after the lead
(1/0) when the file's ``inputs.body`` is "binary" (what ``topics train`` writes), log(1 + hits there) when it
is "log" or absent (as the first models were).
With a weight per language and a bias, p = sigmoid(bias + sum of weight x input), and the topic's score
is 10 x p (0-10). Scoring is a sparse sum in plain Python: matching a model without an encoder block (below)
needs neither numpy nor scikit-learn.

A file may add sentence inputs (``sentences``): how much of the story is a kind of sentence (those a kind's
query hits), as a share of the text's sentences, log(1 + their number), or 1/0 for the title or the first sentence.
A log input may count only the sentences that start within the text's first ``within`` characters, so that it reads
a full-length article as it reads the excerpts a model is trained on, not higher the longer the article runs.
A file's ``inputs.text_chars`` has the model read only the title and the text's first that many characters (the
topic's query, its gate, still reads the whole article, though it is asked first of that part's sentences and the
whole text is tokenized only when they do not settle it: ``Query.holds``): its labeled stories were excerpts, and a long article
read whole fired features (anywhere, in the body) and sentence kinds that its excerpt did not.

A file's ``inputs.length`` (``{"measure": "chars", "weight": W}``) adds W x ln(1 + n) to the log-odds, n the number of
characters of the text the model reads (its first ``text_chars``, or all of it; the title not counted): the same
evidence means one thing in a two-sentence feed summary (where one S&T sentence is the story) and another in a long
excerpt (where it may be a passing phrase).

A file may add an ``encoder`` block (``crawler.encoder``): a weight per dimension of a sentence encoder's vector of
the title and the text's first ``chars`` characters, whose dot product with the vector is added to the log-odds.
The encoder (and numpy) is loaded only when such a model scores a story that passed its gate.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from crawler import encoder as sentence_encoder
from crawler.encoder import EncoderInput, EncoderTerm
from crawler.errors import QuerySyntaxError, UsageError
from crawler.topics import (
    TEXT,
    TITLE,
    Document,
    Match,
    Occurrence,
    Query,
    compile_query,
    hit_zones,
    located,
    sets_used,
    shown_hits,
    shown_labels,
    strip_comments,
    unglued,
    with_definitions,
    zones_hit,
)
from crawler.wording import count, noun

FORMAT = "newswatch-topic-model"
VERSION = 1  # what a model file says, and what every scoring digest reads
# what a file with a length input says: a newswatch before the input would drop inputs.length without a word and
# score every story without it (with the default model's negative weight, nearly every story past the gate would
# match); it refuses a file of this version instead ('a model of version 2; this newswatch reads 1')
LENGTH_VERSION = 2
VERSIONS = (VERSION, LENGTH_VERSION)
ZONES = ("any", "title", "lead", "body")  # a feature's inputs, in this order
_ZONE_WORDS = {"any": "", "title": " in title", "lead": " in lead", "body": " in body"}
# the form of a feature's body input (its hits after the lead): "binary", a hit there (1/0), or "log",
# log(1 + hits), which models were first trained with: it grows with the article's length, so the same
# story at full length scored otherwise than its excerpt (the labeled stories are excerpts)
BODY_FORMS = ("binary", "log")
BODY_DEFAULT = "log"  # a model file without inputs.body
BODY_TRAINED = "binary"  # what 'topics train' writes
SHIPPED = Path(__file__).resolve().parent / "data" / "models"
_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
# how a sentence input reads the sentences it counts: their share of the text's sentences, log(1 + their
# number), whether the title holds the input's kinds (1/0), whether the text's first sentence is one (1/0)
MEASURES = ("share", "log", "title", "first")
# how a length input (inputs.length) measures the text the model reads: "chars", its number of characters
LENGTH_MEASURES = ("chars",)


class ModelError(UsageError):
    """A topic's model file is missing, unreadable or not a model; the message says how to fix it."""


@dataclass(frozen=True)
class Feature:
    expression: str  # a query expression, e.g. "@china" or "PARTNERS(@china, @russia, @cooperation)"
    weights: tuple[float, float, float, float]  # per ZONES
    fingerprint: str = ""  # of the expression with its sets' definitions when the model was trained


@dataclass(frozen=True)
class SentenceKind:
    """A kind of sentence: those holding a hit of its query (run on the whole article, so a country's
    entities are recognised as they are for the features)."""

    name: str
    expression: str
    fingerprint: str = ""


@dataclass(frozen=True)
class SentenceInput:
    """An input read from the article's sentences: those that hold, for each group of ``all``, one of its kinds,
    and none of ``none``'s; how much of the story they are (``measure``), times ``weight``. It says how much of a
    story is about what the features only see somewhere in it."""

    name: str
    all: tuple[tuple[str, ...], ...]  # groups of kind names: a sentence holds some kind of each group
    none: tuple[str, ...]  # kind names a counted sentence holds none of
    measure: str  # MEASURES
    weight: float
    # with measure "log": count only the sentences starting within the text's first ``within`` characters (0: all)
    within: int = 0


@dataclass(frozen=True)
class LengthInput:
    """``inputs.length``: ``weight`` x ln(1 + n), n the characters of the text the model reads (``read_part``; the
    title not counted), so that a feed's two-sentence summary and a long excerpt weigh the same evidence otherwise."""

    measure: str  # LENGTH_MEASURES
    weight: float

    def value(self, part: Document) -> float:
        """Its value (before its weight) for the part of an article the model reads: 0 for an empty text."""
        return math.log1p(len(part.text))

    @staticmethod
    def label(part: Document) -> str:
        """What the input is, in a model's explanation: 'length (1,500 characters read)'."""
        return f"length ({count(len(part.text), 'character')} read)"


@dataclass(frozen=True)
class Model:
    """A topic's learned weights, as read from its file, with the set definitions its features use."""

    source: str  # the file, as the config named it
    digest: str  # SHA-256 of what scoring reads (``scoring_digest``): a changed model is a changed topic
    bias: float
    languages: tuple[tuple[str, float], ...]
    features: tuple[Feature, ...]
    sets: tuple[tuple[str, str], ...] = ()  # the config's definitions of the sets the features use
    threshold: float = 0.5  # the file's threshold.p: the topic's min_score defaults to 10 x this
    body: str = BODY_DEFAULT  # the form of the features' body input (BODY_FORMS)
    kinds: tuple[SentenceKind, ...] = ()  # the file's sentences.kinds
    sentence_inputs: tuple[SentenceInput, ...] = ()  # the file's sentences.inputs
    text_chars: int = 0  # the file's inputs.text_chars: the model reads the text's first this many characters (0: all)
    encoder: EncoderInput | None = None  # the file's encoder block: a sentence encoder's vector, weighted
    length: LengthInput | None = None  # the file's inputs.length: how much text the model read, weighted

    def expressions(self) -> list[tuple[str, str]]:
        """(what, query expression) of every query the model runs: its features, then its sentence kinds."""
        return [(f"feature {i}", f.expression) for i, f in enumerate(self.features)] + [
            (f"sentence kind {k.name!r}", k.expression) for k in self.kinds
        ]

    def scorer(self) -> Scorer:
        return Scorer(self)


# --- reading and writing ---------------------------------------------------------------------------


def resolve(ref: str, base: Path) -> Path | None:
    """The model file a config's ``model = REF`` names: a path relative to the config's folder, else a
    model shipped with newswatch (``crawler/data/models/REF.json``); None when neither exists."""
    path = base / Path(ref).expanduser()
    if path.is_file():
        return path
    if _NAME_RE.fullmatch(ref):
        shipped = SHIPPED / (ref if ref.endswith(".json") else f"{ref}.json")
        if shipped.is_file():
            return shipped
    return None


def shipped_names() -> list[str]:
    return sorted(p.stem for p in SHIPPED.glob("*.json"))


class ModelFileError(ModelError):
    """The file a model reference names cannot be read as JSON. Worded for a config's ``model``; ``problem``
    lets another caller word it for its own option: "missing" (no such file, nor a shipped model of that
    name), "unreadable" or "not JSON", with the ``path`` and the system's or the parser's ``detail``."""

    def __init__(self, message: str, problem: str, path: Path | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.problem, self.path, self.detail = problem, path, detail


@dataclass(frozen=True)
class ModelFile:
    """A model file as read, before its fields are checked."""

    path: Path
    raw: bytes
    data: Any  # its JSON


def read_model_file(ref: str, base: Path) -> ModelFile:
    """The file ``ref`` names (see `resolve`), read and decoded; ModelFileError says what is wrong."""
    path = resolve(ref, base)
    if path is None:
        shipped = ", ".join(shipped_names()) or "none"
        raise ModelFileError(
            f"no model file {ref!r}: neither {base / ref} exists nor a shipped model of that name "
            f"(shipped: {shipped}); give a path relative to the config file or train one with 'newswatch topics train'",
            "missing",
        )
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ModelFileError(
            f"cannot read the model file {path}: {exc.strerror}", "unreadable", path, str(exc.strerror)
        ) from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(
            f"{path} is not JSON ({exc}); write it with 'newswatch topics train'", "not JSON", path, str(exc)
        ) from None
    return ModelFile(path, raw, data)


def load_model(ref: str, base: Path) -> Model:
    """Reads and validates the model a config names; ModelError says what is wrong and how to fix it."""
    file = read_model_file(ref, base)
    return parse_model(file.data, ref, where=str(file.path))


# Model fields that are no part of what a model scores: where it was read from, the digest itself, and the
# config's set definitions (bound after reading; a topic's identity covers them on its own).
_NOT_SCORED = {"source", "digest", "sets"}
# an encoder block's notes of what its weights were fitted with (the package installed is what scores)
_ENCODER_NOT_SCORED = {"package", "version"}


def scoring_digest(model: Model) -> str:
    """SHA-256 of what scoring reads, in a canonical form: the format and version, then every field of the
    parsed model but its source and sets (inputs, bias, languages' weights, threshold, each feature's
    expression, fingerprint and weights, in the file's order), as sorted-key JSON of the parsed numbers.

    A change that can change a score changes it; the file's bytes do not: retraining to the same weights
    (another ``training`` date, library versions or file names), re-indenting the JSON or editing its
    ``about`` note keeps the digest, and so the topic's stored matches."""
    scored = {k: v for k, v in asdict(model).items() if k not in _NOT_SCORED}
    for key in ("kinds", "sentence_inputs"):  # a model without sentence inputs keeps the digest it had before them
        if not scored[key]:
            del scored[key]
    for x in scored.get("sentence_inputs", ()):  # and one without a window on its log inputs, the digest it had
        if not x["within"]:
            del x["within"]
    if not scored["text_chars"]:  # and one reading the whole text, the digest it had
        del scored["text_chars"]
    if scored["length"] is None or not scored["length"]["weight"]:  # and one without a length input, the digest it had
        del scored["length"]
    if scored["encoder"] is None:  # and one without an encoder block, the digest it had
        del scored["encoder"]
    else:
        scored["encoder"] = {k: v for k, v in scored["encoder"].items() if k not in _ENCODER_NOT_SCORED}
    text = json.dumps({"format": FORMAT, "version": VERSION, **scored}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_model(data: Any, source: str, where: str = "") -> Model:
    where = where or source
    fix = "write it with 'newswatch topics train'"
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ModelError(f'{where} is not a newswatch topic model (no "format": {FORMAT!r}); {fix}')
    if data.get("version") not in VERSIONS:
        raise ModelError(
            f"{where} is a model of version {data.get('version')!r}; this newswatch reads versions "
            f"{' and '.join(map(str, VERSIONS))}; {fix} (or upgrade newswatch if a newer one wrote it)"
        )

    def number(value: Any, what: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ModelError(f"{where}: {what} must be a finite number, found {value!r}; {fix}")
        return float(value)

    bias = number(data.get("bias"), "bias")
    languages = data.get("languages", {})
    if not isinstance(languages, dict):
        raise ModelError(f"{where}: languages must be an object of language code to weight; {fix}")
    features = data.get("features")
    if not isinstance(features, list):
        raise ModelError(f"{where}: features must be a list; {fix}")
    out: list[Feature] = []
    for i, f in enumerate(features):
        if not isinstance(f, dict) or not isinstance(f.get("expression"), str) or not f["expression"].strip():
            raise ModelError(f"{where}: features[{i}] needs an 'expression' (a query, e.g. \"@china\"); {fix}")
        weights = f.get("weights")
        if not isinstance(weights, dict) or set(weights) - set(ZONES):
            raise ModelError(f"{where}: features[{i}].weights must be an object with keys {', '.join(ZONES)}; {fix}")
        w = tuple(number(weights.get(z, 0.0), f"features[{i}].weights.{z}") for z in ZONES)
        out.append(Feature(f["expression"], w, str(f.get("fingerprint", ""))))  # type: ignore[arg-type]
    threshold = data.get("threshold", {})
    p = number(threshold.get("p", 0.5), "threshold.p") if isinstance(threshold, dict) else 0.5
    if not 0.0 < p < 1.0:
        raise ModelError(f"{where}: threshold.p must be a probability between 0 and 1, found {p:g}; {fix}")
    inputs = data.get("inputs", {})
    body = inputs.get("body", BODY_DEFAULT) if isinstance(inputs, dict) else None
    if body not in BODY_FORMS:
        raise ModelError(
            f"{where}: inputs.body must be one of {', '.join(BODY_FORMS)}, found {body!r}; "
            f"{fix} (or upgrade newswatch if a newer one wrote it)"
        )
    text_chars = inputs.get("text_chars", 0) if isinstance(inputs, dict) else 0
    if isinstance(text_chars, bool) or not isinstance(text_chars, int) or text_chars < 0:
        raise ModelError(
            f"{where}: inputs.text_chars must be a whole number of characters (0 or more, 0: the whole text), "
            f"found {text_chars!r}; {fix}"
        )
    length = _length(inputs["length"], where, fix, number) if isinstance(inputs, dict) and "length" in inputs else None
    kinds, sentence_inputs = _sentences(data.get("sentences", {}), where, fix, number)
    encoder = _encoder(data["encoder"], where, fix, number) if "encoder" in data else None
    model = Model(
        source=source,
        digest="",
        bias=bias,
        languages=tuple(sorted((str(k), number(v, f"languages.{k}")) for k, v in languages.items())),
        features=tuple(out),
        threshold=p,
        body=body,
        kinds=kinds,
        sentence_inputs=sentence_inputs,
        text_chars=text_chars,
        encoder=encoder,
        length=length,
    )
    return replace(model, digest=scoring_digest(model))


def _length(data: Any, where: str, fix: str, number: Any) -> LengthInput:
    """A model file's ``inputs.length``: {"measure": "chars", "weight": W}."""
    if not isinstance(data, dict):
        raise ModelError(
            f'{where}: inputs.length must be an object with measure and weight ({{"measure": "chars", "weight": 0.3}}), '
            f"found {data!r}; {fix}"
        )
    measure = data.get("measure")
    if measure not in LENGTH_MEASURES:
        raise ModelError(
            f"{where}: inputs.length.measure must be {' or '.join(map(repr, LENGTH_MEASURES))} (the number of characters "
            f"of the text the model reads; the only measure this newswatch knows), found {measure!r}; "
            f"{fix} (or upgrade newswatch if a newer one wrote it)"
        )
    return LengthInput(measure, number(data.get("weight"), "inputs.length.weight"))


def _encoder(data: Any, where: str, fix: str, number: Any) -> EncoderInput:
    """A model file's ``encoder``: {"name", "package", "version", "chars", "weights": [512 numbers]}."""
    known = sentence_encoder.NAME
    if not isinstance(data, dict):
        raise ModelError(f"{where}: encoder must be an object with name, package, version, chars and weights; {fix}")
    name = data.get("name")
    if name != known:
        raise ModelError(
            f"{where}: encoder.name must be {known!r} (the only sentence encoder this newswatch knows), found {name!r}; "
            f"{fix} (or upgrade newswatch if a newer one wrote it)"
        )
    notes = {key: data.get(key, "") for key in ("package", "version")}
    for key, value in notes.items():
        if not isinstance(value, str):
            raise ModelError(f"{where}: encoder.{key} must be a string, found {value!r}; {fix}")
    chars = data.get("chars")
    if isinstance(chars, bool) or not isinstance(chars, int) or chars <= 0:
        raise ModelError(
            f"{where}: encoder.chars must be a whole number of characters above 0 (how much of the text the encoder "
            f"reads after the title), found {chars!r}; {fix}"
        )
    weights = data.get("weights")
    size = sentence_encoder.DIMENSIONS
    if not isinstance(weights, list) or len(weights) != size:
        found = f"{len(weights)} {noun(len(weights), 'number')}" if isinstance(weights, list) else repr(weights)
        raise ModelError(
            f"{where}: encoder.weights must be a list of {size} numbers (one per dimension of {known}), found {found}; "
            f"{fix}"
        )
    w = tuple(number(v, f"encoder.weights[{i}]") for i, v in enumerate(weights))
    return EncoderInput(name, notes["package"] or sentence_encoder.PACKAGE, notes["version"], chars, w)


def _sentences(
    data: Any, where: str, fix: str, number: Any
) -> tuple[tuple[SentenceKind, ...], tuple[SentenceInput, ...]]:
    """A model file's ``sentences``: {"kinds": {name: expression}, "fingerprints": {name: fp}, "inputs": [...]}."""
    if not isinstance(data, dict):
        raise ModelError(f"{where}: sentences must be an object with kinds and inputs; {fix}")
    raw_kinds, prints = data.get("kinds", {}), data.get("fingerprints", {})
    if not isinstance(raw_kinds, dict) or not isinstance(prints, dict):
        raise ModelError(f"{where}: sentences.kinds and sentences.fingerprints must be objects of name to text; {fix}")
    kinds: list[SentenceKind] = []
    for name, expr in raw_kinds.items():
        if not isinstance(expr, str) or not expr.strip():
            raise ModelError(f'{where}: sentences.kinds.{name} must be a query expression, e.g. "@cooperation"; {fix}')
        kinds.append(SentenceKind(str(name), expr, str(prints.get(name, ""))))
    raw_inputs = data.get("inputs", [])
    if not isinstance(raw_inputs, list):
        raise ModelError(f"{where}: sentences.inputs must be a list; {fix}")
    inputs: list[SentenceInput] = []
    for i, x in enumerate(raw_inputs):
        at = f"sentences.inputs[{i}]"
        if not isinstance(x, dict):
            raise ModelError(f"{where}: {at} must be an object with all, measure and weight; {fix}")
        groups, none, measure = x.get("all"), x.get("none", []), x.get("measure")
        if (
            not isinstance(groups, list)
            or not groups
            or not all(isinstance(g, list) and g and all(isinstance(k, str) for k in g) for g in groups)
            or not isinstance(none, list)
            or not all(isinstance(k, str) for k in none)
        ):
            raise ModelError(
                f"{where}: {at}.all must be a list of lists of kind names (and none a list of kind names); {fix}"
            )
        unknown = [k for g in [*groups, none] for k in g if k not in raw_kinds]
        if unknown:
            raise ModelError(f"{where}: {at} names the kind {unknown[0]!r}, which sentences.kinds lacks; {fix}")
        if measure not in MEASURES:
            raise ModelError(f"{where}: {at}.measure must be one of {', '.join(MEASURES)}, found {measure!r}; {fix}")
        within = x.get("within", 0)
        if isinstance(within, bool) or not isinstance(within, int) or within < 0 or (within and measure != "log"):
            raise ModelError(
                f"{where}: {at}.within must be a whole number of characters (0 or more) and only with measure log, "
                f"found {within!r} with measure {measure}; {fix}"
            )
        inputs.append(
            SentenceInput(
                str(x.get("name") or f"sentences {i}"),
                tuple(tuple(g) for g in groups),
                tuple(none),
                measure,
                number(x.get("weight"), f"{at}.weight"),
                within,
            )
        )
    return tuple(kinds), tuple(inputs)


def fingerprint(expression: str, sets: Mapping[str, str]) -> str:
    """What a feature means under these sets: a digest of its expression with the definitions it uses
    (comments, spacing and GLUE( ... ), which changes no match nor score, aside), so that retraining is
    called for when one of them changes."""
    text = strip_comments(unglued(with_definitions(expression, sets)))
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()[:16]


def bind(model: Model, sets: Mapping[str, str]) -> Model:
    """The model with the definitions of the sets its features use; QuerySyntaxError (naming the feature)
    when one does not compile with them, e.g. uses a set the config does not define."""
    used: dict[str, str] = {}
    for _what, expression in model.expressions():
        for name in sets_used(expression, sets):
            used[name] = sets[name]
    return replace(model, sets=tuple(used.items()))


def feature_problem(model: Model, sets: Mapping[str, str]) -> str | None:
    """Why one of the model's features does not compile with these sets, or None."""
    for what, expression in model.expressions():
        try:
            compile_query(expression, sets)
        except QuerySyntaxError as exc:
            return f"{what} ({expression}) does not compile with this config's sets: {exc.message}"
    return None


def stale_features(model: Model, sets: Mapping[str, str]) -> list[str]:
    """The model's features (and sentence kinds) whose sets changed since it was trained."""
    stale = [f.expression for f in model.features if f.fingerprint and f.fingerprint != fingerprint(f.expression, sets)]
    return stale + [
        k.expression for k in model.kinds if k.fingerprint and k.fingerprint != fingerprint(k.expression, sets)
    ]


# --- scoring ---------------------------------------------------------------------------------------


def body_input(form: str, hits: int) -> float:
    """A feature's body input from its number of hits in the body after the lead."""
    if not hits:
        return 0.0
    return 1.0 if form == "binary" else math.log1p(hits)


def zone_inputs(
    doc: Document, hits: Iterable[tuple[str, str, int, int]], body: str = BODY_DEFAULT
) -> tuple[float, float, float, float]:
    """A feature's four inputs from its hits in the article (the feature holds), the body's in form ``body``."""
    title, lead, in_body = hit_zones(doc, hits)
    return 1.0, float(title > 0), float(lead > 0), body_input(body, in_body)


@dataclass
class Scored:
    """A model's verdict on one article: p, its terms' contributions, and the hits behind the positive ones."""

    p: float
    contributions: list[tuple[str, float]] = field(default_factory=list)  # (what, weight x input), largest first
    match: Match | None = None
    meaning: tuple[str, float] | None = None  # an encoder block's contribution (label, value), also when 0
    length: tuple[str, float] | None = None  # a length input's contribution (label, value), also when 0

    @property
    def score(self) -> float:
        return round(10.0 * self.p, 3)

    def explain(self, most: int = 5) -> str:
        """The largest contributions: 'PARTNERS(@china, @russia, @cooperation) in title +3.1, @off_topic -0.9'; a
        model's length input and encoder block are named whatever their size ('length (1,500 characters read) -0.84,
        meaning of the title and first 600 characters +1.23', with two decimals: one story's differs from another's
        by less than a feature's)."""
        always = [t for t in (self.length, self.meaning) if t is not None]
        named = {what for what, _value in always}
        shown = [(what, value) for what, value in self.contributions[:most] if abs(value) >= 0.05 and what not in named]
        out = [f"{what} {value:+.1f}" for what, value in shown]
        out.extend(f"{what} {value:+.2f}" for what, value in always)
        return ", ".join(out)


class Scorer:
    """A model compiled for matching: one query per feature with a non-zero weight. The queries share
    the document's memo of sub-query results, so a set several features use is evaluated once per article."""

    def __init__(self, model: Model) -> None:
        sets = dict(model.sets)
        self.model = model
        self.languages = dict(model.languages)
        self.features: list[tuple[Feature, Query]] = [
            (f, compile_query(f.expression, sets)) for f in model.features if any(f.weights)
        ]
        inputs = [x for x in model.sentence_inputs if x.weight]
        used = {k for x in inputs for k in (*(k for g in x.all for k in g), *x.none)}
        self.sentence_inputs = inputs
        self.kinds: list[tuple[str, Query]] = [
            (k.name, compile_query(k.expression, sets)) for k in model.kinds if k.name in used
        ]
        self.encoder = EncoderTerm(model.encoder) if model.encoder is not None and any(model.encoder.weights) else None
        self.length = model.length if model.length is not None and model.length.weight else None

    def fts(self, min_score: float) -> str | None:
        """An FTS5 expression that selects every article the model can score at ``min_score`` or above: one of
        the features that raise p, or a kind that a sentence input raising p needs, must hit. None when that
        cannot narrow the search: what has no FTS form (a country's entities) could reach ``min_score`` with
        the bias alone (and what needs no word: a length input, an encoder block, at their most), or nothing can
        be excluded."""
        if not 0.0 < min_score < 10.0:
            return None
        need = math.log(min_score / (10.0 - min_score))  # z at which 10 x p = min_score
        free = self.model.bias + max([0.0, *self.languages.values()])
        if self.encoder is not None:  # it needs no word: at most the weights' length (the vector's is 1)
            free += self.encoder.bound
        if self.length is not None and self.length.weight > 0:  # at most a whole part's (a negative one only lowers p)
            if not self.model.text_chars:
                return None  # the model reads the whole text: no bound
            free += self.length.weight * math.log1p(self.model.text_chars)
        bound = 1.0 if self.model.body == "binary" else None  # the largest body input, if any
        parts: list[str] = []
        for f, q in self.features:
            if not any(w > 0 for w in f.weights):
                continue  # it only lowers p
            expr = q.fts()
            if expr is not None:
                parts.append(expr)
            elif f.weights[3] > 0 and bound is None:
                return None  # its body input has no bound
            else:
                free += sum(w for w in f.weights[:3] if w > 0) + max(f.weights[3], 0.0) * (bound or 0.0)
        kinds = {name: q.fts() for name, q in self.kinds}
        for x in sorted(self.sentence_inputs, key=lambda x: x.measure == "log"):
            if x.weight <= 0:
                continue  # it only lowers p
            if x.measure != "log" and free + x.weight < need:
                free += x.weight  # share, title, first: at most 1, and the rest cannot reach min_score with it
                continue
            # it is 0 unless a kind of each of its groups hits: one group whose kinds have an FTS form says where
            groups = [g for g in x.all if all(kinds[k] is not None for k in g)]
            if not groups:
                if x.measure == "log":
                    return None  # no bound
                free += x.weight
                continue
            group = min(groups, key=lambda g: sum(len(str(kinds[k])) for k in g))
            parts.extend(str(kinds[k]) for k in group)
        if free >= need or not parts:
            return None
        return " OR ".join(f"({p})" for p in dict.fromkeys(parts))

    def score(
        self,
        doc: Document,
        language: str | None,
        spans: bool = True,
        encoder: bool = True,
        floor: float | None = None,
    ) -> Scored:
        """p for the article (past the topic's gate), with the hits of the features that raised it and, with
        ``spans``, their places (for snippets: matching alone does not need them). ``encoder`` False leaves an
        encoder block out (a warm-up: it loads no encoder). ``floor``: the caller drops a score below it (a topic's
        min_score): a story that cannot reach it whatever its encoder's vector is not encoded (its score is then
        its other inputs' alone, below ``floor`` as the true one is)."""
        whole = doc  # the encoder reads its own part of the whole article
        doc = read_part(doc, self.model.text_chars)
        z = self.model.bias
        terms: list[tuple[str, float]] = []
        positive: list[tuple[float, list[Occurrence]]] = []
        lang_w = self.languages.get(language or "", 0.0)
        if lang_w:
            z += lang_w
            terms.append((f"language {language}", lang_w))
        binary = self.model.body == "binary"
        for f, q in self.features:
            occs = q.occurrences(doc)
            if occs is None:
                continue
            if binary:  # a truth value per zone: the hits need not be collected
                title, lead, body = zones_hit(doc, occs)
                inputs = (1.0, float(title), float(lead), float(body))
            else:
                inputs = zone_inputs(doc, {h for o in occs for h in o[3]}, self.model.body)
            total = 0.0
            for zone, w, x in zip(ZONES, f.weights, inputs):
                if w and x:
                    terms.append((f.expression + _ZONE_WORDS[zone], w * x))
                    total += w * x
            z += total
            if total > 0:
                positive.append((total, occs))
        if self.sentence_inputs:
            for name, value in self.sentence_terms(doc):
                z += value
                terms.append((name, value))
        length: tuple[str, float] | None = None
        if self.length is not None:
            length = (self.length.label(doc), self.length.weight * self.length.value(doc))
            z += length[1]
            if length[1]:
                terms.append(length)
        meaning: tuple[str, float] | None = None
        if self.encoder is not None and encoder and (floor is None or z + self.encoder.bound >= _below(floor)):
            meaning = (self.encoder.spec.label, self.encoder.value(whole.title, whole.text))
            z += meaning[1]
            if meaning[1]:
                terms.append(meaning)
        p = 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0
        terms.sort(key=lambda t: -abs(t[1]))
        positive.sort(key=lambda t: -t[0])
        labels: dict[str, None] = {}
        raised: set[tuple[str, str, int, int]] = set()
        for _total, occs in positive:
            labels.update(dict.fromkeys(sorted(shown_labels(occs))))
            if spans:  # their places too, for snippets
                raised |= shown_hits({h for o in occs for h in o[3]})
        scored = Scored(p, terms, meaning=meaning, length=length)
        scored.match = Match(score=scored.score, hits=tuple(labels), spans=located(doc, raised) if spans else ())
        return scored

    def sentence_values(self, doc: Document) -> list[tuple[SentenceInput, float]]:
        """Each sentence input with its value for the article (before its weight)."""
        return list(zip(self.sentence_inputs, sentence_values(doc, self.kinds, self.sentence_inputs)))

    def sentence_terms(self, doc: Document) -> list[tuple[str, float]]:
        """The sentence inputs' contributions to z (weight x value), those that are not 0."""
        return [(f"{x.name} (sentences)", x.weight * v) for x, v in self.sentence_values(doc) if v]


def _below(score: float) -> float:
    """A z under which 10 x p, rounded as a score is (3 places), stays below ``score``; -inf when none does."""
    p = (score - 0.001) / 10.0
    return math.log(p / (1.0 - p)) if 0.0 < p < 1.0 else (-math.inf if p <= 0.0 else math.inf)


def read_note(doc: Document, text_chars: int) -> str | None:
    """What a model reading a part (``read_part``) read of a longer article, for its explanation: 'it read the
    title and the text's first 1,500 of 4,210 characters'; None when it read the whole article."""
    if not text_chars or len(doc.text) <= text_chars:
        return None
    return f"it read the title and the text's first {text_chars:,} of {len(doc.text):,} characters"


def read_part(doc: Document, text_chars: int) -> Document:
    """The part of the article a model reads: the title and the text's first ``text_chars`` characters (0: all).
    A place in the part is the same place in the whole text, so its spans serve the article's snippets."""
    if not text_chars or len(doc.text) <= text_chars:
        return doc
    return Document(doc.title, doc.text[:text_chars])


def sentence_values(doc: Document, kinds: Sequence[tuple[str, Query]], inputs: Sequence[SentenceInput]) -> list[float]:
    """Each of ``inputs``' value for the article (before its weight), over ``kinds`` compiled (name, query)."""
    text = doc.fields[TEXT]
    n = (text.positions[-1] >> text.shift) + 1 if text.positions else 1  # the text's sentences
    in_text: dict[str, set[int]] = {}
    in_title: dict[str, bool] = {}
    for name, q in kinds:
        occs = q.occurrences(doc)
        found, title = set(), False
        for o in occs or ():
            for _label, field_name, first, _last in o[3]:
                if field_name == TITLE:
                    title = True
                else:
                    found.add(first >> text.shift)
        in_text[name], in_title[name] = found, title
    starts: list[int] = []  # each sentence's first character, read only for an input with a window
    if any(x.within for x in inputs):
        starts = [-1] * n
        for index, position in enumerate(text.positions):
            if starts[position >> text.shift] < 0:
                starts[position >> text.shift] = text.starts[index]
    out = []
    for x in inputs:
        if x.measure == "title":
            hit = all(any(in_title[k] for k in g) for g in x.all) and not any(in_title[k] for k in x.none)
            out.append(float(hit))
            continue
        counted = set.intersection(*(set().union(*(in_text[k] for k in g)) for g in x.all))
        counted -= set().union(*(in_text[k] for k in x.none))
        if x.within:  # a hit lies in a sentence with a token, so its start is known
            counted = {s for s in counted if starts[s] < x.within}
        if x.measure == "share":
            value = len(counted) / n
        elif x.measure == "log":
            value = math.log1p(len(counted))
        else:  # first
            value = float(0 in counted)
        out.append(value)
    return out


def gated_match(
    query: Query,
    scorer: Scorer | None,
    doc: Document,
    language: str | None,
    spans: bool = True,
    encoder: bool = True,
    floor: float | None = None,
) -> Match | None:
    """An article's match for a topic (below its min_score included), or None when its query does not hold.

    Without ``scorer`` (a rule topic) the score is the query's; with one, the query is a gate and the score
    is 10 x the model's p, the hits those of the features that add to p (their places only with ``spans``).
    ``encoder`` False leaves a model's encoder block out (a warm-up, which must not load the encoder); ``floor``:
    the caller drops a score below it (``Scorer.score``).
    """
    if scorer is None:
        return query.match_prepared(doc)
    if not query.holds(doc, scorer.model.text_chars):  # decided on the part the model reads, where that settles it
        return None
    return scorer.score(doc, language, spans, encoder, floor).match
