"""The two sensors on a real instance, ticked the way the daemon ticks them, with a tiny demo.

The demo sheet is split in two. Sheet A goes into the inbox; the ``inbox_sensor`` requests one
catalog run, the ``pipeline_sensor`` then plans the per-video runs and, once they have finished,
exactly one cross-video rebuild (through the leaderboard). Sheet B is dropped in next: the catalog
keeps A's videos and adds B's, and only B's videos are processed. A score change reprocesses no
video; a sheet removed from the inbox keeps its videos; an unusable sheet is reported once. The
end-to-end test is marked slow; the pure parts have fast tests at the end.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from influencer_pipeline import lake
from influencer_pipeline.catalog.inbox import InboxError, InboxState, diff_inbox, scan_inbox
from influencer_pipeline.catalog.urls import normalize_url, video_id_for
from influencer_pipeline.defs.automation.sensors import inbox_sensor, pipeline_sensor
from influencer_pipeline.defs.jobs import CROSS_VIDEO_ASSET_NAMES
from influencer_pipeline.defs.partitions import VIDEOS
from influencer_pipeline.defs.resources import FaceModels, LakeResource
from influencer_pipeline.planning import PER_VIDEO_ASSETS
from influencer_pipeline.run_pipeline import JOB_FUNCTIONS, open_instance
from influencer_pipeline_tests.conftest import TINY_DEMO
from influencer_tools.demo.generator import generate_demo

QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
EMBEDDER_ENV = "INFLUENCER_EMBEDDER"


@dataclass
class Daemon:
    """What the daemon keeps between ticks: the instance and both sensors' cursors."""

    instance: dg.DagsterInstance
    lake: str
    inbox: Path
    inbox_cursor: str | None = None
    pipeline_cursor: str | None = None
    executed: Counter = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.executed = Counter()

    def _context(self, cursor: str | None) -> dg.SensorEvaluationContext:
        return dg.build_sensor_context(
            instance=self.instance,
            cursor=cursor,
            resources={"lake": LakeResource(), "face_models": FaceModels()},
        )

    def tick_inbox(self) -> dg.SensorResult:
        result = inbox_sensor(self._context(self.inbox_cursor))
        self.inbox_cursor = result.cursor or self.inbox_cursor
        return result

    def tick_pipeline(self) -> dg.SensorResult:
        result = pipeline_sensor(self._context(self.pipeline_cursor))
        self.pipeline_cursor = result.cursor or self.pipeline_cursor
        return result

    def execute(self, requests: list[dg.RunRequest]) -> None:
        """Run what a sensor requested, as the run queue would (in this process)."""
        for request in requests:
            self.executed[request.job_name] += 1
            result = dg.execute_job(
                dg.reconstructable(JOB_FUNCTIONS[request.job_name]),
                instance=self.instance,
                run_config={**QUIET, **request.run_config},  # the location default executor
                tags=dict(request.tags),
            )
            failures = [
                (e.step_failure_data.error.cause or e.step_failure_data.error).message
                for e in result.all_events
                if e.event_type_value == "STEP_FAILURE" and e.step_failure_data.error
            ]
            assert result.success, (request.job_name, failures)

    def settle(self) -> Counter:
        """Tick and execute until both sensors request nothing; the jobs that ran."""
        before = Counter(self.executed)
        for _ in range(10):
            requests = list(self.tick_inbox().run_requests or [])
            requests += list(self.tick_pipeline().run_requests or [])
            if not requests:
                return self.executed - before
            self.execute(requests)
        raise AssertionError("the sensors never settled")


def _ids(sheet: pd.DataFrame, base: Path) -> list[str]:
    return list(dict.fromkeys(video_id_for(normalize_url(u, base)) for u in sheet["Video URL"]))


def _put_sheet(frame: pd.DataFrame, path: Path) -> None:
    """Write a sheet into the inbox as if it had been copied in a minute ago (settled)."""
    frame.to_excel(path, index=False)
    past = time.time() - 60
    os.utime(path, (past, past))


def _counts(instance: dg.DagsterInstance, asset: str) -> Counter:
    records = instance.fetch_materializations(dg.AssetKey(asset), limit=10_000).records
    return Counter(r.asset_materialization.partition for r in records)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("sensors")
    demo = root / "demo"
    generate_demo(demo, TINY_DEMO)
    lake_dir = root / "lake"
    inbox = lake_dir / "inbox"
    inbox.mkdir(parents=True)
    shutil.copytree(demo / "videos", inbox / "videos")  # relative URLs resolve in the inbox
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(root / "dagster_home"))
        mp.setenv(EMBEDDER_ENV, "dlib")
        mp.delenv("INFLUENCER_INBOX", raising=False)
        instance = open_instance()
        mp.setenv("INFLUENCER_LAKE", str(lake_dir))
        sheet = pd.read_excel(demo / "demo_sheet.xlsx")
        half = len(sheet) // 2
        yield Daemon(instance, str(lake_dir), inbox), sheet.iloc[:half], sheet.iloc[half:]


@pytest.mark.slow
def test_sensors_add_sheets_process_new_videos_and_rebuild_once(daemon) -> None:
    daemon, sheet_a, sheet_b = daemon
    inbox = daemon.inbox
    ids_a = _ids(sheet_a, inbox)
    ids_b = [v for v in _ids(sheet_b, inbox) if v not in ids_a]
    assert len(ids_a) >= 5 and len(ids_b) >= 5
    assert "no catalog" in daemon.tick_pipeline().skip_reason.skip_message

    # --- sheet A: one catalog run, its videos' runs, then exactly one cross-video rebuild -----
    _put_sheet(sheet_a, inbox / "a.xlsx")
    (inbox / "~$a.xlsx").write_bytes(b"excel lock file")  # never read
    [catalog_run] = daemon.tick_inbox().run_requests
    assert catalog_run.run_config["ops"]["video_catalog"]["config"]["sheets"] == [
        str(inbox / "a.xlsx")
    ]
    daemon.execute([catalog_run])
    assert set(daemon.instance.get_dynamic_partitions(VIDEOS.name)) == set(ids_a)
    planned = daemon.tick_pipeline()
    assert {r.job_name for r in planned.run_requests} == {"per_video_job"}
    assert all(
        r.run_config["resources"]["face_models"]["config"]["embedder"] == "dlib"
        for r in planned.run_requests
    )
    daemon.execute(planned.run_requests)
    [cross] = daemon.tick_pipeline().run_requests
    assert cross.job_name == "cross_video_job"
    daemon.execute([cross])
    assert daemon.settle() == Counter()  # nothing more: up to date
    before = lake.read_parquet(f"{daemon.lake}/video_influencers.parquet")
    assert before["influencer_id"].notna().sum() >= 5
    assert (Path(daemon.lake) / "leaderboard" / "leaderboard.html").is_file()

    # --- sheet B dropped in: the catalog adds it; only B's videos run; one rebuild ------------
    _put_sheet(sheet_b, inbox / "b.xlsx")
    ran = daemon.settle()
    assert ran["catalog_job"] == 1 and ran["cross_video_job"] == 1
    catalog = lake.read_parquet(f"{daemon.lake}/video_catalog.parquet")
    assert set(catalog["video_id"]) == set(ids_a) | set(ids_b)  # A's videos are still there
    for asset in PER_VIDEO_ASSETS:  # every video processed exactly once
        assert set(_counts(daemon.instance, asset).values()) == {1}, asset
        assert set(_counts(daemon.instance, asset)) == set(ids_a) | set(ids_b), asset
    for asset in CROSS_VIDEO_ASSET_NAMES:
        assert _counts(daemon.instance, asset) == Counter({None: 2}), asset
    after = lake.read_parquet(f"{daemon.lake}/video_influencers.parquet").set_index("video_id")
    aliases = lake.read_parquet(f"{daemon.lake}/influencer_aliases.parquet")
    for video_id, old in zip(before["video_id"], before["influencer_id"], strict=True):
        new = after.at[video_id, "influencer_id"]
        if old is not None and new != old:  # a changed id always leaves an alias row
            assert ((aliases["old_influencer_id"] == old) & (aliases["influencer_id"] == new)).any()

    # --- a score change: the catalog and the ranking update, no video is processed again -------
    row = sheet_a.index[0]
    video = video_id_for(normalize_url(sheet_a.at[row, "Video URL"], inbox))
    changed = sheet_a.copy()
    changed.loc[row, "Performance"] = 9.5
    _put_sheet(changed, inbox / "a.xlsx")
    ran = daemon.settle()
    assert ran == Counter({"catalog_job": 1, "cross_video_job": 1})
    rescored = lake.read_parquet(f"{daemon.lake}/video_influencers.parquet").set_index("video_id")
    assert rescored.at[video, "performance"] == pytest.approx(
        pd.concat([changed, sheet_b])
        .assign(v=lambda d: [video_id_for(normalize_url(u, inbox)) for u in d["Video URL"]])
        .query("v == @video")["Performance"]
        .mean()
    )
    for asset in PER_VIDEO_ASSETS:
        assert set(_counts(daemon.instance, asset).values()) == {1}, asset

    # --- a sheet taken out of the inbox keeps its videos in the catalog -----------------------
    (inbox / "b.xlsx").unlink()
    assert daemon.settle() == Counter()
    catalog = lake.read_parquet(f"{daemon.lake}/video_catalog.parquet")
    assert set(ids_b) <= set(catalog["video_id"])

    # --- an unusable sheet: reported once, nothing requested ----------------------------------
    bad = inbox / "bad.csv"
    bad.write_text("name,comment\nx,y\n")
    os.utime(bad, (time.time() - 60, time.time() - 60))
    broken = daemon.tick_inbox()
    assert not broken.run_requests and "unusable sheet" in broken.skip_reason.skip_message
    assert "bad.csv" in InboxState.from_cursor(daemon.inbox_cursor).sheets
    assert "no new or changed sheet" in daemon.tick_inbox().skip_reason.skip_message


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


def test_cursor_round_trip_and_diff() -> None:
    state = InboxState({"a.xlsx": "1" * 64}, generation=3)
    assert InboxState.from_cursor(state.to_cursor()) == state
    assert InboxState.from_cursor(None) == InboxState()
    with pytest.raises(InboxError) as error:
        InboxState.from_cursor('{"sheets": []}')
    assert error.value.code == "bad_cursor"
    change = diff_inbox({"a": "1", "b": "2"}, {"a": "1", "b": "3", "c": "4"})
    assert (change.added, change.changed, change.removed) == (("c",), ("b",), ())
    assert not diff_inbox({"a": "1"}, {"a": "1"}).any
