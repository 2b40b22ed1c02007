"""Outro groups: exact grouping of synthetic card videos, no chaining, scale path, face check."""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from influencer_pipeline.media.transforms import transform_video
from influencer_pipeline.outro.fingerprint import (
    OutroFingerprint,
    OutroInputError,
    bits_to_hex,
    fingerprint_outro,
    outro_fingerprint,
)
from influencer_pipeline.outro.grouping import (
    FACE_COLUMNS,
    GROUP_COLUMNS,
    GroupingConfig,
    faces_in_outro_groups,
    fingerprint_distance,
    group_outros,
)
from influencer_pipeline_tests.outro.test_outro_fingerprint import (
    SERIF,
    Card,
    image_frames,
    outro_video,
    video_frames,
)
from influencer_tools.evaluation.metrics import pairwise

NAVY = {"background": (20, 30, 60), "text": (240, 240, 240), "logo": "circle"}
CARDS = {
    "hustlezy": Card(),
    "giftora": Card(name="GIFTORA"),  # same layout, other name
    "hustlezy-red": Card(accent=(220, 60, 60)),  # same layout, other accent colour
    "hustlezy-blue": Card(accent=(50, 120, 240)),  # same luminance as the red one
    "hustlezy-cream": Card(background=(250, 238, 220)),  # other background colour
    "hustlezy-price": Card(price="$49"),  # price card variant
    "novamart": Card(name="NOVAMART", accent=(250, 200, 40), **NAVY),
    "novamart-green": Card(name="NOVAMART", accent=(80, 220, 120), **NAVY),
    "lumen": Card(
        name="LUMEN",
        logo="star",
        background=(250, 235, 220),
        background_bottom=(240, 180, 170),
        font=SERIF,
    ),
}
REUPLOADS = [
    {"crf": 30, "scale": 0.75, "crop": 0.03},
    {"trim_start_s": 0.7, "crf": 28},
    {"scale": 0.75, "trim_end_s": 0.3},
]


@pytest.fixture(scope="module")
def card_videos(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:
    """Fingerprints of 3 videos per card (two uploads + a re-upload) and the truth labels."""
    root = tmp_path_factory.mktemp("outro_cards")
    fingerprints: dict[str, OutroFingerprint] = {}
    truth: dict[str, str] = {}
    for k, (label, card) in enumerate(CARDS.items()):
        first = outro_video(root / f"{label}-1.mp4", card, seed=k)
        second = outro_video(
            root / f"{label}-2.mp4", card, seed=50 + k, fade_out_s=0.5, black_s=0.3, animate=True
        )
        again = transform_video(first, root / f"{label}-3.mp4", **REUPLOADS[k % len(REUPLOADS)])
        for n, path in enumerate((first, second, again), start=1):
            video_id = f"{label}-{n}"
            fingerprint = outro_fingerprint(video_frames(path, video_id))
            assert fingerprint is not None, video_id
            fingerprints[video_id] = fingerprint
            truth[video_id] = label
    return fingerprints, truth


def test_card_videos_are_grouped_exactly_as_the_truth(card_videos):
    fingerprints, truth = card_videos
    groups = group_outros(fingerprints)
    assert list(groups.columns) == list(GROUP_COLUMNS)
    assert sorted(groups.video_id) == sorted(fingerprints)
    predicted = dict(zip(groups.video_id, groups.group_key, strict=True))
    assert pairwise(predicted, truth) == (1.0, 1.0, 1.0)
    for key, members in groups.groupby("group_key"):
        assert key == min(members.video_id)
        assert (members.group_size == len(members)).all()
        assert members.representative_video_id.nunique() == 1
        assert members.representative_video_id.iloc[0] in set(members.video_id)
    assert (groups.distance_to_medoid <= 1.0).all()
    assert (groups.phash_bits_to_medoid <= 40).all()
    assert (groups.colour_delta_e_to_medoid <= 6.0).all()


def test_look_alike_groups_stay_apart(card_videos):
    fingerprints, _ = card_videos
    pairs = [
        ("hustlezy", "giftora"),
        ("hustlezy", "hustlezy-red"),
        ("hustlezy-red", "hustlezy-blue"),
        ("hustlezy", "hustlezy-cream"),
        ("hustlezy", "hustlezy-price"),
        ("novamart", "novamart-green"),
    ]
    for a, b in pairs:
        nearest = min(
            fingerprint_distance(fingerprints[f"{a}-{i}"], fingerprints[f"{b}-{j}"])
            for i in (1, 2, 3)
            for j in (1, 2, 3)
        )
        assert nearest > 1.3, (a, b, nearest)


def test_grouping_does_not_depend_on_input_order(card_videos):
    fingerprints, _ = card_videos
    items = list(fingerprints.items())
    random.Random(4).shuffle(items)
    pd.testing.assert_frame_equal(group_outros(dict(items)), group_outros(fingerprints))


# --- synthetic fingerprints ------------------------------------------------------------------


def fake(video_id: str, bits: np.ndarray, lab: np.ndarray) -> OutroFingerprint:
    """An OutroFingerprint with the given 256 bits and 64 x 3 Lab grid."""
    return OutroFingerprint(
        video_id=video_id,
        phash=bits_to_hex(bits),
        colour_lab=tuple(float(v) for v in np.asarray(lab).reshape(-1)),
        hash_size=16,
        colour_grid=8,
        frame_indices=(0,),
        timestamps_s=(0.0,),
        frame_phashes=(bits_to_hex(bits),),
        representative=b"",
    )


def single_link_components(fingerprints: dict[str, OutroFingerprint]) -> int:
    """Number of connected components when every pair within distance 1 is linked."""
    ids = sorted(fingerprints)
    parent = list(range(len(ids)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(len(ids)):
        for j in range(i + 1, len(ids)):
            if fingerprint_distance(fingerprints[ids[i]], fingerprints[ids[j]]) <= 1.0:
                parent[root(i)] = root(j)
    return len({root(i) for i in range(len(ids))})


def test_a_chain_of_gradually_changing_cards_is_not_one_group():
    rng = np.random.default_rng(1)
    base = rng.random(256) < 0.5
    order = rng.permutation(256)
    lab = np.tile([95.0, 0.0, 0.0], (64, 1))
    fingerprints = {}
    for step in range(8):  # each step flips 25 more bits: 0.625 of the limit, ends 175 bits apart
        bits = base.copy()
        bits[order[: 25 * step]] ^= True
        for copy in range(3):  # a few re-uploads of each card, 0-4 bits of noise
            noisy = bits.copy()
            noisy[rng.choice(256, copy * 2, replace=False)] ^= True
            fingerprints[f"c{step}-{copy}"] = fake(f"c{step}-{copy}", noisy, lab)
    assert single_link_components(fingerprints) == 1  # single link would chain them all
    groups = group_outros(fingerprints)
    assert groups.group_key.nunique() >= 3
    position = {v: int(v[1]) for v in fingerprints}
    key_of = dict(zip(groups.video_id, groups.group_key, strict=True))
    assert key_of["c0-0"] != key_of["c7-0"]
    for _, members in groups.groupby("group_key"):
        steps = [position[v] for v in members.video_id]
        assert max(steps) - min(steps) <= 3  # 4 steps = 100 bits: never within 2 x 40 bits
        for a in members.video_id:
            for b in members.video_id:
                assert fingerprint_distance(fingerprints[a], fingerprints[b]) <= 2.0
    assert (groups.distance_to_medoid <= 1.0).all()


def test_a_colour_chain_is_not_one_group():
    bits = np.random.default_rng(2).random(256) < 0.5
    fingerprints = {}
    for step in range(7):  # accent colour drifts 4 delta E a step (limit 6): ends 24 apart
        lab = np.tile([95.0, 0.0, 0.0], (64, 1))
        lab[:16] = [60.0, 40.0 + 4.0 * step, 50.0]
        fingerprints[f"k{step}"] = fake(f"k{step}", bits, lab)
    assert single_link_components(fingerprints) == 1
    groups = group_outros(fingerprints)
    key_of = dict(zip(groups.video_id, groups.group_key, strict=True))
    assert key_of["k0"] != key_of["k6"]
    assert (groups.colour_delta_e_to_medoid <= 6.0).all()


def test_thousands_of_fingerprints_group_exactly_through_the_band_index():
    rng = np.random.default_rng(3)
    fingerprints, truth = {}, {}
    templates = [(rng.random(256) < 0.5, rng.uniform(-50, 90, (64, 3))) for _ in range(40)]
    for n in range(3000):
        if n % 5 == 0:  # one in five is a one-off card
            bits, lab, label = rng.random(256) < 0.5, rng.uniform(-50, 90, (64, 3)), f"s{n}"
        else:
            t = int(rng.integers(len(templates)))
            bits, lab = templates[t][0].copy(), templates[t][1] + rng.normal(0, 0.8, (64, 3))
            bits[rng.choice(256, int(rng.integers(0, 21)), replace=False)] ^= True
            label = f"t{t}"
        fingerprints[f"v{n:05d}"] = fake(f"v{n:05d}", bits, lab)
        truth[f"v{n:05d}"] = label
    groups = group_outros(fingerprints)
    predicted = dict(zip(groups.video_id, groups.group_key, strict=True))
    assert pairwise(predicted, truth) == (1.0, 1.0, 1.0)


def test_bad_input_and_empty_input():
    assert list(group_outros({}).columns) == list(GROUP_COLUMNS)
    a = fake("a", np.zeros(256, bool), np.zeros((64, 3)))
    odd = OutroFingerprint("b", "0" * 16, (0.0,) * 48, 8, 4, (0,), (0.0,), ("",), b"")
    with pytest.raises(OutroInputError) as error:
        group_outros({"a": a, "b": odd})
    assert error.value.code == "mixed_configs"
    with pytest.raises(OutroInputError) as error:
        group_outros({"a": a, "b": "not a fingerprint"})
    assert error.value.code == "not_a_fingerprint"
    with pytest.raises(OutroInputError) as error:
        group_outros({"b": a})
    assert error.value.code == "id_mismatch"
    with pytest.raises(ValueError):
        GroupingConfig(max_colour_delta_e=0)


def test_faces_in_outro_groups_lists_mixed_groups():
    groups = pd.DataFrame(
        {
            "video_id": ["a", "b", "c", "d", "e"],
            "group_key": ["a", "a", "c", "c", "e"],
        }
    )
    report = faces_in_outro_groups(groups, {"a": False, "b": True, "c": False, "e": False})
    assert list(report.columns) == list(FACE_COLUMNS)
    assert report.to_dict("records") == [
        {
            "group_key": "a",
            "group_size": 2,
            "n_face_videos": 1,
            "n_faceless_videos": 1,
            "n_unknown": 0,
            "face_video_ids": ["b"],
        }
    ]
    assert faces_in_outro_groups(groups, {"d": True}).n_unknown.tolist() == [1]
    with pytest.raises(OutroInputError):
        faces_in_outro_groups(groups.drop(columns=["group_key"]), {})


# --- real frames ------------------------------------------------------------------------------


def _reencoded(data: bytes, scale: float, quality: int) -> bytes:
    image = Image.open(io.BytesIO(data)).convert("RGB")
    image = image.resize((round(image.width * scale), round(image.height * scale)))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def test_real_brand_cards_and_their_reencodes_form_two_groups(shared_dir: Path):
    fingerprints, truth = {}, {}
    for ad in ("ad_01", "ad_07"):
        images = [f.read_bytes() for f in sorted((shared_dir / "real_frames" / ad).glob("*.jpg"))]
        versions = {"": images, "-small": [_reencoded(d, 0.75, 60) for d in images]}
        for suffix, version in versions.items():
            outcome = fingerprint_outro(image_frames(ad + suffix, version, n_outro=4))
            assert outcome.fingerprint is not None
            fingerprints[ad + suffix] = outcome.fingerprint
            truth[ad + suffix] = ad
    groups = group_outros(fingerprints)
    predicted = dict(zip(groups.video_id, groups.group_key, strict=True))
    assert pairwise(predicted, truth) == (1.0, 1.0, 1.0)
