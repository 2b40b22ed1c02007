"""Verification of candidate identity clusters: precision before recall.

A wrong merge gives one influencer another person's videos; a split only leaves one person
under two ids. A cluster is accepted when every member is within the identity limit of the
cluster medoid AND every member's RMS distance to the other members is within it (see
``identities.clustering``); otherwise it is split (average linkage cut at the limit, or HDBSCAN
for very large groups) and every part is verified again. Distances are between mean vectors,
or, when the videos' bags of faces are given, over best-matching faces (``video_links``) for
groups of up to ``BAG_VERIFY_MAX`` videos.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

from influencer_pipeline.identities.candidates import hdbscan_labels
from influencer_pipeline.identities.cluster_config import ClusterConfig
from influencer_pipeline.identities.space import Space, make_space


def _split_large(
    x: np.ndarray, group: np.ndarray, config: ClusterConfig, finest: bool
) -> np.ndarray:
    """Labels that split a group too large for average linkage (noise: a label per point).

    HDBSCAN on the group without the epsilon merge: excess-of-mass clusters, or leaf clusters
    (the finest HDBSCAN gives) when ``finest``.
    """
    exact = replace(config, cluster_selection_epsilon=0.0)
    sub, _ = hdbscan_labels(x[group], exact, "leaf" if finest else "eom")
    return np.where(sub >= 0, sub, -1 - np.arange(len(sub)))


def _verified_parts(
    space: Space, members: np.ndarray, config: ClusterConfig
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split ``members`` until every part passes the identity rule (module docstring).

    Returns (member indices, distance to the part's medoid) per part.
    """
    x = space.x
    pending = [(members, False)]  # (group, split it into HDBSCAN's finest clusters when large)
    done: list[tuple[np.ndarray, np.ndarray]] = []
    while pending:
        group, finest = pending.pop()
        if len(group) == 1:
            done.append((group, np.zeros(1)))
            continue
        on_bags = space.on_bags(group)
        limit = config.limit(len(group), bags=on_bags)
        to_medoid, rms, matrix = space.spread(group)
        failing = (to_medoid > limit) | (rms > limit)
        if not failing.any():
            done.append((group, to_medoid))
            continue
        large = len(group) > config.max_exact_size
        if matrix is not None:
            tree = linkage(squareform(matrix, checks=False), method="average")
            labels = fcluster(tree, t=config.limit(3, bags=True), criterion="distance")
        elif not large:
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
    embeddings: np.ndarray,
    labels: np.ndarray,
    config: ClusterConfig | None = None,
    bags: Sequence[object] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Split candidate clusters until every part passes the identity rule (module docstring).

    ``embeddings`` are L2-normalized rows, ``labels`` candidate cluster labels (-1 = noise,
    left as singletons), ``bags`` optional faces per row (``video_links``: then groups of up
    to ``BAG_VERIFY_MAX`` are verified on bag distances against ``link_threshold``). Returns
    (part index per row, distance to the part's medoid); parts are numbered in the order of
    their smallest row index, whatever the label values.
    """
    config = config or ClusterConfig()
    x = np.asarray(embeddings, dtype=np.float64)
    space = make_space(x, bags)
    labels = np.asarray(labels)
    first = np.full(len(x), -1, dtype=np.int64)
    medoid_distance = np.zeros(len(x))
    for label in np.unique(labels[labels >= 0]):
        for members, dist in _verified_parts(space, np.flatnonzero(labels == label), config):
            first[members] = members.min()
            medoid_distance[members] = dist
    noise = first < 0
    first[noise] = np.flatnonzero(noise)
    _, part = np.unique(first, return_inverse=True)
    return part.astype(np.int64), medoid_distance
