"""Synthetic demo data: vertical videos built from real face photos, a sheet and a truth file."""

from __future__ import annotations

from influencer_pipeline.demo.config import DemoConfig, DemoSummary
from influencer_pipeline.demo.errors import DemoError
from influencer_pipeline.demo.generator import generate_demo

__all__ = ["DemoConfig", "DemoError", "DemoSummary", "generate_demo"]
