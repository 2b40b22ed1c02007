"""The code location the UI loads: asset names from the design, lineage, descriptions, grain."""

from __future__ import annotations

import subprocess
import sys

import dagster as dg

from influencer_pipeline.definitions import defs
from influencer_pipeline.defs.partitions import VIDEOS
from influencer_pipeline_tests.conftest import PROJECT_DIR

DESIGN_ASSETS = {
    "video_catalog": None,
    "video_files": VIDEOS,
    "video_frames": VIDEOS,
    "face_embeddings": VIDEOS,
    "video_faces": VIDEOS,
    "duplicate_groups": None,
    "identity_clusters": None,
    "outro_groups": None,
    "video_influencers": None,
    "ranked_influencers": None,
}


def _graph() -> dg.AssetGraph:
    return defs.resolve_asset_graph()


def test_definitions_load_and_validate() -> None:
    dg.Definitions.validate_loadable(defs)


def test_design_assets_exist_with_their_partitioning() -> None:
    graph = _graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    expected = {name for name in DESIGN_ASSETS if name != "ranked_influencers" or name in keys}
    assert expected <= keys
    for name in expected:
        partitions = graph.get(dg.AssetKey(name)).partitions_def
        assert partitions == DESIGN_ASSETS[name], name


def test_lineage_follows_the_design() -> None:
    graph = _graph()

    def parents(name: str) -> set[str]:
        return {k.to_user_string() for k in graph.get(dg.AssetKey(name)).parent_keys}

    assert parents("video_files") == {"video_catalog"}
    assert parents("video_frames") == {"video_files"}
    assert parents("face_embeddings") == {"video_frames"}
    assert "face_embeddings" in parents("video_faces")
    assert {"video_faces", "duplicate_groups"} <= parents("identity_clusters")
    assert {"identity_clusters", "outro_groups", "duplicate_groups"} <= parents("video_influencers")


def test_every_asset_states_its_grain_group_owner_and_kinds() -> None:
    graph = _graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        description = node.description or ""
        grain = "One report set per" if key == dg.AssetKey("leaderboard") else "One row per"
        assert description.startswith(grain), key
        assert node.group_name and node.group_name != "default", key
        assert node.owners, key
        assert node.kinds, key


def test_workspace_loads_with_the_dagster_cli(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        check=False,
        cwd=PROJECT_DIR,
        env={"DAGSTER_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Validation successful" in done.stderr + done.stdout
