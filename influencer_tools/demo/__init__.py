"""Synthetic demo data: vertical videos built from real face photos, a sheet and a truth file."""

from __future__ import annotations

from influencer_tools.demo.config import DemoConfig, DemoSummary
from influencer_tools.demo.errors import DemoError
from influencer_tools.demo.generator import generate_demo

__all__ = ["DemoConfig", "DemoError", "DemoSummary", "generate_demo"]
