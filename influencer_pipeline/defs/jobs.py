"""Asset jobs: the catalog, the per-video stages over a partition range, the cross-video stages."""

from __future__ import annotations

from typing import Any

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from influencer_pipeline.defs.media import checks as media_checks
from influencer_pipeline.planning import FACE_ASSETS, PER_VIDEO_ASSETS, RunBatch

CATALOG_ASSET_NAMES = ("video_catalog", "rejected_rows", "sheet_sources")
CROSS_VIDEO_ASSET_NAMES = (
    "duplicate_groups",
    "identity_clusters",
    "outro_groups",
    "video_influencers",
    "influencer_aliases",
    "ranked_influencers",
    "leaderboard",
)
CATALOG_ASSETS = dg.AssetSelection.assets(*CATALOG_ASSET_NAMES)
# The partition checks are evaluated by the stages themselves (one result per video, see
# defs/media/checks.py); as steps of their own they only run on one partition, from the UI.
PARTITION_CHECKS = dg.AssetSelection.checks(*media_checks.PARTITION_CHECKS)
PER_VIDEO_ASSETS_SELECTION = dg.AssetSelection.assets(*PER_VIDEO_ASSETS) - PARTITION_CHECKS
FACE_ASSETS_SELECTION = dg.AssetSelection.assets(*FACE_ASSETS)
CROSS_VIDEO_ASSETS = dg.AssetSelection.assets(*CROSS_VIDEO_ASSET_NAMES)

SOURCE_TAG = "influencer_pipeline/source"
BATCH_TAG = "influencer_pipeline/batch"

catalog_job = dg.define_asset_job(
    "catalog_job",
    selection=CATALOG_ASSETS,
    description="Register the given sheets and rebuild the catalog from every registered sheet.",
)
per_video_job = dg.define_asset_job(
    "per_video_job",
    selection=PER_VIDEO_ASSETS_SELECTION,
    description="Fetch, decode and analyse the videos of one partition range.",
)
faces_job = dg.define_asset_job(
    "faces_job",
    selection=FACE_ASSETS_SELECTION,
    description="Re-detect and re-embed faces of a partition range (e.g. after changing embedder).",
)
cross_video_job = dg.define_asset_job(
    "cross_video_job",
    selection=CROSS_VIDEO_ASSETS,
    description="Re-upload groups, identities, outro groups, the ranking and the leaderboard.",
)

leaderboard_job = dg.define_asset_job(
    "leaderboard_job",
    selection=dg.AssetSelection.assets("leaderboard"),
    description="Write the leaderboard files again from the current ranking.",
)

JOBS = [catalog_job, per_video_job, faces_job, cross_video_job, leaderboard_job]


def resources_config(embedder: str | None = None, **fetcher: Any) -> dict[str, Any]:
    """Run config for the resources a planned run needs (the embedder the planner chose)."""
    resources: dict[str, Any] = {}
    if embedder:
        resources["face_models"] = {"config": {"embedder": embedder}}
    if fetcher:
        resources["fetcher"] = {"config": fetcher}
    return {"resources": resources} if resources else {}


def lake_config(root: str) -> dict[str, Any]:
    """Run config that points a run's lake resource and its IO manager at the lake ``root``."""
    return {
        "resources": {
            "lake": {"config": {"root": root}},
            "io_manager": {"config": {"base_path": root}},
        }
    }


def batch_tags(batch: RunBatch, source: str, batch_id: str) -> dict[str, str]:
    """Tags of a per-video run: its partition range, who asked for it and its batch."""
    return {
        ASSET_PARTITION_RANGE_START_TAG: batch.start,
        ASSET_PARTITION_RANGE_END_TAG: batch.end,
        SOURCE_TAG: source,
        BATCH_TAG: batch_id,
    }
