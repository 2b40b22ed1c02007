"""Run a stage over the videos of a partition range, each video's failure isolated from the rest."""

from collections.abc import Callable, Mapping

import dagster as dg
import pandas as pd
import pyarrow as pa

from influencer_pipeline.defs.partition_metadata import PartitionNotes
from influencer_pipeline.display import show
from influencer_pipeline.lake_schema import to_arrow
from influencer_pipeline.parallel import map_isolated


def progress_logger(context: dg.AssetExecutionContext, total: int, label: str):
    """A callback that logs ``label: n/total videos`` about ten times over a run."""
    state = {"done": 0}
    step = max(1, total // 10)

    def on_done(_item: object, _result: object) -> None:
        state["done"] += 1
        if state["done"] % step == 0 or state["done"] == total:
            context.log.info(f"{label}: {state['done']}/{total} videos")

    return on_done


def process_videos(
    context: dg.AssetExecutionContext,
    keys: list[str],
    stage: Callable[[str], pd.DataFrame],
    schema: pa.Schema,
    *,
    label: str,
    max_workers: int = 1,
    notes: PartitionNotes | None = None,
    cost: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Concatenate ``stage(key)`` over ``keys``; a video whose stage raises gets no rows, a warning
    and an ``error`` entry in its partition's materialization metadata, and the others go on.
    ``notes`` (what the stage gathered per video, the errors added) are attached at the end.
    ``cost``: the videos start costliest first (a long video last would run alone at the end);
    the table keeps the order of ``keys``."""
    notes = PartitionNotes() if notes is None else notes

    def failed(key: str, exc: BaseException) -> pd.DataFrame:
        message = show(f"{type(exc).__name__}: {exc}", 1000)
        context.log.warning(f"{key}: {label} failed: {message}")
        notes.add(key, {"error": message})
        return schema.empty_table().to_pandas()

    log_progress = progress_logger(context, len(keys), label)
    typed: dict[str, pa.Table] = {}

    def on_done(key: str, table: pd.DataFrame) -> None:
        # in this thread while the workers go on; a table that does not match the schema is the
        # stage's mistake, not the video's: it fails the step
        if len(table):
            typed[key] = to_arrow(table, schema)
        log_progress(key, table)

    started = sorted(keys, key=lambda k: -cost.get(k, 0.0)) if cost else keys  # a stable sort
    map_isolated(stage, started, failed, max_workers, on_done)
    notes.attach(context)
    ordered = [typed[k] for k in keys if k in typed]
    return pa.concat_tables(ordered).to_pandas() if ordered else schema.empty_table().to_pandas()
