"""The pipeline on Dagster's Celery executor: Redis broker, Celery workers, PostgreSQL instance.

``INFLUENCER_EXECUTOR=celery`` makes every step of a run a Celery task (``dagster-celery``);
face detection and embedding go to the ``faces`` queue (GPU workers in production), every other
step to ``light``. The slow tests start real workers (``dagster-celery worker start``), each a
process group of its own with its own working folder and ``DAGSTER_HOME``, sharing the lake and a
PostgreSQL-backed instance; Redis comes from ``scripts/start_test_redis.sh`` and PostgreSQL from
``scripts/start_test_postgres.sh`` (``scripts/test.sh`` starts both). Without them the slow tests
skip, except in CI (``STRICT_SYSTEM_DEPS=1``), where they fail.

Checked: the tiny demo through celery on two workers gives the same lake as an in-process run,
with the face steps on the ``faces`` worker and the rest on the ``light`` one; a ``faces`` worker
SIGKILLed in the middle of its step (the machine died) loses nothing: Redis hands the unacknowledged
task to a replacement worker once the visibility timeout has passed, the run completes, the event
log shows the step started on both workers, and every file of the lake equals the reference.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml
from dagster._config import process_config

from influencer_pipeline.defs import executors
from influencer_pipeline.defs.executors import ExecutorSetupError, executor_from_env
from influencer_pipeline_tests import distributed
from influencer_pipeline_tests.conftest import PROJECT_DIR
from influencer_pipeline_tests.end_to_end.test_postgres_instance import postgres  # noqa: F401  (fixture)

CELERY_CONFIG = PROJECT_DIR / "deploy" / "celery" / "celery.yaml"
FACE_STEPS = {"face_embeddings", "video_faces"}
KILL_TEST_VIDEOS = 4  # the per-video run of the kill test: short steps, a short visibility timeout
KILL_TEST_VISIBILITY_S = 60  # longer than any step of that run, even on a slow machine


# --- the executor choice (fast, no services) -----------------------------------------------------


def test_executor_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INFLUENCER_EXECUTOR_CONFIG", raising=False)
    monkeypatch.delenv("INFLUENCER_EXECUTOR", raising=False)
    assert executor_from_env().name == "local"  # in process unless a run asks otherwise
    monkeypatch.setenv("INFLUENCER_EXECUTOR", "dask")
    with pytest.raises(ExecutorSetupError) as error:
        executor_from_env()
    assert error.value.code == "unknown_executor"
    monkeypatch.setenv("INFLUENCER_EXECUTOR", "celery")
    assert executor_from_env().name == "celery_or_local"
    monkeypatch.setenv("INFLUENCER_EXECUTOR", "k8s")
    assert executor_from_env() is not None


def _processed(definition: dg.ExecutorDefinition, value: Any) -> dict[str, Any]:
    field = definition.config_schema.as_field()
    result = process_config(field.config_type, field.default_value if value is None else value)
    assert result.success, result.errors
    return result.value


def test_celery_settings_come_from_the_workers_config_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("INFLUENCER_EXECUTOR", "celery")
    monkeypatch.delenv("INFLUENCER_EXECUTOR_CONFIG", raising=False)
    monkeypatch.setenv("INFLUENCER_CELERY_BROKER", "redis://:pw@redis:6379/0")
    monkeypatch.setenv("INFLUENCER_CELERY_BACKEND", "redis://:pw@redis:6379/1")
    definition = executor_from_env()
    default = _processed(definition, None)["celery"]  # no run config: celery, the file's settings
    assert default["broker"] == "redis://:pw@redis:6379/0"
    assert default["backend"] == "redis://:pw@redis:6379/1"
    assert default["config_source"]["task_default_queue"] == executors.LIGHT_QUEUE
    assert default["config_source"]["task_acks_late"] is True
    override = _processed(definition, {"celery": {"broker": "redis://other:6379/0"}})["celery"]
    assert override["broker"] == "redis://other:6379/0"
    assert override["backend"] == "redis://:pw@redis:6379/1"  # the rest stays the file's
    assert "in_process" in _processed(definition, {"in_process": {}})  # one run in process
    assert "multiprocess" in _processed(definition, {"multiprocess": {"max_concurrent": 2}})

    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"execution": {"config": {"brokr": "redis://x"}}}))
    monkeypatch.setenv("INFLUENCER_EXECUTOR_CONFIG", str(bad))
    with pytest.raises(ExecutorSetupError) as error:
        executor_from_env()
    assert error.value.code == "bad_config" and "brokr" in error.value.message
    monkeypatch.setenv("INFLUENCER_EXECUTOR_CONFIG", str(tmp_path / "missing.yaml"))
    with pytest.raises(ExecutorSetupError) as error:
        executor_from_env()
    assert error.value.code == "config_not_found"


def test_face_steps_go_to_the_faces_queue() -> None:
    from influencer_pipeline.definitions import defs

    job = defs.resolve_job_def("per_video_job")
    queues = {
        node.name: node.definition.tags.get(executors.CELERY_QUEUE_TAG) for node in job.graph.nodes
    }
    assert {name for name, queue in queues.items() if queue == executors.FACES_QUEUE} == FACE_STEPS
    assert all(queue is None for name, queue in queues.items() if name not in FACE_STEPS)


# --- real workers (slow) -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis() -> dict[str, str]:
    """INFLUENCER_CELERY_BROKER/BACKEND of the test Redis server."""
    return distributed.redis_settings()


@pytest.fixture()
def cluster(
    redis: dict[str, str],
    postgres: dict[str, str],  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
) -> Iterator[dict[str, Any]]:
    """The environment of a run process and its workers; stops every worker it started."""
    lake = str(tmp_path / "lake")
    env = distributed.clean_env(
        **postgres, **redis, INFLUENCER_EXECUTOR="celery", INFLUENCER_LAKE=lake
    )
    state: dict[str, Any] = {"env": env, "lake": lake, "workers": [], "postgres": postgres}
    # the tables made once before any worker starts, as the README says
    distributed.migrate_instance(distributed.postgres_home(tmp_path / "migrate_home"), env)

    def start(name: str, queues: list[str], config: Path = CELERY_CONFIG) -> distributed.Worker:
        folder = tmp_path / name
        worker_env = {**env, "DAGSTER_HOME": str(distributed.postgres_home(folder / "home"))}
        worker = distributed.start_worker(name, queues, folder, worker_env, config)
        state["workers"].append(worker)
        return worker

    state["start"] = start
    try:
        yield state
    finally:
        for worker in state["workers"]:
            distributed.stop_process_group(worker.process)


def _host_workers(report: dict[str, Any]) -> dict[str, list[str]]:
    """Step key -> worker names (without ``@host``), over every run of the report."""
    steps: dict[str, list[str]] = {}
    for run in report["runs"]:
        for step, names in run["workers"].items():
            steps.setdefault(step, []).extend(name.split("@")[0] for name in names)
    return steps


@pytest.mark.slow
def test_demo_through_celery_on_two_workers_equals_in_process(
    cluster: dict[str, Any], tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    sheet, reference = distributed.reference_demo(tmp_path_factory)
    workers = [
        cluster["start"]("gpu", [executors.FACES_QUEUE]),
        cluster["start"]("cpu", [executors.LIGHT_QUEUE]),
    ]
    for worker in workers:
        worker.wait_ready()
    home = distributed.postgres_home(tmp_path / "home")
    env = {**cluster["env"], "DAGSTER_HOME": str(home)}
    report = distributed.run_demo_process(sheet, cluster["lake"], env, tmp_path / "run.log")
    assert [run["success"] for run in report["runs"]] == [True, True, True], report

    assert distributed.assert_same_lake(reference, cluster["lake"]) >= 5 * 16 + 5
    steps = _host_workers(report)
    assert set(steps) >= FACE_STEPS
    for step, names in steps.items():  # every step ran on a worker, on its queue's worker
        assert set(names) == ({"gpu"} if step in FACE_STEPS else {"cpu"}), (step, names)
    for worker in workers:  # each worker kept to its own folder
        assert worker.process.poll() is None, worker.log.read_text()[-3000:]

    # the runs are in the PostgreSQL-backed instance
    with pytest.MonkeyPatch.context() as patch:
        for name, value in cluster["postgres"].items():
            patch.setenv(name, value)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            runs = instance.get_runs()
            assert len(runs) == 3 and {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}


def _short_visibility_config(folder: Path) -> Path:
    """deploy/celery/celery.yaml with a visibility timeout short enough for a test."""
    config = yaml.safe_load(CELERY_CONFIG.read_text())
    options = config["execution"]["config"]["config_source"]["broker_transport_options"]
    options["visibility_timeout"] = KILL_TEST_VISIBILITY_S
    options["unacked_restore_interval"] = 2  # look for expired tasks every 2 s, not 10
    path = folder / "celery.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _wait_for_step(
    home: Path, pg: dict[str, str], worker: str, step: str, timeout_s: float
) -> None:
    """Wait until the event log says ``worker`` started executing ``step``."""
    deadline = time.monotonic() + timeout_s
    with pytest.MonkeyPatch.context() as patch:
        for name, value in pg.items():
            patch.setenv(name, value)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            while True:
                for run in instance.get_runs(filters=dg.RunsFilter(job_name="per_video_job")):
                    started = distributed.celery_workers(instance, run.run_id).get(step, [])
                    if any(name.startswith(f"{worker}@") for name in started):
                        return
                assert time.monotonic() < deadline, f"{step} did not start on {worker}"
                time.sleep(0.5)


@pytest.mark.slow
def test_a_worker_killed_mid_step_hands_its_task_to_a_replacement(
    cluster: dict[str, Any], tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    sheet, reference = distributed.reference_demo(tmp_path_factory)
    config = _short_visibility_config(tmp_path)
    cluster["env"]["INFLUENCER_EXECUTOR_CONFIG"] = str(config)
    doomed = cluster["start"]("gpu1", [executors.FACES_QUEUE], config)
    light = cluster["start"]("cpu", [executors.LIGHT_QUEUE], config)
    doomed.wait_ready()
    light.wait_ready()
    home = distributed.postgres_home(tmp_path / "home")
    env = {**cluster["env"], "DAGSTER_HOME": str(home)}
    demo = distributed.start_demo_process(
        sheet,
        cluster["lake"],
        env,
        tmp_path / "run.log",
        jobs=("catalog_job", "per_video_job"),
        videos=KILL_TEST_VIDEOS,
    )
    try:
        _wait_for_step(home, cluster["postgres"], "gpu1", "face_embeddings", timeout_s=600)
        # at once (the poll above runs every 0.5 s): the step loads its models and detects the
        # faces of 4 videos, a few seconds, which on a fast machine end soon after its start
        time.sleep(0.5)
        doomed.kill()
        killed_at = time.monotonic()
        assert demo.process.poll() is None, "the run ended before the worker was killed"
        replacement = cluster["start"]("gpu2", [executors.FACES_QUEUE], config)
        report = demo.finish(timeout_s=KILL_TEST_VISIBILITY_S + 600)
    finally:
        distributed.stop_process_group(demo.process, timeout_s=5)
    assert [run["success"] for run in report["runs"]] == [True, True], report
    # Redis handed the unacknowledged task over only after the visibility timeout
    assert time.monotonic() - killed_at >= KILL_TEST_VISIBILITY_S - 5
    assert _host_workers(report)["face_embeddings"] == ["gpu1", "gpu2"]  # the log says so
    assert replacement.process.poll() is None

    # nothing half-written: every visible file equals the in-process run's
    names = distributed.lake_files(cluster["lake"])
    per_video = {n.split("/")[0] for n in names if n.count("/") == 1 and n.endswith(".parquet")}
    assert {"video_files", "video_frames", "face_embeddings", "video_faces"} <= per_video
    for asset in per_video:
        assert {n for n in names if n.startswith(f"{asset}/")} == {
            f"{asset}/{key}.parquet" for key in report["partitions"]
        }
    assert set(names) <= set(distributed.lake_files(reference))
    assert distributed.assert_same_files(reference, cluster["lake"], names) > 4 * KILL_TEST_VIDEOS
    # a writer killed mid-write leaves at most a hidden temp file, which no reader opens
    hidden = distributed.lake_files(cluster["lake"], hidden=True)
    temp = (".tmp", ".part", ".lock")
    assert all(n.endswith(temp) or "/.staging/" in n for n in hidden), hidden
