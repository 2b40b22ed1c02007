"""The whole pipeline through Dagster on a small generated demo plus a sheet of broken inputs.

One module-scoped run sequence (the same one the CLI makes): batch 1 (half of the demo sheet and
the broken sheet), then the full demo sheet, then the same again. Each test checks one promise.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from influencer_pipeline import lake, lake_schema
from influencer_pipeline.defs.partitions import VIDEOS
from influencer_pipeline.lake_cache import WRITTEN
from influencer_pipeline.run_pipeline import RunReport, run_pipeline
from influencer_pipeline_tests.conftest import TINY_DEMO
from influencer_tools.demo.generator import generate_demo
from influencer_tools.evaluation.lake import evaluate_lake

pytestmark = pytest.mark.slow

BROKEN = {  # file name -> the error code its partition must record
    "missing.mp4": "file_not_found",
    "zero.mp4": "empty_file",
    "page.mp4": "html_page",
    "half.mp4": "truncated",
}


@dataclass
class Runs:
    demo: Path
    lake: str
    batch1: RunReport
    full: RunReport
    again: RunReport
    batch1_influencers: pd.DataFrame
    full_influencers: pd.DataFrame
    again_influencers: pd.DataFrame
    evaluation: dict  # evaluate_lake's payload before the corrections below
    corrections: dict[str, str]
    corrected_influencers: pd.DataFrame
    corrected_ranking: pd.DataFrame


def _broken_sheet(demo: Path) -> Path:
    """A CSV in the demo folder with broken files and bad rows (relative paths)."""
    broken = demo / "broken"
    broken.mkdir(exist_ok=True)
    (broken / "zero.mp4").write_bytes(b"")
    (broken / "page.mp4").write_text("<!DOCTYPE html><html><title>404 Not Found</title></html>")
    source = sorted((demo / "videos").glob("*.mp4"))[0].read_bytes()
    (broken / "half.mp4").write_bytes(source[: len(source) // 2])
    rows = [f"0.5,broken/{name}" for name in BROKEN]
    rows += ["not a number,videos/whatever.mp4", "0.7,ftp://example.com/video.mp4"]
    path = demo / "broken.csv"
    path.write_text("Performance,Video URL\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    root = tmp_path_factory.mktemp("e2e")
    demo = root / "demo"
    generate_demo(demo, TINY_DEMO)
    sheet = pd.read_excel(demo / "demo_sheet.xlsx")
    batch1 = demo / "batch1.xlsx"
    sheet.iloc[: len(sheet) // 2].to_excel(batch1, index=False)
    broken = _broken_sheet(demo)
    lake_dir = str(root / "lake")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(root / "dagster_home"))
        mp.delenv("INFLUENCER_LAKE", raising=False)
        quiet = {"embedder": "dlib", "emit": lambda _line: None}
        first = run_pipeline([batch1, broken], lake_dir, **quiet)
        first_vi = lake.read_parquet(f"{lake_dir}/video_influencers.parquet")
        full = run_pipeline([demo / "demo_sheet.xlsx", broken], lake_dir, **quiet)
        full_vi = lake.read_parquet(f"{lake_dir}/video_influencers.parquet")
        again = run_pipeline([demo / "demo_sheet.xlsx", broken], lake_dir, **quiet)
        again_vi = lake.read_parquet(f"{lake_dir}/video_influencers.parquet")
        _, evaluation = evaluate_lake(demo / "truth.csv", lake_dir)
        corrections = _write_corrections(Path(lake_dir), again_vi)
        run_pipeline([demo / "demo_sheet.xlsx", broken], lake_dir, **quiet)
        corrected_vi = lake.read_parquet(f"{lake_dir}/video_influencers.parquet")
        corrected_rank = lake.read_parquet(f"{lake_dir}/ranked_influencers.parquet")
    return Runs(
        demo,
        lake_dir,
        first,
        full,
        again,
        first_vi,
        full_vi,
        again_vi,
        evaluation,
        corrections,
        corrected_vi,
        corrected_rank,
    )


def _write_corrections(lake_dir: Path, videos: pd.DataFrame) -> dict[str, str]:
    """Merge the two largest face influencers, name the result, exclude an outro video."""
    ok = videos[videos["status"] == "ok"]
    faces = ok[ok["method"] == "face"]["influencer_id"].value_counts().index
    outro_video = ok[ok["method"] == "outro"]["video_id"].iloc[0]
    chosen = {"merge": faces[1], "into": faces[0], "exclude": outro_video}
    (lake_dir / "corrections.csv").write_text(
        "action,video_id,influencer_id,into,name,note\n"
        f"merge,,{chosen['merge']},{chosen['into']},,same person\n"
        f"rename,,{chosen['into']},,Demo Star,\n"
        f"exclude,{chosen['exclude']},,,,not our ad\n"
    )
    return chosen


def _check_keys() -> list[dg.AssetCheckKey]:
    from influencer_pipeline.definitions import defs

    return list(defs.resolve_asset_graph().asset_check_keys)


def _instance(runs: Runs) -> dg.DagsterInstance:
    home = Path(runs.lake).parent / "dagster_home"
    return dg.DagsterInstance.from_config(str(home))


def test_catalog_registers_one_partition_per_video_and_keeps_bad_rows(runs: Runs) -> None:
    catalog = lake.read_parquet(f"{runs.lake}/video_catalog.parquet")
    demo_rows = pd.read_excel(runs.demo / "demo_sheet.xlsx")
    assert len(catalog) == demo_rows["Video URL"].nunique() + len(BROKEN)
    assert catalog["video_id"].is_unique
    # the catalog is the union of every sheet given: batch 1's rows are there twice (batch1.xlsx
    # and the full sheet), merged into one video each
    batch1_rows = pd.read_excel(runs.demo / "batch1.xlsx")
    assert int(catalog["n_rows"].sum()) == len(demo_rows) + len(batch1_rows) + len(BROKEN)
    sources = lake.read_parquet(f"{runs.lake}/sheet_sources.parquet")
    assert sorted(Path(s).name for s in sources["source"]) == [
        "batch1.xlsx",
        "broken.csv",
        "demo_sheet.xlsx",
    ]
    rejected = lake.read_parquet(f"{runs.lake}/rejected_rows.parquet")
    assert sorted(rejected["reason_code"]) == ["non_numeric_score", "unsupported_scheme"]
    instance = _instance(runs)
    assert set(catalog["video_id"]) <= set(instance.get_dynamic_partitions(VIDEOS.name))
    for asset in ("video_files", "video_frames", "face_embeddings", "video_faces"):
        done = instance.get_materialized_partitions(dg.AssetKey(asset))
        assert set(catalog["video_id"]) <= set(done), asset


def test_a_broken_video_fails_its_own_partition_only(runs: Runs) -> None:
    vi = runs.full_influencers
    failed = vi[vi["status"] == "failed"]
    assert sorted(Path(u).name for u in failed["video_url"]) == sorted(BROKEN)
    assert failed["influencer_id"].isna().all() and failed["error"].notna().all()
    ok = vi[vi["status"] == "ok"]
    assert ok["influencer_id"].notna().all() and ok["method"].isin(["face", "outro"]).all()
    for name, code in BROKEN.items():
        row = failed[failed["video_url"].str.endswith(name)].iloc[0]
        files = lake.read_parquet(f"{runs.lake}/video_files/{row['video_id']}.parquet")
        assert files["error_code"].tolist() == [code], name
        assert files["error"].iloc[0] == row["error"]


def test_partition_tables_kept_in_memory_load_as_their_files_do(runs: Runs) -> None:
    """The runs' later steps loaded what this process wrote from memory (``lake_cache``): the
    same DataFrame, column for column, as reading the files."""
    served = 0
    for asset in ("video_files", "video_frames", "face_embeddings", "outro_fingerprints"):
        paths = sorted(Path(runs.lake, asset).glob("*.parquet"))
        kept = [(p, WRITTEN.get(str(p))) for p in paths]
        kept = [(p, t) for p, t in kept if t is not None]
        if not kept:
            continue
        served += len(kept)
        from_files = lake.read_parquet_many([p for p, _ in kept])
        from_memory = lake.join_tables([t for _, t in kept], None, None)
        pd.testing.assert_frame_equal(from_memory, from_files)
    assert served > 0


def test_reupload_groups_match_the_truth_exactly(runs: Runs) -> None:
    groups = runs.evaluation["duplicate_groups"]
    assert groups["exact_match"], groups
    assert groups["wrong_merges"] == 0 and groups["splits"] == 0


def test_influencers_match_the_truth(runs: Runs) -> None:
    payload = runs.evaluation
    sections = payload["influencers"]["sections"]
    assert sections["face"]["wrong_merges"] == []
    assert sections["face"]["bcubed"]["f"] >= 0.95
    assert sections["faceless"]["pairwise"]["f"] == 1.0
    assert payload["influencers"]["n_failed"] == 0


def test_existing_influencer_ids_survive_a_new_batch(runs: Runs) -> None:
    """An id either stays, or the rebuild that changed it left an alias row saying where to."""
    before = runs.batch1_influencers.dropna(subset=["influencer_id"])
    after = runs.full_influencers.set_index("video_id")["influencer_id"]
    aliases = lake.read_parquet(f"{runs.lake}/influencer_aliases.parquet")
    moved = set(zip(aliases["old_influencer_id"], aliases["influencer_id"], strict=True))
    assert len(before) >= 5
    for video_id, old in zip(before["video_id"], before["influencer_id"], strict=True):
        assert after[video_id] == old or (old, after[video_id]) in moved, video_id


def test_ids_a_rebuild_moves_leave_aliases_that_corrections_follow(
    runs: Runs, tmp_path: Path
) -> None:
    """A cluster absorbed by another (merge) and a video split off (split), as a rebuild of the
    identity clusters would make them: alias rows appear, and corrections on the old ids apply."""
    from influencer_pipeline.definitions import defs

    lake_dir = tmp_path / "lake"
    shutil.copytree(runs.lake, lake_dir)
    clusters = lake.read_parquet(lake_dir / "identity_clusters.parquet")
    sizes = clusters["influencer_id"].value_counts()
    absorbed, keeper = sizes.index[-1], sizes.index[0]
    split_video = clusters.loc[clusters["influencer_id"] == keeper, "video_id"].iloc[-1]
    clusters.loc[clusters["influencer_id"] == absorbed, "influencer_id"] = keeper
    clusters.loc[clusters["video_id"] == split_video, "influencer_id"] = "F-splitoff01"
    lake.write_parquet_atomic(
        lake_schema.to_arrow(clusters, lake_schema.IDENTITY_CLUSTERS),
        lake_dir / "identity_clusters.parquet",
    )
    (lake_dir / "corrections.csv").write_text(
        "action,video_id,influencer_id,into,name,note\n"
        f"rename,,{absorbed},,Old Name,named before the rebuild\n"
    )
    catalog = lake.read_parquet(lake_dir / "video_catalog.parquet")
    with dg.instance_for_test() as instance, pytest.MonkeyPatch.context() as mp:
        mp.setenv("INFLUENCER_LAKE", str(lake_dir))
        instance.add_dynamic_partitions(VIDEOS.name, list(catalog["video_id"]))
        result = dg.materialize(
            list(defs.assets),
            selection=["video_influencers", "influencer_aliases"],
            instance=instance,
            resources=defs.resources,
        )
    assert result.success
    aliases = lake.read_parquet(lake_dir / "influencer_aliases.parquet")
    rows = set(
        zip(aliases["old_influencer_id"], aliases["influencer_id"], aliases["reason"], strict=True)
    )
    assert (absorbed, keeper, "merged") in rows
    assert (keeper, "F-splitoff01", "split") in rows
    videos = lake.read_parquet(lake_dir / "video_influencers.parquet")
    renamed = videos[videos["influencer_id"] == keeper]
    assert (renamed["influencer_name"] == "Old Name").all()  # the rename followed the alias


def test_rerun_does_no_new_work_and_changes_nothing(runs: Runs) -> None:
    assert runs.full.processed == runs.full.videos - runs.batch1.videos + len(BROKEN)
    assert runs.again.processed == len(BROKEN)  # only failed fetches are retried
    pd.testing.assert_frame_equal(runs.again_influencers, runs.full_influencers)


def test_corrections_in_the_lake_are_applied_on_rebuild(runs: Runs) -> None:
    chosen, vi = runs.corrections, runs.corrected_influencers.set_index("video_id")
    before = runs.again_influencers.set_index("video_id")
    merged = before.index[before["influencer_id"] == chosen["merge"]]
    assert (vi.loc[merged, "influencer_id"] == chosen["into"]).all()
    assert (vi.loc[vi["influencer_id"] == chosen["into"], "influencer_name"] == "Demo Star").all()
    assert bool(vi.loc[chosen["exclude"], "excluded"])
    untouched = before.index[~before["influencer_id"].isin([chosen["merge"]])]
    assert vi.loc[untouched, "influencer_id"].equals(before.loc[untouched, "influencer_id"])
    ranking = runs.corrected_ranking.set_index("influencer_id")
    assert chosen["merge"] not in ranking.index
    assert ranking.loc[chosen["into"], "influencer_name"] == "Demo Star"
    assert chosen["exclude"] not in {v for ids in ranking["video_ids"] for v in ids}


def test_cli_runs_and_checks_are_in_the_instance_the_ui_reads(runs: Runs) -> None:
    instance = _instance(runs)
    cli_runs = instance.get_runs(filters=dg.RunsFilter(tags={"influencer_pipeline/source": "cli"}))
    assert len(cli_runs) >= len(runs.batch1.run_ids + runs.full.run_ids + runs.again.run_ids)
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in cli_runs)
    for check in (
        "catalog_keys_unique_and_scores_finite",
        "every_influencer_ranked_once",
        "every_face_video_has_one_influencer",
        "embeddings_unit_norm_one_embedder",
    ):
        key = next(k for k in _check_keys() if k.name == check)
        record = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[key]
        assert record.status.value == "SUCCEEDED", check


def test_the_run_says_where_the_face_models_ran(runs: Runs) -> None:
    """The run's output and the face step's metadata name the device (a GPU where PyTorch sees
    one, else the CPU: faces.devices)."""
    import torch

    where = "cuda" if torch.cuda.is_available() else "cpu"
    assert any(m.startswith("detector ") and m.endswith(f" on {where}") for m in runs.full.models)
    assert any(m.startswith("embedder dlib on " + where) for m in runs.full.models)
    records = (
        _instance(runs).fetch_materializations(dg.AssetKey("face_embeddings"), limit=100).records
    )
    metadata = [r.asset_materialization.metadata for r in records]
    detected = [m for m in metadata if "detector" in m]  # a failed video's partition detects none
    assert detected and all(m["device"].value.startswith(where) for m in detected)


def test_faces_found_in_a_worker_process_are_the_faces_the_threads_found(
    runs: Runs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``face_models.face_worker_processes: 1`` runs one of the face step's two video lanes in a
    worker process (``faces.face_workers``): the same face rows as the runs' threads stored,
    video by video."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    lake_dir = tmp_path / "lake"
    sheet = [runs.demo / "demo_sheet.xlsx"]
    workers = {"face_models": {"config": {"face_worker_processes": 1}}}
    report = run_pipeline(
        sheet, str(lake_dir), embedder="dlib", emit=lambda _line: None, resources=workers
    )
    with dg.DagsterInstance.get() as instance:
        said = [e.user_message for run in report.run_ids for e in instance.all_logs(run)]
    used = [re.search(r": (\d+) in 1 worker process", m) for m in said if m.startswith("faces of")]
    assert len(used) == 1 and used[0] and int(used[0].group(1)) > 0, used
    stored = sorted(p.name for p in (lake_dir / "face_embeddings").glob("*.parquet"))
    assert len(stored) >= 4
    for name in stored:
        pd.testing.assert_frame_equal(
            lake.read_parquet(lake_dir / "face_embeddings" / name),
            lake.read_parquet(Path(runs.lake) / "face_embeddings" / name),
        )


def test_faces_of_an_older_embedder_version_are_embedded_again(runs: Runs, tmp_path: Path) -> None:
    """A lake whose faces were embedded by an older version of the same embedder (another
    vector space) gets only its face stages run again, and the same influencers."""
    lake_dir, home = tmp_path / "lake", tmp_path / "dagster_home"
    shutil.copytree(runs.lake, lake_dir)
    shutil.copytree(Path(runs.lake).parent / "dagster_home", home)
    fetched = set(
        runs.corrected_influencers.loc[runs.corrected_influencers["status"] == "ok", "video_id"]
    )
    embedded = [  # videos whose fetch succeeded (a failed one is retried, not re-embedded)
        path
        for path in sorted((lake_dir / "video_faces").glob("*.parquet"))
        if path.stem in fetched and lake.read_parquet(path, ["embedder"])["embedder"].notna().all()
    ]
    aged, kept = embedded[:2], embedded[2]
    current = lake.read_parquet(kept, ["embedder_version"])["embedder_version"].iloc[0]
    for path in aged:
        table = lake.read_parquet(path)
        table["embedder_version"] = "an older version"
        table.to_parquet(path, index=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(home))
        report = run_pipeline(
            [runs.demo / "demo_sheet.xlsx", runs.demo / "broken.csv"],
            str(lake_dir),
            embedder="dlib",
            emit=lambda _: None,
        )
    assert f"{len(aged)} to re-embed" in report.plan, report.plan
    for path in aged:
        assert set(lake.read_parquet(path, ["embedder_version"])["embedder_version"]) == {current}
    after = lake.read_parquet(lake_dir / "video_influencers.parquet")
    pd.testing.assert_frame_equal(after, runs.corrected_influencers)


def test_lake_holds_no_temp_files(runs: Runs) -> None:
    assert not list(Path(runs.lake).rglob("*.tmp"))


PER_VIDEO_ASSETS = ("video_files", "video_frames", "face_embeddings", "video_faces")
PER_VIDEO_ASSETS += ("outro_fingerprints",)
CROSS_VIDEO_ASSETS = ("video_catalog", "duplicate_groups", "outro_groups", "identity_clusters")
CROSS_VIDEO_ASSETS += ("video_influencers", "ranked_influencers", "leaderboard")


def _stored(lake_dir: Path, asset: str, video_id: str) -> dict[str, bytes | pd.DataFrame]:
    """What an asset stored: its table (one partition's file; the lake's own path written as
    ``<lake>``, timings left out) or, for the leaderboard, its files."""
    root = str(lake_dir)
    if asset == "leaderboard":  # the page's "made at ... by run ..." line aside
        folder = lake_dir / "leaderboard"
        page = (folder / "leaderboard.html").read_text(encoding="utf-8")
        return {
            "html": re.sub(r'<p class="source">.*?</p>', "", page),
            "csv": (folder / "leaderboard.csv").read_bytes(),
            "png": (folder / "leaderboard.png").read_bytes(),
            "xlsx": pd.read_excel(folder / "leaderboard.xlsx", sheet_name="leaderboard"),
        }
    path = lake_dir / asset / f"{video_id}.parquet" if asset in PER_VIDEO_ASSETS else None
    table = lake.read_parquet(path or lake_dir / f"{asset}.parquet")
    timings = [c for c in table.columns if c.endswith(("_seconds", "_at"))]  # when, how long
    table = table.drop(columns=timings)
    for column in table.columns:
        if table[column].dtype == object:
            table[column] = [
                v.replace(root, "<lake>") if isinstance(v, str) else v for v in table[column]
            ]
    return {asset: table}


@pytest.mark.parametrize("asset", PER_VIDEO_ASSETS + CROSS_VIDEO_ASSETS)
def test_each_asset_alone_rebuilds_what_the_run_stored(
    runs: Runs, tmp_path: Path, asset: str
) -> None:
    """Every asset materialized on its own (``dg.materialize``, the project's resources, the
    lake the runs left) writes exactly what the CLI's runs stored: it depends on nothing but its
    declared inputs."""
    from influencer_pipeline.definitions import defs

    lake_dir = tmp_path / "lake"
    shutil.copytree(runs.lake, lake_dir)
    catalog = lake.read_parquet(lake_dir / "video_catalog.parquet")
    videos = lake.read_parquet(lake_dir / "video_influencers.parquet")
    video_id = str(videos.loc[videos["method"] == "face", "video_id"].iloc[0])
    before = _stored(Path(runs.lake), asset, video_id)
    partition = {"partition_key": video_id} if asset in PER_VIDEO_ASSETS else {}
    with dg.instance_for_test() as instance, pytest.MonkeyPatch.context() as mp:
        mp.setenv("INFLUENCER_LAKE", str(lake_dir))
        instance.add_dynamic_partitions(VIDEOS.name, list(catalog["video_id"]))
        result = dg.materialize(
            list(defs.assets),
            # a multi-asset (the catalog's three tables, video_influencers with its aliases)
            # is materialized whole
            selection=dg.AssetSelection.assets(asset).required_multi_asset_neighbors(),
            instance=instance,
            resources=defs.resources,
            **partition,
        )
    assert result.success
    after = _stored(lake_dir, asset, video_id)
    assert after.keys() == before.keys()
    for name, stored in before.items():
        if isinstance(stored, pd.DataFrame):
            pd.testing.assert_frame_equal(after[name], stored, check_like=True)
        else:
            assert after[name] == stored, f"{asset}: {name} differs"
