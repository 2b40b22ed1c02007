"""Support for the scale-out tests and benchmark: Redis settings, an S3 API server, Celery workers,
the tiny demo driven through the code location's jobs, and lake comparison.

Run as a module it is the *run process* of one demo: ``python -m influencer_pipeline_tests.
distributed --sheet S --lake L [--in-process]`` materializes the catalog, the per-video assets
(one run over every video) and the cross-video assets with ``dg.execute_job`` in the instance of
``$DAGSTER_HOME``, with the executor the code location has (``$INFLUENCER_EXECUTOR``), and prints
one JSON line: run ids, statuses, seconds, and which Celery worker executed each step. A process
of its own, so the code location is loaded with the environment given to it (as a run worker
would be), not with whatever the test process imported before.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd
import pytest
from upath import UPath

PROJECT_DIR = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
CELERY_KEYS = ("INFLUENCER_CELERY_BROKER", "INFLUENCER_CELERY_BACKEND")
REDIS_DIR_ENV = "INFLUENCER_REDIS_DIR"
JOB_NAMES = ("catalog_job", "per_video_job", "cross_video_job")
# when and how fast something ran, and which run did it, not what it found
VOLATILE = {
    "fetch_seconds",
    "fetched_at",
    "added_at",
    "updated_at",
    "retired_at",
    "created_at",
    "run_id",
}
# reports that print the time they were made ("Made <time> UTC"): compared by presence only
VOLATILE_FILES = {"leaderboard/leaderboard.html", "leaderboard/leaderboard.xlsx"}
S3_CREDENTIALS = {  # moto accepts any; real deployments put theirs in the environment the same way
    "AWS_ACCESS_KEY_ID": "influencer-test",
    "AWS_SECRET_ACCESS_KEY": "influencer-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def unavailable(what: str, reason: str, hint: str) -> NoReturn:
    """Skip, or fail where system dependencies are required (CI: ``STRICT_SYSTEM_DEPS=1``)."""
    message = f"{what} is not available ({reason}); {hint}"
    if os.environ.get("STRICT_SYSTEM_DEPS") == "1":
        pytest.fail(message + " (STRICT_SYSTEM_DEPS=1: required)")
    pytest.skip(message)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout_s: float, process: subprocess.Popen | None = None) -> None:
    """Wait until something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s")


# --- Redis (started by scripts/start_test_redis.sh) ----------------------------------------------


def redis_settings() -> dict[str, str]:
    """INFLUENCER_CELERY_BROKER/BACKEND from the environment, else from the start script's file;
    skips (fails in CI) when no server answers."""
    settings = {k: os.environ[k] for k in CELERY_KEYS if os.environ.get(k)}
    hint = 'start it with: eval "$(scripts/start_test_redis.sh)"'
    if len(settings) < len(CELERY_KEYS):
        default_dir = Path(os.environ.get("TMPDIR", "/tmp")) / "influencer_pipeline_redis"
        env_file = Path(os.environ.get(REDIS_DIR_ENV) or default_dir) / "env"
        try:
            lines = env_file.read_text().splitlines()
        except OSError:
            unavailable("Redis", f"no {', '.join(CELERY_KEYS)} and no {env_file}", hint)
        for line in lines:
            name, _, value = line.removeprefix("export ").partition("=")
            if name in CELERY_KEYS:
                settings[name] = shlex.split(value)[0]
    import redis

    try:
        redis.Redis.from_url(settings["INFLUENCER_CELERY_BROKER"], socket_timeout=5).ping()
    except (redis.RedisError, KeyError) as exc:
        unavailable("Redis", f"no answer: {exc}", hint)
    return settings


# --- an S3 API server (moto's standalone server) -------------------------------------------------


@contextlib.contextmanager
def s3_server(log: Path) -> Iterator[dict[str, str]]:
    """moto's S3 server on a free loopback port; yields the environment that points s3fs at it."""
    port = free_port()
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        try:
            wait_for_port(port, 60, process)
        except (RuntimeError, TimeoutError) as exc:
            unavailable("The S3 server (moto)", str(exc), f"see {log}")
        yield {**S3_CREDENTIALS, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}
    finally:
        stop_process_group(process)


def stop_process_group(process: subprocess.Popen, timeout_s: float = 30) -> None:
    """SIGTERM the process's group, SIGKILL it if it has not ended after ``timeout_s``."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


# --- Celery workers ------------------------------------------------------------------------------


@dataclass
class Worker:
    """A ``dagster-celery worker`` process group with its own working folder."""

    name: str
    process: subprocess.Popen
    folder: Path

    @property
    def log(self) -> Path:
        """The worker's output."""
        return self.folder / "worker.log"

    def wait_ready(self, timeout_s: float = 120) -> None:
        """Wait until Celery says the worker is ready."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            text = self.log.read_text(errors="replace") if self.log.exists() else ""
            if " ready." in text:
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited:\n{text[-3000:]}")
            time.sleep(0.2)
        raise TimeoutError(f"worker {self.name} not ready after {timeout_s} s")

    def kill(self) -> None:
        """SIGKILL the whole worker (its main process and its pool): a machine that died."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


def migrate_instance(home: Path, env: Mapping[str, str]) -> None:
    """``dagster instance migrate`` in ``home``: the tables made once, before the processes that
    share the database start (several opening an empty one at once race to create them)."""
    done = subprocess.run(
        [str(VENV_BIN / "dagster"), "instance", "migrate"],
        env={**env, "DAGSTER_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"dagster instance migrate failed:\n{done.stderr[-3000:]}")


def start_worker(
    name: str, queues: list[str], folder: Path, env: Mapping[str, str], config: Path
) -> Worker:
    """``dagster-celery worker start`` (one task at a time) in ``folder``, its own process group.

    ``env`` must hold what the steps need: DAGSTER_HOME (with the instance's dagster.yaml),
    the DAGSTER_PG_* and INFLUENCER_CELERY_* settings, INFLUENCER_EXECUTOR=celery."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tmp").mkdir(exist_ok=True)
    command = [str(VENV_BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app"]
    command += ["-y", str(config), "-n", name, "--loglevel", "INFO"]
    for queue in queues:
        command += ["-q", queue]
    command += ["--", "--concurrency=1", "--without-gossip", "--without-mingle"]
    full_env = {
        **env,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",  # dagster-celery -> celery
        "TMPDIR": str(folder / "tmp"),  # downloads of blobs, staging: this worker's own disk
        "PYTHONUNBUFFERED": "1",
    }
    with open(folder / "worker.log", "wb") as out:
        process = subprocess.Popen(
            command,
            cwd=folder,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Worker(name=name, process=process, folder=folder)


# --- the tiny demo through the jobs --------------------------------------------------------------


def run_config(lake: str, embedder: str, execution: str | None) -> dict[str, Any]:
    """Resources of a demo run (carried to every worker with the run) and, optionally, the
    executor choice (``in_process``); None keeps the code location's default executor."""
    config: dict[str, Any] = {
        "resources": {
            "lake": {"config": {"root": lake}},
            "io_manager": {"config": {"base_path": lake}},
            "face_models": {"config": {"embedder": embedder}},
        },
        "loggers": {"console": {"config": {"log_level": "WARNING"}}},
    }
    if execution:
        config["execution"] = {"config": {execution: {}}}
    return config


def celery_workers(instance: Any, run_id: str) -> dict[str, list[str]]:
    """Step key -> the Celery workers that started executing it (in order)."""
    import dagster as dg

    workers: dict[str, list[str]] = {}
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
    for record in records.records:
        event = record.event_log_entry.dagster_event
        metadata = getattr(event.event_specific_data, "metadata", None) or {}
        worker = metadata.get("Celery worker")
        if worker is not None and event.step_key:
            workers.setdefault(event.step_key, []).append(str(worker.value))
    return workers


def drive_demo(
    sheet: str,
    lake: str,
    embedder: str,
    execution: str | None,
    jobs: tuple[str, ...] = JOB_NAMES,
    videos: int = 0,
) -> dict[str, Any]:
    """Run ``jobs`` in the instance of $DAGSTER_HOME (the per-video job over the first
    ``videos`` partitions, 0: all); the report printed by ``main``."""
    import dagster as dg
    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
    )

    repository = ReconstructableRepository.for_module("influencer_pipeline.definitions", "defs")
    report: dict[str, Any] = {"runs": []}
    started = time.monotonic()
    with dg.DagsterInstance.get() as instance:
        for name in jobs:
            config = run_config(lake, embedder, execution)
            tags: dict[str, str] = {}
            if name == "catalog_job":
                config["ops"] = {"video_catalog": {"config": {"sheets": [sheet]}}}
            if name == "per_video_job":
                keys = instance.get_dynamic_partitions("videos")[: videos or None]
                tags = {
                    ASSET_PARTITION_RANGE_START_TAG: keys[0],
                    ASSET_PARTITION_RANGE_END_TAG: keys[-1],
                }
                report["partitions"] = keys
            run_started = time.monotonic()
            result = dg.execute_job(
                repository.get_reconstructable_job(name), instance, run_config=config, tags=tags
            )
            report["runs"].append(
                {
                    "job": name,
                    "run_id": result.run_id,
                    "success": result.success,
                    "seconds": round(time.monotonic() - run_started, 2),
                    "workers": celery_workers(instance, result.run_id),
                }
            )
            if not result.success:
                break
    report["seconds"] = round(time.monotonic() - started, 2)
    return report


@dataclass
class DemoProcess:
    """A running ``drive_demo`` process."""

    process: subprocess.Popen
    log: Path

    def finish(self, timeout_s: float = 900) -> dict[str, Any]:
        """Wait for it; its JSON report (asserts it exited 0)."""
        try:
            code = self.process.wait(timeout=timeout_s)
        finally:
            stop_process_group(self.process, timeout_s=5)
        output = self.log.read_text(errors="replace")
        lines = [line for line in output.splitlines() if line.startswith("{")]
        assert code == 0 and lines, output[-6000:]
        return json.loads(lines[-1])


def start_demo_process(
    sheet: Path,
    lake: str,
    env: Mapping[str, str],
    log: Path,
    *,
    in_process: bool = False,
    jobs: tuple[str, ...] = JOB_NAMES,
    videos: int = 0,
) -> DemoProcess:
    """``drive_demo`` in a process (group) of its own with ``env``, output to ``log``."""
    command = [sys.executable, "-m", "influencer_pipeline_tests.distributed"]
    command += ["--sheet", str(sheet), "--lake", lake, "--jobs", *jobs, "--videos", str(videos)]
    command += ["--in-process"] if in_process else []
    # the lake and embedder are in the run config; the environment says the same, as a
    # deployment's would (resources that read $INFLUENCER_LAKE see this lake, not data_lake/)
    env = {"INFLUENCER_LAKE": lake, "INFLUENCER_EMBEDDER": "dlib", **env, "PYTHONUNBUFFERED": "1"}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return DemoProcess(process=process, log=log)


def run_demo_process(
    sheet: Path,
    lake: str,
    env: Mapping[str, str],
    log: Path,
    *,
    in_process: bool = False,
    timeout_s: float = 900,
) -> dict[str, Any]:
    """``drive_demo`` (every job, every video) in a process of its own; its JSON report."""
    demo = start_demo_process(sheet, lake, env, log, in_process=in_process)
    return demo.finish(timeout_s)


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without INFLUENCER_/DAGSTER_/AWS_ settings, plus ``extra``."""
    prefixes = ("INFLUENCER_", "DAGSTER_", "AWS_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    return {**env, **extra}


def postgres_home(folder: Path) -> Path:
    """A DAGSTER_HOME holding the project's ``deploy/dagster.postgres.yaml`` unchanged."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT_DIR / "deploy" / "dagster.postgres.yaml", folder / "dagster.yaml")
    return folder


def sqlite_home(folder: Path) -> Path:
    """A DAGSTER_HOME with Dagster's default (SQLite) storage."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return folder


def reference_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The tiny demo's sheet and its lake made in process on local disk: once per test session
    (the celery and S3 tests compare their lakes with it)."""
    from influencer_pipeline_tests.conftest import TINY_DEMO
    from influencer_tools.demo.generator import generate_demo

    folder = tmp_path_factory.getbasetemp() / "tiny_demo_reference"
    sheet, lake, done = folder / "demo" / "demo_sheet.xlsx", folder / "lake", folder / "done"
    if not done.exists():
        generate_demo(folder / "demo", TINY_DEMO)
        env = clean_env(DAGSTER_HOME=str(sqlite_home(folder / "home")))
        report = run_demo_process(sheet, str(lake), env, folder / "run.log", in_process=True)
        assert all(run["success"] for run in report["runs"]), report
        done.write_text(json.dumps(report))
    return sheet, str(lake)


# --- lake comparison -----------------------------------------------------------------------------


def lake_files(root: str, *, hidden: bool = False) -> list[str]:
    """The lake's files relative to its root, sorted (local folder or object store): the visible
    ones, or (``hidden``) only the hidden temp files writers use, which readers never open."""
    base = UPath(root)
    prefix = str(base).rstrip("/") + "/"
    names = (str(p).removeprefix(prefix) for p in base.rglob("*") if p.is_file())
    return sorted(n for n in names if any(part.startswith(".") for part in n.split("/")) == hidden)


def canonical_table(table: pd.DataFrame, root: str) -> pd.DataFrame:
    """Drop volatile columns, write the lake root as ``<lake>``, sort rows by scalar columns."""
    frame = table.drop(columns=[c for c in table.columns if c in VOLATILE])
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = [
                v.replace(root, "<lake>") if isinstance(v, str) else v for v in frame[column]
            ]
    scalar = (str, bool, int, np.integer, np.bool_)
    keys = [c for c in frame.columns if all(v is None or isinstance(v, scalar) for v in frame[c])]
    return frame.sort_values(keys).reset_index(drop=True) if keys else frame


def assert_same_files(expected_root: str, actual_root: str, names: list[str]) -> int:
    """Every file in ``names`` equal in both lakes: Parquet tables canonically, other files
    byte for byte; returns the number of Parquet files compared."""
    from influencer_pipeline.lake import read_parquet

    compared = 0
    for name in names:
        if name.endswith(".parquet"):
            left = canonical_table(read_parquet(f"{expected_root}/{name}"), expected_root)
            right = canonical_table(read_parquet(f"{actual_root}/{name}"), actual_root)
            pd.testing.assert_frame_equal(right, left, obj=name)
            compared += 1
        elif name in VOLATILE_FILES:
            assert UPath(f"{actual_root}/{name}").stat().st_size > 0, name
        else:
            left_bytes = UPath(f"{expected_root}/{name}").read_bytes()
            assert UPath(f"{actual_root}/{name}").read_bytes() == left_bytes, name
    return compared


def assert_same_lake(expected_root: str, actual_root: str) -> int:
    """Same visible files, every one equal (``assert_same_files``); returns the number of
    Parquet files compared."""
    expected, actual = lake_files(expected_root), lake_files(actual_root)
    assert actual == expected, set(actual) ^ set(expected)
    return assert_same_files(expected_root, actual_root, expected)


def main(argv: list[str] | None = None) -> int:
    """Run process of one demo (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sheet", required=True)
    parser.add_argument("--lake", required=True)
    parser.add_argument("--embedder", default="dlib")
    parser.add_argument("--in-process", action="store_true", help="execution: in_process")
    parser.add_argument("--jobs", nargs="+", default=list(JOB_NAMES), choices=JOB_NAMES)
    parser.add_argument("--videos", type=int, default=0, help="per-video run: first N (0: all)")
    args = parser.parse_args(argv)
    execution = "in_process" if args.in_process else None
    report = drive_demo(
        args.sheet, args.lake, args.embedder, execution, tuple(args.jobs), args.videos
    )
    print(json.dumps(report))
    return 0 if all(run["success"] for run in report["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
