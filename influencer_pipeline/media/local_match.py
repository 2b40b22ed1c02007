"""Do two frames show the same picture, at another scale or framing? ORB features + RANSAC.

Why local features: two placements of one ad (9:16, 4:5, 1:1, letterboxed, 16:9) show the same
picture cropped, scaled and shifted by amounts nobody records: the real 1:1 upload v01 shows rows
83-516 of its 9:16 original v09 at 1.48 x, 20 px above centre, between blurred side bars; v58
shows v02 at 1.35 x and 13 % off its centre. Corner features (OpenCV's ORB: FAST corners with
rotation-aware BRIEF descriptors, a well-kept and patent-free detector) are found again at any
scale and position, bars give none, and a RANSAC fit of a similarity transform (uniform scale,
rotation, shift: ``cv2.estimateAffinePartial2D``) keeps only the matches that agree on one
geometry. The fit is the evidence: how many features agree, at which scale and shift.

A frame pair matches when at least ``min_inliers`` matches (Lowe's ratio test at ``ratio``)
agree within ``reproj_threshold`` (share of the content height), the rotation is below
``max_rotation_deg`` (placements never rotate), the scale within [``min_scale``,
``max_scale``], and the agreeing features spread over ``min_spread`` of the frame's content (a
watermark or a logo in the same corner of two different ads agrees on a tiny area only).
Coordinates are normalized to the content box (origin at its centre, unit = its height), so the
same framing gives scale 1 and shift 0 whatever the resolution.

Measured on shared/real_ads (frames of the 7 labelled groups against each other and against
every other ad; 300 features on frames of <= 360 px short side): frames of one ad in two
placements agree on 13-285 features (v02/v58, a 1.35 x crop of a picture with a lot of flat
white, is the weakest: 13-25) with one scale per pair (0.56-1.78); frames of different ads agree
on at most 31, and those fits are degenerate (scale < 0.3) or cover a small area.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy import ndimage

Box = tuple[int, int, int, int]
THUMB_BLUR = 1.0  # pixels of the thumbnail: resampling and coding noise blur away


@dataclass(frozen=True)
class MatchConfig:
    """ORB and RANSAC settings of one frame-pair comparison (see the module doc)."""

    n_features: int = 300
    max_side: int = 360  # frames are matched with their short side at most this
    ratio: float = 0.8
    reproj_threshold: float = 0.02
    min_inliers: int = 12
    min_spread: float = 0.04
    max_rotation_deg: float = 5.0
    min_scale: float = 0.3
    max_scale: float = 3.5
    min_keypoints: int = 24  # fewer features than this: the frame cannot be judged
    min_agreement: float = 0.5  # correlation of the two pictures where the fit overlays them
    thumb_height: int = 64  # the Lab copy the overlay is measured on
    delta_e: float = 20.0  # an overlaid point differs when its colours are this far apart


@dataclass(frozen=True)
class FrameFeatures:
    """ORB keypoints of one frame: positions normalized to its content box, and descriptors."""

    points: np.ndarray = field(repr=False)  # (n, 2) float32
    descriptors: np.ndarray | None = field(repr=False)  # (n, 32) uint8
    aspect: float = 1.0  # content box width / height
    thumb: np.ndarray | None = field(default=None, repr=False)  # blurred Lab of the content

    def __len__(self) -> int:
        return len(self.points)


@dataclass(frozen=True)
class FrameMatch:
    """The similarity transform that maps frame a's content onto frame b's, and its support."""

    inliers: int
    scale: float
    shift_x: float
    shift_y: float
    spread: float  # area of the agreeing features' box / content area of frame a
    agreement: float = 1.0  # correlation of the overlaid lightness (see overlay)
    differing: float = 0.0  # share of the overlay whose colours differ by > delta_e


NO_FEATURES = FrameFeatures(np.zeros((0, 2), np.float32), None)


def decode_grey(jpeg: bytes) -> np.ndarray | None:
    """Grey pixels of an encoded image, or None when it cannot be decoded."""
    data = np.frombuffer(bytes(jpeg), dtype=np.uint8)
    grey = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None
    return grey if grey is not None and grey.size else None


def decode_rgb(jpeg: bytes) -> np.ndarray | None:
    """RGB pixels of an encoded image, or None when it cannot be decoded."""
    data = np.frombuffer(bytes(jpeg), dtype=np.uint8)
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if bgr is not None and bgr.size else None


def _lab_thumb(content: np.ndarray, aspect: float, height: int) -> np.ndarray:
    """A blurred CIE Lab copy of an RGB (or grey) content box, ``height`` pixels high."""
    size = (max(2, round(height * aspect)), height)
    small = cv2.resize(content, size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    if small.ndim == 2:
        small = np.repeat(small[..., None], 3, axis=2)
    return cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_RGB2Lab), (0, 0), THUMB_BLUR)


def frame_features(
    image: np.ndarray, box: Box | None = None, config: MatchConfig | None = None
) -> FrameFeatures:
    """ORB features of an RGB (or grey) frame inside ``box`` (the content, bars stripped)."""
    config = config or MatchConfig()
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    h, w = grey.shape[:2]
    x0, y0, x1, y1 = box if box is not None else (0, 0, w, h)
    if x1 - x0 < 16 or y1 - y0 < 16:
        return NO_FEATURES
    scale = min(1.0, config.max_side / min(x1 - x0, y1 - y0))
    small = grey
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        small = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    mask = np.zeros(small.shape[:2], np.uint8)
    mask[round(y0 * scale) : round(y1 * scale), round(x0 * scale) : round(x1 * scale)] = 255
    orb = cv2.ORB_create(nfeatures=config.n_features, fastThreshold=10)
    keypoints, descriptors = orb.detectAndCompute(small, mask)
    if not keypoints or descriptors is None:
        return NO_FEATURES
    xy = np.array([k.pt for k in keypoints], np.float32) / scale
    height = float(y1 - y0)
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2], np.float32)
    aspect = (x1 - x0) / height
    thumb = _lab_thumb(image[y0:y1, x0:x1], aspect, config.thumb_height)
    return FrameFeatures((xy - centre) / height, descriptors, aspect, thumb)


def content_aspect_area(points: np.ndarray) -> float:
    """Area of the points' bounding box (in content-height units squared)."""
    if len(points) < 2:
        return 0.0
    span = points.max(axis=0) - points.min(axis=0)
    return float(span[0] * span[1])


def match_frames(
    a: FrameFeatures, b: FrameFeatures, config: MatchConfig | None = None
) -> FrameMatch | None:
    """The transform from a's content to b's, or None when the frames do not match."""
    config = config or MatchConfig()
    if a.descriptors is None or b.descriptors is None or len(a) < 8 or len(b) < 8:
        return None
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = matcher.knnMatch(a.descriptors, b.descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < config.ratio * p[1].distance]
    if len(good) < config.min_inliers:
        return None
    src = a.points[[m.queryIdx for m in good]]
    dst = b.points[[m.trainIdx for m in good]]
    model, inliers = cv2.estimateAffinePartial2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=config.reproj_threshold
    )
    if model is None or inliers is None:
        return None
    keep = inliers.reshape(-1).astype(bool)
    n = int(keep.sum())
    scale = float(np.hypot(model[0, 0], model[1, 0]))
    rotation = abs(float(np.degrees(np.arctan2(model[1, 0], model[0, 0]))))
    spread = content_aspect_area(src[keep]) / max(a.aspect, 1e-6)
    if (
        n < config.min_inliers
        or rotation > config.max_rotation_deg
        or not config.min_scale <= scale <= config.max_scale
        or spread < config.min_spread
    ):
        return None
    agreement, differing = overlay(a, b, model, config)
    if agreement < config.min_agreement:
        return None
    return FrameMatch(
        n, scale, float(model[0, 2]), float(model[1, 2]), spread, agreement, differing
    )


IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def overlay(
    a: FrameFeatures, b: FrameFeatures, model: np.ndarray, config: MatchConfig
) -> tuple[float, float]:
    """Lay a's picture onto b's with ``model``: (lightness correlation, share that differs).

    Features can agree on a repeated texture or object (a table, a product, a logo) in two
    different pictures; the same picture also agrees everywhere else, in colour too.
    (1.0, 0.0) without thumbnails.
    """
    if a.thumb is None or b.thumb is None:
        return 1.0, 0.0
    th = config.thumb_height
    ys, xs = np.mgrid[0:th:2, 0 : a.thumb.shape[1] : 2].astype(np.float32)
    points = np.stack([xs / th - a.aspect / 2, ys / th - 0.5], axis=-1).reshape(-1, 2)
    mapped = points @ model[:, :2].T + model[:, 2]
    bx = (mapped[:, 0] + b.aspect / 2) * th
    by = (mapped[:, 1] + 0.5) * th
    inside = (bx >= 0) & (bx <= b.thumb.shape[1] - 1) & (by >= 0) & (by <= th - 1)
    if inside.mean() < 0.15:
        return 0.0, 1.0
    av = a.thumb[ys.reshape(-1)[inside].astype(int), xs.reshape(-1)[inside].astype(int)]

    def sample(dy: float, dx: float) -> np.ndarray:
        at = [by[inside] + dy, bx[inside] + dx]
        channels = [
            ndimage.map_coordinates(b.thumb[..., c], at, order=1, mode="nearest") for c in range(3)
        ]
        return np.stack(channels, axis=-1)

    bv = sample(0.0, 0.0)
    # a point differs only when no colour within one thumbnail pixel is close (registration
    # and resampling errors explain themselves; another product or caption does not)
    nearest = np.min(
        [np.linalg.norm(av - sample(dy, dx), axis=1) for dy in (-1, 0, 1) for dx in (-1, 0, 1)],
        axis=0,
    )
    differing = float((nearest > config.delta_e).mean())
    la, lb = av[:, 0] - av[:, 0].mean(), bv[:, 0] - bv[:, 0].mean()
    denominator = float(np.sqrt((la * la).sum() * (lb * lb).sum()))
    return (float((la * lb).sum() / denominator) if denominator > 0 else 0.0), differing
