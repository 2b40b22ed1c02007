"""Encode RGB frames into a video file with PyAV (used by the demo generator and test fixtures)."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def write_video(
    path: str | Path,
    frames: Iterable[np.ndarray],
    fps: float = 25.0,
    *,
    codec: str = "libx264",
    crf: int = 23,
    gop: int | None = None,
    preset: str = "veryfast",
    container_format: str | None = None,
) -> Path:
    """Write ``frames`` (H x W x 3 uint8 RGB, all the same even size) to ``path``.

    ``gop`` sets the keyframe interval in frames (default: two seconds). Returns ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), mode="w", format=container_format) as container:
        stream = None
        for frame in frames:
            if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
                raise ValueError("frames must be H x W x 3 uint8 RGB arrays")
            if stream is None:
                height, width = frame.shape[:2]
                if width % 2 or height % 2:
                    raise ValueError(f"frame size must be even for yuv420p, got {width}x{height}")
                stream = container.add_stream(codec, rate=rate)
                stream.width, stream.height = width, height
                stream.pix_fmt = "yuv420p"
                stream.codec_context.gop_size = gop or max(1, round(2 * fps))
                if codec == "libx264":
                    # mbtree's lookahead is not bit-reproducible across runs; without it the same
                    # frames always encode to the same bytes (the demo must be deterministic)
                    stream.options = {"crf": str(crf), "preset": preset, "x264-params": "mbtree=0"}
            av_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
            for packet in stream.encode(av_frame):
                container.mux(packet)
        if stream is None:
            raise ValueError("no frames to write")
        for packet in stream.encode():
            container.mux(packet)
    return path
