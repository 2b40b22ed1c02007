"""Content-addressed storage of video files: ``<root>/video_blobs/<sha[:2]>/<sha><suffix>``.

A blob's name is the SHA-256 of its bytes, so the same video fetched from two URLs is stored once,
and ``put`` is idempotent: when the blob already exists the new temp file is simply removed.
Blobs are moved into place with an atomic same-filesystem rename (``os.replace``), so readers never
see a half-written blob; fetch into ``BlobStore.temp_dir()`` to stay on the same filesystem.

All filesystem calls go through a small ``BlobFileSystem`` object (``LocalBlobFileSystem`` here),
so an fsspec/universal-pathlib backend for object storage can be swapped in without touching the
store's logic.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Protocol

BLOB_DIR = "video_blobs"
STAGING_DIR = ".staging"
DEFAULT_SUFFIX = ".bin"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_SUFFIX = re.compile(r"\.[a-z0-9]{1,8}")
CONTAINER_SUFFIXES: dict[str, str] = {
    "mp4": ".mp4",
    "mov": ".mov",
    "3gp": ".3gp",
    "m4a": ".m4a",
    "webm": ".webm",
    "matroska": ".mkv",
    "avi": ".avi",
    "flv": ".flv",
    "mpegts": ".ts",
    "ogg": ".ogv",
    "mpeg": ".mpg",
    "asf": ".wmv",
    "h264": ".h264",
    "hevc": ".h265",
}


def suffix_for_container(container: str | None) -> str:
    """The blob file suffix for a probed container name ("mp4" -> ".mp4"); ".bin" if unknown."""
    return CONTAINER_SUFFIXES.get((container or "").lower(), DEFAULT_SUFFIX)


class BlobFileSystem(Protocol):
    """The few filesystem operations the blob store needs."""

    def exists(self, path: Path) -> bool:
        """True if ``path`` exists."""
        ...

    def makedirs(self, path: Path) -> None:
        """Create ``path`` and its parents if missing."""
        ...

    def move_into_place(self, src: Path, dst: Path) -> None:
        """Atomically move ``src`` to ``dst`` (replacing an identical ``dst``)."""
        ...

    def remove(self, path: Path) -> None:
        """Delete ``path`` if it exists."""
        ...

    def glob(self, folder: Path, pattern: str) -> list[Path]:
        """Paths in ``folder`` matching ``pattern``."""
        ...


class LocalBlobFileSystem:
    """``BlobFileSystem`` on the local disk."""

    def exists(self, path: Path) -> bool:
        """True if ``path`` exists."""
        return path.exists()

    def makedirs(self, path: Path) -> None:
        """Create ``path`` and its parents if missing."""
        path.mkdir(parents=True, exist_ok=True)

    def move_into_place(self, src: Path, dst: Path) -> None:
        """Rename ``src`` to ``dst``; across filesystems, copy beside ``dst`` first, then rename."""
        try:
            os.replace(src, dst)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=".put-", suffix=".part")
            os.close(fd)
            try:
                shutil.copyfile(src, tmp)
                os.replace(tmp, dst)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
            os.unlink(src)
        with contextlib.suppress(OSError):
            dst.chmod(0o444)  # blobs are immutable
            _fsync_dir(dst.parent)

    def remove(self, path: Path) -> None:
        """Delete ``path`` if it exists."""
        with contextlib.suppress(FileNotFoundError):
            path.unlink()

    def glob(self, folder: Path, pattern: str) -> list[Path]:
        """Paths in ``folder`` matching ``pattern``, sorted."""
        return sorted(folder.glob(pattern)) if folder.is_dir() else []


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlobStore:
    """Video files stored under their SHA-256 in ``<root>/video_blobs``."""

    def __init__(self, root: str | Path, fs: BlobFileSystem | None = None) -> None:
        text = str(root)
        if text.startswith("file://"):
            text = text.removeprefix("file://")
        elif "://" in text:
            raise ValueError(
                f"BlobStore supports local folders only for now, got {text!r}; plug an "
                "fsspec-backed BlobFileSystem in to use object storage"
            )
        self.root = Path(text)
        self.fs: BlobFileSystem = fs or LocalBlobFileSystem()

    @property
    def blob_root(self) -> Path:
        """``<root>/video_blobs``."""
        return self.root / BLOB_DIR

    def temp_dir(self) -> Path:
        """A folder on the blobs' filesystem for temp files that ``put`` will move into place."""
        path = self.blob_root / STAGING_DIR
        self.fs.makedirs(path)
        return path

    def path_for(self, sha256: str, suffix: str = DEFAULT_SUFFIX) -> Path:
        """Where the blob with this hash and suffix lives (whether or not it exists)."""
        sha256 = _check_sha256(sha256)
        suffix = _check_suffix(suffix)
        return self.blob_root / sha256[:2] / f"{sha256}{suffix}"

    def exists(self, sha256: str, suffix: str = DEFAULT_SUFFIX) -> bool:
        """True if the blob is stored."""
        return self.fs.exists(self.path_for(sha256, suffix))

    def find(self, sha256: str) -> Path | None:
        """The stored blob with this hash, whatever its suffix, or None."""
        sha256 = _check_sha256(sha256)
        matches = self.fs.glob(self.blob_root / sha256[:2], f"{sha256}.*")
        return matches[0] if matches else None

    def put(self, tmp_file: Path, sha256: str, suffix: str = DEFAULT_SUFFIX) -> Path:
        """Move ``tmp_file`` into place as the blob ``sha256``+``suffix``; idempotent."""
        dst = self.path_for(sha256, suffix)
        tmp_file = Path(tmp_file)
        if self.fs.exists(dst):
            self.fs.remove(tmp_file)
            return dst
        self.fs.makedirs(dst.parent)
        self.fs.move_into_place(tmp_file, dst)
        return dst


def _check_sha256(sha256: str) -> str:
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        raise ValueError(f"not a lowercase hex SHA-256: {sha256!r}")
    return sha256


def _check_suffix(suffix: str) -> str:
    if not isinstance(suffix, str) or not _SUFFIX.fullmatch(suffix):
        raise ValueError(
            f"blob suffix must look like '.mp4' (1-8 lowercase letters/digits): {suffix!r}"
        )
    return suffix
