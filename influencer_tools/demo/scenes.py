"""Shot canvases: the still picture a shot's camera moves over (people, products, photos on screen).

A canvas is larger than the frame (``PAD``) so the camera can zoom and pan; at zoom 1 and no pan
the frame shows the canvas centre 1:1, so a face ``face_frac * height / zoom_mid`` canvas pixels
tall appears ``face_frac`` of the frame tall in mid-shot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from influencer_tools.demo.backgrounds import RoomStyle, counter_layer, render_room, tabletop
from influencer_tools.demo.motion import HeadMotion, random_motion
from influencer_tools.demo.photos import FaceLibrary, person_layer, print_photo
from influencer_tools.demo.props import PRODUCTS, draw_product, drop_shadow
from influencer_tools.demo.screens import screenshot_canvas
from influencer_tools.demo.timeline import PersonUse, ShotPlan

PAD = 1.16
COUNTER_TOP = 0.80  # frame fraction where the counter starts when the people allow it


@dataclass(frozen=True)
class Actor:
    """A live person of a shot: their layer, where it is pasted and how their head moves."""

    layer: Image.Image
    xy: tuple[int, int]
    face_box: tuple[float, float, float, float]  # in layer pixels
    motion: HeadMotion


@dataclass(frozen=True)
class Canvas:
    """A shot's still picture and how the camera moves over it (pan as fractions of the slack).

    Shots with live people also carry the picture without them (``background``), the people
    (``actors``, drawn in order, each with its head motion) and what stands in front of them
    (``foreground``: the counter and its products), so each frame can show them moving.
    """

    image: Image.Image
    zoom: tuple[float, float]
    pan: tuple[float, float, float, float]
    background: Image.Image | None = None
    actors: tuple[Actor, ...] = ()
    foreground: Image.Image | None = None


def canvas_size(size: tuple[int, int]) -> tuple[int, int]:
    """The default canvas size for frames of ``size``."""
    return round(size[0] * PAD), round(size[1] * PAD)


def to_canvas(
    x: float, y: float, size: tuple[int, int], csize: tuple[int, int]
) -> tuple[float, float]:
    """Canvas pixel of the frame point (x, y) given as fractions, camera at rest."""
    return csize[0] / 2 + (x - 0.5) * size[0], csize[1] / 2 + (y - 0.5) * size[1]


@lru_cache(maxsize=8)
def _room(style: RoomStyle, csize: tuple[int, int]) -> Image.Image:
    return render_room(style, csize)


def _mid_zoom(shot: ShotPlan) -> float:
    return (shot.zoom[0] + shot.zoom[1]) / 2


def _place_people(
    canvas: Image.Image,
    people: tuple[PersonUse, ...],
    library: FaceLibrary,
    size: tuple[int, int],
    zoom: float,
    *,
    rng: np.random.Generator | None = None,
) -> tuple[float, float, list[Actor]]:
    """Paste people (influencer in front); return the top-most layer bottom, lowest face bottom
    and the people as actors (with a head motion each when ``rng`` is given)."""
    csize = canvas.size
    layer_bottom, face_bottom = float(csize[1]), 0.0
    actors = []
    for person in sorted(people, key=lambda p: p.role == "influencer"):
        photo = library.photos[person.identity][person.photo]
        face_px = person.face_frac * size[1] / zoom
        narrow = 1.5 if len(people) > 1 else None  # side by side: keep to one's own space
        layer, box = person_layer(photo, face_px, flip=person.flip, width_faces=narrow)
        cx, cy = to_canvas(person.x, person.y, size, csize)
        left = round(cx - (box[0] + box[2]) / 2)
        top = round(cy - (box[1] + box[3]) / 2)
        canvas.paste(layer, (left, top), layer)
        layer_bottom = min(layer_bottom, top + layer.height)
        face_bottom = max(face_bottom, top + box[3])
        if rng is not None:
            actors.append(Actor(layer, (left, top), box, random_motion(rng)))
    return layer_bottom, face_bottom, actors


def _inside(xy: tuple[int, int]) -> tuple[int, int]:
    """``alpha_composite`` takes no negative offsets: products never start left of the canvas."""
    return max(0, xy[0]), max(0, xy[1])


def _products_on(
    canvas: Image.Image,
    rng: np.random.Generator,
    *,
    line: float,
    heights: tuple[float, float],
    xs: list[float],
    size: tuple[int, int],
) -> None:
    for x in xs:
        kind = PRODUCTS[int(rng.integers(len(PRODUCTS)))]
        height = int(rng.uniform(*heights) * size[1])
        product = draw_product(kind, height, rng)
        cx, _ = to_canvas(x, 0.5, size, canvas.size)
        left, top = round(cx - product.width / 2), round(line - product.height)
        shadow = drop_shadow(
            (int(product.width * 1.3), max(4, product.height // 8)), product.width / 12
        )
        spot = (round(cx - shadow.width / 2), round(line - shadow.height / 2))
        if canvas.mode == "RGBA":  # a layer drawn over others later: keep its transparency
            canvas.alpha_composite(shadow, _inside(spot))
            canvas.alpha_composite(product, _inside((left, top)))
        else:
            canvas.paste(shadow, spot, shadow)
            canvas.paste(product, (left, top), product)


def people_canvas(
    shot: ShotPlan, room: RoomStyle, library: FaceLibrary, size: tuple[int, int]
) -> Canvas:
    """Talking-head, side-character and duo shots: live people in the room behind a counter.

    The people move their heads (``demo.motion``): the canvas keeps the room, the people and the
    counter with its products apart so that the camera can draw each frame anew.
    """
    csize = canvas_size(size)
    background = _room(room, csize).copy()
    canvas = background.copy()
    rng = np.random.default_rng(shot.seed)
    motion_rng = np.random.default_rng([shot.seed, 1])  # the layout's draws stay as they were
    layer_bottom, face_bottom, actors = _place_people(
        canvas, shot.people, library, size, _mid_zoom(shot), rng=motion_rng
    )
    default = to_canvas(0.5, COUNTER_TOP, size, csize)[1]
    top = min(default, layer_bottom - 0.02 * size[1])
    top = round(max(top, face_bottom + 0.04 * size[1]))
    foreground = Image.new("RGBA", csize, (0, 0, 0, 0))
    counter = counter_layer(room, csize, top)
    foreground.paste(counter, (0, 0), counter)
    if rng.random() < 0.6:
        x = float(rng.choice([0.18, 0.82]))
        line = top + (csize[1] - top) * 0.12
        _products_on(foreground, rng, line=line, heights=(0.12, 0.2), xs=[x], size=size)
    canvas.paste(foreground, (0, 0), foreground)
    return Canvas(canvas, shot.zoom, shot.pan, background, tuple(actors), foreground)


def product_canvas(shot: ShotPlan, size: tuple[int, int]) -> Canvas:
    """A product shot: one to three products on a table, no people."""
    csize = canvas_size(size)
    rng = np.random.default_rng(shot.seed)
    horizon = float(rng.uniform(0.45, 0.62))
    canvas = tabletop(rng, csize, horizon)
    n = int(rng.integers(1, 4))
    xs = {1: [0.5], 2: [0.33, 0.67], 3: [0.22, 0.5, 0.78]}[n]
    line = to_canvas(0.5, horizon + float(rng.uniform(0.12, 0.2)), size, csize)[1]
    heights = (0.22, 0.42) if n < 3 else (0.16, 0.3)
    _products_on(canvas, rng, line=line, heights=heights, xs=xs, size=size)
    return Canvas(canvas, shot.zoom, shot.pan)


def _photo_cell(
    library: FaceLibrary, person: PersonUse, face_px: float, cell: tuple[int, int], gray: bool
) -> Image.Image:
    photo = library.photos[person.identity][person.photo]
    image, box = print_photo(photo, face_px, border=0, flip=person.flip)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    left = round(min(max(0, cx - cell[0] / 2), max(0, image.width - cell[0])))
    top = round(min(max(0, cy - cell[1] * 0.42), max(0, image.height - cell[1])))
    out = Image.new("RGB", cell, (235, 232, 226))
    out.paste(image.crop((left, top, left + cell[0], top + cell[1])), (0, 0))
    return ImageOps.grayscale(out).convert("RGB") if gray else out


def strip_canvas(shot: ShotPlan, library: FaceLibrary, size: tuple[int, int]) -> Canvas:
    """Photos of other people on a diagonal film strip sliding through the frame (like ad_00)."""
    w, h = size
    rng = np.random.default_rng(shot.seed)
    angle = float(rng.uniform(15.0, 28.0))
    slope = math.tan(math.radians(angle))
    margin = 0.05 * h
    cw = round(w * 2.6)
    ch = round(h + 2 * margin + (cw - w) * slope)
    canvas = tabletop(rng, (cw, ch), 2.0)  # horizon below the canvas: a plain wall/table surface
    # The strip's camera does not zoom, so a face_frac face is face_frac * h canvas pixels.
    face_px = max((p.face_frac for p in shot.people), default=0.07) * h
    cell = (round(face_px * 1.9), round(face_px * 2.3))
    hole = max(3, cell[1] // 10)
    strip_h = cell[1] + 4 * hole
    length = round(math.hypot(cw, cw * slope) + cell[0])
    strip = Image.new("RGBA", (length, strip_h), (18, 16, 16, 255))
    draw = ImageDraw.Draw(strip)
    for x in range(hole, length, hole * 3):
        for y in (hole // 2, strip_h - hole - hole // 2):
            draw.rounded_rectangle(
                (x, y, x + hole * 1.4, y + hole), radius=hole // 3, fill=(220, 214, 200, 255)
            )
    gap = max(4, cell[0] // 8)
    gray = rng.random() < 0.35
    for i, x in enumerate(range(gap, length - cell[0], cell[0] + gap)):
        if shot.people:
            person = shot.people[i % len(shot.people)]
            cell_image = _photo_cell(library, person, person.face_frac * h, cell, gray)
            strip.paste(cell_image, (x, 2 * hole))
    rotated = strip.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    canvas.paste(
        rotated, (round(cw / 2 - rotated.width / 2), round(ch / 2 - rotated.height / 2)), rotated
    )
    forward = bool(rng.integers(2))
    pan = (-1.0, 1.0, 1.0, -1.0) if forward else (1.0, -1.0, -1.0, 1.0)
    return Canvas(canvas, (1.0, 1.0), pan)


def frame_canvas(shot: ShotPlan, library: FaceLibrary, size: tuple[int, int]) -> Canvas:
    """A small framed photo of other people on an easel beside a glowing lamp (like ad_01)."""
    w, h = size
    csize = canvas_size(size)
    rng = np.random.default_rng(shot.seed)
    horizon = float(rng.uniform(0.5, 0.6))
    canvas = tabletop(rng, csize, horizon)
    line = to_canvas(0.5, horizon + 0.16, size, csize)[1]
    lamp_x = float(rng.uniform(0.25, 0.35))
    lamp = draw_product("lamp", int(h * rng.uniform(0.32, 0.4)), rng)
    lx = to_canvas(lamp_x, 0.5, size, csize)[0]
    canvas.paste(lamp, (round(lx - lamp.width / 2), round(line - lamp.height)), lamp)
    draw = ImageDraw.Draw(canvas)
    xs = [0.72] if len(shot.people) == 1 else [0.62, 0.84]
    for person, x in zip(shot.people, xs, strict=False):
        photo = library.photos[person.identity][person.photo]
        pic, _ = print_photo(
            photo, person.face_frac * h / _mid_zoom(shot), border=max(3, w // 90), flip=person.flip
        )
        framed = ImageOps.expand(pic, border=max(3, w // 70), fill=(58, 44, 36))
        cx = to_canvas(x, 0.5, size, csize)[0]
        bottom = line - 0.02 * h
        left, top = round(cx - framed.width / 2), round(bottom - framed.height)
        leg = max(2, w // 120)
        draw.line(
            (cx, top + framed.height * 0.3, cx + framed.width * 0.35, line),
            fill=(150, 110, 70),
            width=leg,
        )
        draw.line((left + framed.width * 0.2, bottom, left, line), fill=(150, 110, 70), width=leg)
        draw.line(
            (left + framed.width * 0.8, bottom, left + framed.width, line),
            fill=(150, 110, 70),
            width=leg,
        )
        canvas.paste(framed, (left, top))
    return Canvas(canvas, shot.zoom, shot.pan)


def build_canvas(
    shot: ShotPlan, room: RoomStyle, library: FaceLibrary, size: tuple[int, int]
) -> Canvas:
    """The canvas for any non-card shot."""
    if shot.kind in ("talking_head", "side", "duo"):
        return people_canvas(shot, room, library, size)
    if shot.kind == "product":
        return product_canvas(shot, size)
    if shot.kind == "photo_strip":
        return strip_canvas(shot, library, size)
    if shot.kind == "photo_frame":
        return frame_canvas(shot, library, size)
    if shot.kind == "screenshot":
        image = screenshot_canvas(shot, library, size, canvas_size(size))
        return Canvas(image, shot.zoom, shot.pan)
    raise ValueError(f"no canvas for shot kind {shot.kind!r}")
