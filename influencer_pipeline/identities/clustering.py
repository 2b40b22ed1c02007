"""Cluster the dominant faces of canonical videos into identities with HDBSCAN, then verify.

Input: one L2-normalized face embedding per video (dlib 128-d or facenet 512-d; never both).
Output: one row per video; every video ends in exactly one final cluster, HDBSCAN noise included
(noise becomes a single-video influencer, never dropped).

Steps of :func:`cluster_identities`:

1. Canonical order: rows are sorted by ``video_id`` before any computation and returned in that
   order, so the result does not depend on the input order.
2. Candidates: HDBSCAN (the ``hdbscan`` package, ``min_cluster_size=2`` so two-video people are
   clusters, ``min_samples=1``, excess-of-mass selection) on Euclidean distances in the full
   embedding space. For speed the distances are given to HDBSCAN as a sparse graph of each
   video's ``n_neighbors`` exact nearest neighbours (scikit-learn brute force, BLAS) plus the
   exact shortest links between the graph's connected components (Borůvka rounds), so the
   graph is connected and its minimum spanning tree is the exact one whenever every MST edge
   joins k-nearest neighbours (measured: identical partitions to HDBSCAN on the full point set,
   see benchmarks/clustering.py). The diagonal holds a tiny distance so that ``min_samples``
   means what it means for points (the point itself counts). HDBSCAN never returns the whole
   input as one cluster unless told to, so an input that is one person (plus outliers) would
   come back split: when it finds no cluster it runs again with ``allow_single_cluster=True``,
   and when the whole input minus up to 100 root outliers passes the identity rule below,
   that group is the candidate cluster.
   ``graph="points"`` runs HDBSCAN's own tree algorithms on the points instead (optionally
   after PCA to ``pca_dims``); it is exact but slow beyond ~30k videos.
3. Verification (precision before recall: a wrong merge gives one influencer another person's
   videos, a split only leaves one person under two ids). A cluster is accepted when every
   member is within ``identity_threshold`` of the cluster medoid AND every member's RMS
   distance to the other members is within ``identity_threshold``; a two-video cluster needs
   its two videos within ``pair_ratio`` x ``identity_threshold`` (one distance is weaker
   evidence than many). The
   medoid is the member with the smallest RMS distance to the others. The RMS condition stops
   a chain A - bridge - B whose medoid sits on the bridge, which the medoid condition alone
   accepts. A cluster that fails is split by average-linkage agglomerative clustering (scipy)
   cut at ``identity_threshold`` (beyond ``max_exact_size`` members, where that tree costs
   O(m^2) memory, by HDBSCAN on the cluster without the epsilon merge: excess-of-mass clusters
   first, leaf clusters for a part still that large) and every part is verified again; a part
   that cannot be split loses its failing members one by one. Parts of one video become
   singletons.
4. Keys: ``cluster_key`` is the smallest member ``video_id`` (deterministic, order-free);
   ``cluster_label`` numbers the multi-video clusters 0.. in ``cluster_key`` order and is -1
   for every singleton; ``hdbscan_label`` is the candidate label from step 2 (-1 = noise) and
   ``singleton_reason`` says why a video is alone (``hdbscan_noise`` or ``split_off``).

Thresholds and their evidence: see :class:`ClusterConfig`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import hdbscan
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse import csgraph
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

OUTPUT_COLUMNS = (
    "video_id",
    "cluster_label",
    "membership_probability",
    "is_singleton",
    "cluster_key",
    "cluster_size",
    "hdbscan_label",
    "medoid_distance",
    "singleton_reason",
)
ALGORITHMS = (
    "best",
    "generic",
    "prims_kdtree",
    "prims_balltree",
    "boruvka_kdtree",
    "boruvka_balltree",
)
SELF_DISTANCE = 1e-12  # stored on the graph's diagonal: "distance zero" that sparse storage keeps
ROOT_PEEL_LIMIT = 100  # outliers peeled off the whole input when testing "one person only"
CHUNK_ROWS = 256  # rows per block when searching the nearest point outside a component


class ClusteringInputError(ValueError):
    """Input the clustering refuses, with a machine-readable ``code``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ClusterConfig:
    """Clustering settings; the same at every input size.

    identity_threshold: 0.40 (dlib, L2-normalized). Measured on dlib descriptors of the 595
        photos of 146 people in ../shared/faces: same-person pairs 1/5/50/95/99th percentile
        .21/.25/.34/.48/.55, different people .43/.47/.57/.665/.70; at 0.40, 79% of
        same-person pairs and 0.17% of different-people pairs are within it (0.45: 91% /
        2.1%). Clustering those real photos with this module (faces found by the project's
        MTCNN detector, ``benchmarks/clustering.py --faces``): BCubed P/R 0.995/0.857 at 0.38,
        0.990/0.891 at 0.40, 0.986/0.905 at 0.42, 0.980/0.906 at 0.45. Facenet needs its own
        value.
    pair_ratio: 0.875: two-video clusters need distance <= pair_ratio x identity_threshold
        (0.35 at 0.40; 1.0 = no stricter rule); a ratio, so it follows the threshold set for
        another embedder. On the synthetic 1k sets (benchmarks/clustering.py, 3 seeds,
        t=0.40) it raises BCubed precision 0.972 -> 0.982 for recall 0.871 -> 0.866.
        Synthetic 1k, t=0.38/0.40/0.42/0.45: P/R 0.991/0.838, 0.982/0.866, 0.974/0.883,
        0.963/0.888.
    min_cluster_size / min_samples: HDBSCAN's; 2 / 1 so two-video people form a cluster.
    n_neighbors: neighbours per video in the sparse distance graph (graph="knn"); with 15 the
        partition equals graph="points" on 3k synthetic videos, with 5 it does not.
    graph: "knn" (sparse exact-kNN graph, scales to 100k) or "points" (HDBSCAN's own trees).
    pca_dims: optional PCA before HDBSCAN (None = full space; on the real photos PCA to 16
        dims cut recall 0.861 -> 0.768 and to 32 dims to 0.841, so the default keeps all).
    algorithm: HDBSCAN algorithm for graph="points".
    cluster_selection_method: HDBSCAN's "eom" or "leaf" (leaf over-splits people: final
        BCubed P/R 0.985/0.772 vs eom 0.982/0.866 on the synthetic 1k sets).
    cluster_selection_epsilon: HDBSCAN's; 0.3. With min_cluster_size 2, excess-of-mass picks tight
        sub-clusters of one person (e.g. the videos shot with each of three looks) as separate
        clusters; clusters closer than epsilon are merged back. Measured (BCubed P/R): demo videos
        1.0/0.72 at 0, 1.0/0.94 at 0.3, 1.0/1.0 at 0.4; real photos 0.990/0.891 at 0 and 0.3,
        0.964/0.914 at 0.4; synthetic 10k 0.968/0.804 at 0, 0.964/0.810 at 0.3, 0.925/0.838 at
        0.4. 0.3 is the largest value that costs no precision on the real photos.
    allow_single_cluster: HDBSCAN's; False (True: P/R 0.966/0.883 vs 0.982/0.866 at 1k).
    n_jobs: parallel jobs for the neighbour search.
    max_exact_size: clusters larger than this are split by HDBSCAN instead of an O(m^2)
        average-linkage tree: excess-of-mass without ``cluster_selection_epsilon`` (the epsilon
        merge is what chains the videos of many people into one candidate at 100k videos: one
        of 27,490 on the synthetic 100k set), then "leaf" for a part still that large. Measured
        on that candidate (benchmarks/identity_scale.py, 100k): 9 s, final BCubed P/R
        0.968/0.748; splitting it by "leaf" with epsilon 0.3 instead only peeled its noise off,
        one HDBSCAN run (~10 s) at a time (hours); "leaf" without epsilon: 12 s, P/R 0.970/0.607.
    """

    identity_threshold: float = 0.40
    pair_ratio: float = 0.875
    min_cluster_size: int = 2
    min_samples: int = 1
    n_neighbors: int = 15
    graph: str = "knn"
    pca_dims: int | None = None
    algorithm: str = "best"
    cluster_selection_method: str = "eom"
    cluster_selection_epsilon: float = 0.3
    allow_single_cluster: bool = False
    n_jobs: int = 2
    max_exact_size: int = 4000

    def __post_init__(self) -> None:
        """Reject settings that cannot work, with the setting's name in the message."""
        if not 0 < self.identity_threshold <= 2:
            raise ValueError(f"identity_threshold must be in (0, 2], got {self.identity_threshold}")
        if not 0 < self.pair_ratio <= 1:
            raise ValueError(f"pair_ratio must be in (0, 1], got {self.pair_ratio}")
        if self.min_cluster_size < 2 or self.min_samples < 1:
            raise ValueError("min_cluster_size must be >= 2 and min_samples >= 1")
        if self.n_neighbors < max(2, self.min_samples):
            raise ValueError("n_neighbors must be >= 2 and >= min_samples")
        if self.graph not in ("knn", "points"):
            raise ValueError(f"graph must be 'knn' or 'points', got {self.graph!r}")
        if self.pca_dims is not None and self.pca_dims < 2:
            raise ValueError(f"pca_dims must be >= 2 or None, got {self.pca_dims}")
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {self.algorithm!r}")
        if self.cluster_selection_method not in ("eom", "leaf"):
            raise ValueError("cluster_selection_method must be 'eom' or 'leaf'")
        if self.max_exact_size < 2:
            raise ValueError("max_exact_size must be >= 2")

    def limit(self, size: int) -> float:
        """The distance limit of the identity rule for a group of ``size`` videos."""
        ratio = self.pair_ratio if size == 2 else 1.0
        return self.identity_threshold * ratio


def check_single_embedder(
    embedders: Sequence[object], versions: Sequence[object]
) -> tuple[str, str]:
    """The single (embedder, embedder_version) of the input; ValueError for several or none."""
    spaces = sorted({(str(e), str(v)) for e, v in zip(embedders, versions, strict=True)})
    if len(spaces) > 1:
        raise ClusteringInputError(
            "mixed_embedders",
            f"embeddings come from {len(spaces)} embedder spaces {spaces}; distances between "
            "spaces are meaningless, so cluster one (embedder, embedder_version) at a time",
        )
    if not spaces:
        raise ClusteringInputError("no_embedder", "no embedder/embedder_version given")
    return spaces[0]


def _validated(video_ids: Sequence[object], embeddings: object) -> tuple[np.ndarray, np.ndarray]:
    """(ids as str array, float64 L2-normalized matrix), both in sorted-id order."""
    ids = np.asarray([str(v) for v in video_ids], dtype=object)
    if any(v.strip() == "" for v in ids):
        raise ClusteringInputError("blank_video_id", "a video_id is empty")
    unique, counts = np.unique(ids, return_counts=True) if len(ids) else (ids, ids)
    if len(unique) != len(ids):
        raise ClusteringInputError(
            "duplicate_video_id", f"video_id(s) repeated: {list(unique[counts > 1][:5])}"
        )
    x = np.asarray(embeddings, dtype=np.float64)
    if len(ids) == 0 and x.size == 0:
        return ids, x.reshape(0, 0)
    if x.ndim != 2 or x.shape[0] != len(ids):
        raise ClusteringInputError(
            "bad_shape",
            f"embeddings must be a 2-D array with one row per video ({len(ids)}), got {x.shape}",
        )
    if not np.isfinite(x).all():
        bad = ids[~np.isfinite(x).all(axis=1)]
        raise ClusteringInputError("non_finite", f"non-finite embedding for {list(bad[:5])}")
    norms = np.linalg.norm(x, axis=1)
    if (norms < 1e-8).any():
        raise ClusteringInputError(
            "zero_vector", f"zero embedding for {list(ids[norms < 1e-8][:5])}"
        )
    order = np.argsort(ids, kind="stable")
    return ids[order], x[order] / norms[order, None]


def _reduce(x: np.ndarray, config: ClusterConfig) -> np.ndarray:
    """PCA to ``pca_dims`` when that drops dimensions the points span; else ``x`` itself."""
    n, d = x.shape
    if config.pca_dims is None or d <= config.pca_dims or n <= config.pca_dims + 1:
        return x
    return PCA(n_components=config.pca_dims, svd_solver="covariance_eigh").fit_transform(x)


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


def knn_graph(x: np.ndarray, n_neighbors: int, n_jobs: int = 1) -> sparse.csr_matrix:
    """Symmetric sparse distance graph: exact k nearest neighbours + exact inter-component links.

    Components of the kNN graph are joined Borůvka-style: each round adds, for every component
    but the largest, its shortest link to any point outside it, until one component remains.
    The diagonal holds ``SELF_DISTANCE`` (each point is its own nearest neighbour).
    """
    n = len(x)
    k = min(n_neighbors, n - 1)
    search = NearestNeighbors(n_neighbors=k + 1, algorithm="brute", n_jobs=n_jobs)
    dist, ind = search.fit(x.astype(np.float32)).kneighbors(x.astype(np.float32))
    rows = np.repeat(np.arange(n), k + 1)
    values = np.maximum(dist.ravel().astype(np.float64), SELF_DISTANCE)
    graph = sparse.csr_matrix((values, (rows, ind.ravel())), shape=(n, n))
    graph = graph.maximum(graph.T).tolil()
    graph.setdiag(SELF_DISTANCE)
    graph = graph.tocsr()
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


def _hdbscan(x: np.ndarray, config: ClusterConfig, method: str) -> tuple[np.ndarray, np.ndarray]:
    """HDBSCAN labels (-1 = noise) and membership probabilities of the rows of ``x``.

    HDBSCAN never selects its root (the whole input) unless told to, so an input that is one
    person (plus outliers) comes back split or as noise. Two cheap checks undo that: when
    HDBSCAN finds no cluster at all it runs again with ``allow_single_cluster=True``; and for
    inputs up to ``max_exact_size`` videos, when the whole input minus some of the points that
    fall out of the root (farthest first) passes the identity rule, that group is the one
    candidate cluster (see ``_root_identity``).
    """
    n = len(x)
    if n < 3:  # HDBSCAN needs more points than neighbours: all noise (callers decide n <= 2)
        return np.full(n, -1, dtype=np.int64), np.zeros(n)
    points = _reduce(x, config)
    if config.graph == "knn":
        data = knn_graph(points, config.n_neighbors, config.n_jobs)
        options: dict[str, object] = {"metric": "precomputed"}
    else:
        data, options = points, {"metric": "euclidean", "algorithm": config.algorithm}
    for single in (config.allow_single_cluster, True):
        model = hdbscan.HDBSCAN(
            min_cluster_size=config.min_cluster_size,
            min_samples=min(config.min_samples, n - 1),
            cluster_selection_method=method,
            cluster_selection_epsilon=config.cluster_selection_epsilon,
            allow_single_cluster=single,
            **options,
        )
        labels = model.fit_predict(data).astype(np.int64)
        probabilities = np.asarray(model.probabilities_, dtype=np.float64)
        if (labels >= 0).any():
            break
    if n <= config.max_exact_size:
        group = _root_identity(x, model.condensed_tree_.to_numpy(), config)
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
        if _passes(x[keep], config):
            return keep
    return None


def _spread(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distance of every row to the medoid, RMS distance of every row to the other rows).

    For unit rows, sum_j |x_i - x_j|^2 = 2m - 2 x_i . sum_j x_j, so both need O(m d) only; the
    medoid is the row with the smallest RMS distance to the others (the row nearest the mean).
    """
    m = len(x)
    total = x.sum(axis=0)
    squared = np.maximum(2.0 * m - 2.0 * (x @ total), 0.0) / max(m - 1, 1)
    medoid = int(np.argmin(squared))
    return np.linalg.norm(x - x[medoid], axis=1), np.sqrt(squared)


def _passes(x: np.ndarray, config: ClusterConfig) -> bool:
    """True when the rows form one identity by the verification rule (module docstring)."""
    if len(x) < 2:
        return True
    limit = config.limit(len(x))
    to_medoid, rms = _spread(x)
    return bool(to_medoid.max() <= limit and rms.max() <= limit)


def _split_large(
    x: np.ndarray, group: np.ndarray, config: ClusterConfig, finest: bool
) -> np.ndarray:
    """Labels that split a group too large for average linkage (noise: a label per point).

    HDBSCAN on the group without the epsilon merge: excess-of-mass clusters, or leaf clusters
    (the finest HDBSCAN gives) when ``finest``.
    """
    exact = replace(config, cluster_selection_epsilon=0.0)
    sub, _ = _hdbscan(x[group], exact, "leaf" if finest else "eom")
    return np.where(sub >= 0, sub, -1 - np.arange(len(sub)))


def _verified_parts(
    x: np.ndarray, members: np.ndarray, config: ClusterConfig
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split ``members`` until every part passes the identity rule (module docstring).

    Returns (member indices, distance to the part's medoid) per part.
    """
    pending = [(members, False)]  # (group, split it into HDBSCAN's finest clusters when large)
    done: list[tuple[np.ndarray, np.ndarray]] = []
    while pending:
        group, finest = pending.pop()
        if len(group) == 1:
            done.append((group, np.zeros(1)))
            continue
        limit = config.limit(len(group))
        to_medoid, rms = _spread(x[group])
        failing = (to_medoid > limit) | (rms > limit)
        if not failing.any():
            done.append((group, to_medoid))
            continue
        large = len(group) > config.max_exact_size
        if not large:
            tree = linkage(x[group], method="average", metric="euclidean")
            labels = fcluster(tree, t=config.identity_threshold, criterion="distance")
        else:
            labels = _split_large(x, group, config, finest)
        parts = [group[labels == lab] for lab in np.unique(labels)]
        if len(parts) == 1:  # linkage keeps them together: peel the failing members off
            if failing.all():
                failing[np.argmin(rms)] = False
            parts = [group[~failing]] + [group[[i]] for i in np.flatnonzero(failing)]
        # a part of a large group that is still too large is split more finely next time, so
        # every split of a large group makes progress
        pending.extend((part, large and len(part) > config.max_exact_size) for part in parts)
    return done


def verify_clusters(
    embeddings: np.ndarray, labels: np.ndarray, config: ClusterConfig | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Split candidate clusters until every part passes the identity rule (module docstring).

    ``embeddings`` are L2-normalized rows, ``labels`` candidate cluster labels (-1 = noise,
    left as singletons). Returns (part index per row, distance to the part's medoid); parts
    are numbered in the order of their smallest row index, whatever the label values.
    """
    config = config or ClusterConfig()
    x = np.asarray(embeddings, dtype=np.float64)
    labels = np.asarray(labels)
    first = np.full(len(x), -1, dtype=np.int64)
    medoid_distance = np.zeros(len(x))
    for label in np.unique(labels[labels >= 0]):
        for members, dist in _verified_parts(x, np.flatnonzero(labels == label), config):
            first[members] = members.min()
            medoid_distance[members] = dist
    noise = first < 0
    first[noise] = np.flatnonzero(noise)
    _, part = np.unique(first, return_inverse=True)
    return part.astype(np.int64), medoid_distance


def _empty() -> pd.DataFrame:
    """The output frame with no rows and the right dtypes."""
    return pd.DataFrame(
        {
            "video_id": pd.Series(dtype=object),
            "cluster_label": pd.Series(dtype="int64"),
            "membership_probability": pd.Series(dtype="float64"),
            "is_singleton": pd.Series(dtype=bool),
            "cluster_key": pd.Series(dtype=object),
            "cluster_size": pd.Series(dtype="int64"),
            "hdbscan_label": pd.Series(dtype="int64"),
            "medoid_distance": pd.Series(dtype="float64"),
            "singleton_reason": pd.Series(dtype=object),
        }
    )


def cluster_identities(
    video_ids: Sequence[object], embeddings: object, config: ClusterConfig | None = None
) -> pd.DataFrame:
    """One row per video (sorted by video_id) with its final identity cluster.

    Columns: see ``OUTPUT_COLUMNS``; rules in the module docstring. ``attrs["timings_s"]``
    holds the seconds spent in HDBSCAN and in verification, ``attrs["n_hdbscan_clusters"]``
    the number of HDBSCAN clusters before verification.
    """
    config = config or ClusterConfig()
    ids, x = _validated(video_ids, embeddings)
    n = len(ids)
    if n == 0:
        return _empty()
    clock = time.perf_counter()
    if n <= 2:  # too few points for HDBSCAN: two videos are one person iff close enough
        limit = config.limit(2)
        close = n == 2 and np.linalg.norm(x[0] - x[-1]) <= limit
        raw = np.zeros(n, dtype=np.int64) if close else np.full(n, -1, dtype=np.int64)
        prob = np.ones(n) if close else np.zeros(n)
    else:
        raw, prob = _hdbscan(x, config, config.cluster_selection_method)
    hdbscan_seconds = time.perf_counter() - clock
    part, medoid_distance = verify_clusters(x, raw, config)
    sizes = np.bincount(part)
    _, first_row = np.unique(part, return_index=True)
    keys = ids[first_row]  # ids are sorted: a part's first row holds its smallest id
    multi = sorted(k for k, size in zip(keys, sizes, strict=True) if size > 1)
    label_of_key = {k: i for i, k in enumerate(multi)}
    size = sizes[part]
    reason = np.where(size > 1, None, np.where(raw < 0, "hdbscan_noise", "split_off"))
    out = pd.DataFrame(
        {
            "video_id": ids,
            "cluster_label": np.array(
                [label_of_key.get(keys[p], -1) for p in part], dtype=np.int64
            ),
            "membership_probability": prob,
            "is_singleton": size == 1,
            "cluster_key": keys[part],
            "cluster_size": size.astype(np.int64),
            "hdbscan_label": raw,
            "medoid_distance": medoid_distance,
            "singleton_reason": reason.astype(object),
        }
    )
    out.attrs["timings_s"] = {
        "hdbscan": round(hdbscan_seconds, 3),
        "verify": round(time.perf_counter() - clock - hdbscan_seconds, 3),
    }
    out.attrs["n_hdbscan_clusters"] = len(np.unique(raw[raw >= 0]))
    return out


def cluster_video_faces(
    video_faces: pd.DataFrame, config: ClusterConfig | None = None
) -> pd.DataFrame:
    """Cluster a ``video_faces``-like table (video_id, embedding, embedder, embedder_version).

    Rows without an embedding (faceless videos) must be removed by the caller; a missing
    embedding here is an error, never silently dropped.
    """
    missing = [
        c for c in ("video_id", "embedding", "embedder", "embedder_version") if c not in video_faces
    ]
    if missing:
        raise ClusteringInputError("missing_columns", f"video_faces lacks column(s) {missing}")
    if len(video_faces) == 0:
        return _empty()
    check_single_embedder(list(video_faces["embedder"]), list(video_faces["embedder_version"]))
    absent = [
        str(v)
        for v, e in zip(video_faces["video_id"], video_faces["embedding"], strict=True)
        if e is None or (isinstance(e, float) and math.isnan(e))
    ]
    if absent:
        raise ClusteringInputError(
            "missing_embedding", f"{len(absent)} video(s) have no embedding, e.g. {absent[:5]}"
        )
    dims = {len(e) for e in video_faces["embedding"]}
    if len(dims) != 1:
        raise ClusteringInputError(
            "mixed_dims", f"embeddings have different lengths {sorted(dims)}"
        )
    matrix = np.stack([np.asarray(e, dtype=np.float64) for e in video_faces["embedding"]])
    return cluster_identities(list(video_faces["video_id"]), matrix, config)
