"""The blind labeled set's test half is frozen: any edit to it fails here."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

HELDOUT = Path(__file__).resolve().parent.parent / "fixtures" / "topics" / "heldout"
TEST_SHA256 = "efc3f4ed4fa980a06b62eec1b748f38e51deb9a2c41a999dd4af0d1d7a24d906"
TEST2_SHA256 = "6cea86fe62d56f16ce83cff86e52f0c9133276067e56052b2e9ce524bfcfcf2e"
TEST3_SHA256 = "e6fb9dbbed0ba8d8090eb6cbc198f2ea727f45dba225446ef1392790a7358554"
TEST4_SHA256 = "d9900d25c693d6220b2eeecefa18bfbbd690e88b98025836785691e64345b12c"


def test_test_sets_are_unchanged() -> None:
    assert hashlib.sha256((HELDOUT / "test.jsonl").read_bytes()).hexdigest() == TEST_SHA256
    assert hashlib.sha256((HELDOUT / "test2.jsonl").read_bytes()).hexdigest() == TEST2_SHA256
    assert hashlib.sha256((HELDOUT / "test3.jsonl").read_bytes()).hexdigest() == TEST3_SHA256
    assert hashlib.sha256((HELDOUT / "test4.jsonl").read_bytes()).hexdigest() == TEST4_SHA256


def test_halves_are_disjoint_and_balanced() -> None:
    for dev, test in (("dev", "test"), ("dev3", "test3"), ("dev4", "test4")):
        _check_halves(dev, test)


def _check_halves(dev: str, test: str) -> None:
    halves = {
        name: [json.loads(line) for line in (HELDOUT / f"{name}.jsonl").open(encoding="utf-8")] for name in (dev, test)
    }
    ids = {name: {story["id"] for story in stories} for name, stories in halves.items()}
    assert ids[dev] and ids[test] and not ids[dev] & ids[test]
    for stories in halves.values():
        counts = Counter((story["language"], story["label"]) for story in stories)
        for language in ("en", "ru", "zh"):
            assert counts[(language, 1)] >= 25 and counts[(language, 0)] >= 25
