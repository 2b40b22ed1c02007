"""Parquet files in the lake: atomic writes and parallel reads, on local disk or an fsspec path."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from upath import UPath

TEMP_PREFIX = "."
TEMP_SUFFIX = ".tmp"


def as_upath(path: str | os.PathLike[str] | UPath) -> UPath:
    """``path`` as a UPath (a local path or an fsspec URL such as ``s3://bucket/lake``)."""
    return path if isinstance(path, UPath) else UPath(path)


def is_local(path: UPath) -> bool:
    """True when ``path`` is on the local filesystem."""
    return getattr(path, "protocol", "") in ("", "file", "local")


def write_parquet_atomic(table: pa.Table, path: str | os.PathLike[str] | UPath) -> None:
    """Write ``table`` to ``path`` so readers see the old file or the new one, never a partial one.

    Local files are written to a hidden temp file in the same folder, flushed to disk and renamed

    the target (``os.replace`` is atomic on POSIX). Object stores publish an object only when its
    upload completes, so a direct write is already atomic there.
    """
    target = as_upath(path)
    if not is_local(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as handle:
            pq.write_table(table, handle, compression="zstd")
        return
    local = Path(target.path)
    local.parent.mkdir(parents=True, exist_ok=True)
    temp = local.with_name(f"{TEMP_PREFIX}{local.name}.{uuid.uuid4().hex}{TEMP_SUFFIX}")
    try:
        with open(temp, "wb") as handle:
            pq.write_table(table, handle, compression="zstd")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, local)
    finally:
        temp.unlink(missing_ok=True)


def read_parquet(
    path: str | os.PathLike[str] | UPath, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """Read one Parquet file (optionally only ``columns``) into a DataFrame."""
    target = as_upath(path)
    if is_local(target):
        table = pq.read_table(target.path, columns=list(columns) if columns else None)
    else:
        with target.open("rb") as handle:
            table = pq.read_table(handle, columns=list(columns) if columns else None)
    return table.to_pandas()


def read_parquet_many(
    paths: Sequence[str | os.PathLike[str] | UPath],
    columns: Sequence[str] | None = None,
    *,
    schema: pa.Schema | None = None,
    max_workers: int = 8,
) -> pd.DataFrame:
    """Read and join many Parquet files in parallel; missing files raise FileNotFoundError."""
    if not paths:
        if schema is None:
            return pd.DataFrame(columns=list(columns or []))
        selected = schema if not columns else pa.schema([schema.field(c) for c in columns])
        return selected.empty_table().to_pandas()

    def _read(path: str | os.PathLike[str] | UPath) -> pa.Table:
        target = as_upath(path)
        cols = list(columns) if columns else None
        if is_local(target):
            return pq.read_table(target.path, columns=cols)
        with target.open("rb") as handle:
            return pq.read_table(handle, columns=cols)

    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(paths)))) as pool:
        tables = list(pool.map(_read, paths))
    return pa.concat_tables(tables, promote_options="permissive").to_pandas()


def remove_stale_temp_files(folder: str | os.PathLike[str] | UPath) -> int:
    """Delete temp files left by writers killed mid-write; returns how many were removed."""
    root = as_upath(folder)
    if not is_local(root) or not Path(root.path).is_dir():
        return 0
    removed = 0
    for temp in Path(root.path).rglob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
        temp.unlink(missing_ok=True)
        removed += 1
    return removed
