"""The camera: per-frame zoom, pan and brightness over a shot canvas, plus screen-fixed overlays."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import lru_cache

import numpy as np
from PIL import Image

from influencer_tools.demo.motion import POSE_STEP_S, warp_head
from influencer_tools.demo.scenes import Canvas

Overlay = tuple[Image.Image, tuple[int, int]]


@lru_cache(maxsize=512)
def tone_lut(gain: float, grade: tuple[float, float, float]) -> tuple[int, ...]:
    """A 768-entry RGB lookup table for brightness ``gain`` times the per-channel ``grade``."""
    ramp = np.arange(256, dtype=np.float32)
    return tuple(int(v) for g in grade for v in np.clip(ramp * gain * g, 0, 255).round())


def _ease(t: float) -> float:
    return t * t * (3 - 2 * t)


def posed(canvas: Canvas, seconds: float) -> Image.Image:
    """The canvas with its live people in their pose at ``seconds`` into the shot."""
    if not canvas.actors or canvas.background is None:
        return canvas.image
    picture = canvas.background.copy()
    for actor in canvas.actors:
        layer = warp_head(
            actor.layer, actor.face_box, actor.motion.pose(seconds), actor.motion.light(seconds)
        )
        picture.paste(layer, actor.xy, layer)
    if canvas.foreground is not None:
        picture.paste(canvas.foreground, (0, 0), canvas.foreground)
    return picture


def camera_frames(
    canvas: Canvas,
    n_frames: int,
    size: tuple[int, int],
    *,
    brightness: tuple[float, float],
    grade: tuple[float, float, float],
    overlays: Sequence[Overlay] = (),
    fps: float = 24.0,
) -> Iterator[np.ndarray]:
    """Yield ``n_frames`` RGB frames of ``size`` moving the camera over ``canvas``.

    Live people (``canvas.actors``) change pose every ``POSE_STEP_S`` seconds of the shot.
    """
    w, h = size
    cw, ch = canvas.image.size
    step, picture = -1, canvas.image
    for i in range(n_frames):
        if canvas.actors and int(i / fps / POSE_STEP_S) != step:
            step = int(i / fps / POSE_STEP_S)
            picture = posed(canvas, step * POSE_STEP_S)
        t = _ease(i / (n_frames - 1)) if n_frames > 1 else 0.5
        zoom = canvas.zoom[0] + (canvas.zoom[1] - canvas.zoom[0]) * t
        ww, wh = w / zoom, h / zoom
        px = canvas.pan[0] + (canvas.pan[2] - canvas.pan[0]) * t
        py = canvas.pan[1] + (canvas.pan[3] - canvas.pan[1]) * t
        cx = cw / 2 + px * max(0.0, (cw - ww) / 2)
        cy = ch / 2 + py * max(0.0, (ch - wh) / 2)
        box = (cx - ww / 2, cy - wh / 2, cx + ww / 2, cy + wh / 2)
        frame = picture.resize(size, Image.Resampling.BILINEAR, box=box)
        gain = round(brightness[0] + (brightness[1] - brightness[0]) * t, 3)
        frame = frame.point(list(tone_lut(gain, grade)))
        for overlay, xy in overlays:
            frame.paste(overlay, xy, overlay)
        yield np.asarray(frame)


def fade_frames(
    start: np.ndarray, end: np.ndarray, n_frames: int, n_fade: int
) -> Iterator[np.ndarray]:
    """``n_frames`` frames cross-fading from ``start`` to ``end`` over the first ``n_fade``."""
    end = np.ascontiguousarray(end)
    for i in range(n_frames):
        if i < n_fade:
            alpha = (i + 1) / (n_fade + 1)
            mixed = start.astype(np.float32) * (1 - alpha) + end.astype(np.float32) * alpha
            yield mixed.round().astype(np.uint8)
        else:
            yield end
