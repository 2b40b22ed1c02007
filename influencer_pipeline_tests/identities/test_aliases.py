"""Id lineage: rebuilds that merge or split influencers leave aliases corrections follow."""

from __future__ import annotations

import pandas as pd

from influencer_pipeline.identities.aliases import (
    append_aliases,
    new_aliases,
    resolve,
    resolver,
)
from influencer_pipeline.identities.corrections import COLUMNS, apply_corrections


def assignment(pairs: dict[str, str | None]) -> pd.DataFrame:
    return pd.DataFrame({"video_id": list(pairs), "influencer_id": list(pairs.values())})


def corrections(*rows: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame([{c: r.get(c, "") for c in COLUMNS} for r in rows], columns=list(COLUMNS))


def videos(pairs: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "video_id": list(pairs),
            "influencer_id": list(pairs.values()),
            "status": "ok",
            "assignment": "face cluster",
        }
    )


def test_a_singleton_joining_a_cluster_retires_its_id() -> None:
    before = assignment({"v1": "F-single", "v2": "F-big", "v3": "F-big"})
    after = assignment({"v1": "F-big", "v2": "F-big", "v3": "F-big", "v4": "F-big"})
    rows = new_aliases(before, after, run_id="r1", created_at="t")
    assert rows[["old_influencer_id", "influencer_id", "reason", "n_videos"]].values.tolist() == [
        ["F-single", "F-big", "merged", 1]
    ]
    mapping = resolver(rows, after["influencer_id"])
    assert resolve("F-single", mapping) == "F-big"
    assert resolve("F-big", mapping) == "F-big"


def test_a_split_names_where_the_videos_went_and_keeps_the_live_id() -> None:
    before = assignment({"v1": "F-a", "v2": "F-a", "v3": "F-a"})
    after = assignment({"v1": "F-a", "v2": "F-a", "v3": "F-new"})
    rows = new_aliases(before, after, run_id="r", created_at="t")
    assert rows[["old_influencer_id", "influencer_id", "reason"]].values.tolist() == [
        ["F-a", "F-new", "split"]
    ]
    assert resolver(rows, after["influencer_id"]) == {}  # F-a is still an influencer


def test_new_removed_and_failed_videos_move_nothing() -> None:
    before = assignment({"v1": "F-a", "gone": "F-b", "failing": "F-c"})
    after = assignment({"v1": "F-a", "new": "F-d", "failing": None})
    assert new_aliases(before, after, run_id="r", created_at="t").empty
    assert new_aliases(None, after, run_id="r", created_at="t").empty


def test_chains_resolve_to_todays_id_and_cycles_stop() -> None:
    first = new_aliases(assignment({"v": "A"}), assignment({"v": "B"}), run_id="1", created_at="1")
    second = new_aliases(assignment({"v": "B"}), assignment({"v": "C"}), run_id="2", created_at="2")
    history = append_aliases(append_aliases(None, first), second)
    assert resolver(history, ["C"]) == {"A": "C", "B": "C"}
    cycle = append_aliases(
        history,
        new_aliases(assignment({"v": "C"}), assignment({"v": "A"}), run_id="3", created_at="3"),
    )
    assert resolver(cycle, ["Z"]) == {}  # no live id reachable: nothing resolved, no hang


def test_corrections_on_a_retired_id_still_apply() -> None:
    before = assignment({"v1": "F-single", "v2": "F-big"})
    now = {"v1": "F-big", "v2": "F-big", "v3": "F-other"}
    aliases = new_aliases(before, assignment(now), run_id="r", created_at="t")
    table, outcomes = apply_corrections(
        videos(now),
        corrections(
            {"action": "rename", "influencer_id": "F-single", "name": "Sam"},
            {"action": "merge", "influencer_id": "F-other", "into": "F-single"},
        ),
        resolver(aliases, now.values()),
    )
    assert all(o.applied for o in outcomes), outcomes
    assert set(table["influencer_id"]) == {"F-big"}
    assert set(table["influencer_name"]) == {"Sam"}


def test_without_aliases_a_correction_on_an_unknown_id_is_reported() -> None:
    table, outcomes = apply_corrections(
        videos({"v1": "F-big"}),
        corrections({"action": "rename", "influencer_id": "F-single", "name": "Sam"}),
    )
    assert not outcomes[0].applied and table["influencer_name"].isna().all()
