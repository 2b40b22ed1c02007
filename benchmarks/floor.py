"""The physical floor of the per-video path on this machine (benchmark helper).

The floor is the work no implementation of this design can skip, measured with the same
libraries and models:

- decode (``decode_targets``): for exactly the timestamps the pipeline sampled (read back from
  its ``video_frames``), seek to the keyframe at or before each one, decode forward to it (a
  frame between two keyframes cannot be decoded any other way) and convert only those frames to
  RGB, downscaled to the pipeline's ``max_side``. The keyframe list is read before the clock
  starts (an MP4 carries it in its sample table); no JPEG, no hashes, no blank test.
- detection (``detect_all``): MTCNN on exactly the frames the pipeline searches for faces
  (body and outro, not blank), all videos' frames together in full batches.
- embedding (``embed_all``): ``faces.embedders.embed_images`` (for dlib: the 5-point alignment
  and the 128-d descriptor, in the runtime and with the mirror averaging the pipeline uses) of
  every face past the hard gates (MTCNN score >= 0.90 and height >= 24 px), all videos' faces in
  one call, with nothing else (no quality measures, no thumbnails).
"""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from influencer_pipeline.faces.embedders import embed_images
from influencer_pipeline.faces.quality import MIN_DET_SCORE, MIN_HEIGHT_PX


@dataclass
class FloorFrames:
    """The RGB frames of one video at the pipeline's timestamps, and what decoding them cost."""

    video_id: str
    frames: list[np.ndarray]
    searched: list[bool]  # per frame: does the pipeline search it for faces?
    decoded: int
    seconds: float


def keyframe_pts(path: Path) -> list[int]:
    """Sorted pts of the video stream's keyframes (read before timing)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sorted(
            int(p.pts) for p in container.demux(stream) if p.is_keyframe and p.pts is not None
        )


def _size(width: int, height: int, sar: Fraction | None, max_side: int) -> tuple[int, int]:
    if sar and sar > 0 and sar != 1:
        width = max(1, round(width * sar))
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def decode_targets(
    video_id: str,
    path: Path,
    timestamps: list[float],
    searched: list[bool],
    max_side: int = 640,
) -> FloorFrames:
    """Decode only what the sampled ``timestamps`` (seconds from the first frame) need."""
    keys = [0, *keyframe_pts(path)]
    order = np.argsort(timestamps, kind="stable")
    started = time.perf_counter()
    out: list[np.ndarray] = []
    decoded = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        base = stream.start_time or 0
        tb = stream.time_base
        frames = None
        last = None
        for i in order:
            target = base + int(timestamps[i] / tb + 1e-6)
            key = keys[max(bisect.bisect_right(keys, target) - 1, 0)]
            if frames is None or last is None or (key > last.pts and last.pts < target):
                container.seek(key, stream=stream, backward=True, any_frame=False)
                frames = container.decode(stream)
                last = None
            while last is None or last.pts < target:
                frame = next(frames, None)
                if frame is None:
                    break
                decoded += 1
                last = frame
            width, height = _size(last.width, last.height, stream.sample_aspect_ratio, max_side)
            rgb = last.reformat(width=width, height=height, format="rgb24", interpolation="AREA")
            out.append(np.ascontiguousarray(rgb.to_ndarray()))
    seconds = time.perf_counter() - started
    return FloorFrames(video_id, out, [searched[i] for i in order], decoded, seconds)


def detect_all(
    detector: object, videos: list[FloorFrames], batch_size: int
) -> tuple[list[list[list[object]]], float]:
    """Detections per video per searched frame, and the seconds MTCNN took over all of them."""
    images = [f for v in videos for f, s in zip(v.frames, v.searched, strict=True) if s]
    started = time.perf_counter()
    found = detector.detect(images, batch_size=batch_size)
    seconds = time.perf_counter() - started
    out, at = [], 0
    for video in videos:
        n = sum(video.searched)
        out.append(found[at : at + n])
        at += n
    return out, seconds


def embed_all(
    embedder: object, videos: list[FloorFrames], detections: list[list[list[object]]]
) -> tuple[int, float]:
    """(faces embedded, seconds) for the embedder's vectors of every face past the hard gates."""
    jobs = []
    for video, per_frame in zip(videos, detections, strict=True):
        images = [f for f, s in zip(video.frames, video.searched, strict=True) if s]
        for image, found in zip(images, per_frame, strict=True):
            faces = [d for d in found if d.score >= MIN_DET_SCORE and d.height >= MIN_HEIGHT_PX]
            if faces:
                jobs.append((image, faces))
    started = time.perf_counter()
    vectors = embed_images(embedder, jobs)
    return sum(len(v) for v in vectors), time.perf_counter() - started
