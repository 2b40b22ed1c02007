"""Where a video's picture is (bars stripped) and hashes of it that survive another placement.

Real re-uploads of one ad come in several *placements*: 9:16, 4:5, 1:1 or 16:9 versions that
show a region of the same picture (usually around its centre, not always exactly), scaled to
another size, sometimes letterboxed or pillarboxed back into a canvas with bars (black, white,
grey or a blurred copy of the picture). A whole-frame hash changes completely between them.

Bars (``content_box``), decided once per video from all its frames, so one dark scene cannot
pass for a bar: a margin column (row) is a bar when it is *flat* (grey std over its pixels in all
frames <= ``FLAT_STD``) or carries almost no detail (the 90th percentile over frames of its mean
gradient is below ``LOW_DETAIL`` of the picture's median column). Bars come in pairs: a player or
export centres the picture, so the stripped width is the smaller of the two margins, and bars
over ``MAX_BAR_SHARE`` of a side are not believed. Symmetric stripping never moves the centre of
the picture, which is what the hashes below rely on. Real ads (shared/real_ads): the 1:1
pillarboxed uploads with blurred bars (v01, v20) and with flat grey bars (v51) have margins of
0.3-0.4 and 4-5 detail against 4.7-10 inside; a 9:16 upload with dim but real edges (v09) 1.9
against 5.4, so ``LOW_DETAIL`` is 0.25.

Placement hashes (``centre_hashes``): 64-bit pHashes (``imagehash``'s definition: the 8 x 8
lowest DCT coefficients of a 32 x 32 grey copy against their median) of squares around the
centre of the content box, at ``len(SCALES)`` sizes (side = short side x 0.9^k, k = 0..7: 1.0
down to 0.48) and ``len(POSITIONS)`` positions (the centre, and shifted by ``SHIFT`` of the
square's side left, right, up and down). Two placements of one picture share a square up to a
scale step (+-5 %) and a shift step (+-6 %), which keeps a pHash within about 10 bits. Only the
centred squares are *indexed*; the shifted ones are *queries*, so an off-centre crop (real
v58 shows v02's picture 13 % off its centre) still finds its original. Squares that are flat
(grey std < ``FLAT_SQUARE_STD``: a white card, a black frame) or leave the picture hash to 0 and
never match: every flat square would otherwise have the same hash. Measured on shared/real_ads
(41 ads, last 3 frames left out as the outro): every labelled pair has 9 to 193 frame pairs
within 10 bits; of the 811 other pairs, 15 have two or more (3 of them are the same ad in two
placements that labels.csv does not group, see ``dedup``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np
from scipy.fft import dctn

from influencer_pipeline.media.phash import hamming_matrix

SCALES: tuple[float, ...] = tuple(round(0.9**k, 4) for k in range(8))
POSITIONS: tuple[tuple[int, int], ...] = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))
SHIFT = 0.12  # position step, share of the square's side
N_HASHES = len(SCALES) * len(POSITIONS)
INDEXED = np.array([p == (0, 0) for _ in SCALES for p in POSITIONS])  # centred squares
ANALYSIS_SIDE = 160  # short side of the grey copy the hashes and bars are computed on
FLAT_STD = 6.0  # grey levels: a margin this uniform in every frame is a bar
LOW_DETAIL = 0.25  # ...or one with this share of the picture's detail (blurred bars)
MAX_BAR_SHARE = 0.3  # bars wider than this share of a side are not believed
FLAT_SQUARE_STD = 10.0  # grey std under which a square is too flat to hash

Box = tuple[int, int, int, int]


def grey_copy(rgb: np.ndarray, side: int = ANALYSIS_SIDE) -> tuple[np.ndarray, float]:
    """Grey copy of an RGB (or grey) frame with short side ``side`` (never upscaled), its scale."""
    grey = rgb if rgb.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    scale = min(1.0, side / min(grey.shape[:2]))
    if scale < 1.0:
        size = (max(1, round(grey.shape[1] * scale)), max(1, round(grey.shape[0] * scale)))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    return grey, scale


def _margin(detail: np.ndarray, flat: np.ndarray, reference: float) -> int:
    """Leading entries that are bars (flat or nearly detail-free)."""
    bar = flat | (detail < LOW_DETAIL * reference)
    return int(np.argmin(bar)) if not bar.all() else len(bar)


def _bars(stack: np.ndarray, axis: int) -> int:
    """Symmetric bar width (pixels of ``stack``) along ``axis`` (2: columns, 1: rows)."""
    grad = np.abs(np.diff(stack, axis=axis))
    other = 1 if axis == 2 else 2
    detail = np.percentile(grad.mean(axis=other), 90, axis=0)  # per column (row)
    flat = (stack.std(axis=other) <= FLAT_STD).all(axis=0)[: detail.size]
    n = detail.size
    reference = float(np.median(detail[n // 4 : max(n // 4 + 1, 3 * n // 4)]))
    if reference <= 0:
        return 0
    lead = _margin(detail, flat, reference)
    trail = _margin(detail[::-1], flat[::-1], reference)
    width = min(lead, trail)
    return width if width <= MAX_BAR_SHARE * (n + 1) else 0


def content_box(frames: Sequence[np.ndarray]) -> Box | None:
    """The picture's box (x0, y0, x1, y1) in the frames' pixels, bars stripped; None if unsure.

    ``frames``: RGB or grey frames of one video (body frames; blank ones are better left out).
    """
    if not frames:
        return None
    height, width = frames[0].shape[:2]
    greys = [grey_copy(f)[0] for f in frames if f.shape[:2] == (height, width)]
    return _box_of_greys(greys, width, height)


def _box_of_greys(greys: Sequence[np.ndarray], width: int, height: int) -> Box:
    """``content_box`` from the grey copies (``grey_copy``) of width x height frames."""
    stack = np.stack(greys).astype(np.float32)
    scale = greys[0].shape[1] / width
    bar_x = _bars(stack, 2) / scale
    bar_y = _bars(stack, 1) / scale
    x0, y0 = round(bar_x), round(bar_y)
    return (x0, y0, width - x0, height - y0)


def flat_bars(frame: np.ndarray) -> Box:
    """The box inside symmetric flat margins of one frame (a letterboxed card's bars)."""
    grey = (
        frame if frame.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
    )
    grey = grey.astype(np.float32)
    h, w = grey.shape
    sizes = []
    for axis, n in ((0, h), (1, w)):
        flat = grey.std(axis=1 - axis) <= FLAT_STD  # per row (axis 0) or column (axis 1)
        lead = int(np.argmin(flat)) if not flat.all() else n
        trail = int(np.argmin(flat[::-1])) if not flat.all() else n
        width = min(lead, trail)
        sizes.append(width if width <= MAX_BAR_SHARE * n else 0)
    bar_y, bar_x = sizes
    return (bar_x, bar_y, w - bar_x, h - bar_y)


def phash64(square: np.ndarray) -> int:
    """imagehash-style 64-bit pHash of a grey image (8 x 8 low DCT of 32 x 32 vs its median)."""
    small = cv2.resize(square, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float64)
    low = dctn(small, type=2, norm=None)[:8, :8].reshape(-1)
    bits = low > np.median(low)
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def _varied_squares(grey: np.ndarray) -> Callable[[int, int, int, int], bool]:
    """A test of whether ``grey[top:bottom, left:right]`` has a grey std >= ``FLAT_SQUARE_STD``;
    from a uint8 frame's sums and sums of squares (exact integers), not the square's pixels."""
    if grey.dtype != np.uint8:

        def by_pixels(left: int, top: int, right: int, bottom: int) -> bool:
            square = grey[top:bottom, left:right]
            return square.size > 0 and float(square.std()) >= FLAT_SQUARE_STD

        return by_pixels
    sums, squares = cv2.integral2(grey, sdepth=cv2.CV_64F, sqdepth=cv2.CV_64F)

    def box_sum(t: np.ndarray, left: int, top: int, right: int, bottom: int) -> int:
        return int(t[bottom, right] - t[top, right] - t[bottom, left] + t[top, left])

    def varied(left: int, top: int, right: int, bottom: int) -> bool:
        if bottom <= top or right <= left:
            return False
        n = (bottom - top) * (right - left)
        total = box_sum(sums, left, top, right, bottom)
        total_sq = box_sum(squares, left, top, right, bottom)
        return n * total_sq - total * total >= FLAT_SQUARE_STD**2 * n * n  # n^2 var vs std^2 n^2

    return varied


def centre_hashes(rgb: np.ndarray, box: Box | None = None) -> np.ndarray:
    """The ``N_HASHES`` placement hashes of an RGB or grey frame (uint64; 0 = no square)."""
    return _hashes_of_grey(*grey_copy(rgb), box)


def _hashes_of_grey(grey: np.ndarray, scale: float, box: Box | None) -> np.ndarray:
    """``centre_hashes`` from a frame's ``grey_copy`` and its scale."""
    h, w = grey.shape
    if box is None:
        x0, y0, x1, y1 = 0.0, 0.0, float(w), float(h)
    else:
        x0, y0, x1, y1 = (v * scale for v in box)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    short = min(x1 - x0, y1 - y0)
    out = np.zeros(N_HASHES, dtype=np.uint64)
    varied = _varied_squares(grey)
    slots, smalls = [], []
    k = 0
    for factor in SCALES:
        side = short * factor
        for dx, dy in POSITIONS:
            left = cx + dx * SHIFT * side - side / 2
            top = cy + dy * SHIFT * side - side / 2
            if (
                side >= 16
                and left >= x0 - 1
                and top >= y0 - 1
                and left + side <= x1 + 1
                and top + side <= y1 + 1
            ):
                a, b = max(0, round(left)), max(0, round(top))
                bottom, right = min(h, b + round(side)), min(w, a + round(side))
                if varied(a, b, right, bottom):
                    slots.append(k)
                    square = grey[b:bottom, a:right]
                    smalls.append(cv2.resize(square, (32, 32), interpolation=cv2.INTER_AREA))
            k += 1
    if smalls:  # one DCT for all squares: the same hash as phash64, square by square
        low = dctn(np.stack(smalls).astype(np.float64), type=2, axes=(1, 2))[:, :8, :8]
        low = low.reshape(len(smalls), 64)
        bits = low > np.median(low, axis=1, keepdims=True)
        words = np.packbits(bits, axis=1).view(">u8").reshape(-1)
        out[slots] = words.astype(np.uint64)
    return out


def placement_columns(
    frames: Sequence[np.ndarray], body: Sequence[bool]
) -> tuple[Box, list[np.ndarray]]:
    """One video's content box (from its body frames) and every frame's placement hashes."""
    if len(body) != len(frames):
        raise ValueError(f"{len(frames)} frames but {len(body)} body flags")
    if not frames:
        return (0, 0, 0, 0), []
    copies = [grey_copy(f) for f in frames]  # each frame's grey copy made once, for both
    picked = [i for i, b in enumerate(body) if b] or list(range(len(frames)))
    height, width = frames[picked[0]].shape[:2]
    same_size = [copies[i][0] for i in picked if frames[i].shape[:2] == (height, width)]
    box = _box_of_greys(same_size, width, height)
    return box, [_hashes_of_grey(grey, scale, box) for grey, scale in copies]


def centred_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len a, len b) placement distance of two frames' hashes ((n, N_HASHES) each): the fewest
    differing bits between a non-zero hash of one and one of the other where at least one is a
    centred square (A's 8 against B's 40, and A's 40 against B's 8); 64 when there is none."""
    return np.minimum(_least_bits(a[:, INDEXED], b), _least_bits(a, b[:, INDEXED]))


def _least_bits(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    distance = hamming_matrix(x, y).reshape(*x.shape, *y.shape)  # (frame, square) x (frame, square)
    usable = (x != 0)[:, :, None, None] & (y != 0)[None, None, :, :]
    return np.where(usable, distance, 64).min(axis=(1, 3))
