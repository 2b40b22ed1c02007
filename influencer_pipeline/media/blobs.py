"""Content-addressed storage of video files: ``<root>/video_blobs/<sha[:2]>/<sha><suffix>``.

A blob's name is the SHA-256 of its bytes, so the same video fetched from two URLs is stored once,
and ``put`` is idempotent: when the blob already exists the new temp file is simply removed.

The root is a local folder or an object-store URL (``s3://bucket/lake``; any fsspec protocol with
its backend installed, credentials from the environment):

- local: blobs are moved into place with an atomic same-filesystem rename (``os.replace``), so
  readers never see a half-written blob; fetch into ``BlobStore.temp_dir()`` (inside the blob
  folder) to stay on the same filesystem;
- object store: fetches are staged in a local folder (``$INFLUENCER_BLOB_STAGING`` or the system
  temp folder) and uploaded with ``put_file``; the store publishes an object only when its upload
  has completed, so readers never see a partial blob there either.

Decoding needs a local file: ``local_copy(location)`` yields the blob itself for a local lake and
a temporary download (removed afterwards) for an object store.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from upath import UPath

from influencer_pipeline import lake
from influencer_pipeline.media.errors import MediaError

BLOB_DIR = "video_blobs"
STAGING_DIR = ".staging"
STAGING_ENV = "INFLUENCER_BLOB_STAGING"
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

BlobPath = Path | UPath  # a local path, or an object-store path (same API: exists, glob, /)


def suffix_for_container(container: str | None) -> str:
    """The blob file suffix for a probed container name ("mp4" -> ".mp4"); ".bin" if unknown."""
    return CONTAINER_SUFFIXES.get((container or "").lower(), DEFAULT_SUFFIX)


def is_remote(location: str | os.PathLike[str]) -> bool:
    """True for an object-store URL (``s3://...``); False for a local path or ``file://`` URL."""
    text = str(location)
    return "://" in text and not text.startswith("file://")


class BlobFileSystem(Protocol):
    """The few filesystem operations the blob store needs."""

    def exists(self, path: BlobPath) -> bool:
        """True if ``path`` exists."""
        ...

    def makedirs(self, path: BlobPath) -> None:
        """Create ``path`` and its parents if missing."""
        ...

    def move_into_place(self, src: Path, dst: BlobPath) -> None:
        """Atomically move the local file ``src`` to ``dst`` (replacing an identical ``dst``)."""
        ...

    def glob(self, folder: BlobPath, pattern: str) -> list[BlobPath]:
        """Paths in ``folder`` matching ``pattern``."""
        ...


class LocalBlobFileSystem:
    """``BlobFileSystem`` on the local disk."""

    def exists(self, path: BlobPath) -> bool:
        """True if ``path`` exists."""
        return Path(path).exists()

    def makedirs(self, path: BlobPath) -> None:
        """Create ``path`` and its parents if missing."""
        Path(path).mkdir(parents=True, exist_ok=True)

    def move_into_place(self, src: Path, dst: BlobPath) -> None:
        """Rename ``src`` to ``dst``; across filesystems, copy beside ``dst`` first, then rename."""
        dst = Path(dst)
        try:
            os.replace(src, dst)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=".put-", suffix=".part")
            os.close(fd)
            try:
                shutil.copyfile(src, tmp)
                lake.fsync_file(Path(tmp))
                os.replace(tmp, dst)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
            os.unlink(src)
        with contextlib.suppress(OSError):
            dst.chmod(0o444)  # blobs are immutable
            lake.fsync_dir(dst.parent)

    def glob(self, folder: BlobPath, pattern: str) -> list[BlobPath]:
        """Paths in ``folder`` matching ``pattern``, sorted."""
        folder = Path(folder)
        return sorted(folder.glob(pattern)) if folder.is_dir() else []


class ObjectStoreBlobFileSystem:
    """``BlobFileSystem`` on an object store through fsspec (``UPath`` paths)."""

    def exists(self, path: BlobPath) -> bool:
        """True if the object ``path`` exists."""
        return UPath(path).exists()

    def makedirs(self, path: BlobPath) -> None:
        """Nothing to do: object stores have no folders."""

    def move_into_place(self, src: Path, dst: BlobPath) -> None:
        """Upload ``src`` as ``dst`` (visible only once complete), then delete ``src``."""
        target = UPath(dst)
        target.fs.put_file(str(src), target.path)
        Path(src).unlink(missing_ok=True)

    def glob(self, folder: BlobPath, pattern: str) -> list[BlobPath]:
        """Objects under ``folder`` matching ``pattern``, sorted."""
        return sorted(UPath(folder).glob(pattern), key=str)


def staging_root() -> Path:
    """The local folder where fetches for an object-store lake are staged before upload."""
    configured = os.environ.get(STAGING_ENV, "").strip()
    base = Path(configured) if configured else Path(tempfile.gettempdir())
    return base / "influencer_pipeline_blob_staging"


class BlobStore:
    """Video files stored under their SHA-256 in ``<root>/video_blobs`` (local or object store)."""

    def __init__(self, root: str | os.PathLike[str], fs: BlobFileSystem | None = None) -> None:
        text = str(root)
        self.remote = is_remote(text)
        self.root: BlobPath = UPath(text) if self.remote else Path(text.removeprefix("file://"))
        self.fs: BlobFileSystem = fs or (
            ObjectStoreBlobFileSystem() if self.remote else LocalBlobFileSystem()
        )

    @property
    def blob_root(self) -> BlobPath:
        """``<root>/video_blobs``."""
        return self.root / BLOB_DIR

    def temp_dir(self) -> Path:
        """A local folder for temp files that ``put`` will move into place (same filesystem as
        the blobs for a local lake, so ``put`` is a rename)."""
        if self.remote:
            path = staging_root()
            path.mkdir(parents=True, exist_ok=True)
            return path
        path = Path(self.blob_root) / STAGING_DIR
        self.fs.makedirs(path)
        return path

    def path_for(self, sha256: str, suffix: str = DEFAULT_SUFFIX) -> BlobPath:
        """Where the blob with this hash and suffix lives (whether or not it exists)."""
        sha256 = _check_sha256(sha256)
        suffix = _check_suffix(suffix)
        return self.blob_root / sha256[:2] / f"{sha256}{suffix}"

    def exists(self, sha256: str, suffix: str = DEFAULT_SUFFIX) -> bool:
        """True if the blob is stored."""
        return self.fs.exists(self.path_for(sha256, suffix))

    def find(self, sha256: str) -> BlobPath | None:
        """The stored blob with this hash, whatever its suffix, or None."""
        sha256 = _check_sha256(sha256)
        matches = self.fs.glob(self.blob_root / sha256[:2], f"{sha256}.*")
        return matches[0] if matches else None

    def put(self, tmp_file: Path, sha256: str, suffix: str = DEFAULT_SUFFIX) -> BlobPath:
        """Move the local ``tmp_file`` into place as the blob ``sha256``+``suffix``; idempotent."""
        dst = self.path_for(sha256, suffix)
        tmp_file = Path(tmp_file)
        if self.fs.exists(dst):
            tmp_file.unlink(missing_ok=True)
            return dst
        self.fs.makedirs(dst.parent)
        try:
            self.fs.move_into_place(tmp_file, dst)
        finally:
            if self.remote:
                tmp_file.unlink(missing_ok=True)  # uploaded or not, the staged copy goes
        return dst


@contextlib.contextmanager
def local_copy(location: str | os.PathLike[str]) -> Iterator[Path]:
    """A local file with the blob's bytes: the blob itself when local, else a temporary download
    (in ``$TMPDIR``, keeping the suffix; removed on exit). MediaError if the blob is missing."""
    text = str(location)
    source = text.removeprefix("file://") if not is_remote(text) else text
    downloaded = False
    try:
        with lake.local_copy(source) as local:
            downloaded = True
            yield local
    except FileNotFoundError:
        if downloaded or not is_remote(text):
            raise  # the caller's own error, or a local path (its reader says it is missing)
        raise MediaError("file_not_found", f"video blob not found: {text}") from None


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
