"""BlobStore: content-addressed layout, atomic idempotent put, input validation, suffix choice,
and the whole fetch -> probe -> put path on a local file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from influencer_pipeline.media.blobs import BlobStore, suffix_for_container
from influencer_pipeline.media.fetch import FetchPolicy, fetch_to_file
from influencer_pipeline.media.probe import probe_video


def _temp(store: BlobStore, data: bytes, name: str = "x.part") -> tuple[Path, str]:
    path = store.temp_dir() / name
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def test_put_moves_file_to_content_address(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "lake")
    tmp, sha = _temp(store, b"video bytes")
    blob = store.put(tmp, sha, ".mp4")
    assert blob == tmp_path / "lake" / "video_blobs" / sha[:2] / f"{sha}.mp4"
    assert blob.read_bytes() == b"video bytes"
    assert not tmp.exists()
    assert store.exists(sha, ".mp4")
    assert not store.exists(sha, ".webm")
    assert store.path_for(sha, ".mp4") == blob
    assert store.find(sha) == blob


def test_put_is_idempotent(tmp_path: Path) -> None:
    store = BlobStore(str(tmp_path / "lake"))  # a str root works too
    first, sha = _temp(store, b"same", "a.part")
    blob = store.put(first, sha, ".mp4")
    mtime = blob.stat().st_mtime_ns
    second, _ = _temp(store, b"same", "b.part")
    assert store.put(second, sha, ".mp4") == blob
    assert not second.exists()  # the duplicate temp file is removed
    assert blob.stat().st_mtime_ns == mtime  # the stored blob is untouched
    blobs = [p for p in (tmp_path / "lake" / "video_blobs").rglob("*") if p.is_file()]
    assert blobs == [blob]


def test_temp_dir_is_inside_the_blob_folder(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    assert store.temp_dir().parent == store.blob_root  # same filesystem: put is a rename
    assert store.find("0" * 64) is None


@pytest.mark.parametrize("sha", ["abc", "G" * 64, "A" * 64, "../" + "a" * 61, "a" * 65])
def test_bad_hash_is_rejected(tmp_path: Path, sha: str) -> None:
    with pytest.raises(ValueError, match="SHA-256"):
        BlobStore(tmp_path).path_for(sha, ".mp4")


@pytest.mark.parametrize("suffix", ["mp4", ".MP4", "./../x", ".", ".toolongsuffix", "/x"])
def test_bad_suffix_is_rejected(tmp_path: Path, suffix: str) -> None:
    with pytest.raises(ValueError, match="suffix"):
        BlobStore(tmp_path).path_for("a" * 64, suffix)


def test_object_storage_roots_stage_locally_and_store_remotely(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An s3:// root (no request made here; test_s3_lake.py runs it against an S3 server)."""
    monkeypatch.setenv("INFLUENCER_BLOB_STAGING", str(tmp_path / "staging"))
    store = BlobStore("s3://bucket/lake")
    assert store.remote
    sha = "ab" * 32
    assert str(store.path_for(sha, ".mp4")) == f"s3://bucket/lake/video_blobs/ab/{sha}.mp4"
    assert store.temp_dir().is_relative_to(tmp_path / "staging")  # fetches land on local disk
    assert BlobStore("file:///tmp/lake").root == Path("/tmp/lake")
    assert not BlobStore("file:///tmp/lake").remote


@pytest.mark.parametrize(
    ("container", "suffix"),
    [
        ("mp4", ".mp4"),
        ("mov", ".mov"),
        ("webm", ".webm"),
        ("matroska", ".mkv"),
        ("avi", ".avi"),
        ("mpegts", ".ts"),
        ("MP4", ".mp4"),
        ("something-new", ".bin"),
        (None, ".bin"),
    ],
)
def test_suffix_for_container(container: str | None, suffix: str) -> None:
    assert suffix_for_container(container) == suffix


def test_fetch_probe_put_end_to_end(tmp_path: Path, make_video) -> None:
    """A local clip fetched twice (two names, same bytes) ends as one blob named by its content."""
    clip = make_video("clip.mp4", seconds=1.0)
    copy = tmp_path / "copy.mp4"
    copy.write_bytes(clip.read_bytes())
    store = BlobStore(tmp_path / "lake")
    policy = FetchPolicy(local_roots=(tmp_path,))
    stored = set()
    for source in (clip, copy):
        fetched = fetch_to_file(source.as_uri(), store.temp_dir(), policy)
        probe = probe_video(fetched.path)
        stored.add(store.put(fetched.path, fetched.sha256, suffix_for_container(probe.container)))
    (blob,) = stored
    assert blob.name == hashlib.sha256(clip.read_bytes()).hexdigest() + ".mp4"
    assert list(store.temp_dir().iterdir()) == []


def test_put_across_filesystems_copies_then_renames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import os

    from influencer_pipeline.media import blobs

    real_replace = os.replace
    calls: list[str] = []

    def cross_device_once(src: str | Path, dst: str | Path) -> None:
        calls.append(Path(src).name)
        if len(calls) == 1:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_replace(src, dst)

    monkeypatch.setattr(blobs.os, "replace", cross_device_once)
    store = BlobStore(tmp_path / "lake")
    other = tmp_path / "elsewhere.part"
    other.write_bytes(b"from another disk")
    sha = hashlib.sha256(b"from another disk").hexdigest()
    blob = store.put(other, sha, ".mp4")
    assert blob.read_bytes() == b"from another disk"
    assert not other.exists()
    assert calls[0] == "elsewhere.part" and calls[1].startswith(".put-")
    assert [p.name for p in blob.parent.iterdir()] == [blob.name]  # no copy left behind
