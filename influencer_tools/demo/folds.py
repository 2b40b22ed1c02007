"""Fixed development and validation folds of the labelled people of ``../shared/faces``.

Thresholds are chosen on people of the *development* fold only; the *validation* fold holds
people never used while tuning, so the figures measured on them say how the choices generalise.

The rule (fixed; ``faces/FOLDS.csv`` lists its result for every identity of ``shared/faces``):

1. every identity the default demo was ever built from (the candidates of
   ``curate_faces.INFLUENCER_CANDIDATES`` and ``OTHER_CANDIDATES``, shipped or not) is in the
   development fold: the existing thresholds were tuned on them;
2. every other identity goes by the first hex digit of ``sha256("influencer-fold:" + identity)``:
   0-7 development, 8-f validation.

Note: the older per-face thresholds (quality gates, within-video track distance, the 0.40
cross-video verification) were measured on the photos of all 146 people before these folds
existed; ``benchmarks/accuracy.py`` reports their effect on each fold separately.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

DEVELOPMENT, VALIDATION = "development", "validation"
FOLDS_FILE = Path(__file__).resolve().parent / "faces" / "FOLDS.csv"
SALT = "influencer-fold:"


def hashed_fold(identity: str) -> str:
    """The fold of an identity that the default demo never used (rule 2)."""
    digit = hashlib.sha256((SALT + identity).encode()).hexdigest()[0]
    return DEVELOPMENT if digit in "01234567" else VALIDATION


def fold_of(identity: str, default_demo: set[str] | frozenset[str]) -> str:
    """The fold of ``identity`` given the identities of the default demo (rules 1 and 2)."""
    return DEVELOPMENT if identity in default_demo else hashed_fold(identity)


def load_folds(path: Path = FOLDS_FILE) -> dict[str, str]:
    """identity -> fold, from the committed ``FOLDS.csv``."""
    with path.open(encoding="utf-8", newline="") as handle:
        return {row["identity"]: row["fold"] for row in csv.DictReader(handle)}


def write_folds(identities: list[str], default_demo: set[str], path: Path = FOLDS_FILE) -> None:
    """Write ``FOLDS.csv`` (identity, fold, rule) for ``identities``."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["identity", "fold", "rule"])
        for identity in sorted(identities):
            rule = "default demo" if identity in default_demo else "sha256 first hex digit"
            writer.writerow([identity, fold_of(identity, default_demo), rule])
