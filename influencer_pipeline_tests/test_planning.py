"""The planner: which videos need which work, the runs that do it, and when to rebuild once."""

from __future__ import annotations

import pytest

from influencer_pipeline.planning import (
    FACES_JOB,
    PER_VIDEO_ASSETS,
    PER_VIDEO_JOB,
    VideoState,
    contiguous_ranges,
    cross_video_due,
    plan_videos,
    run_batches,
)

ALL = frozenset(PER_VIDEO_ASSETS)


def states() -> dict[str, VideoState]:
    return {
        "done": VideoState(ALL, "ok", "dlib"),
        "faceless": VideoState(ALL, "ok", None),
        "failed": VideoState(ALL, "failed", None),
        "half": VideoState(frozenset({"video_files", "video_frames"}), "ok", None),
        "facenet": VideoState(ALL, "ok", "facenet"),
    }


def test_every_video_lands_in_exactly_one_group() -> None:
    ids = ["new", "done", "faceless", "failed", "half", "facenet", "running"]
    plan = plan_videos(ids, states(), embedder="dlib", in_progress={"running"})
    assert plan.new == ["new"]
    assert plan.done == ["done", "faceless"]
    assert plan.retry == ["failed"]
    assert plan.incomplete == ["half"]
    assert plan.reembed == ["facenet"]
    assert plan.in_progress == ["running"]
    assert plan.process == ["new", "half", "failed"]
    assert "1 new" in plan.describe() and "2 up to date" in plan.describe()


def test_force_redoes_everything_but_what_is_running() -> None:
    plan = plan_videos(
        ["done", "running"], states(), embedder="dlib", force=True, in_progress={"running"}
    )
    assert plan.forced == ["done"] and plan.in_progress == ["running"]


def test_failed_videos_can_be_left_alone() -> None:
    plan = plan_videos(["failed"], states(), embedder="dlib", retry_failed=False)
    assert plan.done == ["failed"] and plan.empty


def test_faces_of_another_embedder_version_are_embedded_again() -> None:
    versions = {
        "old": VideoState(ALL, "ok", "dlib", "dlib 20; resnet"),
        "same": VideoState(ALL, "ok", "dlib", "dlib 20; resnet; mirrored average"),
        "faceless": VideoState(ALL, "ok", None, None),
    }
    ids = list(versions)
    plan = plan_videos(
        ids, versions, embedder="dlib", embedder_version="dlib 20; resnet; mirrored average"
    )
    assert plan.reembed == ["old"] and plan.done == ["same", "faceless"]
    # a version known only once the model is loaded (FaceNet's): the name decides
    assert plan_videos(ids, versions, embedder="dlib").done == ids


def test_duplicate_ids_are_planned_once() -> None:
    plan = plan_videos(["new", "new"], {}, embedder="dlib")
    assert plan.new == ["new"]


def test_ranges_break_at_unwanted_keys_and_at_the_size_limit() -> None:
    keys = ["a", "b", "c", "d", "e", "f"]
    assert contiguous_ranges(keys, {"a", "b", "d", "e", "f"}, 2) == [
        ("a", "b"),
        ("d", "e"),
        ("f", "f"),
    ]
    assert contiguous_ranges(keys, set(), 5) == []
    with pytest.raises(ValueError):
        contiguous_ranges(keys, {"a"}, 0)


def test_batches_run_full_work_then_face_work() -> None:
    plan = plan_videos(["a", "b", "c"], {"c": VideoState(ALL, "ok", "facenet")}, embedder="dlib")
    batches = run_batches(plan, ["a", "b", "c"], 64)
    assert [(b.job_name, b.start, b.end) for b in batches] == [
        (PER_VIDEO_JOB, "a", "b"),
        (FACES_JOB, "c", "c"),
    ]
    assert batches[0].key != batches[1].key


@pytest.mark.parametrize(
    ("kwargs", "due"),
    [
        ({"latest_input": None, "oldest_output": None, "last_requested": None}, False),
        ({"latest_input": 10, "oldest_output": None, "last_requested": None}, True),
        ({"latest_input": 10, "oldest_output": 12, "last_requested": None}, False),
        ({"latest_input": 15, "oldest_output": 12, "last_requested": None}, True),
        # a rebuild for these inputs was requested (and failed): not again until inputs change
        ({"latest_input": 15, "oldest_output": 12, "last_requested": 15}, False),
        ({"latest_input": 16, "oldest_output": 12, "last_requested": 15}, True),
    ],
)
def test_cross_video_rebuild_when_inputs_are_newer(kwargs: dict, due: bool) -> None:
    assert cross_video_due(active_runs=0, **kwargs).due is due


def test_cross_video_rebuild_waits_for_runs_and_planned_videos() -> None:
    waiting = cross_video_due(
        latest_input=10, oldest_output=None, last_requested=None, active_runs=2
    )
    assert not waiting.due and "2 run" in waiting.reason
    pending = cross_video_due(
        latest_input=10, oldest_output=None, last_requested=None, active_runs=0, pending_videos=3
    )
    assert not pending.due and "3 video" in pending.reason
