"""The UI flow as a user runs it: `dagster dev` with its daemon, a sheet dropped into the inbox.

After the CLI has built a lake from most of a tiny demo, ``dagster dev`` (webserver + daemon) runs
on that instance. A sheet with two new videos (a face video and a re-upload of a video already in
the lake) and one unreadable file is dropped into the inbox; nothing else is done by hand. When
the runs settle: the catalog holds old and new videos, every ok video has an influencer, the
re-upload has its original's id, the unreadable video is a failed partition of the
``video_files`` check, the leaderboard includes the new videos, and exactly one cross-video run
happened. Headless Chromium then screenshots the pages a user looks at
(``test-output/ui_*.png``): the cluster faces and the leaderboard's faces must be visible images.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from influencer_pipeline.catalog.urls import normalize_url, video_id_for
from influencer_pipeline.defs.media.checks import FETCHED
from influencer_pipeline.paths import LAKE_ENV
from influencer_pipeline.run_pipeline import default_instance_yaml
from influencer_pipeline_tests.conftest import PROJECT_DIR, TINY_DEMO
from influencer_pipeline_tests.dagster_server import DagsterServer, dagster_dev
from influencer_tools.demo.generator import generate_demo

pytestmark = pytest.mark.slow

OUTPUT = PROJECT_DIR / "test-output"
SETTLE_TIMEOUT_S = 900
QUIET_FOR_S = 40  # no new run and none active for this long: the daemon is done
ACTIVE = {"QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"}

CHECK_QUERY = """query($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) {
    ... on AssetNode {
      assetChecksOrError {
        ... on AssetChecks {
          checks {
            name
            partitionStatuses {
              ... on AssetCheckDefaultPartitionStatuses { succeededPartitions failedPartitions }
            }
          }
        }
      }
    }
  }
}"""
RUNS_QUERY = """{ runsOrError { ... on Runs { results { runId jobName status startTime } } } }"""


@dataclass
class Flow:
    """The settled state after the inbox drop."""

    server: DagsterServer
    lake: Path
    dropped_at: float
    new_face: str
    reupload: str
    original: str
    broken: str
    first_videos: int
    runs: list[dict]


def _runs(server: DagsterServer) -> list[dict]:
    return server.graphql(RUNS_QUERY)["runsOrError"]["results"]


def _wait_until_settled(server: DagsterServer, since: float) -> list[dict]:
    """The runs created after ``since`` once a cross-video run has ended and all is quiet."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    quiet_since, last_count = time.monotonic(), -1
    while time.monotonic() < deadline:
        runs = [r for r in _runs(server) if (r["startTime"] or time.time()) >= since - 5]
        active = [r for r in runs if r["status"] in ACTIVE]
        if len(runs) != last_count or active:
            quiet_since, last_count = time.monotonic(), len(runs)
        crossed = any(r["jobName"] == "cross_video_job" for r in runs)
        if crossed and not active and time.monotonic() - quiet_since > QUIET_FOR_S:
            return runs
        time.sleep(3)
    raise AssertionError(f"the daemon did not settle: {_runs(server)}\n{server.log_tail()}")


def _put(frame: pd.DataFrame, path: Path) -> None:
    temp = path.with_name(".writing-" + path.name)
    frame.to_csv(temp, index=False)
    temp.rename(path)  # appears whole, as a finished copy


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flow]:
    root = tmp_path_factory.mktemp("ui_flow")
    demo = generate_demo(root / "demo", TINY_DEMO)
    truth = pd.read_csv(demo.truth)
    reupload_row = truth[truth["reupload_of"].notna() & (truth["kind"] == "face")].iloc[0]
    originals = set(truth["reupload_of"].dropna())
    new_face = truth[
        (truth["kind"] == "face") & truth["reupload_of"].isna() & ~truth["file"].isin(originals)
    ].iloc[0]
    first = truth[~truth["file"].isin([reupload_row["file"], new_face["file"]])]
    home, lake = root / "dagster_home", root / "lake"
    home.mkdir()
    (home / "dagster.yaml").write_text(default_instance_yaml())
    env = {**os.environ, "DAGSTER_HOME": str(home), LAKE_ENV: str(lake)}
    env.pop("INFLUENCER_EMBEDDER", None)  # the default (auto) everywhere, as a user has it
    first_sheet = root / "demo" / "first.csv"
    _put(
        first.rename(columns={"video_url": "Video URL", "performance": "Performance"})[
            ["Video URL", "Performance"]
        ],
        first_sheet,
    )
    cli = [sys.executable, "-m", "influencer_pipeline.cli", "run", "--input", str(first_sheet)]
    subprocess.run(cli, env=env, check=True, capture_output=True, timeout=900)

    inbox = lake / "inbox"
    (inbox / "videos").mkdir(parents=True)
    for name in (new_face["file"], reupload_row["file"]):
        shutil.copyfile(root / "demo" / "videos" / name, inbox / "videos" / name)
    (inbox / "videos" / "broken.mp4").write_text("this is not a video\n")
    drop = pd.DataFrame(
        {
            "Video URL": [
                f"videos/{new_face['file']}",
                f"videos/{reupload_row['file']}",
                "videos/broken.mp4",
            ],
            "Performance": [1.5, 1.25, 0.5],
        }
    )
    with dagster_dev(PROJECT_DIR, env, root / "dagster_dev.log") as server:
        dropped_at = time.time()
        _put(drop, inbox / "new_videos.csv")
        runs = _wait_until_settled(server, dropped_at)

        def vid(url: str, base: Path) -> str:
            return video_id_for(normalize_url(url, base))

        yield Flow(
            server,
            lake,
            dropped_at,
            new_face=vid(f"videos/{new_face['file']}", inbox),
            reupload=vid(f"videos/{reupload_row['file']}", inbox),
            original=vid(f"videos/{reupload_row['reupload_of']}", root / "demo"),
            broken=vid("videos/broken.mp4", inbox),
            first_videos=first["video_url"].nunique(),
            runs=runs,
        )


def test_the_inbox_adds_videos_and_every_ok_video_gets_an_influencer(flow: Flow) -> None:
    catalog = pd.read_parquet(flow.lake / "video_catalog.parquet")
    videos = pd.read_parquet(flow.lake / "video_influencers.parquet").set_index("video_id")
    assert {flow.new_face, flow.reupload, flow.broken, flow.original} <= set(catalog["video_id"])
    assert len(catalog) == flow.first_videos + 3
    ok = videos[videos["status"] == "ok"]
    assert ok["influencer_id"].notna().all()
    assert videos.at[flow.reupload, "influencer_id"] == videos.at[flow.original, "influencer_id"]
    assert videos.at[flow.reupload, "duplicate_of"] is not None
    assert videos.at[flow.broken, "status"] == "failed"


def test_exactly_one_cross_video_run_after_the_drop(flow: Flow) -> None:
    jobs = [r["jobName"] for r in flow.runs]
    assert jobs.count("cross_video_job") == 1, jobs
    assert jobs.count("catalog_job") == 1, jobs
    assert all(r["status"] == "SUCCESS" for r in flow.runs), flow.runs


def test_the_unreadable_video_is_a_failed_check_partition(flow: Flow) -> None:
    data = flow.server.graphql(CHECK_QUERY, {"key": {"path": ["video_files"]}})
    checks = data["assetNodeOrError"]["assetChecksOrError"]["checks"]
    statuses = next(c for c in checks if c["name"] == FETCHED)["partitionStatuses"]
    assert flow.broken in statuses["failedPartitions"]
    assert flow.new_face in statuses["succeededPartitions"]
    records = (
        _instance(flow)
        .fetch_materializations(
            dg.AssetRecordsFilter(
                asset_key=dg.AssetKey("video_files"), asset_partitions=[flow.broken]
            ),
            limit=1,
        )
        .records
    )
    metadata = records[0].asset_materialization.metadata  # this video's own facts only
    assert metadata["status"].value == "failed"
    assert "broken.mp4" in metadata["url"].value and metadata["error_code"].value
    assert "ok" not in metadata and "failed" not in metadata  # no run totals


def test_the_leaderboard_includes_the_new_videos(flow: Flow) -> None:
    board = pd.read_csv(flow.lake / "leaderboard" / "leaderboard.csv")
    listed = ";".join(board["video_ids"].astype(str))
    assert flow.new_face in listed and flow.reupload in listed
    assert os.path.getmtime(flow.lake / "leaderboard" / "leaderboard.html") >= flow.dropped_at


def _instance(flow: Flow) -> dg.DagsterInstance:
    home = flow.lake.parent / "dagster_home"
    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)
    try:
        return dg.DagsterInstance.get()
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME")
        else:
            os.environ["DAGSTER_HOME"] = previous


def _pictures_in_markdown(page, key: str) -> int:
    """Open the metadata entry ``key``'s markdown (inline or its dialog); count loaded images."""
    row = page.locator("tr", has_text=key).first
    show = row.get_by_text("Show Markdown")
    if show.count():
        show.first.click()
        scope = page.locator(".bp5-dialog").first
        scope.wait_for(state="visible")
    else:
        scope = row
    # a slow machine may still be loading them
    loaded = "s => [...s.querySelectorAll('img')].every(e => e.complete)"
    page.wait_for_function(loaded, arg=scope.element_handle(), timeout=30_000)
    images = scope.locator("img")
    return sum(images.nth(i).evaluate("e => e.naturalWidth") > 0 for i in range(images.count()))


def test_faces_are_visible_in_the_ui(flow: Flow) -> None:
    from playwright import sync_api

    from influencer_pipeline_tests.browser import find_chromium

    executable = find_chromium()
    if executable is None:
        pytest.skip("no chromium installed (scripts/install_system_deps.sh installs it)")
    OUTPUT.mkdir(exist_ok=True)
    assert flow.server.skip_community_dialog()
    with sync_api.sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=executable,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        seen = {}
        for asset, key, shot in (
            ("identity_clusters", "clusters_montage", "ui_cluster_faces.png"),
            ("ranked_influencers", "leaderboard", "ui_leaderboard_faces.png"),
        ):
            page.goto(f"{flow.server.url}/assets/{asset}", wait_until="networkidle")
            page.wait_for_timeout(2000)
            assert not page.get_by_text("Join the Dagster community").count()
            page.get_by_text(key, exact=True).first.scroll_into_view_if_needed()
            seen[asset] = _pictures_in_markdown(page, key)
            page.screenshot(path=str(OUTPUT / shot))
            page.keyboard.press("Escape")
        page.goto(f"{flow.server.url}/assets/video_files?view=checks", wait_until="networkidle")
        page.wait_for_timeout(2500)
        page.screenshot(path=str(OUTPUT / "ui_failed_video_check.png"), full_page=True)
        browser.close()
    assert seen["identity_clusters"] >= 2, seen
    assert seen["ranked_influencers"] >= 2, seen
