"""Checks on the identities: every original face video belongs to exactly one influencer."""

import dagster as dg
import pandas as pd

from influencer_pipeline.defs.catalog.checks import check_result
from influencer_pipeline.validation import cluster_problems


@dg.asset_check(
    asset="identity_clusters",
    blocking=True,
    additional_ins={
        "video_catalog": dg.AssetIn(metadata={"columns": ["video_id"]}),
        "duplicate_groups": dg.AssetIn(metadata={"columns": ["video_id", "is_canonical"]}),
        "video_faces": dg.AssetIn(
            metadata={
                "columns": ["video_id", "has_dominant_face"],
                "allow_missing_partitions": True,
            }
        ),
    },
)
def every_face_video_has_one_influencer(
    identity_clusters: pd.DataFrame,
    video_catalog: pd.DataFrame,
    duplicate_groups: pd.DataFrame,
    video_faces: pd.DataFrame,
) -> dg.AssetCheckResult:
    """Every original catalog video with a dominant face is in exactly one cluster."""
    problems = cluster_problems(video_catalog, duplicate_groups, video_faces, identity_clusters)
    return check_result(problems, clustered=len(identity_clusters))
