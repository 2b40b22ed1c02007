"""Merge a verified identity cluster into its nearest cluster when that is the only one in reach.

HDBSCAN's excess-of-mass selection can cut one person into tight sub-clusters (videos made from
several photos, lightings) that the epsilon merge leaves apart, and verification only ever
splits. Every verified cluster's *nearest* cluster is the one at its shortest link in the kNN
distance graph within the identity limit; it is *clear* when the cluster's next shortest link to
any other cluster within the limit is at least ``merge_margin`` times longer, by default
infinitely (the nearest must be the only cluster in reach: among look-alikes the nearest is a
coin toss). The pairs (cluster, its clear nearest) are taken shortest link first; the two
clusters they belong to *now* join when their union passes the identity rule that accepted each
of them (``identities.space``: every member within the limit of the medoid, RMS within the
limit; two videos within ``pair_ratio`` of it). A grown cluster is judged whole again at each
later pair, so a chain A - B - C joins only as far as the whole passes: a merge is never looser
than what verification accepts.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.cluster.hierarchy import DisjointSet

from influencer_pipeline.identities.cluster_config import ClusterConfig
from influencer_pipeline.identities.space import Space


def cluster_links(
    graph: sparse.spmatrix, part: np.ndarray, limit: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cluster, other cluster, shortest link) for both directions of every pair of clusters
    joined by a graph link within ``limit``; sorted by cluster, then link, then other."""
    coo = sparse.triu(graph, k=1).tocoo()
    a, b = part[coo.row], part[coo.col]
    keep = (a != b) & (coo.data <= limit)
    ends = np.concatenate([a[keep], b[keep]])
    others = np.concatenate([b[keep], a[keep]])
    links = np.concatenate([coo.data[keep], coo.data[keep]])
    order = np.lexsort((others, links, ends))
    ends, others, links = ends[order], others[order], links[order]
    first = np.ones(len(ends), dtype=bool)  # each ordered pair at its shortest link
    first[1:] = (ends[1:] != ends[:-1]) | (others[1:] != others[:-1])
    return ends[first], others[first], links[first]


def clear_nearest(
    graph: sparse.spmatrix, part: np.ndarray, limit: float, margin: float
) -> list[tuple[int, int]]:
    """(cluster, its nearest cluster) for every cluster whose nearest is clear (the next link at
    least ``margin`` times longer, or none), shortest link first (ties: lower numbers first)."""
    ends, others, links = cluster_links(graph, part, limit)
    starts = np.flatnonzero(np.r_[True, ends[1:] != ends[:-1]]) if len(ends) else ends
    nxt = np.full(len(starts), np.inf)
    has_next = starts + 1 < np.r_[starts[1:], len(ends)]
    nxt[has_next] = links[starts[has_next] + 1]
    with np.errstate(invalid="ignore"):  # an infinite margin times a zero link
        clear = ~has_next | (nxt >= margin * links[starts])
    chosen = starts[clear]
    order = np.lexsort((others[chosen], ends[chosen], links[chosen]))
    return [(int(ends[k]), int(others[k])) for k in chosen[order]]


def merge_clusters(
    space: Space, part: np.ndarray, graph: sparse.spmatrix, config: ClusterConfig
) -> tuple[np.ndarray, list[np.ndarray]]:
    """(part per row after merging, the members of every merged cluster); ``part`` numbers the
    verified clusters (a merged cluster keeps the smallest of its numbers)."""
    part = np.asarray(part, dtype=np.int64).copy()
    on_bags = space.bags is not None
    limit = max(config.limit(2, bags=on_bags), config.limit(3, bags=on_bags))
    pairs = clear_nearest(graph, part, limit, config.merge_margin)
    rows = np.argsort(part, kind="stable")
    start = np.searchsorted(part[rows], np.arange(part.max() + 2))

    def rows_of(clusters: set[int]) -> np.ndarray:
        return np.sort(np.concatenate([rows[start[c] : start[c + 1]] for c in clusters]))

    sets = DisjointSet(sorted({c for pair in pairs for c in pair}))
    for a, b in pairs:
        if sets.connected(a, b):
            continue
        union = rows_of(sets.subset(a) | sets.subset(b))
        size_limit = config.limit(len(union), bags=space.on_bags(union))
        to_medoid, rms, _ = space.spread(union)
        if to_medoid.max() <= size_limit and rms.max() <= size_limit:
            sets.merge(a, b)
    merged = sorted((min(group), rows_of(group)) for group in sets.subsets() if len(group) > 1)
    for number, members in merged:
        part[members] = number
    return part, [members for _, members in merged]
