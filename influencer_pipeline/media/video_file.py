"""One video's file stage: fetch it, probe it, store it content-addressed, describe it in a row."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from influencer_pipeline.display import show
from influencer_pipeline.lake_schema import VIDEO_FILES
from influencer_pipeline.media.blobs import BlobStore, suffix_for_container
from influencer_pipeline.media.errors import MAX_MESSAGE_CHARS, MediaError
from influencer_pipeline.media.fetch import FetchPolicy, fetch_to_file
from influencer_pipeline.media.probe import probe_video


@dataclasses.dataclass(frozen=True)
class ProbeLimits:
    """Upper bounds a video must respect before anything decodes it at full size."""

    max_pixels: int = 4096 * 4096
    max_duration_s: float = 3600.0


def failed_row(video_id: str, url: str, code: str, message: str, **known: Any) -> dict[str, Any]:
    """A VIDEO_FILES row for a video that could not be fetched or read."""
    row: dict[str, Any] = dict.fromkeys(VIDEO_FILES.names)
    row.update(known)
    error = show(message, MAX_MESSAGE_CHARS)  # safe to show wherever it goes (display.show)
    row.update(video_id=video_id, video_url=url, status="failed", error_code=code, error=error)
    row["fetched_at"] = row["fetched_at"] or datetime.now(UTC)
    return row


def fetch_video(
    video_id: str,
    url: str,
    store: BlobStore,
    policy: FetchPolicy,
    limits: ProbeLimits = ProbeLimits(),
) -> dict[str, Any]:
    """Fetch ``url`` into ``store`` and return its VIDEO_FILES row; failures become a failed row."""
    started = time.monotonic()
    fetched_at = datetime.now(UTC)
    try:
        fetched = fetch_to_file(url, store.temp_dir(), policy)
    except MediaError as exc:
        return failed_row(
            video_id,
            url,
            exc.code,
            exc.message,
            attempts=getattr(exc, "attempts", None),
            fetch_seconds=time.monotonic() - started,
            fetched_at=fetched_at,
        )
    known = {
        "sha256": fetched.sha256,
        "bytes": fetched.bytes,
        "attempts": fetched.attempts,
        "fetch_seconds": fetched.seconds,
        "fetched_at": fetched_at,
    }
    try:
        probe = probe_video(
            fetched.path, max_pixels=limits.max_pixels, max_duration_s=limits.max_duration_s
        )
    except MediaError as exc:
        fetched.path.unlink(missing_ok=True)
        return failed_row(video_id, url, exc.code, exc.message, **known)
    except Exception:
        fetched.path.unlink(missing_ok=True)
        raise
    stored: Path = store.put(fetched.path, fetched.sha256, suffix_for_container(probe.container))
    return {
        "video_id": video_id,
        "video_url": url,
        "status": "ok",
        "error_code": None,
        "error": None,
        "local_path": str(stored),
        **known,
        **{f.name: getattr(probe, f.name) for f in dataclasses.fields(probe)},
    }
