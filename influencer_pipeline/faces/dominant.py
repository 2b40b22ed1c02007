"""The dominant face of a video: the one person with clear screen presence, or none (faceless).

``choose_dominant`` groups the video's embedded faces into tracks (``tracks.group_tracks``), scores
each track's screen presence and applies the rules of ``DominanceConfig``:

- ``frame_share`` = frames with the track / body frames sampled (faceless frames count);
- ``median_rel_height`` = median face-box height / frame height over the track's faces;
- ``presence`` = ``frame_share * median_rel_height`` (share-weighted size: a presenter in a third of
  the frames with a large face beats a photo or a passer-by seen small in more frames).

A track wins when it is seen in at least ``min_frames`` frames and ``min_frame_share`` of the body
frames, its median face is at least ``min_median_rel_height`` of the frame height, and its presence
is at least ``runner_up_ratio`` times that of the strongest rival (another track seen in at
least ``min_frames`` frames with a face of at least the minimum size: a side character or a
co-star). Otherwise the video has no dominant face. Small faces (photos printed on a product
or shown on a film strip, people far away) never win, however many frames they fill; a majority of
frames is never required. The winner's embedding is the L2-normalised mean of its track's faces
that pass the quality gates (all its faces if none does).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from influencer_pipeline.faces.tracks import DEFAULT_TRACK_DISTANCE, embedding_matrix, group_tracks

REQUIRED_COLUMNS = ("frame_index", "rel_height", "embedding")


class DominanceInputError(ValueError):
    """The faces of a video cannot be scored; ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class DominanceConfig:
    """Thresholds of the dominant-face rule, with the evidence behind each value.

    Measured with brief E's MTCNN + dlib face rows on ``shared/real_frames`` (each folder = the
    body frames of one ad) and on ``shared/videos`` sampled at 1 fps.

    - ``track_distance`` (0.42): identity cut within one video; see ``faces.tracks``.
    - ``min_frames`` (2): a person seen in one sampled frame is a passer-by (or a detector false
      positive: ad_07 has 1-frame "faces" on a balcony railing and on a dress pattern).
    - ``min_frame_share`` (0.20): the presenter of ad_07 is found in 7 of 26 frames (27 %); a
      majority rule would call that ad faceless. Passers-by in 1-2 frames of a long video stay
      below.
    - ``min_median_rel_height`` (0.12): median face height / frame height of the tracks that must
      not win is at most 0.10 (ad_00 film-strip photos 0.04-0.10, ad_07 printed couple photo
      0.05-0.06, the facenet crowd's pedestrian seen in 5/5 frames 0.09, the comment avatar of
      ad_00, 0.036, in every frame); talking heads are far above (ad_07 presenter 0.44,
      LivePortrait 0.40-0.76, Hamilton singer 0.30; demo influencers render at 0.25-0.45).
    - ``runner_up_ratio`` (1.3): the winner's presence must beat the strongest rival (another
      track with at least ``min_frames`` frames and a median face of at least
      ``min_median_rel_height``) by 30 %. In crowd clips the top tracks are close (opencv crowd:
      0.121 vs 0.102, 1.2x), real presenters win by far (Hamilton singer 0.180 vs
      0.098, 1.8x, even with two profile faces merged into the rival; ad_07 has no rival), and
      the demo's worst case (influencer in 35 % of the frames at 25 % height vs a side
      character in 25 % at 25 %) is 1.4x.
    """

    track_distance: float = DEFAULT_TRACK_DISTANCE
    min_frames: int = 2
    min_frame_share: float = 0.20
    min_median_rel_height: float = 0.12
    runner_up_ratio: float = 1.3

    def __post_init__(self) -> None:
        if not 0.0 < self.track_distance < 2.0:
            raise ValueError(f"track_distance must be in (0, 2), got {self.track_distance}")
        if self.min_frames < 1:
            raise ValueError(f"min_frames must be >= 1, got {self.min_frames}")
        if not 0.0 <= self.min_frame_share <= 1.0:
            raise ValueError(f"min_frame_share must be in [0, 1], got {self.min_frame_share}")
        if not 0.0 <= self.min_median_rel_height <= 1.0:
            raise ValueError(
                f"min_median_rel_height must be in [0, 1], got {self.min_median_rel_height}"
            )
        if self.runner_up_ratio < 1.0:
            raise ValueError(f"runner_up_ratio must be >= 1, got {self.runner_up_ratio}")


@dataclass(frozen=True)
class TrackStats:
    """Screen presence of one track (one person) in a video."""

    label: int
    n_frames: int
    frame_share: float
    median_rel_height: float
    presence: float
    n_good_faces: int
    first_frame: int

    def describe(self, n_body_frames: int) -> str:
        """A short human-readable summary, e.g. 'track 0 in 9/26 frames (35%), median face 31%'."""
        return (
            f"track {self.label} in {self.n_frames}/{n_body_frames} frames "
            f"({self.frame_share:.0%}), median face {self.median_rel_height:.0%} of frame height"
        )


@dataclass(frozen=True)
class DominantFace:
    """The decision for one video: its dominant face (track, embedding, presence) or none."""

    has_dominant_face: bool
    decision: str
    n_body_frames: int
    n_tracks: int
    track: int | None = None
    embedding: np.ndarray | None = None
    n_embedded_faces: int = 0
    dominant_frames: int = 0
    frame_share: float | None = None
    median_rel_height: float | None = None
    presence: float | None = None
    thumbnail: bytes | None = None
    tracks: tuple[TrackStats, ...] = ()
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def _validate(faces: pd.DataFrame, n_body_frames: int) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in faces.columns]
    if missing:
        raise DominanceInputError(
            "missing_columns", f"the faces table lacks the column(s) {', '.join(missing)}"
        )
    if isinstance(n_body_frames, bool) or not isinstance(n_body_frames, int | np.integer):
        raise DominanceInputError(
            "bad_n_body_frames", f"n_body_frames must be an integer, got {n_body_frames!r}"
        )
    if n_body_frames < 0:
        raise DominanceInputError(
            "bad_n_body_frames", f"n_body_frames must be >= 0, got {n_body_frames}"
        )
    if "video_id" in faces.columns and faces["video_id"].nunique(dropna=False) > 1:
        raise DominanceInputError(
            "mixed_videos",
            f"faces of {faces['video_id'].nunique(dropna=False)} videos given; pass one video",
        )
    n_frames = faces["frame_index"].nunique()
    if n_frames > n_body_frames:
        raise DominanceInputError(
            "frames_exceed_body",
            f"faces come from {n_frames} distinct frames but n_body_frames is {n_body_frames}",
        )
    heights = pd.to_numeric(faces["rel_height"], errors="coerce")
    if not heights.between(0.0, 1.0 + 1e-6).all():
        raise DominanceInputError(
            "bad_rel_height", "every face needs a rel_height between 0 and 1 (box / frame height)"
        )


def _good_mask(faces: pd.DataFrame) -> np.ndarray:
    if "passes_quality" not in faces.columns:
        return np.ones(len(faces), dtype=bool)
    return faces["passes_quality"].astype("boolean").fillna(False).to_numpy(dtype=bool)


def track_stats(faces: pd.DataFrame, labels: np.ndarray, n_body_frames: int) -> list[TrackStats]:
    """Presence figures of every track in ``labels``, strongest presence first."""
    heights = faces["rel_height"].to_numpy(dtype=np.float64)
    frames = faces["frame_index"].to_numpy()
    good = _good_mask(faces)
    stats = []
    for label in np.unique(labels[labels >= 0]):
        rows = labels == label
        n_frames = len(np.unique(frames[rows]))
        share = n_frames / n_body_frames
        median = float(np.median(heights[rows]))
        stats.append(
            TrackStats(
                label=int(label),
                n_frames=n_frames,
                frame_share=share,
                median_rel_height=median,
                presence=share * median,
                n_good_faces=int(good[rows].sum()),
                first_frame=int(frames[rows].min()),
            )
        )
    stats.sort(key=lambda s: (-s.presence, -s.n_frames, s.label))
    return stats


def _failed_rule(stats: TrackStats, config: DominanceConfig) -> str | None:
    """Why a track cannot be the dominant face (None when it passes every minimum)."""
    if stats.n_frames < config.min_frames:
        return f"seen in fewer than {config.min_frames} frames (passer-by?)"
    if stats.median_rel_height < config.min_median_rel_height:
        return (
            f"median face below {config.min_median_rel_height:.0%} of frame height "
            "(photos on screen or people far away?)"
        )
    if stats.frame_share < config.min_frame_share:
        return f"on screen in less than {config.min_frame_share:.0%} of the frames"
    return None


def mean_embedding(faces: pd.DataFrame, rows: np.ndarray) -> tuple[np.ndarray, int]:
    """L2-normalised mean embedding of ``rows`` (good faces preferred) and the number averaged."""
    good = rows & _good_mask(faces)
    chosen = good if good.any() else rows
    _, vectors = embedding_matrix(faces[chosen])
    mean = vectors.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    if norm < 1e-6:
        raise DominanceInputError(
            "degenerate_track", "the track's embeddings cancel out: no direction to average"
        )
    return (mean / norm).astype(np.float32), len(vectors)


def best_thumbnail(faces: pd.DataFrame, rows: np.ndarray) -> bytes | None:
    """The thumbnail of the track's best face: passes quality, then frontal, large and confident."""
    if "thumbnail" not in faces.columns:
        return None
    subset = faces[rows]
    good = _good_mask(subset)
    front = (
        pd.to_numeric(subset["frontalness"], errors="coerce").fillna(1.0).to_numpy()
        if "frontalness" in subset.columns
        else np.ones(len(subset))
    )
    score = (
        pd.to_numeric(subset["det_score"], errors="coerce").fillna(1.0).to_numpy()
        if "det_score" in subset.columns
        else np.ones(len(subset))
    )
    merit = subset["rel_height"].to_numpy(dtype=np.float64) * front * score
    order = np.lexsort((-merit, ~good))  # good faces first, then highest merit
    for position in order:
        value = subset["thumbnail"].iloc[position]
        if isinstance(value, bytes | bytearray | memoryview) and len(value) > 0:
            return bytes(value)
    return None


def choose_dominant(
    faces: pd.DataFrame, n_body_frames: int, config: DominanceConfig | None = None
) -> DominantFace:
    """Decide the dominant face of one video from its face rows and its number of body frames."""
    config = config or DominanceConfig()
    _validate(faces, n_body_frames)
    faces = faces.reset_index(drop=True)
    labels = group_tracks(faces, config.track_distance)
    stats = track_stats(faces, labels, n_body_frames) if n_body_frames else []
    base = {"n_body_frames": int(n_body_frames), "n_tracks": len(stats), "labels": labels}
    if not stats:
        if n_body_frames == 0:
            reason = "none: the video has no body frames"
        elif len(faces):
            reason = (
                f"none: {len(faces)} face(s) detected in {n_body_frames} body frames, "
                "none embeddable (below the hard quality gates)"
            )
        else:
            reason = f"none: no face in {n_body_frames} body frames"
        return DominantFace(has_dominant_face=False, decision=reason, **base)
    eligible = [s for s in stats if _failed_rule(s, config) is None]
    if not eligible:
        best = stats[0]
        why = _failed_rule(best, config)
        return DominantFace(
            has_dominant_face=False,
            decision=f"none: strongest {best.describe(n_body_frames)}: {why}",
            tracks=tuple(stats),
            **base,
        )
    winner = eligible[0]
    rivals = [
        s
        for s in stats
        if s.label != winner.label
        and s.n_frames >= config.min_frames
        and s.median_rel_height >= config.min_median_rel_height
    ]
    runner = rivals[0] if rivals else None
    if runner is not None and winner.presence < config.runner_up_ratio * runner.presence:
        return DominantFace(
            has_dominant_face=False,
            decision=(
                f"none: no single dominant face: {winner.describe(n_body_frames)} "
                f"(presence {winner.presence:.3f}) vs {runner.describe(n_body_frames)} "
                f"(presence {runner.presence:.3f}); needs {config.runner_up_ratio:g}x"
            ),
            tracks=tuple(stats),
            **base,
        )
    rows = labels == winner.label
    embedding, n_mean = mean_embedding(faces, rows)
    other = runner or next((s for s in stats if s.label != winner.label), None)
    tail = f"runner-up {other.describe(n_body_frames)}" if other is not None else "no other track"
    return DominantFace(
        has_dominant_face=True,
        decision=(
            f"dominant: {winner.describe(n_body_frames)}, presence {winner.presence:.3f}; {tail}"
        ),
        track=winner.label,
        embedding=embedding,
        n_embedded_faces=n_mean,
        dominant_frames=winner.n_frames,
        frame_share=winner.frame_share,
        median_rel_height=winner.median_rel_height,
        presence=winner.presence,
        thumbnail=best_thumbnail(faces, rows),
        tracks=tuple(stats),
        **base,
    )


def video_faces_row(
    video_id: str,
    dominant: DominantFace,
    n_body_frames: int,
    embedder: str | None,
    embedder_version: str | None,
) -> dict[str, object]:
    """One ``video_faces`` row (plain Python values) for ``video_id`` from its decision."""
    if int(n_body_frames) != dominant.n_body_frames:
        raise DominanceInputError(
            "n_body_frames_mismatch",
            f"video {video_id}: the decision was made on {dominant.n_body_frames} body frames, "
            f"not {n_body_frames}",
        )
    embedding = None
    if dominant.embedding is not None:
        embedding = [float(v) for v in np.asarray(dominant.embedding, dtype=np.float32)]
    return {
        "video_id": video_id,
        "has_dominant_face": bool(dominant.has_dominant_face),
        "embedding": embedding,
        "embedder": embedder,
        "embedder_version": embedder_version,
        "n_frames": int(n_body_frames),
        "n_tracks": int(dominant.n_tracks),
        "dominant_frames": int(dominant.dominant_frames),
        "frame_share": dominant.frame_share,
        "median_rel_height": dominant.median_rel_height,
        "presence": dominant.presence,
        "thumbnail": dominant.thumbnail,
        "decision": dominant.decision,
    }
