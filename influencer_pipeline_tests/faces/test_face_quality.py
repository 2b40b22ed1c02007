"""Face quality gates: measurements and flags on constructed examples and real photos."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from influencer_pipeline.faces.detection import Detection, FaceDetector
from influencer_pipeline.faces.quality import (
    GATES,
    QualityThresholds,
    assess,
    frontalness,
    gate_flags,
    roll_degrees,
    sharpness,
    yaw_symmetry,
)

# left eye, right eye, nose, mouth left, mouth right of a frontal face (image coordinates)
FRONTAL = np.array([[40, 50], [80, 50], [60, 70], [45, 90], [75, 90]], dtype=np.float32)


def _rotated(points: np.ndarray, degrees: float) -> np.ndarray:
    angle = math.radians(degrees)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    center = points.mean(axis=0)
    return ((points - center) @ rotation.T + center).astype(np.float32)


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


def _photo(shared_dir: Path, rel: str) -> np.ndarray:
    picture = Image.open(shared_dir / "faces" / rel).convert("RGB")
    picture.thumbnail((640, 640))
    return np.asarray(picture)


def _best(detector: FaceDetector, image: np.ndarray) -> Detection:
    (found,) = detector.detect([image])
    assert found, "no face detected"
    return max(found, key=lambda d: d.height)


# --- landmark-level frontalness ------------------------------------------------------------


def test_frontal_landmarks_score_one() -> None:
    assert roll_degrees(FRONTAL) == pytest.approx(0.0)
    assert yaw_symmetry(FRONTAL) == pytest.approx(1.0)
    assert frontalness(FRONTAL) == pytest.approx(1.0)


def test_turning_lowers_frontalness_down_to_zero_for_a_profile() -> None:
    values = []
    for shift in (0, 8, 16, 20, 28):  # the nose (and half as much the mouth) turn to the right
        turned = FRONTAL.copy()
        turned[2, 0] += shift
        turned[3:, 0] += shift / 2
        values.append(frontalness(turned))
    assert values == sorted(values, reverse=True)
    assert values[1] == pytest.approx((12 / 28 + 11 / 19) / 2)  # eyes 28|12, mouth 19|11
    assert values[-1] < 0.05  # nose past the right eye: a profile
    assert "profile" in gate_flags(
        det_score=0.99, height_px=100, rel_height=0.5, sharpness_value=100,
        frontalness_value=values[-1],
    )  # fmt: skip


def test_roll_is_free_up_to_40_degrees_then_penalised() -> None:
    assert roll_degrees(_rotated(FRONTAL, 30)) == pytest.approx(30, abs=1e-3)
    assert frontalness(_rotated(FRONTAL, 30)) == pytest.approx(1.0, abs=1e-4)
    assert frontalness(_rotated(FRONTAL, -50)) == pytest.approx(0.5, abs=1e-3)
    assert frontalness(_rotated(FRONTAL, 65)) == 0.0
    assert frontalness(_rotated(FRONTAL, 180)) == 0.0  # upside down


# --- sharpness on synthetic texture ----------------------------------------------------------


def _drawn_face() -> np.ndarray:
    """A 150 x 150 cartoon face with sharp edges (unlike noise, such edges vanish under blur)."""
    picture = Image.new("RGB", (150, 150), (120, 110, 100))
    draw = ImageDraw.Draw(picture)
    draw.ellipse((20, 10, 130, 140), fill=(220, 180, 150), outline=(60, 40, 30), width=2)
    for x in (45, 85):
        draw.ellipse((x, 50, x + 20, 62), fill=(255, 255, 255), outline=(0, 0, 0))
        draw.ellipse((x + 7, 52, x + 13, 60), fill=(30, 20, 10))
    draw.line((75, 60, 70, 90, 80, 90), fill=(120, 80, 60), width=2)
    draw.arc((55, 95, 95, 120), 20, 160, fill=(150, 40, 40), width=3)
    for x in range(25, 125, 6):
        draw.line((x, 12, x + 3, 35), fill=(70, 50, 30), width=1)
    return np.asarray(picture)


def test_sharpness_separates_sharp_from_blurred_and_ignores_contrast() -> None:
    image = _drawn_face()
    box = (10.0, 5.0, 140.0, 145.0)
    sharp = sharpness(image, box)
    blurred = np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(4)))
    low_contrast = (128 + (image.astype(np.float64) - 128) * 0.3).astype(np.uint8)
    assert sharp > 10 * QualityThresholds().min_sharpness
    assert sharpness(blurred, box) < QualityThresholds().min_sharpness
    assert sharpness(low_contrast, box) == pytest.approx(sharp, rel=0.15)
    assert sharpness(np.full((50, 50, 3), 90, np.uint8), (5.0, 5.0, 45.0, 45.0)) == 0.0


# --- gates -----------------------------------------------------------------------------------


def test_every_gate_flag_and_order() -> None:
    good = {
        "det_score": 0.99, "height_px": 100.0, "rel_height": 0.3,
        "sharpness_value": 200.0, "frontalness_value": 0.8,
    }  # fmt: skip
    assert gate_flags(**good) == []
    cases = {
        "low_score": {"det_score": 0.89},
        "small": {"height_px": 23.0},
        "tiny": {"rel_height": 0.039},
        "blurry": {"sharpness_value": 24.0},
        "profile": {"frontalness_value": 0.04},
    }
    for flag, change in cases.items():
        assert gate_flags(**{**good, **change}) == [flag]
    everything = {k: v for change in cases.values() for k, v in change.items()}
    assert gate_flags(**everything) == list(GATES)
    strict = QualityThresholds(min_frontalness=0.9)
    assert gate_flags(**good, thresholds=strict) == ["profile"]


def test_low_score_is_a_hard_gate() -> None:
    image = _drawn_face()
    weak = Detection((10.0, 10.0, 140.0, 140.0), 0.85, FRONTAL + 20)
    quality = assess(image, weak)
    assert quality.flags == ["low_score"] and quality.hard_fail and not quality.passes


# --- real photos and degradations ------------------------------------------------------------


def test_real_portrait_passes_every_gate(detector: FaceDetector, shared_dir: Path) -> None:
    image = _photo(shared_dir, "barack_obama/1.jpg")
    quality = assess(image, _best(detector, image))
    assert quality.passes and quality.flags == [] and not quality.hard_fail
    assert quality.frontalness > 0.8 and quality.sharpness > 100
    assert 0.2 < quality.rel_height < 0.5


def test_blurred_face_is_flagged_blurry(detector: FaceDetector, shared_dir: Path) -> None:
    image = _photo(shared_dir, "joe_biden/2.jpg")
    face = _best(detector, image)
    blur = ImageFilter.GaussianBlur(face.height * 0.05)  # sigma 5 % of the face height
    blurred = np.asarray(Image.fromarray(image).filter(blur))
    quality = assess(blurred, face)
    assert quality.flags == ["blurry"] and not quality.hard_fail
    assert assess(image, face).sharpness > 4 * quality.sharpness


def test_small_face_in_a_large_frame_is_tiny(detector: FaceDetector, shared_dir: Path) -> None:
    image = _photo(shared_dir, "barack_obama/1.jpg")
    face = _best(detector, image)
    scale = 40 / face.height  # a 40 px face in a 1100 px tall frame: 3.6 % of its height
    small = Image.fromarray(image).resize(
        (round(image.shape[1] * scale), round(image.shape[0] * scale)), Image.Resampling.LANCZOS
    )
    canvas = Image.new("RGB", (620, 1100), (200, 200, 200))
    canvas.paste(small, (250, 500))
    frame = np.asarray(canvas)
    quality = assess(frame, _best(detector, frame))
    assert "tiny" in quality.flags and "small" not in quality.flags
    assert quality.rel_height < 0.04 and not quality.hard_fail


def test_face_below_24_px_is_small_and_a_hard_fail(
    detector: FaceDetector, shared_dir: Path
) -> None:
    image = _photo(shared_dir, "kit_harington/1.jpg")
    face = _best(detector, image)
    scale = 20 / face.height
    shrunk = np.asarray(
        Image.fromarray(image).resize(
            (round(image.shape[1] * scale), round(image.shape[0] * scale)), Image.Resampling.LANCZOS
        )
    )
    scaled = Detection(
        tuple(v * scale for v in face.box), face.score, face.landmarks * np.float32(scale)
    )
    quality = assess(shrunk, scaled)
    assert "small" in quality.flags and quality.hard_fail


@pytest.mark.parametrize("photo", ["bbt_raj/16.jpg", "bbt_leonard/15.jpg"])
def test_real_profile_is_flagged(detector: FaceDetector, shared_dir: Path, photo: str) -> None:
    image = _photo(shared_dir, photo)
    quality = assess(image, _best(detector, image))
    assert "profile" in quality.flags and quality.frontalness < 0.05


def test_squeezing_one_side_of_a_face_lowers_frontalness(
    detector: FaceDetector, shared_dir: Path
) -> None:
    image = _photo(shared_dir, "barack_obama/1.jpg")
    face = _best(detector, image)
    nose_x = int(face.landmarks[2, 0])
    left = Image.fromarray(image[:, :nose_x]).resize((nose_x // 3, image.shape[0]))
    turned = np.ascontiguousarray(np.concatenate([np.asarray(left), image[:, nose_x:]], axis=1))
    assert frontalness(_best(detector, turned).landmarks) < 0.6 * frontalness(face.landmarks)
