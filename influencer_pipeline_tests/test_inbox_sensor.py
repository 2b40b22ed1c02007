"""The inbox sensor and the cross-video automation on a real instance, with a tiny demo.

The demo sheet is split in two. Sheet A goes into the inbox and is processed the way the daemon
would: tick the sensor (``build_sensor_context`` on a SQLite instance), apply its partition
requests, execute its run requests, evaluate the automation conditions and execute what they
request. Then sheet B is dropped in, then a score in A is changed. Each step checks what was
requested: new partitions only, no per-video work for a score change, and one rebuild of the
cross-video assets each time, with the existing influencer ids kept. The end-to-end test is
marked slow; the pure parts (inbox scan, cursor, executor choice) have fast tests at the end.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from influencer_pipeline import lake
from influencer_pipeline.catalog.inbox import (
    InboxError,
    InboxState,
    diff_inbox,
    ready_videos,
    scan_inbox,
)
from influencer_pipeline.catalog.urls import normalize_url, video_id_for
from influencer_pipeline.defs.automation.sensors import inbox_sensor
from influencer_pipeline.defs.executors import ExecutorSetupError, executor_from_env
from influencer_pipeline.defs.partitions import VIDEOS
from influencer_pipeline.defs.resources import LakeResource
from influencer_pipeline.demo.generator import generate_demo
from influencer_pipeline.run_pipeline import (
    QUIET_LOGGERS,
    catalog_job,
    configure_environment,
    cross_video_job,
    execution_config,
    per_video_job,
)
from influencer_pipeline_tests.conftest import TINY_DEMO

CROSS_VIDEO = {
    "duplicate_groups",
    "identity_clusters",
    "outro_groups",
    "video_influencers",
    "ranked_influencers",
}
PER_VIDEO = ("video_files", "video_frames", "face_embeddings", "video_faces", "outro_fingerprints")
JOBS: dict[str, Callable[[], dg.JobDefinition]] = {
    "catalog_job": catalog_job,
    "per_video_job": per_video_job,
}
RUN_CONFIG = {**QUIET_LOGGERS, **execution_config("in_process")}
# the face stages run with dlib even if the definitions were imported before the fixture set
# $INFLUENCER_EMBEDDER (the resource's default is read when the definitions are built)
DLIB = {"resources": {"face_models": {"config": {"embedder": "dlib"}}}}


@dataclass
class Tick:
    """What one sensor tick returned."""

    result: dg.SensorResult
    new_partitions: list[str]
    catalog_runs: list[dg.RunRequest]
    video_runs: list[dg.RunRequest]

    @property
    def skipped(self) -> str:
        """The tick's skip message ("" when it requested something)."""
        reason = self.result.skip_reason
        return (reason.skip_message or "") if reason else ""


@dataclass
class Flow:
    """The state the daemon keeps between ticks, and what happened so far."""

    instance: dg.DagsterInstance
    lake: str
    inbox: Path
    cursor: str | None = None
    automation_cursor: object = None
    log: dict[str, object] = field(default_factory=dict)

    def tick(self) -> Tick:
        """Evaluate the inbox sensor once; keep its cursor; apply its partition requests."""
        context = dg.build_sensor_context(
            instance=self.instance, cursor=self.cursor, resources={"lake": LakeResource()}
        )
        result = inbox_sensor(context)
        assert isinstance(result, dg.SensorResult)
        self.cursor = result.cursor
        added: list[str] = []
        for request in result.dynamic_partitions_requests or []:
            assert isinstance(request, dg.AddDynamicPartitionsRequest)
            assert request.partitions_def_name == VIDEOS.name
            added += request.partition_keys
            self.instance.add_dynamic_partitions(VIDEOS.name, request.partition_keys)
        runs = list(result.run_requests or [])
        return Tick(
            result,
            added,
            [r for r in runs if r.job_name == "catalog_job"],
            [r for r in runs if r.job_name == "per_video_job"],
        )

    def execute(self, requests: list[dg.RunRequest]) -> None:
        """Run what the sensor requested, as the run queue would, in this process."""
        for request in requests:
            result = dg.execute_job(
                dg.reconstructable(JOBS[request.job_name]),
                instance=self.instance,
                run_config={
                    **RUN_CONFIG,
                    **request.run_config,
                    **(DLIB if request.job_name == "per_video_job" else {}),
                },
                tags=dict(request.tags),
            )
            assert result.success, request

    def automation(self) -> set[str]:
        """Evaluate the automation conditions once; the asset names it requests."""
        from influencer_pipeline.definitions import defs

        result = dg.evaluate_automation_conditions(
            defs=defs, instance=self.instance, cursor=self.automation_cursor
        )
        self.automation_cursor = result.cursor
        requested = set()
        for key in defs.resolve_asset_graph().get_all_asset_keys():
            if result.get_num_requested(key):
                assert result.get_requested_partitions(key) == {None}, key  # once, not per video
                requested.add(key.to_user_string())
        return requested

    def run_automation(self, expected: set[str]) -> None:
        """Evaluate, check the request, execute it, and check the next tick requests nothing."""
        requested = self.automation()
        assert requested == expected
        if requested:
            result = dg.execute_job(
                dg.reconstructable(cross_video_job),
                instance=self.instance,
                run_config={**RUN_CONFIG, **DLIB},
                asset_selection=[dg.AssetKey(k) for k in sorted(requested)],
            )
            assert result.success
            assert self.automation() == set(), "the cross-video assets ran more than once"


def _ids(sheet: pd.DataFrame, base: Path) -> list[str]:
    """The video ids of a sheet's rows, in first-seen order."""
    ids = [video_id_for(normalize_url(u, base)) for u in sheet["Video URL"]]
    return list(dict.fromkeys(ids))


def _put_sheet(frame: pd.DataFrame, path: Path) -> None:
    """Write a sheet into the inbox as if it had been copied in a minute ago (settled)."""
    frame.to_excel(path, index=False)
    past = time.time() - 60
    os.utime(path, (past, past))


def _counts(instance: dg.DagsterInstance, asset: str) -> Counter:
    """How many times each partition (None: unpartitioned) of ``asset`` was materialized."""
    records = instance.fetch_materializations(dg.AssetKey(asset), limit=10_000).records
    return Counter(r.asset_materialization.partition for r in records)


def _range_keys(ordered: list[str], request: dg.RunRequest) -> list[str]:
    start = ordered.index(request.tags["dagster/asset_partition_range_start"])
    end = ordered.index(request.tags["dagster/asset_partition_range_end"])
    return ordered[start : end + 1]


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("inbox")
    demo = root / "demo"
    generate_demo(demo, TINY_DEMO)
    lake_dir = root / "lake"
    inbox = lake_dir / "inbox"
    inbox.mkdir(parents=True)
    shutil.copytree(demo / "videos", inbox / "videos")  # relative URLs resolve in the inbox
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(root / "dagster_home"))
        mp.setenv("INFLUENCER_EMBEDDER", "dlib")
        mp.delenv("INFLUENCER_INBOX", raising=False)
        instance = configure_environment(str(lake_dir))  # sets INFLUENCER_LAKE for this process
        mp.setenv("INFLUENCER_LAKE", str(lake_dir))
        sheet = pd.read_excel(demo / "demo_sheet.xlsx")
        half = len(sheet) // 2
        yield Flow(instance, str(lake_dir), inbox), sheet.iloc[:half], sheet.iloc[half:]


@pytest.mark.slow
def test_inbox_sensor_processes_only_new_work(flow) -> None:
    flow, sheet_a, sheet_b = flow
    inbox = flow.inbox
    ids_a = _ids(sheet_a, inbox)
    ids_b = [v for v in _ids(sheet_b, inbox) if v not in ids_a]
    assert len(ids_a) >= 5 and len(ids_b) >= 5

    # --- sheet A: register its videos, rebuild the catalog, then process them -----------------
    _put_sheet(sheet_a, inbox / "a.xlsx")
    (inbox / "~$a.xlsx").write_bytes(b"excel lock file")  # never read
    assert flow.automation() == set()  # nothing in the lake yet: nothing to do

    first = flow.tick()
    assert first.new_partitions == ids_a
    assert InboxState.from_cursor(flow.cursor).generation == 1  # the cursor advanced
    assert first.video_runs == []  # not before the catalog lists their URLs
    assert len(first.catalog_runs) == 1
    sheets = first.catalog_runs[0].run_config["ops"]["video_catalog"]["config"]["sheets"]
    assert sheets == [str(inbox / "a.xlsx")]
    flow.execute(first.catalog_runs)
    assert flow.automation() == set()  # the new partitions are still missing: wait

    second = flow.tick()
    assert second.new_partitions == [] and second.catalog_runs == []
    ordered = list(flow.instance.get_dynamic_partitions(VIDEOS.name))
    assert sorted(k for r in second.video_runs for k in _range_keys(ordered, r)) == sorted(ids_a)
    flow.execute(second.video_runs)
    flow.run_automation(CROSS_VIDEO)

    idle = flow.tick()
    assert "no change" in idle.skipped
    before = lake.read_parquet(f"{flow.lake}/video_influencers.parquet")
    assert before["influencer_id"].notna().sum() >= 5

    # --- sheet B dropped in: only its new videos are registered and processed ------------------
    _put_sheet(sheet_b, inbox / "b.xlsx")
    third = flow.tick()
    assert third.new_partitions == ids_b
    assert third.video_runs == []
    [catalog_run] = third.catalog_runs
    assert catalog_run.run_config["ops"]["video_catalog"]["config"]["sheets"] == [
        str(inbox / "a.xlsx"),
        str(inbox / "b.xlsx"),
    ]
    cursor = InboxState.from_cursor(flow.cursor)
    assert set(cursor.sheets) == {"a.xlsx", "b.xlsx"} and cursor.generation == 2
    assert set(cursor.pending) == set(ids_b)  # waiting for the catalog run to list them
    flow.execute(third.catalog_runs)
    assert flow.automation() == set()

    fourth = flow.tick()
    ordered = list(flow.instance.get_dynamic_partitions(VIDEOS.name))
    requested = [k for r in fourth.video_runs for k in _range_keys(ordered, r)]
    assert sorted(requested) == sorted(ids_b)  # the new partitions, nothing else
    flow.execute(fourth.video_runs)
    flow.run_automation(CROSS_VIDEO)

    for asset in PER_VIDEO:  # every video processed exactly once
        assert set(_counts(flow.instance, asset).values()) == {1}, asset
        assert set(_counts(flow.instance, asset)) == set(ids_a) | set(ids_b), asset
    for asset in CROSS_VIDEO:
        assert _counts(flow.instance, asset) == Counter({None: 2}), asset
    after = lake.read_parquet(f"{flow.lake}/video_influencers.parquet").set_index("video_id")
    kept = before.dropna(subset=["influencer_id"])
    ids_after_b = {v: after.at[v, "influencer_id"] for v in kept["video_id"]}

    # --- a score change for a known URL: catalog and ranking update, no video is reprocessed ---
    urls = pd.concat([sheet_a, sheet_b])["Video URL"]
    row = next(i for i in sheet_a.index if (urls == sheet_a.at[i, "Video URL"]).sum() == 1)
    video = video_id_for(normalize_url(sheet_a.at[row, "Video URL"], inbox))
    changed = sheet_a.copy()
    changed.loc[row, "Performance"] = 9.5
    _put_sheet(changed, inbox / "a.xlsx")
    fifth = flow.tick()
    assert fifth.new_partitions == [] and fifth.video_runs == []
    assert len(fifth.catalog_runs) == 1
    flow.execute(fifth.catalog_runs)
    sixth = flow.tick()
    assert sixth.video_runs == [] and sixth.catalog_runs == []
    flow.run_automation(CROSS_VIDEO)
    rescored = lake.read_parquet(f"{flow.lake}/video_influencers.parquet").set_index("video_id")
    assert rescored.at[video, "performance"] == pytest.approx(9.5)
    assert rescored["influencer_id"].equals(after["influencer_id"])
    ranked = lake.read_parquet(f"{flow.lake}/ranked_influencers.parquet").set_index("influencer_id")
    assert ranked.at[after.at[video, "influencer_id"], "max_performance"] == pytest.approx(9.5)
    for asset in PER_VIDEO:
        assert set(_counts(flow.instance, asset).values()) == {1}, asset

    # --- one partition retried alone: only it is materialized again ----------------------------
    retried = ids_b[0]
    flow.execute([dg.RunRequest(job_name="per_video_job", tags={"dagster/partition": retried})])
    counts = _counts(flow.instance, "video_files")
    assert counts[retried] == 2 and sum(counts.values()) == len(counts) + 1
    flow.run_automation(CROSS_VIDEO)

    # --- an unusable sheet: reported, nothing requested, not re-read until it changes ----------
    bad = inbox / "bad.csv"
    bad.write_text("name,comment\nx,y\n")
    os.utime(bad, (time.time() - 60, time.time() - 60))
    broken = flow.tick()
    assert broken.catalog_runs == [] and broken.video_runs == []
    assert "unusable sheet" in broken.skipped
    assert "bad.csv" in InboxState.from_cursor(flow.cursor).sheets
    assert "no change" in flow.tick().skipped

    # --- the influencers of sheet A kept their ids when sheet B arrived ------------------------
    assert ids_after_b == dict(zip(kept["video_id"], kept["influencer_id"], strict=True))


# --- the pure parts, fast ---------------------------------------------------------------------


def test_scan_skips_fresh_hidden_and_lock_files(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("Performance,Video URL\n1,x.mp4\n")
    (tmp_path / "~$a.xlsx").write_bytes(b"lock")
    (tmp_path / ".hidden.csv").write_text("x")
    (tmp_path / "notes.txt").write_text("x")
    past = time.time() - 60
    for path in tmp_path.iterdir():
        os.utime(path, (past, past))
    (tmp_path / "b.csv").write_text("Performance,Video URL\n2,y.mp4\n")  # still being copied
    sheets, fresh = scan_inbox(tmp_path)
    assert list(sheets) == ["a.csv"] and len(sheets["a.csv"]) == 64
    assert fresh == ["b.csv"]
    assert scan_inbox(tmp_path / "missing") == ({}, [])
    with pytest.raises(InboxError) as error:
        scan_inbox(tmp_path / "a.csv")
    assert error.value.code == "not_a_folder"


def test_cursor_round_trip_diff_and_pending() -> None:
    state = InboxState({"a.xlsx": "1" * 64}, generation=3, pending=("v1", "v2"), catalog_after=9)
    assert InboxState.from_cursor(state.to_cursor()) == state
    assert InboxState.from_cursor(None) == InboxState()
    with pytest.raises(InboxError) as error:
        InboxState.from_cursor('{"sheets": []}')
    assert error.value.code == "bad_cursor"
    change = diff_inbox({"a": "1", "b": "2"}, {"a": "1", "b": "3", "c": "4"})
    assert (change.added, change.changed, change.removed) == (("c",), ("b",), ())
    assert not diff_inbox({"a": "1"}, {"a": "1"}).any
    ready, dropped = ready_videos(["v1", "v2", "v3"], catalog_ids=["v1", "v2"], done_ids=["v2"])
    assert ready == ("v1",) and dropped == ("v3",)


def test_executor_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INFLUENCER_EXECUTOR", raising=False)
    assert executor_from_env() is None  # Dagster's default executor
    monkeypatch.setenv("INFLUENCER_EXECUTOR", "celery")
    with pytest.raises(ExecutorSetupError) as error:
        executor_from_env()
    assert error.value.code == "unknown_executor"
