"""Placement hashes: which squares are too flat to hash (grey std under FLAT_SQUARE_STD)."""

from __future__ import annotations

import numpy as np
import pytest

from influencer_pipeline.media import placement
from influencer_pipeline.media.placement import FLAT_SQUARE_STD, N_HASHES, centre_hashes


def _numpy_says(grey: np.ndarray, left: int, top: int, right: int, bottom: int) -> bool:
    square = grey[top:bottom, left:right]
    return square.size > 0 and float(square.std()) >= FLAT_SQUARE_STD


def test_flatness_from_the_frame_sums_agrees_with_the_squares_std() -> None:
    rng = np.random.default_rng(7)
    boxes = 0
    for contrast in (8.0, 9.5, 10.0, 10.5, 12.0, 40.0):  # grey std around the threshold
        grey = np.clip(rng.normal(128, contrast, size=(160, 284)), 0, 255).astype(np.uint8)
        varied = placement._varied_squares(grey)
        for _ in range(300):
            top, left = int(rng.integers(0, 150)), int(rng.integers(0, 270))
            side = int(rng.integers(1, 160))
            bottom, right = min(160, top + side), min(284, left + side)
            assert varied(left, top, right, bottom) == _numpy_says(grey, left, top, right, bottom)
            boxes += 1
    assert boxes == 1800


def test_a_square_at_exactly_the_threshold_is_hashed_and_one_just_under_is_not() -> None:
    # a 0/20 checkerboard: std exactly 10 over an even count of pixels, just under over an odd
    board = (np.indices((160, 284)).sum(axis=0) % 2 * 20).astype(np.uint8)
    varied = placement._varied_squares(board)
    assert float(board[0:10, 0:10].std()) == FLAT_SQUARE_STD and varied(0, 0, 10, 10)
    assert float(board[0:9, 0:9].std()) < FLAT_SQUARE_STD and not varied(0, 0, 9, 9)
    assert not varied(5, 5, 5, 9)  # no pixels


def test_a_flat_frame_has_no_placement_hash_and_a_textured_one_has_its_centred_ones() -> None:
    flat = np.full((320, 568, 3), 200, dtype=np.uint8)
    assert not centre_hashes(flat).any()
    rng = np.random.default_rng(3)
    textured = rng.integers(0, 256, size=(320, 568, 3), dtype=np.uint8)
    hashes = centre_hashes(textured)
    assert hashes.shape == (N_HASHES,) and hashes[placement.INDEXED].all()  # every centred square


def test_frames_other_than_uint8_use_the_squares_own_std() -> None:
    rng = np.random.default_rng(5)
    grey = rng.normal(100, 10.2, size=(120, 200))  # float64 grey: no integer sums
    varied = placement._varied_squares(grey)
    for top, left, side in ((0, 0, 120), (10, 30, 17), (50, 90, 1)):
        bottom, right = top + side, left + side
        assert varied(left, top, right, bottom) == _numpy_says(grey, left, top, right, bottom)


def test_a_videos_placement_columns_are_its_body_frames_box_and_each_frames_hashes() -> None:
    # body frames: a textured picture pillarboxed by 40-pixel black bars; an outro card without
    # bars, which must not move the box but gets hashes of its own inside it
    rng = np.random.default_rng(11)
    body = []
    for _ in range(4):
        frame = np.zeros((640, 360, 3), dtype=np.uint8)
        frame[:, 40:320] = rng.integers(0, 256, size=(640, 280, 3), dtype=np.uint8)
        body.append(frame)
    card = np.full((640, 360, 3), 230, dtype=np.uint8)
    card[250:390, 60:300] = rng.integers(0, 256, size=(140, 240, 3), dtype=np.uint8)
    frames, roles = [*body, card], [True, True, True, True, False]
    box, hashes = placement.placement_columns(frames, roles)
    x0, y0, x1, y1 = box
    # the bars, cut to within two pixels of the 160-pixel-wide grey copy (2.25 frame pixels each)
    assert abs(x0 - 40) <= 5 and abs(x1 - 320) <= 5 and (y0, y1) == (0, 640)
    assert box == placement.content_box(body)
    assert len(hashes) == len(frames)
    for frame, got in zip(frames, hashes, strict=True):
        assert np.array_equal(got, centre_hashes(frame, box))
    assert not np.array_equal(hashes[0], hashes[-1])  # the card is not the picture
    assert placement.placement_columns([], []) == ((0, 0, 0, 0), [])
    with pytest.raises(ValueError, match="5 frames but 4 body flags"):
        placement.placement_columns(frames, roles[:-1])
