"""Clean up after a killed pipeline process, before the next run starts.

A run killed with SIGKILL cannot report its end: Dagster keeps it ``STARTED`` for ever, its assets
look in progress (which holds back declarative automation) and a concurrency-pool slot it held
stays taken. The CLI tags every run with its process id and host; ``fail_orphaned_runs`` marks the
runs of this host whose process is gone as failed and frees their slots, the way Dagster's run
monitoring does for runs launched by the daemon. Writers leave temp files only when killed
mid-write (never read: readers open final names only); ``remove_leftovers`` deletes them once no
run is active.
"""

import os
import socket
from pathlib import Path

import dagster as dg

from influencer_pipeline import lake

PID_TAG = "influencer_pipeline/pid"
HOST_TAG = "influencer_pipeline/host"
ACTIVE_STATUSES = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
# a run process that is gone leaves these behind (queued runs belong to the daemon, not to us)
ORPHAN_STATUSES = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
BLOB_LEFTOVER_PATTERNS = ("video_blobs/.staging/*", "video_blobs/*/.put-*.part")


def process_tags() -> dict[str, str]:
    """Run tags naming this process, so a later process can tell whether it is still alive."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def process_alive(pid: int) -> bool:
    """True if a process with this id exists on this host (or cannot be checked)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


def fail_orphaned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed the unfinished runs this host started whose process is gone; their ids."""
    runs = instance.get_runs(
        filters=dg.RunsFilter(statuses=ORPHAN_STATUSES, tags={HOST_TAG: socket.gethostname()})
    )
    orphaned = []
    for run in runs:
        try:
            pid = int(run.tags.get(PID_TAG, "0"))
        except ValueError:
            continue
        if pid == os.getpid() or process_alive(pid):
            continue
        instance.report_run_failed(
            run,
            message=f"The process that ran this run (pid {pid}) ended without reporting the "
            "run's end (killed?). Marked failed by the next pipeline invocation; rerunning "
            "redoes only the missing work.",
        )
        if instance.event_log_storage.supports_global_concurrency_limits:
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        orphaned.append(run.run_id)
    return orphaned


def active_runs(instance: dg.DagsterInstance) -> int:
    """How many runs of the instance are queued, starting or running."""
    return len(instance.get_run_ids(filters=dg.RunsFilter(statuses=ACTIVE_STATUSES)))


def remove_leftovers(lake_dir: str) -> int:
    """Delete temp files of killed writers under a local lake (Parquet and video blobs)."""
    removed = lake.remove_stale_temp_files(lake_dir)
    root = lake.as_upath(lake_dir)
    if not lake.is_local(root):
        return removed
    base = Path(root.path)
    for pattern in BLOB_LEFTOVER_PATTERNS:
        for path in base.glob(pattern):
            if path.is_file():
                path.unlink(missing_ok=True)
                removed += 1
    return removed
