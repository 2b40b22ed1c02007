"""One outro card shown in two placements (9:16, 1:1, 4:5): the part both show, side by side.

A re-upload in another placement crops and scales the whole video, its end card too: the 1:1
copy of a 9:16 ad shows the card's middle rows, larger. ``verify.compare_cards`` refuses boxes
of other aspect ratios (other layouts), and the content pHash of a cropped card is far from the
whole one's, so the grouping puts such a copy's card in a group of its own. Here the two cards are
registered the way re-uploads are (``media.local_match``: ORB features and a RANSAC similarity
transform of the content boxes), the region both show is cut from each at the same size, and
``compare_cards`` reads the two cuts as it reads any pair: a changed price or name inside that
region is still a different card. No fit, or a shared region under ``min_overlap`` of the
smaller card: not the same card.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from influencer_pipeline.media.local_match import (
    FrameMatch,
    MatchConfig,
    frame_features,
    match_frames,
)
from influencer_pipeline.outro.fingerprint import OutroFingerprint
from influencer_pipeline.outro.verify import (
    CardComparison,
    VerifyConfig,
    card_image,
    compare_cards,
    patch_of,
)

Box = tuple[float, float, float, float]
APART = CardComparison(255.0, 100.0, 1.0, False)  # unreadable, no fit, or too little shared


@dataclass(frozen=True)
class PlacedConfig:
    """Settings of the two-placement check."""

    min_overlap: float = 0.5  # of the smaller card's area, in the larger one's units
    match: MatchConfig = field(default_factory=MatchConfig)
    verify: VerifyConfig = field(default_factory=VerifyConfig)


def shared_region(
    box_a: tuple[int, int, int, int], box_b: tuple[int, int, int, int], fit: FrameMatch
) -> tuple[Box, Box, float] | None:
    """The region both cards show, in a's pixels and in b's, and its share of the smaller card.

    ``fit`` maps a's content (origin its centre, unit its height) to b's the same way
    (``local_match``; placements never rotate, so its rotation is taken as none)."""
    ax0, ay0, ax1, ay1 = box_a
    bx0, by0, bx1, by1 = box_b
    ha, hb = ay1 - ay0, by1 - by0
    half_a, half_b = (ax1 - ax0) / ha / 2, (bx1 - bx0) / hb / 2
    s, tx, ty = fit.scale, fit.shift_x, fit.shift_y
    left, right = max(-half_a, (-half_b - tx) / s), min(half_a, (half_b - tx) / s)
    top, bottom = max(-0.5, (-0.5 - ty) / s), min(0.5, (0.5 - ty) / s)
    if right <= left or bottom <= top:
        return None
    share = (right - left) * (bottom - top) / min(2 * half_a, 2 * half_b / s**2)
    cx_a, cy_a = (ax0 + ax1) / 2, (ay0 + ay1) / 2
    cx_b, cy_b = (bx0 + bx1) / 2, (by0 + by1) / 2
    in_a = (cx_a + left * ha, cy_a + top * ha, cx_a + right * ha, cy_a + bottom * ha)
    in_b = (
        cx_b + (s * left + tx) * hb,
        cy_b + (s * top + ty) * hb,
        cx_b + (s * right + tx) * hb,
        cy_b + (s * bottom + ty) * hb,
    )
    return in_a, in_b, share


def compare_placed_cards(
    a: OutroFingerprint, b: OutroFingerprint, config: PlacedConfig | None = None
) -> CardComparison:
    """``compare_cards`` on the region two cards in other placements both show (module doc)."""
    config = config or PlacedConfig()
    read_a, read_b = card_image(a), card_image(b)
    if read_a is None or read_b is None:
        return APART
    (image_a, box_a), (image_b, box_b) = read_a, read_b
    fit = match_frames(
        frame_features(np.asarray(image_a), box_a, config.match),
        frame_features(np.asarray(image_b), box_b, config.match),
        config.match,
    )
    region = shared_region(box_a, box_b, fit) if fit is not None else None
    if region is None or region[2] < config.min_overlap:
        return APART
    in_a, in_b, _ = region
    width = max(8, round(in_a[2] - in_a[0]))
    height = max(8, round(in_a[3] - in_a[1]))
    cut_a = image_a.resize((width, height), Image.Resampling.LANCZOS, box=_inside(in_a, image_a))
    cut_b = image_b.resize((width, height), Image.Resampling.LANCZOS, box=_inside(in_b, image_b))
    return compare_cards(
        patch_of(cut_a, config.verify), patch_of(cut_b, config.verify), config.verify
    )


def _inside(box: Box, image: Image.Image) -> Box:
    """``box`` clipped to the image (the fit's rounding may reach a hair past its edge)."""
    x0, y0, x1, y1 = box
    return (max(0.0, x0), max(0.0, y0), min(float(image.width), x1), min(float(image.height), y1))
