"""Two outro cards read side by side at the card's own resolution, the way a person compares them.

The 256-bit pHash and the 8 x 8 Lab grid (``grouping``) are the fast candidate search; they blur
what tells look-alike cards apart: another brand name in the same font and place ("Vanaly" /
"Vesopa"), another price, URL or tagline, another colour of one element. This check decides:

1. Each card's content box (bars stripped, see ``fingerprint.content_box``) is cut from its
   representative frame and resized to ``width`` pixels wide (about the size of the card's text
   strokes on a 360-pixel-wide phone frame). Boxes whose aspect ratios differ by more than
   ``max_aspect_ratio`` are different layouts.
2. The second card is aligned to the first (the shift within ``max_shift`` pixels across and
   ``max_shift_y`` down or up with the highest correlation); the patches are never stretched
   against each other: a box a few pixels taller is cut or padded. A pixel is an *unexplained
   stroke* when it differs by more than ``stroke_levels`` from every pixel of the other card
   within ``cell_slack`` pixels, either way (resampling, coding noise and a pixel of
   misalignment explain themselves, a changed letter or digit does not); a ``text_cell``-pixel
   cell's *text difference* is its count of such pixels; a ``colour_cell``-pixel cell's
   *colour difference* is the CIE76 distance of its mean Lab colours (after a blur, so chroma
   smeared by 4:2:0 coding at an edge does not count).
3. The same card when the largest text difference is at most ``max_text`` pixels and the
   largest colour difference at most ``max_colour``.

Thresholds, measured on development cards only (the default demo's designs and look-alikes, the
cards of ``influencer_pipeline_tests/test_outro_grouping.py``, the real HUSTLEZY cards): see
``benchmarks/accuracy.py`` and the README for the figures. A fingerprint without a decodable
representative (hand-made fingerprints in tests) is not checked: the hash limits decide alone.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, UnidentifiedImageError
from scipy import ndimage

from influencer_pipeline.outro.fingerprint import OutroFingerprint
from influencer_pipeline.outro.lab import rgb_to_lab


@dataclass(frozen=True)
class VerifyConfig:
    """Settings of the side-by-side card check (see the module doc)."""

    width: int = 320
    max_aspect_ratio: float = 1.15
    max_shift: int = 4
    max_shift_y: int = 10  # boxes of one card can differ in height (a descender, a fade)
    text_cell: int = 16
    colour_cell: int = 24
    cell_slack: int = 2
    grey_blur: float = 1.0  # Gaussian sigma (pixels) before the grey difference
    colour_blur: float = 2.5  # ...and before the Lab cell means
    stroke_levels: float = 60.0  # grey levels a pixel must differ by, at every small shift
    max_text: float = 20.0  # pixels of such strokes in one text cell
    max_colour: float = 9.0


@dataclass(frozen=True)
class CardPatch:
    """A card's content box at the comparison size: grey and Lab pixels."""

    grey: np.ndarray = field(repr=False)  # (h, width) float32
    lab: np.ndarray = field(repr=False)  # (h, width, 3) float32
    aspect: float  # box width / height


@dataclass(frozen=True)
class CardComparison:
    """How far apart two cards are, read side by side."""

    text: float  # most pixels of unexplained strokes in one text cell
    colour: float  # largest cell colour difference (delta E)
    aspect_ratio: float  # >= 1
    same: bool


def card_patch(
    fingerprint: OutroFingerprint, config: VerifyConfig | None = None
) -> CardPatch | None:
    """The content box of a fingerprint's representative frame, or None if it cannot be read."""
    read = card_image(fingerprint)
    return None if read is None else patch_of(read[0].crop(read[1]), config)


def card_image(
    fingerprint: OutroFingerprint,
) -> tuple[Image.Image, tuple[int, int, int, int]] | None:
    """A fingerprint's representative frame (RGB) and its content box (the whole frame when the
    box is under 8 pixels a side), or None if the image cannot be read."""
    try:
        image = Image.open(io.BytesIO(bytes(fingerprint.representative)))
        image = image.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, TypeError):
        return None
    x0, y0, x1, y1 = fingerprint.content_box
    if x1 - x0 < 8 or y1 - y0 < 8:
        x0, y0, x1, y1 = 0, 0, image.width, image.height
    return image, (x0, y0, x1, y1)


def patch_of(crop: Image.Image, config: VerifyConfig | None = None) -> CardPatch:
    """The comparison patch of an RGB image that is all card (bars already cut off)."""
    config = config or VerifyConfig()
    aspect = crop.width / crop.height
    height = max(8, round(config.width / aspect))
    rgb = np.asarray(crop.resize((config.width, height), Image.Resampling.LANCZOS), np.float32)
    grey = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    blur = (config.colour_blur, config.colour_blur, 0)
    lab = rgb_to_lab(ndimage.gaussian_filter(rgb, sigma=blur), np.float32)
    return CardPatch(
        ndimage.gaussian_filter(grey, config.grey_blur).astype(np.float32), lab, aspect
    )


def _fitted(patch: CardPatch, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The patch cut or edge-padded to ``shape``, never resampled.

    Both patches are already at the same scale (``width`` pixels wide); two boxes of one card
    that differ by a few pixels in height must not stretch one card against the other.
    """
    grey, lab = patch.grey[: shape[0], : shape[1]], patch.lab[: shape[0], : shape[1]]
    pad = ((0, shape[0] - grey.shape[0]), (0, shape[1] - grey.shape[1]))
    return np.pad(grey, pad, mode="edge"), np.pad(lab, (*pad, (0, 0)), mode="edge")


class _Shifts:
    """``values`` moved by any (dy, dx) with |dy| <= reach_y, |dx| <= reach_x, edge-padded, each
    a view of one padded copy."""

    def __init__(self, values: np.ndarray, reach_y: int, reach_x: int) -> None:
        pad = [(reach_y, reach_y), (reach_x, reach_x)] + [(0, 0)] * (values.ndim - 2)
        self.padded = np.pad(values, pad, mode="edge")
        self.shape = values.shape[:2]
        self.reach = (reach_y, reach_x)

    def __call__(self, dy: int, dx: int) -> np.ndarray:
        y, x = self.reach[0] - dy, self.reach[1] - dx
        return self.padded[y : y + self.shape[0], x : x + self.shape[1]]


def _shifted(values: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``values`` moved by (dy, dx) with edge padding (same shape)."""
    return _Shifts(values, abs(dy), abs(dx))(dy, dx)


def _cells(values: np.ndarray, cell: int) -> np.ndarray:
    """Cell means of a (h, w, ...) array (the ragged last row/column is dropped)."""
    h, w = values.shape[0] // cell * cell, values.shape[1] // cell * cell
    trimmed = values[:h, :w]
    shape = (h // cell, cell, w // cell, cell, *values.shape[2:])
    return trimmed.reshape(shape).mean(axis=(1, 3))


def _unexplained(a: np.ndarray, b: np.ndarray, slack: int) -> np.ndarray:
    """Per pixel of a: the smallest |a - b| over b shifted by up to ``slack`` pixels."""
    shifted = _Shifts(b, slack, slack)
    least = np.full(a.shape, np.inf, dtype=np.result_type(a, b))
    gap = np.empty_like(least)
    for dy in range(-slack, slack + 1):
        for dx in range(-slack, slack + 1):
            np.abs(np.subtract(a, shifted(dy, dx), out=gap), out=gap)
            np.minimum(least, gap, out=least)
    return least


def _best_shift(centre: np.ndarray, b: np.ndarray, reach_y: int, reach_x: int) -> tuple[int, int]:
    """The (dy, dx), |dy| <= reach_y and |dx| <= reach_x, that moves ``b`` (edge-padded) to the
    highest correlation with ``centre`` (a zero-mean patch of its shape), the first in (dy, dx)
    order on a tie: sum(centre * (moved - mean(moved))) = centre . moved - mean(moved) *
    sum(centre), one dot product per shift (float64) and the window sums from an integral image.
    """
    h, w = centre.shape
    padded = _Shifts(b.astype(np.float64), reach_y, reach_x).padded
    table = np.zeros((padded.shape[0] + 1, padded.shape[1] + 1))
    table[1:, 1:] = padded.cumsum(axis=0).cumsum(axis=1)
    flat = centre.astype(np.float64).ravel()
    total = float(flat.sum())
    scores = np.empty((2 * reach_y + 1, 2 * reach_x + 1))
    for j, dx in enumerate(range(-reach_x, reach_x + 1)):
        x = reach_x - dx
        columns = np.ascontiguousarray(padded[:, x : x + w])
        for i, dy in enumerate(range(-reach_y, reach_y + 1)):
            y = reach_y - dy
            window = table[y + h, x + w] - table[y, x + w] - table[y + h, x] + table[y, x]
            scores[i, j] = np.dot(flat, columns[y : y + h].ravel()) - window / (h * w) * total
    i, j = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return int(i) - reach_y, int(j) - reach_x


def _strokes(a: np.ndarray, b: np.ndarray, config: VerifyConfig) -> np.ndarray:
    """1.0 where one card has a stroke that the other has nowhere within ``cell_slack`` pixels."""
    both = np.maximum(_unexplained(a, b, config.cell_slack), _unexplained(b, a, config.cell_slack))
    return (both > config.stroke_levels).astype(np.float32)


def compare_cards(a: CardPatch, b: CardPatch, config: VerifyConfig | None = None) -> CardComparison:
    """Text and colour differences of two cards (see the module doc)."""
    config = config or VerifyConfig()
    ratio = max(a.aspect, b.aspect) / max(min(a.aspect, b.aspect), 1e-6)
    if ratio > config.max_aspect_ratio:
        return CardComparison(255.0, 100.0, ratio, False)
    grey_b, lab_b = _fitted(b, a.grey.shape)
    best = _best_shift(a.grey - a.grey.mean(), grey_b, config.max_shift_y, config.max_shift)
    grey_b, lab_b = _shifted(grey_b, *best), _shifted(lab_b, *best)
    text = _cells(_strokes(a.grey, grey_b, config), config.text_cell) * config.text_cell**2
    colour = np.linalg.norm(
        _cells(a.lab, config.colour_cell) - _cells(lab_b, config.colour_cell), axis=-1
    )
    text_max, colour_max = float(text.max()), float(colour.max())
    same = text_max <= config.max_text and colour_max <= config.max_colour
    return CardComparison(text_max, colour_max, ratio, same)
