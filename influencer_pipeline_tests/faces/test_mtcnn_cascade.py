"""MTCNN's cascade with batched crops: the same crops as facenet-pytorch's own, and its
detections to float rounding (channels-last networks)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from facenet_pytorch import MTCNN
from facenet_pytorch.models.utils.detect_face import detect_face
from PIL import Image
from torch.nn.functional import interpolate

from influencer_pipeline.faces.mtcnn_cascade import (
    area_crops,
    area_resize,
    detect_batch,
    integral_image,
    use_channels_last,
)

THRESHOLDS = [0.6, 0.7, 0.7]
FACTOR = 0.709


def _torch_area(frame: np.ndarray, rows: tuple[int, int], cols: tuple[int, int], size: int):
    crop = torch.from_numpy(frame).permute(2, 0, 1).float()[None, :, slice(*rows), slice(*cols)]
    return interpolate(crop, size=(size, size), mode="area")[0]


@pytest.mark.parametrize("size", [24, 48])
def test_area_crops_are_torchs_area_resampling_bit_for_bit(size: int) -> None:
    rng = np.random.default_rng(7)
    frames = rng.integers(0, 256, size=(2, 181, 97, 3), dtype=np.uint8)
    boxes = [(0, 181, 0, 97), (0, 1, 0, 1), (180, 181, 3, 40), (5, 60, 96, 97), (17, 150, 20, 90)]
    boxes += [
        tuple(sorted(rng.integers(0, 182, 2))) + tuple(sorted(rng.integers(0, 98, 2)))
        for _ in range(40)
    ]
    boxes = [b for b in boxes if b[1] > b[0] and b[3] > b[2]]
    frame_of = np.arange(len(boxes)) % 2
    box = np.asarray(boxes)
    tables = [integral_image(f) for f in frames]
    got = area_crops(tables, frame_of, (box[:, 0], box[:, 1]), (box[:, 2], box[:, 3]), (size, size))
    for i, (r0, r1, c0, c1) in enumerate(boxes):
        want = _torch_area(frames[frame_of[i]], (r0, r1), (c0, c1), size)
        assert torch.equal(got[i], want), f"box {boxes[i]}"
    assert got.is_contiguous(memory_format=torch.channels_last)  # the networks' layout


@pytest.mark.parametrize("shape", [(640, 360), (426, 426), (359, 640), (97, 61)])
def test_area_resize_is_torchs_pyramid_level_in_values_and_layout(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 256, size=(3, *shape, 3), dtype=np.uint8)
    batch = torch.as_tensor(frames).permute(0, 3, 1, 2).float()  # as MTCNN builds it
    tables = [integral_image(f) for f in frames]
    h, w = shape
    for rows in [*range(8, h // 2, 11), h - 1, h]:  # down to the finest level, the whole frame
        size = (rows, max(8, round(rows * w / h)))
        want = interpolate(batch, size=size, mode="area")
        got = area_resize(tables, size)
        assert torch.equal(got, want), size
        assert got.stride() == want.stride(), size  # P-net's convolution depends on it


def test_float64_integral_images_give_the_same_levels_and_crops() -> None:
    # frames over 8.4 Mpx get float64 integral images (int32 would overflow): same sums
    rng = np.random.default_rng(5)
    frames = rng.integers(0, 256, size=(2, 90, 70, 3), dtype=np.uint8)
    exact = [integral_image(f) for f in frames]
    wide = [t.astype(np.float64) for t in exact]
    assert exact[0].dtype == np.int32
    for size in [(45, 35), (12, 9), (90, 70)]:
        assert torch.equal(area_resize(wide, size), area_resize(exact, size))
    box = np.array([[0, 90, 0, 70], [10, 41, 5, 66]])
    rows, cols, frame_of = (box[:, 0], box[:, 1]), (box[:, 2], box[:, 3]), np.array([0, 1])
    assert torch.equal(
        area_crops(wide, frame_of, rows, cols, (24, 24)),
        area_crops(exact, frame_of, rows, cols, (24, 24)),
    )


def test_channels_last_networks_keep_their_weights_and_outputs() -> None:
    plain, fast = MTCNN(device="cpu"), MTCNN(device="cpu")
    use_channels_last(fast.pnet, fast.rnet, fast.onet)
    generator = torch.Generator().manual_seed(11)
    shapes = {"pnet": (2, 3, 61, 47), "rnet": (9, 3, 24, 24), "onet": (5, 3, 48, 48)}
    for name, shape in shapes.items():
        net, reference = getattr(fast, name), getattr(plain, name)
        for weight, original in zip(net.parameters(), reference.parameters(), strict=True):
            assert torch.equal(weight, original)
            if weight.ndim == 4:
                assert weight.is_contiguous(memory_format=torch.channels_last)
        x = torch.rand(*shape, generator=generator) * 2 - 1
        with torch.inference_mode():
            for got, want in zip(net(x), reference(x), strict=True):
                torch.testing.assert_close(got, want, rtol=0, atol=1e-5)


def _real_frames(shared: Path) -> list[np.ndarray]:
    """Frames of shared/real_ads and a group photo, each batch one size as the pipeline's are."""
    paths = sorted((shared / "real_ads").glob("v0[0-5]/*.jpg"))[::3]
    paths += sorted((shared / "group_photos").glob("*.jpg"))[:2]
    frames = []
    for path in paths:
        image = Image.open(path).convert("RGB")
        image.thumbnail((640, 640))
        frames.append(np.asarray(image.resize((360, 640)) if image.height > image.width else image))
    return frames


def test_the_cascade_finds_what_detect_face_finds(shared_dir: Path) -> None:
    """The same faces in every frame; boxes, scores and landmarks to float rounding (the
    channels-last convolutions add in another order)."""
    plain, fast = MTCNN(device="cpu"), MTCNN(device="cpu")
    nets = (plain.pnet, plain.rnet, plain.onet)
    fast_nets = (fast.pnet, fast.rnet, fast.onet)
    use_channels_last(*fast_nets)
    by_size: dict[tuple[int, ...], list[np.ndarray]] = {}
    for frame in _real_frames(shared_dir):
        by_size.setdefault(frame.shape, []).append(frame)
    faces = 0
    with torch.inference_mode():
        for frames in by_size.values():
            for start in range(0, len(frames), 8):
                batch = np.stack(frames[start : start + 8])
                for minsize in (20, 25.6 / 0.709):
                    want = detect_face(batch, minsize, *nets, THRESHOLDS, FACTOR, "cpu")
                    got = detect_batch(
                        batch, minsize, fast_nets,
                        thresholds=THRESHOLDS, factor=FACTOR, device=torch.device("cpu"),
                    )  # fmt: skip
                    for want_boxes, want_points, boxes, points in zip(*want, *got, strict=True):
                        expected = np.asarray(want_boxes, dtype=np.float32).reshape(-1, 5)
                        found = boxes.reshape(-1, 5)
                        assert found.shape == expected.shape
                        np.testing.assert_allclose(found[:, :4], expected[:, :4], atol=0.01)
                        np.testing.assert_allclose(found[:, 4], expected[:, 4], atol=1e-4)
                        np.testing.assert_allclose(
                            points.reshape(-1, 5, 2),
                            np.asarray(want_points, dtype=np.float32).reshape(-1, 5, 2),
                            atol=0.01,
                        )
                        faces += len(boxes)
    assert faces > 20  # the frames hold faces: the comparison is not of empty lists
