"""One decoded frame as an upright RGB array at most ``max_side`` long; a frame as JPEG bytes."""

from __future__ import annotations

import io
import math
from fractions import Fraction

import av
import numpy as np
from PIL import Image


def rotation_degrees(frame: av.VideoFrame) -> int:
    """The frame's display-matrix turn in whole degrees, counter-clockwise (0 when unknown)."""
    angle = getattr(frame, "rotation", 0) or 0  # display matrix angle, counter-clockwise
    return 0 if math.isnan(angle) else round(angle)


def display_size(frame: av.VideoFrame, sar: Fraction | None) -> tuple[int, int]:
    """Width and height as shown: the width stretched by a non-square sample aspect ratio."""
    width, height = frame.width, frame.height
    if sar and sar > 0 and sar != 1:
        width = max(1, round(width * sar))
    return width, height


def upright_rgb(frame: av.VideoFrame, max_side: int, sar: Fraction | None) -> np.ndarray:
    """Downscale (never upscale) to fit ``max_side``, convert to RGB and rotate upright."""
    width, height = display_size(frame, sar)
    scale = min(1.0, max_side / max(width, height))
    out_w = max(1, round(width * scale))
    out_h = max(1, round(height * scale))
    if (out_w, out_h) == (frame.width, frame.height):
        rgb = frame.to_ndarray(format="rgb24")
    else:
        rgb = frame.reformat(
            width=out_w, height=out_h, format="rgb24", interpolation="AREA"
        ).to_ndarray()
    quarter_turns = round(rotation_degrees(frame) / 90) % 4
    if quarter_turns:
        # frame.rotation is the display matrix angle (counter-clockwise); np.rot90 turns that way.
        rgb = np.rot90(rgb, k=quarter_turns)
    return np.ascontiguousarray(rgb)


def encode_jpeg(rgb: np.ndarray, quality: int) -> bytes:
    """JPEG bytes of an RGB image."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
