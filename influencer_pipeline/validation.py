"""Data-quality rules that span one or several tables; each returns the list of problems found."""

from __future__ import annotations

import numpy as np
import pandas as pd

NORM_TOLERANCE = 1e-3


def _examples(values: pd.Series, limit: int = 5) -> str:
    return ", ".join(str(v) for v in values.head(limit))


def catalog_problems(catalog: pd.DataFrame) -> list[str]:
    """One row per video id, and every score finite."""
    problems = []
    duplicated = catalog["video_id"][catalog["video_id"].duplicated()]
    if len(duplicated):
        problems.append(f"{len(duplicated)} duplicate video_id(s): {_examples(duplicated)}")
    url_dupes = catalog["video_url"][catalog["video_url"].duplicated()]
    if len(url_dupes):
        problems.append(f"{len(url_dupes)} duplicate video_url(s): {_examples(url_dupes)}")
    performance = pd.to_numeric(catalog["performance"], errors="coerce")
    bad = catalog["video_id"][~np.isfinite(performance.to_numpy(float))]
    if len(bad):
        problems.append(f"{len(bad)} non-finite performance value(s): {_examples(bad)}")
    bad_scores = catalog["video_id"][
        [not np.isfinite(np.asarray(s, dtype=float)).all() for s in catalog["scores"]]
    ]
    if len(bad_scores):
        problems.append(
            f"{len(bad_scores)} video(s) with a non-finite score: {_examples(bad_scores)}"
        )
    return problems


def embedding_problems(faces: pd.DataFrame) -> list[str]:
    """Every embedding unit-norm and free of NaN, all from one embedder of one dimension."""
    embedded = faces[faces["embedding"].notna()]
    problems = []
    if embedded.empty:
        return problems
    pairs = embedded[["embedder", "embedder_version"]].drop_duplicates()
    if len(pairs) > 1:
        problems.append(
            f"{len(pairs)} embedders in one table: "
            f"{sorted(pairs['embedder'] + ' ' + pairs['embedder_version'])}"
        )
    dims = embedded["embedding"].map(len)
    if dims.nunique() > 1:
        problems.append(f"embeddings of different lengths: {sorted(dims.unique())}")
        return problems
    matrix = np.stack(embedded["embedding"].map(lambda e: np.asarray(e, dtype=float)).to_list())
    nan_rows = ~np.isfinite(matrix).all(axis=1)
    if nan_rows.any():
        problems.append(f"{int(nan_rows.sum())} embedding(s) with NaN or inf values")
    norms = np.linalg.norm(np.nan_to_num(matrix), axis=1)
    off = np.abs(norms - 1.0) > NORM_TOLERANCE
    if off.any():
        problems.append(
            f"{int(off.sum())} embedding(s) not unit-norm (norms "
            f"{norms[off].min():.4f}..{norms[off].max():.4f})"
        )
    return problems


def cluster_problems(
    catalog: pd.DataFrame,
    duplicates: pd.DataFrame,
    video_faces: pd.DataFrame,
    clusters: pd.DataFrame,
) -> list[str]:
    """Every original (canonical) catalog video with a dominant face has exactly one influencer."""
    canonical = set(duplicates.loc[duplicates["is_canonical"], "video_id"])
    with_face = set(video_faces.loc[video_faces["has_dominant_face"], "video_id"])
    expected = canonical & with_face & set(catalog["video_id"])
    assigned = clusters["video_id"]
    problems = []
    missing = sorted(expected - set(assigned))
    if missing:
        problems.append(f"{len(missing)} face video(s) without an influencer: {missing[:5]}")
    repeated = assigned[assigned.duplicated()]
    if len(repeated):
        problems.append(f"{len(repeated)} video(s) in several clusters: {_examples(repeated)}")
    if clusters["influencer_id"].isna().any():
        problems.append("clusters without influencer_id")
    return problems


def ranking_problems(
    ranked: pd.DataFrame, videos: pd.DataFrame, catalog: pd.DataFrame
) -> list[str]:
    """Every assigned influencer ranked exactly once, ranks 1..n, and counts that add up."""
    problems = []
    if ranked["influencer_id"].duplicated().any():
        problems.append("an influencer is ranked more than once")
    if sorted(ranked["rank"]) != list(range(1, len(ranked) + 1)):
        problems.append("ranks are not 1..n without gaps")
    if len(videos) != len(catalog) or set(videos["video_id"]) != set(catalog["video_id"]):
        problems.append(f"video_influencers has {len(videos)} videos, the catalog {len(catalog)}")
    ranked_videos = videos[(videos["status"] == "ok") & ~videos["excluded"]]
    expected = set(ranked_videos["influencer_id"])
    if set(ranked["influencer_id"]) != expected:
        missing = sorted(expected - set(ranked["influencer_id"]))
        extra = sorted(set(ranked["influencer_id"]) - expected)
        problems.append(
            f"ranked influencers differ from assigned ones: missing {missing[:5]}, "
            f"unexpected {extra[:5]}"
        )
    listed = sorted(v for ids in ranked["video_ids"] for v in ids)
    if listed != sorted(ranked_videos["video_id"]):
        problems.append(
            f"the ranking lists {len(listed)} videos; {len(ranked_videos)} are ranked "
            "(ok and not excluded)"
        )
    return problems
