"""Within-video face tracks: group one video's embedded faces into people.

A *track* is the set of faces of one person in one video. Faces are grouped by agglomerative
clustering (SciPy, average linkage) of their L2-normalised embeddings, cut at an identity
distance (Euclidean distance between unit vectors, ``sqrt(2 - 2 cos)``). Two faces detected in the
same frame are two different people (a cannot-link constraint): their distance is raised to
``CANNOT_LINK_DISTANCE`` before linkage, and any cluster that still holds two faces of one frame
is split along its own dendrogram (recursively in two) until no track has two faces in a frame.
Faces without an embedding get the label ``-1``, except faces that were not embedded because
their spatial tube already had enough embedded faces (``faces.embed_plan``): they take the label
most of the embedded faces of their tube have.

Labels are ``0..k-1``, ordered by the number of frames of the track (largest first), then by the
first frame the track appears in, then by input row position.

Threshold evidence for ``DEFAULT_TRACK_DISTANCE`` (dlib 128-d descriptors, L2-normalised, MTCNN
boxes; faces from brief E's ``face_rows``; frames at ~1 fps):

- 595 photos of 146 people (``shared/faces``): same person median 0.33, 95th pct 0.46, 99th 0.51;
  different people 1st pct 0.44, median 0.57. Share of pairs on the wrong side of a cut at
  0.38 / 0.40 / 0.42 / 0.45: same person split 24 / 16 / 11 / 6 %, different people merged
  0.05 / 0.16 / 0.45 / 1.9 % (photos years apart; faces within one video are closer).
- One person across the frames of one clip: LivePortrait clips max 0.26-0.35; the presenter of
  ``real_frames/ad_07`` 0.17-0.35 in close-ups, 0.26-0.44 between her close-ups and her
  standing shots; the singer of the Hamilton clip 0.22-0.38.
- Different people in one clip come closer than in photos when faces are profile, dark or tiny:
  audience members of the Hamilton clip 0.34-0.39 (they share frames: cannot-link separates
  them), the pianist in profile vs a spectator in profile 0.41 (no shared frame).
- The decisions of ``faces.dominant`` on the three real ads and the nine clips are the same for
  every cut in 0.38-0.45; at 0.36 the ad_07 presenter splits into close-ups and standing shots
  (and the ad turns faceless), at 0.50 the Hamilton pianist and spectators merge into a rival
  that hides the singer. From 0.42 up the two profile faces above form one 3-frame track (no
  effect on the decision). 0.42 sits in the middle of the stable range.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import pdist, squareform

from influencer_pipeline.cells import is_missing
from influencer_pipeline.errors import InputError

# Identity cut for the faces of one video: Euclidean distance between L2-normalised dlib
# descriptors, average linkage (evidence in the module docstring). Other embedders (facenet,
# 512-d) have another scale: pass their own threshold.
DEFAULT_TRACK_DISTANCE = 0.42
# Distance given to two faces of the same frame: larger than any distance between unit vectors (2).
CANNOT_LINK_DISTANCE = 4.0
# Faces of one spatial tube are one person (the shot holds them in place; a head turn moves a
# face's embedding, it does not make another person): they are linked unless they look clearly
# different, farther apart than this times the cut (0.55 with dlib's 0.42; the same person's
# photos: 95th percentile 0.47).
MUST_LINK_RATIO = 1.3
LINKAGE_METHODS = ("average", "complete")


class TrackInputError(InputError):
    """The faces table cannot be grouped into tracks; ``code`` is machine-readable."""


def embedding_matrix(faces: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the rows that have an embedding and their L2-normalised matrix (n x dim)."""
    if "embedding" not in faces.columns:
        raise TrackInputError("missing_columns", "the faces table has no 'embedding' column")
    positions: list[int] = []
    vectors: list[np.ndarray] = []
    dim: int | None = None
    for position, value in enumerate(faces["embedding"].tolist()):
        if is_missing(value):
            continue
        try:
            vector = np.asarray(value, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise TrackInputError(
                "bad_embedding", f"face row {position}: the embedding is not a numeric vector"
            ) from exc
        if vector.size == 0 or not np.all(np.isfinite(vector)):
            raise TrackInputError(
                "bad_embedding", f"face row {position}: the embedding is empty or not finite"
            )
        norm = float(np.linalg.norm(vector))
        if norm < 1e-6:
            raise TrackInputError("bad_embedding", f"face row {position}: the embedding is zero")
        if dim is None:
            dim = vector.size
        elif vector.size != dim:
            raise TrackInputError(
                "embedding_dim_mismatch",
                f"face row {position}: embedding has {vector.size} values, earlier rows {dim}",
            )
        positions.append(position)
        vectors.append(vector / norm)
    if not vectors:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float64)
    return np.asarray(positions, dtype=np.int64), np.vstack(vectors)


def _frame_keys(faces: pd.DataFrame) -> np.ndarray:
    """The frame of every row (the cannot-link key)."""
    if "frame_index" not in faces.columns:
        raise TrackInputError("missing_columns", "the faces table has no 'frame_index' column")
    frames = faces["frame_index"]
    if frames.isna().any():
        raise TrackInputError("bad_frame_index", "some face rows have no frame_index")
    return frames.to_numpy()


def _has_conflict(frames: np.ndarray) -> bool:
    """True when two members of a group come from the same frame."""
    return len(np.unique(frames)) < len(frames)


def _split(
    members: np.ndarray, distances: np.ndarray, frames: np.ndarray, method: str
) -> list[np.ndarray]:
    """Split ``members`` along their own dendrogram until no part has two faces of one frame."""
    if not _has_conflict(frames[members]):
        return [members]
    sub = distances[np.ix_(members, members)]
    tree = linkage(squareform(sub, checks=False), method=method)
    halves = fcluster(tree, t=2, criterion="maxclust")
    parts: list[np.ndarray] = []
    for half in np.unique(halves):
        parts.extend(_split(members[halves == half], distances, frames, method))
    return parts


def constrained_clusters(
    vectors: np.ndarray,
    frames: np.ndarray,
    distance_threshold: float,
    method: str = "average",
    tubes: np.ndarray | None = None,
) -> list[np.ndarray]:
    """Groups of row indices of ``vectors`` (unit rows) with no two members from one frame.

    ``tubes`` (optional, -1 = none): faces of one spatial tube (held in place across frames,
    ``faces.embed_plan``) are one person when their embeddings are within ``MUST_LINK_RATIO``
    times the cut (a must-link: the person turned their head, the shot did not cut).
    """
    n = len(vectors)
    if n == 0:
        return []
    if n == 1:
        return [np.zeros(1, dtype=np.int64)]
    distances = squareform(pdist(vectors, metric="euclidean"))
    if tubes is not None:
        same_tube = (tubes[:, None] == tubes[None, :]) & (tubes[:, None] >= 0)
        distances[same_tube & (distances <= MUST_LINK_RATIO * distance_threshold)] = 0.0
    same_frame = frames[:, None] == frames[None, :]
    np.fill_diagonal(same_frame, False)
    distances[same_frame] = CANNOT_LINK_DISTANCE
    tree = linkage(squareform(distances, checks=False), method=method)
    flat = fcluster(tree, t=distance_threshold, criterion="distance")
    groups: list[np.ndarray] = []
    for label in np.unique(flat):
        groups.extend(_split(np.flatnonzero(flat == label), distances, frames, method))
    return groups


def group_tracks(
    faces: pd.DataFrame,
    distance_threshold: float = DEFAULT_TRACK_DISTANCE,
    method: str = "average",
) -> np.ndarray:
    """Track label per face row (``-1`` for faces without embedding); one track = one person."""
    if not 0.0 < distance_threshold < 2.0:
        raise ValueError(f"distance_threshold must be in (0, 2), got {distance_threshold}")
    if method not in LINKAGE_METHODS:
        raise ValueError(f"method must be one of {LINKAGE_METHODS}, got {method!r}")
    labels = np.full(len(faces), -1, dtype=np.int64)
    if len(faces) == 0:
        return labels
    if "video_id" in faces.columns and faces["video_id"].nunique(dropna=False) > 1:
        raise TrackInputError("mixed_videos", "tracks are per video: pass one video's faces")
    frames = _frame_keys(faces)
    positions, vectors = embedding_matrix(faces)
    tubes = None
    if "tube" in faces.columns:
        tube_ids = pd.to_numeric(faces["tube"], errors="coerce").fillna(-1)
        tubes = tube_ids.to_numpy(dtype=np.int64)[positions]
    groups = constrained_clusters(vectors, frames[positions], distance_threshold, method, tubes)

    def order(group: np.ndarray) -> tuple[int, int, int]:
        rows = positions[group]
        first = rows[np.argmin(frames[rows])]
        return (-len(group), int(frames[first]), int(first))

    for label, group in enumerate(sorted(groups, key=order)):
        labels[positions[group]] = label
    return _through_tubes(faces, labels)


def _through_tubes(faces: pd.DataFrame, labels: np.ndarray) -> np.ndarray:
    """Give unembedded faces of a tube the majority label of the tube's embedded faces."""
    if "tube" not in faces.columns or "embed_skip" not in faces.columns:
        return labels
    tube = pd.to_numeric(faces["tube"], errors="coerce").fillna(-1).to_numpy(dtype=np.int64)
    inherit = (labels < 0) & (tube >= 0) & (faces["embed_skip"].astype(object) == "tube_has_enough")
    for t in np.unique(tube[inherit]):
        known = labels[(tube == t) & (labels >= 0)]
        if len(known):
            values, counts = np.unique(known, return_counts=True)
            labels[inherit & (tube == t)] = values[np.argmax(counts)]
    return labels
