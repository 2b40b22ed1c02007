"""Distances that depend on the embedding space, kept with the embedder they were measured for.

A distance calibrated on dlib descriptors means nothing for FaceNet vectors (another network,
another scale), so every distance threshold of the face and identity stages is looked up here by
embedder name. Distances are Euclidean between L2-normalised embeddings.

- ``dlib`` (calibrated here, on ``../shared/faces`` and ``../shared/real_ads``):
  ``track_distance`` 0.42 is the within-video identity cut (``faces.tracks``), also the limit
  under which the embedded faces of one spatial tube are taken as one person (``embed_plan``);
  ``identity_threshold`` 0.40 is the cross-video verification limit (``identities.clustering``,
  evidence in ``ClusterConfig``); ``link_threshold`` is the video-to-video distance over
  best-matching faces below which two videos may be joined (``identities.video_links``,
  chosen on the development fold, see ``identities/folds.py``).
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
        identity_threshold=0.40,
        link_threshold=0.36,
        calibrated=True,
        source="shared/faces photos (development fold) and shared/real_ads, MTCNN boxes",
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
