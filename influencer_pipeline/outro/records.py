"""Outro fingerprints as table rows and back."""

from __future__ import annotations

from typing import Any

import pandas as pd

from influencer_pipeline.lake_schema import OUTRO_FINGERPRINTS
from influencer_pipeline.outro.fingerprint import FingerprintOutcome, OutroFingerprint


def fingerprint_row(outcome: FingerprintOutcome) -> dict[str, Any]:
    """One OUTRO_FINGERPRINTS row: the card's fingerprint, or why the video has none."""
    row: dict[str, Any] = dict.fromkeys(OUTRO_FINGERPRINTS.names)
    row["video_id"] = outcome.video_id
    row["has_card"] = outcome.fingerprint is not None
    row["reason_code"] = outcome.reason_code
    row["reason"] = outcome.reason
    if outcome.fingerprint is not None:
        row.update(outcome.fingerprint.to_record())
    return row


def fingerprints_from_table(table: pd.DataFrame) -> dict[str, OutroFingerprint]:
    """The fingerprints of the rows that have a card, keyed by video_id."""
    cards = table[table["has_card"]]
    return {
        str(record["video_id"]): OutroFingerprint.from_record(record)
        for record in cards.to_dict("records")
    }
