"""Pillow's LANCZOS shrink as matrix products: the same bytes as Pillow's own."""

from __future__ import annotations

from pathlib import Path

import imagehash
import numpy as np
import pytest
from PIL import Image

from influencer_pipeline.media.phash import hash_image
from influencer_pipeline.media.resample import resize

PILLOW = {"lanczos": Image.Resampling.LANCZOS}
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


def _pillow(image: np.ndarray, size: tuple[int, int], method: str) -> np.ndarray:
    return np.asarray(Image.fromarray(image).resize(size, PILLOW[method]))


def _images(width: int, height: int, seed: int) -> list[np.ndarray]:
    """Noise, a hard 0/255 checkerboard (LANCZOS over- and undershoots: the clipping) and a
    smooth gradient, each grey and RGB."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:height, 0:width]
    checker = np.where((yy // 3 + xx // 2) % 2 == 0, 255, 0).astype(np.uint8)
    gradient = ((xx * 7 + yy * 3) % 256).astype(np.uint8)
    planes = [np.stack([checker, gradient, 255 - checker], axis=2), noise]
    return [*planes, checker, gradient, noise[..., 1].copy()]


@pytest.mark.parametrize(("in_size", "out_size"), SIZES)
def test_the_same_bytes_as_pillow(in_size, out_size, method="lanczos") -> None:
    for i, image in enumerate(_images(*in_size, seed=hash(in_size) % 1000)):
        ours = resize(image, out_size, method)
        theirs = _pillow(image, out_size, method)
        assert ours.dtype == np.uint8 and ours.shape == theirs.shape, (i, ours.shape)
        assert np.array_equal(ours, theirs), (i, int(np.abs(ours.astype(int) - theirs).max()))


def test_many_random_sizes_in_both_pass_orders() -> None:
    rng = np.random.default_rng(7)
    for _ in range(150):
        in_size = (int(rng.integers(1, 700)), int(rng.integers(1, 700)))
        out_size = (int(rng.integers(1, 120)), int(rng.integers(1, 120)))
        image = rng.integers(0, 256, size=(in_size[1], in_size[0], 3), dtype=np.uint8)
        for method in PILLOW:
            for plane in (image, image[..., 2].copy()):
                ours, theirs = resize(plane, out_size, method), _pillow(plane, out_size, method)
                assert np.array_equal(ours, theirs), (in_size, out_size, method, plane.ndim)


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
        resize(np.zeros((4, 4), dtype=np.float32), (2, 2), "lanczos")
    with pytest.raises(ValueError, match="uint8"):
        resize(np.zeros((0, 4), dtype=np.uint8), (2, 2), "lanczos")
    with pytest.raises(ValueError, match="positive size"):
        resize(np.zeros((4, 4), dtype=np.uint8), (0, 2), "lanczos")
