"""The dlib distance thresholds on people never used to choose them (the validation fold).

``faces.calibration``'s ``identity_threshold`` (mean vectors, 0.35) and ``link_threshold`` (bags
of faces, 0.42) were chosen on demos of development-fold people only; here they are applied to
the shipped photos of the *validation* fold (``demo/faces``, manifest ``identity_set =
validation``; no ``../shared`` needed). A photo pair is harder than a video pair (one face a
side, no mean over a track), so the bounds are loose: they catch a threshold that no longer
separates people. Measured with the mirror-averaged descriptors, 135 photos (share of
same-person / different-people pairs within the limit): 0.35: 82.3 % / 0.03 %, 0.40: 97.9 % /
0.53 %, 0.42: 97.9 % / 1.13 % (as seen: 77.1 % / 0.02 %, 94.8 % / 0.25 %, 96.9 % / 0.72 %).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image

from influencer_pipeline.faces.calibration import calibration_for
from influencer_pipeline.faces.detection import Detection, FaceDetector
from influencer_pipeline.faces.embedders import make_embedder
from influencer_tools.demo.folds import VALIDATION, load_folds
from influencer_tools.demo.photos import load_library

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def validation_faces() -> tuple[list[str], list[tuple[np.ndarray, list[Detection]]]]:
    """(identity, (image, [its largest face])) of every validation photo with a face."""
    detector = FaceDetector(batch_size=16)
    library = load_library(identity_set="validation")
    ids, items = [], []
    for identity, photos in sorted(library.photos.items()):
        for photo in photos:
            image = np.asarray(Image.open(photo.path).convert("RGB"))
            found = detector.detect([image])[0]
            if not found:
                continue
            largest = max(found, key=lambda d: d.width * d.height)
            items.append((image, [largest]))
            ids.append(identity)
    return ids, items


def _embedded(items: list, **options: bool) -> np.ndarray:
    matrix = np.concatenate(make_embedder("dlib", **options).embed_many(items)).astype(np.float64)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def validation_embeddings(validation_faces) -> tuple[list[str], np.ndarray]:
    """(identity, L2-normalised dlib embedding) of the largest face of every validation photo."""
    ids, items = validation_faces
    return ids, _embedded(items)


def _pair_distances(ids: list[str], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distances of the same-person pairs and of the different-people pairs."""
    same, other = [], []
    for i, j in itertools.combinations(range(len(ids)), 2):
        (same if ids[i] == ids[j] else other).append(float(np.linalg.norm(x[i] - x[j])))
    return np.asarray(same), np.asarray(other)


def test_the_photos_are_validation_people(validation_embeddings) -> None:
    ids, _ = validation_embeddings
    folds = load_folds()
    assert len(set(ids)) >= 40
    assert {folds[i] for i in ids} == {VALIDATION}


@pytest.mark.parametrize(
    ("name", "least_same"), [("identity_threshold", 0.6), ("link_threshold", 0.9)]
)
def test_thresholds_separate_validation_people(
    validation_embeddings, name: str, least_same: float
) -> None:
    limit = getattr(calibration_for("dlib"), name)
    same, other = _pair_distances(*validation_embeddings)
    same_within = float(np.mean(same <= limit))
    other_within = float(np.mean(other <= limit))
    assert same_within >= least_same, (limit, same_within)
    assert other_within <= 0.012, (limit, other_within)


def test_mirror_averaging_brings_one_persons_photos_closer(
    validation_faces, validation_embeddings
) -> None:
    """At the same share of different-people pairs (0.1 %), more same-person pairs are within
    reach with mirror-averaged descriptors than with descriptors of the faces as seen (measured:
    89.6 % -> 92.7 % of 96 pairs)."""
    ids, items = validation_faces
    recall = {}
    for name, x in (
        ("mirrored", validation_embeddings[1]),
        ("as seen", _embedded(items, mirrored=False)),
    ):
        same, other = _pair_distances(ids, x)
        recall[name] = float(np.mean(same <= np.quantile(other, 0.001)))
    assert recall["mirrored"] >= recall["as seen"] + 0.02, recall
