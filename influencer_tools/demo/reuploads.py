"""The demo's re-uploads and second cuts, as data (the plan's re-upload part).

Re-uploads of an original (each its own file, URL and score; the truth's ``duplicate_group`` is
the original): re-encoded, resized, cropped 2-4 %, trimmed at the start, and the phenomena of
real placements: the centre of the 9:16 picture cropped to 1:1 or 4:5 and scaled (the crop's
centre a few per cent off the picture's, as in real uploads), natively or letterboxed back into
a 9:16 canvas with black bars, and one re-upload with another outro card (the same body, the
creator's card with another price). A *second cut* is not a re-upload: another edit of the same
shoot (the same shots, in another order and of other lengths, with other captions and the same
card), an original of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from influencer_tools.demo.outros import PRICES, OutroDesign
from influencer_tools.demo.text import pick_caption

if TYPE_CHECKING:
    from influencer_tools.demo.config import DemoConfig
    from influencer_tools.demo.timeline import ShotPlan

REUPLOAD_KINDS = (
    "reencode",
    "resize",
    "crop",
    "trim",
    "placement_1x1",
    "placement_4x5",
    "letterbox_1x1",
    "letterbox_4x5",
    "other_outro",
)
ASPECTS = {"1x1": (1, 1), "4x5": (4, 5)}


@dataclass(frozen=True)
class Derived:
    """A file made from an original: a re-upload (transform_video) or a byte-for-byte copy."""

    file: str
    source: str
    kind: str  # one of REUPLOAD_KINDS | "exact_copy"
    scale: float = 1.0
    crop: float = 0.0
    trim_start_s: float = 0.0
    crf: int = 23
    aspect: tuple[int, int] | None = None  # centre crop to this width:height
    crop_shift: float = 0.0  # the crop's centre moved by this share of the height (up < 0)
    letterbox: bool = False  # the crop put back into the original canvas with black bars
    outro: OutroDesign | None = None  # another end card (kind "other_outro")

    @property
    def placement(self) -> str:
        """The placement in words: "9:16", "1:1", "4:5", "1:1 letterboxed", ..."""
        if self.aspect is None:
            return "9:16"
        name = f"{self.aspect[0]}:{self.aspect[1]}"
        return f"{name} letterboxed" if self.letterbox else name


def reupload_params(
    kind: str, seconds: float, design: OutroDesign | None, rng: np.random.Generator
) -> dict:
    """The Derived fields of one re-upload of a ``seconds``-long original."""
    if kind == "reencode":
        return {"crf": int(rng.choice([17, 30, 32]))}
    if kind == "resize":
        return {"scale": 0.75}
    if kind == "crop":
        return {"crop": round(float(rng.uniform(0.02, 0.04)), 4)}
    if kind == "trim":
        return {"trim_start_s": round(float(min(rng.uniform(0.5, 1.5), 0.4 * seconds)), 3)}
    if kind == "other_outro":
        assert design is not None
        price = next(p for p in rng.permutation(PRICES) if p != design.price)
        return {"outro": replace(design, price=str(price)), "crf": 26}
    shape, letterbox = kind.split("_")[1], kind.startswith("letterbox")
    return {
        "aspect": ASPECTS[shape],
        "crop_shift": round(float(rng.uniform(-0.04, 0.04)), 4),
        "letterbox": letterbox,
        "scale": 1.0 if letterbox else round(float(rng.uniform(0.7, 0.95)), 3),
        "crf": int(rng.integers(22, 29)),
    }


def reupload_kinds(config: DemoConfig, rng: np.random.Generator) -> list[str]:
    """``n_reuploads`` kinds, every kind once before any twice, in a seeded order."""
    kinds = [REUPLOAD_KINDS[i % len(REUPLOAD_KINDS)] for i in range(config.n_reuploads)]
    return [kinds[int(i)] for i in rng.permutation(len(kinds))]


def second_cut(
    shots: tuple[ShotPlan, ...], rng: np.random.Generator, max_shot_frames: int
) -> tuple[ShotPlan, ...] | None:
    """Another edit of the same shoot: body shots in reverse order, 0.7-1.4 x as long (at most
    ``max_shot_frames``), other captions; the card stays last. None with < 3 body shots."""
    body = [s for s in shots if s.kind != "card"]
    cards = [s for s in shots if s.kind == "card"]
    if len(body) < 3:
        return None
    edited = []
    for shot in body[::-1]:
        n = min(max_shot_frames, max(6, round(shot.n_frames * float(rng.uniform(0.7, 1.4)))))
        caption = pick_caption(rng) if rng.random() < 0.7 else None
        edited.append(replace(shot, n_frames=n, caption=caption))
    return tuple(edited + cards)
