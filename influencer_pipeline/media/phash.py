"""Perceptual hashes of frames (thin helpers over ``imagehash``) and fast Hamming distances.

Hashes are 64-bit values written as 16 lower-case hex digits, exactly as
``str(imagehash.phash(...))`` prints them, so a hash read back from the lake compares bit for bit
with a fresh one.
``hamming_matrix`` compares many hashes against many in one vectorized step (``np.bitwise_count``).
``hash_image`` shrinks the frame with ``media.resample`` (Pillow's LANCZOS bytes, faster) and
hands ``imagehash`` images already at its size, which Pillow then leaves as they are.
"""

from __future__ import annotations

from collections.abc import Iterable

import imagehash
import numpy as np
from PIL import Image

from influencer_pipeline.errors import InputError
from influencer_pipeline.media.resample import resize

HASH_HEX_DIGITS = 16  # 64-bit hashes (imagehash hash_size=8)
PHASH_SIDE = 32  # imagehash.phash's image: hash_size 8 x highfreq_factor 4
DHASH_SIZE = (9, 8)  # imagehash.dhash's image: (hash_size + 1) x hash_size


class HashFormatError(InputError):
    """A value that is not a 64-bit hash written as 16 hex digits (``code`` = "bad_hash")."""

    def __init__(self, value: object) -> None:
        super().__init__(
            "bad_hash",
            f"expected a 64-bit perceptual hash as {HASH_HEX_DIGITS} hex digits, got {value!r}",
        )


class ImageArrayError(InputError):
    """An image argument that is not an H x W x 3 uint8 RGB array (``code`` = "bad_image")."""

    def __init__(self, value: object) -> None:
        shape = getattr(value, "shape", None)
        dtype = getattr(value, "dtype", None)
        super().__init__(
            "bad_image",
            f"expected an H x W x 3 uint8 RGB array, got {type(value).__name__} "
            f"with shape {shape} and dtype {dtype}",
        )


def check_rgb(rgb: object) -> np.ndarray:
    """Return ``rgb`` if it is a non-empty H x W x 3 uint8 array, else raise ImageArrayError."""
    if (
        not isinstance(rgb, np.ndarray)
        or rgb.ndim != 3
        or rgb.shape[2] != 3
        or rgb.size == 0
        or rgb.dtype != np.uint8
    ):
        raise ImageArrayError(rgb)
    return rgb


def hash_image(rgb: np.ndarray) -> tuple[str, str]:
    """Return the (phash, dhash) of an H x W x 3 uint8 RGB image as 16-hex-digit strings."""
    check_rgb(rgb)
    grey = np.asarray(Image.fromarray(np.ascontiguousarray(rgb)).convert("L"))  # as both would
    small = Image.fromarray(resize(grey, (PHASH_SIDE, PHASH_SIDE)))
    tiny = Image.fromarray(resize(grey, DHASH_SIZE))
    return str(imagehash.phash(small)), str(imagehash.dhash(tiny))


def hex_to_int(value: str) -> int:
    """Parse a 16-hex-digit hash into an int in [0, 2**64); raise HashFormatError otherwise."""
    if not isinstance(value, str) or len(value) != HASH_HEX_DIGITS:
        raise HashFormatError(value)
    try:
        return int(value, 16)
    except ValueError:
        raise HashFormatError(value) from None


def int_to_hex(value: int) -> str:
    """Write a 64-bit int as the 16-hex-digit form used in the lake."""
    if not 0 <= int(value) < 2**64:
        raise HashFormatError(value)
    return f"{int(value):016x}"


def hamming(a: str, b: str) -> int:
    """Number of differing bits between two 16-hex-digit hashes."""
    return (hex_to_int(a) ^ hex_to_int(b)).bit_count()


def hashes_to_uint64(values: Iterable[str]) -> np.ndarray:
    """Parse hex hashes into a uint64 array (for ``hamming_matrix`` and band indexes)."""
    return np.array([hex_to_int(v) for v in values], dtype=np.uint64)


def hamming_matrix(a_uint64: np.ndarray, b_uint64: np.ndarray) -> np.ndarray:
    """Pairwise Hamming distances (len(a) x len(b), uint8) between two uint64 hash arrays."""
    a = np.asarray(a_uint64, dtype=np.uint64).reshape(-1)
    b = np.asarray(b_uint64, dtype=np.uint64).reshape(-1)
    return np.bitwise_count(a[:, None] ^ b[None, :])
