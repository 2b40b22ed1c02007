"""dlib's own descriptor in worker processes (``runtime="dlib"``): the same vectors as in one
process, and no orphans."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from influencer_pipeline import lifetime
from influencer_pipeline.faces.descriptor_pool import default_workers
from influencer_pipeline.faces.detection import Detection
from influencer_pipeline.faces.embedders import DLIB_RUNTIME, DlibEmbedder, embed_images

GONE_WITHIN_S = 10.0


def _items(count: int) -> list[tuple[np.ndarray, list[Detection]]]:
    """Noise images with one or two face boxes each (dlib describes any box), and one with none."""
    items = []
    landmarks = np.zeros((5, 2), np.float32)
    for seed in range(count):
        rng = np.random.default_rng(seed)
        image = rng.integers(0, 255, size=(240, 200, 3), dtype=np.uint8)
        boxes = [(40.0 + seed, 50.0, 140.0, 170.0), (10.0, 10.0, 90.0, 100.0 + seed)]
        items.append((image, [Detection(b, 0.99, landmarks) for b in boxes[: 1 + seed % 2]]))
    items.append((np.zeros((50, 50, 3), np.uint8), []))
    return items


def _native() -> DlibEmbedder:
    return DlibEmbedder(runtime=DLIB_RUNTIME)


def test_workers_give_the_vectors_of_one_process() -> None:
    items = _items(5)
    alone = DlibEmbedder(runtime=DLIB_RUNTIME)
    pooled = DlibEmbedder(workers=2, runtime=DLIB_RUNTIME)
    expected = [alone.embed(image, detections) for image, detections in items]
    got = embed_images(pooled, items)
    assert [v.shape for v in got] == [(1, 128), (2, 128), (1, 128), (2, 128), (1, 128), (0, 128)]
    for a, b in zip(expected, got, strict=True):
        assert a.dtype == b.dtype == np.float32
        assert np.array_equal(a, b)
    assert pooled._pool is not None and pooled._pool.workers == 2  # it did use the workers
    pooled._pool.close()


def test_default_workers_follow_the_cores_this_process_may_use() -> None:
    cores = len(os.sched_getaffinity(0))
    assert default_workers() == max(1, min(4, cores))


SCRIPT = """
import sys, numpy as np
from influencer_pipeline.faces.descriptor_pool import DescriptorPool
from influencer_pipeline.faces.dlib_descriptor import dlib_models_dir
pool = DescriptorPool(2, str(dlib_models_dir()), 0.25)
job = (np.zeros((120, 100, 3), np.uint8), [(10.0, 10.0, 90.0, 110.0)])
pool.describe_many([job, job, job, job])
print(" ".join(str(p) for p in pool._executor._processes), flush=True)
sys.stdin.read()
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_workers_end_when_their_parent_is_killed() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", SCRIPT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        workers = [int(p) for p in parent.stdout.readline().split()]
        assert len(workers) == 2 and all(_alive(p) for p in workers)
        os.kill(parent.pid, signal.SIGKILL)  # no handler, no atexit: only the kernel can help
        parent.wait(timeout=30)
        deadline = time.monotonic() + GONE_WITHIN_S
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(p) for p in workers)
    finally:
        parent.kill()


def test_a_pool_started_in_a_thread_outlives_the_thread(monkeypatch) -> None:
    """Steps run videos in short-lived threads; the workers a thread started must stay."""
    monkeypatch.setenv(lifetime.PARENT_ENV, str(os.getpid()))  # as the CLI marks itself
    pooled = DlibEmbedder(workers=2, runtime=DLIB_RUNTIME)
    items = _items(4)
    starter = threading.Thread(target=embed_images, args=(pooled, items))
    starter.start()
    starter.join()
    pool = pooled._pool
    assert pool is not None
    workers = list(pool._executor._processes)
    time.sleep(2.0)
    assert all(_alive(p) for p in workers)
    expected = [_native().embed(image, detections) for image, detections in items]
    got = embed_images(pooled, items)
    assert pooled._pool is pool and all(
        np.array_equal(a, b) for a, b in zip(expected, got, strict=True)
    )
    pool.close()


def _embed_in(queue) -> None:  # runs in a daemonic child (spawned: must be importable)
    embedder = DlibEmbedder(workers=2, runtime=DLIB_RUNTIME)
    vectors = embed_images(embedder, _items(3))
    queue.put((vectors, embedder._pool is None))


def test_a_daemonic_process_embeds_in_process() -> None:
    """A Celery prefork worker is daemonic and may not start processes: it embeds itself."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_embed_in, args=(queue,), daemon=True)
    child.start()
    vectors, no_pool = queue.get(timeout=120)
    child.join(timeout=30)
    expected = [_native().embed(image, detections) for image, detections in _items(3)]
    assert no_pool
    assert all(np.array_equal(a, b) for a, b in zip(expected, vectors, strict=True))
