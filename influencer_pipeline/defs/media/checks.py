"""Per-video checks: a video that could not be fetched or decoded is a failed check partition.

A per-video run covers up to 64 partitions in one step, and Dagster materializes every partition
of a successful step, so a failed video is recorded as a failed *partitioned asset check*: the
stage logs one evaluation per partition right after its output, and the check's partition view in
the UI lists the failed videos (filter on Failed). Run alone on one partition (the check's
"Execute" button), the same checks re-read that partition from the lake.
"""

from collections.abc import Iterable

import dagster as dg
import pandas as pd
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)

from influencer_pipeline import lake as lake_files
from influencer_pipeline.defs.partitions import VIDEOS
from influencer_pipeline.defs.resources import LakeResource
from influencer_pipeline.display import show

FETCHED = "fetched_and_probed"
DECODED = "frames_decoded"


def fetched_verdict(row: dict) -> tuple[bool, str]:
    """(passed, description) of one video_files row."""
    if row.get("status") == "ok":
        return True, "fetched and probed"
    return False, show(f"{row.get('error_code') or 'failed'}: {row.get('error') or ''}")


def decoded_verdict(status: str | None, frames: int) -> tuple[bool, str]:
    """(passed, description) for a video with ``frames`` decoded frames."""
    if status != "ok":
        return False, "not decoded: the video file could not be fetched (see video_files)"
    if frames == 0:
        return False, "no frame could be decoded from the video file"
    return True, f"{frames} frames"


def log_partition_checks(
    context: dg.AssetExecutionContext,
    asset: str,
    check_name: str,
    verdicts: Iterable[tuple[str, bool, str]],
) -> None:
    """Record one evaluation of ``asset``'s check ``check_name`` per (partition, passed, why).

    Call it after the stage's output: each evaluation names the partition's materialization it
    judged, so the UI counts it as the check's current status for that partition.
    """
    verdicts = list(verdicts)
    targets = _latest_materializations(context, asset, [v[0] for v in verdicts])
    for partition, passed, why in verdicts:
        context.log_event(
            dg.AssetCheckEvaluation(
                asset_key=dg.AssetKey(asset),
                check_name=check_name,
                passed=passed,
                partition=partition,
                description=why,
                metadata={"video_id": partition},
                target_materialization_data=targets.get(partition),
            )
        )


def _latest_materializations(
    context: dg.AssetExecutionContext, asset: str, partitions: list[str]
) -> dict[str, AssetCheckEvaluationTargetMaterializationData]:
    """partition -> its latest materialization of ``asset`` (just written by this step)."""
    if not partitions:
        return {}
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=partitions),
        limit=len(partitions) * 4,
    ).records
    latest: dict[str, AssetCheckEvaluationTargetMaterializationData] = {}
    for record in records:  # newest first
        partition = record.asset_materialization.partition
        if partition not in latest:
            latest[partition] = AssetCheckEvaluationTargetMaterializationData(
                storage_id=record.storage_id,
                run_id=record.event_log_entry.run_id,
                timestamp=record.timestamp,
            )
    return latest


def _partition(lake: LakeResource, asset: str, key: str) -> pd.DataFrame:
    return lake_files.read_parquet(f"{lake.path()}/{asset}/{key}.parquet")


@dg.asset_check(
    asset="video_files",
    name=FETCHED,
    partitions_def=VIDEOS,
    description="The video was fetched and probed (its error otherwise).",
)
def fetched_and_probed(
    context: dg.AssetCheckExecutionContext, lake: LakeResource
) -> dg.AssetCheckResult:
    """Re-evaluate one partition of video_files from the lake."""
    rows = _partition(lake, "video_files", context.partition_key).to_dict("records")
    passed, why = fetched_verdict(rows[0]) if rows else (False, "no row in the lake")
    return dg.AssetCheckResult(passed=passed, description=why)


@dg.asset_check(
    asset="video_frames",
    name=DECODED,
    partitions_def=VIDEOS,
    description="At least one frame was decoded from the video.",
)
def frames_decoded(
    context: dg.AssetCheckExecutionContext, lake: LakeResource
) -> dg.AssetCheckResult:
    """Re-evaluate one partition of video_frames from the lake."""
    key = context.partition_key
    files = _partition(lake, "video_files", key)
    status = str(files["status"].iloc[0]) if len(files) else None
    passed, why = decoded_verdict(status, len(_partition(lake, "video_frames", key)))
    return dg.AssetCheckResult(passed=passed, description=why)


PARTITION_CHECKS = [fetched_and_probed, frames_decoded]
