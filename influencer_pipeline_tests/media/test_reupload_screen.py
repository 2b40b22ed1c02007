"""Alignments whose frames hardly match by hashes are not verified with local features.

Expected shares are counted by hand from the matrices built here, never taken from the code.
"""

from __future__ import annotations

import numpy as np
import pytest

from influencer_pipeline.media.placement import N_HASHES
from influencer_pipeline.media.reupload_match import ReuploadConfig, VideoPrint, compare_videos
from influencer_pipeline.media.reupload_screen import cheap_coverage, worth_verifying

TIMES = np.arange(10, dtype=np.float64)  # one frame a second


def _diagonal(matching: list[int]) -> np.ndarray:
    cheap = np.zeros((10, 10), bool)
    cheap[matching, matching] = True
    return cheap


def test_share_of_a_frames_with_a_cheap_match_near_their_aligned_time() -> None:
    cheap = _diagonal([0, 1, 2])
    hashed = np.ones(10, bool)
    share = cheap_coverage(cheap, hashed, TIMES, TIMES, alignment=(1.0, 0.0), tolerance_s=0.75)
    assert share == pytest.approx(3 / 10)
    # five frames later: A's frames 0-4 lie on B's 5-9, where none of them matches
    later = cheap_coverage(cheap, hashed, TIMES, TIMES, alignment=(1.0, 5.0), tolerance_s=0.75)
    assert later == 0.0


def test_frames_without_a_usable_hash_count_only_when_they_match() -> None:
    cheap = _diagonal([0, 1, 2])
    hashed = np.arange(10) < 5  # frames 5-9: flat squares only
    share = cheap_coverage(cheap, hashed, TIMES, TIMES, alignment=(1.0, 0.0), tolerance_s=0.75)
    assert share == pytest.approx(3 / 5)


def test_worth_verifying_keeps_the_nominated_order_and_reports_the_best_share() -> None:
    cheap = _diagonal([0, 1, 2, 3, 4, 5])
    cheap[np.arange(8), np.arange(8) + 2] = True  # every frame 0-7 also matches B two seconds on
    centre = np.zeros((10, N_HASHES), np.uint64)
    centre[:, 0] = 1  # every frame has a usable placement hash
    video = VideoPrint(TIMES, centre[:, 0].copy(), centre[:, 0].copy(), centre)
    kept, best = worth_verifying(
        video,
        video,
        cheap,
        [(1.0, 0.0), (1.0, 2.0), (1.0, 5.0)],
        tolerance_s=0.75,
        min_share=0.5,
    )
    # offset 0: 6 of 10; offset 2: frames 0-7 inside, all 8 match; offset 5: 0 of 5
    assert kept == [(1.0, 0.0), (1.0, 2.0)]
    assert best == pytest.approx(1.0)


class _CountingFeatures:
    """A feature source that records whether verification asked for it (no images: None)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1


def _prints(shared_frames: int) -> tuple[VideoPrint, VideoPrint, _CountingFeatures]:
    """Two 12-frame videos at 2 fps whose first ``shared_frames`` frames carry the same hashes
    (whole-frame and centred square); the others are unrelated random hashes."""
    rng = np.random.default_rng(5)
    times = np.arange(12) * 0.5
    source = _CountingFeatures()

    def video(own: np.ndarray) -> VideoPrint:
        centre = np.zeros((12, N_HASHES), np.uint64)
        centre[:, 0] = own
        return VideoPrint(times, own.copy(), own.copy(), centre, features=source)

    a = rng.integers(0, 2**63, 12, dtype=np.uint64)
    b = rng.integers(0, 2**63, 12, dtype=np.uint64)
    b[:shared_frames] = a[:shared_frames]
    return video(a), video(b), source


def test_a_pair_sharing_two_frames_is_rejected_without_reading_features() -> None:
    a, b, features = _prints(shared_frames=2)
    match = compare_videos(a, b, ReuploadConfig())
    assert not match.is_duplicate
    assert "match by their hashes" in match.reason
    assert match.cheap_share == pytest.approx(2 / 12)
    assert features.calls == 0
    # without the screen the same pair is verified frame by frame (and still apart)
    unscreened = compare_videos(a, b, ReuploadConfig(min_cheap_coverage=0.0))
    assert features.calls > 0
    assert not unscreened.is_duplicate


def test_a_pair_matching_by_hashes_throughout_is_verified() -> None:
    a, b, features = _prints(shared_frames=12)
    match = compare_videos(a, b, ReuploadConfig())
    assert features.calls > 0  # the verification asked for the local features
    assert match.is_duplicate, match.reason
