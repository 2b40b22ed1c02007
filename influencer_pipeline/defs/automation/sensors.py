"""The two sensors that run the pipeline by themselves while the Dagster daemon runs.

* ``inbox_sensor``: when the inbox's sheets change (the cursor keeps every sheet's SHA-256), one
  ``catalog_job`` run registers them; the catalog is the union of every registered sheet
  (``catalog.sources``), so a new sheet adds videos and never removes the others.
* ``pipeline_sensor``: after each new catalog (from the inbox, the CLI or the launchpad) it asks
  the planner (``planning``) which videos need work and requests ``per_video_job`` / ``faces_job``
  runs over contiguous partition ranges; when no run is active and an input of the cross-video
  assets is newer than they are, it requests exactly one ``cross_video_job`` run (re-upload groups
  through the leaderboard). Manual backfills from the UI are picked up the same way.

Both skip while another process (``influencer-pipeline run``) holds the lake (``lake_lock``).
Run keys make a retried tick launch nothing twice.
"""

import json

import dagster as dg

from influencer_pipeline import lake as lake_files
from influencer_pipeline.catalog.inbox import (
    InboxState,
    diff_inbox,
    inbox_digest,
    inbox_dir,
    scan_inbox,
    unusable_sheets,
)
from influencer_pipeline.defs.automation import state
from influencer_pipeline.defs.jobs import (
    BATCH_TAG,
    SOURCE_TAG,
    batch_tags,
    catalog_job,
    cross_video_job,
    faces_job,
    per_video_job,
    resources_config,
)
from influencer_pipeline.defs.partitions import MAX_PARTITIONS_PER_RUN
from influencer_pipeline.defs.resources import FaceModels, LakeResource
from influencer_pipeline.display import show
from influencer_pipeline.faces.embedder_choice import expected_version
from influencer_pipeline.lake_lock import exclusive_holder
from influencer_pipeline.planning import cross_video_due, plan_videos, run_batches

SENSOR_SOURCE = "sensor"
# Dagster's run retries (enabled in deploy/*.yaml): a run whose worker crashed is retried once
RETRY_TAGS = {"dagster/max_retries": "1"}


@dg.sensor(
    name="inbox_sensor",
    job=catalog_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Watches the inbox of sheets (<lake>/inbox/ or $INFLUENCER_INBOX): a new or "
    "changed sheet is registered by one catalog run, which adds its videos to the catalog.",
)
def inbox_sensor(context: dg.SensorEvaluationContext, lake: LakeResource) -> dg.SensorResult:
    """Hand new or changed inbox sheets to one catalog run."""
    inbox = InboxState.from_cursor(context.cursor)
    folder = inbox_dir(lake.path())
    current, fresh = scan_inbox(folder)
    waiting = f"; waiting for {', '.join(fresh)} to settle" if fresh else ""
    change = diff_inbox(inbox.sheets, current)
    if not change.any or not (change.added or change.changed):
        return dg.SensorResult(
            skip_reason=show(f"no new or changed sheet in {folder}{waiting}", 2000),
            cursor=InboxState(current, inbox.generation).to_cursor(),
        )
    holder = exclusive_holder(lake.path())
    if holder:
        return dg.SensorResult(skip_reason=f"the lake is being written by {holder}; later")
    bad = unusable_sheets(folder, [*change.added, *change.changed])
    usable = sorted(name for name in current if name not in bad)
    remembered = InboxState(current, inbox.generation + 1)
    for problem in bad.values():
        context.log.warning(f"unusable sheet in the inbox: {show(problem)}")
    if not set(usable) & {*change.added, *change.changed}:
        return dg.SensorResult(
            skip_reason=show("unusable sheet, nothing requested: " + "; ".join(bad.values()), 2000),
            cursor=remembered.to_cursor(),
        )
    context.log.info(show(f"{change.describe()}: registering {', '.join(usable)}"))
    request = dg.RunRequest(
        job_name=catalog_job.name,
        run_key=f"inbox-{remembered.generation}-{inbox_digest(current)[:16]}",
        run_config={
            "ops": {"video_catalog": {"config": {"sheets": [str(folder / n) for n in usable]}}}
        },
        tags={SOURCE_TAG: "inbox_sensor", **RETRY_TAGS},
    )
    return dg.SensorResult(run_requests=[request], cursor=remembered.to_cursor())


def _cursor(raw: str | None) -> dict[str, int | None]:
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        data = {}
    return {
        "planned_catalog": data.get("planned_catalog"),
        "cross_requested": data.get("cross_requested"),
    }


def _catalog_ids(lake: LakeResource) -> list[str]:
    try:
        return list(
            lake_files.read_parquet(f"{lake.path()}/video_catalog.parquet", ["video_id"])[
                "video_id"
            ]
        )
    except FileNotFoundError:
        return []


@dg.sensor(
    name="pipeline_sensor",
    jobs=[per_video_job, faces_job, cross_video_job],
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="After a new catalog, runs the per-video stages for the videos that need them; "
    "once every run has finished, rebuilds the cross-video assets and the leaderboard once.",
)
def pipeline_sensor(
    context: dg.SensorEvaluationContext, lake: LakeResource, face_models: FaceModels
) -> dg.SensorResult:
    """Plan per-video runs after each new catalog; one cross-video rebuild after they land."""
    cursor = _cursor(context.cursor)
    holder = exclusive_holder(lake.path())
    if holder:
        return dg.SensorResult(skip_reason=f"the lake is being written by {holder}; later")
    instance = context.instance
    runs = state.active_runs(instance)
    catalog_id = state.latest_catalog_id(instance)
    if catalog_id is not None and catalog_id != cursor["planned_catalog"]:
        if any(run.job_name == catalog_job.name for run in runs):
            return dg.SensorResult(skip_reason="waiting for the catalog run to finish")
        video_ids = _catalog_ids(lake)
        ordered = state.ordered_videos(instance)
        choice = face_models.choose(lake.path())
        plan = plan_videos(
            video_ids,
            state.video_states(instance, lake.path(), video_ids),
            embedder=choice.name,
            embedder_version=expected_version(choice.name),
            in_progress=state.videos_in_runs(runs, ordered),
        )
        batches = run_batches(plan, ordered, MAX_PARTITIONS_PER_RUN)
        context.log.info(f"catalog {catalog_id}: {plan.describe()}; embedder {choice.describe()}")
        cursor["planned_catalog"] = catalog_id
        if batches:
            batch_id = f"catalog-{catalog_id}"
            requests = [
                dg.RunRequest(
                    job_name=batch.job_name,
                    run_key=f"{batch_id}-{batch.key}",
                    run_config=resources_config(choice.name),
                    tags={**batch_tags(batch, SENSOR_SOURCE, batch_id), **RETRY_TAGS},
                )
                for batch in batches
            ]
            return dg.SensorResult(run_requests=requests, cursor=json.dumps(cursor))
    decision = cross_video_due(
        latest_input=state.latest_input_id(instance),
        oldest_output=state.oldest_output_id(instance),
        last_requested=cursor["cross_requested"],
        active_runs=len(runs),
    )
    if not decision.due:
        return dg.SensorResult(skip_reason=decision.reason, cursor=json.dumps(cursor))
    cursor["cross_requested"] = decision.watermark
    request = dg.RunRequest(
        job_name=cross_video_job.name,
        run_key=f"cross-{decision.watermark}",
        run_config=resources_config(face_models.choose(lake.path()).name),
        tags={SOURCE_TAG: SENSOR_SOURCE, BATCH_TAG: f"cross-{decision.watermark}", **RETRY_TAGS},
    )
    return dg.SensorResult(run_requests=[request], cursor=json.dumps(cursor))
