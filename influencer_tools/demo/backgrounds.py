"""Textured backgrounds: rooms (walls with simple furniture shapes), counters and table tops."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

RGB = tuple[int, int, int]

WALLS: tuple[tuple[RGB, RGB], ...] = (
    ((232, 226, 214), (205, 196, 182)),
    ((214, 226, 232), (180, 196, 206)),
    ((238, 222, 222), (210, 186, 188)),
    ((222, 232, 214), (190, 204, 178)),
    ((70, 78, 92), (44, 50, 62)),
    ((246, 240, 228), (226, 214, 196)),
    ((196, 214, 226), (150, 170, 190)),
)
WOODS: tuple[RGB, ...] = (
    (176, 132, 92),
    (140, 100, 68),
    (204, 170, 128),
    (110, 82, 60),
    (226, 220, 210),
)
ACCENTS: tuple[RGB, ...] = (
    (214, 96, 64),
    (70, 130, 180),
    (96, 160, 96),
    (230, 180, 60),
    (150, 90, 170),
    (60, 170, 170),
    (200, 70, 120),
)
ELEMENTS = ("window", "shelf", "art", "plant", "lamp", "door", "curtain")


@dataclass(frozen=True)
class RoomStyle:
    """What a video's room looks like: wall colours, furniture shapes and counter wood."""

    wall: tuple[RGB, RGB]
    wood: RGB
    accent: RGB
    elements: tuple[str, ...]
    mirror: bool
    seed: int


def room_style(rng: np.random.Generator) -> RoomStyle:
    """A random room style (per video)."""
    n = int(rng.integers(2, 5))
    elements = tuple(str(e) for e in rng.choice(ELEMENTS, size=n, replace=False))
    return RoomStyle(
        wall=WALLS[int(rng.integers(len(WALLS)))],
        wood=WOODS[int(rng.integers(len(WOODS)))],
        accent=ACCENTS[int(rng.integers(len(ACCENTS)))],
        elements=elements,
        mirror=bool(rng.integers(2)),
        seed=int(rng.integers(2**31)),
    )


def gradient(
    size: tuple[int, int], top: RGB, bottom: RGB, *, horizontal: bool = False
) -> np.ndarray:
    """A linear colour gradient as an H x W x 3 float array."""
    w, h = size
    steps = w if horizontal else h
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    line = np.asarray(top, np.float32) * (1 - t) + np.asarray(bottom, np.float32) * t
    if horizontal:
        return np.broadcast_to(line[None, :, :], (h, w, 3)).copy()
    return np.broadcast_to(line[:, None, :], (h, w, 3)).copy()


def texture(
    arr: np.ndarray, rng: np.random.Generator, blotch: float = 10.0, grain: float = 3.0
) -> Image.Image:
    """Add soft blotches and fine grain to a float image; return it as an RGB image."""
    h, w = arr.shape[:2]
    small = rng.normal(0.0, blotch, size=(max(2, h // 48), max(2, w // 48), 1)).astype(np.float32)
    small_img = Image.fromarray(np.repeat(small + 128, 3, axis=2).clip(0, 255).astype(np.uint8))
    soft = np.asarray(small_img.resize((w, h), Image.Resampling.BICUBIC), np.float32) - 128
    fine = rng.normal(0.0, grain, size=(h, w, 1)).astype(np.float32)
    return Image.fromarray((arr + soft + fine).clip(0, 255).astype(np.uint8))


def _shade(color: RGB, factor: float) -> RGB:
    return tuple(int(max(0, min(255, c * factor))) for c in color)  # type: ignore[return-value]


def _draw_element(
    draw: ImageDraw.ImageDraw,
    kind: str,
    box: tuple[int, int, int, int],
    style: RoomStyle,
    rng: np.random.Generator,
) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    if kind == "window":
        draw.rectangle(box, fill=(250, 250, 246))
        draw.rectangle(
            (x0 + w // 14, y0 + h // 14, x1 - w // 14, y1 - h // 14), fill=(200, 222, 240)
        )
        draw.line((x0 + w // 2, y0, x0 + w // 2, y1), fill=(250, 250, 246), width=max(2, w // 20))
        draw.line((x0, y0 + h // 2, x1, y0 + h // 2), fill=(250, 250, 246), width=max(2, w // 20))
    elif kind == "shelf":
        plank = y0 + h * 2 // 3
        draw.rectangle((x0, plank, x1, plank + max(3, h // 14)), fill=style.wood)
        x = x0 + w // 12
        while x < x1 - w // 10:
            bw = int(rng.integers(max(3, w // 16), max(4, w // 7)))
            bh = int(rng.integers(max(4, h // 4), max(5, h * 2 // 3)))
            color = ACCENTS[int(rng.integers(len(ACCENTS)))]
            draw.rectangle(
                (x, plank - bh, x + bw, plank), fill=_shade(color, rng.uniform(0.7, 1.1))
            )
            x += bw + int(rng.integers(1, max(2, w // 20)))
    elif kind == "art":
        draw.rectangle(box, fill=(40, 36, 34))
        inner = (x0 + w // 12, y0 + w // 12, x1 - w // 12, y1 - w // 12)
        draw.rectangle(inner, fill=(240, 236, 228))
        cx, cy = (inner[0] + inner[2]) // 2, (inner[1] + inner[3]) // 2
        r = min(w, h) // 5
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=style.accent)
        draw.polygon(
            [(inner[0], inner[3]), (cx, cy), (inner[2], inner[3])], fill=_shade(style.accent, 0.6)
        )
    elif kind == "plant":
        pot_top = y0 + h * 2 // 3
        draw.polygon(
            [(x0 + w // 4, pot_top), (x1 - w // 4, pot_top), (x1 - w // 3, y1), (x0 + w // 3, y1)],
            fill=(190, 110, 80),
        )
        for _ in range(7):
            lx = int(rng.integers(x0, max(x0 + 1, x1 - w // 3)))
            ly = int(rng.integers(y0, max(y0 + 1, pot_top - h // 6)))
            draw.ellipse(
                (lx, ly, lx + w // 3, ly + h // 5),
                fill=_shade((70, 140, 70), rng.uniform(0.7, 1.2)),
            )
    elif kind == "lamp":
        cx = (x0 + x1) // 2
        draw.line((cx, y0 + h // 4, cx, y1), fill=(60, 60, 60), width=max(2, w // 14))
        draw.polygon(
            [
                (cx - w // 3, y0 + h // 4),
                (cx + w // 3, y0 + h // 4),
                (cx + w // 5, y0),
                (cx - w // 5, y0),
            ],
            fill=(250, 236, 200),
        )
    elif kind == "door":
        draw.rectangle(box, fill=_shade(style.wood, 1.1))
        draw.rectangle(
            (x0 + w // 8, y0 + h // 12, x1 - w // 8, y0 + h // 2 - h // 24),
            outline=_shade(style.wood, 0.8),
            width=max(2, w // 40),
        )
        draw.ellipse(
            (x1 - w // 5, y0 + h // 2, x1 - w // 5 + w // 12, y0 + h // 2 + w // 12),
            fill=(210, 190, 120),
        )
    elif kind == "curtain":
        stripes = 6
        for i in range(stripes):
            sx = x0 + i * w // stripes
            draw.rectangle(
                (sx, y0, sx + w // stripes, y1), fill=_shade(style.accent, 0.75 + 0.25 * (i % 2))
            )


def render_room(style: RoomStyle, size: tuple[int, int]) -> Image.Image:
    """The room's back wall (with its furniture shapes) at ``size``; same style, same picture."""
    rng = np.random.default_rng(style.seed)
    w, h = size
    image = Image.fromarray(gradient(size, *style.wall).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    floor = int(h * 0.78)
    draw.rectangle((0, floor, w, h), fill=_shade(style.wall[1], 0.75))
    slots = [
        (0.03, 0.08, 0.42, 0.40),
        (0.58, 0.06, 0.97, 0.36),
        (0.05, 0.44, 0.30, 0.78),
        (0.70, 0.42, 0.95, 0.78),
    ]
    for kind, slot in zip(style.elements, slots, strict=False):
        box = (int(slot[0] * w), int(slot[1] * h), int(slot[2] * w), int(slot[3] * h))
        _draw_element(draw, kind, box, style, rng)
    image = image.filter(ImageFilter.GaussianBlur(max(1.0, w / 400)))  # a little depth of field
    if style.mirror:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return texture(np.asarray(image, np.float32), rng, blotch=8.0, grain=2.5)


def counter_layer(style: RoomStyle, size: tuple[int, int], top: int) -> Image.Image:
    """An RGBA foreground counter (table top edge and front) from row ``top`` down."""
    w, h = size
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    edge = max(4, (h - top) // 8)
    draw.rectangle((0, top, w, top + edge), fill=(*_shade(style.wood, 1.15), 255))
    draw.rectangle((0, top + edge, w, h), fill=(*_shade(style.wood, 0.85), 255))
    rng = np.random.default_rng(style.seed + 1)
    for _ in range(12):
        y = int(rng.integers(top + edge, max(top + edge + 1, h)))
        draw.line(
            (0, y, w, y + int(rng.integers(-3, 4))), fill=(*_shade(style.wood, 0.75), 255), width=1
        )
    return layer


def tabletop(rng: np.random.Generator, size: tuple[int, int], horizon: float) -> Image.Image:
    """A product-shot background: a plain wall above a wooden or stone table from ``horizon``."""
    w, h = size
    wall = WALLS[int(rng.integers(len(WALLS)))]
    wood = WOODS[int(rng.integers(len(WOODS)))]
    arr = gradient(size, *wall)
    y = int(h * horizon)
    if y < h:
        arr[y:] = gradient((w, h - y), _shade(wood, 1.1), _shade(wood, 0.8))
        arr[y:] += rng.normal(0, 6, size=(h - y, 1, 1)).astype(np.float32)  # grain: per-row shade
    return texture(arr, rng, blotch=6.0, grain=2.0)
