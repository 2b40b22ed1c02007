"""Per-partition metadata of a 64-video step: ``add_asset_metadata`` per key vs ``PartitionNotes``.

    python benchmarks/partition_metadata.py [--sizes 200 10000 100000] [--range 64]

For each lake size N (dynamic partitions in a local SQLite instance), one range run of ``--range``
partitions of a trivial asset that attaches one small metadata dict per partition, either
through ``context.add_asset_metadata(..., partition_key=)`` (Dagster checks every key against the
range: two partition look-ups and the full key list per call) or through
``defs.partition_metadata.PartitionNotes`` (keys checked once). Prints the seconds spent attaching
and the whole run's wall time (Dagster's own per-partition events included).
"""

import argparse
import tempfile
import time

import dagster as dg

from influencer_pipeline.defs.partition_metadata import PartitionNotes

VIDEOS = dg.DynamicPartitionsDefinition(name="videos")
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")


def _asset(way: str, seconds: list[float]) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"stats_{way}", partitions_def=VIDEOS, backfill_policy=dg.BackfillPolicy.single_run()
    )
    def stats(context: dg.AssetExecutionContext) -> None:
        keys = context.partition_keys
        start = time.perf_counter()
        if way == "per_key":
            for key in keys:
                context.add_asset_metadata({"frames": 18, "video": key}, partition_key=key)
        else:
            notes = PartitionNotes()
            for key in keys:
                notes.add(key, {"frames": 18, "video": key})
            notes.attach(context)
        seconds.append(time.perf_counter() - start)

    return stats


def measure(size: int, span: int) -> dict[str, tuple[float, float]]:
    """(seconds attaching, seconds of the run) for ``span`` partitions' metadata in a lake of
    ``size``, both ways."""
    out: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as home:
        instance = dg.DagsterInstance.local_temp(home)
        keys = [f"{i:016x}" for i in range(size)]
        instance.add_dynamic_partitions(VIDEOS.name, keys)
        for way in ("per_key", "notes"):
            seconds: list[float] = []
            asset = _asset(way, seconds)
            job = dg.Definitions(
                assets=[asset], jobs=[dg.define_asset_job(f"job_{way}", [asset])]
            ).resolve_job_def(f"job_{way}")
            tags = dict(zip(RANGE_TAGS, (keys[-span], keys[-1]), strict=True))
            start = time.perf_counter()
            result = job.execute_in_process(instance=instance, tags=tags, run_config=QUIET)
            assert result.success
            out[way] = (seconds[0], time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 10_000, 100_000])
    parser.add_argument("--range", type=int, default=64, dest="span")
    args = parser.parse_args()
    print(f"seconds attaching the metadata of {args.span} partitions (whole run in brackets)")
    print(f"{'partitions':>10}  {'add_asset_metadata':>24}  {'PartitionNotes':>22}")
    for size in args.sizes:
        got = measure(size, min(args.span, size))
        cells = [f"{got[w][0]:.3f} ({got[w][1]:.2f} s run)" for w in ("per_key", "notes")]
        print(f"{size:>10}  {cells[0]:>24}  {cells[1]:>22}")


if __name__ == "__main__":
    main()
