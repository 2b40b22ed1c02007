"""Merging verified clusters: one person cut into tight groups is made whole, no chaining,
no join where the nearest cluster is a coin toss."""

from __future__ import annotations

import math

import numpy as np
from scipy import sparse

from influencer_pipeline.identities.clustering import ClusterConfig, cluster_identities
from influencer_pipeline.identities.merging import clear_nearest

DIM = 128


def groups_on_an_arc(gaps: list[float], per_group: int = 3, seed: int = 0) -> np.ndarray:
    """Tight groups of unit vectors along one arc, ``gaps`` the chord distances between
    consecutive groups (each group: ``per_group`` vectors about 0.05 apart)."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.normal(size=(DIM, 2)))
    angles = np.cumsum([0.0] + [2 * math.asin(g / 2) for g in gaps])
    rows = []
    for angle in angles:
        centre = math.cos(angle) * basis[:, 0] + math.sin(angle) * basis[:, 1]
        for _ in range(per_group):
            v = centre + 0.003 * rng.normal(size=DIM)
            rows.append(v / np.linalg.norm(v))
    return np.array(rows)


def keys(x: np.ndarray, config: ClusterConfig | None = None) -> list[str]:
    ids = [f"v{i:02d}" for i in range(len(x))]
    return cluster_identities(ids, x, config)["cluster_key"].tolist()


def test_one_person_in_two_tight_groups_is_merged() -> None:
    """Two photos of one person, three videos each, 0.32 apart: beyond HDBSCAN's epsilon merge
    (0.3), within the identity rule (0.345 from the medoid). A second person far away."""
    x = groups_on_an_arc([0.32, 0.9])
    apart = keys(x, ClusterConfig(identity_threshold=0.345, merge_verified=False))
    assert len(set(apart[:6])) == 2  # what HDBSCAN and verification give alone
    out = cluster_identities(
        [f"v{i:02d}" for i in range(9)], x, ClusterConfig(identity_threshold=0.345)
    )
    assert out["cluster_key"][:6].nunique() == 1
    assert set(out["cluster_key"][6:]) == {"v06"}  # the other person stays apart
    assert out.attrs["n_merged_clusters"] == 1
    assert (out["medoid_distance"][:6] <= 0.345).all()


def test_two_people_further_apart_than_the_rule_stay_apart() -> None:
    x = groups_on_an_arc([0.37, 0.9])
    assert len(set(keys(x, ClusterConfig(identity_threshold=0.345)))) == 3


def test_merging_does_not_chain_three_groups() -> None:
    """A - B - C, each step 0.32: A+B passes the rule, A+B+C does not (C is 0.62 from A)."""
    x = groups_on_an_arc([0.32, 0.32])
    found = keys(x, ClusterConfig(identity_threshold=0.345))
    a, c = set(found[:3]), set(found[6:])
    assert len(a) == 1 and len(c) == 1 and a != c
    assert len(set(found)) == 2  # B joined one side only


def test_two_single_videos_need_the_pair_rule() -> None:
    """Two lone videos merge only within pair_ratio x threshold (0.30 at 0.345)."""
    config = ClusterConfig(identity_threshold=0.345)
    assert len(set(keys(groups_on_an_arc([0.33, 0.33], per_group=1), config))) == 3
    close = groups_on_an_arc([0.28, 0.9], per_group=1)
    assert len(set(keys(close, config))) == 2


def videos_on_an_arc(chords: list[float], seed: int = 0) -> np.ndarray:
    """One unit vector per video on one arc, at the signed chord distance ``chords`` from the
    arc's origin (a little noise each)."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.normal(size=(DIM, 2)))
    rows = []
    for chord in chords:
        angle = math.copysign(2 * math.asin(abs(chord) / 2), chord)
        v = math.cos(angle) * basis[:, 0] + math.sin(angle) * basis[:, 1]
        v = v + 0.003 * rng.normal(size=DIM)
        rows.append(v / np.linalg.norm(v))
    return np.array(rows)


def test_a_lone_video_joins_its_clearly_nearest_cluster() -> None:
    """Person A: three videos at 0 and one made from another photo at -0.32. Person B, spread
    from 0.31 to 0.71, is A's nearest (0.31), so A and the lone video are not each other's
    nearest; the lone video's nearest is clearly A (B is 0.63 away) and they pass together."""
    x = videos_on_an_arc([0, 0, 0, -0.32, 0.31, 0.51, 0.71])
    found = keys(x, ClusterConfig(identity_threshold=0.35))
    assert found == ["v00"] * 4 + ["v04"] * 3
    alone = keys(x, ClusterConfig(identity_threshold=0.35, merge_verified=False))
    assert alone[3] == "v03"  # what HDBSCAN and verification give alone


def test_a_cluster_with_two_in_reach_joins_neither() -> None:
    """Cluster 0's links: 1 at 0.30, 2 at 0.31: two clusters in reach, its nearest is a coin
    toss. Clusters 1 and 2 each reach cluster 0 only: their nearest is clear. A link beyond the
    limit (0 - 3 at 0.5) does not count."""
    rows, cols, dist = [0, 0, 0], [1, 2, 3], [0.30, 0.31, 0.5]
    graph = sparse.coo_matrix((dist, (rows, cols)), shape=(4, 4)).tocsr()
    part = np.array([0, 1, 2, 3])
    default = ClusterConfig().merge_margin
    assert clear_nearest(graph, part, limit=0.35, margin=default) == [(1, 0), (2, 0)]
    assert clear_nearest(graph, part, limit=0.35, margin=1.05) == [(1, 0), (2, 0)]
    assert clear_nearest(graph, part, limit=0.35, margin=1.0) == [(0, 1), (1, 0), (2, 0)]
    assert clear_nearest(graph, part, limit=0.6, margin=1.5) == [(1, 0), (2, 0), (3, 0)]
