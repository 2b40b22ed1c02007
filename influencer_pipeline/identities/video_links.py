"""Video-to-video distance over best-matching faces: all the evidence a video has of its person.

One mean vector per video throws away what a video shows of its person: a presenter turns, talks
and moves through the light, and two videos of one person are best compared face to face, on
the poses they share. ``bag_distance`` compares the *bags* of faces of two videos' dominant
tracks (``video_faces.track_embeddings``, up to 8 faces each):

    d(A, B) = max( median_a min_b |a - b|,  median_b min_a |a - b| )

the modified Hausdorff distance of Dubuisson & Jain (1994) with the median: every face is matched
to its best partner in the other video, and the typical match counts, so one odd face (a blink,
a profile, a look-alike pose) neither joins two people nor splits one. Measured on the development
demos (see ``identities/clustering.py`` and ``benchmarks/accuracy.py``), it separates the same
person's videos from different people's better than the distance between mean vectors.

Distances are Euclidean between L2-normalised rows, so thresholds are those of the embedder
(``faces.calibration``: ``link_threshold``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MAX_BAG = 8  # faces per video used at most
CHUNK_PAIRS = 20_000  # pairs per vectorised block (bounds memory: CHUNK x 8 x 8 floats)


def as_bags(bags: Sequence[object] | None, means: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(padded bags n x MAX_BAG x d, mask n x MAX_BAG); a missing or empty bag is the mean."""
    n, dim = means.shape
    padded = np.zeros((n, MAX_BAG, dim), dtype=np.float32)
    mask = np.zeros((n, MAX_BAG), dtype=bool)
    for i in range(n):
        rows = _rows(bags[i] if bags is not None else None, dim)
        if rows is None:
            rows = means[i : i + 1]
        rows = rows[:MAX_BAG]
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        padded[i, : len(rows)] = rows / np.maximum(norms, 1e-12)
        mask[i, : len(rows)] = True
    return padded, mask


def _rows(bag: object, dim: int) -> np.ndarray | None:
    if bag is None or (isinstance(bag, float) and np.isnan(bag)):
        return None
    try:
        rows = np.asarray([np.asarray(v, dtype=np.float64) for v in bag], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if rows.ndim != 2 or rows.shape[0] == 0 or rows.shape[1] != dim:
        return None
    if not np.isfinite(rows).all() or (np.linalg.norm(rows, axis=1) < 1e-8).any():
        return None
    return rows


def _directed_medians(
    a: np.ndarray, ma: np.ndarray, b: np.ndarray, mb: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per pair: median over A's faces of the distance to the nearest face of B, and back."""
    gram = np.einsum("pid,pjd->pij", a, b, optimize=True)
    dist = np.sqrt(np.maximum(2.0 - 2.0 * gram, 0.0))
    big = np.float32(9.0)
    valid = ma[:, :, None] & mb[:, None, :]
    dist = np.where(valid, dist, big)
    a_to_b = np.where(ma, dist.min(axis=2), np.nan)
    b_to_a = np.where(mb, dist.min(axis=1), np.nan)
    return np.nanmedian(a_to_b, axis=1), np.nanmedian(b_to_a, axis=1)


def bag_distances(
    bags: np.ndarray, mask: np.ndarray, first: np.ndarray, second: np.ndarray
) -> np.ndarray:
    """``bag_distance`` of the video pairs (first[k], second[k]) of padded ``bags``."""
    first = np.asarray(first, dtype=np.int64)
    second = np.asarray(second, dtype=np.int64)
    out = np.empty(len(first), dtype=np.float64)
    for start in range(0, len(first), CHUNK_PAIRS):
        i, j = first[start : start + CHUNK_PAIRS], second[start : start + CHUNK_PAIRS]
        forward, backward = _directed_medians(bags[i], mask[i], bags[j], mask[j])
        out[start : start + len(i)] = np.maximum(forward, backward)
    return out


def bag_distance_matrix(bags: np.ndarray, mask: np.ndarray, members: np.ndarray) -> np.ndarray:
    """The full bag-distance matrix of ``members`` (zero diagonal)."""
    m = len(members)
    matrix = np.zeros((m, m))
    if m < 2:
        return matrix
    i, j = np.triu_indices(m, 1)
    values = bag_distances(bags, mask, members[i], members[j])
    matrix[i, j] = values
    matrix[j, i] = values
    return matrix
