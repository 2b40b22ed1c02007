"""Look-alike outro cards stay apart; one card in any state or placement stays one group.

The demo's look-alike families (``demo/outros.py``): a card with a price and slogan, and its
twins with another brand name, another colour or another price. Each card is seen as a person
would meet it at the end of several videos: settled after a fade-in, re-encoded hard, resized,
and letterboxed into a square canvas between black bars. The side-by-side check
(``outro/verify.py``) is what keeps the name and price twins apart.
"""

from __future__ import annotations

import dataclasses
import io
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import influencer_pipeline.outro.grouping as grouping_module
from influencer_pipeline.outro.fingerprint import (
    OutroFingerprint,
    OutroInputError,
    outro_fingerprint,
)
from influencer_pipeline.outro.grouping import CardChecks, GroupingConfig, group_outros
from influencer_pipeline.outro.verify import VerifyConfig, card_patch, compare_cards
from influencer_pipeline_tests.outro.test_outro_fingerprint import image_frames
from influencer_tools.demo.outros import creator_designs, render_card

SIZE = (360, 640)


def _jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _letterboxed(rgb: np.ndarray) -> np.ndarray:
    h = rgb.shape[0]
    canvas = np.zeros((h, h, 3), np.uint8)
    x = (h - rgb.shape[1]) // 2
    canvas[:, x : x + rgb.shape[1]] = rgb
    return canvas


def _states(card: np.ndarray) -> dict[str, list[bytes]]:
    """The card as the outro frames of four videos (two body frames first)."""
    body = [_jpeg(np.full_like(card, 90)), _jpeg(np.full_like(card, 140))]
    small = np.asarray(Image.fromarray(card).resize((270, 480), Image.Resampling.BILINEAR))
    faded = [_jpeg((card * k).astype(np.uint8)) for k in (0.3, 0.6)]
    return {
        "fade_in": body + faded + [_jpeg(card)] * 4,
        "reencoded": body + [_jpeg(card, quality=35)] * 5,
        "resized": body + [_jpeg(small)] * 5,
        "letterboxed": body + [_jpeg(_letterboxed(card))] * 5,
    }


@pytest.fixture(scope="module")
def family_cards() -> dict[str, OutroFingerprint]:
    """Fingerprints of two look-alike families (default brand pool) in four states each."""
    prints = {}
    for seed in (3, 11):
        designs = creator_designs(np.random.default_rng(seed), 4)
        for design in designs:
            card = np.asarray(render_card(design, SIZE))
            for state, images in _states(card).items():
                video_id = f"{seed}:{design.key}:{state}"
                fingerprint = outro_fingerprint(image_frames(video_id, images, n_outro=5))
                assert fingerprint is not None, video_id
                prints[video_id] = fingerprint
    return prints


def _card(video_id: str) -> str:
    return video_id.rsplit(":", 1)[0]


def test_each_card_is_one_group_and_no_twins_merge(family_cards) -> None:
    groups = group_outros(family_cards)
    by_video = dict(zip(groups["video_id"], groups["group_key"], strict=True))
    for card in {_card(v) for v in family_cards}:
        keys = {by_video[v] for v in family_cards if _card(v) == card}
        assert len(keys) == 1, (card, keys)
    for _, members in groups.groupby("group_key"):
        assert len({_card(v) for v in members["video_id"]}) == 1, list(members["video_id"])


def test_twins_that_hashes_alone_would_merge_are_read_apart(family_cards) -> None:
    """Without the side-by-side check some twins fall within the hash limits; with it, none."""
    settled = {v: f for v, f in family_cards.items() if v.endswith(":fade_in")}
    unchecked = group_outros(settled, GroupingConfig(verify=None))
    assert unchecked["group_key"].nunique() < len(settled)  # the hashes alone merge twins
    patches = {v: card_patch(f) for v, f in settled.items()}
    for a, b in combinations(sorted(settled), 2):
        assert not compare_cards(patches[a], patches[b]).same, (a, b)


def _halves(cards: dict[str, OutroFingerprint]) -> tuple[dict, dict]:
    """An overlapping pair of card sets: every other card, then all of them."""
    ids = sorted(cards)
    return {v: cards[v] for v in ids[::2]}, dict(cards)


def test_shared_card_checks_leave_the_groups_as_they_are(family_cards) -> None:
    some, every = _halves(family_cards)
    checks = CardChecks(GroupingConfig().verify)
    pd.testing.assert_frame_equal(group_outros(some, checks=checks), group_outros(some))
    pd.testing.assert_frame_equal(group_outros(every, checks=checks), group_outros(every))


def test_shared_card_checks_check_each_pair_and_read_each_card_once(
    family_cards, monkeypatch
) -> None:
    pairs: list[tuple[int, int]] = []  # by the fingerprints' identity
    read: list[int] = []
    card_of: dict[int, int] = {}  # id(patch) -> id(fingerprint)

    def counted_compare(a, b, config=None):
        pairs.append((card_of[id(a)], card_of[id(b)]))
        return compare_cards(a, b, config)

    def counted_patch(fingerprint, config=None):
        read.append(id(fingerprint))
        patch = card_patch(fingerprint, config)
        card_of[id(patch)] = id(fingerprint)
        return patch

    monkeypatch.setattr(grouping_module, "compare_cards", counted_compare)
    monkeypatch.setattr(grouping_module, "card_patch", counted_patch)
    some, every = _halves(family_cards)
    checks = CardChecks(GroupingConfig().verify)
    group_outros(some, checks=checks)
    first = len(pairs)
    group_outros(every, checks=checks)
    assert first > 0 and len(pairs) > first  # both groupings needed checks
    assert len(pairs) == len(set(pairs)) and len(read) == len(set(read))


def test_card_checks_refuse_another_card_or_other_settings(family_cards) -> None:
    first, second = sorted(family_cards)[:2]
    checks = CardChecks(GroupingConfig().verify)
    checks.hold("v", family_cards[first])
    checks.hold("v", family_cards[first])  # the same card again is fine
    with pytest.raises(OutroInputError) as caught:
        checks.hold("v", family_cards[second])
    assert caught.value.code == "other_card"
    with pytest.raises(ValueError, match="other verify settings"):
        group_outros(family_cards, checks=CardChecks(VerifyConfig(max_shift=2)))


def test_an_unreadable_card_is_read_once_and_matches_any(family_cards, monkeypatch) -> None:
    read: list[str] = []

    def counted_patch(fingerprint, config=None):
        read.append(fingerprint.video_id)
        return card_patch(fingerprint, config)

    monkeypatch.setattr(grouping_module, "card_patch", counted_patch)
    first, second = sorted(family_cards)[:2]
    broken = dataclasses.replace(family_cards[first], video_id="broken", representative=b"no")
    checks = CardChecks(GroupingConfig().verify)
    for video_id, card in ((first, family_cards[first]), (second, family_cards[second])):
        checks.hold(video_id, card)
    checks.hold("broken", broken)
    assert checks.same(first, "broken") and checks.same(second, "broken")
    assert read.count("broken") == 1
