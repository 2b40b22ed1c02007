"""process_videos: the order the videos start in, and the order of the table."""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pyarrow as pa

from influencer_pipeline.defs.per_video import process_videos

SCHEMA = pa.schema([pa.field("video_id", pa.string(), nullable=False), pa.field("n", pa.int64())])


def _run(cost: dict[str, float] | None) -> tuple[list[str], pd.DataFrame]:
    started: list[str] = []

    def stage(key: str) -> pd.DataFrame:
        started.append(key)
        return pd.DataFrame({"video_id": [key, key], "n": [1, 2]})

    table = process_videos(
        dg.build_asset_context(), ["a", "b", "c", "d"], stage, SCHEMA, label="t", cost=cost
    )
    return started, table


def test_costliest_videos_start_first_and_the_table_keeps_the_keys_order() -> None:
    started, table = _run({"a": 1.0, "b": 8.0, "c": 3.0, "d": 8.0})
    assert started == ["b", "d", "c", "a"]  # ties keep the keys' order
    assert table["video_id"].tolist() == ["a", "a", "b", "b", "c", "c", "d", "d"]


def test_without_costs_videos_start_in_the_keys_order() -> None:
    started, table = _run(None)
    assert started == ["a", "b", "c", "d"]
    assert table["n"].tolist() == [1, 2] * 4


def test_a_video_without_a_cost_starts_last() -> None:
    started, table = _run({"b": 2.0, "d": 1.0})
    assert started == ["b", "d", "a", "c"]
    assert table["video_id"].tolist() == ["a", "a", "b", "b", "c", "c", "d", "d"]
