"""The dominant face of a video: the person a viewer would call its presenter, or none.

``choose_dominant`` groups the video's faces into tracks (``faces.tracks``: one person, or one
picture, per track), measures each track's screen presence and liveness (``faces.track_evidence``)
and applies the rules of ``DominanceConfig``. A track can win when:

1. it is on screen in at least ``min_frames`` frames and ``min_frame_share`` of the searched frames;
2. its median face is at least ``min_median_rel_height`` of the frame height;
3. its presence (``frame_share * median_rel_height``) is at least ``min_presence``;
4. it is a live person, not a picture (``faces.liveness``): it is not the same image again and
   again (at least ``picture_share`` of its face pairs a second or more apart rigid copies, with a
   median landmark change below ``picture_median_shape``; with two or three pairs, all of them), it
   is in a row of similar faces (a film strip, a collage) in less than ``gallery_share`` of its
   frames, and it is held on screen in two consecutive sampled frames at least once. With
   ``use_border`` (off: measured, not yet a rule), also inside a picture's border
   (``faces.framing``) in less than ``framed_share`` of them; the border is always reported in the
   liveness words.

The winner is the eligible track with the strongest presence, and it must beat the strongest
*rival* (any other live track seen in ``min_frames`` frames with a median face of the minimum
size) by ``runner_up_ratio``. Otherwise the video has no dominant face. Pictures never win and
never block a presenter. The winner's embedding is the L2-normalised mean of its embedded faces
that pass the quality gates (all its embedded faces if none does); ``track_embeddings`` keeps up
to ``MAX_TRACK_EMBEDDINGS`` of its faces for cross-video matching. Every decision is written in
words (``decision``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from influencer_pipeline.errors import InputError
from influencer_pipeline.faces.calibration import calibration_for
from influencer_pipeline.faces.liveness import (
    MIN_PICTURE_PAIRS,
    PICTURE_MEDIAN_SHAPE,
    PICTURE_SHARE,
)
from influencer_pipeline.faces.track_evidence import TrackStats, good_mask, track_stats
from influencer_pipeline.faces.tracks import DEFAULT_TRACK_DISTANCE, embedding_matrix, group_tracks

REQUIRED_COLUMNS = ("frame_index", "rel_height", "embedding")
MAX_TRACK_EMBEDDINGS = 8  # faces of the dominant track kept for cross-video matching


class DominanceInputError(InputError):
    """The faces of a video cannot be scored; ``code`` is machine-readable."""


@dataclass(frozen=True)
class DominanceConfig:
    """Thresholds of the dominant-face rule, with the evidence behind each value.

    Calibrated on the 41 labelled real ads of ``shared/real_ads`` (frame dumps at about 1 fps,
    10-27 frames, turned into 1 fps videos; MTCNN + dlib) and kept inside the envelope the
    product owner gave for presenters: on screen in as little as 15 % of an ad's frames, face
    8-30 % of the frame height, between product shots.

    - ``track_distance``: the embedder's within-video identity cut (``faces.calibration``; dlib
      0.42); never a dlib distance for FaceNet vectors: use ``for_embedder``.
    - ``min_frames`` (2): one frame is a passer-by or a detector false positive.
    - ``min_frame_share`` (0.10): the baby of ``v32`` is on screen in 2 of 18 frames (11 %).
    - ``min_median_rel_height`` (0.07): the child presenter of ``v38`` has a median face of
      7.6 % of the frame height (360 x 640 upload); the issue's smallest presenter is 8 %.
    - ``min_presence`` (0.012 = 15 % of the frames x 8 % of the height, the smallest presenter
      of the envelope): the labelled presenters have 0.014 (``v38``) to 0.50 (``v69``); the
      woman on stage beside the singer of ``v17`` (3/25 frames at 7 %) has 0.008.
    - ``picture_share`` (0.35) and ``picture_median_shape`` (0.11), ``faces.liveness``:
      presenters have 0.00-0.20 of rigid pairs, pictures of people 0.45-1.00 with median pair
      landmark change 0.03-0.108 (presenters 0.11-0.20).
    - ``brief_rigid_pairs`` (2): a track with fewer than ``min_picture_pairs`` pairs has no
      share, but when it has at least two and every one is a rigid copy (median change below
      ``picture_median_shape``) it is a picture. Real ads' tracks with 2-3 pairs: pictures 2 of 8
      (``v06``, ``v68``), live people 0 of 16 (presenters, others, the real clips;
      ``benchmarks/framing.py``). One pair is not enough: demo presenters have one rigid pair
      in about one case in seven.
    - ``brief_picture_cues`` (2): a track with too few pairs for a share is also a picture when
      it shows two of these cues: its one or more pairs are all rigid copies, it sits inside a
      picture's border in half its frames, in a row of similar faces once, beside a face whose
      pairs are all rigid copies in most of its frames (``faces.track_evidence``: a couple in a
      photo or screenshot); or when it is inside a border in half its frames and none of its
      pairs moves. Real ads and clips: a border never surrounds a live person (0 of 31 tracks,
      ``benchmarks/framing.py``); of their 24 brief tracks (two frames or more, face 5 % of the
      height or more) the only ones with two cues are in the film-strip and family-photo
      folders (``v59``, ``v68``), and no decision of the 41 ads or 9 clips changes. Validation
      demo (seed 20260, development-fold people): the two faceless videos that a brief picture
      gave a face (a framed photo seen for 0.8 s, a film-strip face) have none; the border
      alone would have given two others one (the unframed face of a couple in a photo frame),
      which the companion cue prevents. 0 = off.
    - ``gallery_share`` (0.5): a track in a row of >= 3 similar faces in half of its frames.
    - ``framed_share`` (0.5, only with ``use_border``): a track inside a picture's border in half
      of its frames; the border is never found around a real presenter or a real clip's person
      (0 of 31 tracks, ``benchmarks/framing.py``).
    - ``require_continuity``: a presenter's shot is held for at least two consecutive sampled
      frames once (every labelled presenter is; the man of the film strip of ``v59``, two
      different photos in frames 5 and 10, is not).
    - ``runner_up_ratio`` (1.3): the winner's presence must beat the strongest live rival by 30 %
      (crowd clips: top tracks within 1.2x; real presenters beat rivals by 1.8x and more; the
      demo's worst case, influencer in 35 % of the frames vs a side character in 25 %, is 1.4x).
    """

    track_distance: float = DEFAULT_TRACK_DISTANCE
    min_frames: int = 2
    min_frame_share: float = 0.10
    min_median_rel_height: float = 0.07
    min_presence: float = 0.012
    runner_up_ratio: float = 1.3
    picture_share: float = PICTURE_SHARE
    picture_median_shape: float = PICTURE_MEDIAN_SHAPE
    min_picture_pairs: int = MIN_PICTURE_PAIRS
    gallery_share: float = 0.5
    framed_share: float = 0.5
    use_border: bool = False  # for every track: not yet (see the closing note of session 3)
    brief_rigid_pairs: int = 2  # a track with too few pairs for a share: all rigid, this many
    brief_picture_cues: int = 2  # ... or this many picture cues, or framed without a live pair
    require_continuity: bool = True

    def __post_init__(self) -> None:
        if not 0.0 < self.track_distance < 2.0:
            raise ValueError(f"track_distance must be in (0, 2), got {self.track_distance}")
        if self.min_frames < 1:
            raise ValueError(f"min_frames must be >= 1, got {self.min_frames}")
        for name in (
            "min_frame_share",
            "min_median_rel_height",
            "min_presence",
            "picture_share",
            "gallery_share",
            "framed_share",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        if self.runner_up_ratio < 1.0:
            raise ValueError(f"runner_up_ratio must be >= 1, got {self.runner_up_ratio}")

    @classmethod
    def for_embedder(cls, embedder: str, **overrides: object) -> DominanceConfig:
        """The rule with the within-video identity cut calibrated for ``embedder``."""
        track = calibration_for(embedder).track_distance
        return cls(**{"track_distance": track, **overrides})  # type: ignore[arg-type]


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
    track_embeddings: tuple[np.ndarray, ...] = ()
    n_picture_tracks: int = 0


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


def picture_reason(stats: TrackStats, config: DominanceConfig) -> str | None:
    """Why a track is a picture rather than a live person (None when nothing says so)."""
    if (
        stats.pairs >= config.min_picture_pairs
        and stats.rigid_share >= config.picture_share
        and stats.median_shape < config.picture_median_shape
    ):
        return (
            f"a picture: {stats.rigid_pairs}/{stats.pairs} frame pairs are rigid copies of one "
            f"image ({stats.rigid_share:.0%} >= {config.picture_share:.0%}) and its landmarks "
            f"keep their shape (median change {stats.median_shape:.2f} < "
            f"{config.picture_median_shape:.2f}): a photo, poster, print or screenshot, not a "
            "person moving"
        )
    brief = stats.pairs < config.min_picture_pairs  # too few pairs for a share of rigid pairs
    live_pairs = stats.pairs - stats.rigid_pairs  # pairs that changed shape or pixels
    if (
        brief
        and config.brief_rigid_pairs
        and stats.pairs >= config.brief_rigid_pairs
        and stats.rigid_pairs == stats.pairs
        and stats.median_shape < config.picture_median_shape
    ):
        return (
            f"a picture: all {stats.pairs} of its frame pairs are rigid copies of one image "
            f"(median landmark change {stats.median_shape:.2f} < "
            f"{config.picture_median_shape:.2f}); too few pairs for a share, so all must agree"
        )
    if config.use_border and stats.framed_share >= config.framed_share:
        return (
            f"a picture: inside a picture's border (straight edges on all four sides: a photo "
            f"frame, screen or poster) in {stats.framed_frames}/{stats.n_frames} frames"
        )
    if stats.gallery_share >= config.gallery_share:
        return (
            f"a picture: one of a row of similar faces in {stats.gallery_frames}/"
            f"{stats.n_frames} frames (film strip or collage)"
        )
    if brief and config.brief_picture_cues:
        cues = _brief_picture_cues(stats, config)
        framed = stats.framed_share >= config.framed_share
        if len(cues) >= config.brief_picture_cues or (framed and not live_pairs):
            return (
                f"a picture: too few frame pairs for a share ({stats.pairs}), and "
                f"{' and '.join(cues)}"
            )
    return None


def _brief_picture_cues(stats: TrackStats, config: DominanceConfig) -> list[str]:
    """What says a brief track (too few pairs for a share) is a picture, in words."""
    cues = []
    if (
        stats.pairs
        and stats.rigid_pairs == stats.pairs
        and (stats.median_shape < config.picture_median_shape)
    ):
        cues.append(f"its {stats.pairs} frame pair(s) are rigid copies")
    if stats.framed_share >= config.framed_share:
        cues.append(f"inside a picture's border in {stats.framed_frames}/{stats.n_frames} frames")
    if stats.gallery_frames:
        cues.append(f"in a row of similar faces in {stats.gallery_frames} frame(s)")
    if stats.rigid_companion:
        cues.append("seen beside a face that is a rigid copy too (one picture of two people)")
    return cues


def failed_rule(stats: TrackStats, config: DominanceConfig) -> str | None:
    """Why a track cannot be the dominant face (None when it passes every rule)."""
    if stats.n_frames < config.min_frames:
        return f"seen in fewer than {config.min_frames} frames (passer-by?)"
    if stats.median_rel_height < config.min_median_rel_height:
        return (
            f"median face below {config.min_median_rel_height:.0%} of frame height "
            "(photos on screen or people far away?)"
        )
    if stats.frame_share < config.min_frame_share:
        return f"on screen in less than {config.min_frame_share:.0%} of the frames"
    if stats.presence < config.min_presence:
        return (
            f"presence {stats.presence:.3f} below {config.min_presence:.3f} "
            "(15 % of the frames at 8 % of the height: a presenter's least)"
        )
    picture = picture_reason(stats, config)
    if picture is not None:
        return picture
    if config.require_continuity and not stats.continuous:
        return "never on screen in two consecutive frames (a photo coming back, not a shot)"
    return None


def _is_rival(stats: TrackStats, config: DominanceConfig) -> bool:
    return (
        stats.n_frames >= config.min_frames
        and stats.median_rel_height >= config.min_median_rel_height
        and picture_reason(stats, config) is None
    )


def _most_frontal(faces: pd.DataFrame, vectors_at: np.ndarray) -> np.ndarray:
    """Positions (into ``vectors_at``) of the more frontal half of the faces (at least one)."""
    if "frontalness" not in faces.columns or len(vectors_at) <= 2:
        return np.arange(len(vectors_at))
    front = pd.to_numeric(faces["frontalness"], errors="coerce").fillna(0.0).to_numpy()
    order = np.argsort(-front[vectors_at], kind="stable")
    return np.sort(order[: max(1, (len(order) + 1) // 2)])


def mean_embedding(faces: pd.DataFrame, rows: np.ndarray) -> tuple[np.ndarray, int]:
    """L2-normalised mean embedding of the track's best faces, and the number averaged.

    Good faces (past every quality gate) are preferred, and of them the more frontal half: a
    turned head is a poorer witness of identity (``faces.quality``: same-person distances grow
    with yaw), so the identity rests on the faces that look at the camera.
    """
    subset = faces[rows & good_mask(faces)]
    if not len(embedding_matrix(subset)[1]):
        subset = faces[rows]
    positions, vectors = embedding_matrix(subset)
    if len(vectors) == 0:
        raise DominanceInputError("no_embedding", "the track has no embedded face")
    vectors = vectors[_most_frontal(subset, positions)]
    mean = vectors.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    if norm < 1e-6:
        raise DominanceInputError(
            "degenerate_track", "the track's embeddings cancel out: no direction to average"
        )
    return (mean / norm).astype(np.float32), len(vectors)


def track_embeddings(
    faces: pd.DataFrame, rows: np.ndarray, limit: int = MAX_TRACK_EMBEDDINGS
) -> tuple[np.ndarray, ...]:
    """Up to ``limit`` embedded faces of the track (good faces first, spread over the track)."""
    positions, vectors = embedding_matrix(faces[rows])
    if len(vectors) == 0:
        return ()
    good = good_mask(faces[rows])[positions]
    chosen = np.flatnonzero(good) if good.any() else np.arange(len(vectors))
    if len(chosen) > limit:
        chosen = chosen[np.linspace(0, len(chosen) - 1, limit).round().astype(int)]
    return tuple(vectors[k].astype(np.float32) for k in chosen)


def best_thumbnail(faces: pd.DataFrame, rows: np.ndarray) -> bytes | None:
    """The thumbnail of the track's best face: passes quality, then frontal, large and confident."""
    if "thumbnail" not in faces.columns:
        return None
    subset = faces[rows]
    good = good_mask(subset)
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


def _none_decision(stats: list[TrackStats], config: DominanceConfig, n_body: int) -> str:
    """Why no track is eligible, in words: the strongest track and its first failing rule."""
    best = stats[0]
    text = f"none: strongest {best.describe(n_body)}: {failed_rule(best, config)}"
    pictures = [s for s in stats[1:] if picture_reason(s, config) is not None]
    if pictures:
        text += f"; {len(pictures)} other track(s) are pictures"
    return text


def choose_dominant(
    faces: pd.DataFrame, n_body_frames: int, config: DominanceConfig | None = None
) -> DominantFace:
    """Decide the dominant face of one video from its face rows and its number of body frames."""
    config = config or DominanceConfig()
    _validate(faces, n_body_frames)
    faces = faces.reset_index(drop=True)
    labels = group_tracks(faces, config.track_distance)
    stats = track_stats(faces, labels, n_body_frames) if n_body_frames else []
    n_pictures = sum(picture_reason(s, config) is not None for s in stats)
    base = {
        "n_body_frames": int(n_body_frames),
        "n_tracks": len(stats),
        "labels": labels,
        "tracks": tuple(stats),
        "n_picture_tracks": n_pictures,
    }
    if not stats:
        if n_body_frames == 0:
            reason = "none: the video has no body frames"
        elif len(faces):
            reason = (
                f"none: {len(faces)} face(s) detected in {n_body_frames} body frames, "
                "none embedded (below the hard quality gates or the smallest presenter size)"
            )
        else:
            reason = f"none: no face in {n_body_frames} body frames"
        return DominantFace(has_dominant_face=False, decision=reason, **base)
    eligible = [s for s in stats if failed_rule(s, config) is None]
    if not eligible:
        return DominantFace(
            has_dominant_face=False, decision=_none_decision(stats, config, n_body_frames), **base
        )
    winner = eligible[0]
    rivals = [s for s in stats if s.label != winner.label and _is_rival(s, config)]
    runner = rivals[0] if rivals else None
    if runner is not None and winner.presence < config.runner_up_ratio * runner.presence:
        return DominantFace(
            has_dominant_face=False,
            decision=(
                f"none: no single dominant face: {winner.describe(n_body_frames)} "
                f"(presence {winner.presence:.3f}) vs {runner.describe(n_body_frames)} "
                f"(presence {runner.presence:.3f}); needs {config.runner_up_ratio:g}x"
            ),
            **base,
        )
    rows = labels == winner.label
    embedding, n_mean = mean_embedding(faces, rows)
    other = runner or next((s for s in stats if s.label != winner.label), None)
    tail = f"runner-up {other.describe(n_body_frames)}" if other is not None else "no other track"
    if n_pictures:
        tail += f"; {n_pictures} track(s) ignored as pictures"
    return DominantFace(
        has_dominant_face=True,
        decision=(
            f"dominant: {winner.describe(n_body_frames)}, presence {winner.presence:.3f}; "
            f"live: {winner.liveness()}; {tail}"
        ),
        track=winner.label,
        embedding=embedding,
        n_embedded_faces=n_mean,
        dominant_frames=winner.n_frames,
        frame_share=winner.frame_share,
        median_rel_height=winner.median_rel_height,
        presence=winner.presence,
        thumbnail=best_thumbnail(faces, rows),
        track_embeddings=track_embeddings(faces, rows),
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
        "track_embeddings": [
            [float(v) for v in np.asarray(e, dtype=np.float32)] for e in dominant.track_embeddings
        ]
        or None,
        "n_picture_tracks": int(dominant.n_picture_tracks),
    }
