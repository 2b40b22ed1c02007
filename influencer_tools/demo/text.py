"""Text for the demo frames: Pillow's built-in scalable font, wrapping and caption overlays."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

CAPTION_STYLES = ("bubble", "bar", "bold")
CAPTIONS = (
    "Wait for the glow-up at the end",
    "POV: you finally found the perfect gift",
    "Three reasons I keep buying this",
    "Unboxing my new favourite thing",
    "Honest review after one month",
    "This sold out twice already",
    "Replying to your comments: yes it is worth it",
    "The packaging alone is a vibe",
    "Small shop, big love",
    "Gift idea for someone who has everything",
    "Tag a friend who needs this",
    "Link in bio before it is gone",
    "Day 12 of testing viral products",
    "My desk setup just got an upgrade",
    "Would you try this?",
    "Before you scroll: watch this",
    "Personalised and ready in 3 days",
    "Made to order, shipped with care",
    "Not sponsored, just obsessed",
    "The lamp everyone keeps asking about",
)
SHORT_LABELS = ("NEW", "SALE -20%", "LIMITED", "BEST SELLER", "HANDMADE", "GIFT READY")


@lru_cache(maxsize=64)
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled scalable font at ``size`` px (no system fonts, same on every machine)."""
    return ImageFont.load_default(size=max(6, int(size)))


def wrap(text: str, size: int, max_width: int) -> list[str]:
    """Greedy word wrap of ``text`` at font ``size`` so that every line fits ``max_width`` px."""
    face = font(size)
    lines: list[str] = []
    current = ""
    for word in text.split():
        trial = f"{current} {word}".strip()
        if current and face.getlength(trial) > max_width:
            lines.append(current)
            current = word
        else:
            current = trial
    if current:
        lines.append(current)
    return lines


def pick_caption(rng: np.random.Generator) -> str:
    """A random invented ad caption."""
    return CAPTIONS[int(rng.integers(len(CAPTIONS)))]


def caption_overlay(text: str, width: int, frame_height: int, style: str) -> Image.Image:
    """An RGBA caption of ``text`` at most ``width`` px wide, sized for a ``frame_height`` frame."""
    if style not in CAPTION_STYLES:
        raise ValueError(f"unknown caption style {style!r}; use one of {CAPTION_STYLES}")
    size = max(8, round(frame_height * (0.030 if style != "bold" else 0.040)))
    pad = max(3, size // 2)
    avatar = size * 2 if style == "bubble" else 0
    lines = wrap(text, size, width - 2 * pad - avatar - (pad if avatar else 0))
    face = font(size)
    line_h = round(size * 1.25)
    text_w = max(int(face.getlength(line)) for line in lines)
    box_w = min(width, text_w + 2 * pad + avatar + (pad if avatar else 0))
    box_h = line_h * len(lines) + 2 * pad
    layer = Image.new("RGBA", (box_w, box_h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    x0 = pad + (avatar + pad if avatar else 0)
    if style == "bubble":
        draw.rounded_rectangle(
            (0, 0, box_w - 1, box_h - 1), radius=pad * 2, fill=(255, 255, 255, 240)
        )
        draw.ellipse((pad, pad, pad + avatar, pad + avatar), fill=(236, 150, 90, 255))
        fill, stroke = (25, 25, 30, 255), 0
    elif style == "bar":
        draw.rounded_rectangle((0, 0, box_w - 1, box_h - 1), radius=pad, fill=(15, 15, 20, 170))
        fill, stroke = (255, 255, 255, 255), 0
    else:
        fill, stroke = (255, 255, 255, 255), max(1, size // 12)
    for i, line in enumerate(lines):
        draw.text(
            (x0, pad + i * line_h),
            line,
            font=face,
            fill=fill,
            stroke_width=stroke,
            stroke_fill=(0, 0, 0, 255),
        )
    return layer
