"""Fingerprint of a video's outro card, from its ``video_frames`` rows (pure logic, no Dagster).

Choosing the card frames (``select_card_frames``), among the outro-role frames, last first:
1. Blank frames are skipped: ``is_blank`` from the frames table, and, so that a black frame can
   never become a fingerprint even in a table without that flag, any frame whose luma 99th
   percentile is <= ``dark_luma_p99`` or whose luma std is < ``flat_luma_std``. So are frames
   under ``min_card_side`` px on a side (a 1x1 or 2x2 clip shows no card: "too_small").
2. The remaining frames are cut into *runs* going back in time: a frame joins the current run
   while its mean absolute difference to the run's latest frame (32 x 32 grey, 0-255) is below
   ``stable_mad``. A held card differs from itself only by coding noise (< 3 levels, also for the
   build-up of an animated card: real ad_01 010->011 2.6, ad_07 024->025 2.3), moving content
   does not (a product shot 10.2, a presenter 19.7 to 28.4).
3. Fade-outs: while the run before the current one shows the same picture (correlation of the
   mean-removed 32 x 32 grey >= ``fade_ncc``) with clearly more contrast (this run's std is below
   ``fade_std_ratio`` times that one's), the current run is a dimmed copy: take the earlier one.
4. The chosen run must hold ``min_stable_frames`` frames, else the outro is not a card (a talking
   head or a moving product shot to the end). Inside it, frames below ``fade_std_ratio`` of the
   run's best contrast are mid-fade or mid-build and dropped; of the rest, up to
   ``max_card_frames`` latest frames whose content pHash is within ``settle_bits`` and whose
   colour grid is within ``settle_delta_e`` of the last one's are the card frames (the card's
   final, settled state: a button still fading in is left out). They share the last frame's
   content box (they are still frames of one card). A product shot that holds perfectly still
   to the end passes these rules too and is fingerprinted like a card.

The signature of one card frame (``card_signature``):
- *Content box*: symmetric flat margins (the bars of a letterboxed or pillarboxed placement) are
  cut off first; cards are a few elements on a plain or smooth background, so the frame is cut to
  the box around its content (pixels that differ from a local box blur by more than
  ``content_delta``, grouped into blobs; blobs under ``content_min_share`` of the content, such as
  confetti or specks at the edge, do not stretch the box). Hashing the box instead of the frame
  makes the hash blind to resizing, letterboxing and small crops, and gives the card's own
  elements (name, button) the whole hash resolution.
- *Structure*: 256-bit pHash (``imagehash.phash``, hash_size 16) of the content box.
- *Colour*: mean CIE Lab (D65) of each cell of an 8 x 8 grid over the content box, after a
  Gaussian blur of a quarter cell so that a box a few pixels off changes little; pHash is
  luminance only, so the same card in another colour (even of equal luminance) needs this.
Several card frames are combined bit-wise by majority (ties: the last frame's bit) and by the mean
Lab grid. Thresholds and measurements behind these choices: see ``grouping.py``.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import imagehash
import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError
from scipy import ndimage

from influencer_pipeline.errors import InputError
from influencer_pipeline.media import blank_frames
from influencer_pipeline.media.placement import flat_bars
from influencer_pipeline.outro.lab import colour_delta_e, rgb_to_lab

__all__ = ["colour_delta_e", "rgb_to_lab"]  # re-exported: grouping and tests import them here

REQUIRED_COLUMNS = ("video_id", "role", "timestamp_s", "image")
ROLE_OUTRO = "outro"

_SMALL = 32  # side of the grey thumbnail used for run and fade decisions
_CELL = 8  # pixels per colour-grid cell before averaging


class OutroInputError(InputError):
    """A frames table or fingerprint the outro stage cannot use; ``code`` is machine-readable."""


@dataclass(frozen=True)
class FingerprintConfig:
    """Settings of card-frame selection and of the card signature (see the module doc)."""

    hash_size: int = 16  # pHash side: 16 -> 256 bits
    colour_grid: int = 8  # Lab grid side over the content box
    colour_blur: float = 2.0  # Gaussian sigma (pixels of an 8-pixel cell) before cell means
    analysis_side: int = 512  # longest side at which the content box is searched
    content_delta: float = 25.0  # levels (any channel) off the local blur that count as content
    content_blur_frac: float = 0.06  # local blur window, as a share of the analysis side
    content_min_share: float = 0.005  # blobs smaller than this share of all content are ignored
    content_pad: float = 0.04  # margin added around the content box, per side, share of the box
    dark_luma_p99: float = 40.0  # a frame whose bright end is this dark is black
    flat_luma_std: float = 2.0  # a frame this flat is uniform
    stable_mad: float = 6.0  # 32x32 grey mean abs difference within one still run
    fade_ncc: float = 0.9  # same picture, only dimmer: correlation at least this
    fade_std_ratio: float = 0.85  # ...and contrast below this share of the brighter copy
    min_stable_frames: int = 2
    max_card_frames: int = 5
    min_card_side: int = 32  # px; a smaller picture (a 1x1 or 2x2 clip) is never a card
    settle_bits: int = 20  # card frames must be this close (pHash bits) to the last card frame
    settle_delta_e: float = 3.0  # ...and this close in colour (90th percentile cell delta E)

    def __post_init__(self) -> None:
        if self.hash_size < 4 or self.colour_grid < 1:
            raise ValueError("hash_size must be >= 4 and colour_grid >= 1")
        if self.min_stable_frames < 1 or self.max_card_frames < 1:
            raise ValueError("min_stable_frames and max_card_frames must be >= 1")
        if not 0 < self.fade_std_ratio <= 1 or not -1 <= self.fade_ncc <= 1:
            raise ValueError("fade_std_ratio must be in (0, 1] and fade_ncc in [-1, 1]")


@dataclass(frozen=True, eq=False)
class CardSignature:
    """Signature of one image: content-box pHash bits, Lab grid and the box (x0, y0, x1, y1)."""

    bits: np.ndarray = field(repr=False)  # bool, hash_size**2
    lab: np.ndarray = field(repr=False)  # float32, (colour_grid**2, 3)
    box: tuple[int, int, int, int]


@dataclass(frozen=True)
class OutroFingerprint:
    """The outro card of one video: combined hashes, the frames used and a thumbnail."""

    video_id: str
    phash: str  # hex of the combined hash_size**2-bit content pHash
    colour_lab: tuple[float, ...]  # colour_grid**2 cells x (L, a, b), row-major
    hash_size: int
    colour_grid: int
    frame_indices: tuple[int, ...]  # card frames used, latest first
    timestamps_s: tuple[float, ...]
    frame_phashes: tuple[str, ...]  # each card frame's own content pHash (hex)
    representative: bytes = field(repr=False)  # JPEG of the latest card frame
    representative_timestamp_s: float = 0.0
    content_box: tuple[int, int, int, int] = (0, 0, 0, 0)  # in the representative's pixels

    def bits(self) -> np.ndarray:
        """The combined pHash as a bool array of hash_size**2 bits."""
        return hex_to_bits(self.phash, self.hash_size**2)

    def lab(self) -> np.ndarray:
        """The Lab grid as a float32 array of shape (colour_grid**2, 3)."""
        return np.asarray(self.colour_lab, dtype=np.float32).reshape(-1, 3)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> OutroFingerprint:
        """The fingerprint stored by ``to_record`` (e.g. a row read back from Parquet)."""
        return cls(
            video_id=str(record["video_id"]),
            phash=str(record["phash"]),
            colour_lab=tuple(float(v) for v in record["colour_lab"]),
            hash_size=int(record["hash_size"]),
            colour_grid=int(record["colour_grid"]),
            frame_indices=tuple(int(v) for v in record["frame_indices"]),
            timestamps_s=tuple(float(v) for v in record["timestamps_s"]),
            frame_phashes=tuple(str(v) for v in record["frame_phashes"]),
            representative=bytes(record["representative"]),
            representative_timestamp_s=float(record["representative_timestamp_s"]),
            content_box=tuple(int(v) for v in record["content_box"]),  # type: ignore[arg-type]
        )

    def to_record(self) -> dict[str, Any]:
        """A flat dict (one table row) with every field; lists instead of tuples."""
        return {
            "video_id": self.video_id,
            "phash": self.phash,
            "colour_lab": list(self.colour_lab),
            "hash_size": self.hash_size,
            "colour_grid": self.colour_grid,
            "frame_indices": list(self.frame_indices),
            "timestamps_s": list(self.timestamps_s),
            "frame_phashes": list(self.frame_phashes),
            "representative": self.representative,
            "representative_timestamp_s": self.representative_timestamp_s,
            "content_box": list(self.content_box),
        }


@dataclass(frozen=True)
class FingerprintOutcome:
    """Result for one video: a fingerprint, or None with a reason; frames skipped and why."""

    video_id: str
    fingerprint: OutroFingerprint | None
    reason_code: str | None  # "no_outro_frames" | "all_blank" | "unstable_outro" | None
    reason: str | None
    skipped_frames: tuple[tuple[int, str], ...] = ()  # (frame_index, "blank"|"bad_image"|...)


@dataclass
class _Frame:
    index: int
    timestamp_s: float
    data: bytes
    image: Image.Image
    grey: np.ndarray  # _SMALL x _SMALL float32


# --- small helpers ---------------------------------------------------------------------------


def bits_to_hex(bits: np.ndarray) -> str:
    """Hex string of a bool bit array (first bit = most significant)."""
    flat = np.asarray(bits, dtype=bool).reshape(-1)
    return np.packbits(flat).tobytes().hex()[: (flat.size + 3) // 4]


def hex_to_bits(value: str, n_bits: int) -> np.ndarray:
    """Bool bit array of ``n_bits`` from a hex string written by :func:`bits_to_hex`."""
    if not isinstance(value, str) or len(value) != (n_bits + 3) // 4:
        raise OutroInputError("bad_hash", f"expected a {n_bits}-bit hash as hex, got {value!r}")
    padded = value if len(value) % 2 == 0 else value + "0"
    try:
        raw = bytes.fromhex(padded)
    except ValueError:
        raise OutroInputError("bad_hash", f"not a hex hash: {value!r}") from None
    return np.unpackbits(np.frombuffer(raw, dtype=np.uint8))[:n_bits].astype(bool)


def content_box(image: Image.Image, config: FingerprintConfig) -> tuple[int, int, int, int]:
    """Box (x0, y0, x1, y1) around the image's content (see the module doc); whole image if none."""
    rgb = image.convert("RGB")
    bx0, by0, bx1, by1 = flat_bars(np.asarray(rgb))  # letterbox / pillarbox bars are not the card
    if (bx0, by0) != (0, 0):
        x0, y0, x1, y1 = content_box(rgb.crop((bx0, by0, bx1, by1)), config)
        return (x0 + bx0, y0 + by0, x1 + bx0, y1 + by0)
    width, height = rgb.size
    scale = min(1.0, config.analysis_side / max(width, height))
    size = (max(8, round(width * scale)), max(8, round(height * scale)))
    small = np.asarray(rgb.resize(size, Image.Resampling.BOX), dtype=np.float32)
    side = max(small.shape[:2])
    window = max(3, round(config.content_blur_frac * side)) | 1
    blurred = ndimage.uniform_filter(small, size=(window, window, 1), mode="nearest")
    off = np.abs(small - blurred)
    mask = np.maximum(np.maximum(off[..., 0], off[..., 1]), off[..., 2]) > config.content_delta
    if not mask.any():
        return (0, 0, width, height)
    grow = 2 * max(2, round(side / 50)) + 1
    grown = ndimage.uniform_filter(mask.astype(np.float32), size=grow, mode="constant") > 1e-6
    labels, count = ndimage.label(grown)
    areas = np.bincount(labels[mask], minlength=count + 1)
    keep = areas >= config.content_min_share * mask.sum()
    keep[0] = False
    ys, xs = np.nonzero(keep[labels] & mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    pad_y, pad_x = config.content_pad * (y1 - y0), config.content_pad * (x1 - x0)
    fx, fy = width / small.shape[1], height / small.shape[0]
    return (
        max(0, round((x0 - pad_x) * fx)),
        max(0, round((y0 - pad_y) * fy)),
        min(width, round((x1 + pad_x) * fx)),
        min(height, round((y1 + pad_y) * fy)),
    )


def card_signature(
    image: Image.Image,
    config: FingerprintConfig | None = None,
    box: tuple[int, int, int, int] | None = None,
) -> CardSignature:
    """Content-box pHash bits and Lab grid of one card image (``box``: reuse a known box)."""
    config = config or FingerprintConfig()
    box = content_box(image, config) if box is None else box
    crop = image.convert("RGB").crop(box)
    bits = imagehash.phash(crop, hash_size=config.hash_size).hash.reshape(-1).astype(bool)
    grid, cell = config.colour_grid, _CELL
    pixels = np.asarray(crop.resize((grid * cell, grid * cell), Image.Resampling.BOX), np.float32)
    if config.colour_blur > 0:
        blur = (config.colour_blur, config.colour_blur, 0)
        pixels = ndimage.gaussian_filter(pixels, sigma=blur, mode="nearest")
    cells = pixels.reshape(grid, cell, grid, cell, 3).mean(axis=(1, 3))
    lab = rgb_to_lab(cells).reshape(-1, 3).astype(np.float32)
    return CardSignature(bits=bits, lab=lab, box=box)


# --- frame selection -------------------------------------------------------------------------


def _check_table(frames: pd.DataFrame) -> str:
    if not isinstance(frames, pd.DataFrame):
        raise OutroInputError(
            "not_a_table", f"expected a video_frames DataFrame, got {type(frames).__name__}"
        )
    if frames.empty:
        raise OutroInputError("empty_table", "the video_frames table has no rows")
    missing = [c for c in REQUIRED_COLUMNS if c not in frames.columns]
    if missing:
        raise OutroInputError("missing_columns", f"video_frames rows lack columns {missing}")
    ids = frames["video_id"].dropna().unique()
    if len(ids) != 1 or frames["video_id"].isna().any():
        raise OutroInputError(
            "mixed_videos",
            f"outro_fingerprint takes one video's frames, got video_id values {list(ids)[:5]}",
        )
    return str(ids[0])


def _is_blank_flag(value: object) -> bool:
    return value is not None and not pd.isna(value) and bool(value)


def _load_outro_frames(
    frames: pd.DataFrame, config: FingerprintConfig, skipped: list[tuple[int, str]]
) -> tuple[int, list[_Frame]]:
    """Decoded non-blank outro frames in time order, and how many outro rows there were."""
    outro = frames[frames["role"] == ROLE_OUTRO].sort_values("timestamp_s", kind="stable")
    has_flag = "is_blank" in outro.columns
    has_index = "frame_index" in outro.columns
    loaded: list[_Frame] = []
    for position, row in enumerate(outro.itertuples(index=False)):
        index = int(row.frame_index) if has_index else position
        if has_flag and _is_blank_flag(row.is_blank):
            skipped.append((index, "blank"))
            continue
        data = row.image
        try:
            image = Image.open(io.BytesIO(bytes(data)))
            image.load()
        except (UnidentifiedImageError, OSError, TypeError, ValueError):
            skipped.append((index, "bad_image"))
            continue
        if min(image.size) < config.min_card_side:  # too few pixels to hold a card's content
            skipped.append((index, "too_small"))
            continue
        luma = blank_frames.luma(
            np.asarray(image.convert("RGB").resize((64, 64), Image.Resampling.BOX))
        )
        if np.percentile(luma, 99) <= config.dark_luma_p99 or luma.std() < config.flat_luma_std:
            skipped.append((index, "blank"))
            continue
        grey = np.asarray(
            image.convert("L").resize((_SMALL, _SMALL), Image.Resampling.BOX), dtype=np.float32
        )
        loaded.append(_Frame(index, float(row.timestamp_s), bytes(data), image, grey))
    return len(outro), loaded


def _ncc(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    denominator = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denominator) if denominator > 0 else 0.0


def _runs(frames: Sequence[_Frame], config: FingerprintConfig) -> list[list[_Frame]]:
    """Still runs, latest first; each run lists its frames latest first."""
    runs: list[list[_Frame]] = []
    for frame in reversed(frames):
        if runs and np.abs(frame.grey - runs[-1][0].grey).mean() < config.stable_mad:
            runs[-1].append(frame)
        else:
            runs.append([frame])
    return runs


def _contrast(run: Sequence[_Frame]) -> float:
    return max(float(f.grey.std()) for f in run)


def select_card_frames(
    frames: pd.DataFrame, config: FingerprintConfig | None = None
) -> tuple[list[int], str | None, str | None, list[tuple[int, str]]]:
    """Frame indices of the card (latest first), or [] with a reason code and sentence.

    Also returns the (frame_index, why) of outro frames that were skipped (blank, bad_image,
    mid_fade, not_settled).
    """
    config = config or FingerprintConfig()
    chosen, code, reason, skipped = _select(_check_table(frames), frames, config)
    return [frame.index for frame, _ in chosen], code, reason, skipped


def _settled(signature: CardSignature, last: CardSignature, config: FingerprintConfig) -> bool:
    """True when a card frame shows the same final state as the last card frame."""
    bits = np.count_nonzero(signature.bits != last.bits)
    delta_e = float(colour_delta_e(signature.lab - last.lab))
    return bits <= config.settle_bits and delta_e <= config.settle_delta_e


def _select(
    video_id: str, frames: pd.DataFrame, config: FingerprintConfig
) -> tuple[list[tuple[_Frame, CardSignature]], str | None, str | None, list[tuple[int, str]]]:
    skipped: list[tuple[int, str]] = []
    n_outro, usable = _load_outro_frames(frames, config, skipped)
    if n_outro == 0:
        return [], "no_outro_frames", f"video {video_id} has no outro-role frames", skipped
    if not usable and any(why == "too_small" for _, why in skipped):
        return (
            [],
            "too_small",
            f"the outro frames of {video_id} are smaller than {config.min_card_side} px on a "
            "side: too small to show a card",
            skipped,
        )
    if not usable:
        why = "blank or unreadable"
        return [], "all_blank", f"all {n_outro} outro frames of {video_id} are {why}", skipped
    runs = _runs(usable, config)
    at = 0
    while (
        at + 1 < len(runs)
        and _ncc(runs[at][0].grey, runs[at + 1][0].grey) >= config.fade_ncc
        and _contrast(runs[at]) < config.fade_std_ratio * _contrast(runs[at + 1])
    ):
        skipped.extend((f.index, "mid_fade") for f in runs[at])
        at += 1
    run = runs[at]
    if len(run) < config.min_stable_frames:
        return (
            [],
            "unstable_outro",
            f"the outro of {video_id} does not hold still: its last run has {len(run)} frame(s), "
            f"{config.min_stable_frames} needed (moving content, not a card)",
            skipped,
        )
    best = _contrast(run)
    steady = []
    for frame in run:
        if frame.grey.std() >= config.fade_std_ratio * best:
            steady.append(frame)
        else:
            skipped.append((frame.index, "mid_fade"))
    card: list[tuple[_Frame, CardSignature]] = []
    box = content_box(steady[0].image, config)  # still frames: the last one's box fits them all
    for frame in steady[: config.max_card_frames]:
        signature = card_signature(frame.image, config, box)
        if card and not _settled(signature, card[0][1], config):
            skipped.append((frame.index, "not_settled"))
            continue
        card.append((frame, signature))
    return card, None, None, skipped


# --- the fingerprint -------------------------------------------------------------------------


def _combine(signatures: Sequence[CardSignature]) -> tuple[np.ndarray, np.ndarray]:
    """Majority vote of the bits (ties: the last frame's bit) and the mean Lab grid."""
    bits = np.stack([s.bits for s in signatures])
    votes = bits.sum(axis=0) * 2
    combined = np.where(votes == len(signatures), bits[0], votes > len(signatures))
    lab = np.mean([s.lab for s in signatures], axis=0)
    return combined, lab.astype(np.float32)


def fingerprint_outro(
    frames: pd.DataFrame, config: FingerprintConfig | None = None
) -> FingerprintOutcome:
    """Fingerprint of one video's outro card, or None with a reason (see the module doc)."""
    config = config or FingerprintConfig()
    video_id = _check_table(frames)
    card, code, reason, skipped = _select(video_id, frames, config)
    if not card:
        return FingerprintOutcome(video_id, None, code, reason, tuple(skipped))
    bits, lab = _combine([signature for _, signature in card])
    last, last_signature = card[0]
    fingerprint = OutroFingerprint(
        video_id=video_id,
        phash=bits_to_hex(bits),
        colour_lab=tuple(round(float(v), 3) for v in lab.reshape(-1)),
        hash_size=config.hash_size,
        colour_grid=config.colour_grid,
        frame_indices=tuple(frame.index for frame, _ in card),
        timestamps_s=tuple(frame.timestamp_s for frame, _ in card),
        frame_phashes=tuple(bits_to_hex(signature.bits) for _, signature in card),
        representative=last.data,
        representative_timestamp_s=last.timestamp_s,
        content_box=last_signature.box,
    )
    return FingerprintOutcome(video_id, fingerprint, None, None, tuple(skipped))


def outro_fingerprint(
    frames: pd.DataFrame, config: FingerprintConfig | None = None
) -> OutroFingerprint | None:
    """The outro fingerprint of one video's frames, or None when it has no usable card."""
    return fingerprint_outro(frames, config).fingerprint
