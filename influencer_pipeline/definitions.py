"""The Dagster code location: every asset, check, job, sensor and resource of the pipeline."""

import dagster as dg

from influencer_pipeline.defs.automation import SENSORS
from influencer_pipeline.defs.catalog import assets as catalog_assets
from influencer_pipeline.defs.catalog import checks as catalog_checks
from influencer_pipeline.defs.executors import executor_from_env
from influencer_pipeline.defs.faces import assets as faces_assets
from influencer_pipeline.defs.identities import assets as identities_assets
from influencer_pipeline.defs.identities import checks as identities_checks
from influencer_pipeline.defs.identities import video_influencers as influencers_assets
from influencer_pipeline.defs.io_managers import ParquetLakeIOManagerFactory
from influencer_pipeline.defs.jobs import JOBS
from influencer_pipeline.defs.media import assets as media_assets
from influencer_pipeline.defs.media import checks as media_checks
from influencer_pipeline.defs.outro import assets as outro_assets
from influencer_pipeline.defs.ranking import assets as ranking_assets
from influencer_pipeline.defs.ranking import checks as ranking_checks
from influencer_pipeline.defs.ranking import leaderboard as leaderboard_assets
from influencer_pipeline.defs.resources import FaceModels, LakeResource, VideoFetcher

defs = dg.Definitions(
    assets=dg.load_assets_from_modules(
        [
            catalog_assets,
            media_assets,
            faces_assets,
            outro_assets,
            identities_assets,
            influencers_assets,
            ranking_assets,
            leaderboard_assets,
        ]
    ),
    asset_checks=dg.load_asset_checks_from_modules(
        [catalog_checks, identities_checks, media_checks, ranking_checks]
    ),
    jobs=JOBS,
    sensors=SENSORS,
    executor=executor_from_env(),  # None: the default; $INFLUENCER_EXECUTOR=k8s: a pod per step
    resources={
        "io_manager": ParquetLakeIOManagerFactory(),
        "lake": LakeResource(),
        "fetcher": VideoFetcher(),
        "face_models": FaceModels(),
    },
)
