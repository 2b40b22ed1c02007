"""Outro cards: fingerprints and groups for faceless videos."""
