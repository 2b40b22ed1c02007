"""The fixed development / validation folds of the demo's people (``demo/folds.py``).

Thresholds are chosen on the development fold only; these tests keep the folds honest: the
committed ``FOLDS.csv`` is what the rule gives, every person the default demo was ever built from
is in the development fold, and the validation demo's people are all validation people.
"""

from __future__ import annotations

import csv

from influencer_tools.demo.curate_faces import INFLUENCER_CANDIDATES, OTHER_CANDIDATES
from influencer_tools.demo.folds import (
    DEVELOPMENT,
    FOLDS_FILE,
    VALIDATION,
    fold_of,
    hashed_fold,
    load_folds,
)
from influencer_tools.demo.photos import load_library

DEFAULT_DEMO = set(INFLUENCER_CANDIDATES) | set(OTHER_CANDIDATES)


def test_committed_folds_follow_the_rule() -> None:
    folds = load_folds()
    assert len(folds) >= 100
    for identity, fold in folds.items():
        assert fold == fold_of(identity, DEFAULT_DEMO), identity
    with FOLDS_FILE.open(encoding="utf-8", newline="") as handle:
        rules = {row["identity"]: row["rule"] for row in csv.DictReader(handle)}
    assert {i for i, r in rules.items() if r == "default demo"} == DEFAULT_DEMO & set(folds)


def test_default_demo_people_are_all_development() -> None:
    folds = load_folds()
    assert all(folds[i] == DEVELOPMENT for i in DEFAULT_DEMO if i in folds)


def test_both_folds_hold_many_people() -> None:
    counts = {DEVELOPMENT: 0, VALIDATION: 0}
    for fold in load_folds().values():
        counts[fold] += 1
    assert counts[DEVELOPMENT] >= 40 and counts[VALIDATION] >= 40, counts


def test_hashed_fold_is_stable() -> None:
    # the rule is a fixed hash: the same name always lands in the same fold
    assert hashed_fold("someone_new") == hashed_fold("someone_new")
    assert {hashed_fold(f"person_{k}") for k in range(40)} == {DEVELOPMENT, VALIDATION}


def test_demo_identity_sets_use_only_their_fold() -> None:
    folds = load_folds()
    for identity_set, fold in (("development", DEVELOPMENT), ("validation", VALIDATION)):
        library = load_library(identity_set=identity_set)
        people = set(library.identities("influencer")) | set(library.identities("other"))
        assert people, identity_set
        assert {folds[p] for p in people} == {fold}, identity_set
    default = load_library(identity_set="default")
    assert not (
        set(default.identities("influencer")) & {i for i, f in folds.items() if f == VALIDATION}
    )
