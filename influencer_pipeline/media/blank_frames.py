"""Blank frames: black or one colour, judged as a person would on a small averaged copy.

``classify_blank`` judges a frame on a 64 x 64 area-averaged copy, so sensor noise and
JPEG ringing average out:
- ``"black"``: the 99th percentile of luma is <= ``BLACK_LUMA_P99`` (40): a black frame, dark noise,
  or the last steps of a fade to black, where nothing is brighter than dark grey.
- ``"uniform"``: fewer than ``UNIFORM_MAX_OUTLIER_SHARE`` (1 %) of the cells differ from the
  frame's median colour by more than ``UNIFORM_DELTA`` (24 levels in any channel): one colour,
  any brightness.
Measured (``blank_stats``): the real white brand outro cards (shared/real_frames ad_01/010, 011,
ad_07/024, 025) have 4.2 %, 7.4 %, 7.2 % and 9.0 % outlier cells and luma p99 254-255, so they are
not blank; synthetic cards with a 40-60 px logo and one line of text on 360 x 640 have 2.2-2.5 %.
All 52 real ad frames and 104 frames sampled from shared/videos have >= 4.2 % and p99 >= 105.
Blank: black (p99 0), near-black + noise sd 4-16 (p99 13-17), mid-grey + noise sd 0-16 (0 %
outliers), a fade of a real frame to 15 % brightness (p99 35) or less; a fade at 20 % (p99 46,
13 % outliers) still shows its content and is kept.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from influencer_pipeline.media.phash import check_rgb

BLACK_LUMA_P99 = 40.0  # 0-255 luma: a frame whose bright end is this dark is black
UNIFORM_DELTA = 24  # levels (any RGB channel) that make a cell differ from the median colour
UNIFORM_MAX_OUTLIER_SHARE = 0.01  # below this share of differing cells a frame is one colour
BLANK_GRID = 64  # side of the area-averaged copy the blank rule looks at
LUMA_WEIGHTS = tuple(np.float32(w) for w in (0.299, 0.587, 0.114))


def luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma (0-255, float32) of an RGB image: 0.299 R + 0.587 G + 0.114 B in float32."""
    y = np.multiply(rgb[..., 0], LUMA_WEIGHTS[0], dtype=np.float32)  # no float copy of the image
    y += np.multiply(rgb[..., 1], LUMA_WEIGHTS[1], dtype=np.float32)
    y += np.multiply(rgb[..., 2], LUMA_WEIGHTS[2], dtype=np.float32)
    return y


def _grid(rgb: np.ndarray) -> np.ndarray:
    image = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8))
    return np.asarray(image.resize((BLANK_GRID, BLANK_GRID), Image.Resampling.BOX), np.float32)


def blank_stats(rgb: np.ndarray) -> dict[str, float]:
    """The statistics the blank rule uses: luma p99 and the share of off-colour cells."""
    check_rgb(rgb)
    cells = _grid(rgb)
    median = np.median(cells.reshape(-1, 3), axis=0)
    deviation = np.abs(cells - median).max(axis=2)
    return {
        "luma_p99": float(np.percentile(luma(cells), 99)),
        "outlier_share": float((deviation > UNIFORM_DELTA).mean()),
    }


def classify_blank(rgb: np.ndarray) -> str | None:
    """``"black"``, ``"uniform"`` or None (a frame with content); the rule is in the module doc."""
    stats = blank_stats(rgb)
    if stats["luma_p99"] <= BLACK_LUMA_P99:
        return "black"
    if stats["outlier_share"] < UNIFORM_MAX_OUTLIER_SHARE:
        return "uniform"
    return None
