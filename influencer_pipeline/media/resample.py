"""Pillow's LANCZOS shrink of 8-bit images as matrix products, the same bytes, 2x faster.

Every sampled frame is shrunk twice with Pillow's LANCZOS for ``imagehash``: to 32 x 32 (pHash)
and 9 x 8 (dHash). Pillow resamples an 8-bit image in two passes, one along the rows and one
along the columns; each output value is the sum of the input values under the filter times
fixed-point weights (22 fraction bits), plus half, shifted down, clipped to 0-255. Here the same
weights, computed as Pillow computes them (``_weights``: its double-precision filter,
normalisation and rounding), fill one band matrix per pass, and a float64 matrix product gives
the same sums: every term and partial sum is an integer below 2**31, exact in float64 in any
order of summation. A 640 x 360 grey frame's two shrinks: 0.87 instead of 2.07 ms.

Why not Pillow itself: it visits the filter's taps one by one for every output value, where a
product runs at the BLAS's speed (for BOX, with its few taps, Pillow stays faster: the blank test
keeps it). Results are held to the pinned Pillow's on real frames and on random images of many
sizes, in both pass orders (``media/test_resample.py``); Pillow itself enlarges. The frame
workers run the BLAS on one thread (``frame_workers.one_blas_thread``).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from PIL import Image

LANCZOS_SUPPORT = 3.0
PRECISION_BITS = 22  # Pillow's fixed point for 8-bit images: 32 bits - 8 - 2 of headroom
_HALF = float(1 << (PRECISION_BITS - 1))
_SCALE_DOWN = 1.0 / (1 << PRECISION_BITS)  # a power of two: exact


def _sinc(x: float) -> float:
    if x == 0.0:
        return 1.0
    x = x * math.pi
    return math.sin(x) / x


def _lanczos(x: float) -> float:
    return _sinc(x) * _sinc(x / 3) if -3.0 <= x < 3.0 else 0.0


@lru_cache(maxsize=64)
def _weights(in_size: int, out_size: int) -> np.ndarray:
    """``in_size`` x ``out_size`` float64 matrix of Pillow's fixed-point weights (integers)."""
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = LANCZOS_SUPPORT * filterscale
    ss = 1.0 / filterscale
    matrix = np.zeros((in_size, out_size), dtype=np.float64)
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)  # C's cast: toward zero, then the clamp
        xmax = min(int(center + support + 0.5), in_size) - xmin
        taps = [_lanczos((x + xmin - center + 0.5) * ss) for x in range(xmax)]
        total = 0.0
        for w in taps:  # summed in order, as Pillow does
            total += w
        for x, w in enumerate(taps):
            k = w / total if total != 0.0 else w
            fixed = -0.5 + k * (1 << PRECISION_BITS) if k < 0 else 0.5 + k * (1 << PRECISION_BITS)
            matrix[xmin + x, xx] = float(int(fixed))
    matrix.setflags(write=False)
    return matrix


def _to_bytes(sums: np.ndarray) -> np.ndarray:
    """Pillow's rounding of one pass: (sum + half) >> 22, clipped to 0-255."""
    sums += _HALF
    sums *= _SCALE_DOWN
    np.floor(sums, out=sums)
    np.clip(sums, 0.0, 255.0, out=sums)
    return sums


def rows_first(in_w: int, in_h: int, width: int, height: int) -> bool:
    """Whether Pillow (the pinned version) resamples along the rows first when it shrinks: unless
    the image loses more than twice as many rows as columns (found by comparing its results with
    both orders on thousands of sizes, and held to it by ``media/test_resample.py``)."""
    return 2 * (in_w - width) >= in_h - height


def _along_rows(values: np.ndarray, width: int) -> np.ndarray:
    if values.shape[1] == width:
        return values
    return _to_bytes(values @ _weights(values.shape[1], width))


def _along_columns(values: np.ndarray, height: int) -> np.ndarray:
    if values.shape[0] == height:
        return values
    return _to_bytes(_weights(values.shape[0], height).T @ values)


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` (H x W uint8) resized to ``size`` = (width, height) as Pillow's
    ``Image.resize(size, LANCZOS)`` resizes it: the same uint8 values (by Pillow itself
    where it enlarges a side)."""
    if image.dtype != np.uint8 or image.ndim != 2 or image.size == 0:
        raise ValueError(f"expected a non-empty H x W uint8 image, got {image.dtype} {image.shape}")
    width, height = int(size[0]), int(size[1])
    if width < 1 or height < 1:
        raise ValueError(f"expected a positive size, got {size}")
    if width > image.shape[1] or height > image.shape[0]:  # enlarging: left to Pillow itself
        return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.LANCZOS))
    values = image.astype(np.float64)
    if rows_first(image.shape[1], image.shape[0], width, height):
        values = _along_columns(_along_rows(values, width), height)
    else:
        values = _along_rows(_along_columns(values, height), width)
    return values.astype(np.uint8)
