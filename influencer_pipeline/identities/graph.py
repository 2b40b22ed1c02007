"""The sparse distance graph HDBSCAN runs on: exact k nearest neighbours, made connected.

Each video is linked to its ``n_neighbors`` exact nearest neighbours (``identities.neighbours``:
blocked float32 products, candidates ranked in float64), and the graph's connected components
are joined Borůvka-style by their exact shortest links, so the graph is connected and its
minimum spanning tree is the exact one whenever every MST edge joins k-nearest neighbours (see
``identities.clustering``).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from influencer_pipeline.identities.neighbours import exact_neighbours

SELF_DISTANCE = 1e-12  # stored on the graph's diagonal: "distance zero" that sparse storage keeps
CHUNK_ROWS = 256  # rows per block when searching the nearest point outside a component


def _nearest_outside(
    x: np.ndarray, members: np.ndarray, inside: np.ndarray
) -> tuple[int, int, float]:
    """(member, outside point, distance) of the shortest link from ``members`` to the rest."""
    best = (-1, -1, np.inf)
    outside = np.flatnonzero(~inside)
    others = x[outside].astype(np.float32)
    norms = (others**2).sum(axis=1)
    for start in range(0, len(members), CHUNK_ROWS):
        rows = members[start : start + CHUNK_ROWS]
        block = x[rows].astype(np.float32)
        sq = (block**2).sum(axis=1)[:, None] + norms[None, :] - 2.0 * block @ others.T
        i, j = np.unravel_index(int(np.argmin(sq)), sq.shape)
        dist = math.sqrt(max(float(sq[i, j]), 0.0))
        if dist < best[2]:
            best = (int(rows[i]), int(outside[j]), dist)
    return best


def _symmetric(n: int, rows: np.ndarray, cols: np.ndarray, dist: np.ndarray) -> sparse.csr_matrix:
    """CSR graph holding each pair's distance both ways (the larger if given twice).

    Distances are at least ``SELF_DISTANCE``, and the diagonal holds exactly that.
    """
    values = np.maximum(np.where(rows == cols, 0.0, dist), SELF_DISTANCE)
    graph = sparse.csr_matrix((values, (rows, cols)), shape=(n, n))
    diagonal = sparse.identity(n, format="csr") * SELF_DISTANCE
    return graph.maximum(graph.T).maximum(diagonal).tocsr()


def knn_graph(x: np.ndarray, n_neighbors: int, n_jobs: int = 1) -> sparse.csr_matrix:
    """Symmetric sparse distance graph: exact k nearest neighbours + exact inter-component links.

    Components of the kNN graph are joined Borůvka-style: each round adds, for every component
    but the largest, its shortest link to any point outside it, until one component remains.
    The diagonal holds ``SELF_DISTANCE`` (each point is its own nearest neighbour).
    """
    n = len(x)
    k = min(n_neighbors, n - 1)
    dist, ind = exact_neighbours(x, k, n_jobs)
    graph = _symmetric(n, np.repeat(np.arange(n), k + 1), ind.ravel(), dist.ravel())
    while True:
        n_parts, part = csgraph.connected_components(graph, directed=False)
        if n_parts == 1:
            return graph
        largest = int(np.argmax(np.bincount(part)))
        links = []
        for p in range(n_parts):
            if p != largest:
                inside = part == p
                links.append(_nearest_outside(x, np.flatnonzero(inside), inside))
        i, j, d = (np.array(v) for v in zip(*links, strict=True))
        extra = sparse.csr_matrix((np.maximum(d, SELF_DISTANCE), (i, j)), shape=(n, n))
        graph = graph.maximum(extra).maximum(extra.T).tocsr()
