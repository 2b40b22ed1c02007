"""One card in two placements is one card; a price twin in another placement is not.

Cards come from the demo's look-alike families (``demo/outros.py``, both brand pools, seeds the
card thresholds were not chosen on): a 9:16 card, and the same card as a 1:1 or 4:5 placement
shows it (``demo/reuploads.py``: a centre crop, moved up or down a little, scaled to another
size, re-encoded). The phenomenon of the speed set: an ad, its 1:1 re-upload (its card cropped)
and a re-upload with its price changed to the look-alike base card's price.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from influencer_pipeline.outro.duplicates import group_with_copies
from influencer_pipeline.outro.fingerprint import OutroFingerprint, outro_fingerprint
from influencer_pipeline.outro.placed_cards import compare_placed_cards
from influencer_pipeline_tests.outro.test_outro_fingerprint import image_frames
from influencer_pipeline_tests.outro.test_outro_lookalikes import _jpeg
from influencer_tools.demo.outros import creator_designs, render_card

SIZE = (360, 640)
FAMILIES = [(5, "default"), (17, "validation"), (23, "validation")]


def _placed(card: np.ndarray, aspect: tuple[int, int], shift: float, side: int) -> np.ndarray:
    """The card as a centre-cropped placement: width:height ``aspect``, its centre moved by
    ``shift`` of the height, scaled to ``side`` pixels high."""
    h, w = card.shape[:2]
    crop_h = min(h, round(w * aspect[1] / aspect[0]))
    top = int(np.clip(round((h - crop_h) / 2 + shift * h), 0, h - crop_h))
    cut = Image.fromarray(card[top : top + crop_h])
    size = (round(side * aspect[0] / aspect[1]), side)
    return np.asarray(cut.resize(size, Image.Resampling.BILINEAR))


def _fingerprint(video_id: str, card: np.ndarray) -> OutroFingerprint:
    body = [_jpeg(np.full_like(card, 90)), _jpeg(np.full_like(card, 140))]
    fingerprint = outro_fingerprint(image_frames(video_id, body + [_jpeg(card, 60)] * 4, 4))
    assert fingerprint is not None, video_id
    return fingerprint


def _family(seed: int, pool: str) -> dict[str, np.ndarray]:
    designs = creator_designs(np.random.default_rng(seed), 4, pool=pool)
    return {d.variant or "base": np.asarray(render_card(d, SIZE)) for d in designs}


@pytest.mark.parametrize(("seed", "pool"), FAMILIES)
@pytest.mark.parametrize(
    ("aspect", "shift", "side"), [((1, 1), 0.0, 444), ((1, 1), -0.06, 360), ((4, 5), 0.04, 520)]
)
def test_a_card_and_its_placement_are_one_card_and_a_twin_is_not(
    seed: int, pool: str, aspect: tuple[int, int], shift: float, side: int
) -> None:
    cards = _family(seed, pool)
    whole = _fingerprint("whole", cards["price"])
    placed = _fingerprint("placed", _placed(cards["price"], aspect, shift, side))
    assert compare_placed_cards(whole, placed).same
    assert compare_placed_cards(placed, whole).same
    for twin in ("base", "name", "colour"):
        other = _fingerprint(twin, cards[twin])
        assert not compare_placed_cards(other, placed).same, twin
        assert not compare_placed_cards(placed, other).same, twin


@pytest.mark.parametrize(("seed", "pool"), FAMILIES)
def test_copies_in_other_placements_outvote_a_canonical_with_a_twins_card(
    seed: int, pool: str
) -> None:
    cards = _family(seed, pool)
    prints = {f"base-{i}": _fingerprint(f"base-{i}", cards["base"]) for i in range(3)}
    prints |= {f"price-{i}": _fingerprint(f"price-{i}", cards["price"]) for i in range(3)}
    # the ad "a": its 9:16 upload and its 1:1 re-upload end with the price twin's card; a third
    # upload ends with the base card (its price changed to the base card's): the canonical
    prints["a-916"] = _fingerprint("a-916", cards["price"])
    prints["a-1x1"] = _fingerprint("a-1x1", _placed(cards["price"], (1, 1), 0.02, 444))
    prints["a-0-other"] = _fingerprint("a-0-other", cards["base"])
    canonical_of = {v: v for v in prints}
    canonical_of |= {"a-916": "a-0-other", "a-1x1": "a-0-other"}

    table = group_with_copies(prints, canonical_of).set_index("video_id")

    assert table.at["a-0-other", "group_key"] == table.at["price-0", "group_key"]
    assert table.at["base-0", "group_key"] != table.at["price-0", "group_key"]
    assert "a-916" not in table.index and "a-1x1" not in table.index  # copies: no rows


def test_without_the_placed_copy_the_tie_still_goes_to_the_larger_group() -> None:
    cards = _family(5, "default")
    prints = {f"base-{i}": _fingerprint(f"base-{i}", cards["base"]) for i in range(3)}
    prints |= {f"price-{i}": _fingerprint(f"price-{i}", cards["price"]) for i in range(2)}
    prints["a-916"] = _fingerprint("a-916", cards["price"])
    prints["a-0-other"] = _fingerprint("a-0-other", cards["base"])
    canonical_of = {v: v for v in prints} | {"a-916": "a-0-other"}

    table = group_with_copies(prints, canonical_of).set_index("video_id")

    # one vote each: the base card's group has more cards (4 against 3)
    assert table.at["a-0-other", "group_key"] == table.at["base-0", "group_key"]
