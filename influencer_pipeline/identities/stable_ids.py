"""Stable influencer ids: match this materialization's clusters to the previous one.

Rules of :func:`assign_stable_ids` (``clusters``: video_id, cluster_key; ``previous``:
video_id, influencer_id of the last materialization, or None):

1. Overlap: for every (new cluster, previous id) pair, count the cluster's videos that had that
   id before. Pairs are taken greedily, one-to-one, in the order: larger overlap first, then the
   larger cluster, then the smaller previous id, then the smaller cluster_key. So a cluster
   inherits the id most of its previously-known videos had, unless a cluster with a bigger claim
   on that id took it first.
2. Split: when a previous influencer's videos now lie in several clusters, the part with the most
   of them keeps the id; the others get new ids with ``id_source = "split_from:<id>"``.
3. Merge: a cluster that inherited one id but also holds videos of other previous ids reports
   them: ``id_source = "merged:<other ids, comma-joined, sorted>"`` (the kept id is the one with
   more videos in the cluster).
4. Centroids (optional): a cluster with no previously-known video may inherit an id that no
   cluster claimed (its videos left the catalog) when its centroid lies within
   ``centroid_threshold`` of that id's previous centroid; nearest pairs first, one-to-one.
   ``id_source = "previous_centroid"``.
5. New: every other cluster gets ``prefix + sha256(",".join(sorted member video_ids))[:10]``
   (``id_source = "new"``), so the same input always gives the same ids. Collisions with any id
   in use now or in ``previous`` are resolved by hashing again with a counter suffix
   (``"...|1"``, ``"...|2"``), in cluster_key order.

Clusters that inherited an id with nothing else mixed in get ``id_source = "previous"``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np
import pandas as pd

from influencer_pipeline.cells import is_missing
from influencer_pipeline.errors import InputError

ID_HEX = 10


class StableIdInputError(InputError):
    """Input the id assignment refuses, with a machine-readable ``code``."""


def new_influencer_id(prefix: str, video_ids: list[str], attempt: int = 0) -> str:
    """``prefix`` + first 10 hex of sha256 of the sorted ids joined by commas (+ ``|attempt``)."""
    text = ",".join(sorted(video_ids))
    if attempt:
        text += f"|{attempt}"
    return prefix + hashlib.sha256(text.encode("utf-8")).hexdigest()[:ID_HEX]


def previous_by_canonical(
    previous: pd.DataFrame | None, duplicate_groups: pd.DataFrame
) -> pd.DataFrame | None:
    """``previous`` re-keyed to each video's current canonical video (one row per canonical).

    ``duplicate_groups``: video_id, canonical_video_id of this materialization.

    Clusters hold only canonical videos, and a new re-upload can become the canonical of a group
    whose old canonical carried the id: without this the group would get a new id. Where several
    members carried ids, the most frequent wins; ties go to the id of the canonical video itself,
    then to the smallest id.
    """
    if previous is None or previous.empty:
        return previous
    canonical_of = dict(
        zip(duplicate_groups["video_id"], duplicate_groups["canonical_video_id"], strict=True)
    )
    rows = previous[["video_id", "influencer_id"]].astype(str)
    rows = rows.assign(canonical=[canonical_of.get(v, v) for v in rows["video_id"]])
    rows["is_self"] = rows["video_id"] == rows["canonical"]
    votes = (
        rows.groupby(["canonical", "influencer_id"])
        .agg(n=("video_id", "size"), is_self=("is_self", "any"))
        .reset_index()
        .sort_values(
            ["canonical", "n", "is_self", "influencer_id"], ascending=[True, False, False, True]
        )
        .drop_duplicates("canonical")
    )
    return pd.DataFrame(
        {"video_id": votes["canonical"].tolist(), "influencer_id": votes["influencer_id"].tolist()}
    )


def centroids_by_label(
    labels: Mapping[str, str], embeddings: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Normalized mean embedding per label over the videos that have an embedding."""
    grouped: dict[str, list[np.ndarray]] = {}
    for video_id, label in labels.items():
        if video_id in embeddings:
            grouped.setdefault(label, []).append(np.asarray(embeddings[video_id], dtype=float))
    result = {}
    for label, vectors in grouped.items():
        mean = np.mean(vectors, axis=0)
        norm = np.linalg.norm(mean)
        if norm > 0:
            result[label] = mean / norm
    return result


def _check(df: pd.DataFrame, columns: tuple[str, str], what: str) -> pd.DataFrame:
    """Columns present, no missing values, video_id unique; values as str."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise StableIdInputError(
            "missing_columns", f"{what} lacks column(s) {missing}; it has {list(df.columns)}"
        )
    out = df[list(columns)].copy()
    for col in columns:
        blank = [i for i, v in enumerate(out[col]) if is_missing(v) or str(v).strip() == ""]
        if blank:
            raise StableIdInputError(
                "missing_value",
                f"{what} has {len(blank)} row(s) without {col}, e.g. row {blank[0]}",
            )
        out[col] = out[col].astype(str)
    dupes = out["video_id"].duplicated()
    if dupes.any():
        raise StableIdInputError(
            "duplicate_video_id",
            f"{what} lists video_id {out.loc[dupes, 'video_id'].iloc[0]!r} more than once",
        )
    return out


def assign_stable_ids(
    clusters: pd.DataFrame,
    previous: pd.DataFrame | None,
    prefix: str,
    *,
    centroids: Mapping[str, np.ndarray] | None = None,
    previous_centroids: Mapping[str, np.ndarray] | None = None,
    centroid_threshold: float = 0.4,
) -> pd.DataFrame:
    """(video_id, influencer_id, id_source) per row of ``clusters``; rules in the module docstring.

    ``centroids`` maps cluster_key -> normalized centroid, ``previous_centroids`` maps previous
    influencer_id -> normalized centroid; both are needed for rule 4 and ignored otherwise.
    """
    if not prefix or not isinstance(prefix, str):
        raise StableIdInputError("bad_prefix", f"prefix must be a non-empty string, got {prefix!r}")
    now = _check(clusters, ("video_id", "cluster_key"), "clusters")
    if now.empty:
        return pd.DataFrame(
            {c: pd.Series(dtype=object) for c in ("video_id", "influencer_id", "id_source")}
        )
    before = (
        _check(previous, ("video_id", "influencer_id"), "previous")
        if previous is not None
        else pd.DataFrame({"video_id": [], "influencer_id": []}, dtype=object)
    )
    members = now.groupby("cluster_key")["video_id"].apply(sorted).to_dict()
    known = now.merge(before, on="video_id", how="inner")
    overlap = known.groupby(["cluster_key", "influencer_id"]).size().rename("n").reset_index()
    overlap["size"] = overlap["cluster_key"].map(lambda k: len(members[k]))
    overlap = overlap.sort_values(
        ["n", "size", "influencer_id", "cluster_key"], ascending=[False, False, True, True]
    )
    assigned: dict[str, str] = {}  # cluster_key -> influencer_id
    taken: set[str] = set()
    for key, old_id in zip(overlap["cluster_key"], overlap["influencer_id"], strict=True):
        if key not in assigned and old_id not in taken:
            assigned[key] = old_id
            taken.add(old_id)
    source: dict[str, str] = {}
    old_ids_of = known.groupby("cluster_key")["influencer_id"].apply(lambda s: sorted(set(s)))
    for key, kept in assigned.items():
        others = [i for i in old_ids_of[key] if i != kept]
        source[key] = "merged:" + ",".join(others) if others else "previous"
    for key in sorted(set(old_ids_of.index) - set(assigned)):
        counts = overlap[overlap["cluster_key"] == key]  # already sorted: largest overlap first
        source[key] = "split_from:" + str(counts["influencer_id"].iloc[0])
    if centroids is not None and previous_centroids is not None:
        _match_centroids(
            [k for k in sorted(members) if k not in source],
            sorted(set(before["influencer_id"]) - taken),
            centroids=centroids,
            previous_centroids=previous_centroids,
            threshold=centroid_threshold,
            assigned=assigned,
            source=source,
        )
    in_use = set(before["influencer_id"]) | set(assigned.values())
    for key in sorted(members):
        if key in assigned:
            continue
        attempt = 0
        while (candidate := new_influencer_id(prefix, members[key], attempt)) in in_use:
            attempt += 1
        assigned[key] = candidate
        in_use.add(candidate)
        source.setdefault(key, "new")
    return pd.DataFrame(
        {
            "video_id": list(now["video_id"]),
            "influencer_id": [assigned[k] for k in now["cluster_key"]],
            "id_source": [source[k] for k in now["cluster_key"]],
        }
    )


def _match_centroids(
    keys: list[str],
    free_ids: list[str],
    *,
    centroids: Mapping[str, np.ndarray],
    previous_centroids: Mapping[str, np.ndarray],
    threshold: float,
    assigned: dict[str, str],
    source: dict[str, str],
) -> None:
    """Rule 4: nearest (cluster, unclaimed previous id) pairs within ``threshold``, one-to-one."""
    keys = [k for k in keys if k in centroids]
    free_ids = [i for i in free_ids if i in previous_centroids]
    if not keys or not free_ids:
        return
    a = np.stack([np.asarray(centroids[k], dtype=float) for k in keys])
    b = np.stack([np.asarray(previous_centroids[i], dtype=float) for i in free_ids])
    dist = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)
    rows, cols = np.nonzero(dist <= threshold)
    order = sorted(zip(dist[rows, cols], rows, cols, strict=True), key=lambda t: (t[0], t[1], t[2]))
    used_keys: set[int] = set()
    used_ids: set[int] = set()
    for _, r, c in order:
        if r in used_keys or c in used_ids:
            continue
        used_keys.add(r)
        used_ids.add(c)
        assigned[keys[r]] = free_ids[c]
        source[keys[r]] = "previous_centroid"
