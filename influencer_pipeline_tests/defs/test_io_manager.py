"""The lake's Parquet IO manager: atomic writes, one file per partition, typed round trips."""

from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow as pa
import pytest
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from influencer_pipeline import lake
from influencer_pipeline.defs.io_managers import ParquetLakeIOManagerFactory

LETTERS = dg.StaticPartitionsDefinition(["a", "b", "c", "d"])


@dg.asset(
    partitions_def=LETTERS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    metadata={"partition_column": "video_id"},
)
def per_letter(context: dg.AssetExecutionContext) -> pd.DataFrame:
    """One row per letter, twice for 'a'; 'c' has no rows."""
    rows = [
        {"video_id": key, "value": float(i)}
        for i, key in enumerate(context.partition_keys)
        for _ in range(2 if key == "a" else 0 if key == "c" else 1)
    ]
    return pd.DataFrame(rows, columns=["video_id", "value"])


@dg.asset(ins={"per_letter": dg.AssetIn(metadata={"columns": ["video_id"]})})
def letter_count(per_letter: pd.DataFrame) -> pd.DataFrame:
    """One row per letter with its row count."""
    return per_letter.groupby("video_id").size().rename("n").reset_index()


def _job(tmp_path: Path) -> dg.JobDefinition:
    defs = dg.Definitions(
        assets=[per_letter, letter_count],
        resources={"io_manager": ParquetLakeIOManagerFactory(base_path=str(tmp_path))},
        jobs=[
            dg.define_asset_job("letters", selection=["per_letter"]),
            dg.define_asset_job("count", selection=["letter_count"]),
        ],
    )
    return defs


def test_multi_partition_output_is_split_into_one_file_per_partition(tmp_path: Path) -> None:
    defs = _job(tmp_path)
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("letters").execute_in_process(
            instance=instance,
            tags={ASSET_PARTITION_RANGE_START_TAG: "a", ASSET_PARTITION_RANGE_END_TAG: "d"},
        )
        assert result.success
        files = sorted(p.name for p in (tmp_path / "per_letter").iterdir())
        assert files == ["a.parquet", "b.parquet", "c.parquet", "d.parquet"]
        assert len(lake.read_parquet(tmp_path / "per_letter" / "a.parquet")) == 2
        empty = lake.read_parquet(tmp_path / "per_letter" / "c.parquet")
        assert list(empty.columns) == ["video_id", "value"] and empty.empty
        materialized = instance.get_materialized_partitions(dg.AssetKey("per_letter"))
        assert materialized == {"a", "b", "c", "d"}

        counted = defs.resolve_job_def("count").execute_in_process(instance=instance)
        assert counted.success
        counts = lake.read_parquet(tmp_path / "letter_count.parquet")
        assert dict(zip(counts["video_id"], counts["n"], strict=True)) == {"a": 2, "b": 1, "d": 1}


def test_the_next_step_loads_what_this_process_wrote_unless_the_file_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    defs = _job(tmp_path)
    read: list[int] = []
    parent = lake.read_parquet_tables

    def counting(paths, *args, **kwargs):
        read.append(len(paths))
        return parent(paths, *args, **kwargs)

    monkeypatch.setattr(lake, "read_parquet_tables", counting)
    range_tags = {ASSET_PARTITION_RANGE_START_TAG: "a", ASSET_PARTITION_RANGE_END_TAG: "d"}
    with dg.instance_for_test() as instance:
        assert (
            defs.resolve_job_def("letters")
            .execute_in_process(instance=instance, tags=range_tags)
            .success
        )
        assert defs.resolve_job_def("count").execute_in_process(instance=instance).success
        assert read == [0]  # the four partitions from memory
        counts = lake.read_parquet(tmp_path / "letter_count.parquet")
        assert dict(zip(counts["video_id"], counts["n"], strict=True)) == {"a": 2, "b": 1, "d": 1}
        # another writer (another process, a user) replaces b's file: b is read from disk
        replaced = pa.table({"video_id": ["b"] * 3, "value": [1.0, 2.0, 3.0]})
        lake.write_parquet_atomic(replaced, tmp_path / "per_letter" / "b.parquet")
        assert defs.resolve_job_def("count").execute_in_process(instance=instance).success
        assert read == [0, 1]
        counts = lake.read_parquet(tmp_path / "letter_count.parquet")
        assert dict(zip(counts["video_id"], counts["n"], strict=True)) == {"a": 2, "b": 3, "d": 1}


@dg.asset(
    partitions_def=LETTERS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    metadata={"partition_column": "video_id"},
)
def interleaved(context: dg.AssetExecutionContext) -> pd.DataFrame:
    """Rows of 'a' and 'b' interleaved, 'd' in one run of rows; 'c' has none."""
    keys = ["a", "b", "a", "d", "d", "b", "a"]
    return pd.DataFrame({"video_id": keys, "value": [float(i) for i in range(len(keys))]})


def test_each_file_gets_its_partitions_rows_in_order(tmp_path: Path) -> None:
    defs = dg.Definitions(
        assets=[interleaved],
        resources={"io_manager": ParquetLakeIOManagerFactory(base_path=str(tmp_path))},
    )
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [interleaved],
            instance=instance,
            resources=defs.resources,
            tags={ASSET_PARTITION_RANGE_START_TAG: "a", ASSET_PARTITION_RANGE_END_TAG: "d"},
        )
        assert result.success
    values = {
        key: list(lake.read_parquet(tmp_path / "interleaved" / f"{key}.parquet")["value"])
        for key in "abcd"
    }
    assert values == {"a": [0.0, 2.0, 6.0], "b": [1.0, 5.0], "c": [], "d": [3.0, 4.0]}


def test_materialization_metadata_has_rows_schema_and_preview(tmp_path: Path) -> None:
    defs = _job(tmp_path)
    with dg.instance_for_test() as instance:
        defs.resolve_job_def("letters").execute_in_process(
            instance=instance,
            tags={ASSET_PARTITION_RANGE_START_TAG: "a", ASSET_PARTITION_RANGE_END_TAG: "b"},
        )
        events = instance.fetch_materializations(dg.AssetKey("per_letter"), limit=10).records
        by_partition = {
            e.event_log_entry.dagster_event.partition: e.asset_materialization.metadata
            for e in events
        }
    # each partition's own rows ('a' has two, 'b' one), not the step's three
    assert {k: m["dagster/row_count"].value for k, m in by_partition.items()} == {"a": 2, "b": 1}
    preview_a, preview_b = by_partition["a"]["preview"].value, by_partition["b"]["preview"].value
    assert "| video_id | value |" in preview_a
    assert preview_a.count("| a |") == 2 and "| b |" not in preview_a
    assert preview_b.count("| b |") == 1 and "| a |" not in preview_b
    for metadata in by_partition.values():
        assert {c.name for c in metadata["dagster/column_schema"].schema.columns} == {
            "video_id",
            "value",
        }


def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "t.parquet"
    lake.write_parquet_atomic(pa.table({"x": [1, 2, 3]}), target)
    lake.write_parquet_atomic(pa.table({"x": [4]}), target)
    assert lake.read_parquet(target)["x"].tolist() == [4]
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]


def test_failed_write_keeps_the_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "t.parquet"
    lake.write_parquet_atomic(pa.table({"x": [1, 2, 3]}), target)

    class Exploding:
        """Not a table: pyarrow fails while writing."""

    with pytest.raises((TypeError, AttributeError)):
        lake.write_parquet_atomic(Exploding(), target)  # type: ignore[arg-type]
    assert lake.read_parquet(target)["x"].tolist() == [1, 2, 3]
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]


def test_stale_temp_files_are_removed(tmp_path: Path) -> None:
    (tmp_path / "video_frames").mkdir()
    (tmp_path / "video_frames" / ".abc.parquet.0123.tmp").write_bytes(b"partial")
    (tmp_path / "video_frames" / "abc.parquet").write_bytes(b"")
    assert lake.remove_stale_temp_files(tmp_path) == 1
    assert [p.name for p in (tmp_path / "video_frames").iterdir()] == ["abc.parquet"]


def test_schema_mismatch_is_a_clear_error() -> None:
    from influencer_pipeline.lake_schema import VIDEO_FILES, to_arrow

    with pytest.raises(ValueError, match=r"missing \['video_url'"):
        to_arrow(pd.DataFrame({"video_id": ["x"]}), VIDEO_FILES)
