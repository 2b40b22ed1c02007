"""What the Dagster instance and the lake know, in the terms of the planner (``planning``).

Read by the sensors and by the CLI, so both plan from the same facts: which per-video partitions
are materialized and in the lake, each video's fetch status and embedder, which runs are active,
and the storage ids of the newest inputs and the oldest outputs of the cross-video rebuild.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

from influencer_pipeline import lake
from influencer_pipeline.defs.jobs import CROSS_VIDEO_ASSET_NAMES
from influencer_pipeline.defs.partitions import VIDEOS
from influencer_pipeline.planning import PER_VIDEO_ASSETS, VideoState
from influencer_pipeline.recovery import ACTIVE_STATUSES

CATALOG_ASSET = "video_catalog"


def partition_files(lake_root: str, asset: str) -> set[str]:
    """The partition keys that have a file in ``<lake>/<asset>/`` (one listing per asset)."""
    folder = lake.as_upath(lake_root) / asset
    try:
        return {p.name[: -len(".parquet")] for p in folder.iterdir() if p.name.endswith(".parquet")}
    except FileNotFoundError:
        return set()


def _first_values(
    lake_root: str, asset: str, video_id: str, columns: list[str]
) -> list[str | None]:
    """The first non-null value of each of ``columns`` in a partition's file (None: none)."""
    try:
        table = lake.read_parquet(f"{lake_root}/{asset}/{video_id}.parquet", columns)
    except FileNotFoundError:
        return [None] * len(columns)
    values = [table[column].dropna() for column in columns]
    return [str(v.iloc[0]) if len(v) else None for v in values]


def _first_value(lake_root: str, asset: str, video_id: str, column: str) -> str | None:
    return _first_values(lake_root, asset, video_id, [column])[0]


def video_states(
    instance: dg.DagsterInstance, lake_root: str, video_ids: Sequence[str]
) -> dict[str, VideoState]:
    """The state of each video's per-video partitions (recorded by Dagster AND in the lake)."""
    wanted = set(video_ids)
    materialized: dict[str, set[str]] = {v: set() for v in wanted}
    for asset in PER_VIDEO_ASSETS:
        recorded = set(instance.get_materialized_partitions(dg.AssetKey(asset)))
        for video_id in wanted & recorded & partition_files(lake_root, asset):
            materialized[video_id].add(asset)

    def state(video_id: str) -> tuple[str, VideoState]:
        done = frozenset(materialized[video_id])
        status = _first_value(lake_root, "video_files", video_id, "status") if done else None
        embedder = version = None
        if "video_faces" in done:
            embedder, version = _first_values(
                lake_root, "video_faces", video_id, ["embedder", "embedder_version"]
            )
        return video_id, VideoState(done, status, embedder, version)

    with ThreadPoolExecutor(max_workers=16) as pool:
        return dict(pool.map(state, list(wanted)))


def active_runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    """Runs of the instance that are queued, starting, running or canceling."""
    return list(instance.get_runs(filters=dg.RunsFilter(statuses=ACTIVE_STATUSES)))


def videos_in_runs(runs: Sequence[dg.DagsterRun], ordered_keys: Sequence[str]) -> set[str]:
    """The ``videos`` partitions that ``runs`` target (single partitions and ranges)."""
    position = {key: i for i, key in enumerate(ordered_keys)}
    videos: set[str] = set()
    for run in runs:
        tags = run.tags
        if PARTITION_NAME_TAG in tags:
            videos.add(tags[PARTITION_NAME_TAG])
        start, end = (
            tags.get(ASSET_PARTITION_RANGE_START_TAG),
            tags.get(ASSET_PARTITION_RANGE_END_TAG),
        )
        if start in position and end in position:
            videos.update(ordered_keys[position[start] : position[end] + 1])
    return videos


def ordered_videos(instance: dg.DagsterInstance) -> list[str]:
    """Every registered ``videos`` partition, in the order they were added."""
    return list(instance.get_dynamic_partitions(VIDEOS.name))


def _latest_ids(instance: dg.DagsterInstance, names: Sequence[str]) -> list[int | None]:
    records = {
        record.asset_entry.asset_key.to_user_string(): record
        for record in instance.get_asset_records([dg.AssetKey(n) for n in names])
    }
    ids: list[int | None] = []
    for name in names:
        record = records.get(name)
        entry = record.asset_entry.last_materialization_record if record else None
        ids.append(entry.storage_id if entry else None)
    return ids


def latest_catalog_id(instance: dg.DagsterInstance) -> int | None:
    """Storage id of the newest ``video_catalog`` materialization, if any."""
    return _latest_ids(instance, [CATALOG_ASSET])[0]


def latest_input_id(instance: dg.DagsterInstance) -> int | None:
    """Storage id of the newest materialization the cross-video assets read."""
    ids = [i for i in _latest_ids(instance, [CATALOG_ASSET, *PER_VIDEO_ASSETS]) if i is not None]
    return max(ids) if ids else None


def oldest_output_id(instance: dg.DagsterInstance) -> int | None:
    """Oldest latest-materialization among the cross-video assets (None if one never was)."""
    ids = _latest_ids(instance, CROSS_VIDEO_ASSET_NAMES)
    return None if any(i is None for i in ids) else min(i for i in ids if i is not None)
