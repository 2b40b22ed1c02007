"""The ranking: one row per influencer with performance statistics and an uncertainty-aware rank."""

from typing import Literal

import dagster as dg
import pandas as pd
from dagster_pandas import PandasColumn, create_dagster_pandas_dataframe_type
from pydantic import Field

from influencer_pipeline.defs.metadata import image_cell
from influencer_pipeline.display import show
from influencer_pipeline.lake_schema import RANKED_INFLUENCERS, empty_frame
from influencer_pipeline.ranking.metrics import observations, population_stats, rank_influencers
from influencer_pipeline.ranking.thumbnails import influencer_thumbnails

RankedInfluencersDataFrame = create_dagster_pandas_dataframe_type(
    name="RankedInfluencersDataFrame",
    description="One row per influencer, ranked by the empirical-Bayes shrunk mean.",
    columns=[
        PandasColumn.integer_column("rank", non_nullable=True, unique=True, min_value=1),
        PandasColumn.string_column("influencer_id", non_nullable=True, unique=True),
        PandasColumn.categorical_column("method", categories={"face", "outro"}),
        PandasColumn.integer_column("n_videos", non_nullable=True, min_value=1),
        PandasColumn.float_column("mean_performance", non_nullable=True),
        PandasColumn.float_column("score", non_nullable=True),
        PandasColumn.float_column("shrinkage", min_value=0.0, max_value=1.0),
        PandasColumn.float_column("consistency", min_value=0.0, max_value=1.0),
    ],
)


class RankingConfig(dg.Config):
    """How re-uploads count in an influencer's statistics."""

    count: Literal["each_post", "canonical_once"] = Field(
        default="each_post",
        description="each_post: every post in the sheet is one observation; canonical_once: a "
        "video and its re-uploads are one observation (the mean of their scores).",
    )


@dg.asset(
    group_name="ranking",
    owners=["team:growth-analytics"],
    kinds={"pandas", "parquet"},
    dagster_type=RankedInfluencersDataFrame,
    ins={
        "video_influencers": dg.AssetIn(),
        "video_faces": dg.AssetIn(
            metadata={
                "columns": ["video_id", "has_dominant_face", "presence", "thumbnail"],
                "allow_missing_partitions": True,
            }
        ),
        "outro_fingerprints": dg.AssetIn(
            metadata={
                "columns": ["video_id", "has_card", "representative"],
                "allow_missing_partitions": True,
            }
        ),
    },
)
def ranked_influencers(
    context: dg.AssetExecutionContext,
    config: RankingConfig,
    video_influencers: pd.DataFrame,
    video_faces: pd.DataFrame,
    outro_fingerprints: pd.DataFrame,
) -> pd.DataFrame:
    """One row per influencer: n, mean, median, spread, intervals, shrunk-mean score and rank.

    Videos that failed or that a correction excludes are not ranked.
    """
    ok = video_influencers[(video_influencers["status"] == "ok") & ~video_influencers["excluded"]]
    ranked = rank_influencers(ok, config.count)
    pictures = influencer_thumbnails(ok, video_faces, outro_fingerprints)
    names = (
        ok.dropna(subset=["influencer_name"]).groupby("influencer_id")["influencer_name"].first()
    )
    out = ranked.merge(pictures, on="influencer_id", how="left").assign(
        influencer_name=lambda df: df["influencer_id"].map(names)
    )[RANKED_INFLUENCERS.names]
    if out.empty:  # nothing to rank (e.g. every video failed): typed columns, a valid empty table
        out = empty_frame(RANKED_INFLUENCERS)
    pop = population_stats(observations(ok, config.count)) if len(ok) else None
    context.add_output_metadata(_leaderboard_metadata(out, pop, config.count))
    return out


def _leaderboard_metadata(out: pd.DataFrame, pop, count: str) -> dict:
    top = out.head(10)
    lines = [
        "| rank | influencer | face / card | n | mean | score (95 %) | sd |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in top.itertuples(index=False):
        picture = image_cell(row.thumbnail, width=48)
        sd = "" if pd.isna(row.std_performance) else f"{row.std_performance:.3f}"
        lines.append(
            f"| {row.rank} | {show(row.influencer_id, 60).replace('|', '&#124;')} ({row.method}) | "
            f"{picture} | {row.n_videos} | "
            f"{row.mean_performance:.3f} | {row.score:.3f} ({row.score_low:.3f}–"
            f"{row.score_high:.3f}) | {sd} |"
        )
    metadata = {
        "influencers": len(out),
        "count_mode": count,
        "consistently_above_average": int(out["consistently_above_average"].sum()),
        "leaderboard": dg.MetadataValue.md("\n".join(lines)),
    }
    if pop is not None:
        metadata |= {
            "overall_mean": pop.overall_mean,
            "within_influencer_sd": pop.within_variance**0.5,
            "between_influencer_sd": pop.between_variance**0.5,
            "between_influencer_sd_estimate": pop.between_variance_estimate**0.5,
            "distinguishable": pop.distinguishable,
        }
        if pop.n_influencers >= 2:
            metadata["heterogeneity_p"] = pop.heterogeneity_p
        if pop.n_influencers >= 2 and not pop.distinguishable:
            metadata["note"] = dg.MetadataValue.md(
                "**The data cannot tell these influencers apart** (Cochran's Q test p = "
                f"{pop.heterogeneity_p:.2f}, {pop.n_influencers} influencers, "
                f"{pop.n_observations} videos): the order is a best guess, not a finding."
            )
    return metadata
