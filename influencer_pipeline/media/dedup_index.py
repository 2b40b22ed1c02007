"""Candidate pairs of videos from their frame hashes, never all pairs (multi-index hashing).

Every hash is cut into bit bands; two units (videos, or sets of byte-identical copies) become
candidates when they share exact band values in at least ``min_index_votes`` buckets. Pigeonhole:
with ``b`` bands, hashes within ``b - 1`` bits always share a band; farther matches are caught
because a re-upload has many matching frames and each shared bucket is a vote. ``b`` follows the
corpus size (``round(64 / log2(hashes))``, 2..8), so a bucket holds about one unrelated hash by
chance; buckets with more than ``max_bucket_units`` units are generic pictures and are skipped.
Index at scale (random hashes, 30 frames per video): 2,000 videos (4 bands): 209 k candidate pairs
with one shared bucket, 11 k with two (of 2 M pairs); 100,000 videos (3 M frames, 3 bands):
12.9 M with one, 16.9 k with two, in 10 s and 4.7 GB peak; planted copies with 4 / 8 / 12 flipped
bits per frame and hash were found 200 / 196 / 35 times of 200 with two shared buckets.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class IndexConfig:
    """Settings of the band index."""

    max_bucket_units: int = 200
    index_bands: int | None = None  # None: from the corpus size (see _band_count)
    min_index_votes: int = 2  # shared buckets a pair needs to become a candidate


def _band_count(n_frames: int, config: IndexConfig) -> int:
    if config.index_bands:
        return config.index_bands
    return int(min(8, max(2, round(64 / math.log2(max(n_frames, 4))))))


def band_keys(hashes: np.ndarray, bands: int) -> list[np.ndarray]:
    """Split uint64 hashes into ``bands`` nearly equal bit bands (one key array per band)."""
    edges = np.linspace(0, 64, bands + 1).round().astype(int)
    keys = []
    for lo, hi in itertools.pairwise(edges):
        mask = np.uint64((1 << int(hi - lo)) - 1)
        keys.append((hashes >> np.uint64(lo)) & mask)
    return keys


def _unique_counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values and how often each occurs (a sort, much faster than np.unique)."""
    ordered = np.sort(values)
    if ordered.size == 0:
        return ordered, np.empty(0, np.int64)
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    return ordered[starts], np.diff(np.r_[starts, ordered.size])


def candidate_pairs(
    unit_of_frame: np.ndarray, hash_arrays: list[np.ndarray], config: IndexConfig
) -> np.ndarray:
    """Unit pairs (u < v) sharing exact band values in >= ``min_index_votes`` buckets: (k, 2)."""
    units_all = np.asarray(unit_of_frame, dtype=np.int64)
    n = len(units_all)
    if n == 0:
        return np.empty((0, 2), np.int64)
    n_units = int(units_all.max()) + 1
    bands = _band_count(n, config)
    found: list[np.ndarray] = []
    for hashes in hash_arrays:
        for key in band_keys(np.asarray(hashes, dtype=np.uint64), bands):
            # one entry per (band value, unit), sorted by band value
            code, _ = _unique_counts(key.astype(np.int64) * n_units + units_all)
            keys, units = code // n_units, code % n_units
            starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
            sizes = np.diff(np.r_[starts, len(keys)])
            keep = (sizes >= 2) & (sizes <= config.max_bucket_units)
            if not keep.any():
                continue
            # every position in a kept bucket pairs with the later positions of its bucket
            bucket_of = np.repeat(np.arange(len(starts)), sizes)
            pos = np.flatnonzero(keep[bucket_of])
            later = (starts + sizes)[bucket_of[pos]] - pos - 1
            first = np.repeat(pos, later)
            step = np.arange(first.size) - np.repeat(np.cumsum(later) - later, later)
            found.append(units[first] * n_units + units[first + 1 + step])
    if not found:
        return np.empty((0, 2), np.int64)
    # units within a bucket are sorted, so u < v; a pair's count = buckets it shares
    pair_codes, votes = _unique_counts(np.concatenate(found))
    pair_codes = pair_codes[votes >= config.min_index_votes]
    return np.stack([pair_codes // n_units, pair_codes % n_units], axis=1)


def close_pairs(
    unit_of_hash: np.ndarray,
    frame_of_hash: np.ndarray,
    hashes: np.ndarray,
    max_bits: int,
    config: IndexConfig,
) -> np.ndarray:
    """Unit pairs (u < v) with >= ``min_index_votes`` frame pairs holding hashes <= max_bits apart.

    Like ``candidate_pairs``, but every bucket collision is checked on the whole hash, so a vote
    is a real near match (two random 64-bit hashes are within 10 bits with odds of 1e-8), and
    votes count distinct frame pairs, not shared buckets. Used for the placement hashes, of which
    a video has 40 per frame: counting raw bucket collisions there makes every pair a candidate.
    """
    units = np.asarray(unit_of_hash, dtype=np.int64)
    frames = np.asarray(frame_of_hash, dtype=np.int64)
    values = np.asarray(hashes, dtype=np.uint64)
    if units.size == 0:
        return np.empty((0, 2), np.int64)
    n_units = int(units.max()) + 1
    n_frames = int(frames.max()) + 1
    bands = _band_count(units.size, config)
    found: list[np.ndarray] = []
    for key in band_keys(values, bands):
        order = np.lexsort((units, key))
        k, u = key[order], units[order]
        starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
        sizes = np.diff(np.r_[starts, len(k)])
        first_unit = u[starts]
        last_unit = u[starts + sizes - 1]
        keep = (sizes >= 2) & (first_unit != last_unit) & (sizes <= 4 * config.max_bucket_units)
        if not keep.any():
            continue
        bucket_of = np.repeat(np.arange(len(starts)), sizes)
        pos = np.flatnonzero(keep[bucket_of])
        later = (starts + sizes)[bucket_of[pos]] - pos - 1
        left = np.repeat(pos, later)
        right = left + 1 + np.arange(left.size) - np.repeat(np.cumsum(later) - later, later)
        li, ri = order[left], order[right]
        near = (units[li] != units[ri]) & (np.bitwise_count(values[li] ^ values[ri]) <= max_bits)
        li, ri = li[near], ri[near]
        swap = units[li] > units[ri]
        li, ri = np.where(swap, ri, li), np.where(swap, li, ri)
        found.append(
            (units[li] * n_units + units[ri]) * n_frames**2 + frames[li] * n_frames + frames[ri]
        )
    if not found:
        return np.empty((0, 2), np.int64)
    frame_pairs = np.unique(np.concatenate(found))
    pair_codes, votes = _unique_counts(frame_pairs // n_frames**2)
    pair_codes = pair_codes[votes >= config.min_index_votes]
    return np.stack([pair_codes // n_units, pair_codes % n_units], axis=1)
