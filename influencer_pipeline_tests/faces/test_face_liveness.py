"""Live person or picture: landmark shapes, aligned patches and rigid pairs (faces.liveness)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from influencer_pipeline.faces.liveness import (
    ALIGN_SIZE,
    TEMPLATE,
    aligned_patch,
    patch_ncc,
    rigid_pairs,
    shape_residual,
    similarity,
)

LANDMARKS = np.array([[40.0, 50.0], [70.0, 50.0], [55.0, 68.0], [43.0, 85.0], [67.0, 85.0]])


def transform(points: np.ndarray, angle_deg: float, scale: float, shift: tuple) -> np.ndarray:
    """``points`` rotated by ``angle_deg`` about the origin, scaled and shifted."""
    a = np.radians(angle_deg)
    rotation = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return points @ rotation.T * scale + np.asarray(shift)


def test_similarity_recovers_a_known_transform() -> None:
    moved = transform(LANDMARKS, 25.0, 1.7, (12.0, -5.0))
    matrix = similarity(LANDMARKS, moved)
    mapped = np.hstack([LANDMARKS, np.ones((5, 1))]) @ matrix.T
    np.testing.assert_allclose(mapped, moved, atol=1e-9)
    with pytest.raises(ValueError, match="coincide"):
        similarity(np.zeros((5, 2)), moved)


def test_shape_residual_ignores_moves_and_sees_a_turned_head() -> None:
    assert shape_residual(LANDMARKS, transform(LANDMARKS, -40.0, 0.3, (300, 9))) < 1e-6
    turned = LANDMARKS.copy()
    turned[2, 0] += 8.0  # the nose moves against eyes and mouth: the head turned
    assert shape_residual(LANDMARKS, turned) > 0.09
    assert np.isnan(shape_residual(np.zeros((5, 2)), LANDMARKS))


def _textured(seed: int, size: int = 160) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, size=(size // 8, size // 8, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC))


def test_the_same_picture_moved_by_the_camera_gives_the_same_patch() -> None:
    image = _textured(1)
    patch = aligned_patch(image, LANDMARKS)
    assert len(patch) == ALIGN_SIZE * ALIGN_SIZE
    # the camera turns and zooms out: the picture moves, its landmarks move with it
    picture = Image.fromarray(image)
    angle, scale = 12.0, 0.8
    centre = np.array([80.0, 80.0])
    inverse = similarity(transform(LANDMARKS - centre, angle, scale, centre), LANDMARKS)
    moved = picture.transform(
        picture.size, Image.Transform.AFFINE, tuple(inverse.reshape(-1)), Image.Resampling.BICUBIC
    )
    again = aligned_patch(np.asarray(moved), transform(LANDMARKS - centre, angle, scale, centre))
    assert patch_ncc(patch, again) > 0.9
    other = aligned_patch(_textured(2), LANDMARKS)
    assert abs(patch_ncc(patch, other)) < 0.5


def test_patch_ncc_edge_cases() -> None:
    flat = bytes(ALIGN_SIZE * ALIGN_SIZE)
    assert np.isnan(patch_ncc(flat, flat))
    assert np.isnan(patch_ncc(b"\x01\x02", b"\x01"))


def test_rigid_pairs_count_only_pairs_a_second_apart() -> None:
    patch = aligned_patch(_textured(3), LANDMARKS)
    other = aligned_patch(_textured(4), LANDMARKS)
    turned = LANDMARKS.copy()
    turned[2, 0] += 8.0
    times = np.array([0.0, 0.5, 1.0, 2.0])
    rigid, pairs, median = rigid_pairs(
        times, [LANDMARKS, LANDMARKS, LANDMARKS, turned], [patch, patch, patch, other]
    )
    # pairs >= 1 s apart: (0,2) (0,3) (1,3) (2,3); only (0,2) is a rigid copy
    assert (rigid, pairs) == (1, 4)
    assert median > 0.09
    assert rigid_pairs(np.array([0.0, 0.4]), [LANDMARKS] * 2, [patch] * 2)[:2] == (0, 0)


def test_template_is_inside_the_unit_square() -> None:
    assert TEMPLATE.shape == (5, 2) and TEMPLATE.min() > 0.2 and TEMPLATE.max() < 0.9
