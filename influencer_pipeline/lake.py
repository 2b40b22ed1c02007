"""Parquet files in the lake: atomic writes and parallel reads, on local disk or an fsspec path."""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from upath import UPath

REMOTE_READ_ATTEMPTS = 3
TEMP_PREFIX = "."
TEMP_SUFFIX = ".tmp"


def as_upath(path: str | os.PathLike[str] | UPath) -> UPath:
    """``path`` as a UPath (a local path or an fsspec URL such as ``s3://bucket/lake``)."""
    return path if isinstance(path, UPath) else UPath(path)


def is_local(path: UPath) -> bool:
    """True when ``path`` is on the local filesystem."""
    return getattr(path, "protocol", "") in ("", "file", "local")


def write_parquet_atomic(table: pa.Table, path: str | os.PathLike[str] | UPath) -> None:
    """Write ``table`` as Parquet (zstd) to ``path`` atomically (see ``write_bytes_atomic``)."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    write_bytes_atomic(sink.getvalue().to_pybytes(), path)


def write_bytes_atomic(data: bytes, path: str | os.PathLike[str] | UPath) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never a partial one.

    Local files are written to a hidden temp file in the same folder, flushed to disk and renamed
    onto the target (``os.replace`` is atomic on POSIX). On an object store the bytes are uploaded
    in one request (``pipe_file``: a PUT, or a multipart upload that the store publishes only when
    it completes), so a writer that fails or dies leaves no object behind. (An fsspec file object
    would not do: leaving its ``with`` block on an error commits what was written so far.)
    """
    target = as_upath(path)
    if not is_local(target):
        target.fs.pipe_file(target.path, data)
        return
    local = Path(target.path)
    local.parent.mkdir(parents=True, exist_ok=True)
    temp = local.with_name(f"{TEMP_PREFIX}{local.name}.{uuid.uuid4().hex}{TEMP_SUFFIX}")
    try:
        write_synced(temp, data)
        os.replace(temp, local)
        fsync_dir(local.parent)
    finally:
        temp.unlink(missing_ok=True)


def write_synced(path: Path, data: bytes) -> None:
    """Write ``data`` to the local file ``path`` and flush it to disk (not atomic by itself)."""
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def fsync_file(path: Path) -> None:
    """Flush the local file ``path`` to disk (before renaming it into place)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: Path) -> None:
    """Flush a local folder's entries (a rename into it) to disk; a no-op where unsupported."""
    with contextlib.suppress(OSError):
        fsync_file(folder)


def read_parquet(
    path: str | os.PathLike[str] | UPath, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """Read one Parquet file (optionally only ``columns``) into a DataFrame."""
    target = as_upath(path)
    cols = list(columns) if columns else None
    if is_local(target):
        table = pq.read_table(target.path, columns=cols)
    else:
        table = _read_remote(target, lambda handle: pq.read_table(handle, columns=cols))
    return table.to_pandas()


def _replaced_during_read() -> tuple[type[BaseException], ...]:
    """The errors that say an object changed between two range reads of one open file."""
    try:
        from s3fs.utils import FileExpired
    except ImportError:
        return ()
    return (FileExpired,)


def _read_remote(target: UPath, read: Callable[[Any], pa.Table]) -> pa.Table:
    """``read`` an object-store file; if it was replaced while being read (s3fs pins every range
    request to the ETag seen at open: FileExpired), read it again, so a reader gets the old or the
    new version whole, never a mix."""
    replaced = _replaced_during_read()
    for attempt in range(REMOTE_READ_ATTEMPTS):
        try:
            with target.open("rb") as handle:
                return read(handle)
        except replaced:
            if attempt == REMOTE_READ_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def read_parquet_many(
    paths: Sequence[str | os.PathLike[str] | UPath],
    columns: Sequence[str] | None = None,
    *,
    schema: pa.Schema | None = None,
    max_workers: int = 8,
) -> pd.DataFrame:
    """Read and join many Parquet files in parallel; missing files raise FileNotFoundError."""
    tables = read_parquet_tables(paths, columns, schema=schema, max_workers=max_workers)
    return join_tables(tables, columns, schema)


def read_parquet_tables(
    paths: Sequence[str | os.PathLike[str] | UPath],
    columns: Sequence[str] | None = None,
    *,
    schema: pa.Schema | None = None,
    max_workers: int = 8,
) -> list[pa.Table]:
    """One Arrow table per file, read in parallel (``columns`` only; one a file predates comes
    back as nulls of its ``schema`` type); missing files raise FileNotFoundError."""
    if not paths:
        return []

    def _read(path: str | os.PathLike[str] | UPath) -> pa.Table:
        target = as_upath(path)
        cols = list(columns) if columns else None
        if is_local(target):
            return _with_columns(pq.ParquetFile(target.path), cols, schema)
        return _read_remote(
            target, lambda handle: _with_columns(pq.ParquetFile(handle), cols, schema)
        )

    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(paths)))) as pool:
        return list(pool.map(_read, paths))


def join_tables(
    tables: Sequence[pa.Table], columns: Sequence[str] | None, schema: pa.Schema | None
) -> pd.DataFrame:
    """The rows of ``tables`` in order as one DataFrame; none: an empty table of ``columns``."""
    if not tables:
        if schema is None:
            return pd.DataFrame(columns=list(columns or []))
        selected = schema if not columns else pa.schema([schema.field(c) for c in columns])
        return selected.empty_table().to_pandas()
    return pa.concat_tables(tables, promote_options="permissive").to_pandas()


def _with_columns(
    file: pq.ParquetFile, columns: list[str] | None, schema: pa.Schema | None
) -> pa.Table:
    """Read ``columns`` of ``file``; a column the file predates comes back as nulls."""
    present = set(file.schema_arrow.names)
    if columns is None or all(c in present for c in columns):
        return file.read(columns=columns)
    table = file.read(columns=[c for c in columns if c in present])
    for name in columns:
        if name not in present:
            kind = schema.field(name).type if schema is not None and name in schema.names else None
            table = table.append_column(name, pa.nulls(table.num_rows, kind or pa.null()))
    return table.select(columns)


@contextlib.contextmanager
def local_copy(path: str | os.PathLike[str] | UPath) -> Iterator[Path]:
    """A local file with the bytes of ``path``: the file itself when it is local, else a temporary
    download (in ``$TMPDIR``, same name; removed on exit). FileNotFoundError when it is missing.

    For readers that need a real file (PyAV, spreadsheet readers) on an object-store lake."""
    target = as_upath(path)
    if is_local(target):
        yield Path(target.path)
        return
    with tempfile.TemporaryDirectory(prefix="influencer_lake_") as folder:
        local = Path(folder) / target.name
        target.fs.get_file(target.path, str(local))
        yield local


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
