"""Candidate identity clusters: HDBSCAN over the videos' vectors (or their bags of faces).

See ``identities.clustering`` (step 2) for the graph, the epsilon merge and the root check.
"""

from __future__ import annotations

import hdbscan
import numpy as np
from sklearn.decomposition import PCA

from influencer_pipeline.identities.cluster_config import ClusterConfig
from influencer_pipeline.identities.graph import SELF_DISTANCE, knn_graph
from influencer_pipeline.identities.graph_hdbscan import clusters_from_tree, single_linkage_tree
from influencer_pipeline.identities.space import Space, passes
from influencer_pipeline.identities.video_links import bag_distances

ROOT_PEEL_LIMIT = 100  # outliers peeled off the whole input when testing "one person only"


def _reduce(x: np.ndarray, config: ClusterConfig) -> np.ndarray:
    """PCA to ``pca_dims`` when that drops dimensions the points span; else ``x`` itself."""
    n, d = x.shape
    if config.pca_dims is None or d <= config.pca_dims or n <= config.pca_dims + 1:
        return x
    return PCA(n_components=config.pca_dims, svd_solver="covariance_eigh").fit_transform(x)


def _on_bags(graph: object, space: Space) -> object:
    """The kNN graph with its edges measured between bags of faces (diagonal kept)."""
    coo = graph.tocoo()  # type: ignore[attr-defined]
    off = coo.row != coo.col
    values = coo.data.copy()
    assert space.bags is not None and space.mask is not None
    values[off] = np.maximum(
        bag_distances(space.bags, space.mask, coo.row[off], coo.col[off]), SELF_DISTANCE
    )
    return type(graph)((values, (coo.row, coo.col)), shape=coo.shape)  # type: ignore[call-arg]


def hdbscan_labels(
    x: np.ndarray,
    config: ClusterConfig,
    method: str,
    space: Space | None = None,
    graph: object | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """HDBSCAN labels (-1 = noise) and membership probabilities of the rows of ``x``.

    HDBSCAN never selects its root (the whole input) unless told to, so an input that is one
    person (plus outliers) comes back split or as noise. Two cheap checks undo that: when
    HDBSCAN finds no cluster at all it runs again with ``allow_single_cluster=True``; and for
    inputs up to ``max_exact_size`` videos, when the whole input minus some of the points that
    fall out of the root (farthest first) passes the identity rule, that group is the one
    candidate cluster (see ``_root_identity``). ``graph``: the kNN graph of ``x`` when the
    caller built it already (``graph="knn"`` without PCA).
    """
    n = len(x)
    if n < 3:  # HDBSCAN needs more points than neighbours: all noise (callers decide n <= 2)
        return np.full(n, -1, dtype=np.int64), np.zeros(n)
    points = _reduce(x, config)
    epsilon = config.cluster_selection_epsilon
    min_samples = min(config.min_samples, n - 1)
    if config.graph == "knn":
        reuse = graph is not None and points is x
        data = graph if reuse else knn_graph(points, config.n_neighbors, config.n_jobs)
        if space is not None and space.bags is not None:
            # video-to-video distances over best-matching faces; epsilon in their scale
            data = _on_bags(data, space)
            epsilon *= config.link_threshold / config.identity_threshold
        linkage_tree = single_linkage_tree(data, min_samples)
    else:
        linkage_tree = (
            hdbscan.HDBSCAN(
                min_cluster_size=config.min_cluster_size,
                min_samples=min_samples,
                metric="euclidean",
                algorithm=config.algorithm,
            )
            .fit(points)
            .single_linkage_tree_.to_numpy()
        )
    for single in (config.allow_single_cluster, True):
        found = clusters_from_tree(
            linkage_tree,
            min_cluster_size=config.min_cluster_size,
            method=method,
            epsilon=epsilon,
            allow_single_cluster=single,
        )
        if (found.labels >= 0).any():
            break
    labels, probabilities = found.labels, found.probabilities
    if n <= config.max_exact_size:
        group = _root_identity(x, found.condensed_tree, config)
        if group is not None:
            labels = np.where(group, 0, -1)
            probabilities = group.astype(np.float64)
    return labels, probabilities


def _root_identity(x: np.ndarray, tree: np.ndarray, config: ClusterConfig) -> np.ndarray | None:
    """Mask of the largest "whole input minus its outliers" group that is one identity, or None.

    Outliers are the points that fall out of HDBSCAN's root, farthest first (at most
    ``ROOT_PEEL_LIMIT`` of them are tried); the first remainder that passes the identity rule
    wins. Only inputs that are essentially one person pass.
    """
    n = len(x)
    rows = tree[(tree["parent"] == tree["parent"].min()) & (tree["child"] < n)]
    falling = rows["child"][np.argsort(rows["lambda_val"], kind="stable")]
    keep = np.ones(n, dtype=bool)
    for k in range(min(len(falling), ROOT_PEEL_LIMIT) + 1):
        if k:
            keep[falling[k - 1]] = False
        if keep.sum() < 2:
            return None
        if passes(x[keep], config):
            return keep
    return None
