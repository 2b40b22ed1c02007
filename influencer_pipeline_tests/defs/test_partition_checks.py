"""A video that cannot be fetched or decoded is a failed partition of a check, in the UI's terms.

One CLI-path run over a sheet with a good clip and a text file posing as a video: the check
partitions are judged against the partition's latest materialization (so Dagster's partition
status view lists them: "current", failed or succeeded), and each partition's metadata holds
that video's own facts only.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from influencer_pipeline.catalog.urls import normalize_url, video_id_for
from influencer_pipeline.defs.media.checks import DECODED, FETCHED
from influencer_pipeline.run_pipeline import open_instance, run_pipeline

pytestmark = pytest.mark.slow


def test_failed_videos_are_failed_check_partitions(
    make_video, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_video("good.mp4", seconds=2.0)
    (tmp_path / "broken.mp4").write_text("KEY=secret\nnot a video\n")
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("Video URL,Performance\ngood.mp4,1.0\nbroken.mp4,2.0\n")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("INFLUENCER_EMBEDDER", "dlib")
    run_pipeline([sheet], str(tmp_path / "lake"), emit=lambda _line: None)
    instance = open_instance()
    good, broken = (video_id_for(normalize_url(n, tmp_path)) for n in ("good.mp4", "broken.mp4"))
    for asset, check in (("video_files", FETCHED), ("video_frames", DECODED)):
        key = dg.AssetCheckKey(dg.AssetKey(asset), check)
        infos = {
            info.partition_key: info
            for info in instance.event_log_storage.get_asset_check_partition_info([key])
        }
        assert infos[broken].latest_execution_status.value == "FAILED", check
        assert infos[good].latest_execution_status.value == "SUCCEEDED", check
        assert infos[broken].is_current and infos[good].is_current, check
    record = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("video_files"), asset_partitions=[broken]),
        limit=1,
    ).records[0]
    metadata = {k: v.value for k, v in record.asset_materialization.metadata.items()}
    assert metadata["status"] == "failed" and metadata["error_code"] == "html_page"
    assert metadata["url"].endswith("broken.mp4") and "secret" not in str(metadata)
    assert "ok" not in metadata and "failed" not in metadata  # no run totals per partition
