"""Run the whole pipeline through Dagster from the command line, in the instance the UI reads.

The CLI does what the sensors do while the daemon runs, with the same definitions and the same
planner (``planning``): register the sheets and rebuild the catalog, run the per-video stages for
the videos that need them (contiguous partition ranges of at most ``CLI_VIDEOS_PER_RUN``), then
rebuild the cross-video assets and the leaderboard once. It holds the lake exclusively while it
runs (``lake_lock``), so it never interleaves with another writer. Every run lands in
``DAGSTER_HOME`` and gets its lake as run config (``defs.jobs.lake_config``); the CLI leaves the
process environment as it found it.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from influencer_pipeline import lake, lake_lock, recovery
from influencer_pipeline.defs.automation import state
from influencer_pipeline.defs.executors import EXECUTOR_ENV
from influencer_pipeline.defs.instance_storage import event_log_dir
from influencer_pipeline.defs.jobs import batch_tags, lake_config, resources_config
from influencer_pipeline.defs.resources import FaceModels, loaded_models
from influencer_pipeline.display import show
from influencer_pipeline.faces.embedder_choice import EmbedderChoice, expected_version
from influencer_pipeline.memory import release_free_memory
from influencer_pipeline.paths import dagster_home, lake_root, project_dir
from influencer_pipeline.planning import CLI_VIDEOS_PER_RUN, VideoPlan, plan_videos, run_batches

INVOCATION_TAG = "influencer_pipeline/invocation"
EXECUTORS = ("default", "in_process", "multiprocess")
# "default": the code location's executor (defs/executors.py): in process on one machine (the
# fastest measured, benchmarks/RESULTS.md), Celery or Kubernetes where $INFLUENCER_EXECUTOR says.
DEFAULT_EXECUTOR = "default"


class PipelineInputError(RuntimeError):
    """The input cannot be used (unreadable sheet, no usable rows, embedder missing)."""


class PipelineRunError(RuntimeError):
    """A Dagster run of the pipeline failed."""


def execution_config(executor: str = DEFAULT_EXECUTOR, max_concurrent: int = 0) -> dict[str, Any]:
    """Run config that picks the executor of a run (see ``EXECUTORS``).

    ``default`` leaves the code location's choice; ``in_process`` runs every step in the calling
    process; ``multiprocess`` runs each step in its own process, at most ``max_concurrent`` at once
    (0: one per CPU).
    """
    if executor == "default":
        return {}
    if executor == "in_process":
        return {"execution": {"config": {"in_process": {}}}}
    if executor == "multiprocess":
        if max_concurrent < 0:
            raise ValueError(f"max_concurrent must be >= 0, got {max_concurrent}")
        return {"execution": {"config": {"multiprocess": {"max_concurrent": max_concurrent}}}}
    raise ValueError(f"unknown executor {executor!r}; choose one of: {', '.join(EXECUTORS)}")


def light_execution() -> dict[str, Any]:
    """The executor of the light catalog and cross-video runs: in process, unless the location
    runs every step as its own Kubernetes Job (which has no in-process mode)."""
    kind = os.environ.get(EXECUTOR_ENV, "").strip().lower()
    return {} if kind == "k8s" else execution_config("in_process")


@dataclass
class RunReport:
    """What one pipeline invocation did."""

    lake: str
    run_ids: list[str] = field(default_factory=list)
    videos: int = 0
    processed: int = 0
    seconds: float = 0.0
    embedder: str = ""
    plan: str = ""
    models: list[str] = field(default_factory=list)


EVENT_LOG_CLASS_LINE = "  class: PooledSqliteEventLogStorage\n"
DEFAULT_INSTANCE_YAML = f"""\
# Dagster instance of this project (SQLite storage in this folder). The CLI and `dagster dev`
# share it, so runs started from either appear in the UI.
telemetry:
  enabled: false

# Dagster's SQLite event log with its connections kept open (defs/instance_storage.py).
event_log_storage:
  module: influencer_pipeline.defs.instance_storage
{EVENT_LOG_CLASS_LINE}"""
INSTANCE_TEMPLATE = "deploy/dagster.sqlite.yaml"


def default_instance_yaml(home: Path | None = None) -> str:
    """The dagster.yaml a new DAGSTER_HOME gets: deploy/dagster.sqlite.yaml if present; with
    ``home``, its event log's folder written in (else the storage reads ``$DAGSTER_HOME``)."""
    template = project_dir() / INSTANCE_TEMPLATE
    text = template.read_text() if template.is_file() else DEFAULT_INSTANCE_YAML
    if home is None or EVENT_LOG_CLASS_LINE not in text:
        return text
    base_dir = json.dumps(event_log_dir(home))  # a JSON string is a YAML scalar
    config = f"  config:\n    base_dir: {base_dir}\n"
    return text.replace(EVENT_LOG_CLASS_LINE, EVENT_LOG_CLASS_LINE + config, 1)


def prepare_dagster_home() -> Path:
    """``paths.dagster_home()``, created with ``default_instance_yaml`` when new."""
    home = dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        (home / "dagster.yaml").write_text(default_instance_yaml(home))
    return home


def open_instance() -> dg.DagsterInstance:
    """The Dagster instance of ``prepare_dagster_home()``; the process environment is left as
    it is."""
    return dg.DagsterInstance.from_config(str(prepare_dagster_home()))


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
    """The cross-video job (through the leaderboard)."""
    return _job("cross_video_job")


def leaderboard_job() -> dg.JobDefinition:
    """The job that writes the leaderboard files again."""
    return _job("leaderboard_job")


JOB_FUNCTIONS = {
    "catalog_job": catalog_job,
    "per_video_job": per_video_job,
    "faces_job": faces_job,
    "cross_video_job": cross_video_job,
    "leaderboard_job": leaderboard_job,
}


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
            if self.stop_event.is_set() and run_id is None:
                return
            self.stop_event.wait(0.5)  # woken at once when the run ends

    def _show(self, entry: Any) -> None:
        event = entry.dagster_event
        if event is None:
            if entry.level >= 20 and entry.user_message:  # INFO and above, from our ops
                self.emit(f"    {entry.step_key}: {show(entry.user_message, 400)}")
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            if data.partition is not None:
                return  # per-video verdicts: the summary counts them
            verdict = "passed" if data.passed else "FAILED"
            detail = "" if data.passed else f": {show(data.description or '', 400)}"
            self.emit(f"    check {data.asset_check_key.to_user_string()}: {verdict}{detail}")
        elif event.event_type_value == "STEP_SUCCESS":
            self.emit(f"    {event.step_key}: done")
        elif event.event_type_value == "STEP_FAILURE":
            self.emit(f"    {event.step_key}: FAILED {show(_step_error(event), 400)}")


def _step_error(event: Any) -> str:
    """What a failed step says: its Failure description, else the exception that ended it."""
    user = event.step_failure_data.user_failure_data
    if user and user.description:
        return user.description.strip()
    error = event.step_failure_data.error
    if error is None:
        return "failed"
    cause = error.cause or error  # Dagster wraps the user's exception; show the exception
    return cause.message.strip()


def _failure_message(result: dg.JobExecutionResult) -> str:
    messages = [
        f"{event.step_key}: {show(_step_error(event), 600)}"
        for event in result.all_events
        if event.event_type_value == "STEP_FAILURE"
    ]
    return "; ".join(messages) or "the run failed"


@dataclass
class _Runner:
    """Executes the jobs of one invocation in the instance, quietly, with progress lines."""

    instance: dg.DagsterInstance
    emit: Callable[[str], None]
    resources: dict[str, Any]  # run config of the resources, the lake's included
    execution: dict[str, Any]
    verbose: bool = False
    run_ids: list[str] = field(default_factory=list)

    def execute(
        self,
        job_name: str,
        *,
        ops: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
        light: bool = False,
        error: type[Exception] = PipelineRunError,
    ) -> None:
        """Run one job to its end; raise ``error`` with the failed steps' messages."""
        invocation = uuid.uuid4().hex
        level = "INFO" if self.verbose else "CRITICAL"
        run_config: dict[str, Any] = {
            "loggers": {"console": {"config": {"log_level": level}}},
            **(light_execution() if light else self.execution),
            **self.resources,
        }
        if ops:
            run_config["ops"] = ops
        tail = _Tail(self.instance, invocation, self.emit)
        tail.start()
        try:
            result = dg.execute_job(
                dg.reconstructable(JOB_FUNCTIONS[job_name]),
                instance=self.instance,
                run_config=run_config,
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
            if not light:  # a light run (catalog, cross-video) leaves little to give back
                release_free_memory()  # the next run starts from a small heap
        self.run_ids.append(result.run_id)
        if not result.success:
            hint = "" if self.verbose else " (details: rerun with --verbose, or open the run"
            hint += f" {result.run_id} in the Dagster UI)" if hint else ""
            raise error(_failure_message(result) + hint)


def recover_from_killed_runs(
    instance: dg.DagsterInstance, lake_dir: str, emit: Callable[[str], None] = print
) -> None:
    """Fail the runs a killed CLI process left unfinished and delete the temp files of killed
    writers (call it holding the lake exclusively: no live writer can own a temp file then)."""
    orphaned = recovery.fail_orphaned_runs(instance)
    if orphaned:
        emit(f"marked {len(orphaned)} run(s) of a killed process as failed: {', '.join(orphaned)}")
    removed = recovery.remove_leftovers(lake_dir)
    if removed:
        emit(f"removed {removed} temp file(s) left by a killed writer")


def plan_for_lake(
    instance: dg.DagsterInstance, lake_dir: str, embedder: str, force: bool
) -> tuple[list[str], VideoPlan]:
    """(catalog video ids, plan) for the lake's current catalog."""
    catalog = lake.read_parquet(f"{lake_dir}/video_catalog.parquet", ["video_id"])
    video_ids = list(catalog["video_id"])
    states = state.video_states(instance, lake_dir, video_ids)
    return video_ids, plan_videos(
        video_ids,
        states,
        embedder=embedder,
        embedder_version=expected_version(embedder),
        force=force,
    )


def run_pipeline(
    sheets: Sequence[Path],
    lake_dir: str | None = None,
    *,
    embedder: str | None = None,
    force: bool = False,
    videos_per_run: int = CLI_VIDEOS_PER_RUN,
    emit: Callable[[str], None] = print,
    executor: str = DEFAULT_EXECUTOR,
    max_concurrent: int = 0,
    resources: dict[str, Any] | None = None,
    retire: Sequence[str] = (),
    verbose: bool = False,
) -> RunReport:
    """Materialize every asset for ``sheets`` through Dagster; raises PipelineInput/RunError.

    ``resources`` is run config for the resources (``{"fetcher": {"config": {...}}}``);
    ``executor`` / ``max_concurrent`` choose the executor of the per-video runs (the catalog and
    cross-video runs are light and always run in process). ``retire`` names registered sheets to
    take out of the catalog.
    """
    from influencer_pipeline.faces.weights import EmbedderUnavailable

    started = time.monotonic()
    _check_sheets(sheets)
    execution = execution_config(executor, max_concurrent)
    instance = open_instance()
    configured = (resources or {}).get("lake", {}).get("config", {}).get("root")
    report = RunReport(lake=lake_root(lake_dir or configured))
    try:
        choice = _choose_embedder(embedder, resources or {}, report.lake)
    except EmbedderUnavailable as exc:
        raise PipelineInputError(str(exc)) from exc
    report.embedder = choice.describe()
    emit(f"lake: {show(report.lake)}   dagster home: {show(str(dagster_home()))}")
    emit(f"face embedder: {choice.describe()}")
    run_resources = _merge_resources(
        resources or {}, resources_config(choice.name), lake_config(report.lake)
    )
    runner = _Runner(instance, emit, run_resources, execution, verbose)
    try:
        with lake_lock.exclusive(report.lake, "influencer-pipeline run"):
            recover_from_killed_runs(instance, report.lake, emit)
            _run_all(
                runner,
                report,
                sheets=sheets,
                retire=retire,
                choice=choice,
                force=force,
                videos_per_run=videos_per_run,
                emit=emit,
            )
    except lake_lock.LakeBusyError as exc:
        raise PipelineInputError(str(exc)) from exc
    finally:
        report.run_ids = runner.run_ids
    report.models = loaded_models()
    report.seconds = time.monotonic() - started
    return report


def _run_all(
    runner: _Runner,
    report: RunReport,
    *,
    sheets: Sequence[Path],
    retire: Sequence[str],
    choice: EmbedderChoice,
    force: bool,
    videos_per_run: int,
    emit: Callable[[str], None],
) -> None:
    emit("[1/3] catalog: registering sheets")
    runner.execute(
        "catalog_job",
        ops={
            "video_catalog": {
                "config": {"sheets": [str(s) for s in sheets], "retire": list(retire)}
            }
        },
        light=True,
        error=PipelineInputError,
    )
    video_ids, plan = plan_for_lake(runner.instance, report.lake, choice.name, force)
    report.videos, report.plan = len(video_ids), plan.describe()
    batches = run_batches(plan, state.ordered_videos(runner.instance), videos_per_run)
    n = len(batches)
    emit(f"[2/3] per-video stages: {plan.describe()} ({n} run{'s' if n != 1 else ''})")
    batch_id = f"cli-{uuid.uuid4().hex[:12]}"
    for index, batch in enumerate(batches, start=1):
        emit(f"  run {index}/{n} ({batch.job_name}): partitions {batch.start} .. {batch.end}")
        runner.execute(batch.job_name, tags=batch_tags(batch, "cli", batch_id))
    report.processed = len(plan.process) + len(plan.reembed)
    emit("[3/3] cross-video stages and the leaderboard")
    runner.execute("cross_video_job", light=True)


def _check_sheets(sheets: Sequence[Path]) -> None:
    """Refuse an unusable sheet before any run starts (PipelineInputError, one clear line)."""
    from influencer_pipeline.catalog.sheets import SheetError, read_sheet

    for sheet in sheets:
        try:
            if read_sheet(Path(sheet)).empty:
                raise PipelineInputError(f"No usable rows in {Path(sheet).name}: no data row")
        except SheetError as exc:
            raise PipelineInputError(str(exc)) from exc


def _choose_embedder(
    requested: str | None, resources: dict[str, Any], lake_dir: str
) -> EmbedderChoice:
    configured = resources.get("face_models", {}).get("config", {})
    models = FaceModels(**{**configured, **({"embedder": requested} if requested else {})})
    return models.choose(lake_dir)


def _merge_resources(*configs: dict[str, Any]) -> dict[str, Any]:
    """Run config ``{"resources": ...}`` merged key by key (later configs win)."""
    merged: dict[str, dict[str, Any]] = {}
    for config in configs:
        for name, value in config.get("resources", config).items():
            merged.setdefault(name, {"config": {}})["config"].update(value.get("config", {}))
    return {"resources": merged} if merged else {}


def materialize_leaderboard(
    lake_dir: str | None = None, emit: Callable[[str], None] = print, verbose: bool = False
) -> list[str]:
    """Rebuild the leaderboard asset from the lake's ranking (one in-process run)."""
    root = lake_root(lake_dir)
    runner = _Runner(open_instance(), emit, lake_config(root), light_execution(), verbose)
    with lake_lock.exclusive(root, "influencer-pipeline report"):
        runner.execute("leaderboard_job", light=True)
    return runner.run_ids
