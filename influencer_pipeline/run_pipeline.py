"""Run the whole pipeline through Dagster from the command line, in the instance the UI reads.

The CLI does what a data engineer does in the UI, with the same definitions: materialize the
catalog (which registers the ``videos`` partitions), backfill the per-video assets over partition
ranges (at most ``MAX_PARTITIONS_PER_RUN`` videos per run, so one run's cost is amortized over many
videos), then materialize the cross-video assets once. Every run lands in ``DAGSTER_HOME``.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from influencer_pipeline import lake, recovery
from influencer_pipeline.defs.partitions import MAX_PARTITIONS_PER_RUN, VIDEOS
from influencer_pipeline.defs.resources import EMBEDDER_ENV, default_embedder
from influencer_pipeline.paths import LAKE_ENV, default_dagster_home, lake_root, project_dir

INVOCATION_TAG = "influencer_pipeline/invocation"
QUIET_LOGGERS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
EXECUTORS = ("multiprocess", "in_process")


class PipelineInputError(RuntimeError):
    """The input cannot be used (unreadable sheet, no usable rows): nothing to run."""


class PipelineRunError(RuntimeError):
    """A Dagster run of the pipeline failed."""


def execution_config(executor: str = "multiprocess", max_concurrent: int = 0) -> dict[str, Any]:
    """Run config that picks the jobs' executor (Dagster's default ``multi_or_in_process``).

    ``multiprocess`` runs each step in its own process, at most ``max_concurrent`` at once
    (0: one per CPU); ``in_process`` runs every step in the calling process.
    """
    if executor == "in_process":
        return {"execution": {"config": {"in_process": {}}}}
    if executor == "multiprocess":
        if max_concurrent < 0:
            raise ValueError(f"max_concurrent must be >= 0, got {max_concurrent}")
        return {"execution": {"config": {"multiprocess": {"max_concurrent": max_concurrent}}}}
    raise ValueError(f"unknown executor {executor!r}; choose one of: {', '.join(EXECUTORS)}")


@dataclass
class RunReport:
    """What one pipeline invocation did."""

    lake: str
    run_ids: list[str] = field(default_factory=list)
    videos: int = 0
    processed: int = 0
    seconds: float = 0.0


DEFAULT_INSTANCE_YAML = """\
# Dagster instance of this project (SQLite storage in this folder). The CLI and `dagster dev`
# share it, so runs started from either appear in the UI.
telemetry:
  enabled: false
"""
INSTANCE_TEMPLATE = "deploy/dagster.sqlite.yaml"


def default_instance_yaml() -> str:
    """The dagster.yaml a new DAGSTER_HOME gets: deploy/dagster.sqlite.yaml if present."""
    template = project_dir() / INSTANCE_TEMPLATE
    return template.read_text() if template.is_file() else DEFAULT_INSTANCE_YAML


def use_lake(lake_dir: str | None) -> str:
    """Make ``lake_dir`` (if given) the lake for this process and the runs it starts."""
    if lake_dir:
        os.environ[LAKE_ENV] = lake_dir if "://" in lake_dir else str(Path(lake_dir).resolve())
    return lake_root()


def configure_environment(lake_dir: str | None = None) -> dg.DagsterInstance:
    """Point the lake and the Dagster instance at their folders; return the instance."""
    use_lake(lake_dir)
    if not os.environ.get("DAGSTER_HOME"):
        os.environ["DAGSTER_HOME"] = str(default_dagster_home())
    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        (home / "dagster.yaml").write_text(default_instance_yaml())
    return dg.DagsterInstance.get()


def _job(name: str) -> dg.JobDefinition:
    from influencer_pipeline.definitions import defs

    return defs.resolve_job_def(name)


def catalog_job() -> dg.JobDefinition:
    """The catalog job (a module-level function so Dagster can rebuild it in worker processes)."""
    return _job("catalog_job")


def per_video_job() -> dg.JobDefinition:
    """The per-video job."""
    return _job("per_video_job")


def faces_job() -> dg.JobDefinition:
    """The job that recomputes only the face stages."""
    return _job("faces_job")


def cross_video_job() -> dg.JobDefinition:
    """The cross-video job."""
    return _job("cross_video_job")


def contiguous_ranges(
    ordered_keys: Sequence[str], wanted: set[str], max_len: int
) -> list[tuple[str, str]]:
    """Split ``wanted`` into ranges of consecutive ``ordered_keys`` of at most ``max_len`` keys.

    A Dagster run targets a partition *range*; keys between two wanted keys that are not wanted
    themselves must not be swept into a run, so ranges break at every unwanted key.
    """
    ranges: list[tuple[str, str]] = []
    current: list[str] = []
    for key in ordered_keys:
        if key in wanted and len(current) < max_len:
            current.append(key)
            continue
        if current:
            ranges.append((current[0], current[-1]))
        current = [key] if key in wanted else []
    if current:
        ranges.append((current[0], current[-1]))
    return ranges


class _Tail(threading.Thread):
    """Prints a run's step results and the ops' own progress messages while it executes."""

    def __init__(self, instance: dg.DagsterInstance, invocation: str, emit: Callable[[str], None]):
        super().__init__(daemon=True)
        self.instance, self.invocation, self.emit = instance, invocation, emit
        self.stop_event = threading.Event()

    def run(self) -> None:
        run_id, cursor = None, None
        while not self.stop_event.is_set() or run_id:
            if run_id is None:
                runs = self.instance.get_runs(
                    filters=dg.RunsFilter(tags={INVOCATION_TAG: self.invocation}), limit=1
                )
                run_id = runs[0].run_id if runs else None
            if run_id is not None:
                conn = self.instance.get_records_for_run(run_id, cursor=cursor, limit=500)
                for record in conn.records:
                    self._show(record.event_log_entry)
                cursor = conn.cursor
                if self.stop_event.is_set() and not conn.has_more:
                    return
            time.sleep(0.5)

    def _show(self, entry: Any) -> None:
        event = entry.dagster_event
        if event is None:
            if entry.level >= 20 and entry.user_message:  # INFO and above, from our ops
                self.emit(f"    {entry.step_key}: {entry.user_message}")
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            verdict = "passed" if data.passed else "FAILED"
            detail = "" if data.passed else f": {data.description or ''}"
            self.emit(f"    check {data.asset_check_key.to_user_string()}: {verdict}{detail}")
        elif event.event_type_value == "STEP_SUCCESS":
            self.emit(f"    {event.step_key}: done")
        elif event.event_type_value == "STEP_FAILURE":
            error = event.step_failure_data.error
            self.emit(f"    {event.step_key}: FAILED {error.message.strip() if error else ''}")


def _execute(
    job_fn: Callable[[], dg.JobDefinition],
    instance: dg.DagsterInstance,
    emit: Callable[[str], None],
    *,
    run_config: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
    execution: dict[str, Any] | None = None,
) -> dg.JobExecutionResult:
    invocation = uuid.uuid4().hex
    tail = _Tail(instance, invocation, emit)
    tail.start()
    try:
        result = dg.execute_job(
            dg.reconstructable(job_fn),
            instance=instance,
            run_config={**QUIET_LOGGERS, **(execution or {}), **(run_config or {})},
            tags={
                INVOCATION_TAG: invocation,
                "influencer_pipeline/source": "cli",
                **recovery.process_tags(),
                **(tags or {}),
            },
        )
    finally:
        tail.stop_event.set()
        tail.join(timeout=10)
    return result


def _failure_message(result: dg.JobExecutionResult) -> str:
    messages = []
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE" and event.step_failure_data.error:
            error = event.step_failure_data.error
            user = event.step_failure_data.user_failure_data
            text = user.description if user and user.description else error.message
            messages.append(f"{event.step_key}: {text.strip()}")
    return "; ".join(messages) or "the run failed (see the Dagster UI for details)"


@dataclass
class PendingWork:
    """Which videos need which per-video stages."""

    everything: set[str]  # never processed, fetch failed before, or forced
    faces_only: set[str]  # processed, but their faces were embedded with another embedder


PER_VIDEO_ASSETS = (
    "video_files",
    "video_frames",
    "face_embeddings",
    "video_faces",
    "outro_fingerprints",
)


def partition_files(lake_dir: str, asset: str) -> set[str]:
    """The partition keys that have a file in ``<lake>/<asset>/`` (one listing per asset)."""
    folder = lake.as_upath(lake_dir) / asset
    try:
        return {p.name[: -len(".parquet")] for p in folder.iterdir() if p.name.endswith(".parquet")}
    except FileNotFoundError:
        return set()


def _partition_value(lake_dir: str, asset: str, video_id: str, column: str) -> set[object] | None:
    try:
        return set(lake.read_parquet(f"{lake_dir}/{asset}/{video_id}.parquet", [column])[column])
    except FileNotFoundError:
        return None


def pending_work(
    instance: dg.DagsterInstance,
    video_ids: Sequence[str],
    lake_dir: str,
    embedder: str,
    force: bool,
) -> PendingWork:
    """Decide what to (re)compute: incremental by default, so a rerun only does new work.

    A partition counts as done only when the instance recorded its materialization AND its file
    is in the lake: a run killed between the two, or a lake emptied by hand, is redone.
    """
    wanted = set(video_ids)
    if force:
        return PendingWork(everything=wanted, faces_only=set())
    missing: set[str] = set()
    for asset in PER_VIDEO_ASSETS:
        recorded = set(instance.get_materialized_partitions(dg.AssetKey(asset)))
        missing |= wanted - (recorded & partition_files(lake_dir, asset))
    for video_id in wanted - missing:
        statuses = _partition_value(lake_dir, "video_files", video_id, "status")
        if statuses is None or statuses != {"ok"}:
            missing.add(video_id)
    faces_only = set()
    for video_id in wanted - missing:
        used = _partition_value(lake_dir, "video_faces", video_id, "embedder")
        if used is None or (used and used != {embedder}):
            faces_only.add(video_id)
    return PendingWork(everything=missing, faces_only=faces_only)


def recover_from_killed_runs(
    instance: dg.DagsterInstance, lake_dir: str, emit: Callable[[str], None] = print
) -> None:
    """Fail the runs a killed CLI process left unfinished; then, if no run is active, delete
    the temp files killed writers left in the lake."""
    orphaned = recovery.fail_orphaned_runs(instance)
    if orphaned:
        emit(f"marked {len(orphaned)} run(s) of a killed process as failed: {', '.join(orphaned)}")
    if recovery.active_runs(instance) == 0:
        removed = recovery.remove_leftovers(lake_dir)
        if removed:
            emit(f"removed {removed} temp file(s) left by a killed writer")


def run_pipeline(
    sheets: Sequence[Path],
    lake_dir: str | None = None,
    *,
    embedder: str | None = None,
    force: bool = False,
    videos_per_run: int = MAX_PARTITIONS_PER_RUN,
    emit: Callable[[str], None] = print,
    executor: str = "multiprocess",
    max_concurrent: int = 0,
) -> RunReport:
    """Materialize every asset for ``sheets`` through Dagster; raises PipelineInput/RunError.

    ``executor`` / ``max_concurrent`` choose the Dagster executor of the per-video runs (see
    ``execution_config``). The catalog and cross-video runs are light, one step after another,
    so they always run in process: a process per step would add ~5 s of imports per step and
    ~45 s per invocation on 2 cores (benchmarks/RESULTS.md).
    """
    started = time.monotonic()
    execution = execution_config(executor, max_concurrent)
    light = execution_config("in_process")
    if embedder:
        os.environ[EMBEDDER_ENV] = embedder
    instance = configure_environment(lake_dir)
    report = RunReport(lake=lake_root())
    emit(f"lake: {report.lake}   dagster home: {os.environ['DAGSTER_HOME']}")
    recover_from_killed_runs(instance, report.lake, emit)

    emit("[1/3] catalog: reading sheets")
    result = _execute(
        catalog_job,
        instance,
        emit,
        run_config={"ops": {"video_catalog": {"config": {"sheets": [str(s) for s in sheets]}}}},
        execution=light,
    )
    report.run_ids.append(result.run_id)
    if not result.success:
        raise PipelineInputError(_failure_message(result))
    catalog = lake.read_parquet(f"{report.lake}/video_catalog.parquet", ["video_id"])
    video_ids = list(catalog["video_id"])
    report.videos = len(video_ids)

    embedder = default_embedder()
    work = pending_work(instance, video_ids, report.lake, embedder, force)
    ordered = instance.get_dynamic_partitions(VIDEOS.name)
    batches = [
        (per_video_job, contiguous_ranges(ordered, work.everything, videos_per_run)),
        (faces_job, contiguous_ranges(ordered, work.faces_only, videos_per_run)),
    ]
    n_runs = sum(len(ranges) for _, ranges in batches)
    emit(
        f"[2/3] per-video stages: {len(work.everything)} of {len(video_ids)} videos to process"
        + (f", {len(work.faces_only)} to re-embed with {embedder}" if work.faces_only else "")
        + f" ({n_runs} run{'s' if n_runs != 1 else ''})"
    )
    index = 0
    for job_fn, ranges in batches:
        for start, end in ranges:
            index += 1
            emit(f"  run {index}/{n_runs} ({job_fn.__name__}): partitions {start} .. {end}")
            result = _execute(
                job_fn,
                instance,
                emit,
                tags={ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end},
                execution=execution,
            )
            report.run_ids.append(result.run_id)
            if not result.success:
                raise PipelineRunError(_failure_message(result))
    report.processed = len(work.everything) + len(work.faces_only)

    emit("[3/3] cross-video stages")
    result = _execute(cross_video_job, instance, emit, execution=light)
    report.run_ids.append(result.run_id)
    if not result.success:
        raise PipelineRunError(_failure_message(result))
    report.seconds = time.monotonic() - started
    return report
