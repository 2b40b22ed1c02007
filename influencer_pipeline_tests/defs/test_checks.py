"""Data-quality rules and the Dagster asset checks built on them, fed deliberately broken tables."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd

from influencer_pipeline.defs.catalog.checks import catalog_keys_unique_and_scores_finite
from influencer_pipeline.defs.io_managers import ParquetLakeIOManagerFactory
from influencer_pipeline.defs.ranking.assets import (
    RankedInfluencersDataFrame,
    RankingConfig,
    ranked_influencers,
)
from influencer_pipeline.lake_schema import (
    OUTRO_FINGERPRINTS,
    RANKED_INFLUENCERS,
    VIDEO_FACES,
    VIDEO_INFLUENCERS,
    empty_frame,
)
from influencer_pipeline.validation import (
    catalog_problems,
    cluster_problems,
    embedding_problems,
    ranking_problems,
)


def _catalog(**overrides: list) -> pd.DataFrame:
    data = {
        "video_id": ["a", "b", "c"],
        "video_url": ["https://x/a", "https://x/b", "https://x/c"],
        "performance": [1.0, 2.0, 0.5],
        "scores": [[1.0], [2.0], [0.5]],
        "n_rows": [1, 1, 1],
        "score_conflict": [False, False, False],
        "source_rows": [[2], [3], [4]],
        "source_urls": [["https://x/a"], ["https://x/b"], ["https://x/c"]],
        "source_sheets": [["s.csv"], ["s.csv"], ["s.csv"]],
    }
    data.update(overrides)
    return pd.DataFrame(data)


def test_catalog_rules() -> None:
    assert catalog_problems(_catalog()) == []
    assert "duplicate video_id" in catalog_problems(_catalog(video_id=["a", "a", "c"]))[0]
    assert "non-finite performance" in catalog_problems(_catalog(performance=[1, np.inf, 2]))[0]
    broken_scores = _catalog(scores=[[1.0], [np.nan, 2.0], [0.5]])
    assert "non-finite score" in catalog_problems(broken_scores)[0]


def _faces(vectors: list[list[float]], embedders: list[str] | None = None) -> pd.DataFrame:
    n = len(vectors)
    return pd.DataFrame(
        {
            "embedding": [np.asarray(v, dtype=np.float32) for v in vectors],
            "embedder": embedders or ["dlib"] * n,
            "embedder_version": ["v1"] * n,
        }
    )


def test_embedding_rules() -> None:
    assert embedding_problems(_faces([[1, 0], [0.6, 0.8]])) == []
    assert "not unit-norm" in embedding_problems(_faces([[1, 0], [2, 0]]))[0]
    assert any("NaN" in p for p in embedding_problems(_faces([[1, 0], [np.nan, 1]])))
    assert "2 embedders" in embedding_problems(_faces([[1, 0], [0, 1]], ["dlib", "facenet"]))[0]
    assert "different lengths" in embedding_problems(_faces([[1, 0], [0, 0, 1]]))[0]


def test_cluster_rules() -> None:
    catalog = pd.DataFrame({"video_id": ["a", "b", "c"]})
    dups = pd.DataFrame({"video_id": ["a", "b", "c"], "is_canonical": [True, True, False]})
    faces = pd.DataFrame({"video_id": ["a", "b", "c"], "has_dominant_face": [True, True, True]})
    good = pd.DataFrame({"video_id": ["a", "b"], "influencer_id": ["F-1", "F-2"]})
    assert cluster_problems(catalog, dups, faces, good) == []
    missing = good.iloc[:1]
    assert "without an influencer: ['b']" in cluster_problems(catalog, dups, faces, missing)[0]
    twice = pd.concat([good, good.iloc[:1]])
    assert "several clusters" in cluster_problems(catalog, dups, faces, twice)[0]


def _ranking_inputs() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    videos = pd.DataFrame(
        {
            "video_id": ["a", "b", "c", "d"],
            "status": ["ok", "ok", "ok", "failed"],
            "excluded": [False, False, True, False],
            "influencer_id": ["F-1", "F-1", "F-2", None],
        }
    )
    ranked = pd.DataFrame({"rank": [1], "influencer_id": ["F-1"], "video_ids": [["a", "b"]]})
    return ranked, videos, videos[["video_id"]]


def test_ranking_rules() -> None:
    ranked, videos, catalog = _ranking_inputs()
    assert ranking_problems(ranked, videos, catalog) == []
    twice = pd.concat([ranked, ranked.assign(rank=2)])
    assert any("more than once" in p for p in ranking_problems(twice, videos, catalog))
    gap = ranked.assign(rank=[2])
    assert any("1..n" in p for p in ranking_problems(gap, videos, catalog))
    lost = ranked.assign(video_ids=[["a"]])
    assert any("lists 1 videos; 2 are ranked" in p for p in ranking_problems(lost, videos, catalog))
    fewer = catalog.iloc[:3]
    assert any("the catalog 3" in p for p in ranking_problems(ranked, videos, fewer))


def test_a_failing_blocking_check_stops_downstream_assets(tmp_path: Path) -> None:
    """The real catalog check, on a catalog with a duplicated key, blocks what depends on it."""

    @dg.asset(name="video_catalog")
    def broken_catalog() -> pd.DataFrame:
        """One row per video, with a duplicated key."""
        return _catalog(video_id=["a", "a", "c"])

    @dg.asset(deps=["video_catalog"])
    def downstream() -> pd.DataFrame:
        """One row, if it ever runs."""
        return pd.DataFrame({"x": [1]})

    defs = dg.Definitions(
        assets=[broken_catalog, downstream],
        asset_checks=[catalog_keys_unique_and_scores_finite],
        resources={"io_manager": ParquetLakeIOManagerFactory(base_path=str(tmp_path))},
    )
    job = defs.resolve_implicit_global_asset_job_def()
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False)
        evaluations = result.get_asset_check_evaluations()
        assert [e.passed for e in evaluations] == [False]
        assert "duplicate video_id" in evaluations[0].description
        assert not result.success
        assert instance.get_latest_materialization_event(dg.AssetKey("downstream")) is None
        assert not (tmp_path / "downstream.parquet").exists()


def test_nothing_to_rank_gives_a_valid_empty_ranking() -> None:
    """Every video failed (the real sheet here): an empty table that passes the asset's type."""
    failed = empty_frame(VIDEO_INFLUENCERS)
    failed.loc[0, ["video_id", "status", "excluded"]] = ["v1", "failed", False]
    out = ranked_influencers(
        dg.build_asset_context(),
        RankingConfig(),
        video_influencers=failed,
        video_faces=empty_frame(VIDEO_FACES),
        outro_fingerprints=empty_frame(OUTRO_FINGERPRINTS),
    )
    assert out.empty and list(out.columns) == RANKED_INFLUENCERS.names
    assert dg.check_dagster_type(RankedInfluencersDataFrame, out).success
