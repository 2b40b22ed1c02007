"""dlib descriptors on several CPU cores: worker processes, because dlib holds the GIL.

Threads gain nothing here (dlib's descriptor keeps the GIL for its whole computation); processes
do: on 2 cores 87 faces of 6 demo videos took 3.60 s in two workers against 7.09 s in one
process, with identical vectors (``benchmarks/descriptor_pool.py``). Each worker loads the
models once (``DlibDescriptor``: dlib and numpy only, no torch) and dies with the process that
started it, ``kill -9`` included, whichever of its threads started the pool
(``lifetime.die_with_parent_process``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from influencer_pipeline import lifetime
from influencer_pipeline.faces.dlib_descriptor import Box, DlibDescriptor
from influencer_pipeline.parallel import usable_cores

MAX_WORKERS = 4  # more cores than this go to other steps and runs
_WORKER: dict[str, DlibDescriptor] = {}  # in a worker process: its models


def default_workers() -> int:
    """Worker processes for this machine: one per CPU core this process may use, at most 4."""
    return max(1, min(MAX_WORKERS, usable_cores()))


def _start_worker(models_dir: str, padding: float, mirrored: bool) -> None:
    _WORKER["descriptor"] = DlibDescriptor(models_dir, padding, mirrored)


def _describe(job: tuple[np.ndarray, list[Box]]) -> np.ndarray:
    return _WORKER["descriptor"].describe(*job)


class DescriptorPool:
    """``workers`` processes computing ``DlibDescriptor.describe`` for many images at once."""

    def __init__(
        self, workers: int, models_dir: str, padding: float, mirrored: bool = True
    ) -> None:
        if workers < 2:
            raise ValueError(f"a descriptor pool needs >= 2 workers, got {workers}")
        self.workers = workers
        self._executor = lifetime.child_process_pool(
            workers, _start_worker, (models_dir, padding, mirrored)
        )

    def describe_many(self, jobs: Sequence[tuple[np.ndarray, list[Box]]]) -> list[np.ndarray]:
        """``describe(image, boxes)`` of every job, in order."""
        return list(self._executor.map(_describe, jobs))

    def close(self) -> None:
        """Stop the workers."""
        self._executor.shutdown(wait=True, cancel_futures=True)
