"""Render one planned video to RGB frames: shot canvases, camera moves, captions and end cards."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from influencer_tools.demo.backgrounds import room_style
from influencer_tools.demo.camera import Overlay, camera_frames, fade_frames
from influencer_tools.demo.outros import SHARED_BRAND, OutroDesign, render_card
from influencer_tools.demo.photos import FaceLibrary
from influencer_tools.demo.plan import DemoPlan, VideoPlan
from influencer_tools.demo.scenes import build_canvas
from influencer_tools.demo.text import caption_overlay, font
from influencer_tools.demo.timeline import ShotPlan

FADE_SECONDS = 0.4


@lru_cache(maxsize=4)
def _watermark(height: int, brand: str = SHARED_BRAND) -> Image.Image:
    size = max(7, round(height * 0.018))
    face = font(size)
    width = round(face.getlength(brand)) + size * 2
    layer = Image.new("RGBA", (width, size * 2), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    draw.rounded_rectangle(
        (0, size // 4, size * 1.2, size * 1.7),
        radius=size // 4,
        outline=(240, 130, 50, 230),
        width=max(1, size // 6),
    )
    draw.text(
        (size * 1.6, size // 4),
        brand,
        font=face,
        fill=(255, 255, 255, 230),
        stroke_width=1,
        stroke_fill=(60, 60, 60, 200),
    )
    return layer


def _overlays(
    video: VideoPlan, shot: ShotPlan, size: tuple[int, int], brand: str = SHARED_BRAND
) -> list[Overlay]:
    w, h = size
    overlays: list[Overlay] = []
    top = round(0.02 * h)
    if video.watermark:
        mark = _watermark(h, brand)
        overlays.append((mark, (w - mark.width - round(0.03 * w), top)))
    if video.pinned_caption:
        bubble = caption_overlay(video.pinned_caption, round(0.72 * w), h, "bubble")
        overlays.append((bubble, (round(0.04 * w), top)))
        top += bubble.height + round(0.01 * h)
    if shot.caption:
        people = any(p.role in ("influencer", "side") for p in shot.people)
        position = "bottom" if people or video.pinned_caption else shot.caption_pos
        layer = caption_overlay(shot.caption, round(0.86 * w), h, video.caption_style)
        y = top + round(0.04 * h) if position == "top" else h - layer.height - round(0.07 * h)
        overlays.append((layer, ((w - layer.width) // 2, y)))
    return overlays


def card_design(plan: DemoPlan, video: VideoPlan) -> OutroDesign:
    """The end card a video's ``card`` shot shows: the creator's outro or the shared brand card."""
    if video.kind == "faceless":
        design = plan.creator(video.creator).outro
        assert design is not None
        return design
    return plan.brand_card


def render_video(
    plan: DemoPlan, video: VideoPlan, library: FaceLibrary, card: OutroDesign | None = None
) -> Iterator[np.ndarray]:
    """Yield every frame (H x W x 3 uint8 RGB) of ``video`` in order (``card``: another card)."""
    config = plan.config
    size = (config.width, config.height)
    room = room_style(np.random.default_rng(video.style_seed))
    previous: np.ndarray | None = None
    for shot in video.shots:
        if shot.kind == "card":
            picture = np.asarray(render_card(card or card_design(plan, video), size))
            n_fade = (
                min(round(FADE_SECONDS * config.fps), shot.n_frames // 3)
                if previous is not None
                else 0
            )
            yield from fade_frames(
                previous if previous is not None else picture, picture, shot.n_frames, n_fade
            )
            continue
        canvas = build_canvas(shot, room, library, size)
        overlays = _overlays(video, shot, size, plan.brand_card.brand)
        moves = {"brightness": shot.brightness, "grade": video.grade, "overlays": overlays}
        moves["fps"] = config.fps  # live people move in time
        for frame in camera_frames(canvas, shot.n_frames, size, **moves):
            previous = frame
            yield frame
