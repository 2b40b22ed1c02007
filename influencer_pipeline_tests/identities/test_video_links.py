"""Video-to-video distance over bags of faces (``identities.video_links``)."""

from __future__ import annotations

import numpy as np

from influencer_pipeline.identities.video_links import (
    MAX_BAG,
    as_bags,
    bag_distance_matrix,
    bag_distances,
)


def _unit(rng: np.random.Generator, n: int, dim: int = 16) -> np.ndarray:
    x = rng.normal(size=(n, dim))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _near(rng: np.random.Generator, centre: np.ndarray, n: int, spread: float) -> np.ndarray:
    x = centre + spread * rng.normal(size=(n, len(centre)))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_identical_bags_are_at_zero_and_the_distance_is_symmetric() -> None:
    rng = np.random.default_rng(0)
    a, b = _unit(rng, 5), _unit(rng, 3)
    means = np.stack([a.mean(0), b.mean(0)])
    bags, mask = as_bags([a, b], means)
    same = bag_distances(bags, mask, [0], [0])[0]
    assert same < 1e-3  # float32 rounding only
    forward = bag_distances(bags, mask, [0], [1])[0]
    backward = bag_distances(bags, mask, [1], [0])[0]
    assert forward == backward > 0.5


def test_one_odd_face_neither_joins_nor_splits() -> None:
    rng = np.random.default_rng(1)
    person, other = _unit(rng, 2)
    a = _near(rng, person, 8, 0.05)
    b = _near(rng, person, 8, 0.05)
    b_odd = b.copy()
    b_odd[0] = other  # a look-alike pose of someone else, once
    means = np.stack([a.mean(0), b.mean(0), b_odd.mean(0)])
    bags, mask = as_bags([a, b, b_odd], means)
    clean, odd = bag_distances(bags, mask, [0, 0], [1, 2])
    assert abs(odd - clean) < 0.05  # the median ignores the one odd face
    c = _near(rng, other, 8, 0.05)
    c[0] = person  # one face of the first person among another's
    bags, mask = as_bags([a, c], np.stack([a.mean(0), c.mean(0)]))
    assert bag_distances(bags, mask, [0], [1])[0] > 0.8


def test_missing_or_broken_bags_fall_back_to_the_mean() -> None:
    rng = np.random.default_rng(2)
    means = _unit(rng, 4)
    broken = [None, [], [[1.0, 2.0]], _unit(rng, MAX_BAG + 3)]
    bags, mask = as_bags(broken, means)
    assert mask.sum(axis=1).tolist() == [1, 1, 1, MAX_BAG]
    np.testing.assert_allclose(bags[0, 0], means[0], atol=1e-6)
    np.testing.assert_allclose(bags[2, 0], means[2], atol=1e-6)
    matrix = bag_distance_matrix(bags, mask, np.arange(4))
    assert matrix.shape == (4, 4)
    np.testing.assert_allclose(matrix, matrix.T)
    assert np.all(np.diag(matrix) == 0)
