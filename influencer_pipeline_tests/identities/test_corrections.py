"""Analysts' corrections: merge, split, rename, exclude; bad files and unknown ids are reported."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from influencer_pipeline.identities.corrections import (
    CorrectionsError,
    apply_corrections,
    load_corrections,
    split_id,
)


def _videos() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "video_id": ["v1", "v2", "v3", "v4", "v5"],
            "status": ["ok", "ok", "ok", "ok", "failed"],
            "influencer_id": ["F-a", "F-a", "F-b", "O-c", None],
            "assignment": ["face cluster"] * 3 + ["outro group", None],
        }
    )


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "corrections.csv"
    path.write_text(text)
    return path


def test_missing_file_means_no_corrections(tmp_path: Path) -> None:
    table = load_corrections(tmp_path / "corrections.csv")
    out, outcomes = apply_corrections(_videos(), table)
    assert outcomes == []
    assert out["influencer_id"].tolist() == _videos()["influencer_id"].tolist()
    assert not out["excluded"].any()


def test_merge_split_rename_exclude(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "action,video_id,influencer_id,into,name,note\n"
        "merge,,F-b,F-a,,same person\n"
        "split,v2,,,,guest host\n"
        "rename,,F-a,,Sarah (@sarah),\n"
        "exclude,v4,,,,not our ad\n",
    )
    out, outcomes = apply_corrections(_videos(), load_corrections(path))
    assert [o.applied for o in outcomes] == [True, True, True, True]
    by_video = out.set_index("video_id")
    assert by_video.loc["v3", "influencer_id"] == "F-a"  # merged
    assert by_video.loc["v3", "assignment"] == "correction: merged F-b into F-a"
    assert by_video.loc["v2", "influencer_id"] == split_id("v2")  # split off on its own
    assert by_video.loc["v1", "influencer_name"] == "Sarah (@sarah)"
    assert by_video.loc["v3", "influencer_name"] == "Sarah (@sarah)"  # the name follows the merge
    assert bool(by_video.loc["v4", "excluded"]) and not bool(by_video.loc["v1", "excluded"])
    assert by_video.loc["v5", "status"] == "failed"  # failed videos are never touched


def test_split_into_another_influencer(tmp_path: Path) -> None:
    path = _write(tmp_path, "action,video_id,into\nsplit,v1,F-b\n")
    out, _ = apply_corrections(_videos(), load_corrections(path))
    assert out.set_index("video_id").loc["v1", "influencer_id"] == "F-b"


def test_corrections_that_cannot_apply_are_reported(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "action,video_id,influencer_id,into,name\n"
        "merge,,F-nobody,F-a,\n"
        "split,v5,,,\n"  # a failed video
        "exclude,nope,,,\n"
        "rename,,F-a,,\n",  # empty name
    )
    out, outcomes = apply_corrections(_videos(), load_corrections(path))
    assert [o.applied for o in outcomes] == [False, False, False, False]
    assert "F-nobody" in outcomes[0].detail and "v5" in outcomes[1].detail
    assert out["influencer_id"].tolist() == _videos()["influencer_id"].tolist()


def test_malformed_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(CorrectionsError, match="unknown action 'delete'") as bad_action:
        load_corrections(_write(tmp_path, "action,video_id\ndelete,v1\n"))
    assert bad_action.value.code == "bad_action"
    assert "row 2" in str(bad_action.value)
    with pytest.raises(CorrectionsError, match="unexpected: \\['colour'\\]"):
        load_corrections(_write(tmp_path, "action,colour\nmerge,red\n"))
