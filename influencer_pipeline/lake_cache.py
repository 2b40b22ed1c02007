"""Partition tables this process wrote, served again while their files are unchanged.

A CLI run's steps run in one process: ``video_frames`` is written by one step and read by the
next three, ``video_faces`` by five steps of the cross-video run. Reading a partition file back
costs what writing it cost (Parquet decoding, most of a 157-video load); a table this process
wrote is still in memory. ``PartitionTableCache`` keeps each written partition's Arrow table with
its file's identity (device, inode, size, modification time): a file replaced since, by this
process or any other, no longer matches and is read from disk. Local files only; at most
``max_bytes`` of tables, the least recently used dropped first.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence

import pyarrow as pa

DEFAULT_MAX_BYTES = 128 * 2**20  # a 157-video run writes ~78 MiB of per-video tables

Identity = tuple[int, int, int, int]


def file_identity(path: str) -> Identity | None:
    """(device, inode, size, mtime in ns) of ``path``; None when it cannot be read."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class PartitionTableCache:
    """Arrow tables by local file path, each valid while its file has the identity it had."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        self.max_bytes = max_bytes
        self._tables: OrderedDict[str, tuple[Identity, pa.Table, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def put(self, path: str, table: pa.Table) -> None:
        """Remember ``table`` as the content of ``path`` (call it after writing the file)."""
        identity = file_identity(path)
        size = table.nbytes
        with self._lock:
            self._drop(path)
            if identity is None or size > self.max_bytes:
                return
            self._tables[path] = (identity, table, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                self._drop(next(iter(self._tables)))

    def get(self, path: str, columns: Sequence[str] | None = None) -> pa.Table | None:
        """The table of ``path`` (only ``columns``, in that order) when the file is unchanged."""
        identity = file_identity(path)
        with self._lock:
            entry = self._tables.get(path)
            if entry is None:
                return None
            if entry[0] != identity:
                self._drop(path)
                return None
            self._tables.move_to_end(path)
        table = entry[1]
        if columns is None:
            return table
        if not all(c in table.column_names for c in columns):
            return None
        return table.select(list(columns))

    def clear(self) -> None:
        """Forget every table."""
        with self._lock:
            self._tables.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._tables)

    def _drop(self, path: str) -> None:
        entry = self._tables.pop(path, None)
        if entry is not None:
            self._bytes -= entry[2]


WRITTEN = PartitionTableCache()  # the process's partition tables (``defs.io_managers``)
