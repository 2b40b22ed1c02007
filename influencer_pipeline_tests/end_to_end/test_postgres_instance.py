"""The tiny demo materialized into a Dagster instance stored in a real PostgreSQL server.

``influencer-pipeline run`` (``run_pipeline``) runs in a subprocess whose ``DAGSTER_HOME`` holds
the project's ``deploy/dagster.postgres.yaml`` unchanged; the server and its ``DAGSTER_PG_*``
settings come from ``scripts/start_test_postgres.sh`` (``scripts/test.sh`` starts it; the settings
are read from the environment, else from the file the script writes).
Each test run gets a database of its own. Without a server the test skips, except when
``STRICT_SYSTEM_DEPS=1`` (CI): then it fails.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import dagster as dg
import psycopg2
import pytest

from influencer_pipeline_tests.conftest import PROJECT_DIR, TINY_DEMO
from influencer_tools.demo.generator import generate_demo

pytestmark = pytest.mark.slow

PG_KEYS = ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USERNAME", "DAGSTER_PG_PASSWORD")
PG_DIR_ENV = "INFLUENCER_PG_DIR"
START_SCRIPT = "scripts/start_test_postgres.sh"


def _unavailable(reason: str) -> NoReturn:
    """Skip, or fail where system dependencies are required (CI)."""
    message = f"PostgreSQL is not available ({reason}); start it with {START_SCRIPT}"
    if os.environ.get("STRICT_SYSTEM_DEPS") == "1":
        pytest.fail(message + " (STRICT_SYSTEM_DEPS=1: required)")
    pytest.skip(message)


def _settings() -> dict[str, str]:
    """DAGSTER_PG_* from the environment, else from the env file the start script writes."""
    if all(os.environ.get(k) for k in PG_KEYS):
        return {k: os.environ[k] for k in (*PG_KEYS, "DAGSTER_PG_DB") if k in os.environ}
    default_dir = Path(os.environ.get("TMPDIR", "/tmp")) / "influencer_pipeline_pg"
    env_file = Path(os.environ.get(PG_DIR_ENV) or default_dir) / "env"
    try:
        lines = env_file.read_text().splitlines()
    except OSError:
        _unavailable(f"no {', '.join(PG_KEYS)} in the environment and no {env_file}")
    settings = {}
    for line in lines:
        name, _, value = line.removeprefix("export ").partition("=")
        if name.startswith("DAGSTER_PG_"):
            settings[name] = shlex.split(value)[0] if value else ""
    return settings


def _connect(settings: dict[str, str], db_name: str) -> psycopg2.extensions.connection:
    return psycopg2.connect(
        host=settings["DAGSTER_PG_HOST"],
        port=int(settings["DAGSTER_PG_PORT"]),
        user=settings["DAGSTER_PG_USERNAME"],
        password=settings["DAGSTER_PG_PASSWORD"],
        dbname=db_name,
        connect_timeout=10,
    )


@pytest.fixture()
def postgres() -> Iterator[dict[str, str]]:
    """A fresh database on the test server: the DAGSTER_PG_* settings that point at it."""
    settings = _settings()
    try:
        admin = _connect(settings, settings.get("DAGSTER_PG_DB") or "postgres")
    except psycopg2.OperationalError as exc:
        _unavailable(f"cannot connect: {str(exc).strip()}")
    admin.autocommit = True
    db_name = f"dagster_test_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{db_name}"')
    try:
        yield {**settings, "DAGSTER_PG_DB": db_name}
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        admin.close()


def test_demo_materializes_into_the_postgres_instance(
    postgres: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    config = PROJECT_DIR / "deploy" / "dagster.postgres.yaml"
    shutil.copy(config, home / "dagster.yaml")
    demo = tmp_path / "demo"
    generate_demo(demo, TINY_DEMO)

    # `influencer-pipeline run` (run_pipeline) in a process of its own, as a user would start it
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INFLUENCER_", "DAGSTER_"))}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "influencer_pipeline.cli",
            "run",
            "--input",
            str(demo / "demo_sheet.xlsx"),
            "--lake",
            str(tmp_path / "lake"),
            "--embedder",
            "dlib",
            "--executor",
            "in_process",
        ],
        env={**env, **postgres, "DAGSTER_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    assert "16 ok, 0 failed" in done.stdout
    assert (home / "dagster.yaml").read_text() == config.read_text()  # kept, not replaced
    assert not list(home.rglob("*.db"))  # nothing went to SQLite

    # --- through Dagster: the runs and materializations are in the PostgreSQL-backed instance ---
    for name, value in postgres.items():  # the instance config reads them
        monkeypatch.setenv(name, value)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        runs = {run.job_name: run.status for run in instance.get_runs()}
        assert len(instance.get_runs()) == 3  # catalog, one per-video range, cross-video
        assert runs == dict.fromkeys(
            ["catalog_job", "per_video_job", "cross_video_job"], dg.DagsterRunStatus.SUCCESS
        )
        run_ids = {run.run_id for run in instance.get_runs()}
        videos = set(instance.get_dynamic_partitions("videos"))
        assert len(videos) == 16
        for asset in ("video_files", "video_faces", "outro_fingerprints"):
            assert set(instance.get_materialized_partitions(dg.AssetKey(asset))) == videos
        for asset in ("video_catalog", "identity_clusters", "ranked_influencers"):
            assert instance.get_latest_materialization_event(dg.AssetKey(asset)) is not None

    # --- in the database itself ------------------------------------------------------------------
    connection = _connect(postgres, postgres["DAGSTER_PG_DB"])
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT run_id, status FROM runs")
            assert dict(cursor.fetchall()) == dict.fromkeys(run_ids, "SUCCESS")
            cursor.execute(
                "SELECT asset_key, count(*) FROM event_logs "
                "WHERE dagster_event_type = 'ASSET_MATERIALIZATION' GROUP BY asset_key"
            )
            counts = {key.strip('[]"'): n for key, n in cursor.fetchall()}
            assert counts["video_files"] == 16 and counts["ranked_influencers"] == 1
            cursor.execute(
                "SELECT count(*) FROM dynamic_partitions WHERE partitions_def_name = %s",
                ("videos",),
            )
            assert cursor.fetchone()[0] == 16
    finally:
        connection.close()


def test_after_instance_migrate_processes_open_a_new_database_together(
    postgres: dict[str, str], tmp_path: Path
) -> None:
    """The README's order: ``dagster instance migrate`` once, then processes start at once."""
    from influencer_pipeline_tests.distributed import migrate_instance, postgres_home

    home = postgres_home(tmp_path / "dagster_home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INFLUENCER_", "DAGSTER_"))}
    env = {**env, **postgres, "DAGSTER_HOME": str(home)}
    migrate_instance(home, env)

    opener = "import dagster as dg\nwith dg.DagsterInstance.get() as i: print(len(i.get_runs()))"
    starts = [
        subprocess.Popen(
            [sys.executable, "-c", opener],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [(p.wait(timeout=300), *p.communicate()) for p in starts]
    assert [(code, out.strip()) for code, out, _ in results] == [(0, "0")] * 4, results
