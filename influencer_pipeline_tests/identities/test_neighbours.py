"""The blocked float32 neighbour search returns what an exhaustive float64 search returns."""

from __future__ import annotations

import numpy as np
import pytest

from influencer_pipeline.identities import neighbours
from influencer_pipeline.identities.graph import SELF_DISTANCE, knn_graph
from influencer_pipeline.identities.neighbours import exact_neighbours


def reference(x: np.ndarray) -> np.ndarray:
    """All distances between the points' float32 values, computed in float64, n x n."""
    points = x.astype(np.float32).astype(np.float64)
    return np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(axis=2))


def data_sets() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    people = rng.normal(size=(60, 24))
    faces = people[rng.integers(0, 60, 500)] + rng.normal(scale=0.3, size=(500, 24))
    faces /= np.linalg.norm(faces, axis=1, keepdims=True)
    ring = np.vstack([np.zeros(3), np.eye(3), -np.eye(3), rng.normal(size=(40, 3))])
    return {
        "unit faces": faces,
        "far from the origin": rng.normal(size=(400, 8)) * 50 + 1000,
        "offset beyond float32's spacing": rng.normal(size=(300, 6)) + 1e4,
        "exact copies": np.vstack([rng.normal(size=(150, 5))] * 3),
        "ties around a point": ring,  # six points at distance exactly 1 from the first
    }


@pytest.fixture(params=[(2048, 512), (64, 16)], ids=["one block", "many small blocks"])
def blocks(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    rows, share = request.param
    monkeypatch.setattr(neighbours, "BLOCK_ROWS", rows)
    monkeypatch.setattr(neighbours, "PIVOT_SHARE", share)


@pytest.mark.usefixtures("blocks")
@pytest.mark.parametrize("name", list(data_sets()))
@pytest.mark.parametrize("k", [0, 1, 5, 15])
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_neighbours_are_the_exhaustive_searchs(name: str, k: int, n_jobs: int) -> None:
    x = data_sets()[name]
    dist, ind = exact_neighbours(x, k, n_jobs)
    full = reference(x)
    want = np.sort(full, axis=1)[:, : k + 1]
    assert dist.shape == ind.shape == (len(x), k + 1)
    np.testing.assert_allclose(dist, want, rtol=0, atol=1e-12)
    # the returned indices are at the returned distances, each at most once per row
    np.testing.assert_allclose(np.take_along_axis(full, ind, axis=1), dist, rtol=0, atol=1e-12)
    assert all(len(set(row)) == k + 1 for row in ind.tolist())


@pytest.mark.usefixtures("blocks")
def test_ties_are_broken_by_index_and_every_point_can_be_its_own_neighbour() -> None:
    x = np.vstack([np.zeros(3), np.eye(3), -np.eye(3)])
    dist, ind = exact_neighbours(x, 6)
    np.testing.assert_array_equal(ind[0], [0, 1, 2, 3, 4, 5, 6])
    np.testing.assert_array_equal(dist[0], [0, 1, 1, 1, 1, 1, 1])
    dist, ind = exact_neighbours(x, len(x) - 1)
    assert sorted(ind[3].tolist()) == list(range(len(x)))


def test_one_point_and_too_many_neighbours() -> None:
    dist, ind = exact_neighbours(np.ones((1, 4)), 0)
    assert dist.tolist() == [[0.0]] and ind.tolist() == [[0]]
    with pytest.raises(ValueError, match="k=3"):
        exact_neighbours(np.ones((3, 4)), 3)


@pytest.mark.usefixtures("blocks")
def test_knn_graph_holds_every_points_nearest_both_ways() -> None:
    x = data_sets()["unit faces"]
    graph = knn_graph(x, n_neighbors=6, n_jobs=2)
    full = reference(x)
    nearest = np.argsort(full, axis=1, kind="stable")[:, :7]
    dense = graph.toarray()
    np.testing.assert_array_equal(dense, dense.T)
    np.testing.assert_array_equal(np.diag(dense), SELF_DISTANCE)
    rows = np.repeat(np.arange(len(x)), 7)
    off = rows != nearest.ravel()
    np.testing.assert_allclose(
        dense[rows[off], nearest.ravel()[off]], full[rows[off], nearest.ravel()[off]], atol=1e-12
    )
