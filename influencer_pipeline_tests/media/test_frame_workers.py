"""Frames sampled in worker processes: the same rows as in process, failures kept per video."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pandas as pd
import pytest

from influencer_pipeline.media import frame_workers
from influencer_pipeline.media.errors import MediaError
from influencer_pipeline.media.frame_workers import (
    MIN_VIDEOS_FOR_PROCESSES,
    FrameWorkerError,
    FrameWorkers,
    use_processes,
    video_frames,
)
from influencer_pipeline.media.frames import SamplingConfig

SAMPLING = SamplingConfig(min_body_frames=4)


def test_worker_processes_give_the_rows_sampling_in_process_gives(make_video) -> None:
    videos = {f"v{i}": make_video(f"v{i}.mp4", seconds=3 + i, seed=i) for i in range(3)}
    with FrameWorkers(SAMPLING, workers=2, processes=True) as workers:
        assert workers.in_processes
        got = {key: workers.sample(key, str(path)) for key, path in videos.items()}
    for key, path in videos.items():
        want = video_frames(key, str(path), SAMPLING)
        assert len(want.table) >= SAMPLING.min_body_frames
        pd.testing.assert_frame_equal(got[key].table, want.table)
        assert got[key].frames_decoded == want.frames_decoded


def test_a_broken_video_fails_alone_with_its_own_error(make_video, tmp_path: Path) -> None:
    good = make_video("good.mp4", seconds=3)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4000))
    with FrameWorkers(SAMPLING, workers=2, processes=True) as workers:
        with pytest.raises(MediaError) as raised:
            workers.sample("broken", str(broken))
        assert raised.value.code == "not_video"
        assert len(workers.sample("good", str(good)).table) > 0  # the pool goes on


def test_a_worker_killed_meanwhile_is_replaced(make_video) -> None:
    video = make_video("clip.mp4", seconds=3)
    with FrameWorkers(SAMPLING, workers=2, processes=True) as workers:
        first = workers.sample("clip", str(video))
        pool = workers._pool
        for process in list(pool._processes.values()):  # type: ignore[union-attr]
            os.kill(process.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while not pool._broken and time.monotonic() < deadline:  # type: ignore[union-attr]
            time.sleep(0.05)
        again = workers.sample("clip", str(video))
        assert workers._pool is not pool
    pd.testing.assert_frame_equal(again.table, first.table)


class _TwoArgumentError(Exception):
    def __init__(self, what: str, why: str) -> None:
        super().__init__(f"{what}: {why}")  # its args would not rebuild it on the way back


def test_an_unexpected_error_is_named_and_media_errors_travel_as_themselves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fail(*_args: object) -> None:
        raise _TwoArgumentError("decoder", "gave up")

    with pytest.raises(MediaError) as raised:  # not wrapped: it travels (see above)
        frame_workers._in_worker("v", "/nowhere/missing.mp4", SAMPLING)
    assert raised.value.code == "file_not_found"
    monkeypatch.setattr(frame_workers, "video_frames", fail)
    with pytest.raises(FrameWorkerError, match="_TwoArgumentError: decoder: gave up"):
        frame_workers._in_worker("v", "nowhere.mp4", SAMPLING)


def test_processes_only_for_enough_videos_and_workers() -> None:
    assert use_processes(MIN_VIDEOS_FOR_PROCESSES, 2)
    assert not use_processes(MIN_VIDEOS_FOR_PROCESSES - 1, 2)
    assert not use_processes(100, 1)
    with pytest.raises(ValueError, match="workers >= 2"):
        FrameWorkers(SAMPLING, workers=1, processes=True)
    with FrameWorkers(SAMPLING, workers=1, processes=False) as workers:
        assert not workers.in_processes


def _blas_threads() -> list[int]:
    from threadpoolctl import threadpool_info

    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_worker_processes_run_the_blas_on_one_thread_also_after_a_restart() -> None:
    with FrameWorkers(SAMPLING, workers=2, processes=True) as workers:
        first = workers._pool.submit(_blas_threads).result(timeout=120)
        assert first and set(first) == {1}, first  # numpy's BLAS is loaded, on one thread
        with workers._new_pool() as replacement:  # as a pool started after a worker died
            assert replacement.submit(_blas_threads).result(timeout=120) == first
