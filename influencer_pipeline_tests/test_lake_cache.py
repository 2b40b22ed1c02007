"""PartitionTableCache: tables this process wrote, served while their files are unchanged."""

import os
from pathlib import Path

import pyarrow as pa
import pytest

from influencer_pipeline import lake
from influencer_pipeline.lake_cache import PartitionTableCache


def _table(n: int, start: int = 0) -> pa.Table:
    return pa.table({"video_id": [f"v{i:06d}" for i in range(start, start + n)], "x": range(n)})


def _written(tmp_path: Path, name: str, table: pa.Table) -> str:
    path = tmp_path / f"{name}.parquet"
    lake.write_parquet_atomic(table, path)
    return str(path)


def test_a_written_table_comes_back_with_the_columns_asked_for(tmp_path):
    cache = PartitionTableCache()
    table = _table(3)
    path = _written(tmp_path, "a", table)
    cache.put(path, table)
    assert cache.get(path) is table
    assert cache.get(path, ["x", "video_id"]).column_names == ["x", "video_id"]
    assert cache.get(path, ["x", "no_such_column"]) is None  # read from the file instead
    assert cache.get(str(tmp_path / "never_written.parquet")) is None


def test_a_file_replaced_since_is_read_again_whoever_replaced_it(tmp_path):
    cache = PartitionTableCache()
    path = _written(tmp_path, "a", _table(3))
    cache.put(path, _table(3))
    lake.write_parquet_atomic(_table(3, start=10), path)  # another writer, same size
    assert cache.get(path) is None
    assert len(cache) == 0
    cache.put(path, _table(2))
    os.utime(path, ns=(1, 1))  # touched in place: another modification time
    assert cache.get(path) is None
    path_b = _written(tmp_path, "b", _table(1))
    cache.put(path_b, _table(1))
    os.remove(path_b)
    assert cache.get(path_b) is None


def test_the_least_recently_used_tables_go_first_beyond_max_bytes(tmp_path):
    tables = {name: _table(1000, start=i * 1000) for i, name in enumerate("abc")}
    size = tables["a"].nbytes
    cache = PartitionTableCache(max_bytes=2 * size)
    paths = {name: _written(tmp_path, name, t) for name, t in tables.items()}
    cache.put(paths["a"], tables["a"])
    cache.put(paths["b"], tables["b"])
    assert cache.get(paths["a"]) is not None  # a is now the most recently used
    cache.put(paths["c"], tables["c"])
    assert cache.get(paths["b"]) is None
    assert cache.get(paths["a"]) is not None and cache.get(paths["c"]) is not None
    small = PartitionTableCache(max_bytes=size - 1)
    small.put(paths["a"], tables["a"])  # larger than the whole cache: not kept
    assert len(small) == 0
    cache.clear()
    assert len(cache) == 0 and cache.get(paths["a"]) is None
    with pytest.raises(ValueError, match="max_bytes"):
        PartitionTableCache(max_bytes=-1)
