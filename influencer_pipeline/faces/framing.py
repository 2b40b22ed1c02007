"""A face inside a picture: four straight edges around it (a photo frame, a screen, a poster).

A photo in a frame, a screenshot on a phone, a print or a poster has a border: a straight edge
on each side of the face, close to it, that runs unbroken past the face. A live person has none:
the head and shoulders are curved, and the body breaks any line below the face (a table or a
counter may cross in front of it, but never a line on all four sides).

``framed`` looks, on each side of the face box, for the nearest line parallel to that side (up to
``reach`` face sizes away) along which the picture changes across the line (mean of two pixels on
each side differing by more than ``contrast`` grey levels) over at least ``continuity`` of the
stretch beside the face (the face's extent plus ``span_margin`` on both ends). Framed when all four
sides have such a line. Measured (``benchmarks/framing.py``): no border around any of the 31
live tracks of ``shared/real_ads`` (5 labelled presenters, 26 others) and the real clips of
``shared/videos`` (26 tracks); the real ads' pictures (lamps, plaques, film strips) have curved or
slanted edges and are told apart by ``faces.liveness`` instead. The demo's framed prints and
phone screenshots have one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FramingConfig:
    """How far and how straight a picture's border must be (see the module doc)."""

    contrast: float = 14.0  # grey levels across the line
    continuity: float = 0.85  # share of the stretch beside the face where the line is seen
    span_margin: float = 0.2  # the stretch: the face's extent plus this share on both ends
    start: float = 0.05  # the first line looked at: this share of the face size off its box
    reach_side: float = 1.2  # face widths to the left and right
    reach_top: float = 0.9  # face heights above
    reach_bottom: float = 2.0  # face heights below (a photo shows the shoulders)


def grey_image(image: np.ndarray) -> np.ndarray:
    """H x W float32 luma (BT.601) of an H x W x 3 RGB image (a grey image is returned as is)."""
    array = np.asarray(image, dtype=np.float32)
    if array.ndim == 2:
        return array
    return array[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _line_shares(strip: np.ndarray, contrast: float) -> np.ndarray:
    """Per column k of ``strip`` (rows x columns): the share of rows where columns k-1..k-2 and
    k+1..k+2 differ by more than ``contrast``; 0 where the window does not fit."""
    pair = (strip[:, :-1] + strip[:, 1:]) / 2.0  # pair[:, k] = mean of columns k and k+1
    shares = np.zeros(strip.shape[1], dtype=np.float64)
    if strip.shape[1] < 5:
        return shares
    before, after = pair[:, :-3], pair[:, 3:]  # columns k-2..k-1 against k+1..k+2, k = 2..
    shares[2 : 2 + before.shape[1]] = (np.abs(before - after) > contrast).mean(axis=0)
    return shares


def _side(
    grey: np.ndarray, along: tuple[int, int], positions: np.ndarray, config: FramingConfig
) -> bool:
    """Whether a column in ``positions`` (in order, nearest first) is a line over ``along``."""
    positions = positions[(positions >= 2) & (positions <= grey.shape[1] - 3)]
    if positions.size == 0 or along[1] - along[0] < 4:
        return False
    lo, hi = int(positions.min()) - 2, int(positions.max()) + 3
    strip = grey[along[0] : along[1], lo:hi]
    shares = _line_shares(strip, config.contrast)
    return bool((shares[positions - lo] >= config.continuity).any())


def framed(
    grey: np.ndarray, box: tuple[float, float, float, float], config: FramingConfig | None = None
) -> bool:
    """True when the face at ``box`` (x1, y1, x2, y2 px) in ``grey`` (H x W grey, or H x W x 3
    RGB) has a picture's border on all four sides."""
    config = config or FramingConfig()
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
    # only the window the four searches can reach is read (and turned grey): not the whole frame
    reach = max(config.reach_side * w, config.span_margin * w) + 3
    left = max(0, int(x1 - reach))
    top = max(0, int(y1 - max(config.reach_top, config.span_margin) * h) - 3)
    right = int(x2 + reach) + 1
    bottom = int(y2 + max(config.reach_bottom, config.span_margin) * h) + 4
    g = grey_image(np.asarray(grey)[top:bottom, left:right])
    x1, x2, y1, y2 = x1 - left, x2 - left, y1 - top, y2 - top
    height, width = g.shape
    rows = (max(0, int(y1 - config.span_margin * h)), min(height, int(y2 + config.span_margin * h)))
    cols = (max(0, int(x1 - config.span_margin * w)), min(width, int(x2 + config.span_margin * w)))

    def outward(edge: float, step: float, reach: float, sign: int) -> np.ndarray:
        first, last = edge + sign * config.start * step, edge + sign * reach * step
        return np.arange(round(first), round(last) + sign, sign)

    return (
        _side(g, rows, outward(x1, w, config.reach_side, -1), config)
        and _side(g, rows, outward(x2, w, config.reach_side, 1), config)
        and _side(g.T, cols, outward(y1, h, config.reach_top, -1), config)
        and _side(g.T, cols, outward(y2, h, config.reach_bottom, 1), config)
    )
