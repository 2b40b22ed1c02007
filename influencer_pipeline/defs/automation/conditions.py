"""Declarative automation of the cross-video assets: rebuilt once after their inputs change.

The cross-video assets (``duplicate_groups`` … ``ranked_influencers``) read every video, so they
must not run once per video. They use Dagster's ``AutomationCondition.eager()``: requested when
any dependency updated since they were last requested or updated, but only while no dependency is
missing or in progress (a queued or running run, or a backfill, counts as in progress) and they
are not in progress themselves. New videos therefore trigger exactly one rebuild, after the
last of their per-video runs; a score-only change (a new ``video_catalog``) triggers one too.
The asset checks of these assets ride along in the same run.

The per-video assets get no condition: the inbox sensor requests them, for new partitions only.
"""

from collections.abc import Sequence

import dagster as dg

from influencer_pipeline.defs.jobs import CROSS_VIDEO_ASSETS

CROSS_VIDEO_CONDITION = dg.AutomationCondition.eager()


def is_cross_video(spec: dg.AssetSpec) -> bool:
    """True for an unpartitioned asset that reads other assets (not the catalog, not per video)."""
    return spec.partitions_def is None and bool(spec.deps)


def with_cross_video_conditions(
    assets: Sequence[dg.AssetsDefinition],
) -> list[dg.AssetsDefinition]:
    """``assets`` with CROSS_VIDEO_CONDITION on every cross-video asset (see ``is_cross_video``)."""
    return list(
        dg.map_asset_specs(
            lambda spec: (
                spec.replace_attributes(automation_condition=CROSS_VIDEO_CONDITION)
                if is_cross_video(spec)
                else spec
            ),
            assets,
        )
    )


cross_video_automation = dg.AutomationConditionSensorDefinition(
    "cross_video_automation",
    target=CROSS_VIDEO_ASSETS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Rebuilds the cross-video assets once after new videos or new scores land.",
)
