"""HDBSCAN on a sparse graph gives what the hdbscan package gives on the same graph."""

from __future__ import annotations

import hdbscan
import numpy as np
import pytest
from hdbscan._hdbscan_linkage import label
from hdbscan._hdbscan_reachability import sparse_mutual_reachability
from scipy import sparse
from scipy.sparse import csgraph

from influencer_pipeline.identities.candidates import hdbscan_labels
from influencer_pipeline.identities.cluster_config import ClusterConfig
from influencer_pipeline.identities.graph import knn_graph
from influencer_pipeline.identities.graph_hdbscan import (
    clusters_from_tree,
    linkage_from_edges,
    mutual_reachability,
    single_linkage_tree,
)


def blobs(seed: int, n_people: int = 40, dim: int = 32) -> np.ndarray:
    """Unit vectors of people with 1-12 points each around their centres, plus loners."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_people, dim))
    sizes = rng.integers(1, 13, size=n_people)
    x = np.concatenate(
        [
            c + rng.normal(scale=rng.uniform(0.1, 0.5), size=(s, dim))
            for c, s in zip(centres, sizes, strict=True)
        ]
    )
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("min_samples", [1, 2, 4])
def test_mutual_reachability_equals_the_packages_element_by_element_build(min_samples: int) -> None:
    graph = knn_graph(blobs(1), n_neighbors=6)
    # a row with fewer stored distances than min_samples: its core distance is infinite
    graph = graph.tolil()
    graph[3, :] = 0
    graph[:, 3] = 0
    graph[3, 3] = 1e-12
    graph[3, 7] = graph[7, 3] = 0.5
    graph = graph.tocsr()
    graph.eliminate_zeros()
    expected = sparse_mutual_reachability(graph.tolil(), min_points=min_samples)
    got = mutual_reachability(graph, min_samples)
    assert (got != expected).nnz == 0
    assert got.nnz == expected.nnz


@pytest.mark.parametrize("seed", [2, 3])
@pytest.mark.parametrize("min_samples", [1, 2])
@pytest.mark.parametrize("method", ["eom", "leaf"])
@pytest.mark.parametrize("epsilon", [0.0, 0.3])
@pytest.mark.parametrize("single", [False, True])
def test_graph_clusters_equal_hdbscan_precomputed_on_the_same_graph(
    seed: int, min_samples: int, method: str, epsilon: float, single: bool
) -> None:
    graph = knn_graph(blobs(seed), n_neighbors=8)
    model = hdbscan.HDBSCAN(
        min_cluster_size=2,
        min_samples=min_samples,
        cluster_selection_method=method,
        cluster_selection_epsilon=epsilon,
        allow_single_cluster=single,
        metric="precomputed",
    ).fit(graph)
    found = clusters_from_tree(
        single_linkage_tree(graph, min_samples),
        min_cluster_size=2,
        method=method,
        epsilon=epsilon,
        allow_single_cluster=single,
    )
    assert (model.labels_ >= 0).sum() > 10  # the data has clusters to find
    np.testing.assert_array_equal(found.labels, model.labels_)
    np.testing.assert_array_equal(found.probabilities, model.probabilities_)
    np.testing.assert_array_equal(found.condensed_tree, model.condensed_tree_.to_numpy())


def test_a_graph_in_two_pieces_is_refused() -> None:
    x = blobs(4)
    half = len(x) // 2
    graph = sparse.block_diag(
        [knn_graph(x[:half], n_neighbors=5), knn_graph(x[half:], n_neighbors=5)], format="csr"
    )
    with pytest.raises(ValueError, match="connected components"):
        single_linkage_tree(graph, 1)


@pytest.mark.parametrize("method", ["eom", "leaf"])
def test_candidates_on_points_equal_hdbscan_on_the_points(method: str) -> None:
    x = blobs(5)
    config = ClusterConfig(graph="points", algorithm="generic", identity_threshold=0.1)
    labels, probabilities = hdbscan_labels(x, config, method)
    model = hdbscan.HDBSCAN(
        min_cluster_size=config.min_cluster_size,
        min_samples=config.min_samples,
        cluster_selection_method=method,
        cluster_selection_epsilon=config.cluster_selection_epsilon,
        metric="euclidean",
        algorithm="generic",
    ).fit(x)
    assert len(set(model.labels_.tolist()) - {-1}) > 5
    np.testing.assert_array_equal(labels, model.labels_)
    np.testing.assert_array_equal(probabilities, model.probabilities_)


def spanning_tree_edges(rng: np.random.Generator, n: int) -> np.ndarray:
    """A random spanning tree's edges sorted by weight, a third of them tied."""
    order = rng.permutation(n)
    parents = order[rng.integers(0, np.arange(1, n))]
    weights = rng.random(n - 1)
    weights[: n // 3] = 0.5
    edges = np.column_stack([order[1:], parents, weights]).astype(np.float64)
    return edges[np.argsort(edges[:, 2], kind="stable")]


@pytest.mark.parametrize("n", [2, 3, 50, 2000])
def test_linkage_from_edges_is_hdbscans_label(n: int) -> None:
    edges = spanning_tree_edges(np.random.default_rng(n), n)
    np.testing.assert_array_equal(linkage_from_edges(edges), label(edges))


def test_linkage_from_edges_on_a_minimum_spanning_tree() -> None:
    reach = mutual_reachability(knn_graph(blobs(6), n_neighbors=8), 2)
    tree = csgraph.minimum_spanning_tree(reach).tocoo()
    edges = np.column_stack([tree.row, tree.col, tree.data]).astype(np.float64)
    edges = edges[np.argsort(edges[:, 2])]
    np.testing.assert_array_equal(linkage_from_edges(edges), label(edges))
