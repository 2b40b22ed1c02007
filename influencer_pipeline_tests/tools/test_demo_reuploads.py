"""The demo plans the real phenomena: placements, another outro card, a second cut, look-alikes.

Plan-level checks (no rendering) of the default and the validation demo, and the placement
transform on pixels.
"""

from __future__ import annotations

import numpy as np
import pytest

from influencer_pipeline.media.transforms import _placement
from influencer_tools.demo.config import DemoConfig
from influencer_tools.demo.outputs import influencers_frame, truth_frame
from influencer_tools.demo.outros import BRANDS, VALIDATION_BRANDS
from influencer_tools.demo.photos import load_library
from influencer_tools.demo.plan import plan_demo
from influencer_tools.demo.reuploads import REUPLOAD_KINDS


@pytest.fixture(scope="module", params=["default", "validation"])
def plan(request: pytest.FixtureRequest):
    seed = 7 if request.param == "default" else 20260
    return plan_demo(DemoConfig(seed=seed, brand_pool=request.param), load_library())


def test_every_reupload_kind_is_planned_and_in_the_truth(plan) -> None:
    truth = truth_frame(plan)
    reuploads = truth[truth["reupload_kind"] != ""]
    assert set(REUPLOAD_KINDS) <= set(reuploads["reupload_kind"])
    assert (reuploads["duplicate_group"] == reuploads["reupload_of"]).all()
    placements = dict(zip(reuploads["reupload_kind"], reuploads["placement"], strict=False))
    assert placements["letterbox_1x1"] == "1:1 letterboxed"
    assert placements["placement_4x5"] == "4:5"
    swapped = next(d for d in plan.derived if d.kind == "other_outro")
    source = plan.video(swapped.source)
    original_card = plan.creator(source.creator).outro
    assert source.kind == "faceless" and swapped.outro is not None
    assert swapped.outro.price != original_card.price  # the same body, another price card
    assert swapped.outro.brand == original_card.brand


def test_the_second_cut_is_another_edit_not_a_reupload(plan) -> None:
    truth = truth_frame(plan)
    cut = truth[truth["second_cut_of"] != ""].iloc[0]
    assert cut["duplicate_group"] == cut["file"] and cut["reupload_kind"] == ""
    original, second = plan.video(cut["second_cut_of"]), plan.video(cut["file"])
    assert original.creator == second.creator
    body = [s.seed for s in original.shots if s.kind != "card"]
    again = [s.seed for s in second.shots if s.kind != "card"]
    assert sorted(body) == sorted(again) and body != again  # same shoot, another order


def test_lookalike_family_has_a_name_a_colour_and_a_price_twin(plan) -> None:
    creators = influencers_frame(plan)
    twins = creators[creators["lookalike_of"] != ""]
    assert sorted(twins["lookalike_kind"]) == ["colour", "name", "price"]
    assert twins["lookalike_of"].nunique() == 1
    base = plan.creator(twins["lookalike_of"].iloc[0]).outro
    for label, kind in zip(twins["influencer"], twins["lookalike_kind"], strict=True):
        twin = plan.creator(label).outro
        assert twin.layout == base.layout and twin.logo == base.logo
        assert (twin.brand != base.brand) == (kind == "name")
        assert (twin.accent != base.accent) == (kind == "colour")
        assert (twin.price != base.price) == (kind == "price")


def test_validation_brands_were_never_the_default_ones(plan) -> None:
    brands = {c.outro.brand for c in plan.creators if c.outro is not None}
    pool = VALIDATION_BRANDS if plan.config.brand_pool == "validation" else BRANDS
    assert brands <= set(pool) and not set(VALIDATION_BRANDS) & set(BRANDS)
    assert plan.brand_card.brand not in {b.upper() for b in BRANDS + VALIDATION_BRANDS}


def test_placement_transform_cuts_the_centre_and_letterboxes() -> None:
    frame = np.arange(640 * 360 * 3, dtype=np.uint32).reshape(640, 360, 3).astype(np.uint8)
    square = _placement(frame, (1, 1), 0.0, letterbox=False)
    assert square.shape == (360, 360, 3)
    assert (square == frame[140:500]).all()
    boxed = _placement(frame, (4, 5), -0.03, letterbox=True)
    assert boxed.shape == frame.shape
    assert not boxed[:90].any() and not boxed[-90:].any()  # black bars above and below
    assert (boxed[95:545] == frame[76:526]).all()  # the 4:5 cut, 3 % above centre
