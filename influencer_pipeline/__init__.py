"""influencer_pipeline: find the influencers in a sheet of videos and rank them by performance."""

__version__ = "0.1.0"
