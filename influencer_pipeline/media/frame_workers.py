"""Sampled frames of many videos in worker processes, because sampling holds the GIL.

Decoding packet by packet, converting, hashing and JPEG-encoding a video's frames keep the GIL
about a third of the time: two threads kept 1.72 of 2 cores busy on the 157-video speed set,
and a third thread no more. Worker processes (``spawn``: torch and fork do not mix) each take
a video at a time and hand back its ``video_frames`` rows. A worker imports only the media
modules (~0.6 s), is started once per step, and dies with the process that started it
(``lifetime.die_with_parent_process``). Few videos, one worker or a daemonic process (a Celery
prefork worker may not start processes) sample in threads instead.

A failure inside a worker reaches the caller as the exception sampling raised when it is one of
the media errors (``MediaError``, ``SamplingConfigError``, PyAV's ``FFmpegError``s, all rebuilt
from their arguments on the way back), else as ``FrameWorkerError`` naming it. A worker that
dies (a decoder crash on a hostile file) breaks the pool: a new one is started and the videos
that were in flight are tried again, so only a video that keeps killing its worker fails.
"""

from __future__ import annotations

import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import av
import pandas as pd

from influencer_pipeline import lifetime
from influencer_pipeline.media.blobs import local_copy
from influencer_pipeline.media.errors import MediaError
from influencer_pipeline.media.frames import (
    SamplingConfig,
    SamplingConfigError,
    frames_table,
    sample_frames,
)

MIN_VIDEOS_FOR_PROCESSES = 8  # below this, starting the workers costs more than the GIL
TRIES_WHEN_A_WORKER_DIES = 3
SENT_BACK_AS_THEMSELVES = (MediaError, SamplingConfigError, av.FFmpegError)


class FrameWorkerError(RuntimeError):
    """An error of a worker process that could not be sent back as itself."""


@dataclass(frozen=True)
class VideoFrames:
    """One video's ``video_frames`` rows and what decoding them cost."""

    table: pd.DataFrame
    frames_decoded: int
    decode_seconds: float


def video_frames(video_id: str, location: str, sampling: SamplingConfig) -> VideoFrames:
    """Sample the video at ``location`` (a local path or an object-store URL) into its rows."""
    with local_copy(location) as video:  # a download if on an object store
        result = sample_frames(video, sampling)
    table = frames_table(video_id, result, sampling)
    return VideoFrames(table, result.frames_decoded, result.decode_seconds)


def one_blas_thread() -> None:
    """In a worker process: the frame hashes' matrix products on one BLAS thread, since the
    workers already keep every core busy (an idle BLAS thread spins)."""
    import numpy  # noqa: F401  (threadpoolctl limits only the libraries already loaded)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def _in_worker(video_id: str, location: str, sampling: SamplingConfig) -> VideoFrames:
    try:
        return video_frames(video_id, location, sampling)
    except SENT_BACK_AS_THEMSELVES:
        raise
    except Exception as exc:  # its type may not survive the trip back
        raise FrameWorkerError(f"{type(exc).__name__}: {exc}") from None


def use_processes(videos: int, workers: int) -> bool:
    """Whether ``videos`` are worth worker processes here (see the module doc)."""
    enough = workers >= 2 and videos >= MIN_VIDEOS_FOR_PROCESSES
    return enough and lifetime.can_start_processes()


class FrameWorkers(lifetime.ChildPoolOwner):
    """``sample(video_id, location)`` in ``workers`` processes, or in the caller's thread.

    Use as a context manager; ``sample`` may be called from several threads at once."""

    def __init__(self, sampling: SamplingConfig, workers: int, processes: bool) -> None:
        if processes and workers < 2:
            raise ValueError(f"worker processes need workers >= 2, got {workers}")
        self.sampling = sampling
        self.workers = workers
        self._lock = threading.Lock()
        self._pool = self._new_pool() if processes else None

    def _new_pool(self) -> ProcessPoolExecutor:
        return lifetime.child_process_pool(self.workers, initializer=one_blas_thread)

    @property
    def in_processes(self) -> bool:
        """True when the videos are sampled in worker processes."""
        return self._pool is not None

    def sample(self, video_id: str, location: str) -> VideoFrames:
        """The rows of one video (raises what sampling it raised)."""
        if self._pool is None:
            return video_frames(video_id, location, self.sampling)
        for _ in range(TRIES_WHEN_A_WORKER_DIES):
            pool = self._pool
            try:
                return pool.submit(_in_worker, video_id, location, self.sampling).result()
            except BrokenProcessPool:
                with self._lock:  # one new pool for all the videos that were in flight
                    if self._pool is pool:
                        pool.shutdown(wait=False, cancel_futures=True)
                        self._pool = self._new_pool()
        raise FrameWorkerError(
            f"the worker process died {TRIES_WHEN_A_WORKER_DIES} times while sampling this video"
        )
