"""Perceptual hash helpers: formats, round trips and Hamming distances."""

from __future__ import annotations

import io

import imagehash
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from influencer_pipeline.media.phash import (
    HashFormatError,
    ImageArrayError,
    hamming,
    hamming_matrix,
    hash_image,
    hashes_to_uint64,
    hex_to_int,
    int_to_hex,
)
from influencer_pipeline_tests.conftest import gradient_frames

U64 = st.integers(min_value=0, max_value=2**64 - 1)


def test_hash_image_gives_16_hex_digits_equal_to_imagehash() -> None:
    rgb = gradient_frames(1, 96, 160)[0]
    phash, dhash = hash_image(rgb)
    assert len(phash) == 16 and len(dhash) == 16
    assert int(phash, 16) >= 0 and int(dhash, 16) >= 0
    image = Image.fromarray(rgb)
    assert phash == str(imagehash.phash(image))
    assert dhash == str(imagehash.dhash(image))
    # the hex form parses back into the same imagehash object
    assert imagehash.hex_to_hash(phash) == imagehash.phash(image)


def test_jpeg_round_trip_keeps_the_hash_close_and_other_frames_far() -> None:
    frames = gradient_frames(30, 128, 128, seed=3)
    buffer = io.BytesIO()
    Image.fromarray(frames[0]).save(buffer, format="JPEG", quality=85)
    decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
    same = hamming(hash_image(frames[0])[0], hash_image(decoded)[0])
    other = hamming(hash_image(frames[0])[0], hash_image(frames[29])[0])
    assert same <= 4
    assert other > 12


@given(U64)
def test_hex_int_round_trip(value: int) -> None:
    text = int_to_hex(value)
    assert len(text) == 16
    assert hex_to_int(text) == value


@given(U64, U64)
def test_hamming_is_the_popcount_of_the_xor(a: int, b: int) -> None:
    ha, hb = int_to_hex(a), int_to_hex(b)
    assert hamming(ha, hb) == bin(a ^ b).count("1")
    assert hamming(ha, hb) == hamming(hb, ha)
    assert hamming(ha, ha) == 0


@given(st.lists(U64, min_size=1, max_size=8), st.lists(U64, min_size=1, max_size=8))
def test_hamming_matrix_matches_pairwise_hamming(a: list[int], b: list[int]) -> None:
    matrix = hamming_matrix(np.array(a, dtype=np.uint64), np.array(b, dtype=np.uint64))
    assert matrix.shape == (len(a), len(b))
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            assert matrix[i, j] == bin(x ^ y).count("1")


def test_hashes_to_uint64_keeps_the_top_bit() -> None:
    values = hashes_to_uint64(["ffffffffffffffff", "8000000000000001", "0000000000000000"])
    assert values.dtype == np.uint64
    assert values.tolist() == [2**64 - 1, 2**63 + 1, 0]


@pytest.mark.parametrize("bad", ["", "abc", "ffffffffffffffff0", "zzzzzzzzzzzzzzzz", None, 12])
def test_bad_hashes_raise_a_coded_error(bad: object) -> None:
    with pytest.raises(HashFormatError) as info:
        hex_to_int(bad)  # type: ignore[arg-type]
    assert info.value.code == "bad_hash"
    assert "16 hex digits" in str(info.value)


def test_int_to_hex_rejects_out_of_range() -> None:
    with pytest.raises(HashFormatError):
        int_to_hex(2**64)


@pytest.mark.parametrize(
    "bad",
    [np.zeros((8, 8), np.uint8), np.zeros((8, 8, 4), np.uint8), np.zeros((8, 8, 3)), "image"],
)
def test_hash_image_rejects_non_rgb_input(bad: object) -> None:
    with pytest.raises(ImageArrayError) as info:
        hash_image(bad)  # type: ignore[arg-type]
    assert info.value.code == "bad_image"
