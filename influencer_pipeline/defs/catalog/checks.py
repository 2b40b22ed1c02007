"""Checks on the catalog: one row per video id, every score finite."""

import dagster as dg
import pandas as pd

from influencer_pipeline.validation import catalog_problems


def check_result(
    problems: list[str], check_name: str | None = None, **metadata: object
) -> dg.AssetCheckResult:
    """A passed result, or a failed one with every problem in its metadata."""
    return dg.AssetCheckResult(
        passed=not problems,
        check_name=check_name,
        metadata={"problems": dg.MetadataValue.json(problems), **metadata},
        description="; ".join(problems) if problems else None,
    )


@dg.asset_check(asset="video_catalog", blocking=True)
def catalog_keys_unique_and_scores_finite(video_catalog: pd.DataFrame) -> dg.AssetCheckResult:
    """No duplicate video_id or video_url; every performance and source score finite."""
    return check_result(catalog_problems(video_catalog), videos=len(video_catalog))
