"""Wall time of the tiny demo (16 videos) in process vs through Celery with two and three workers.

    eval "$(scripts/start_test_postgres.sh)"; eval "$(scripts/start_test_redis.sh)"
    .venv/bin/python benchmarks/celery_demo.py [--repeats 2] [--out DIR]

Every configuration runs the same three jobs (catalog, one per-video run over every video,
cross-video) through ``influencer_pipeline_tests/distributed.py``'s run process, in a fresh
PostgreSQL database and a fresh lake; the time is the run process's, from start to exit (Python
start-up and loading the definitions included):

- ``in_process``: ``execution: in_process`` (no workers);
- ``celery_2``: ``INFLUENCER_EXECUTOR=celery``, a ``faces`` worker and a ``light`` worker;
- ``celery_3``: the same plus a third worker listening on both queues.

Workers start fresh for each configuration and serve ``--repeats`` demos: the first demo pays
their cold start (each worker's process imports the definitions on its first task), the later
ones are warm (same database, a fresh lake). Every lake is compared with the in-process one.
The load average is printed with each figure: on a shared machine, compare like with like.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg2

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR))  # the scale-out test helpers (influencer_pipeline_tests)

from influencer_pipeline_tests import distributed  # noqa: E402
from influencer_pipeline_tests.conftest import TINY_DEMO  # noqa: E402

PG_KEYS = ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USERNAME", "DAGSTER_PG_PASSWORD")
WORKERS = {
    "celery_2": [("gpu", ["faces"]), ("cpu", ["light"])],
    "celery_3": [("gpu", ["faces"]), ("cpu", ["light"]), ("any", ["faces", "light"])],
}


def _env_file(path: Path, prefix: str) -> dict[str, str]:
    settings = {}
    for line in path.read_text().splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        if name.startswith(prefix):
            settings[name] = shlex.split(value)[0]
    return settings


def _services() -> dict[str, str]:
    """DAGSTER_PG_* and INFLUENCER_CELERY_* from the environment, else the start scripts' files."""
    tmp = Path(os.environ.get("TMPDIR", "/tmp"))
    settings = {k: v for k, v in os.environ.items() if k.startswith("DAGSTER_PG_")}
    if not all(k in settings for k in PG_KEYS):
        pg_dir = Path(os.environ.get("INFLUENCER_PG_DIR") or tmp / "influencer_pipeline_pg")
        settings = _env_file(pg_dir / "env", "DAGSTER_PG_")
    celery = {k: os.environ[k] for k in distributed.CELERY_KEYS if os.environ.get(k)}
    if len(celery) < len(distributed.CELERY_KEYS):
        redis_dir = os.environ.get("INFLUENCER_REDIS_DIR") or tmp / "influencer_pipeline_redis"
        celery = _env_file(Path(redis_dir) / "env", "INFLUENCER_CELERY_")
    return {**settings, **celery}


def _fresh_database(settings: dict[str, str]) -> str:
    name = f"bench_{uuid.uuid4().hex[:12]}"
    connection = psycopg2.connect(
        host=settings["DAGSTER_PG_HOST"],
        port=int(settings["DAGSTER_PG_PORT"]),
        user=settings["DAGSTER_PG_USERNAME"],
        password=settings["DAGSTER_PG_PASSWORD"],
        dbname=settings.get("DAGSTER_PG_DB") or "postgres",
    )
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    return name


def _one_demo(
    name: str, sheet: Path, folder: Path, env: dict[str, str], reference: str | None
) -> dict[str, Any]:
    lake = str(folder / "lake")
    load = os.getloadavg()[0]
    started = time.monotonic()
    report = distributed.run_demo_process(
        sheet,
        lake,
        {**env, "DAGSTER_HOME": str(distributed.postgres_home(folder / "home"))},
        folder / "run.log",
        in_process=name == "in_process",
    )
    wall = time.monotonic() - started
    if reference is not None:
        distributed.assert_same_lake(reference, lake)
    return {
        "config": name,
        "wall_s": round(wall, 1),
        "runs_s": {run["job"]: run["seconds"] for run in report["runs"]},
        "load_before": round(load, 1),
        "load_after": round(os.getloadavg()[0], 1),
        "lake": lake,
    }


def main() -> None:
    """Run every configuration; print one JSON line per demo and a summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="demos per configuration")
    parser.add_argument("--out", type=Path, default=None, help="work folder (default: a temp one)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="celery_bench_"))
    services = _services()
    from influencer_tools.demo.generator import generate_demo

    generate_demo(out / "demo", TINY_DEMO)
    sheet = out / "demo" / "demo_sheet.xlsx"
    results: list[dict[str, Any]] = []
    reference: str | None = None
    for name in ("in_process", *WORKERS):
        # one database per configuration: its workers read the runs from it (their DAGSTER_PG_DB)
        settings = {**services, "DAGSTER_PG_DB": _fresh_database(services)}
        base = distributed.clean_env(**settings, INFLUENCER_EXECUTOR="celery")
        if name == "in_process":
            base = distributed.clean_env(**settings)
        distributed.migrate_instance(distributed.postgres_home(out / name / "migrate_home"), base)
        workers = []
        try:
            for worker_name, queues in WORKERS.get(name, []):
                folder = out / name / worker_name
                env = {**base, "DAGSTER_HOME": str(distributed.postgres_home(folder / "home"))}
                config = PROJECT_DIR / "deploy" / "celery" / "celery.yaml"
                workers.append(distributed.start_worker(worker_name, queues, folder, env, config))
            for worker in workers:
                worker.wait_ready()
            for repeat in range(args.repeats):
                folder = out / name / f"demo{repeat}"
                result = _one_demo(name, sheet, folder, base, reference)
                result["repeat"] = repeat
                reference = reference or result["lake"]
                results.append(result)
                print(json.dumps(result), flush=True)
        finally:
            for worker in workers:
                distributed.stop_process_group(worker.process)
    print("\nconfig       repeat  wall_s  catalog  per_video  cross_video  load")
    for r in results:
        runs = r["runs_s"]
        print(
            f"{r['config']:<12} {r['repeat']:>6}  {r['wall_s']:>6}  {runs['catalog_job']:>7}"
            f"  {runs['per_video_job']:>9}  {runs['cross_video_job']:>11}"
            f"  {r['load_before']}-{r['load_after']}"
        )


if __name__ == "__main__":
    main()
