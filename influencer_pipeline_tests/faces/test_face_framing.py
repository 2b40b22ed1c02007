"""A picture's border around a face (``faces.framing``): drawn prints, the demo's framed prints.

The images are drawn here (a textured wall, a framed print, a person cut out along a curved
outline, a shelf and a counter crossing the picture) or composed from the demo's own layers with
the face box they report; the verdicts come from how they were drawn, never from the module.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageDraw, ImageOps

from influencer_pipeline.faces.dominant import DominanceConfig, choose_dominant
from influencer_pipeline.faces.framing import framed, grey_image
from influencer_tools.demo.photos import load_library, print_photo

SIZE = (360, 640)


def _wall(seed: int = 3) -> Image.Image:
    """A soft textured wall: noise blurred into blotches (no straight edges)."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(150, 25, (SIZE[1] // 16, SIZE[0] // 16, 3)).clip(0, 255).astype(np.uint8)
    return Image.fromarray(noise).resize(SIZE, Image.Resampling.BICUBIC)


def _face(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int]) -> None:
    x1, y1, x2, y2 = box
    draw.ellipse(box, fill=(214, 170, 140))
    eye = (x2 - x1) // 8
    for cx in (x1 + (x2 - x1) // 3, x1 + 2 * (x2 - x1) // 3):
        cy = y1 + (y2 - y1) * 2 // 5
        draw.ellipse((cx - eye, cy - eye // 2, cx + eye, cy + eye // 2), fill=(40, 30, 30))
    mouth = y1 + 3 * (y2 - y1) // 4
    draw.line((x1 + (x2 - x1) // 3, mouth, x2 - (x2 - x1) // 3, mouth), fill=(120, 40, 40), width=3)


FACE = (150, 220, 210, 300)


def test_a_framed_print_on_a_wall_has_a_border() -> None:
    image = _wall()
    draw = ImageDraw.Draw(image)
    draw.rectangle((118, 180, 242, 420), fill=(60, 45, 35))  # the frame
    draw.rectangle((126, 188, 234, 412), fill=(90, 110, 130))  # the photo's background
    _face(draw, FACE)
    assert framed(grey_image(np.asarray(image)), FACE)


def test_a_person_cut_out_along_a_curve_has_no_border() -> None:
    image = _wall()
    draw = ImageDraw.Draw(image)
    draw.ellipse((120, 190, 240, 330), fill=(70, 50, 40))  # hair around the head
    draw.ellipse((70, 300, 290, 700), fill=(40, 60, 120))  # shoulders and body
    _face(draw, FACE)
    assert not framed(grey_image(np.asarray(image)), FACE)


def test_a_shelf_above_and_a_counter_below_are_not_a_border() -> None:
    image = _wall()
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 160, SIZE[0], 168), fill=(110, 80, 50))  # a shelf across the room
    draw.ellipse((70, 300, 290, 700), fill=(40, 60, 120))
    _face(draw, FACE)
    draw.rectangle((0, 380, SIZE[0], SIZE[1]), fill=(150, 110, 70))  # the counter in front
    assert not framed(grey_image(np.asarray(image)), FACE)


def _composed(layer: Image.Image, box: tuple[float, float, float, float]) -> tuple:
    """``layer`` pasted in the middle of a wall; the face box moved with it."""
    wall = _wall(5)
    left, top = (SIZE[0] - layer.width) // 2, 170
    wall.paste(layer, (left, top), layer if layer.mode == "RGBA" else None)
    moved = (box[0] + left, box[1] + top, box[2] + left, box[3] + top)
    return grey_image(np.asarray(wall.convert("RGB"))), moved


@pytest.fixture(scope="module")
def photos() -> list:
    library = load_library()
    return [library.photos[i][0] for i in library.identities("influencer")[:6]]


def test_the_demos_framed_prints_have_a_border(photos: list) -> None:
    """A print with its white border in a wooden frame, as the demo's easel shots show it."""
    for photo in photos:
        print_, box = print_photo(photo, 60.0, border=4)
        frame = ImageOps.expand(print_, border=6, fill=(58, 44, 36))
        grey, moved = _composed(
            frame.convert("RGBA"), (box[0] + 6, box[1] + 6, box[2] + 6, box[3] + 6)
        )
        assert framed(grey, moved), photo.identity


def _faces(n_frames: int, framed_in: int) -> pd.DataFrame:
    """One person, large and steady, in ``n_frames`` frames; a border in the first ``framed_in``."""
    rng = np.random.default_rng(0)
    base = rng.normal(size=128)
    rows = []
    for k in range(n_frames):
        vector = base + rng.normal(scale=0.05, size=128)
        rows.append(
            {
                "frame_index": k,
                "timestamp_s": k * 0.5,
                "rel_height": 0.2,
                "embedding": (vector / np.linalg.norm(vector)).astype(np.float32),
                "framed": k < framed_in,
            }
        )
    return pd.DataFrame(rows)


def test_a_track_framed_in_most_frames_never_wins() -> None:
    decision = choose_dominant(
        _faces(8, 6), 10, DominanceConfig.for_embedder("dlib", use_border=True)
    )
    assert not decision.has_dominant_face
    assert "picture's border" in decision.decision


def test_a_border_in_a_few_frames_does_not_make_a_picture() -> None:
    decision = choose_dominant(
        _faces(8, 2), 10, DominanceConfig.for_embedder("dlib", use_border=True)
    )
    assert decision.has_dominant_face, decision.decision
