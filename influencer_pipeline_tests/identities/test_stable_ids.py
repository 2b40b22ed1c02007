"""Stable influencer ids across rematerializations: inherit, split, merge, new, collisions."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pandas as pd
import pytest

from influencer_pipeline.identities.stable_ids import (
    StableIdInputError,
    assign_stable_ids,
    centroids_by_label,
    new_influencer_id,
    previous_by_canonical,
)


def clusters(groups: dict[str, list[str]]) -> pd.DataFrame:
    """clusters table from {cluster_key: [video ids]}."""
    rows = [(v, key) for key, vids in groups.items() for v in vids]
    return pd.DataFrame(rows, columns=["video_id", "cluster_key"])


def previous(groups: dict[str, list[str]]) -> pd.DataFrame:
    """previous table from {influencer_id: [video ids]}."""
    rows = [(v, iid) for iid, vids in groups.items() for v in vids]
    return pd.DataFrame(rows, columns=["video_id", "influencer_id"])


def by_video(result: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """video_id -> (influencer_id, id_source)."""
    return {
        v: (i, s)
        for v, i, s in zip(
            result["video_id"], result["influencer_id"], result["id_source"], strict=True
        )
    }


def test_first_run_ids_are_deterministic_hashes() -> None:
    result = assign_stable_ids(clusters({"a": ["a", "c", "b"], "d": ["d"]}), None, "F-")
    expected = "F-" + hashlib.sha256(b"a,b,c").hexdigest()[:10]
    got = by_video(result)
    assert got["a"] == got["b"] == got["c"] == (expected, "new")
    assert re.fullmatch(r"F-[0-9a-f]{10}", got["d"][0])
    assert list(result["video_id"]) == ["a", "c", "b", "d"]  # input row order kept
    again = assign_stable_ids(clusters({"d": ["d"], "a": ["b", "c", "a"]}), None, "F-")
    assert by_video(again) == got


def test_ids_survive_added_videos() -> None:
    first = assign_stable_ids(clusters({"a": ["a", "b"], "c": ["c", "d", "e"]}), None, "F-")
    ids = by_video(first)
    # new videos: x joins a's person, y and z are a new person, and a new key order
    second = assign_stable_ids(
        clusters({"a": ["a", "b", "x"], "c": ["c", "d", "e"], "y": ["y", "z"]}),
        first[["video_id", "influencer_id"]],
        "F-",
    )
    got = by_video(second)
    assert got["x"] == (ids["a"][0], "previous")
    assert got["c"] == (ids["c"][0], "previous")
    assert got["y"][1] == "new" and got["y"][0] not in {ids["a"][0], ids["c"][0]}


def test_split_larger_part_keeps_id() -> None:
    prev = previous({"F-old": ["a", "b", "c", "d", "e"]})
    result = by_video(
        assign_stable_ids(clusters({"a": ["a", "b", "c"], "d": ["d", "e"]}), prev, "F-")
    )
    assert result["a"] == ("F-old", "previous")
    assert result["d"][1] == "split_from:F-old"
    assert result["d"][0] == new_influencer_id("F-", ["d", "e"])


def test_merge_keeps_id_with_more_videos_and_reports_other() -> None:
    prev = previous({"F-big": ["a", "b", "c"], "F-small": ["d", "e"], "F-z": ["z"]})
    result = by_video(assign_stable_ids(clusters({"a": list("abcde"), "z": ["z"]}), prev, "F-"))
    assert result["a"] == ("F-big", "merged:F-small")
    assert result["e"] == ("F-big", "merged:F-small")
    assert result["z"] == ("F-z", "previous")


def test_conflicts_are_one_to_one_and_tie_broken_by_id() -> None:
    # two new clusters each hold 2 videos of F-b; equal overlap and size -> smaller key wins F-b,
    # the other cluster also holds one video of F-a, which it inherits.
    prev = previous({"F-b": ["p", "q", "r", "s"], "F-a": ["t"]})
    result = by_video(assign_stable_ids(clusters({"k1": ["p", "q"], "k2": ["r", "s"]}), prev, "F-"))
    assert result["p"] == ("F-b", "previous")
    assert result["r"][1] == "split_from:F-b"
    result = by_video(
        assign_stable_ids(clusters({"k1": ["p", "q"], "k2": ["r", "s", "t"]}), prev, "F-")
    )
    # k2 is larger and ties on overlap with F-b: it keeps F-b; k1 splits from it
    assert result["r"] == ("F-b", "merged:F-a")
    assert result["p"][1] == "split_from:F-b"
    assert len({v[0] for v in result.values()}) == 2


def test_removed_videos_and_centroid_match() -> None:
    prev = previous({"F-gone": ["old1", "old2"], "F-kept": ["k"]})
    now = clusters({"n1": ["n1", "n2"], "k": ["k"], "q": ["q"]})
    plain = by_video(assign_stable_ids(now, prev, "F-"))
    assert plain["n1"][1] == "new" and plain["k"] == ("F-kept", "previous")
    e = np.eye(4)
    result = by_video(
        assign_stable_ids(
            now,
            prev,
            "F-",
            centroids={"n1": e[0], "q": e[1], "k": e[2]},
            previous_centroids={"F-gone": (e[0] + 0.1 * e[3]) / np.linalg.norm(e[0] + 0.1 * e[3])},
            centroid_threshold=0.3,
        )
    )
    assert result["n1"] == ("F-gone", "previous_centroid")
    assert result["q"][1] == "new"


def test_new_id_collisions_get_another_hash() -> None:
    taken = new_influencer_id("F-", ["a", "b"])
    prev = previous({taken: ["zzz"]})  # a retired id that equals the hash of the new cluster
    result = by_video(assign_stable_ids(clusters({"a": ["a", "b"]}), prev, "F-"))
    assert result["a"] == (new_influencer_id("F-", ["a", "b"], attempt=1), "new")
    assert result["a"][0] != taken


def test_outro_prefix_and_empty_input() -> None:
    result = assign_stable_ids(clusters({"v": ["v"]}), None, "O-")
    assert result["influencer_id"].iloc[0].startswith("O-")
    empty = assign_stable_ids(clusters({}), None, "F-")
    assert list(empty.columns) == ["video_id", "influencer_id", "id_source"] and empty.empty


def test_centroids_by_label() -> None:
    got = centroids_by_label({"a": "x", "b": "x", "c": "y"}, {"a": [1, 0], "b": [0, 1]})
    assert set(got) == {"x"}
    assert got["x"] == pytest.approx(np.array([1, 1]) / np.sqrt(2))


@pytest.mark.parametrize(
    ("table", "prev", "prefix", "code"),
    [
        (pd.DataFrame({"video_id": ["a"]}), None, "F-", "missing_columns"),
        (clusters({"a": ["a", "a"]}), None, "F-", "duplicate_video_id"),
        (pd.DataFrame({"video_id": ["a"], "cluster_key": [None]}), None, "F-", "missing_value"),
        (clusters({"a": ["a"]}), pd.DataFrame({"video_id": ["a"]}), "F-", "missing_columns"),
        (clusters({"a": ["a"]}), None, "", "bad_prefix"),
    ],
)
def test_input_errors(
    table: pd.DataFrame, prev: pd.DataFrame | None, prefix: str, code: str
) -> None:
    with pytest.raises(StableIdInputError) as info:
        assign_stable_ids(table, prev, prefix)
    assert info.value.code == code


def test_rematerialization_with_shuffled_rows_is_identical() -> None:
    rng = np.random.default_rng(3)
    groups = {f"k{i}": [f"v{i}_{j}" for j in range(rng.integers(1, 5))] for i in range(30)}
    groups = {vids[0]: vids for vids in groups.values()}
    first = assign_stable_ids(clusters(groups), None, "F-")
    shuffled = clusters(groups).sample(frac=1.0, random_state=1)
    again = assign_stable_ids(shuffled, first[["video_id", "influencer_id"]], "F-")
    assert (again["id_source"] == "previous").all()
    assert by_video(again) == {v: (i, "previous") for v, (i, _) in by_video(first).items()}


def test_previous_ids_follow_a_video_to_its_new_canonical() -> None:
    """A re-upload that becomes its group's canonical keeps the id the old canonical had."""
    previous = pd.DataFrame({"video_id": ["old", "solo"], "influencer_id": ["O-a", "O-b"]})
    groups = pd.DataFrame(
        {"video_id": ["old", "new", "solo"], "canonical_video_id": ["new", "new", "solo"]}
    )
    rekeyed = previous_by_canonical(previous, groups)
    assert dict(zip(rekeyed["video_id"], rekeyed["influencer_id"], strict=True)) == {
        "new": "O-a",
        "solo": "O-b",
    }
    clusters = pd.DataFrame({"video_id": ["new", "solo"], "cluster_key": ["new", "solo"]})
    ids = assign_stable_ids(clusters, rekeyed, "O-")
    assert ids.set_index("video_id")["influencer_id"].to_dict() == {"new": "O-a", "solo": "O-b"}


def test_previous_by_canonical_takes_the_most_common_id_of_a_group() -> None:
    previous = pd.DataFrame({"video_id": ["a", "b", "c"], "influencer_id": ["F-1", "F-2", "F-2"]})
    groups = pd.DataFrame({"video_id": ["a", "b", "c"], "canonical_video_id": ["a", "a", "a"]})
    rekeyed = previous_by_canonical(previous, groups)
    assert rekeyed.to_dict("records") == [{"video_id": "a", "influencer_id": "F-2"}]
    assert previous_by_canonical(None, groups) is None
