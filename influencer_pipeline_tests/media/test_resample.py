"""Pillow's LANCZOS shrink as matrix products: the same bytes as Pillow's own."""

from __future__ import annotations

from pathlib import Path

import imagehash
import numpy as np
import pytest
from PIL import Image

from influencer_pipeline.media.phash import hash_image
from influencer_pipeline.media.resample import resize

# (input width, height) -> (output width, height): the frame step's shrinks, odd ratios, a
# dimension kept, upscaling (a filter scale of 1) and single pixels
SIZES = [
    ((360, 640), (32, 32)),
    ((360, 640), (9, 8)),
    ((640, 360), (64, 64)),
    ((405, 720), (32, 32)),
    ((97, 131), (32, 32)),
    ((33, 17), (9, 8)),
    ((5, 7), (32, 32)),
    ((1, 1), (9, 8)),
    ((300, 2), (64, 64)),
    ((64, 200), (64, 13)),
    ((64, 64), (64, 64)),
    ((240, 426), (64, 64)),  # a real ad's frame: Pillow shrinks its columns first here
    ((50, 400), (9, 8)),
]


def _pillow(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))


def _images(width: int, height: int, seed: int) -> list[np.ndarray]:
    """Noise, a hard 0/255 checkerboard (LANCZOS over- and undershoots: the clipping), its
    inverse and a smooth gradient."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, size=(height, width), dtype=np.uint8)
    yy, xx = np.mgrid[0:height, 0:width]
    checker = np.where((yy // 3 + xx // 2) % 2 == 0, 255, 0).astype(np.uint8)
    gradient = ((xx * 7 + yy * 3) % 256).astype(np.uint8)
    return [noise, checker, 255 - checker, gradient]


@pytest.mark.parametrize(("in_size", "out_size"), SIZES)
def test_the_same_bytes_as_pillow(in_size, out_size) -> None:
    for i, image in enumerate(_images(*in_size, seed=hash(in_size) % 1000)):
        ours = resize(image, out_size)
        theirs = _pillow(image, out_size)
        assert ours.dtype == np.uint8 and ours.shape == theirs.shape, (i, ours.shape)
        assert np.array_equal(ours, theirs), (i, int(np.abs(ours.astype(int) - theirs).max()))


def test_many_random_sizes_in_both_pass_orders() -> None:
    rng = np.random.default_rng(7)
    for _ in range(150):
        in_size = (int(rng.integers(1, 700)), int(rng.integers(1, 700)))
        out_size = (int(rng.integers(1, 120)), int(rng.integers(1, 120)))
        images = rng.integers(0, 256, size=(2, in_size[1], in_size[0]), dtype=np.uint8)
        for image in images:
            ours, theirs = resize(image, out_size), _pillow(image, out_size)
            assert np.array_equal(ours, theirs), (in_size, out_size)


def test_real_frames_give_imagehashs_hashes(shared_dir: Path) -> None:
    frames = sorted((shared_dir / "real_ads").glob("v*/*.jpg"))[::7]
    frames += sorted((shared_dir / "real_frames").glob("*/*.jpg"))[::3]
    assert len(frames) >= 40
    for path in frames:
        rgb = np.asarray(Image.open(path).convert("RGB"))
        for shrunk in ((360, 640), (640, 360)):  # the frame step's 640-px frames, and as is
            shown = np.asarray(Image.fromarray(rgb).resize(shrunk))
            for image in (rgb, shown):
                grey = Image.fromarray(image).convert("L")
                expected = (str(imagehash.phash(grey)), str(imagehash.dhash(grey)))
                assert hash_image(image) == expected, path


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="uint8"):
        resize(np.zeros((4, 4), dtype=np.float32), (2, 2))
    with pytest.raises(ValueError, match="uint8"):
        resize(np.zeros((0, 4), dtype=np.uint8), (2, 2))
    with pytest.raises(ValueError, match="uint8"):
        resize(np.zeros((4, 4, 3), dtype=np.uint8), (2, 2))  # one plane: the grey frame
    with pytest.raises(ValueError, match="positive size"):
        resize(np.zeros((4, 4), dtype=np.uint8), (0, 2))
