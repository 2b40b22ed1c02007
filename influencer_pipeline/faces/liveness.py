"""Live person or picture: is a track's face a person moving, or a photo shown again and again?

A photo printed on a product, a poster, a screenshot or a picture in a frame shows the same
pixels every time it is on screen: between two frames it only moves, turns and scales with the
camera (a similarity transform of the image). A live person changes pose and expression between
frames, even a presenter who keeps still: the nose moves against the eyes and mouth when the
head turns, the mouth opens, the eyes look elsewhere.

Two measurements per pair of faces of one track seen in two different frames:

- ``shape``: the Procrustes residual of the five MTCNN landmarks (eyes, nose tip, mouth corners)
  after the best similarity alignment, both shapes scaled to unit norm (0 = the same shape);
- ``ncc``: the normalised cross-correlation of the two faces' grey pixels after aligning each face
  on a fixed five-point template (``aligned_patch``, ``ALIGN_SIZE`` px, stored per face).

The pair is a *rigid copy* when ``shape < RIGID_SHAPE`` and ``ncc > RIGID_NCC``. A track is a
picture (never the dominant person) when at least ``PICTURE_SHARE`` of its pairs are rigid copies
and its typical pair keeps its landmark shape (median ``shape`` below ``PICTURE_MEDIAN_SHAPE``),
measured on at least ``MIN_PICTURE_PAIRS`` pairs (a live person may hold one pose for two or three
frames; fewer pairs give no verdict). Only pairs ``MIN_PAIR_GAP_S`` or more apart count.

Calibration (MTCNN landmarks, 32 px patches; ``shared/real_ads`` folders turned into 1 fps videos,
frames 360-640 px; per track with >= 2 frames; figures from ``benchmarks/accuracy.py``'s real-ads
section and the development notes in the helper report): the labelled presenters have
rigid-pair shares of 0.00-0.20 (median pair shape 0.11-0.20, ncc 0.12-0.55); photos on lamps,
plaques and film strips and the poster and the distant stage singer of ``v17``/``v21`` have
0.48-1.00 (median pair shape 0.03-0.09, ncc 0.6-0.96). Landmark noise grows on small faces, so the
rule is only applied to faces large enough to be a presenter (see ``faces.dominant``).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from PIL import Image

from influencer_pipeline.faces.detection import to_rgb

ALIGN_SIZE = 32  # side of the aligned grey face patch stored per face (px)
# ArcFace's five-point template (112 x 112 px crop), as fractions of the crop side.
TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655],
     [70.7299, 92.2041]],
    dtype=np.float64,
) / 112.0  # fmt: skip
RIGID_SHAPE = 0.09  # landmark-shape residual below which a pair has the same shape
RIGID_NCC = 0.5  # aligned-pixel correlation above which a pair shows the same pixels
PICTURE_SHARE = 0.35  # share of rigid pairs from which a track is a picture ...
PICTURE_MEDIAN_SHAPE = 0.10  # ... when its median pair shape residual is below this ...
MIN_PICTURE_PAIRS = 4  # ... and at least this many pairs were measured (fewer: no verdict)
MAX_PAIRS = 400  # pairs measured per track at most (evenly spread over the track)
MIN_PAIR_GAP_S = 1.0  # pairs closer in time say little: a live person may hold still a second


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2 x 3 similarity transform (rotation, uniform scale, shift) mapping ``src`` to ``dst``.

    Least squares (Umeyama), no reflection; ``src`` and ``dst`` are n x 2 point arrays.
    """
    src = np.asarray(src, dtype=np.float64).reshape(-1, 2)
    dst = np.asarray(dst, dtype=np.float64).reshape(-1, 2)
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - mu_s, dst - mu_d
    var = float((a**2).sum()) / len(src)
    if var < 1e-12:
        raise ValueError("the source points coincide: no transform")
    u, s, vt = np.linalg.svd(b.T @ a / len(src))
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[1] = -1.0
    rotation = u @ np.diag(d) @ vt
    scale = float((s * d).sum()) / var
    shift = mu_d - scale * rotation @ mu_s
    return np.hstack([scale * rotation, shift[:, None]])


def aligned_patch(image: np.ndarray, landmarks: np.ndarray, size: int = ALIGN_SIZE) -> bytes:
    """The face as ``size`` x ``size`` grey pixels (uint8 bytes), aligned on ``TEMPLATE``.

    The face region is first reduced to about twice the patch size (area filter, no aliasing),
    then warped by the similarity transform that puts its landmarks on the template.
    """
    rgb = to_rgb(image)
    points = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    target = TEMPLATE * size
    to_image = similarity(target, points)  # patch pixel -> image pixel
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], dtype=np.float64)
    mapped = corners @ to_image.T
    x1, y1 = np.floor(mapped.min(axis=0)).astype(int) - 1
    x2, y2 = np.ceil(mapped.max(axis=0)).astype(int) + 1
    grey = Image.fromarray(rgb).convert("L")
    region = grey.crop((x1, y1, x2, y2))  # outside the image: black, as in a cut-off face
    factor = max(1.0, max(region.size) / (2 * size))
    if factor > 1.0:
        region = region.resize(
            (max(1, round(region.width / factor)), max(1, round(region.height / factor))),
            Image.Resampling.BOX,
        )
    sx, sy = region.width / (x2 - x1), region.height / (y2 - y1)
    local = np.diag([sx, sy]) @ (to_image - np.array([[0, 0, x1], [0, 0, y1]]))
    coefficients = tuple(float(v) for v in local.reshape(-1))
    patch = region.transform(
        (size, size), Image.Transform.AFFINE, coefficients, resample=Image.Resampling.BILINEAR
    )
    return patch.tobytes()


def shape_residual(first: np.ndarray, second: np.ndarray) -> float:
    """Procrustes residual (0..~1.4) of two five-point landmark sets after similarity alignment."""
    a = np.asarray(first, dtype=np.float64).reshape(-1, 2)
    b = np.asarray(second, dtype=np.float64).reshape(-1, 2)
    a, b = a - a.mean(axis=0), b - b.mean(axis=0)
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na < 1e-9 or nb < 1e-9:
        return float("nan")
    singular = np.linalg.svd((a / na).T @ (b / nb), compute_uv=False)
    det = np.linalg.det((a / na).T @ (b / nb))
    total = singular[0] + (singular[1] if det >= 0 else -singular[1])
    return math.sqrt(max(0.0, 2.0 - 2.0 * total))


def patch_ncc(first: bytes, second: bytes) -> float:
    """Normalised cross-correlation (-1..1) of two aligned patches (nan when one is flat)."""
    a = np.frombuffer(first, dtype=np.uint8).astype(np.float64)
    b = np.frombuffer(second, dtype=np.uint8).astype(np.float64)
    if a.size == 0 or a.size != b.size:
        return float("nan")
    a, b = a - a.mean(), b - b.mean()
    denominator = math.sqrt(float((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denominator) if denominator > 1e-9 else float("nan")


def rigid_pairs(
    times: np.ndarray, landmarks: list[np.ndarray], patches: list[bytes | None]
) -> tuple[int, int, float]:
    """(rigid pairs, measured pairs, median shape residual) among faces of one track seen at
    least ``MIN_PAIR_GAP_S`` apart (``times`` in seconds; the median is nan without pairs)."""
    pairs = [
        (i, j)
        for i, j in itertools.combinations(range(len(times)), 2)
        if abs(float(times[i]) - float(times[j])) >= MIN_PAIR_GAP_S - 1e-6
        and patches[i]
        and patches[j]
    ]
    if len(pairs) > MAX_PAIRS:
        pick = np.linspace(0, len(pairs) - 1, MAX_PAIRS).round().astype(int)
        pairs = [pairs[k] for k in pick]
    rigid, shapes = 0, []
    for i, j in pairs:
        shape = shape_residual(landmarks[i], landmarks[j])
        ncc = patch_ncc(patches[i], patches[j])  # type: ignore[arg-type]
        rigid += int(shape < RIGID_SHAPE and ncc > RIGID_NCC)
        shapes.append(shape)
    return rigid, len(pairs), float(np.nanmedian(shapes)) if shapes else float("nan")
