"""A phone on the table showing a photo of a couple: the screenshot shot (like real ads' phones).

Real ads show photos of people on phone screens (a couple in a social-media post, a camera roll)
and photo plaques, often large and in many frames. They are pictures: the people in them never
move, only the camera does. The couple is cut from two shipped photos (feathered head-and-shoulders
layers, heads leaning together) on a plain backdrop, framed as a post with a header and a caption.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from influencer_tools.demo.backgrounds import ACCENTS, gradient, tabletop
from influencer_tools.demo.photos import FaceLibrary, person_layer
from influencer_tools.demo.timeline import ShotPlan

PHONE_BODY = (24, 24, 28)
SCREEN = (250, 250, 250)
UI_GREY = (205, 205, 210)


def couple_picture(
    shot: ShotPlan, library: FaceLibrary, face_px: float, rng: np.random.Generator
) -> Image.Image:
    """The couple photo (RGB): the shot's people side by side, heads leaning together."""
    layers = []
    for k, person in enumerate(shot.people[:2]):
        photo = library.photos[person.identity][person.photo]
        layer, box = person_layer(
            photo, face_px * person.face_frac / shot.people[0].face_frac, flip=person.flip,
            width_faces=1.6,
        )  # fmt: skip
        lean = (-1 if k == 0 else 1) * float(rng.uniform(3.0, 9.0))
        layers.append((layer.rotate(lean, resample=Image.Resampling.BICUBIC, expand=True), box))
    width = sum(layer.width for layer, _ in layers) - round(0.25 * face_px)
    height = max(layer.height for layer, _ in layers)
    height = min(height, round(3.0 * face_px))
    top, bottom = ACCENTS[int(rng.integers(len(ACCENTS)))], (236, 226, 210)
    picture = Image.fromarray(gradient((width, height), top, bottom).clip(0, 255).astype(np.uint8))
    x = 0
    for layer, box in layers:
        y = round(0.45 * face_px - box[1])
        picture.paste(layer, (x, y), layer)
        x += layer.width - round(0.25 * face_px)
    return picture


def screenshot_canvas(
    shot: ShotPlan, library: FaceLibrary, size: tuple[int, int], csize: tuple[int, int]
) -> Image.Image:
    """A phone lying on a table, its screen showing a post with a photo of two people."""
    w, h = size
    rng = np.random.default_rng(shot.seed)
    canvas = tabletop(rng, csize, float(rng.uniform(0.15, 0.3)))
    if not shot.people:
        return canvas
    zoom = (shot.zoom[0] + shot.zoom[1]) / 2
    face_px = shot.people[0].face_frac * h / zoom
    picture = couple_picture(shot, library, face_px, rng)
    margin = round(0.04 * picture.width)
    screen_w = picture.width + 2 * margin
    header, footer = round(0.16 * screen_w), round(0.42 * screen_w)
    screen_h = header + picture.height + footer
    bezel = max(6, round(0.045 * screen_w))
    phone = Image.new("RGBA", (screen_w + 2 * bezel, screen_h + 3 * bezel), (0, 0, 0, 0))
    draw = ImageDraw.Draw(phone)
    draw.rounded_rectangle(
        (0, 0, phone.width - 1, phone.height - 1), radius=3 * bezel, fill=(*PHONE_BODY, 255)
    )
    draw.rectangle((bezel, bezel * 2, bezel + screen_w, bezel * 2 + screen_h), fill=(*SCREEN, 255))
    avatar = round(0.09 * screen_w)
    top = bezel * 2 + (header - avatar) // 2
    draw.ellipse((bezel + margin, top, bezel + margin + avatar, top + avatar), fill=(*UI_GREY, 255))
    draw.rectangle(
        (bezel + 2 * margin + avatar, top + avatar // 3, bezel + screen_w // 2, top + avatar // 2),
        fill=(*UI_GREY, 255),
    )
    phone.paste(picture, (bezel + margin, bezel * 2 + header))
    lines_top = bezel * 2 + header + picture.height + margin
    for k, length in enumerate((0.35, 0.8, 0.6)):
        y = lines_top + k * round(0.09 * screen_w)
        draw.rounded_rectangle(
            (
                bezel + margin,
                y,
                bezel + margin + round(length * screen_w),
                y + round(0.03 * screen_w),
            ),
            radius=2,
            fill=(*UI_GREY, 255),
        )
    tilt = float(rng.uniform(-8.0, 8.0))
    phone = phone.rotate(tilt, resample=Image.Resampling.BICUBIC, expand=True)
    cx = csize[0] / 2 + float(rng.uniform(-0.05, 0.05)) * w
    cy = csize[1] / 2 + float(rng.uniform(-0.04, 0.08)) * h
    canvas.paste(phone, (round(cx - phone.width / 2), round(cy - phone.height / 2)), phone)
    return canvas
