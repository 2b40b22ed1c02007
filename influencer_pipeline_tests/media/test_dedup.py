"""Exact and near-duplicate groups: real re-upload variants, look-alike videos, canonical choice.

Placements (1:1, 4:5, letterboxed, 16:9) and real ads: ``test_reupload_placements.py`` and
``test_real_ads_reuploads.py``.
"""

from __future__ import annotations

import hashlib
import shutil
from itertools import product
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageDraw

from influencer_pipeline.lake_schema import DUPLICATE_GROUPS, to_arrow
from influencer_pipeline.media import reupload_match
from influencer_pipeline.media.dedup import (
    DedupInputError,
    candidate_pairs,
    find_duplicate_groups,
)
from influencer_pipeline.media.dedup_index import IndexConfig
from influencer_pipeline.media.encode import write_video
from influencer_pipeline.media.frames import SamplingConfig, frames_table, sample_frames
from influencer_pipeline.media.phash import hashes_to_uint64, int_to_hex
from influencer_pipeline.media.placement import N_HASHES, POSITIONS, SCALES
from influencer_pipeline.media.reupload_match import ReuploadConfig, VideoPrint, compare_videos
from influencer_pipeline.media.transforms import transform_video

WIDTH, HEIGHT, FPS = 128, 224, 10


# --- synthetic "ads": shared background, per-video scenes, shared brand outro card ----------


def _background() -> np.ndarray:
    small = np.random.default_rng(100).integers(40, 200, (10, 6, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((WIDTH, HEIGHT), Image.Resampling.BILINEAR))


def _outro_card() -> np.ndarray:
    card = Image.new("RGB", (WIDTH, HEIGHT), (255, 255, 255))
    draw = ImageDraw.Draw(card)
    draw.rectangle([44, 70, 84, 110], outline=(235, 125, 45), width=5)
    draw.text((30, 130), "BRAND", fill=(235, 125, 45), font_size=18)
    return np.asarray(card)


def _ad_frames(seed: int, seconds: int = 14, outro_s: int = 3) -> list[np.ndarray]:
    """A scene every 2 s (a blocky picture panning over the shared background), then the card."""
    rng = np.random.default_rng(seed)
    background, card = _background(), _outro_card()
    frames = []
    body_frames = (seconds - outro_s) * FPS
    for scene in range(0, body_frames, 2 * FPS):
        blocks = rng.integers(0, 256, (10, 7, 3), dtype=np.uint8)
        picture = np.kron(blocks, np.ones((20, 20, 1), dtype=np.uint8))  # 200 x 140
        for k in range(min(2 * FPS, body_frames - scene)):
            frame = background.copy()
            frame[20:180, 16:112] = picture[k : k + 160, k : k + 96]
            frames.append(frame)
    frames += [card] * (outro_s * FPS)
    return frames


def _make_ad(directory: Path, name: str, seed: int) -> Path:
    return write_video(directory / f"{name}.mp4", _ad_frames(seed), fps=FPS, crf=18)


def _files_row(path: Path, video_id: str) -> dict:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        duration = float(stream.duration * stream.time_base)
        width, height = stream.width, stream.height
    return {
        "video_id": video_id,
        "status": "ok",
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "width": width,
        "height": height,
        "duration_s": duration,
    }


def _tables(paths: dict[str, Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    config = SamplingConfig()
    files = pd.DataFrame([_files_row(p, vid) for vid, p in paths.items()])
    frames = pd.concat(
        [frames_table(vid, sample_frames(p, config), config) for vid, p in paths.items()],
        ignore_index=True,
    )
    return files, frames


def _group_of(groups: pd.DataFrame) -> dict[str, str]:
    return dict(zip(groups["video_id"], groups["group_id"], strict=True))


@pytest.fixture(scope="module")
def ads(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An original ad, five re-uploads of it and another ad of the same brand."""
    d = tmp_path_factory.mktemp("ads")
    original = _make_ad(d, "original", seed=1)
    return {
        "v0_original": original,
        "v1_reencoded": transform_video(original, d / "crf.mp4", crf=35),
        "v2_resized": transform_video(original, d / "scale.mp4", scale=0.75),
        "v3_cropped": transform_video(original, d / "crop.mp4", crop=0.03),
        "v4_trimmed": transform_video(original, d / "trim.mp4", trim_start_s=1.0),
        "v5_mixed": transform_video(
            original, d / "mix.mp4", scale=0.75, trim_start_s=1.5, trim_end_s=1.0, crf=30
        ),
        "w0_other_ad": _make_ad(d, "other", seed=2),
    }


# --- behaviour on videos ------------------------------------------------------------------


def test_reupload_variants_group_with_their_original(ads: dict[str, Path]) -> None:
    files, frames = _tables(ads)
    groups = find_duplicate_groups(files, frames)
    to_arrow(groups, DUPLICATE_GROUPS)
    assert sorted(groups["video_id"]) == sorted(ads)
    group = _group_of(groups)
    variants = [v for v in ads if v.startswith("v")]
    assert {group[v] for v in variants} == {"v0_original"}
    near = groups[groups["video_id"].isin(variants[1:])]
    assert set(near["match_type"]) == {"near"}
    assert near["similarity"].between(0.5, 1.0).all()
    assert (near["group_size"] == len(variants)).all()
    canonical = groups[groups["video_id"] == "v0_original"].iloc[0]
    assert canonical["is_canonical"] and canonical["match_type"] is None
    # the other ad of the same brand (same background, same outro card) stays on its own
    other = groups[groups["video_id"] == "w0_other_ad"].iloc[0]
    assert other["group_id"] == "w0_other_ad" and other["group_size"] == 1


def test_pairs_verified_in_threads_give_the_groups_of_one_thread(ads: dict[str, Path]) -> None:
    files, frames = _tables(ads)
    alone = find_duplicate_groups(files, frames, threads=1)
    threaded = find_duplicate_groups(files, frames, threads=4)
    pd.testing.assert_frame_equal(threaded, alone)
    group = _group_of(threaded)
    assert {group[v] for v in ads if v.startswith("v")} == {"v0_original"}
    assert group["w0_other_ad"] == "w0_other_ad"


def test_same_background_and_outro_card_do_not_merge(ads: dict[str, Path]) -> None:
    files, frames = _tables({k: ads[k] for k in ("v0_original", "w0_other_ad")})
    outro = frames[frames["role"] == "outro"].groupby("video_id")["phash"].apply(set)
    assert outro["v0_original"] == outro["w0_other_ad"]  # identical outro card hashes
    groups = find_duplicate_groups(files, frames)
    assert groups["group_size"].tolist() == [1, 1]
    assert groups["is_canonical"].all() and groups["match_type"].isna().all()


def test_exact_copies_are_grouped_by_sha256(ads: dict[str, Path], tmp_path: Path) -> None:
    copy = tmp_path / "copy.mp4"
    shutil.copyfile(ads["w0_other_ad"], copy)
    files, frames = _tables({"b_copy": copy, "a_first": ads["w0_other_ad"]})
    groups = find_duplicate_groups(files, frames).set_index("video_id")
    assert groups.loc["a_first", "is_canonical"]  # same size and length: smallest id wins
    assert groups.loc["b_copy", "canonical_video_id"] == "a_first"
    assert groups.loc["b_copy", "match_type"] == "exact"
    assert groups.loc["b_copy", "similarity"] == 1.0
    assert groups.loc["b_copy", "sha256"] == groups.loc["a_first", "sha256"]


def test_real_footage_reuploads_group_and_other_clips_do_not(
    shared_dir: Path, tmp_path: Path
) -> None:
    clip = shared_dir / "videos" / "liveportrait_d3.mp4"
    paths = {
        "d3": clip,
        "d3_resized": transform_video(clip, tmp_path / "d3_scale.mp4", scale=0.75),
        "d12": shared_dir / "videos" / "liveportrait_d12.mp4",
        "crowd": shared_dir / "videos" / "opencv4nodejs_people_crowd.mp4",
    }
    files, frames = _tables(paths)
    group = _group_of(find_duplicate_groups(files, frames))
    assert group == {"d3": "d3", "d3_resized": "d3", "d12": "d12", "crowd": "crowd"}


# --- grouping rules on hand-made fingerprints ---------------------------------------------


def _random_hashes(rng: np.random.Generator, n: int) -> list[int]:
    return [int.from_bytes(rng.bytes(8), "big") for _ in range(n)]


def _flip(value: int, rng: np.random.Generator, bits: int = 2) -> int:
    for b in rng.choice(64, bits, replace=False):
        value ^= 1 << int(b)
    return value


def _frames_rows(video_id: str, phashes: list[int], dhashes: list[int]) -> list[dict]:
    return [
        {
            "video_id": video_id,
            "role": "body",
            "timestamp_s": float(t),
            "phash": int_to_hex(p),
            "dhash": int_to_hex(d),
            "is_blank": False,
        }
        for t, (p, d) in enumerate(zip(phashes, dhashes, strict=True))
    ]


def _file(video_id: str, width: int = 720, height: int = 1280, duration: float = 10.0) -> dict:
    sha = hashlib.sha256(video_id.encode()).hexdigest()
    return {
        "video_id": video_id,
        "status": "ok",
        "sha256": sha,
        "width": width,
        "height": height,
        "duration_s": duration,
    }


def _chain(rng: np.random.Generator) -> dict[str, tuple[list[int], list[int]]]:
    """A~B (two frames replaced) and B~C (two more replaced), A and C differ in four frames."""
    ap, ad = _random_hashes(rng, 10), _random_hashes(rng, 10)
    bp, bd = list(ap), list(ad)
    for k in (1, 5):
        bp[k], bd[k] = _random_hashes(rng, 1)[0], _random_hashes(rng, 1)[0]
    cp, cd = list(bp), list(bd)
    for k in (3, 8):
        cp[k], cd[k] = _random_hashes(rng, 1)[0], _random_hashes(rng, 1)[0]
    return {"A": (ap, ad), "B": (bp, bd), "C": (cp, cd)}


@pytest.mark.parametrize(
    ("sizes", "expected"),
    [
        # A is canonical: B verifies against A, C does not (6 of 10 frames) and leaves
        ({"A": 1280, "B": 720, "C": 720}, {"A": "A", "B": "A", "C": "C"}),
        # B is canonical: A and C both verify against B, so the three stay together
        ({"A": 720, "B": 1280, "C": 720}, {"A": "B", "B": "B", "C": "B"}),
    ],
)
def test_no_chaining_through_an_intermediate(sizes: dict, expected: dict) -> None:
    rng = np.random.default_rng(7)
    hashes = _chain(rng)
    frames = pd.DataFrame([r for vid, (p, d) in hashes.items() for r in _frames_rows(vid, p, d)])
    files = pd.DataFrame([_file(v, height=h) for v, h in sizes.items()])
    groups = find_duplicate_groups(files, frames)
    assert _group_of(groups) == expected
    similarity = dict(zip(groups["video_id"], groups["similarity"], strict=True))
    for vid, canon in expected.items():
        if vid != canon:
            assert similarity[vid] == pytest.approx(0.8)


def test_canonical_is_largest_then_longest_then_smallest_id() -> None:
    rng = np.random.default_rng(3)
    base_p, base_d = _random_hashes(rng, 12), _random_hashes(rng, 12)
    specs = {
        "a_small": (360, 640, 20.0),
        "b_big_short": (720, 1280, 9.0),
        "c_big_long": (720, 1280, 12.0),
        "d_big_long": (720, 1280, 12.0),
    }
    rows, files = [], []
    for vid, (w, h, dur) in specs.items():
        p = [_flip(x, rng) for x in base_p]
        d = [_flip(x, rng) for x in base_d]
        rows += _frames_rows(vid, p, d)
        files.append(_file(vid, w, h, dur))
    copy = dict(files[0], video_id="e_copy_of_small")  # same sha256 as a_small
    files.append(copy)
    groups = find_duplicate_groups(pd.DataFrame(files), pd.DataFrame(rows)).set_index("video_id")
    assert set(groups["canonical_video_id"]) == {"c_big_long"}
    assert groups["group_size"].eq(5).all()
    assert groups.loc["c_big_long", "is_canonical"]
    assert groups.loc["d_big_long", "match_type"] == "near"
    # the exact copy of a near member is a near duplicate of the canonical, like its twin
    assert groups.loc["e_copy_of_small", "match_type"] == "near"
    assert groups.loc["e_copy_of_small", "similarity"] == groups.loc["a_small", "similarity"]


def test_singletons_failed_videos_and_videos_without_usable_frames() -> None:
    rng = np.random.default_rng(5)
    rows = _frames_rows("has_frames", _random_hashes(rng, 8), _random_hashes(rng, 8))
    blank = _frames_rows("all_blank", _random_hashes(rng, 8), _random_hashes(rng, 8))
    for row in blank:
        row["is_blank"] = True
    outro_only = _frames_rows("outro_only", _random_hashes(rng, 6), _random_hashes(rng, 6))
    for row in outro_only:
        row["role"] = "outro"
    failed = dict(_file("failed"), status="failed", sha256=None)
    files = pd.DataFrame(
        [_file("has_frames"), _file("all_blank"), _file("outro_only"), _file("no_frames"), failed]
    )
    groups = find_duplicate_groups(files, pd.DataFrame(rows + blank + outro_only))
    to_arrow(groups, DUPLICATE_GROUPS)
    assert sorted(groups["video_id"]) == ["all_blank", "has_frames", "no_frames", "outro_only"]
    assert (groups["group_size"] == 1).all() and groups["is_canonical"].all()
    assert (groups["group_id"] == groups["video_id"]).all()
    assert groups["match_type"].isna().all() and groups["similarity"].isna().all()


def test_no_ok_videos_gives_an_empty_table() -> None:
    files = pd.DataFrame([dict(_file("x"), status="failed")])
    frames = pd.DataFrame(columns=["video_id", "role", "timestamp_s", "phash", "dhash", "is_blank"])
    groups = find_duplicate_groups(files, frames)
    assert groups.empty and list(groups.columns) == DUPLICATE_GROUPS.names


def test_bad_inputs_raise_coded_errors() -> None:
    rows = pd.DataFrame(_frames_rows("x", [1, 2, 3], [1, 2, 3]))
    with pytest.raises(DedupInputError) as info:
        find_duplicate_groups(pd.DataFrame([{"video_id": "x"}]), rows)
    assert info.value.code == "missing_columns"
    with pytest.raises(DedupInputError) as info:
        find_duplicate_groups(pd.DataFrame([_file("x"), _file("x")]), rows)
    assert info.value.code == "duplicate_video_id"
    broken = rows.assign(phash="not-a-hash")
    with pytest.raises(DedupInputError) as info:
        find_duplicate_groups(pd.DataFrame([_file("x")]), broken)
    assert info.value.code == "bad_hash"


# --- the pair check and the index ------------------------------------------------------------


def _print(phashes: list[int], dhashes: list[int], start: float = 0.0) -> VideoPrint:
    times = start + np.arange(len(phashes), dtype=np.float64)
    return VideoPrint(
        times,
        hashes_to_uint64([int_to_hex(p) for p in phashes]),
        hashes_to_uint64([int_to_hex(d) for d in dhashes]),
        np.zeros((len(phashes), N_HASHES), np.uint64),
    )


def test_cheap_distances_compare_each_square_with_the_centred_squares_of_the_other() -> None:
    """Placement distance: the fewest bits between two non-zero square hashes of which at least
    one is a centred square (placement.POSITIONS (0, 0)); whole-frame: the worse of pHash and
    dHash. The expected values are counted square pair by square pair."""
    rng = np.random.default_rng(5)
    centred = [i for i, (_, p) in enumerate(product(SCALES, POSITIONS)) if p == (0, 0)]

    def prints(n: int) -> VideoPrint:
        base = _print(_random_hashes(rng, n), _random_hashes(rng, n))
        near = rng.integers(0, 2**63, size=(n, N_HASHES), dtype=np.uint64)
        near[rng.random((n, N_HASHES)) < 0.2] = 0  # unusable squares
        base.centre[:] = near
        return base

    a, b = prints(5), prints(4)
    a.centre[2, centred[3]], a.centre[0, 9], a.centre[4, 12] = (
        np.uint64(0x0123_4567_89AB_CDEF),
        np.uint64(0xFEDC_BA98_7654_3210),
        np.uint64(0x0F0F_0F0F_F0F0_F0F0),
    )
    b.centre[1, 7] = a.centre[2, centred[3]] ^ np.uint64(0b111)  # a centred square of A, 3 bits
    b.centre[3, centred[0]] = a.centre[0, 9] ^ np.uint64(0b1)  # a centred square of B, 1 bit
    b.centre[0, 11] = a.centre[4, 12]  # neither is centred: does not count
    whole, centre = reupload_match.cheap_distances(a, b)
    for i in range(len(a)):
        for j in range(len(b)):
            bits = [
                bin(int(a.centre[i, k]) ^ int(b.centre[j, m])).count("1")
                for k in range(N_HASHES)
                for m in range(N_HASHES)
                if (k in centred or m in centred) and a.centre[i, k] and b.centre[j, m]
            ]
            assert centre[i, j] == min(bits, default=64)
            p = bin(int(a.phash[i]) ^ int(b.phash[j])).count("1")
            d = bin(int(a.dhash[i]) ^ int(b.dhash[j])).count("1")
            assert whole[i, j] == max(p, d)
    assert centre[2, 1] <= 3 and centre[0, 3] == 1
    assert centre.dtype == whole.dtype == np.int64


def test_alignment_finds_the_trim_offset_and_rejects_reordered_frames() -> None:
    rng = np.random.default_rng(11)
    p, d = _random_hashes(rng, 12), _random_hashes(rng, 12)
    original = _print(p, d)
    trimmed = _print([_flip(x, rng, 4) for x in p[2:]], [_flip(x, rng, 4) for x in d[2:]])
    match = compare_videos(original, trimmed, ReuploadConfig())
    assert match.is_duplicate and match.similarity == 1.0
    assert match.swapped  # the trimmed copy is the shorter one: offsets are on its clock
    assert match.offset_s == pytest.approx(2.0) and match.rate == 1.0
    # the same frames in another order share no consistent time offset
    shuffled = rng.permutation(12)
    reordered = _print([p[i] for i in shuffled], [d[i] for i in shuffled])
    assert not compare_videos(original, reordered, ReuploadConfig()).is_duplicate


def test_another_opening_is_another_cut_not_a_reupload() -> None:
    rng = np.random.default_rng(14)
    p, d = _random_hashes(rng, 16), _random_hashes(rng, 16)
    hook_p, hook_d = _random_hashes(rng, 4), _random_hashes(rng, 4)
    recut = _print(hook_p + p[4:], hook_d + d[4:])  # 12 of 16 frames the same, in place
    match = compare_videos(_print(p, d), recut, ReuploadConfig())
    assert not match.is_duplicate
    assert match.matched_frames == 12 and match.longest_gap_s == pytest.approx(4.0)
    assert "another cut" in match.reason


def test_a_pair_that_cannot_reach_the_coverage_stops_being_judged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(15)
    p, d = _random_hashes(rng, 12), _random_hashes(rng, 12)
    other_p, other_d = _random_hashes(rng, 9), _random_hashes(rng, 9)
    a, b = _print(p, d), _print(p[:3] + other_p, d[:3] + other_d)  # 3 of 12 frames the same
    judged: list[tuple[int, int]] = []
    judge = reupload_match._Judge._judge

    def counted(self: reupload_match._Judge, i: int, j: int) -> object:
        judged.append((i, j))
        return judge(self, i, j)

    monkeypatch.setattr(reupload_match._Judge, "_judge", counted)
    early = compare_videos(a, b, ReuploadConfig())
    early_judged = len(judged)
    judged.clear()
    # a coverage of 0 can always be reached: every frame is judged, as before the early stop
    full = compare_videos(a, b, ReuploadConfig(min_coverage=0.0))
    assert not early.is_duplicate and not full.is_duplicate
    assert "can match" in early.reason and early.matched_frames == 3
    assert "another cut" in full.reason and full.matched_frames == 3
    assert early_judged < len(judged)


def test_a_pair_at_exactly_the_coverage_is_judged_to_the_end() -> None:
    rng = np.random.default_rng(16)
    p, d = _random_hashes(rng, 10), _random_hashes(rng, 10)
    other_p, other_d = _random_hashes(rng, 10), _random_hashes(rng, 10)
    swapped = {2, 5, 8}  # 7 of 10 frames the same, never two different in a row
    b_p = [other_p[k] if k in swapped else x for k, x in enumerate(p)]
    b_d = [other_d[k] if k in swapped else x for k, x in enumerate(d)]
    config = ReuploadConfig()
    assert config.min_coverage == 0.7  # 7 / 10 reaches it exactly (0.7 * 10 does not in floats)
    match = compare_videos(_print(p, d), _print(b_p, b_d), config)
    assert match.matched_frames == 7 and match.compared_frames == 10
    assert match.is_duplicate, match.reason


def test_static_lookalike_videos_are_not_pinned_to_one_offset() -> None:
    rng = np.random.default_rng(12)
    p, d = _random_hashes(rng, 1)[0], _random_hashes(rng, 1)[0]
    # two "static" videos: every frame is within a few bits of every other frame
    a = _print([_flip(p, rng, 3) for _ in range(10)], [_flip(d, rng, 3) for _ in range(10)])
    b = _print([_flip(p, rng, 3) for _ in range(10)], [_flip(d, rng, 3) for _ in range(10)])
    match = compare_videos(a, b, ReuploadConfig())
    assert match.matched_frames == 10  # every frame matches at the chosen offset ...
    assert not match.is_duplicate and "pin the offset" in match.reason  # ... and everywhere


def test_candidate_index_finds_planted_pairs_without_all_pairs() -> None:
    rng = np.random.default_rng(13)
    n_units, per = 2000, 30
    phash = np.array(_random_hashes(rng, n_units * per), dtype=np.uint64)
    dhash = np.array(_random_hashes(rng, n_units * per), dtype=np.uint64)
    planted = {(k, k + 1000) for k in range(50)}
    for k, copy in planted:
        for arr in (phash, dhash):
            src = arr[k * per : (k + 1) * per]
            arr[copy * per : (copy + 1) * per] = [_flip(int(x), rng, 8) for x in src]
    units = np.repeat(np.arange(n_units), per)
    pairs = candidate_pairs(units, [phash, dhash], IndexConfig())
    found = set(map(tuple, pairs.tolist()))
    assert planted <= found
    assert len(pairs) < 0.05 * n_units * (n_units - 1) / 2
    assert (pairs[:, 0] < pairs[:, 1]).all()
