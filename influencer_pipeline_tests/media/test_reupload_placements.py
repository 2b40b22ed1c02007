"""Re-uploads in other placements group with their original; other cuts and other ads do not.

One synthetic 9:16 ad (textured scenes that move, then an end card) and its uploads: 1:1 and 4:5
centre crops (off-centre by a few per cent, scaled), the same crops letterboxed back into 9:16,
a 1 fps copy, a trimmed copy, the same body with another end card; and what must stay apart: a
second cut of the same shoot (the same scenes in another order and length), another ad with the
same end card. A 16:9 ad and its 9:16 centre crop. The evidence columns say how they match.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageDraw

from influencer_pipeline.lake_schema import DUPLICATE_GROUPS, to_arrow
from influencer_pipeline.media.dedup import find_duplicate_groups
from influencer_pipeline.media.encode import write_video
from influencer_pipeline.media.transforms import transform_video
from influencer_pipeline_tests.dedup_inputs import dedup_tables

FPS = 10


def _scene(seed: int, size: tuple[int, int]) -> Image.Image:
    """A picture full of corners: random rectangles, ellipses and lines on a gradient."""
    rng = np.random.default_rng(seed)
    w, h = size
    ramp = np.linspace(40, 200, h, dtype=np.float32)[:, None, None] * np.ones((1, w, 3))
    image = Image.fromarray((ramp * rng.uniform(0.6, 1.0, 3)).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(60):
        x, y = rng.integers(0, w), rng.integers(0, h)
        dx, dy = rng.integers(10, w // 4), rng.integers(10, h // 6)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        shape = rng.integers(3)
        if shape == 0:
            draw.rectangle((x, y, x + dx, y + dy), fill=colour)
        elif shape == 1:
            draw.ellipse((x, y, x + dx, y + dy), outline=colour, width=3)
        else:
            draw.line((x, y, x + dx, y + dy), fill=colour, width=4)
    return image


def _card(size: tuple[int, int], price: str) -> np.ndarray:
    w, h = size
    card = Image.new("RGB", size, (250, 250, 250))
    draw = ImageDraw.Draw(card)
    draw.rectangle((w * 0.35, h * 0.3, w * 0.65, h * 0.45), outline=(230, 110, 40), width=6)
    draw.text((w * 0.3, h * 0.55), "BRAND", fill=(30, 30, 30), font_size=w // 9)
    draw.text((w * 0.38, h * 0.65), price, fill=(230, 110, 40), font_size=w // 12)
    return np.asarray(card)


def _frames(
    scenes: list[tuple[int, float]], size: tuple[int, int], price: str = "$29"
) -> list[np.ndarray]:
    """Each (seed, seconds) scene slowly zooming into its picture, then 2 s of the end card."""
    w, h = size
    frames = []
    for seed, seconds in scenes:
        picture = _scene(seed, (round(w * 1.2), round(h * 1.2)))
        n = round(seconds * FPS)
        for k in range(n):
            margin = 0.1 * (1 - k / max(n - 1, 1)) * w
            box = (margin, margin * h / w, picture.width - margin, picture.height - margin * h / w)
            frames.append(np.asarray(picture.resize(size, Image.Resampling.BILINEAR, box=box)))
    return frames + [_card(size, price)] * (2 * FPS)


SCENES = [(1, 2.0), (2, 1.5), (3, 2.5), (4, 2.0), (5, 2.0)]


def _every_nth(src: Path, dst: Path, n: int) -> Path:
    """A 1 fps dump of a 10 fps video: every n-th frame, re-encoded at fps / n."""
    with av.open(str(src)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return write_video(dst, frames[::n], fps=FPS / n, gop=5)


@pytest.fixture(scope="module")
def uploads(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("placements")
    size = (360, 640)
    ad = write_video(d / "ad.mp4", _frames(SCENES, size), fps=FPS, crf=20)
    placed = {
        f"{'lb' if letterbox else 'native'}_{a}x{b}": transform_video(
            ad,
            d / f"{letterbox}_{a}x{b}.mp4",
            aspect=(a, b),
            crop_shift=-0.03,
            letterbox=letterbox,
            scale=1.0 if letterbox else 0.8,
            crf=26,
        )
        for a, b in ((1, 1), (4, 5))
        for letterbox in (False, True)
    }
    recut = [(seed, seconds * 1.3) for seed, seconds in reversed(SCENES)]
    wide_scenes = [(seed + 20, seconds) for seed, seconds in SCENES[:4]]
    wide = write_video(d / "wide.mp4", _frames(wide_scenes, (640, 360)), fps=FPS, crf=20)
    return {
        "a_ad": ad,
        **placed,
        "one_fps": _every_nth(ad, d / "one_fps.mp4", FPS),
        "trimmed": transform_video(ad, d / "trim.mp4", trim_start_s=1.0, scale=0.9),
        "other_card": write_video(
            d / "other_card.mp4", _frames(SCENES, size, price="$49"), fps=FPS, crf=24
        ),
        "second_cut": write_video(d / "cut2.mp4", _frames(recut, size), fps=FPS, crf=20),
        "other_ad": write_video(
            d / "other.mp4", _frames([(s + 10, t) for s, t in SCENES], size), fps=FPS, crf=20
        ),
        "w_wide": wide,
        "w_wide_9x16": transform_video(wide, d / "wide_9x16.mp4", aspect=(9, 16), crf=24),
    }


@pytest.fixture(scope="module")
def groups(uploads: dict[str, Path]) -> pd.DataFrame:
    files, frames = dedup_tables(uploads)
    table = find_duplicate_groups(files, frames)
    to_arrow(table, DUPLICATE_GROUPS)
    return table.set_index("video_id")


def test_every_placement_and_copy_joins_the_original(groups: pd.DataFrame) -> None:
    same_ad = [
        "a_ad",
        "native_1x1",
        "native_4x5",
        "lb_1x1",
        "lb_4x5",
        "one_fps",
        "trimmed",
        "other_card",
    ]
    assert set(groups.loc[same_ad, "group_id"]) == {"a_ad"}, groups["evidence"].to_dict()
    assert groups.loc["a_ad", "is_canonical"]  # the largest picture (ties: the longest)
    assert (groups.loc[same_ad[1:], "match_type"] == "near").all()


def test_other_cuts_and_other_ads_stay_apart(groups: pd.DataFrame) -> None:
    assert groups.loc["second_cut", "group_size"] == 1
    assert groups.loc["other_ad", "group_size"] == 1


def test_a_16x9_ad_and_its_9x16_crop_are_one_group(groups: pd.DataFrame) -> None:
    assert groups.loc["w_wide_9x16", "group_id"] == "w_wide"
    # the 9:16 crop keeps the full height: the canonical's picture is at scale 1 in it
    assert groups.loc["w_wide_9x16", "scale"] == pytest.approx(1.0, abs=0.06)


def test_the_evidence_says_how_they_match(groups: pd.DataFrame) -> None:
    # a 1:1 or 4:5 crop of a 640-high picture shows 360 or 450 of its rows at full height
    for video_id, shown in (("native_1x1", 360), ("lb_1x1", 360), ("native_4x5", 450)):
        row = groups.loc[video_id]
        assert row["scale"] == pytest.approx(640 / shown, rel=0.06), row["evidence"]
        # the crop sat 3 % of the height above centre: the canonical's centre is below ours
        assert row["shift_y"] > 0.02, row["evidence"]
        assert row["matched_frames"] >= 0.8 * row["compared_frames"]
        assert row["median_inliers"] >= 20
    trimmed = groups.loc["trimmed"]
    assert trimmed["offset_s"] == pytest.approx(1.0, abs=0.3)  # t_ad = t_trimmed + 1 s
    assert "frames match the canonical" in trimmed["evidence"]
    assert groups.loc["a_ad", ["scale", "evidence"]].isna().all()  # the canonical has none
