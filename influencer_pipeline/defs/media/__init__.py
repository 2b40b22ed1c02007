"""Dagster definitions of the media domain."""
