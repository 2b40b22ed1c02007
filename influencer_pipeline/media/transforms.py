"""Re-upload style transformations of a video (re-encode, resize, crop, trim, placement) with PyAV.

A *placement* (``aspect``) cuts the picture to another width:height around its centre (moved by
``crop_shift`` of the height), as a 1:1 or 4:5 upload of a 9:16 ad does; ``letterbox`` puts that
cut back into the original canvas between black bars instead of scaling it.

Used by the demo generator to make realistic re-uploads and by tests of duplicate detection.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
from PIL import Image

from influencer_pipeline.media.encode import write_video


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def _frames(
    src: Path, trim_start_s: float, trim_end_s: float
) -> tuple[float, Iterator[np.ndarray]]:
    container = av.open(str(src))
    stream = container.streams.video[0]
    fps = float(stream.average_rate or 25)
    duration = (
        float(stream.duration * stream.time_base)
        if stream.duration
        else (container.duration or 0) / av.time_base
    )
    end = duration - trim_end_s if trim_end_s else float("inf")

    def generate() -> Iterator[np.ndarray]:
        first: float | None = None
        with container:
            for frame in container.decode(stream):
                # times relative to the first frame: streams may start at a non-zero timestamp
                first = float(frame.time or 0.0) if first is None else first
                t = float(frame.time or 0.0) - first
                if t + 1e-6 < trim_start_s:
                    continue
                if t > end - 1e-6:
                    break
                yield frame.to_ndarray(format="rgb24")

    return fps, generate()


def _placement(
    frame: np.ndarray, aspect: tuple[int, int], shift: float, letterbox: bool
) -> np.ndarray:
    """The frame cut to ``aspect`` around its (shifted) centre, letterboxed back if asked."""
    h, w = frame.shape[:2]
    cut_w = min(w, _even(h * aspect[0] / aspect[1]))
    cut_h = min(h, _even(cut_w * aspect[1] / aspect[0]))
    top = min(max(0, round((h - cut_h) / 2 + shift * h)), h - cut_h)
    left = (w - cut_w) // 2
    cut = frame[top : top + cut_h, left : left + cut_w]
    if not letterbox:
        return cut
    canvas = np.zeros_like(frame)
    y, x = (h - cut_h) // 2, (w - cut_w) // 2
    canvas[y : y + cut_h, x : x + cut_w] = cut
    return canvas


def transform_video(
    src: str | Path,
    dst: str | Path,
    *,
    scale: float = 1.0,
    crop: float = 0.0,
    trim_start_s: float = 0.0,
    trim_end_s: float = 0.0,
    crf: int = 23,
    preset: str = "veryfast",
    aspect: tuple[int, int] | None = None,
    crop_shift: float = 0.0,
    letterbox: bool = False,
) -> Path:
    """Write a re-upload of ``src`` to ``dst``: cropped by ``crop`` (fraction per side), cut to
    ``aspect`` (see the module doc), resized by ``scale``, trimmed by ``trim_start_s`` /
    ``trim_end_s`` seconds and re-encoded with H.264."""
    if not 0 <= crop < 0.5:
        raise ValueError("crop must be a fraction per side in [0, 0.5)")
    if scale <= 0:
        raise ValueError("scale must be positive")
    fps, frames = _frames(Path(src), trim_start_s, trim_end_s)

    def processed() -> Iterator[np.ndarray]:
        for decoded in frames:
            h, w = decoded.shape[:2]
            dy, dx = round(h * crop), round(w * crop)
            out = decoded[dy : h - dy, dx : w - dx] if dy or dx else decoded
            if aspect is not None:
                out = _placement(out, aspect, crop_shift, letterbox)
            h, w = out.shape[:2]
            size = (_even(w * scale), _even(h * scale))
            if size != (w, h):
                out = np.asarray(Image.fromarray(out).resize(size, Image.Resampling.BILINEAR))
            yield np.ascontiguousarray(out)

    return write_video(dst, processed(), fps, crf=crf, preset=preset)
