"""Automation: the inbox sensor and the sensor that plans per-video runs and one rebuild."""

from influencer_pipeline.defs.automation.sensors import inbox_sensor, pipeline_sensor

SENSORS = [inbox_sensor, pipeline_sensor]

__all__ = ["SENSORS", "inbox_sensor", "pipeline_sensor"]
