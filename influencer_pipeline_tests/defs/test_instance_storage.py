"""PooledSqliteEventLogStorage: Dagster's SQLite event log, written through open connections."""

from pathlib import Path

import dagster as dg
import pytest
import yaml

from influencer_pipeline.defs import instance_storage
from influencer_pipeline.defs.instance_storage import PooledSqliteEventLogStorage
from influencer_pipeline.run_pipeline import default_instance_yaml, prepare_dagster_home

LETTERS = dg.StaticPartitionsDefinition([f"p{i:02d}" for i in range(12)])


@dg.asset(partitions_def=LETTERS)
def lettered(context: dg.AssetExecutionContext) -> None:
    context.add_output_metadata({"key": context.partition_key})


@dg.asset_check(asset=lettered)
def lettered_ok() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


DEFS = dg.Definitions(assets=[lettered], asset_checks=[lettered_ok])


def _instance(home: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(home))


def _materialize_all(instance: dg.DagsterInstance) -> None:
    job = DEFS.resolve_implicit_global_asset_job_def()
    for key in LETTERS.get_partition_keys():
        assert job.execute_in_process(instance=instance, partition_key=key).success


def _materialized(instance: dg.DagsterInstance) -> set[str]:
    records = instance.fetch_materializations(dg.AssetKey("lettered"), limit=100).records
    return {r.partition_key for r in records if r.partition_key}


def test_a_new_home_uses_it_where_dagster_keeps_its_event_log(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert prepare_dagster_home() == home.resolve()
    config = yaml.safe_load((home / "dagster.yaml").read_text())
    assert config["event_log_storage"]["class"] == "PooledSqliteEventLogStorage"
    assert config["event_log_storage"]["config"]["base_dir"] == str(home / "history" / "runs")
    with _instance(home) as instance:
        storage = instance.event_log_storage
        assert isinstance(storage, PooledSqliteEventLogStorage)
        _materialize_all(instance)
        assert _materialized(instance) == set(LETTERS.get_partition_keys())
        assert len(storage._engines) <= instance_storage.OPEN_SHARDS  # runs' shards closed
    assert (home / "history" / "runs" / "index.db").is_file()


def test_the_same_files_read_by_dagsters_own_storage(tmp_path):
    """What the pooled storage wrote, Dagster's default SQLite storage reads (another process's
    view: its own connections), and the other way round."""
    pooled, plain = tmp_path / "pooled", tmp_path / "plain"
    for home in (pooled, plain):
        home.mkdir()
    (pooled / "dagster.yaml").write_text(default_instance_yaml(pooled))
    (plain / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with _instance(pooled) as instance:
        _materialize_all(instance)
    # Dagster's default instance on the same folder: the default SQLite event log, same files
    with _instance(plain) as reader:
        assert type(reader.event_log_storage).__name__ == "SqliteEventLogStorage"
    (plain / "dagster.yaml").unlink()
    (pooled / "dagster.yaml").rename(tmp_path / "pooled.yaml")
    (pooled / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with _instance(pooled) as reader:
        assert type(reader.event_log_storage).__name__ == "SqliteEventLogStorage"
        assert _materialized(reader) == set(LETTERS.get_partition_keys())
        checks = reader.event_log_storage.get_asset_check_execution_history(
            dg.AssetCheckKey(dg.AssetKey("lettered"), "lettered_ok"), limit=100
        )
        assert len(checks) == len(LETTERS.get_partition_keys())


def test_a_reader_sees_each_committed_event_while_the_writer_keeps_its_connections(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(default_instance_yaml(home))
    with _instance(home) as writer, _instance(home) as reader:
        job = DEFS.resolve_implicit_global_asset_job_def()
        for n, key in enumerate(LETTERS.get_partition_keys()[:4], start=1):
            assert job.execute_in_process(instance=writer, partition_key=key).success
            assert len(_materialized(reader)) == n


def test_wipe_closes_what_it_deletes_and_writing_goes_on(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(default_instance_yaml(home))
    with _instance(home) as instance:
        _materialize_all(instance)
        instance.event_log_storage.wipe()
        assert set(instance.event_log_storage._engines) <= {"index"}  # no deleted run's file
        assert _materialized(instance) == set()
        job = DEFS.resolve_implicit_global_asset_job_def()
        assert job.execute_in_process(instance=instance, partition_key="p03").success
        assert _materialized(instance) == {"p03"}


def test_without_base_dir_it_follows_dagster_home(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    storage = PooledSqliteEventLogStorage()
    assert storage._base_dir == str(tmp_path / "history" / "runs")
    storage.dispose()
    monkeypatch.delenv("DAGSTER_HOME")
    with pytest.raises(dg.DagsterInvariantViolationError, match="DAGSTER_HOME"):
        PooledSqliteEventLogStorage()


def test_a_table_found_once_is_not_looked_up_again(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(default_instance_yaml(home))
    looked_up: list[str] = []
    parent = instance_storage.SqliteEventLogStorage.has_table

    def counting(self, table_name: str) -> bool:
        looked_up.append(table_name)
        return parent(self, table_name)

    monkeypatch.setattr(instance_storage.SqliteEventLogStorage, "has_table", counting)
    with _instance(home) as instance:
        storage = instance.event_log_storage
        _materialize_all(instance)  # 12 tagged materializations and 12 check results
        assert _materialized(instance) == set(LETTERS.get_partition_keys())
        # Dagster asks before each tagged materialization and check result: once each here
        assert looked_up.count("asset_event_tags") == looked_up.count("asset_check_executions") == 1
        assert storage.has_table("asset_event_tags") and storage.has_table("dynamic_partitions")
        assert not storage.has_table("no_such_table") and not storage.has_table("no_such_table")
        assert looked_up.count("no_such_table") == 2  # a missing table is asked for each time
        storage.wipe()
        assert storage.has_table("asset_event_tags")
        assert looked_up.count("asset_event_tags") == 2  # asked for again after the wipe


@dg.asset(partitions_def=LETTERS, backfill_policy=dg.BackfillPolicy.single_run())
def ranged(context: dg.AssetExecutionContext) -> None:
    context.log.info(f"{len(context.partition_keys)} partitions")


def _range_run(instance: dg.DagsterInstance) -> None:
    keys = LETTERS.get_partition_keys()
    job = dg.Definitions(assets=[ranged]).resolve_implicit_global_asset_job_def()
    tags = {
        "dagster/asset_partition_range_start": keys[0],
        "dagster/asset_partition_range_end": keys[-1],
    }
    assert job.execute_in_process(instance=instance, tags=tags).success


def _asset_events(instance: dg.DagsterInstance, kind: dg.DagsterEventType) -> list[str]:
    """The partition of each ``kind`` event of ``ranged`` in the cross-run index."""
    records = instance.event_log_storage.get_event_records(
        dg.EventRecordsFilter(kind, asset_key=dg.AssetKey("ranged")), limit=1000
    )
    return sorted(r.partition_key or "" for r in records)


def _pooled_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(default_instance_yaml(home))
    return home


def test_a_range_run_stores_its_planned_and_done_materializations_in_batches(tmp_path, monkeypatch):
    monkeypatch.delenv(instance_storage.EVENT_BATCH_ENV, raising=False)
    batches: list[list[str]] = []
    parent = PooledSqliteEventLogStorage.store_event_batch

    def recording(self, events):
        batches.append([e.dagster_event_type.value for e in events])
        parent(self, events)

    monkeypatch.setattr(PooledSqliteEventLogStorage, "store_event_batch", recording)
    home = _pooled_home(tmp_path)
    with _instance(home) as instance:
        assert instance_storage.os.environ[instance_storage.EVENT_BATCH_ENV] == "1000"
        _range_run(instance)
        keys = sorted(LETTERS.get_partition_keys())
        assert _asset_events(instance, dg.DagsterEventType.ASSET_MATERIALIZATION) == keys
        planned = dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED
        assert _asset_events(instance, planned) == keys
    assert sorted(len(b) for b in batches) == [12, 12]  # the run's plan, the step's output
    # Dagster's own storage reads the same records from the files
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with _instance(home) as reader:
        assert type(reader.event_log_storage).__name__ == "SqliteEventLogStorage"
        assert reader.get_materialized_partitions(dg.AssetKey("ranged")) == set(keys)


def test_a_failed_batch_keeps_nothing_and_dagster_stores_its_events_one_by_one(
    tmp_path, monkeypatch
):
    monkeypatch.setenv(instance_storage.EVENT_BATCH_ENV, "1000")
    parent = instance_storage.SqliteEventLogStorage.store_event
    state = {"calls": 0, "failed": False}

    def failing_once(self, event):
        state["calls"] += 1
        if getattr(self._batch, "conns", None) and state["calls"] > 20 and not state["failed"]:
            state["failed"] = True  # the 21st event of a batch: the step's materializations
            raise OSError("disk full")
        parent(self, event)

    monkeypatch.setattr(instance_storage.SqliteEventLogStorage, "store_event", failing_once)
    with _instance(_pooled_home(tmp_path)) as instance:
        _range_run(instance)
        assert state["failed"]
        keys = sorted(LETTERS.get_partition_keys())  # each once: the failed batch left none
        assert _asset_events(instance, dg.DagsterEventType.ASSET_MATERIALIZATION) == keys
        planned = dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED
        assert _asset_events(instance, planned) == keys


def test_batches_stay_off_where_the_user_turned_them_off(tmp_path, monkeypatch):
    monkeypatch.setenv(instance_storage.EVENT_BATCH_ENV, "0")
    batches: list[int] = []
    monkeypatch.setattr(
        PooledSqliteEventLogStorage, "store_event_batch", lambda self, ev: batches.append(len(ev))
    )
    with _instance(_pooled_home(tmp_path)) as instance:
        _range_run(instance)
        assert instance_storage.os.environ[instance_storage.EVENT_BATCH_ENV] == "0"
        keys = sorted(LETTERS.get_partition_keys())
        assert _asset_events(instance, dg.DagsterEventType.ASSET_MATERIALIZATION) == keys
    assert batches == []


def test_the_asset_keys_columns_are_read_once(tmp_path, monkeypatch):
    looked_up: list[str] = []
    parent = instance_storage.SqliteEventLogStorage._has_asset_key_col_on_connection

    def counting(self, conn, column_name):
        looked_up.append(column_name)
        return parent(self, conn, column_name)

    monkeypatch.setattr(
        instance_storage.SqliteEventLogStorage, "_has_asset_key_col_on_connection", counting
    )
    with _instance(_pooled_home(tmp_path)) as instance:
        _range_run(instance)  # 24 asset events, each asking for the column
        assert looked_up.count("last_materialization_timestamp") == 1
        assert not instance.event_log_storage.has_asset_key_col("no_such_column")
        assert not instance.event_log_storage.has_asset_key_col("no_such_column")
        assert looked_up.count("no_such_column") == 2
