"""Dagster definitions of the ranking domain."""
