"""Real re-uploads (../shared/real_ads, labelled by eye) are found in every placement.

A few labelled folders become videos at their own size and 1 fps (their frames are dumps of
about one per second, taken at each upload's own times), plus a letterboxed copy of one of them
(its 1:1 frames scaled into a 9:16 canvas between black bars). labels.csv says which are one ad.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from influencer_pipeline.media.dedup import find_duplicate_groups
from influencer_pipeline.media.encode import write_video
from influencer_pipeline_tests.dedup_inputs import dedup_tables

# three labelled groups in three placements each way, a pair of two cuts of one shoot
# (v52 / v54: the same unboxing footage under another opening hook and other captions; both
# unlabelled), and an unlabelled ad with the same kind of film-strip product (v06)
FOLDERS = ("v01", "v09", "v13", "v35", "v26", "v34", "v66", "v52", "v54", "v06")


def _rgb(path: Path) -> np.ndarray:
    rgb = np.asarray(Image.open(path).convert("RGB"))
    return rgb[: rgb.shape[0] // 2 * 2, : rgb.shape[1] // 2 * 2]  # yuv420p needs even sizes


def _letterboxed(rgb: np.ndarray, size: tuple[int, int] = (360, 640)) -> np.ndarray:
    w, h = size
    side = min(w, round(rgb.shape[1] * h / rgb.shape[0]))
    scaled = np.asarray(
        Image.fromarray(rgb).resize((side, round(side * rgb.shape[0] / rgb.shape[1])))
    )
    canvas = np.zeros((h, w, 3), np.uint8)
    y, x = (h - scaled.shape[0]) // 2, (w - scaled.shape[1]) // 2
    canvas[y : y + scaled.shape[0], x : x + scaled.shape[1]] = scaled
    return canvas


@pytest.fixture(scope="module")
def real(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """Groups of the folders' videos, and the folders' labels."""
    root = shared_dir / "real_ads"
    with (root / "labels.csv").open(newline="", encoding="utf-8") as handle:
        labels = {r["folder"]: r["duplicate_group"] for r in csv.DictReader(handle)}
    out = tmp_path_factory.mktemp("real_ads")
    videos = {}
    for folder in FOLDERS:
        frames = [_rgb(p) for p in sorted((root / folder).glob("*.jpg"))]
        videos[folder] = write_video(out / f"{folder}.mp4", frames, fps=1.0, gop=5)
    boxed = [_letterboxed(_rgb(p)) for p in sorted((root / "v26").glob("*.jpg"))]
    videos["v26_letterboxed"] = write_video(out / "v26_lb.mp4", boxed, fps=1.0, gop=5)
    labels["v26_letterboxed"] = labels["v26"]
    groups = find_duplicate_groups(*dedup_tables(videos))
    return groups.set_index("video_id"), labels


def test_labelled_reuploads_are_one_group_each(real) -> None:
    groups, labels = real
    for name in ("lamp_moon", "price_card_lamp", "unwrapping"):
        members = [v for v in groups.index if labels[v] == name]
        assert len(members) >= 2
        assert groups.loc[members, "group_id"].nunique() == 1, groups.loc[members, "evidence"]
    # the letterboxed copy of a 1:1 upload joins it, its bars stripped
    assert groups.loc["v26_letterboxed", "group_id"] == groups.loc["v26", "group_id"]


def test_no_two_labels_or_unlabelled_ads_merge(real) -> None:
    groups, labels = real
    for _, members in groups.groupby("group_id"):
        names = {labels[v] or v for v in members.index}
        assert len(names) == 1, list(members.index)


def test_two_cuts_of_one_shoot_stay_apart(real) -> None:
    groups, _ = real
    assert groups.loc["v52", "group_id"] != groups.loc["v54", "group_id"]


def test_the_evidence_of_a_placement_match(real) -> None:
    groups, _ = real
    # v09 (9:16) is the canonical of lamp_moon; v01 is its 4:5 centre shown 1:1 between bars
    canonical = groups.loc["v01", "canonical_video_id"]
    other = "v09" if canonical == "v01" else "v01"
    row = groups.loc[other]
    assert row["match_type"] == "near"
    assert abs(row["scale"] - 1.0) > 0.2, row["evidence"]  # another framing, not a re-encode
    assert row["matched_frames"] >= 0.8 * row["compared_frames"]
