"""Media assets: each video's file and sampled frames, and the groups of re-uploaded videos."""

import dataclasses
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field

from influencer_pipeline.defs.media.checks import (
    DECODED,
    FETCHED,
    decoded_verdict,
    fetched_verdict,
    log_partition_checks,
)
from influencer_pipeline.defs.metadata import markdown_table
from influencer_pipeline.defs.partition_metadata import PartitionNotes
from influencer_pipeline.defs.partitions import PER_VIDEO_BACKFILL, PER_VIDEO_METADATA, VIDEOS
from influencer_pipeline.defs.per_video import process_videos, progress_logger
from influencer_pipeline.defs.resources import LakeResource, VideoFetcher
from influencer_pipeline.display import show
from influencer_pipeline.lake_schema import VIDEO_FILES, VIDEO_FRAMES
from influencer_pipeline.media.blobs import BlobStore
from influencer_pipeline.media.dedup import DedupConfig, find_duplicate_groups
from influencer_pipeline.media.dedup_prints import DEDUP_FRAME_COLUMNS, lake_frame_images
from influencer_pipeline.media.frame_workers import (
    MIN_VIDEOS_FOR_PROCESSES,
    FrameWorkers,
    use_processes,
)
from influencer_pipeline.media.frames import SamplingConfig
from influencer_pipeline.media.probe import DEFAULT_MAX_DURATION_S, DEFAULT_MAX_PIXELS
from influencer_pipeline.media.video_file import ProbeLimits, failed_row, fetch_video
from influencer_pipeline.parallel import map_isolated
from influencer_pipeline.preload import FACE_STACK, import_in_background

MEDIA = {"group_name": "media", "owners": ["team:data-platform"]}
FILE_COLUMNS = ["video_id", "status", "error", "local_path", "duration_s", "fps", "width", "height"]


class FilesConfig(dg.Config):
    """Limits applied while probing each video."""

    max_pixels: int = Field(DEFAULT_MAX_PIXELS, description="Refuse larger frames (bomb guard).")
    max_duration_s: float = Field(DEFAULT_MAX_DURATION_S, description="Refuse longer videos.")


@dg.asset(
    partitions_def=VIDEOS,
    backfill_policy=PER_VIDEO_BACKFILL,
    metadata=PER_VIDEO_METADATA,
    kinds={"python", "parquet"},
    ins={
        "video_catalog": dg.AssetIn(
            metadata={"columns": ["video_id", "video_url", "source_sheets"]}
        )
    },
    **MEDIA,
)
def video_files(
    context: dg.AssetExecutionContext,
    config: FilesConfig,
    video_catalog: pd.DataFrame,
    fetcher: VideoFetcher,
    lake: LakeResource,
):
    """One row per video: content hash, bytes, container, codec, duration, fps, size, status."""
    keys = list(context.partition_keys)
    catalog = video_catalog.set_index("video_id")
    sheet_dirs = sorted(
        {Path(s).parent for sheets in video_catalog["source_sheets"] for s in sheets}
    )
    policy = fetcher.policy(default_roots=sheet_dirs)
    store = BlobStore(lake.path())  # a local folder or an object store (s3://...)
    limits = ProbeLimits(max_pixels=config.max_pixels, max_duration_s=config.max_duration_s)

    def fetch(key: str) -> dict[str, Any]:
        if key not in catalog.index:
            return failed_row(
                key,
                "",
                "not_in_catalog",
                "this partition's video is no longer in the catalog (its sheet row was removed)",
            )
        return fetch_video(key, catalog.at[key, "video_url"], store, policy, limits)

    def crashed(key: str, exc: BaseException) -> dict[str, Any]:
        url = catalog.at[key, "video_url"] if key in catalog.index else ""
        return failed_row(key, url, "internal", f"unexpected {type(exc).__name__}: {exc}")

    rows = map_isolated(
        fetch, keys, crashed, fetcher.max_workers, progress_logger(context, len(keys), "fetched")
    )
    notes = PartitionNotes()
    for row in rows:
        notes.add(row["video_id"], _file_metadata(row))
    notes.attach(context)
    df = pd.DataFrame(rows, columns=VIDEO_FILES.names)
    failed = df[df["status"] == "failed"]
    errors = failed["error_code"].value_counts().to_dict()
    context.log.info(f"{len(df) - len(failed)} videos fetched, {len(failed)} failed {errors}")
    yield dg.Output(df)
    log_partition_checks(
        context, "video_files", FETCHED, [(r["video_id"], *fetched_verdict(r)) for r in rows]
    )


def _file_metadata(row: dict[str, Any]) -> dict[str, Any]:
    """This video's own facts for its partition's materialization (URL shown redacted)."""
    metadata: dict[str, Any] = {
        "url": show(row["video_url"]),
        "status": row["status"],
        "bytes": int(row["bytes"] or 0),
    }
    if row["status"] == "ok":
        metadata |= {
            "duration_s": round(float(row["duration_s"] or 0), 2),
            "size": f"{row['width']}x{row['height']}",
            "codec": show(row["video_codec"]),
        }
    else:
        metadata |= {"error_code": show(row["error_code"]), "error": show(row["error"])}
    return metadata


class FramesConfig(dg.Config):
    """How frames are sampled from each video (see SamplingConfig)."""

    body_fps: float = Field(default=SamplingConfig.body_fps, description="Body frames per second.")
    min_body_frames: int = Field(
        default=SamplingConfig.min_body_frames,
        description="Short videos are sampled more densely to get these.",
    )
    max_body_frames: int = Field(default=SamplingConfig.max_body_frames)
    outro_seconds: float = Field(
        default=SamplingConfig.outro_seconds, description="The outro is the last N seconds."
    )
    outro_fps: float = Field(default=SamplingConfig.outro_fps)
    max_side: int = Field(
        default=SamplingConfig.max_side,
        description="Downscale so the longest side is at most this.",
    )
    jpeg_quality: int = Field(default=SamplingConfig.jpeg_quality)
    max_workers: int = Field(
        default=2,
        description="Videos decoded concurrently: in as many worker processes when the step has "
        f"{MIN_VIDEOS_FOR_PROCESSES} videos or more, else in threads (media/frame_workers.py).",
    )

    def sampling(self) -> SamplingConfig:
        """The pure-logic sampling configuration."""
        names = {f.name for f in dataclasses.fields(SamplingConfig)}
        return SamplingConfig(**{k: v for k, v in self.model_dump().items() if k in names})


@dg.asset(
    partitions_def=VIDEOS,
    backfill_policy=PER_VIDEO_BACKFILL,
    metadata=PER_VIDEO_METADATA,
    kinds={"python", "parquet"},
    ins={"video_files": dg.AssetIn(metadata={"columns": FILE_COLUMNS})},
    **MEDIA,
)
def video_frames(
    context: dg.AssetExecutionContext, config: FramesConfig, video_files: pd.DataFrame
):
    """One row per sampled frame: timestamp, role (body or outro), JPEG image, perceptual hashes."""
    sampling = config.sampling()
    files = video_files.set_index("video_id")
    keys = [k for k in context.partition_keys if k in files.index]
    ok = [k for k in keys if files.at[k, "status"] == "ok"]
    notes = PartitionNotes()
    processes = use_processes(len(ok), config.max_workers)

    def extract(key: str) -> pd.DataFrame:
        got = workers.sample(key, str(files.at[key, "local_path"]))
        notes.add(
            key,
            {
                "frames": len(got.table),
                "frames_decoded": got.frames_decoded,
                "decode_seconds": round(got.decode_seconds, 3),
            },
        )
        return got.table

    if processes:
        context.log.info(f"sampling {len(ok)} videos in {config.max_workers} worker processes")
        import_in_background(FACE_STACK)  # this process waits meanwhile (see preload)
    with FrameWorkers(sampling, config.max_workers, processes) as workers:
        df = process_videos(
            context,
            ok,
            extract,
            VIDEO_FRAMES,
            label="decoded",
            max_workers=config.max_workers,
            notes=notes,
            cost=pd.to_numeric(files["duration_s"], errors="coerce").fillna(0.0).to_dict(),
        )
    context.log.info(
        f"{df['video_id'].nunique()} videos with frames, {len(keys) - len(ok)} skipped (their "
        f"file failed), {int(df['is_blank'].sum())} blank frames"
    )
    yield dg.Output(df)
    counts = df.groupby("video_id").size()
    verdicts = [(k, *decoded_verdict(files.at[k, "status"], int(counts.get(k, 0)))) for k in keys]
    log_partition_checks(context, "video_frames", DECODED, verdicts)


@dg.asset(
    kinds={"python", "parquet"},
    ins={
        "video_catalog": dg.AssetIn(metadata={"columns": ["video_id"]}),
        "video_files": dg.AssetIn(
            metadata={
                "columns": ["video_id", "status", "sha256", "width", "height", "duration_s"],
                "allow_missing_partitions": True,
            }
        ),
        "video_frames": dg.AssetIn(
            metadata={
                "columns": DEDUP_FRAME_COLUMNS,
                "allow_missing_partitions": True,
            }
        ),
    },
    **MEDIA,
)
def duplicate_groups(
    context: dg.AssetExecutionContext,
    video_catalog: pd.DataFrame,
    video_files: pd.DataFrame,
    video_frames: pd.DataFrame,
    lake: LakeResource,
) -> pd.DataFrame:
    """One row per fetched video: its re-upload group (a copy, or the same ad in any placement).

    Frame images are read from the lake only for the videos a candidate pair needs verified.
    """
    current = set(video_catalog["video_id"])
    config = DedupConfig()
    groups = find_duplicate_groups(
        video_files[video_files["video_id"].isin(current)],
        video_frames[video_frames["video_id"].isin(current)],
        config,
        images=lake_frame_images(lake.path()),
    )
    multi = groups[groups["group_size"] > 1]
    shown = ["video_id", "group_id", "match_type", "similarity", "scale", "offset_s", "evidence"]
    context.add_output_metadata(
        {
            "groups_with_reuploads": int(multi["group_id"].nunique()),
            "reuploads": int((~multi["is_canonical"]).sum()),
            "exact": int((multi["match_type"] == "exact").sum()),
            "near": int((multi["match_type"] == "near").sum()),
            "other_placement": int((multi["scale"].sub(1.0).abs() > 0.05).sum()),
            "thresholds": dg.MetadataValue.json(dataclasses.asdict(config)),
            "groups": dg.MetadataValue.md(
                markdown_table(multi.sort_values(["group_id", "is_canonical"])[shown], rows=30)
            ),
        }
    )
    return groups
