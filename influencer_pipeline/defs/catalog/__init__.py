"""Dagster definitions of the catalog domain."""
