"""Flat-shaded product shapes for product shots: bottles, boxes, a glowing lamp, jars, mugs."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from influencer_tools.demo.backgrounds import ACCENTS, RGB
from influencer_tools.demo.text import font

PRODUCTS = ("bottle", "box", "lamp", "jar", "mug", "candle")
LABEL_WORDS = ("GLOW", "CALM", "NO.5", "BLOOM", "PURE", "NOIR", "AURA", "MINT")


def _shade(color: RGB, factor: float) -> tuple[int, int, int, int]:
    return (*(int(max(0, min(255, c * factor))) for c in color), 255)  # type: ignore[return-value]


def _label(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], word: str) -> None:
    draw.rectangle(box, fill=(246, 244, 238, 255))
    size = max(6, (box[3] - box[1]) // 3)
    face = font(size)
    width = face.getlength(word)
    x = (box[0] + box[2] - width) / 2
    y = (box[1] + box[3]) / 2 - size * 0.6
    draw.text((x, y), word, font=face, fill=(40, 40, 40, 255))


def draw_product(kind: str, height: int, rng: np.random.Generator) -> Image.Image:
    """An RGBA picture of a ``kind`` product about ``height`` px tall, standing on its bottom."""
    if kind not in PRODUCTS:
        raise ValueError(f"unknown product {kind!r}; use one of {PRODUCTS}")
    h = max(12, int(height))
    color = ACCENTS[int(rng.integers(len(ACCENTS)))]
    word = LABEL_WORDS[int(rng.integers(len(LABEL_WORDS)))]
    if kind == "bottle":
        w = h * 2 // 5
        image = Image.new("RGBA", (w, h), (0, 0, 0, 0))
        draw = ImageDraw.Draw(image)
        neck = w // 3
        draw.rectangle(((w - neck) // 2, 0, (w + neck) // 2, h // 8), fill=(30, 30, 30, 255))
        draw.rectangle(((w - neck) // 2, h // 8, (w + neck) // 2, h // 4), fill=_shade(color, 1.2))
        draw.rounded_rectangle((0, h // 5, w - 1, h - 1), radius=w // 4, fill=_shade(color, 1.0))
        draw.rectangle((w // 10, h // 5, w // 5, h - h // 10), fill=_shade(color, 1.3))
        _label(draw, (w // 8, h // 2, w - w // 8, h * 3 // 4), word)
    elif kind == "box":
        w = int(h * rng.uniform(0.9, 1.4))
        image = Image.new("RGBA", (w, h), (0, 0, 0, 0))
        draw = ImageDraw.Draw(image)
        depth = h // 5
        front = (0, depth, w - depth, h - 1)
        draw.polygon(
            [(0, depth), (depth, 0), (w - 1, 0), (w - depth, depth)], fill=_shade(color, 1.25)
        )
        draw.polygon(
            [(w - depth, depth), (w - 1, 0), (w - 1, h - depth), (w - depth, h - 1)],
            fill=_shade(color, 0.7),
        )
        draw.rectangle(front, fill=_shade(color, 1.0))
        mid = (front[0] + front[2]) // 2
        draw.rectangle((mid - w // 20, depth, mid + w // 20, h - 1), fill=(245, 240, 230, 255))
        _label(draw, (front[0] + w // 10, h // 2, front[2] - w // 10, h // 2 + h // 6), word)
    elif kind == "lamp":
        w = int(h * 0.9)
        glow = Image.new("RGBA", (w, h), (0, 0, 0, 0))
        gdraw = ImageDraw.Draw(glow)
        gdraw.ellipse((w // 10, 0, w - w // 10, h * 5 // 6), fill=(255, 226, 150, 90))
        image = glow.filter(ImageFilter.GaussianBlur(max(2, w // 12)))
        draw = ImageDraw.Draw(image)
        r = w * 2 // 5
        cx, cy = w // 2, h * 2 // 5
        line = max(2, w // 40)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=(255, 240, 200, 255), width=line * 2)
        draw.ellipse((cx - r // 3, cy - r, cx + r + r // 2, cy + r // 2), fill=(0, 0, 0, 0))
        draw.arc(
            (cx - r // 2, cy - r // 2, cx + r // 2, cy + r // 2),
            200,
            340,
            fill=(255, 244, 210, 255),
            width=line,
        )
        base_top = h * 4 // 5
        draw.rounded_rectangle(
            (w // 8, base_top, w - w // 8, h - 1),
            radius=(h - base_top) // 2,
            fill=(214, 176, 122, 255),
        )
        draw.rectangle(
            (w // 4, base_top + (h - base_top) // 3, w - w // 4, base_top + (h - base_top) // 2),
            fill=(255, 236, 170, 255),
        )
    elif kind == "jar":
        w = int(h * 0.8)
        image = Image.new("RGBA", (w, h), (0, 0, 0, 0))
        draw = ImageDraw.Draw(image)
        draw.rounded_rectangle(
            (w // 10, 0, w - w // 10, h // 5), radius=h // 20, fill=(60, 60, 64, 255)
        )
        draw.rounded_rectangle((0, h // 6, w - 1, h - 1), radius=w // 6, fill=_shade(color, 1.1))
        _label(draw, (w // 6, h // 2 - h // 8, w - w // 6, h // 2 + h // 8), word)
    elif kind == "mug":
        w = int(h * 1.2)
        image = Image.new("RGBA", (w, h), (0, 0, 0, 0))
        draw = ImageDraw.Draw(image)
        body = w * 3 // 4
        draw.ellipse(
            (body - w // 8, h // 5, w - 1, h * 3 // 4),
            outline=_shade(color, 0.9),
            width=max(3, w // 12),
        )
        draw.rounded_rectangle((0, 0, body, h - 1), radius=w // 12, fill=_shade(color, 1.0))
        draw.ellipse((0, 0, body, h // 8), fill=_shade(color, 0.6))
    else:  # candle
        w = int(h * 0.7)
        image = Image.new("RGBA", (w, h), (0, 0, 0, 0))
        draw = ImageDraw.Draw(image)
        draw.ellipse((w // 2 - w // 14, 0, w // 2 + w // 14, h // 5), fill=(255, 200, 90, 255))
        draw.line((w // 2, h // 6, w // 2, h // 4), fill=(40, 40, 40, 255), width=max(1, w // 40))
        draw.rounded_rectangle((0, h // 4, w - 1, h - 1), radius=w // 10, fill=(238, 232, 220, 255))
        _label(draw, (w // 8, h // 2, w - w // 8, h // 2 + h // 6), word)
    return image


def drop_shadow(size: tuple[int, int], blur: float) -> Image.Image:
    """A soft elliptical contact shadow (RGBA) of ``size`` to paste under a product."""
    w, h = size
    image = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((0, 0, w - 1, h - 1), fill=(0, 0, 0, 90))
    return image.filter(ImageFilter.GaussianBlur(max(1.0, blur)))
