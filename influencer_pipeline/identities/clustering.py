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
   video's ``n_neighbors`` exact nearest neighbours (``identities.neighbours``, BLAS) plus the
   exact shortest links between the graph's connected components (Borůvka rounds), so the
   graph is connected and its minimum spanning tree is the exact one whenever every MST edge
   joins k-nearest neighbours (measured: identical partitions to HDBSCAN on the full point set,
   see benchmarks/clustering.py; HDBSCAN on that graph: ``identities.graph_hdbscan``). The
   diagonal holds a tiny distance so that ``min_samples`` means what it means for points (the
   point itself counts). HDBSCAN never returns the whole
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
4. Merge (``identities.merging``, ``merge_verified``): verification only splits, and
   excess-of-mass selection can leave one person in tight clusters (videos made from several
   photos) further apart than the epsilon merge. A verified cluster joins its nearest cluster
   (shortest kNN-graph link) when that is the only cluster within the limit (``merge_margin``)
   and their union passes the same identity rule, shortest link first; a grown cluster is
   judged whole again, so a merge is never looser than what verification accepts and a chain
   stops where the whole fails.
5. Keys: ``cluster_key`` is the smallest member ``video_id`` (deterministic, order-free);
   ``cluster_label`` numbers the multi-video clusters 0.. in ``cluster_key`` order and is -1
   for every singleton; ``hdbscan_label`` is the candidate label from step 2 (-1 = noise) and
   ``singleton_reason`` says why a video is alone (``hdbscan_noise`` or ``split_off``).

Thresholds and their evidence: see :class:`ClusterConfig`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from influencer_pipeline.errors import InputError
from influencer_pipeline.identities.candidates import hdbscan_labels
from influencer_pipeline.identities.cluster_config import ALGORITHMS, ClusterConfig
from influencer_pipeline.identities.graph import knn_graph
from influencer_pipeline.identities.merging import merge_clusters
from influencer_pipeline.identities.space import make_space
from influencer_pipeline.identities.verification import verify_clusters
from influencer_pipeline.identities.video_links import bag_distances

__all__ = [
    "ALGORITHMS",
    "ClusterConfig",
    "cluster_identities",
    "cluster_video_faces",
    "knn_graph",
    "verify_clusters",
]

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


class ClusteringInputError(InputError):
    """Input the clustering refuses, with a machine-readable ``code``."""


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


def _validated(
    video_ids: Sequence[object], embeddings: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids as str array, float64 L2-normalized matrix, the sorting order), in sorted-id order."""
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
        return ids, x.reshape(0, 0), np.zeros(0, dtype=np.int64)
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
    return ids[order], x[order] / norms[order, None], order


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
    video_ids: Sequence[object],
    embeddings: object,
    config: ClusterConfig | None = None,
    bags: Sequence[object] | None = None,
) -> pd.DataFrame:
    """One row per video (sorted by video_id) with its final identity cluster.

    Columns: see ``OUTPUT_COLUMNS``; rules in the module docstring. ``attrs["timings_s"]``
    holds the seconds spent in HDBSCAN and in verification, ``attrs["n_hdbscan_clusters"]``
    the number of HDBSCAN clusters before verification.
    """
    config = config or ClusterConfig()
    ids, x, order = _validated(video_ids, embeddings)
    n = len(ids)
    if n == 0:
        return _empty()
    ordered = None if bags is None else [bags[int(i)] for i in order]
    space = make_space(x, ordered)
    clock = time.perf_counter()
    if n <= 2:  # too few points for HDBSCAN: two videos are one person iff close enough
        limit = config.limit(2, bags=space.bags is not None)
        if space.bags is not None and n == 2:
            gap = float(bag_distances(space.bags, space.mask, [0], [1])[0])
        else:
            gap = float(np.linalg.norm(x[0] - x[-1]))
        close = n == 2 and gap <= limit
        raw = np.zeros(n, dtype=np.int64) if close else np.full(n, -1, dtype=np.int64)
        prob = np.ones(n) if close else np.zeros(n)
        graph = None
    else:
        graph = knn_graph(x, config.n_neighbors, config.n_jobs)
        raw, prob = hdbscan_labels(x, config, config.cluster_selection_method, space, graph)
    hdbscan_seconds = time.perf_counter() - clock
    part, medoid_distance = verify_clusters(x, raw, config, ordered)
    merged: list[np.ndarray] = []
    if graph is not None and config.merge_verified:
        part, merged = merge_clusters(space, part, graph, config)
        for members in merged:
            medoid_distance[members] = space.spread(members)[0]
        _, part = np.unique(part, return_inverse=True)
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
    out.attrs["n_merged_clusters"] = len(merged)
    return out


def cluster_video_faces(
    video_faces: pd.DataFrame, config: ClusterConfig | None = None, *, use_bags: bool = True
) -> pd.DataFrame:
    """Cluster a ``video_faces``-like table (video_id, embedding, embedder, embedder_version).

    With ``use_bags`` and a ``track_embeddings`` column, videos are compared over their
    best-matching faces (``video_links``; a row without faces falls back to its mean vector).
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
    bags = None
    if use_bags and "track_embeddings" in video_faces.columns:
        bags = list(video_faces["track_embeddings"])
    return cluster_identities(list(video_faces["video_id"]), matrix, config, bags)
