"""The lake's Parquet IO manager: one file per partition, atomic writes, schema-checked tables.

Built on Dagster's ``UPathIOManager`` so the same code writes to local disk and to object storage
(``s3://``, ``gs://``, ``az://`` through fsspec; ``test_s3_lake.py`` runs the demo against an S3
API server). Writes go through ``lake.write_parquet_atomic`` (temp file and rename locally, one
upload on an object store). Three additions to the base class:

- an output covering several partitions (a multi-partition run, DESIGN §5) is one DataFrame that is
  split by its partition column (asset metadata ``partition_column``) into one file per partition;
  a partition without rows still gets an empty, typed file, so "materialized" means "on disk";
  each partition's materialization carries its own row count and preview;
- loading several partitions returns one concatenated DataFrame, read in parallel, optionally only
  some columns (input metadata ``columns``); missing partitions are skipped when the input sets
  ``allow_missing_partitions``.
- a partition file this process wrote and nobody has replaced since is not read back: its Arrow
  table is still in memory (``lake_cache``; a CLI run's later steps and cross-video run).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa
from pydantic import PrivateAttr
from upath import UPath

from influencer_pipeline import lake, lake_schema
from influencer_pipeline.defs.metadata import partition_table_metadata, table_metadata
from influencer_pipeline.defs.partition_metadata import attach_to_step
from influencer_pipeline.lake_cache import WRITTEN
from influencer_pipeline.lake_lock import SharedHold
from influencer_pipeline.paths import lake_root

WRITE_THREADS = 4  # partition files of one output written at once


def _asset_name(context: dg.InputContext | dg.OutputContext) -> str:
    return context.asset_key.path[-1]


def _schema_for(context: dg.InputContext | dg.OutputContext) -> pa.Schema | None:
    return lake_schema.TABLES.get(_asset_name(context))


def _as_table(df: pd.DataFrame, schema: pa.Schema | None) -> pa.Table:
    if schema is None:
        return pa.Table.from_pandas(df, preserve_index=False)
    return lake_schema.to_arrow(df, schema)


def _rows_of(table: pa.Table, positions: np.ndarray | None) -> pa.Table:
    """The rows of ``table`` at ``positions``: a zero-copy slice when they are one run of rows
    (a step's table holds each video's rows together), else a copy; none: an empty table."""
    if positions is None or len(positions) == 0:
        return table.slice(0, 0)
    first = int(positions[0])
    if int(positions[-1]) - first == len(positions) - 1 and bool(np.all(np.diff(positions) == 1)):
        return table.slice(first, len(positions))
    return table.take(positions)


class ParquetLakeIOManager(dg.UPathIOManager):
    """Stores each asset as ``<lake>/<asset>.parquet`` or ``<lake>/<asset>/<partition>.parquet``."""

    extension = ".parquet"

    def dump_to_path(self, context: dg.OutputContext, obj: pd.DataFrame, path: UPath) -> None:
        lake.write_parquet_atomic(_as_table(obj, _schema_for(context)), path)

    def load_from_path(self, context: dg.InputContext, path: UPath) -> pd.DataFrame:
        columns = (context.definition_metadata or {}).get("columns")
        return lake.read_parquet(path, columns)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:
            return
        if not isinstance(obj, pd.DataFrame):
            raise TypeError(
                f"{context.asset_key.to_user_string()}: expected a DataFrame, got {type(obj)}"
            )
        schema = _schema_for(context)
        if not (context.has_asset_partitions and len(context.asset_partition_keys) > 1):
            super().handle_output(context, obj)
            return
        rows = self._write_partitions(context, obj, schema)
        # each partition's materialization: its own row count and preview, not the step's
        keys = list(context.asset_partition_keys)
        by_key = partition_table_metadata(obj, rows, keys, schema)
        step = getattr(context, "_step_context", None)  # None: an OutputContext built by hand
        if step is None or not attach_to_step(step, context.asset_key, keys, by_key):
            context.add_output_metadata(table_metadata(obj, schema))  # the whole step's

    def get_metadata(self, context: dg.OutputContext, obj: Any) -> dict[str, Any]:
        return table_metadata(obj, _schema_for(context)) if isinstance(obj, pd.DataFrame) else {}

    def _write_partitions(
        self, context: dg.OutputContext, df: pd.DataFrame, schema: pa.Schema | None
    ) -> dict[str, np.ndarray]:
        """Write one file per partition of the step; return each partition's row positions."""
        column = (context.definition_metadata or {}).get("partition_column")
        if not column or column not in df.columns:
            raise ValueError(
                f"{context.asset_key.to_user_string()}: a multi-partition output needs the asset "
                f"metadata 'partition_column' naming a column of the table (got {column!r})"
            )
        paths = self._get_paths_for_partitions(context)
        unknown = set(df[column].unique()) - set(paths)
        if unknown:
            raise ValueError(f"rows for partitions outside this run: {sorted(unknown)[:5]}")
        # converted to Arrow once and cut by row positions: the same files as converting each
        # partition's rows on their own, without 157 small conversions holding the GIL
        table = _as_table(df, schema)
        rows = df.groupby(column, sort=False).indices
        for folder in {path.parent for path in paths.values()}:
            self.make_directory(folder)

        def write(item: tuple[str, UPath]) -> None:
            partition_key, path = item
            part = _rows_of(table, rows.get(partition_key))
            lake.write_parquet_atomic(part, path)
            if lake.is_local(path):  # read again by the next steps of this process's runs
                WRITTEN.put(path.path, part)

        # Parquet encoding, fsync and upload leave the GIL: a 157-video step wrote for ~0.7 s
        with ThreadPoolExecutor(max_workers=max(1, min(WRITE_THREADS, len(paths)))) as pool:
            list(pool.map(write, paths.items()))
        return rows

    def load_partitions(self, context: dg.InputContext) -> pd.DataFrame:
        keys = list(context.asset_partition_keys)
        paths = self._get_paths_for_partitions(context)
        allow_missing = bool((context.definition_metadata or {}).get("allow_missing_partitions"))
        present = [paths[k] for k in keys if self.path_exists(paths[k])]
        if len(present) < len(keys):
            missing = [k for k in keys if not self.path_exists(paths[k])]
            if not allow_missing:
                raise FileNotFoundError(
                    f"{len(missing)} partitions of {context.asset_key.to_user_string()} are "
                    "not in the "
                    f"lake, e.g. {missing[:3]}"
                )
            context.log.warning(
                f"{len(missing)} of {len(keys)} partitions of "
                f"{context.asset_key.to_user_string()} are missing; continuing without them"
            )
        columns = (context.definition_metadata or {}).get("columns")
        return _read_partitions(present, columns, _schema_for(context))


def _read_partitions(
    paths: list[UPath], columns: list[str] | None, schema: pa.Schema | None
) -> pd.DataFrame:
    """The partition files' rows in order: the tables this process wrote (``lake_cache``) where
    their files are unchanged, the others read from the lake."""
    tables = [WRITTEN.get(p.path, columns) if lake.is_local(p) else None for p in paths]
    missing = [p for p, t in zip(paths, tables, strict=True) if t is None]
    read = iter(lake.read_parquet_tables(missing, columns, schema=schema))
    return lake.join_tables([t if t is not None else next(read) for t in tables], columns, schema)


class ParquetLakeIOManagerFactory(dg.ConfigurableIOManagerFactory):
    """Configurable entry point: ``base_path`` is the lake root (a folder or an fsspec URL).

    A step that reads or writes the lake holds it shared (``lake_lock``) while it runs, so it
    never interleaves with a CLI invocation holding the lake exclusively.
    """

    base_path: str = ""  # empty: $INFLUENCER_LAKE, else the project's data_lake/
    _hold: Any = PrivateAttr(default=None)

    def create_io_manager(self, context: dg.InitResourceContext) -> ParquetLakeIOManager:
        root = self.base_path or lake_root()
        self._hold = SharedHold(root, "this Dagster run")
        return ParquetLakeIOManager(base_path=UPath(root))

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._hold is not None:
            self._hold.release()
