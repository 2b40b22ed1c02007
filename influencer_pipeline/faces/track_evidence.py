"""What one video shows of each track (one person or one picture): screen presence and liveness.

``track_stats`` measures, per track of ``faces.tracks``:

- presence: frames with the track, ``frame_share`` of the searched frames, median face height
  (``median_rel_height``) and ``presence = frame_share * median_rel_height``;
- liveness (``faces.liveness``): how many of its cross-frame face pairs are rigid copies of one
  image (``rigid_pairs`` / ``pairs``), whether it is on screen in two consecutive sampled frames
  (``continuous``: one shot held at least one sampling step, as a presenter's shot is; the same
  person in scattered single frames is a photo coming back on a film strip or in a collage), and
  in how many of its frames it sits in a *gallery* (at least ``GALLERY_FACES`` faces of about its
  size in the frame: a film strip, a collage, a row of photos), and in how many it is *framed*
  (``faces.framing``: a picture's border on all four sides), and whether it has a *rigid
  companion*: another track seen with it in at least two frames and half of its own whose every
  measured pair is a rigid copy (two faces of one picture: a couple in a photo or screenshot).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from influencer_pipeline.faces.liveness import PICTURE_MEDIAN_SHAPE, rigid_pairs

GALLERY_FACES = 3  # faces of a similar size in one frame that make it a gallery
GALLERY_SIZE_RATIO = 1.6  # "similar size": heights within this ratio


@dataclass(frozen=True)
class TrackStats:
    """Screen presence and liveness evidence of one track in a video."""

    label: int
    n_frames: int
    frame_share: float
    median_rel_height: float
    presence: float
    n_good_faces: int
    first_frame: int
    pairs: int = 0
    rigid_pairs: int = 0
    median_shape: float = float("nan")
    continuous: bool = False
    gallery_frames: int = 0
    framed_frames: int = 0
    rigid_companion: bool = False

    @property
    def all_pairs_rigid(self) -> bool:
        """At least one pair measured, every one a rigid copy, the median keeping its shape."""
        return (
            self.pairs >= 1
            and self.rigid_pairs == self.pairs
            and self.median_shape < PICTURE_MEDIAN_SHAPE
        )

    @property
    def rigid_share(self) -> float:
        """Share of the measured cross-frame pairs that are rigid copies (0 when none measured)."""
        return self.rigid_pairs / self.pairs if self.pairs else 0.0

    @property
    def framed_share(self) -> float:
        """Share of the track's frames in which it has a picture's border around it."""
        return self.framed_frames / self.n_frames if self.n_frames else 0.0

    @property
    def gallery_share(self) -> float:
        """Share of the track's frames in which it is one of a row of similar faces."""
        return self.gallery_frames / self.n_frames if self.n_frames else 0.0

    def describe(self, n_body_frames: int) -> str:
        """A short human-readable summary, e.g. 'track 0 in 9/26 frames (35%), median face 31%'."""
        return (
            f"track {self.label} in {self.n_frames}/{n_body_frames} frames "
            f"({self.frame_share:.0%}), median face {self.median_rel_height:.0%} of frame height"
        )

    def liveness(self) -> str:
        """The liveness evidence in words."""
        rigid = (
            f"{self.rigid_pairs}/{self.pairs} frame pairs are rigid copies of one image "
            f"({self.rigid_share:.0%}), median landmark change {self.median_shape:.2f}"
            if self.pairs
            else "no frame pair to compare"
        )
        held = "held in consecutive frames" if self.continuous else "never in consecutive frames"
        gallery = (
            f", in a row of similar faces in {self.gallery_frames}/{self.n_frames} frames"
            if self.gallery_frames
            else ""
        )
        border = (
            f", inside a picture's border in {self.framed_frames}/{self.n_frames} frames"
            if self.framed_frames
            else ""
        )
        companion = ", beside a face that is a rigid copy too" if self.rigid_companion else ""
        return f"{rigid}, {held}{gallery}{border}{companion}"


def _framed(faces: pd.DataFrame) -> np.ndarray:
    """Per face: a picture's border around it (False where the column is absent or null)."""
    if "framed" not in faces.columns:
        return np.zeros(len(faces), dtype=bool)
    return faces["framed"].astype("boolean").fillna(False).to_numpy(dtype=bool)


def good_mask(faces: pd.DataFrame) -> np.ndarray:
    """Faces that pass every quality gate (all faces when the column is absent)."""
    if "passes_quality" not in faces.columns:
        return np.ones(len(faces), dtype=bool)
    return faces["passes_quality"].astype("boolean").fillna(False).to_numpy(dtype=bool)


def _landmarks(faces: pd.DataFrame) -> list[np.ndarray | None]:
    if "landmarks" not in faces.columns:
        return [None] * len(faces)
    out: list[np.ndarray | None] = []
    for value in faces["landmarks"].tolist():
        array = None if value is None else np.asarray(value, dtype=np.float64).reshape(-1)
        out.append(array.reshape(5, 2) if array is not None and array.size == 10 else None)
    return out


def _patches(faces: pd.DataFrame) -> list[bytes | None]:
    if "aligned_face" not in faces.columns:
        return [None] * len(faces)
    return [
        bytes(v) if isinstance(v, bytes | bytearray | memoryview) and len(v) else None
        for v in faces["aligned_face"].tolist()
    ]


def _times(faces: pd.DataFrame) -> np.ndarray:
    """Seconds of every face (``timestamp_s``; without it, one second per frame index)."""
    if "timestamp_s" in faces.columns:
        values = pd.to_numeric(faces["timestamp_s"], errors="coerce")
        if values.notna().all():
            return values.to_numpy(dtype=np.float64)
    return faces["frame_index"].to_numpy(dtype=np.float64)


def _gallery(faces: pd.DataFrame) -> np.ndarray:
    """Per face: True when its frame holds GALLERY_FACES or more faces of about its size."""
    heights = faces["rel_height"].to_numpy(dtype=np.float64)
    frames = faces["frame_index"].to_numpy()
    out = np.zeros(len(faces), dtype=bool)
    for frame in np.unique(frames):
        rows = np.flatnonzero(frames == frame)
        if len(rows) < GALLERY_FACES:
            continue
        h = heights[rows]
        ratio = np.maximum(h[:, None], h[None, :]) / np.maximum(
            np.minimum(h[:, None], h[None]), 1e-9
        )
        similar = (ratio <= GALLERY_SIZE_RATIO).sum(axis=1)  # itself included
        out[rows] = similar >= GALLERY_FACES
    return out


def track_stats(faces: pd.DataFrame, labels: np.ndarray, n_body_frames: int) -> list[TrackStats]:
    """Presence and liveness of every track in ``labels``, strongest presence first."""
    heights = faces["rel_height"].to_numpy(dtype=np.float64)
    frames = faces["frame_index"].to_numpy()
    times = _times(faces)
    good = good_mask(faces)
    landmarks, patches = _landmarks(faces), _patches(faces)
    gallery, framed = _gallery(faces), _framed(faces)
    stats = []
    for label in np.unique(labels[labels >= 0]):
        rows = np.flatnonzero(labels == label)
        distinct = np.unique(frames[rows])
        usable = [i for i in rows if landmarks[i] is not None and patches[i] is not None]
        rigid, pairs, median_shape = rigid_pairs(
            times[usable], [landmarks[i] for i in usable], [patches[i] for i in usable]
        )
        median = float(np.median(heights[rows]))
        share = len(distinct) / n_body_frames
        stats.append(
            TrackStats(
                label=int(label),
                n_frames=len(distinct),
                frame_share=share,
                median_rel_height=median,
                presence=share * median,
                n_good_faces=int(good[rows].sum()),
                first_frame=int(frames[rows].min()),
                pairs=pairs,
                rigid_pairs=rigid,
                median_shape=median_shape,
                continuous=bool(np.any(np.diff(distinct) == 1)),
                gallery_frames=len(np.unique(frames[rows][gallery[rows]])),
                framed_frames=len(np.unique(frames[rows][framed[rows]])),
            )
        )
    stats = _with_companions(stats, {s.label: set(frames[labels == s.label]) for s in stats})
    stats.sort(key=lambda s: (-s.presence, -s.n_frames, s.label))
    return stats


def _with_companions(stats: list[TrackStats], frames: dict[int, set]) -> list[TrackStats]:
    """``stats`` with ``rigid_companion`` set (module docstring)."""
    rigid = [s for s in stats if s.all_pairs_rigid]
    out = []
    for s in stats:
        mine = frames[s.label]
        shared = (len(mine & frames[o.label]) for o in rigid if o.label != s.label)
        companion = any(n >= 2 and 2 * n >= len(mine) for n in shared)
        out.append(replace(s, rigid_companion=companion) if companion else s)
    return out
