"""The space identities are judged in: mean vectors, or bags of faces; the one-identity rule.

``passes`` is the verification rule (``identities.verification``): every member within the
identity limit of the medoid, and every member's RMS distance to the others within it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from influencer_pipeline.identities.cluster_config import ClusterConfig
from influencer_pipeline.identities.video_links import as_bags, bag_distance_matrix

BAG_VERIFY_MAX = 500  # largest group verified on bag distances (m^2 bag pairs); beyond: means


@dataclass
class Space:
    """The videos' mean vectors and, when given, their bags of faces (``video_links``)."""

    x: np.ndarray
    bags: np.ndarray | None = None
    mask: np.ndarray | None = None

    def on_bags(self, members: np.ndarray) -> bool:
        """True when ``members`` are compared by bag distances (small enough groups)."""
        return self.bags is not None and len(members) <= BAG_VERIFY_MAX

    def spread(self, members: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(distance to the medoid, RMS distance to the others, full matrix or None)."""
        if not self.on_bags(members):
            to_medoid, rms = spread(self.x[members])
            return to_medoid, rms, None
        assert self.bags is not None and self.mask is not None
        matrix = bag_distance_matrix(self.bags, self.mask, members)
        squared = (matrix**2).sum(axis=1) / max(len(members) - 1, 1)
        medoid = int(np.argmin(squared))
        return matrix[medoid], np.sqrt(squared), matrix


def spread(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distance of every row to the medoid, RMS distance of every row to the other rows).

    For unit rows, sum_j |x_i - x_j|^2 = 2m - 2 x_i . sum_j x_j, so both need O(m d) only; the
    medoid is the row with the smallest RMS distance to the others (the row nearest the mean).
    """
    m = len(x)
    total = x.sum(axis=0)
    squared = np.maximum(2.0 * m - 2.0 * (x @ total), 0.0) / max(m - 1, 1)
    medoid = int(np.argmin(squared))
    return np.linalg.norm(x - x[medoid], axis=1), np.sqrt(squared)


def passes(x: np.ndarray, config: ClusterConfig) -> bool:
    """True when the rows form one identity by the verification rule (module docstring)."""
    if len(x) < 2:
        return True
    limit = config.limit(len(x))
    to_medoid, rms = spread(x)
    return bool(to_medoid.max() <= limit and rms.max() <= limit)


def make_space(x: np.ndarray, bags: Sequence[object] | None) -> Space:
    """The space of ``x`` (unit mean vectors), with the videos' bags of faces when given."""
    if bags is None:
        return Space(x)
    padded, mask = as_bags(bags, x.astype(np.float32))
    return Space(x, padded, mask)
