"""Checks on the ranking: every influencer ranked once and the counts add up to the catalog."""

import dagster as dg
import pandas as pd

from influencer_pipeline.defs.catalog.checks import check_result
from influencer_pipeline.validation import ranking_problems


@dg.asset_check(
    asset="ranked_influencers",
    blocking=True,
    additional_ins={
        "video_influencers": dg.AssetIn(),
        "video_catalog": dg.AssetIn(metadata={"columns": ["video_id"]}),
    },
)
def every_influencer_ranked_once(
    ranked_influencers: pd.DataFrame,
    video_influencers: pd.DataFrame,
    video_catalog: pd.DataFrame,
) -> dg.AssetCheckResult:
    """Ranks 1..n, one row per influencer, and every ranked video of the catalog counted once."""
    problems = ranking_problems(ranked_influencers, video_influencers, video_catalog)
    return check_result(problems, influencers=len(ranked_influencers))
