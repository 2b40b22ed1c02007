"""Per-partition metadata gathered during a range step lands on each partition's materialization."""

from concurrent.futures import ThreadPoolExecutor

import dagster as dg
import pytest

from influencer_pipeline.defs.partition_metadata import PartitionNotes

CLIPS = dg.DynamicPartitionsDefinition(name="clips")
RANGE = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")


def _run(asset: dg.AssetsDefinition, keys: list[str], other: list[str]) -> dg.DagsterInstance:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(CLIPS.name, keys + other)
    job = dg.Definitions(
        assets=[asset], jobs=[dg.define_asset_job("clip_job", [asset])]
    ).resolve_job_def("clip_job")
    result = job.execute_in_process(
        instance=instance, tags=dict(zip(RANGE, (keys[0], keys[-1]), strict=True))
    )
    assert result.success
    return instance


def _metadata(instance: dg.DagsterInstance, key: str) -> dict[str, object]:
    record = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("clip_stats"), asset_partitions=[key]),
        limit=1,
    ).records[0]
    return {k: v.value for k, v in record.asset_materialization.metadata.items()}


def test_each_partition_gets_its_own_metadata_gathered_from_worker_threads() -> None:
    keys = [f"clip{i:02d}" for i in range(12)]
    attached: list[bool] = []

    @dg.asset(partitions_def=CLIPS, backfill_policy=dg.BackfillPolicy.single_run())
    def clip_stats(context: dg.AssetExecutionContext) -> None:
        notes = PartitionNotes()

        def work(key: str) -> None:
            notes.add(key, {"length": len(key)})
            notes.add(key, {"index": int(key[-2:])})

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(work, context.partition_keys))
        attached.append(notes.attach(context))

    instance = _run(clip_stats, keys, ["later"])
    assert attached == [True]  # the one-go path of the pinned Dagster, not the per-key fallback
    for i, key in enumerate(keys):
        metadata = _metadata(instance, key)
        assert metadata["length"] == 6 and metadata["index"] == i, key


def test_metadata_for_a_partition_outside_the_step_is_refused() -> None:
    @dg.asset(partitions_def=CLIPS, backfill_policy=dg.BackfillPolicy.single_run())
    def clip_stats(context: dg.AssetExecutionContext) -> None:
        notes = PartitionNotes()
        notes.add("outside", {"length": 7})
        notes.attach(context)

    with pytest.raises(dg.DagsterInvariantViolationError, match="does not target"):
        _run(clip_stats, ["clip00", "clip01"], ["outside"])


def test_attach_empties_the_notes() -> None:
    notes = PartitionNotes()
    notes.add("a", {"x": 1})
    assert notes.get("a") == {"x": 1}

    @dg.asset(partitions_def=CLIPS, backfill_policy=dg.BackfillPolicy.single_run())
    def clip_stats(context: dg.AssetExecutionContext) -> None:
        notes.attach(context)

    instance = _run(clip_stats, ["a", "b"], [])
    assert notes.get("a") == {} and _metadata(instance, "a")["x"] == 1
