"""Identity clustering: HDBSCAN + verification on synthetic dominant-face embeddings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.sparse.csgraph import connected_components

from influencer_pipeline.identities.clustering import (
    ClusterConfig,
    ClusteringInputError,
    check_single_embedder,
    cluster_identities,
    cluster_video_faces,
    knn_graph,
    verify_clusters,
)
from influencer_tools.evaluation.metrics import bcubed, wrong_merges

DIM = 128


def unit(v: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length."""
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def people(
    sizes: list[int], seed: int = 0, spread: float = 0.018, dim: int = DIM, centre: float = 0.09
) -> tuple[list[str], np.ndarray, list[int]]:
    """Videos of people with the given video counts, dlib-like distances.

    Centres share a common direction (different people ~0.6-0.9 apart); each video adds
    isotropic noise (``spread`` per dimension: same-person distances ~0.25-0.32).
    """
    rng = np.random.default_rng(seed)
    common = unit(rng.normal(size=dim))
    centres = unit(common + centre * rng.normal(size=(len(sizes), dim)))
    labels = np.repeat(np.arange(len(sizes)), sizes)
    x = unit(centres[labels] + spread * rng.normal(size=(len(labels), dim)))
    ids = [f"vid{i:04d}" for i in rng.permutation(len(labels))]
    return ids, x, labels.tolist()


def partition(out: pd.DataFrame) -> dict[str, str]:
    """video_id -> cluster_key."""
    return dict(zip(out["video_id"], out["cluster_key"], strict=True))


def test_tiny_inputs() -> None:
    empty = cluster_identities([], np.zeros((0, DIM)))
    assert empty.empty and "cluster_key" in empty.columns
    one = cluster_identities(["a"], unit(np.ones((1, DIM))))
    assert one.to_dict("records")[0] | {"membership_probability": 0} == {
        "video_id": "a",
        "cluster_label": -1,
        "membership_probability": 0,
        "is_singleton": True,
        "cluster_key": "a",
        "cluster_size": 1,
        "hdbscan_label": -1,
        "medoid_distance": 0.0,
        "singleton_reason": "hdbscan_noise",
    }
    ids, x, _ = people([2, 1], seed=1)
    same = [i for i, lab in zip(ids, _, strict=True) if lab == 0]
    two = cluster_identities(same, x[:2])
    assert list(two["cluster_key"]) == [min(same)] * 2 and list(two["cluster_label"]) == [0, 0]
    apart = cluster_identities(["b", "a"], x[1:3])
    assert list(apart["video_id"]) == ["a", "b"]
    assert apart["is_singleton"].all() and list(apart["cluster_key"]) == ["a", "b"]
    three = cluster_identities(ids, x)
    assert three["cluster_key"].nunique() == 2


def test_separated_people_are_recovered_exactly_and_noise_is_kept() -> None:
    sizes = [2, 2, 3, 5, 8, 20, 40] + [1] * 15
    ids, x, labels = people(sizes, seed=2)
    out = cluster_identities(ids, x)
    assert len(out) == len(ids) and set(out["video_id"]) == set(ids)
    truth = dict(zip(ids, labels, strict=True))
    assert bcubed(partition(out), truth) == pytest.approx((1.0, 1.0, 1.0))
    singles = out[out["is_singleton"]]
    assert len(singles) == 15 and (singles["cluster_label"] == -1).all()
    assert (singles["cluster_key"] == singles["video_id"]).all()
    multi = out[~out["is_singleton"]]
    assert sorted(multi.groupby("cluster_key").size()) == [2, 2, 3, 5, 8, 20, 40]
    # labels number the multi-video clusters 0.. in key order; keys are the smallest member
    keys = sorted(multi["cluster_key"].unique())
    assert dict(zip(multi["cluster_key"], multi["cluster_label"], strict=True)) == {
        k: i for i, k in enumerate(keys)
    }
    assert (
        multi.groupby("cluster_key")["video_id"].min() == multi.groupby("cluster_key").size().index
    ).all()
    assert (out["medoid_distance"] <= ClusterConfig().identity_threshold).all()


def test_order_independent() -> None:
    ids, x, _ = people([2, 3, 4, 6, 10, 1, 1, 1, 25], seed=4)
    out = cluster_identities(ids, x)
    perm = np.random.default_rng(9).permutation(len(ids))
    shuffled = cluster_identities([ids[i] for i in perm], x[perm])
    pd.testing.assert_frame_equal(out, shuffled)


def two_people_and_bridge(seed: int = 5) -> tuple[list[str], np.ndarray]:
    """Person A (12 videos) and B (12) about 0.6 apart, plus 9 faces on the line between them."""
    rng = np.random.default_rng(seed)
    a, b = unit(rng.normal(size=DIM)), unit(rng.normal(size=DIM))
    b = unit(a + 0.62 * unit(b - (b @ a) * a))
    near = [unit(c + 0.015 * rng.normal(size=(12, DIM))) for c in (a, b)]
    line = np.array([a + t * (b - a) for t in np.linspace(0.1, 0.9, 9)])
    bridge = unit(line + 0.015 * rng.normal(size=line.shape))
    ids = [f"a{i:02d}" for i in range(12)] + [f"b{i:02d}" for i in range(12)]
    return ids + [f"m{i:02d}" for i in range(9)], np.vstack([*near, bridge])


def test_verification_splits_a_candidate_that_joins_two_people() -> None:
    # HDBSCAN chaining A and B through in-between faces is simulated by one candidate label
    ids, x = two_people_and_bridge()
    part, dist = verify_clusters(x, np.zeros(len(ids), dtype=int))
    part_of = dict(zip(ids, part.tolist(), strict=True))
    assert {part_of[f"a{i:02d}"] for i in range(12)} == {part_of["a00"]}
    assert {part_of[f"b{i:02d}"] for i in range(12)} == {part_of["b00"]}
    assert part_of["a00"] != part_of["b00"]
    assert (dist <= ClusterConfig().identity_threshold).all()
    # parts are numbered by their first row, so labels do not matter; noise stays alone
    labels = np.where(np.arange(len(ids)) < 24, 7, -1)
    part2, _ = verify_clusters(x, labels)
    assert len(set(part2[24:].tolist())) == 9 and not set(part2[24:]) & set(part2[:24])


def test_bridged_people_end_to_end() -> None:
    ids, x = two_people_and_bridge()
    out = cluster_identities(ids, x).set_index("video_id")
    keys = out["cluster_key"]
    assert (keys[[f"a{i:02d}" for i in range(12)]] == keys["a00"]).all()
    assert (keys[[f"b{i:02d}" for i in range(12)]] == keys["b00"]).all()
    assert keys["a00"] != keys["b00"]
    assert (out["medoid_distance"] <= ClusterConfig().identity_threshold).all()


def test_pair_rule_is_stricter_for_two_video_clusters() -> None:
    rng = np.random.default_rng(11)
    a = unit(rng.normal(size=DIM))
    step = unit(rng.normal(size=DIM) - (rng.normal(size=DIM) @ a) * a)
    pair = unit(np.vstack([a, a + 0.38 * step]))  # 0.38 apart: between 0.35 and 0.40
    assert 0.35 < np.linalg.norm(pair[0] - pair[1]) < 0.40
    assert cluster_identities(["p", "q"], pair)["is_singleton"].all()
    loose = ClusterConfig(pair_ratio=1.0)
    assert not cluster_identities(["p", "q"], pair, loose)["is_singleton"].any()
    part, _ = verify_clusters(pair, np.array([0, 0]))
    assert part.tolist() == [0, 1]


def test_realistic_mix_has_no_wrong_merges() -> None:
    rng = np.random.default_rng(6)
    sizes = [int(k) for k in rng.choice([2, 2, 2, 3, 3, 4, 5, 7, 10, 15, 20], size=60)]
    sizes += [120] + [1] * 100
    ids, x, labels = people(sizes, seed=6, spread=0.02)
    out = cluster_identities(ids, x)
    truth = dict(zip(ids, labels, strict=True))
    p, _, f = bcubed(partition(out), truth)
    assert wrong_merges(partition(out), truth) == []
    assert p == 1.0 and f > 0.95


def test_facenet_512d_and_custom_threshold() -> None:
    ids, x, labels = people([3, 4, 1, 6], seed=7, dim=512, spread=0.01)
    out = cluster_identities(ids, x, ClusterConfig(identity_threshold=0.5, pca_dims=None))
    assert bcubed(partition(out), dict(zip(ids, labels, strict=True))) == pytest.approx((1, 1, 1))


def test_input_errors() -> None:
    x = unit(np.ones((2, DIM)))
    cases = [
        (["a", "a"], x, "duplicate_video_id"),
        (["a", "b"], x[:1], "bad_shape"),
        (["a", ""], x, "blank_video_id"),
        (["a", "b"], np.vstack([x[0], np.full(DIM, np.nan)]), "non_finite"),
        (["a", "b"], np.vstack([x[0], np.zeros(DIM)]), "zero_vector"),
    ]
    for ids, emb, code in cases:
        with pytest.raises(ClusteringInputError) as info:
            cluster_identities(ids, emb)
        assert info.value.code == code
    with pytest.raises(ValueError, match="identity_threshold"):
        ClusterConfig(identity_threshold=0)
    with pytest.raises(ValueError, match="min_cluster_size"):
        ClusterConfig(min_cluster_size=1)


def test_mixed_embedders_are_refused() -> None:
    ids, x, _ = people([2, 2], seed=8)
    faces = pd.DataFrame(
        {
            "video_id": ids,
            "embedding": list(x),
            "embedder": ["dlib", "dlib", "dlib", "facenet"],
            "embedder_version": ["v1"] * 4,
        }
    )
    with pytest.raises(ClusteringInputError, match="embedder spaces") as info:
        cluster_video_faces(faces)
    assert info.value.code == "mixed_embedders"
    faces["embedder"] = "dlib"
    faces.loc[0, "embedder_version"] = "v2"
    with pytest.raises(ValueError, match="one \\(embedder, embedder_version\\)"):
        cluster_video_faces(faces)
    faces["embedder_version"] = "v1"
    assert cluster_video_faces(faces)["cluster_key"].nunique() == 2
    assert check_single_embedder(["dlib"], ["v1"]) == ("dlib", "v1")
    faces.loc[1, "embedding"] = None
    with pytest.raises(ClusteringInputError) as info:
        cluster_video_faces(faces)
    assert info.value.code == "missing_embedding"


def test_knn_graph_is_connected_and_gives_the_exact_partition() -> None:
    # three far-apart groups: with 3 neighbours the kNN graph falls apart into groups, which
    # knn_graph must join with their true shortest links (same answer as HDBSCAN on points)
    ids, x, labels = people([6, 6, 5, 1, 1, 2], seed=12)
    graph = knn_graph(x, n_neighbors=3)
    assert connected_components(graph, directed=False)[0] == 1
    assert np.allclose(graph.diagonal(), 0, atol=1e-9)
    small = ClusterConfig(n_neighbors=3)
    exact = ClusterConfig(graph="points", algorithm="generic")
    assert partition(cluster_identities(ids, x, small)) == partition(
        cluster_identities(ids, x, exact)
    )
    out = cluster_identities(ids, x, small)
    assert bcubed(partition(out), dict(zip(ids, labels, strict=True))) == pytest.approx((1, 1, 1))


def test_one_person_input_is_one_cluster() -> None:
    # HDBSCAN alone never returns the whole input as one cluster; the fallback must
    ids, x, _ = people([8], seed=13)
    out = cluster_identities(ids, x)
    assert out["cluster_key"].nunique() == 1 and not out["is_singleton"].any()
    for sizes in ([8, 1], [8, 1, 1], [3]):
        ids, x, _ = people(sizes, seed=13)
        out = cluster_identities(ids, x)
        assert sorted(out.groupby("cluster_key").size()) == sorted(sizes)
