"""Seconds of each stage of the per-video path, single process, with the assets' own functions.

``measure_path`` runs, per video, what the per-video assets run (without Dagster), timing:
``read`` (``fetch_video``: copy into the blob store, SHA-256, probe and validate), ``decode``
(``sample_frames``: seek-based sampling and downscaling), ``hashing`` (``frames_table``: JPEG,
pHash/dHash, blank test), then ``face_rows`` (the ``face_embeddings`` asset's function) split by
timing proxies around the detector and the embedder into ``detection`` (MTCNN), ``embedding``
(dlib) and ``face_other`` (frame JPEG decoding, quality gates, thumbnails), then ``dominant``
(``choose_dominant``) and ``outro`` (``fingerprint_outro``). The models are loaded once, as the
``face_models`` resource does. Each video's sampled timestamps and searched-frame flags are kept
for the floor measurement.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from influencer_pipeline.catalog.urls import normalize_url
from influencer_pipeline.faces.dominant import DominanceConfig, choose_dominant
from influencer_pipeline.faces.records import FACE_ROLES, face_rows
from influencer_pipeline.media.blobs import BlobStore
from influencer_pipeline.media.fetch import FetchPolicy
from influencer_pipeline.media.frames import SamplingConfig, frames_table, sample_frames
from influencer_pipeline.media.video_file import fetch_video
from influencer_pipeline.outro.fingerprint import fingerprint_outro

STAGES = (
    "read",
    "decode",
    "hashing",
    "detection",
    "embedding",
    "face_other",
    "dominant",
    "outro",
)


class Timed:
    """Wraps ``detect`` / ``embed`` of a model and adds their seconds to a shared counter."""

    def __init__(self, model: object, method: str, seconds: dict[str, float], key: str) -> None:
        self._model, self._method, self._seconds, self._key = model, method, seconds, key

    def __getattr__(self, name: str) -> object:
        target = getattr(self._model, name)
        if name != self._method:
            return target

        def timed(*args: object, **kwargs: object) -> object:
            start = time.perf_counter()
            try:
                return target(*args, **kwargs)
            finally:
                self._seconds[self._key] += time.perf_counter() - start

        return timed


@dataclass
class VideoPath:
    """One video through the per-video path: stage seconds and what the floor needs."""

    url: str
    local_path: Path
    seconds: dict[str, float]
    frames: int
    frames_decoded: int
    faces: int
    timestamps: list[float] = field(default_factory=list)
    searched: list[bool] = field(default_factory=list)
    has_face: bool = False


def sheet_urls(sheet: Path, base: Path) -> list[str]:
    """The distinct normalized video URLs of a CSV or XLSX sheet, in sheet order."""
    table = pd.read_csv(sheet) if sheet.suffix == ".csv" else pd.read_excel(sheet)
    return list(dict.fromkeys(normalize_url(u, base) for u in table["Video URL"]))


def measure_path(
    urls: Sequence[str],
    local_roots: Sequence[Path],
    detector: object,
    embedder: object,
    *,
    blob_root: Path,
    batch_size: int = 16,
) -> list[VideoPath]:
    """Every URL through the per-video path (see the module docstring); the video files are
    stored under ``blob_root`` (give an empty folder: a file already there is not copied again)."""
    config = SamplingConfig()
    policy = FetchPolicy(local_roots=tuple(Path(r).resolve() for r in local_roots))
    out: list[VideoPath] = []
    store = BlobStore(blob_root)
    for i, url in enumerate(urls):
        video_id = f"v{i:05d}"
        seconds = dict.fromkeys(STAGES, 0.0)
        timed_detector = Timed(detector, "detect", seconds, "detection")
        timed_embedder = Timed(embedder, "embed", seconds, "embedding")
        clock = time.perf_counter()
        row = fetch_video(video_id, url, store, policy)
        seconds["read"] = time.perf_counter() - clock
        if row["status"] != "ok":
            raise RuntimeError(f"{url}: {row['error']}")
        clock = time.perf_counter()
        result = sample_frames(Path(row["local_path"]), config)
        seconds["decode"] = time.perf_counter() - clock
        clock = time.perf_counter()
        frames = frames_table(video_id, result, config)
        seconds["hashing"] = time.perf_counter() - clock
        clock = time.perf_counter()
        faces = face_rows(video_id, frames, timed_detector, timed_embedder, batch_size)
        seconds["face_other"] = (
            time.perf_counter() - clock - seconds["detection"] - seconds["embedding"]
        )
        clock = time.perf_counter()
        searched = frames["role"].isin(FACE_ROLES) & ~frames["is_blank"]
        decision = choose_dominant(faces, int(searched.sum()), DominanceConfig())
        seconds["dominant"] = time.perf_counter() - clock
        clock = time.perf_counter()
        fingerprint_outro(frames[frames["role"] == "outro"])
        seconds["outro"] = time.perf_counter() - clock
        out.append(
            VideoPath(
                url=url,
                local_path=Path(row["local_path"]),
                seconds=seconds,
                frames=len(frames),
                frames_decoded=result.frames_decoded,
                faces=len(faces),
                timestamps=[float(t) for t in frames["timestamp_s"]],
                searched=[bool(s) for s in searched],
                has_face=decision.has_dominant_face,
            )
        )
    return out
