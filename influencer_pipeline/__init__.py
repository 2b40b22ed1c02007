"""influencer_pipeline: find the influencers in a sheet of videos and rank them by performance."""

from influencer_pipeline.lifetime import arm_worker as _arm_worker

__version__ = "0.1.0"

_arm_worker()  # a step worker of the CLI ends with it, even after kill -9 (lifetime.py)
