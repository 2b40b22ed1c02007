"""Merge two verified identity clusters that are each other's nearest and pass the rule together.

HDBSCAN's excess-of-mass selection can cut one person into tight sub-clusters (videos made from
two photos, two lightings) that the epsilon merge leaves apart, and verification only ever
splits. Every verified cluster's *nearest* cluster is the one at its shortest link in the kNN
distance graph (within the identity limit). Two clusters that are each other's nearest merge
when their union passes the identity rule that accepted each of them (``identities.space``:
every member within the limit of the medoid, RMS within the limit; two videos within
``pair_ratio`` of it). Mutual pairs are disjoint, so one pass makes every merge and nothing
chains; a merge is never looser than what verification accepts.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from influencer_pipeline.identities.cluster_config import ClusterConfig
from influencer_pipeline.identities.space import Space


def nearest_clusters(graph: sparse.spmatrix, part: np.ndarray, limit: float) -> dict[int, int]:
    """cluster -> the cluster at its shortest graph link within ``limit`` (ties: lower number)."""
    coo = sparse.triu(graph, k=1).tocoo()
    a, b = part[coo.row], part[coo.col]
    keep = (a != b) & (coo.data <= limit)
    a, b, d = a[keep], b[keep], coo.data[keep]
    ends = np.concatenate([a, b])
    others = np.concatenate([b, a])
    order = np.lexsort((others, np.concatenate([d, d]), ends))  # by cluster, then distance
    first = np.ones(len(order), dtype=bool)
    first[1:] = ends[order][1:] != ends[order][:-1]
    chosen = order[first]
    return {int(c): int(o) for c, o in zip(ends[chosen], others[chosen], strict=True)}


def merge_clusters(
    space: Space, part: np.ndarray, graph: sparse.spmatrix, config: ClusterConfig
) -> tuple[np.ndarray, list[np.ndarray]]:
    """(part per row after merging, the members of every merged cluster); ``part`` numbers the
    verified clusters (a merged cluster keeps the smaller of its two numbers)."""
    part = np.asarray(part, dtype=np.int64).copy()
    on_bags = space.bags is not None
    limit = max(config.limit(2, bags=on_bags), config.limit(3, bags=on_bags))
    nearest = nearest_clusters(graph, part, limit)
    rows = np.argsort(part, kind="stable")  # the rows of cluster p: rows[start[p]:start[p + 1]]
    start = np.searchsorted(part[rows], np.arange(part.max() + 2))
    merged = []
    for a, b in sorted(nearest.items()):
        if a >= b or nearest.get(b) != a:
            continue
        union = np.sort(np.concatenate([rows[start[c] : start[c + 1]] for c in (a, b)]))
        size_limit = config.limit(len(union), bags=space.on_bags(union))
        to_medoid, rms, _ = space.spread(union)
        if to_medoid.max() <= size_limit and rms.max() <= size_limit:
            part[union] = a
            merged.append(union)
    return part, merged
