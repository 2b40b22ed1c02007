"""Dagster's SQLite event log vs ``PooledSqliteEventLogStorage``: milliseconds per event.

    python benchmarks/event_log.py [--events 300] [--partitions 64]

Three fresh instances (a temporary DAGSTER_HOME each): Dagster's default SQLite storage, the
project's ``deploy/dagster.sqlite.yaml`` (the pooled event log) with Dagster's event batches off
(``DAGSTER_EVENT_BATCH_SIZE=0``), and the same with batches on (what the pooled event log sets).
For each: ``--events`` materialization-planned events reported as one batch (what a run writes
for each partition of each asset before it starts; stored one by one when batches are off), then
one range run of ``--partitions`` partitions of a trivial asset (its planned and done
materializations per partition, and the step's events). Prints wall and CPU milliseconds per
planned event and the run's wall seconds.
"""

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

import dagster as dg
from dagster._core.events import (
    AssetMaterializationPlannedData,
    DagsterEvent,
    DagsterEventBatchMetadata,
)

from influencer_pipeline.run_pipeline import default_instance_yaml

PLAIN_YAML = "telemetry:\n  enabled: false\n"
PARTS = dg.DynamicPartitionsDefinition(name="videos")


@dg.asset(partitions_def=PARTS, backfill_policy=dg.BackfillPolicy.single_run())
def stats(context: dg.AssetExecutionContext) -> None:
    context.log.info(f"{len(context.partition_keys)} partitions")


def _planned(instance: dg.DagsterInstance, n: int) -> tuple[float, float]:
    run = instance.create_run_for_job(
        dg.Definitions(assets=[stats]).resolve_implicit_global_asset_job_def()
    )
    events = [
        DagsterEvent.build_asset_materialization_planned_event(
            "bench",
            "stats",
            AssetMaterializationPlannedData(dg.AssetKey("stats"), partition=f"{i}"),
        )
        for i in range(n)
    ]
    wall, cpu = time.perf_counter(), time.process_time()
    for i, event in enumerate(events):  # one batch, as Dagster reports a run's planned events
        batch = DagsterEventBatchMetadata("bench", i == n - 1)
        instance.report_dagster_event(event, run.run_id, logging.DEBUG, batch_metadata=batch)
    return (time.perf_counter() - wall) / n * 1000, (time.process_time() - cpu) / n * 1000


def _range_run(instance: dg.DagsterInstance, partitions: int) -> float:
    keys = [f"v{i:05d}" for i in range(partitions)]
    instance.add_dynamic_partitions("videos", keys)
    job = dg.Definitions(assets=[stats]).resolve_implicit_global_asset_job_def()
    start = time.perf_counter()
    result = job.execute_in_process(
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": keys[0],
            "dagster/asset_partition_range_end": keys[-1],
        },
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    assert result.success
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--partitions", type=int, default=64)
    args = parser.parse_args()
    print(f"{'event log':42s} {'ms/event wall':>14s} {'ms/event CPU':>13s} {'run s':>7s}")
    modes = (
        ("Dagster's default", False, "0"),
        ("deploy/dagster.sqlite.yaml, batches off", True, "0"),
        ("deploy/dagster.sqlite.yaml", True, "1000"),
    )
    for name, pooled, batch_size in modes:
        os.environ["DAGSTER_EVENT_BATCH_SIZE"] = batch_size
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp)
            (home / "dagster.yaml").write_text(
                default_instance_yaml(home) if pooled else PLAIN_YAML
            )
            with dg.DagsterInstance.from_config(str(home)) as instance:
                kind = type(instance.event_log_storage).__name__
                wall, cpu = _planned(instance, args.events)
                run_s = _range_run(instance, args.partitions)
        label = f"{kind} ({'batched' if batch_size != '0' else 'one by one'})"
        print(f"{label:42s} {wall:14.2f} {cpu:13.2f} {run_s:7.2f}  ({name})")


if __name__ == "__main__":
    main()
