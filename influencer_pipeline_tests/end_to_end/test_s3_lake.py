"""The lake on an object store: the tiny demo on ``s3://bucket/lake`` through an S3 API server.

The server is moto's standalone server (``python -m moto.server``, from PyPI) on a free loopback
port, started by this module; s3fs reaches it with credentials and endpoint from the environment
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``), as a deployment would
reach S3 or any S3-compatible store. The Parquet IO manager and the video blob store write there;
decoding reads blobs through a temporary local copy. Checked: the S3 lake equals the lake of the
same demo on local disk (every table, every blob byte); writes are all or nothing (a writer that
fails, or an upload killed half-way, leaves no object and keeps the old one); readers racing a
writer get a whole version, never a mix. Without the server package the module skips, except in
CI (``STRICT_SYSTEM_DEPS=1``).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import s3fs

from influencer_pipeline import lake
from influencer_pipeline.media.blobs import BlobStore, local_copy
from influencer_pipeline.media.errors import MediaError
from influencer_pipeline_tests import distributed

BUCKET = "influencer-test"


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The S3 server's settings, also set in this process's environment for the module."""
    log = tmp_path_factory.mktemp("s3_server") / "moto.log"
    with distributed.s3_server(log) as env, pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        s3fs.S3FileSystem.clear_instance_cache()  # a cached client would keep another endpoint
        s3fs.S3FileSystem().mkdir(BUCKET)
        yield env
    s3fs.S3FileSystem.clear_instance_cache()


def _objects(prefix: str) -> list[str]:
    fs = s3fs.S3FileSystem()
    return sorted(fs.find(f"{BUCKET}/{prefix}")) if fs.exists(f"{BUCKET}/{prefix}") else []


@pytest.mark.slow
def test_the_demo_lake_on_s3_equals_the_local_lake(
    s3: dict[str, str], tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    sheet, reference = distributed.reference_demo(tmp_path_factory)
    remote = f"s3://{BUCKET}/lake"
    staging = tmp_path / "staging"
    env = distributed.clean_env(
        **s3,
        DAGSTER_HOME=str(distributed.sqlite_home(tmp_path / "home")),
        INFLUENCER_BLOB_STAGING=str(staging),
        TMPDIR=str(tmp_path),
    )
    report = distributed.run_demo_process(sheet, remote, env, tmp_path / "run.log", in_process=True)
    assert [run["success"] for run in report["runs"]] == [True, True, True], report

    compared = distributed.assert_same_lake(reference, remote)
    assert compared >= 5 * 16 + 5  # five per-video tables of 16 videos, the cross-video tables
    names = distributed.lake_files(remote)
    per_video = [f"{remote}/{n}" for n in names if n.startswith("video_files/")]
    files = lake.read_parquet_many(per_video, ["local_path", "status"])
    assert len(files) == 16 and set(files["status"]) == {"ok"}
    assert all(p.startswith(f"{remote}/video_blobs/") for p in files["local_path"])
    blobs = [n for n in names if n.startswith("video_blobs/")]
    assert len(blobs) == files["local_path"].nunique()  # exact re-uploads share one blob
    assert not distributed.lake_files(remote, hidden=True)  # no staging or temp object
    assert not [p for p in staging.rglob("*") if p.is_file()]  # staged fetches are gone


def test_a_failed_parquet_write_leaves_the_old_object(
    s3: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = f"s3://{BUCKET}/failing/table.parquet"
    old = pa.table({"x": list(range(1000))})
    lake.write_parquet_atomic(old, path)

    def serialize_half(table: pa.Table, where: object, **_: object) -> None:
        where.write(b"PAR1 half of a file")  # type: ignore[attr-defined]
        raise OSError("no space left while serializing")

    monkeypatch.setattr(lake.pq, "write_table", serialize_half)
    with pytest.raises(OSError, match="no space left"):
        lake.write_parquet_atomic(pa.table({"x": [7]}), path)
    with pytest.raises(OSError, match="no space left"):
        lake.write_parquet_atomic(pa.table({"x": [7]}), f"s3://{BUCKET}/failing/new.parquet")
    monkeypatch.undo()
    assert lake.read_parquet(path)["x"].tolist() == list(range(1000))
    assert _objects("failing") == [f"{BUCKET}/failing/table.parquet"]  # no new, no partial


def test_readers_racing_a_writer_get_whole_versions(s3: dict[str, str]) -> None:
    path = f"s3://{BUCKET}/racing/table.parquet"
    rng = np.random.default_rng(0)
    versions = {
        v: pa.table({"version": np.full(n, v), "payload": [rng.bytes(100) for _ in range(n)]})
        for v, n in ((1, 20_000), (2, 50_000))
    }
    lake.write_parquet_atomic(versions[1], path)
    seen: dict[str, int] = {}
    stop = threading.Event()

    def read_until_stopped() -> None:
        while not stop.is_set():
            try:
                table = lake.read_parquet(path)
            except OSError as exc:  # replaced under three reads in a row: a clear error
                seen[type(exc).__name__] = seen.get(type(exc).__name__, 0) + 1
                continue
            (version,) = set(table["version"])
            whole = len(table) == versions[version].num_rows
            key = f"v{version}" if whole else "PARTIAL"
            seen[key] = seen.get(key, 0) + 1

    reader = threading.Thread(target=read_until_stopped)
    reader.start()
    try:
        for i in range(12):
            lake.write_parquet_atomic(versions[2 - i % 2], path)
            time.sleep(0.3)
    finally:
        stop.set()
        reader.join(timeout=60)
    assert "PARTIAL" not in seen, seen
    assert seen.get("v1", 0) + seen.get("v2", 0) > 0, seen
    assert set(seen) <= {"v1", "v2", "FileExpired"}, seen


def test_blob_store_on_s3_stages_locally_and_reads_back(
    s3: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INFLUENCER_BLOB_STAGING", str(tmp_path / "staging"))
    store = BlobStore(f"s3://{BUCKET}/blobs")
    data = b"\x00\x00\x00\x18ftypmp42 not really a video" * 1000
    sha = hashlib.sha256(data).hexdigest()
    for _ in range(2):  # the second put finds the blob and only drops its temp file
        temp = store.temp_dir() / "fetch.part"
        temp.write_bytes(data)
        blob = store.put(temp, sha, ".mp4")
        assert not temp.exists()
    assert str(blob) == f"s3://{BUCKET}/blobs/video_blobs/{sha[:2]}/{sha}.mp4"
    assert store.exists(sha, ".mp4") and str(store.find(sha)) == str(blob)
    with local_copy(str(blob)) as copy:
        assert copy.read_bytes() == data and copy.suffix == ".mp4"
    assert not copy.exists()  # the download is temporary
    with pytest.raises(MediaError) as error, local_copy(str(blob).replace(sha, "0" * 64)):
        pass
    assert error.value.code == "file_not_found"


UPLOADER = """
import sys
from pathlib import Path
from influencer_pipeline.media.blobs import BlobStore
store = BlobStore(sys.argv[1])
store.put(Path(sys.argv[2]), sys.argv[3], ".mp4")
"""


def test_an_upload_killed_half_way_leaves_no_blob(s3: dict[str, str], tmp_path: Path) -> None:
    """A writer SIGKILLed while its multipart upload is in flight: no object, nothing to read."""
    root = f"s3://{BUCKET}/killed"
    big = tmp_path / "big.part"
    big.write_bytes(os.urandom(1024 * 1024) * 130)  # 130 MiB: a multipart upload (s3fs > 100)
    sha = hashlib.sha256(big.read_bytes()).hexdigest()
    fs = s3fs.S3FileSystem()
    writer = subprocess.Popen(
        [sys.executable, "-c", UPLOADER, root, str(big), sha],
        env={**os.environ},
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not fs.list_multipart_uploads(BUCKET):
            assert writer.poll() is None, "the upload ended before it could be caught in flight"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        os.killpg(writer.pid, signal.SIGKILL)
        writer.wait(timeout=30)
    finally:
        if writer.poll() is None:
            os.killpg(writer.pid, signal.SIGKILL)
    assert writer.returncode == -signal.SIGKILL
    store = BlobStore(root)
    assert not store.exists(sha, ".mp4") and store.find(sha) is None
    assert _objects("killed") == []
    fs.clear_multipart_uploads(BUCKET)  # what a lifecycle rule does with abandoned uploads
