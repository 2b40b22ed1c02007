"""Quality gates for one detected face: measured and recorded per face, never silently applied.

``assess(image, detection)`` returns a ``FaceQuality`` with the measurements, the list of failed
gates (``flags``) and ``passes`` (no flag). Consumers decide what to do with a flag:
``hard_fail`` (gates ``low_score`` and ``small``) means the face is too unreliable to embed; the
soft gates (``tiny``, ``blurry``, ``profile``) keep the embedding but mark the face as a poor
witness for identity.

Gates and their thresholds (``QualityThresholds`` defaults):

- ``low_score`` (hard): MTCNN score < 0.90.
- ``small`` (hard): box height < 24 px in the (<= 640 px) frame.
- ``tiny``: box height / frame height < 0.04 (relative size is also kept for dominance).
- ``blurry``: sharpness < 25. Sharpness is the variance of the 4-neighbour Laplacian of the
  grayscale face crop (the box) resized to 64 x 64 and contrast-normalised to a grey-level standard
  deviation of 32 first, so dark or low-contrast but sharp faces are not called blurry.
- ``profile``: frontalness < 0.05. Frontalness (0..1) comes from the five landmarks: after undoing
  the eye-line roll, the nose must sit between the eyes and between the mouth corners; yaw
  symmetry is min/max of the left and right distances from the nose (eyes and mouth averaged;
  0 once the nose passes an eye, as in a profile). It is multiplied by a roll factor that is 1 up
  to 40 degrees of eye-line roll and falls linearly to 0 at 60 degrees.

Calibration (595 faces, MTCNN score >= 0.9, in the 600 photos of ``shared/faces`` downscaled to a
640 px long side; dlib distances on L2-normalised descriptors; numbers from the development
scripts described in the helper report):

- Sharpness of the untouched photos: p1 = 38, p5 = 79, median 216. Contrast x0.3: p1 = 52 (the
  normalisation works); JPEG quality 20: p1 = 45. Faces re-rendered sharp at 32 px height:
  p1 = 19, p5 = 35. Degraded: Gaussian blur 2 px median 33; blur 3 px median 14 (p95 38);
  blur sigma 3 % of face height p99 = 19; face downsampled to 16 px and upscaled p95 = 27.
  Effect on identity (150 same-person pairs, one photo degraded): share of pairs with distance
  > 0.45 is 4-7 % at sharpness >= 40, 15 % at 20-30 and 29-34 % below 20, hence 25.
- Frontalness of the photos: p5 = 0.10, p10 = 0.30, median 0.6; every face below 0.05 viewed
  was a true profile (nose at or past the far eye), 0.05-0.2 are three-quarter views. Same-person
  pairs whose less frontal face is < 0.05 have median distance 0.42 (37 % > 0.45); pairs at
  0.05-0.10 have 0.35 (1 % > 0.45) like frontal pairs (0.32-0.34), hence 0.05.
- Roll (photos rotated in-plane, 30 frontal faces): MTCNN finds 30/30 up to 35 degrees, 26/30 at
  50 and 19/30 at 65; the dlib distance to another photo of the person stays at 0.32-0.34 up to
  50 degrees and rises to 0.42 at 65 degrees, where landmarks become unreliable: hence the roll
  factor between 40 and 60 degrees.
- Real video frames: talking-head clips (liveportrait) pass on every frame; the presenter of
  ``real_frames/ad_07`` passes in all 8 frames where she faces the camera while the false
  positives on hands and boxes fail ``low_score``; the shallow-focus crowd clip is mostly
  ``blurry`` (79 of 85 faces).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from influencer_pipeline.faces.detection import Detection, to_rgb

HARD_GATES: tuple[str, ...] = ("low_score", "small")
SOFT_GATES: tuple[str, ...] = ("tiny", "blurry", "profile")
GATES: tuple[str, ...] = HARD_GATES + SOFT_GATES

SHARPNESS_SIZE = 64  # face crop side (px) the Laplacian is measured at
SHARPNESS_STD = 32.0  # crop contrast (grey-level std) before the Laplacian
ROLL_FREE_DEG = 40.0  # eye-line roll with no penalty
ROLL_ZERO_DEG = 60.0  # eye-line roll where frontalness reaches 0

MIN_DET_SCORE = 0.90
MIN_HEIGHT_PX = 24.0
MIN_REL_HEIGHT = 0.04
SHARPNESS_MIN = 25.0
FRONTALNESS_MIN = 0.05


@dataclass(frozen=True)
class QualityThresholds:
    """Gate thresholds; a face fails a gate when its value is below the threshold."""

    min_det_score: float = MIN_DET_SCORE
    min_height_px: float = MIN_HEIGHT_PX
    min_rel_height: float = MIN_REL_HEIGHT
    min_sharpness: float = SHARPNESS_MIN
    min_frontalness: float = FRONTALNESS_MIN


@dataclass(frozen=True)
class FaceQuality:
    """Measurements of one face and the gates it failed (``flags``, in ``GATES`` order)."""

    rel_height: float
    sharpness: float
    frontalness: float
    flags: list[str] = field(default_factory=list)
    passes: bool = True

    @property
    def hard_fail(self) -> bool:
        """True when a hard gate failed: the face is not embedded."""
        return any(flag in HARD_GATES for flag in self.flags)


def sharpness(image: np.ndarray, box: tuple[float, float, float, float]) -> float:
    """Variance of the Laplacian of the contrast-normalised grayscale crop ``box``, at 64 x 64."""
    rgb = to_rgb(image)
    height, width = rgb.shape[:2]
    x1, y1 = max(0, math.floor(box[0])), max(0, math.floor(box[1]))
    x2, y2 = min(width, math.ceil(box[2])), min(height, math.ceil(box[3]))
    if x2 - x1 < 2 or y2 - y1 < 2:
        return 0.0
    crop = Image.fromarray(rgb[y1:y2, x1:x2]).convert("L")
    crop = crop.resize((SHARPNESS_SIZE, SHARPNESS_SIZE), Image.Resampling.BILINEAR)
    gray = np.asarray(crop, dtype=np.float64)
    std = gray.std()
    if std < 1e-6:
        return 0.0
    gray = (gray - gray.mean()) * (SHARPNESS_STD / std)
    lap = (
        gray[:-2, 1:-1] + gray[2:, 1:-1] + gray[1:-1, :-2] + gray[1:-1, 2:] - 4.0 * gray[1:-1, 1:-1]
    )
    return float(lap.var())


def roll_degrees(landmarks: np.ndarray) -> float:
    """Eye-line roll in degrees (0 = eyes level; positive = right eye lower in the image)."""
    points = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    dx, dy = points[1] - points[0]
    return math.degrees(math.atan2(dy, dx))


def yaw_symmetry(landmarks: np.ndarray) -> float:
    """Left/right symmetry (0..1) of eyes and mouth corners about the nose, roll removed."""
    points = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    angle = math.radians(roll_degrees(points))
    cos, sin = math.cos(angle), math.sin(angle)
    rotation = np.array([[cos, sin], [-sin, cos]])  # rotates by -angle: eye line horizontal
    x = (points - points[2]) @ rotation.T  # nose at the origin
    xs = x[:, 0]
    ratios = []
    for left, right in ((xs[0], xs[1]), (xs[3], xs[4])):
        d_left, d_right = -left, right  # distances from the nose, positive when on their side
        if d_left <= 0 or d_right <= 0:
            ratios.append(0.0)
        else:
            ratios.append(min(d_left, d_right) / max(d_left, d_right))
    return float(np.mean(ratios))


def frontalness(landmarks: np.ndarray) -> float:
    """Frontal-view score in 0..1 from five landmarks: yaw symmetry times a roll factor."""
    roll = abs(roll_degrees(landmarks))
    factor = 1.0 - (roll - ROLL_FREE_DEG) / (ROLL_ZERO_DEG - ROLL_FREE_DEG)
    factor = min(1.0, max(0.0, factor))
    return float(yaw_symmetry(landmarks) * factor)


def gate_flags(
    *,
    det_score: float,
    height_px: float,
    rel_height: float,
    sharpness_value: float,
    frontalness_value: float,
    thresholds: QualityThresholds = QualityThresholds(),
) -> list[str]:
    """The gates (in ``GATES`` order) that these measurements fail."""
    failed = {
        "low_score": det_score < thresholds.min_det_score,
        "small": height_px < thresholds.min_height_px,
        "tiny": rel_height < thresholds.min_rel_height,
        "blurry": sharpness_value < thresholds.min_sharpness,
        "profile": frontalness_value < thresholds.min_frontalness,
    }
    return [gate for gate in GATES if failed[gate]]


def assess(
    image: np.ndarray,
    detection: Detection,
    thresholds: QualityThresholds = QualityThresholds(),
) -> FaceQuality:
    """Measure one detected face in ``image`` and record which quality gates it fails."""
    rgb = to_rgb(image)
    frame_height = rgb.shape[0]
    rel_height = detection.height / frame_height
    sharp = sharpness(rgb, detection.box)
    frontal = frontalness(detection.landmarks)
    flags = gate_flags(
        det_score=detection.score,
        height_px=detection.height,
        rel_height=rel_height,
        sharpness_value=sharp,
        frontalness_value=frontal,
        thresholds=thresholds,
    )
    return FaceQuality(
        rel_height=float(rel_height),
        sharpness=sharp,
        frontalness=frontal,
        flags=flags,
        passes=not flags,
    )
