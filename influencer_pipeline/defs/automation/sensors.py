"""The inbox sensor: new or changed sheets become ``videos`` partitions and runs for them only.

Each tick (every 30 s while the sensor is on):

1. If the inbox changed (a sheet added, changed or removed; the cursor keeps every sheet's
   SHA-256, so unchanged sheets are not read again), the sheets are read with the catalog code.
   New videos are registered as partitions (a ``SensorResult`` dynamic-partitions request) and
   one ``catalog_job`` run rebuilds ``video_catalog`` from every sheet in the inbox. A score change
   for a known URL needs nothing else: the catalog run updates the scores and the cross-video
   assets follow by declarative automation (``conditions.py``).
2. The per-video assets read each video's URL from ``video_catalog``, so the new videos' runs are
   requested on the first tick after a catalog newer than the change is in the lake: one
   ``per_video_job`` run per contiguous range of at most ``MAX_PARTITIONS_PER_RUN`` new
   partitions, and nothing for the videos that were already there.

Run keys make a retried tick launch nothing twice. An unusable sheet is reported as the tick's
skip reason and read again when its content changes.
"""

from dataclasses import replace

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from influencer_pipeline import lake as lake_files
from influencer_pipeline.catalog.inbox import (
    InboxState,
    diff_inbox,
    inbox_digest,
    inbox_dir,
    merge_pending,
    read_inbox_catalog,
    ready_videos,
    scan_inbox,
)
from influencer_pipeline.catalog.sheets import SheetError
from influencer_pipeline.defs.jobs import catalog_job, per_video_job
from influencer_pipeline.defs.partitions import MAX_PARTITIONS_PER_RUN, VIDEOS
from influencer_pipeline.defs.resources import LakeResource
from influencer_pipeline.run_pipeline import contiguous_ranges

SOURCE_TAG = "influencer_pipeline/source"
GENERATION_TAG = "influencer_pipeline/inbox_generation"
SENSOR_SOURCE = "inbox_sensor"
# Dagster's run retries (enabled in deploy/*.yaml): a run whose worker crashed is retried once
RETRY_TAGS = {"dagster/max_retries": "1"}
CATALOG_KEY = dg.AssetKey("video_catalog")
FIRST_PER_VIDEO_KEY = dg.AssetKey("video_files")


def latest_catalog_storage_id(instance: dg.DagsterInstance) -> int | None:
    """The event-log storage id of the latest ``video_catalog`` materialization, if any."""
    records = instance.fetch_materializations(CATALOG_KEY, limit=1).records
    return records[0].storage_id if records else None


def per_video_run_requests(
    ordered_partitions: list[str], video_ids: list[str], generation: int
) -> list[dg.RunRequest]:
    """One ``per_video_job`` run per contiguous range of at most MAX_PARTITIONS_PER_RUN videos."""
    return [
        dg.RunRequest(
            job_name=per_video_job.name,
            run_key=f"inbox-videos-{generation}-{start}-{end}",
            tags={
                ASSET_PARTITION_RANGE_START_TAG: start,
                ASSET_PARTITION_RANGE_END_TAG: end,
                SOURCE_TAG: SENSOR_SOURCE,
                GENERATION_TAG: str(generation),
                **RETRY_TAGS,
            },
        )
        for start, end in contiguous_ranges(
            ordered_partitions, set(video_ids), MAX_PARTITIONS_PER_RUN
        )
    ]


def _catalog_ids(lake: LakeResource) -> set[str] | None:
    try:
        table = lake_files.read_parquet(f"{lake.path()}/video_catalog.parquet", ["video_id"])
    except FileNotFoundError:
        return None
    return set(table["video_id"])


def _release_pending(
    context: dg.SensorEvaluationContext, lake: LakeResource, state: InboxState
) -> tuple[InboxState, list[dg.RunRequest], str | None]:
    """Per-video runs for the pending videos once a newer catalog lists them."""
    latest = latest_catalog_storage_id(context.instance)
    newer = latest is not None and (state.catalog_after is None or latest > state.catalog_after)
    catalog_ids = _catalog_ids(lake) if newer else None
    if catalog_ids is None:
        return state, [], f"{len(state.pending)} new videos wait for the catalog run to finish"
    done = context.instance.get_materialized_partitions(FIRST_PER_VIDEO_KEY)
    ready, dropped = ready_videos(state.pending, catalog_ids, done)
    if dropped:
        context.log.warning(
            f"{len(dropped)} registered videos are no longer in any inbox sheet and are not "
            f"processed, e.g. {list(dropped[:3])}"
        )
    ordered = list(context.instance.get_dynamic_partitions(VIDEOS.name))
    requests = per_video_run_requests(ordered, list(ready), state.generation)
    return replace(state, pending=(), catalog_after=None), requests, None


@dg.sensor(
    name="inbox_sensor",
    jobs=[catalog_job, per_video_job],
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Watches the inbox of sheets (<lake>/inbox/ or $INFLUENCER_INBOX): new videos "
    "become `videos` partitions; the catalog is rebuilt and only the new partitions are "
    "processed.",
)
def inbox_sensor(context: dg.SensorEvaluationContext, lake: LakeResource) -> dg.SensorResult:
    """Register and process the new videos of new or changed inbox sheets."""
    state = InboxState.from_cursor(context.cursor)
    folder = inbox_dir(lake.path())
    current, fresh = scan_inbox(folder)
    run_requests: list[dg.RunRequest] = []
    partition_requests: list[dg.AddDynamicPartitionsRequest] = []
    notes = [f"waiting for {', '.join(fresh)} to settle"] if fresh else []

    if state.pending:
        state, released, note = _release_pending(context, lake, state)
        run_requests += released
        notes += [note] if note else []

    change = diff_inbox(state.sheets, current)
    if not change.any:
        notes.append(f"no change in {folder}")
    elif not current:
        state = replace(state, sheets={})
        notes.append(f"{change.describe()}; the inbox {folder} is empty, nothing to catalog")
    else:
        try:
            found = read_inbox_catalog(
                folder, current, context.instance.get_dynamic_partitions(VIDEOS.name)
            )
        except SheetError as exc:
            # remembered, so it is read again only when its content changes
            state = replace(state, sheets=current)
            context.log.warning(f"unusable sheet in the inbox: {exc}")
            notes.append(f"unusable sheet, nothing requested: {exc}")
        else:
            if found.catalog.empty:
                state = replace(state, sheets=current)
                notes.append(f"{change.describe()}: no usable row in the inbox sheets")
            else:
                generation = state.generation + 1
                if found.new_video_ids:
                    partition_requests.append(VIDEOS.build_add_request(list(found.new_video_ids)))
                pending = merge_pending(state.pending, found.new_video_ids)
                state = InboxState(
                    sheets=current,
                    generation=generation,
                    pending=pending,
                    catalog_after=(latest_catalog_storage_id(context.instance) or 0)
                    if pending
                    else None,
                )
                run_requests.append(
                    dg.RunRequest(
                        job_name=catalog_job.name,
                        run_key=f"inbox-catalog-{generation}-{inbox_digest(current)[:16]}",
                        run_config={
                            "ops": {
                                "video_catalog": {
                                    "config": {"sheets": [str(p) for p in found.sheets]}
                                }
                            }
                        },
                        tags={
                            SOURCE_TAG: SENSOR_SOURCE,
                            GENERATION_TAG: str(generation),
                            **RETRY_TAGS,
                        },
                    )
                )
                context.log.info(
                    f"{change.describe()}: {len(found.catalog)} videos, "
                    f"{len(found.new_video_ids)} new"
                )

    if run_requests or partition_requests:
        return dg.SensorResult(
            run_requests=run_requests,
            dynamic_partitions_requests=partition_requests,
            cursor=state.to_cursor(),
        )
    return dg.SensorResult(skip_reason="; ".join(notes), cursor=state.to_cursor())
