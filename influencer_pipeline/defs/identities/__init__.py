"""Dagster definitions of the identities domain."""
