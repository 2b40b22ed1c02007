"""Automation: the inbox sensor and the declarative automation of the cross-video assets."""

from influencer_pipeline.defs.automation.conditions import (
    cross_video_automation,
    with_cross_video_conditions,
)
from influencer_pipeline.defs.automation.sensors import inbox_sensor

SENSORS = [inbox_sensor, cross_video_automation]

__all__ = ["SENSORS", "inbox_sensor", "with_cross_video_conditions"]
