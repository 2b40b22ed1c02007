"""The CLI hands every run its lake as run config and leaves the process environment alone.

Step workers of the multiprocess executor are fresh processes: with ``$INFLUENCER_LAKE`` unset
they can only find the lake through the run config the CLI passed, so the lake's files landing
in the chosen folder (and nowhere else) shows that the setting travelled with the run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from influencer_pipeline import lake
from influencer_pipeline.paths import LAKE_ENV
from influencer_pipeline.run_pipeline import open_instance, run_pipeline

pytestmark = pytest.mark.slow


def test_runs_get_the_lake_as_run_config(
    make_video, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_video("one.mp4", seconds=1.0)
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("Video URL,Performance\none.mp4,1.0\n")
    monkeypatch.delenv(LAKE_ENV, raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("INFLUENCER_EMBEDDER", "dlib")
    monkeypatch.chdir(tmp_path)  # a stray default lake would appear under the project, not here
    before = _settings()
    chosen = tmp_path / "chosen lake"
    report = run_pipeline(
        [sheet], str(chosen), executor="multiprocess", max_concurrent=2, emit=lambda _l: None
    )
    assert _settings() == before  # (torch and OpenCV add their own variables on import)
    assert report.lake == str(chosen.resolve())
    assert len(lake.read_parquet(chosen / "video_influencers.parquet")) == 1
    assert list((chosen / "video_frames").glob("*.parquet"))
    instance = open_instance()
    for run_id in report.run_ids:
        resources = instance.get_run_by_id(run_id).run_config["resources"]
        assert resources["lake"]["config"]["root"] == str(chosen.resolve())
        assert resources["io_manager"]["config"]["base_path"] == str(chosen.resolve())


def _settings() -> dict[str, str]:
    """The process environment's variables that this project or Dagster read."""
    return {k: v for k, v in os.environ.items() if k.startswith(("INFLUENCER_", "DAGSTER_"))}
