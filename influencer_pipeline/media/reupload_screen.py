"""Which alignments of a candidate pair are worth reading local features for.

The hashes nominate alignments (``reupload_match._top_offsets``): at least ``min_cheap_support``
frames of A agree on an offset. Most candidate pairs are not re-uploads, and verifying one alignment
computes ORB features for every frame of both videos, the costliest part of ``duplicate_groups``. An
alignment goes on to that verification only when a share ``min_cheap_coverage`` of A's frames inside
the overlap have a cheap match (a whole-frame or placement hash, ``cheap_matches``) within
``offset_tolerance_s`` of their aligned time. A re-upload is the same edit: the placement hashes are
built to survive another placement, so nearly every frame of a re-upload matches cheaply, and the
verification then asks 70 % of the judged frames to match by features; the share asked here (0.35)
is half of that. Frames of A without a usable placement hash (flat squares only) and without a cheap
match are left out of the share, as blank frames are.

Measured (``python benchmarks/reupload_screen.py``, share at the best nominated alignment):
re-upload pairs 0.91-1.0 on shared/real_ads (11 pairs) and 1.0 on the development demo (11
pairs); the development demo's 185 other nominated pairs 0.0-1.0, 116 of them under 0.3. There,
``duplicate_groups`` took 7.8 instead of 11.2 CPU-s, with the same groups.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


def cheap_coverage(
    cheap: np.ndarray,
    hashed_a: np.ndarray,
    times_a: np.ndarray,
    times_b: np.ndarray,
    *,
    alignment: tuple[float, float],
    tolerance_s: float,
) -> float:
    """Share of A's frames inside the overlap at ``t_B = rate * t_A + offset`` (``alignment``)
    with a cheap match (``cheap``: len A x len B) in B within ``tolerance_s`` of their aligned
    time; frames of A without a usable hash (``hashed_a`` False) count only when they match."""
    rate, offset = alignment
    aligned = rate * times_a + offset
    inside = (aligned >= times_b[0] - tolerance_s) & (aligned <= times_b[-1] + tolerance_s)
    near = np.abs(times_b[None, :] - aligned[:, None]) <= tolerance_s  # len A x len B
    hit = (cheap & near).any(axis=1) & inside
    counted = inside & (hashed_a | hit)
    return float(hit.sum() / counted.sum()) if counted.any() else 0.0


class _Timeline(Protocol):
    times: np.ndarray  # seconds of the usable frames
    centre: np.ndarray  # (frames, squares) placement hashes, 0 = none


def worth_verifying(
    a: _Timeline,
    b: _Timeline,
    cheap: np.ndarray,
    nominated: list[tuple[float, float]],
    *,
    tolerance_s: float,
    min_share: float,
) -> tuple[list[tuple[float, float]], float]:
    """The ``nominated`` alignments of A (the shorter video) on B whose cheap share reaches
    ``min_share`` (in their order), and the best share of all of them (0 when none was
    nominated). ``cheap``: ``cheap_matches(a, b)``."""
    hashed_a = (a.centre != 0).any(axis=1)  # a frame with at least one usable placement hash
    shares = [
        cheap_coverage(cheap, hashed_a, a.times, b.times, alignment=n, tolerance_s=tolerance_s)
        for n in nominated
    ]
    kept = [n for n, share in zip(nominated, shares, strict=True) if share >= min_share]
    return kept, max(shares, default=0.0)
