"""Distances that depend on the embedding space, kept with the embedder they were measured for.

A distance calibrated on dlib descriptors means nothing for FaceNet vectors (another network,
another scale), so every distance threshold of the face and identity stages is looked up here by
embedder name. Distances are Euclidean between L2-normalised embeddings.

- ``dlib`` (calibrated here, on ``../shared/faces`` and ``../shared/real_ads``):
  ``track_distance`` 0.42 is the within-video identity cut (``faces.tracks``), also the limit
  under which the embedded faces of one spatial tube are taken as one person (``embed_plan``);
  measured on as-seen descriptors and kept for the mirror-averaged ones (0.41, their distances'
  shrink, changed no presenter or picture decision on ``shared/real_ads``).
  ``identity_threshold`` 0.35 is the cross-video limit on the videos' mean vectors, the main
  threshold of ``identity_clusters`` (HDBSCAN candidates, verification: ``ClusterConfig``).
  Chosen on demos of development-fold people only (``demo/folds.py``: the development demo, the
  default demo and the tests' tiny demo; ``benchmarks/accuracy.py --face-identities development
  default``) for the mirror-averaged descriptors (``faces.dlib_descriptor``, session 9): the
  largest value of the curve with no wrong merge on any (BCubed P/R at 0.35: 1.000/0.762,
  1.000/1.000, 1.000/1.000; 0.36 merges two people of the development demo). Kept in session 10
  with the merge into the only cluster in reach (``identities.merging``): development 1.000/0.848,
  default and tiny 1.000/1.000, first wrong merge still at 0.36. On the validation fold, reported
  only: P/R 1.000/0.946 (session 9's mutual merge: 1.000/0.929; as-seen descriptors at the earlier
  0.345: 1.000/0.906); ``benchmarks/RESULTS.md``, sessions 9-10. The earlier values: 0.40 measured
  on the photos of all people before the folds, 0.345 on the development demos with as-seen
  descriptors.
  ``link_threshold`` 0.42 is the same limit on video-to-video distances over best-matching faces
  (``identities.video_links``; used when the asset compares bags of faces, off by default:
  measured worse), chosen the same way (development 1.000/0.748, default 1.000/0.803, no merge)
  with as-seen descriptors; not chosen again for the mirror-averaged ones (the mode is off).
- ``facenet`` (InceptionResnetV1 / VGGFace2): **not calibrated here** (its weights cannot be
  downloaded on these machines). The values are the commonly used same-person limit on
  normalised FaceNet embeddings (about 1.0) lowered for precision; ``calibrated`` is False and
  the asset metadata says so. Calibrate them with ``benchmarks/accuracy.py`` where the weights
  are available.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EmbedderCalibration:
    """The distance thresholds of one embedding space and whether they were measured."""

    embedder: str
    track_distance: float
    identity_threshold: float
    link_threshold: float
    calibrated: bool
    source: str


CALIBRATIONS: dict[str, EmbedderCalibration] = {
    "dlib": EmbedderCalibration(
        embedder="dlib",
        track_distance=0.42,
        identity_threshold=0.35,
        link_threshold=0.42,
        calibrated=True,
        source="demos of development-fold people (shared/faces) and shared/real_ads, MTCNN boxes, "
        "mirror-averaged descriptors",
    ),
    "facenet": EmbedderCalibration(
        embedder="facenet",
        track_distance=0.9,
        identity_threshold=0.9,
        link_threshold=0.8,
        calibrated=False,
        source="not calibrated here: literature same-person limit (~1.0) lowered for precision",
    ),
}


class UnknownEmbedderError(KeyError):
    """No calibration is known for an embedder name."""


def calibration_for(embedder: str) -> EmbedderCalibration:
    """The calibration of ``embedder`` ("dlib" or "facenet"); UnknownEmbedderError otherwise."""
    key = str(embedder).strip().lower()
    if key not in CALIBRATIONS:
        raise UnknownEmbedderError(
            f"no distance calibration for embedder {embedder!r}; known: {', '.join(CALIBRATIONS)}"
        )
    return CALIBRATIONS[key]
