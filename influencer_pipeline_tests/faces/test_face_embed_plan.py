"""Which faces are embedded: tubes, the presenter-size floor and the per-tube cap (embed_plan)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from PIL import Image

from influencer_pipeline.faces.detection import Detection
from influencer_pipeline.faces.embed_plan import (
    SKIP_HARD_GATE,
    SKIP_SMALL,
    SKIP_TUBE,
    EmbedPolicy,
    FaceSlot,
    iou,
    plan,
    tube_disagrees,
    tubes,
)
from influencer_pipeline.faces.records import embed_summary, face_rows


def slot(frame: int, x: float, height: float, *, merit: float = 0.5, hard: bool = False):
    """A face of ``height`` (share of a 100 px frame) at ``x`` in searched frame ``frame``."""
    h = height * 100
    return FaceSlot(frame, (x, 10.0, x + 0.8 * h, 10.0 + h), height, hard, merit)


def test_iou() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == 1 / 3


def test_tubes_follow_a_face_held_in_place_and_break_at_gaps_jumps_and_zooms() -> None:
    policy = EmbedPolicy()
    slots = [
        slot(0, 10, 0.3),
        slot(1, 12, 0.3),  # same place: continues tube 0
        slot(1, 60, 0.3),  # elsewhere: a new tube
        slot(3, 12, 0.3),  # frame 2 missing: a new tube
        slot(4, 12, 0.45),  # 1.5x larger: a new tube (a cut to a close-up)
        slot(4, 70, 0.02),  # below the presenter size: no tube
    ]
    ids = tubes(slots, policy)
    assert ids.tolist() == [0, 0, 1, 2, 3, -1]


def test_plan_skips_small_faces_and_caps_long_tubes_keeping_ends_and_best() -> None:
    policy = EmbedPolicy(max_per_tube=4)
    merits = [0.1, 0.9, 0.2, 0.8, 0.3, 0.1, 0.4]
    slots = [slot(f, 10, 0.3, merit=m) for f, m in enumerate(merits)]
    slots += [slot(0, 60, 0.03), slot(1, 60, 0.3, hard=True)]
    tube, reasons = plan(slots, policy)
    assert tube[:7].tolist() == [0] * 7
    embedded = [i for i, r in enumerate(reasons[:7]) if r is None]
    assert embedded == [0, 1, 3, 6]  # first, last and the two best in between
    assert [reasons[i] for i in (2, 4, 5)] == [SKIP_TUBE] * 3
    assert reasons[7:] == [SKIP_SMALL, SKIP_HARD_GATE]
    assert plan(slots, policy, cap=False)[1][:7] == [None] * 7


def test_tube_disagrees() -> None:
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    assert not tube_disagrees([a, a * 1.0], 0.42)
    assert tube_disagrees([a, b], 0.42)  # distance sqrt(2): two people
    assert not tube_disagrees([a], 0.42)


class _Detector:
    """One face per frame, in the same place, 60 % of the frame height."""

    def detect(self, images: list[np.ndarray], batch_size: int | None = None) -> list:
        landmarks = np.array([[40, 50], [70, 50], [55, 68], [43, 85], [67, 85]], np.float32)
        return [[Detection((20.0, 20.0, 100.0, 116.0), 0.99, landmarks)] for _ in images]


class _Embedder:
    """A 'dlib' stand-in: returns the person of each frame (one vector per person)."""

    name = "dlib"
    version = "test"
    dim = 2

    def __init__(self, people: list[int]) -> None:
        self.people = people
        self.calls: list[int] = []

    def embed(self, image: np.ndarray, detections: list) -> np.ndarray:
        frame = int(image[0, 0, 0])  # the frame number is painted into the pixel
        self.calls.append(frame)
        angle = 0.0 if self.people[frame] == 0 else np.pi / 2
        return np.array([[np.cos(angle), np.sin(angle)]] * len(detections), np.float32)


def _frames(n: int) -> pd.DataFrame:
    images = []
    for frame in range(n):
        rng = np.random.default_rng(frame)
        pixels = rng.integers(0, 255, size=(160, 120, 3), dtype=np.uint8)
        pixels[:8, :8] = frame
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="PNG")  # lossless: the frame number survives
        images.append(buffer.getvalue())
    return pd.DataFrame(
        {
            "frame_index": range(n),
            "timestamp_s": [float(i) for i in range(n)],
            "role": "body",
            "image": images,
            "is_blank": False,
        }
    )


def test_face_rows_embeds_four_faces_of_a_long_tube_and_says_why_it_skipped_the_rest() -> None:
    embedder = _Embedder([0] * 8)
    faces = face_rows("v", _frames(8), _Detector(), embedder)
    assert len(faces) == 8 and faces["tube"].tolist() == [0] * 8
    assert sorted(embedder.calls) == sorted(set(embedder.calls)) and len(embedder.calls) == 4
    assert faces["embed_skip"].isna().sum() == 4
    assert (faces["embed_skip"] == SKIP_TUBE).sum() == 4
    assert all(len(p) == 32 * 32 for p in faces["aligned_face"])
    summary = embed_summary(faces)
    assert summary == {
        "faces_detected": 8,
        "faces_embedded": 4,
        "faces_skipped": 4,
        "skipped_why": {SKIP_TUBE: 4},
    }


def test_face_rows_embeds_the_whole_tube_when_its_ends_are_two_people() -> None:
    embedder = _Embedder([0, 0, 0, 0, 1, 1, 1, 1])  # a cut between two people in one place
    faces = face_rows("v", _frames(8), _Detector(), embedder)
    assert faces["embed_skip"].isna().all()
    assert sorted(embedder.calls) == list(range(8))
