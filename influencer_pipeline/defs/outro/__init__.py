"""Dagster definitions of the outro domain."""
