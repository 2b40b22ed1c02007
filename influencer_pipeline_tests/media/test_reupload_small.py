"""Re-uploads of short, small videos (the project's tiny demo: 270 x 480, 4-5 s) group too.

A 4-5 s video has a body of about 1.5-2 s (the last 3 s are sampled as the outro), sampled
densely (12 frames) and made of one or two nearly static shots. Every frame of such a shot has
the same hashes, so every time offset up to the shot's length is equally supported by the
frames; the alignment used to settle on the edge of that plateau, a third of a second off, and
the longer video's first frames were then left unmatched (67 % < 70 % of its frames): the
tiny demo's crop re-upload was not grouped with its original (pairwise recall 0.75).

Expected groups come from the demo's truth.csv and from the transforms made here, never from the
code under test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from influencer_pipeline.media.dedup import find_duplicate_groups
from influencer_pipeline.media.placement import N_HASHES
from influencer_pipeline.media.reupload_match import ReuploadConfig, VideoPrint, compare_videos
from influencer_pipeline.media.transforms import transform_video
from influencer_pipeline_tests.conftest import TINY_DEMO
from influencer_pipeline_tests.dedup_inputs import dedup_tables
from influencer_tools.demo.generator import generate_demo

STEP = 1 / 6  # body frames of a 4 s video: 12 in 2 s


def _print(times: np.ndarray, shot_of: np.ndarray, noise: int) -> VideoPrint:
    """Hashes of two static shots (one value per shot, ``noise`` flipped bits per frame)."""
    rng = np.random.default_rng(noise)
    shots = np.array([0x0F0F_3C3C_A5A5_9696, 0xF0F0_C3C3_5A5A_6969], dtype=np.uint64)
    flips = np.array(
        [np.uint64(1) << np.uint64(b) for b in rng.integers(0, 64, len(times))], np.uint64
    )
    hashes = shots[shot_of] ^ (flips if noise else np.uint64(0))
    return VideoPrint(times, hashes, hashes.copy(), np.zeros((len(times), N_HASHES), np.uint64))


def test_two_static_shots_align_on_their_cut() -> None:
    """The same 2 s of two static shots, sampled at the same moments: offset 0, a re-upload."""
    times = np.arange(12) * STEP
    shot_of = (np.arange(12) >= 8).astype(int)  # a cut after 8 frames
    match = compare_videos(_print(times, shot_of, 0), _print(times, shot_of, 7), ReuploadConfig())
    assert match.is_duplicate, match.reason
    assert match.offset_s == pytest.approx(0.0, abs=STEP / 2)
    assert match.matched_frames == 12


def test_other_shots_after_the_same_opening_stay_apart() -> None:
    """The same first shot, then another picture: the second shot does not match (a gap)."""
    times = np.arange(24) * STEP
    first = _print(times, (np.arange(24) >= 8).astype(int), 0)
    other = _print(times, (np.arange(24) >= 8).astype(int), 0)
    other.phash[8:] = other.dhash[8:] = np.uint64(0x1234_5678_9ABC_DEF0)
    assert not compare_videos(first, other, ReuploadConfig()).is_duplicate


def _moving_shots(shots: list[tuple[int, int, int]], step: float = 0.5) -> VideoPrint:
    """(shot, first, last) frames of moving shots: frame k of a shot differs from k+1 in one bit."""
    bases = np.random.default_rng(11).integers(0, 2**63, 8, dtype=np.uint64)
    hashes = []
    for shot, first, last in shots:
        for k in range(first, last):
            drift = np.uint64((1 << k) - 1)  # k low bits set: frames k apart differ in k bits
            hashes.append(bases[shot] ^ drift)
    values = np.array(hashes, np.uint64)
    times = np.arange(len(values)) * step
    return VideoPrint(times, values, values.copy(), np.zeros((len(values), N_HASHES), np.uint64))


def test_a_shot_moved_to_the_end_is_another_edit() -> None:
    """Shots X Y Z against Y Z X: Y Z look like a trim at both ends, but X is not cut, it moved."""
    original = _moving_shots([(0, 0, 6), (1, 0, 6), (2, 0, 6)])
    recut = _moving_shots([(1, 0, 6), (2, 0, 6), (0, 0, 6)])
    match = compare_videos(original, recut, ReuploadConfig())
    assert not match.is_duplicate
    assert "another edit" in match.reason


def test_a_trim_inside_a_long_shot_is_still_a_trim() -> None:
    """A shot's first 4 of 12 frames cut off: the rest of the shot sits at the overlap's edge."""
    original = _moving_shots([(0, 0, 12), (1, 0, 6), (2, 0, 6)])
    trimmed = _moving_shots([(0, 4, 12), (1, 0, 6), (2, 0, 6)])
    match = compare_videos(original, trimmed, ReuploadConfig())
    assert match.is_duplicate, match.reason
    assert match.offset_s == pytest.approx(2.0, abs=0.26)


def test_two_ads_sharing_one_shot_are_two_edits() -> None:
    """X S against S Y: the shared shot S lines up, but each ad has its own footage beside it
    (two creators' ads with the brand's product shot), so neither is a trim of the other."""
    first = _moving_shots([(0, 0, 6), (1, 0, 6)])
    second = _moving_shots([(1, 0, 6), (2, 0, 6)])
    match = compare_videos(first, second, ReuploadConfig())
    assert not match.is_duplicate
    assert "outside the shared stretch" in match.reason


def test_a_copy_trimmed_at_both_ends_is_still_a_trim() -> None:
    """X S Y against its middle (X's first and Y's last frames cut): one copy is covered whole."""
    original = _moving_shots([(0, 0, 6), (1, 0, 6), (2, 0, 6)])
    middle = _moving_shots([(0, 3, 6), (1, 0, 6), (2, 0, 3)])
    match = compare_videos(original, middle, ReuploadConfig())
    assert match.is_duplicate, match.reason


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, dict[str, Path]]:
    """The tiny demo's truth and videos, plus re-uploads of two of its originals made here."""
    root = tmp_path_factory.mktemp("tiny_reuploads")
    demo = generate_demo(root / "demo", TINY_DEMO)
    truth = pd.read_csv(demo.truth).drop_duplicates("file")
    videos = {f: root / "demo" / "videos" / f for f in truth["file"]}
    originals = truth[truth["reupload_of"].isna()]
    face = originals[originals["kind"] == "face"]["file"].iloc[0]
    faceless = originals[originals["kind"] == "faceless"]["file"].iloc[0]
    made = {
        f"made_crop_{face}": dict(crop=0.03, crf=26),
        f"made_half_{face}": dict(scale=0.5),  # 134 x 240
        f"made_1x1_{face}": dict(aspect=(1, 1), crop_shift=0.03, scale=0.8, crf=26),
        f"made_lb4x5_{faceless}": dict(aspect=(4, 5), crop_shift=-0.03, letterbox=True),
        f"made_trim_{faceless}": dict(trim_start_s=0.5),
    }
    rows = []
    for name, options in made.items():
        source = name.split("_", 2)[2]
        videos[name] = transform_video(videos[source], root / name, **options)
        rows.append({"file": name, "duplicate_group": source})
    expected = pd.concat([truth[["file", "duplicate_group"]], pd.DataFrame(rows)])
    return expected.reset_index(drop=True), videos


def _partition(labels: dict[str, str]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for video, label in labels.items():
        groups.setdefault(label, set()).add(video)
    return {frozenset(g) for g in groups.values()}


def test_tiny_demo_reuploads_group_exactly(tiny: tuple[pd.DataFrame, dict[str, Path]]) -> None:
    """Every re-upload (the demo's and those made here, down to 134 x 240) joins its original;
    no two originals merge (other ads of the same person, same room or same end card)."""
    expected, videos = tiny
    files, frames = dedup_tables(videos)
    groups = find_duplicate_groups(files, frames).set_index("video_id")
    found = _partition(groups["group_id"].to_dict())
    truth = _partition(dict(zip(expected["file"], expected["duplicate_group"], strict=True)))
    assert found == truth, groups.loc[groups["group_size"] > 1, "evidence"].to_dict()
    near = groups[groups["match_type"] == "near"]
    assert near["matched_frames"].ge(0.8 * near["compared_frames"]).all(), near["evidence"]
