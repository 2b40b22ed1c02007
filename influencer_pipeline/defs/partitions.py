"""The ``videos`` dynamic partitions: one partition per unique video, keyed by a hash of its URL."""

from __future__ import annotations

import dagster as dg

VIDEOS = dg.DynamicPartitionsDefinition(name="videos")

# A run of the per-video assets covers at most this many partitions: it bounds the memory a step
# holds and splits large backfills into runs the run queue can execute concurrently (DESIGN §5).
MAX_PARTITIONS_PER_RUN = 64
PER_VIDEO_BACKFILL = dg.BackfillPolicy.multi_run(max_partitions_per_run=MAX_PARTITIONS_PER_RUN)

# Asset metadata telling the IO manager which column holds the partition key.
PER_VIDEO_METADATA = {"partition_column": "video_id"}
