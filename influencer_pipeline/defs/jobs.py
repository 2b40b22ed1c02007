"""Asset jobs: the catalog, the per-video stages over a partition range, the cross-video stages."""

from __future__ import annotations

import dagster as dg

# The per-video jobs take the `videos` partitions of the assets they select.
CATALOG_ASSETS = dg.AssetSelection.assets("video_catalog", "rejected_rows")
MEDIA_ASSETS = dg.AssetSelection.assets("video_files", "video_frames")
FACE_ASSETS = dg.AssetSelection.assets("face_embeddings", "video_faces")
PER_VIDEO_ASSETS = MEDIA_ASSETS | FACE_ASSETS | dg.AssetSelection.assets("outro_fingerprints")
CROSS_VIDEO_ASSETS = dg.AssetSelection.all() - CATALOG_ASSETS - PER_VIDEO_ASSETS

catalog_job = dg.define_asset_job(
    "catalog_job",
    selection=CATALOG_ASSETS,
    description="Read the sheets; register video partitions.",
)
per_video_job = dg.define_asset_job(
    "per_video_job",
    selection=PER_VIDEO_ASSETS,
    description="Fetch, decode and analyse the videos of one partition range.",
)
faces_job = dg.define_asset_job(
    "faces_job",
    selection=FACE_ASSETS,
    description="Re-detect and re-embed faces of a partition range (e.g. after changing embedder).",
)
cross_video_job = dg.define_asset_job(
    "cross_video_job",
    selection=CROSS_VIDEO_ASSETS,
    description="Re-upload groups, identities, outro groups and the ranking over all videos.",
)

JOBS = [catalog_job, per_video_job, faces_job, cross_video_job]
