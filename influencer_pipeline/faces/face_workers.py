"""Faces of many videos in worker processes beside the caller's thread (opt-in: memory).

Two videos in two threads of one process keep 1.86 of 2 cores busy: JPEG decoding, the
cascade's Python between its networks and dlib's shape predictor hold the GIL about a quarter
of the time (py-spy ``--gil``). With one video in the step's own thread and one in a worker
process (``spawn``, its own GIL) the 157-video speed set's face step took 36.8 s at 1.96 cores
instead of 41.6 s at 1.86, the same faces. The price is memory: a worker imports PyTorch (~0.5
GiB resident, mostly private: relocated CUDA libraries, the operator registry), torchvision and
the models, ~1.2 GiB in all, so the run's peak RSS went from ~1.9 to 2.9 GiB (PSS 2.4), over
the 2.5 GiB the speed issue allows; hence ``FaceModels.face_worker_processes`` is 0 by default
(``benchmarks/RESULTS.md``, "Session 23").

A worker builds its models from the step's ``ModelSpec`` and runs PyTorch with the step's thread
count, so a video's faces are the same wherever it ran. A ``FaceRecordError`` raised in a worker
reaches the caller as itself; anything else as ``FaceWorkerError`` naming it. A worker that dies
or cannot load its models breaks its pool: the video it had, and every later one, runs in the
caller's process instead (the threaded path).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import pandas as pd

from influencer_pipeline import lifetime
from influencer_pipeline.memory import cap_onednn_primitive_cache

LOCAL = "local"
REMOTE = "remote"

FaceRows = Callable[[str, pd.DataFrame], pd.DataFrame]


class FaceWorkerError(RuntimeError):
    """An error of a worker process that could not be sent back as itself."""


@dataclass(frozen=True)
class ModelSpec:
    """How the step builds its detector and embedder (picklable: a worker builds the same)."""

    detector: tuple[tuple[str, Any], ...]  # FaceDetector keyword arguments
    embedder: str
    embedder_options: tuple[tuple[str, Any], ...]  # make_embedder keyword arguments

    def build_detector(self) -> Any:
        """A FaceDetector with these settings."""
        from influencer_pipeline.faces.detection import FaceDetector

        return FaceDetector(**dict(self.detector))

    def build_embedder(self) -> Any:
        """A FaceEmbedder with these settings."""
        from influencer_pipeline.faces.embedders import make_embedder

        return make_embedder(self.embedder, **dict(self.embedder_options))


_MODELS: dict[str, Any] = {}  # a worker's detector, embedder and batch size


def _start_worker(spec: ModelSpec, threads: int, batch_size: int) -> None:
    import torch

    torch.set_num_threads(threads)
    cap_onednn_primitive_cache()  # before the first convolution (see memory)
    _MODELS.update(
        detector=spec.build_detector(), embedder=spec.build_embedder(), batch_size=batch_size
    )


def _in_worker(video_id: str, frames: pd.DataFrame) -> pd.DataFrame:
    from influencer_pipeline.faces.records import FaceRecordError, face_rows

    try:
        return face_rows(
            video_id, frames, _MODELS["detector"], _MODELS["embedder"], _MODELS["batch_size"]
        )
    except FaceRecordError:
        raise  # an InputError: it crosses back as itself, code included (errors.InputError)
    except Exception as exc:  # its type may not survive the trip back
        raise FaceWorkerError(f"{type(exc).__name__}: {exc}") from None


def use_workers(requested: int, in_flight: int, on_cpu: bool) -> int:
    """Worker processes for a face step with ``in_flight`` videos at once: those ``requested``,
    at most one fewer than in flight (the caller's thread takes one); none on a GPU or where this
    process may not start any (a daemonic one: a Celery prefork worker)."""
    if not on_cpu or not lifetime.can_start_processes():
        return 0
    return max(0, min(int(requested), in_flight - 1))


class FaceWorkers(lifetime.ChildPoolOwner):
    """``faces(video_id, frames)`` in the caller's thread (``local``) or in a worker process,
    whichever is free; call it from ``lanes`` threads at once (``lanes - workers`` of them run
    here). A context manager."""

    def __init__(
        self,
        local: FaceRows,
        spec: ModelSpec,
        *,
        lanes: int,
        workers: int,
        threads: int,
        batch_size: int,
    ) -> None:
        if not 0 <= workers < lanes:
            raise ValueError(f"need 0 <= workers < lanes, got {workers} workers, {lanes} lanes")
        self.local = local
        self.broken: str | None = None  # why the workers were given up, once they were
        self.in_workers = 0  # videos whose faces came from a worker
        self._lock = threading.Lock()
        self._slots: queue.SimpleQueue[str] = queue.SimpleQueue()
        for _ in range(lanes - workers):
            self._slots.put(LOCAL)
        self._pool: ProcessPoolExecutor | None = None
        if workers > 0:
            self._pool = lifetime.child_process_pool(
                workers, _start_worker, (spec, threads, batch_size)
            )
            for _ in range(workers):
                self._slots.put(REMOTE)

    def faces(self, video_id: str, frames: pd.DataFrame) -> pd.DataFrame:
        """The face rows of one video (raises what ``face_rows`` raised)."""
        slot = self._slots.get()
        try:
            pool = self._pool
            if slot == LOCAL or pool is None:
                return self.local(video_id, frames)
            try:
                result = pool.submit(_in_worker, video_id, frames).result()
            except BrokenProcessPool as exc:
                self._give_up(pool, f"a worker process stopped: {exc}")
                return self.local(video_id, frames)
            with self._lock:
                self.in_workers += 1
            return result
        finally:
            self._slots.put(slot)

    def _give_up(self, pool: ProcessPoolExecutor, why: str) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
                self.broken = why
                pool.shutdown(wait=False, cancel_futures=True)
