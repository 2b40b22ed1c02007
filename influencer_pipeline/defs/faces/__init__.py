"""Dagster definitions of the faces domain."""
