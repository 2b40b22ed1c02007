"""Faces computed in a worker process: the same rows as in the step's own process."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from influencer_pipeline.faces.devices import threads_per_worker
from influencer_pipeline.faces.face_workers import FaceWorkers, ModelSpec, use_workers
from influencer_pipeline.faces.records import FaceRecordError, face_rows
from influencer_pipeline.media.frame_workers import video_frames
from influencer_pipeline.media.frames import SamplingConfig
from influencer_pipeline_tests.conftest import TINY_DEMO
from influencer_tools.demo.generator import generate_demo

DETECTOR = (("min_face_size", 20), ("min_rel_height", 0.04), ("batch_size", 8), ("device", "cpu"))
SPEC = ModelSpec(
    detector=DETECTOR,
    embedder="dlib",
    embedder_options=(("device", "cpu"), ("runtime", "torch")),
)
BATCH = 8


@pytest.fixture(scope="module")
def demo_frames(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    """The frames of three demo videos with a presenter (the generator's truth says which)."""
    out = tmp_path_factory.mktemp("face_workers")
    demo = generate_demo(out / "demo", TINY_DEMO)
    truth = pd.read_csv(demo.truth)
    with_face = truth[truth["kind"] == "face"]["video_url"].drop_duplicates().head(3)
    frames = {}
    for i, url in enumerate(with_face):
        path = Path(demo.out_dir) / url
        frames[f"v{i}"] = video_frames(f"v{i}", str(path), SamplingConfig()).table
    return frames


def _in_this_process(detector, embedder):
    def rows(video_id: str, frames: pd.DataFrame) -> pd.DataFrame:
        return face_rows(video_id, frames, detector, embedder, BATCH)

    return rows


def test_when_worker_processes_are_used() -> None:
    assert use_workers(1, 2, on_cpu=True) == 1
    assert use_workers(5, 3, on_cpu=True) == 2  # the step's own thread takes one video
    assert use_workers(0, 2, on_cpu=True) == 0  # the default: threads only
    assert use_workers(1, 1, on_cpu=True) == 0
    assert use_workers(1, 2, on_cpu=False) == 0


def test_a_worker_gives_the_same_faces_and_errors(demo_frames: dict[str, pd.DataFrame]) -> None:
    detector, embedder = SPEC.build_detector(), SPEC.build_embedder()
    local = _in_this_process(detector, embedder)
    with threads_per_worker(2) as threads:
        expected = {key: local(key, frames) for key, frames in demo_frames.items()}
        assert sum(len(t) for t in expected.values()) > 0  # the presenters were found
        lanes = {"lanes": 2, "workers": 1, "threads": threads, "batch_size": BATCH}
        with FaceWorkers(local, SPEC, **lanes) as workers:
            # one caller alternates between its own process and the worker: v0 here, v1 there
            got = {key: workers.faces(key, frames) for key, frames in demo_frames.items()}
            assert workers.in_workers == 1
            broken = demo_frames["v0"].copy()
            broken.loc[broken.index[0], "image"] = b""
            workers.faces("v0", demo_frames["v0"])  # here, so that the broken one goes there
            with pytest.raises(FaceRecordError) as error:
                workers.faces("v0", broken)
            assert error.value.code == "missing_frame_image"
            assert workers.broken is None
    for key, table in expected.items():
        pd.testing.assert_frame_equal(got[key], table)


def test_a_worker_that_cannot_start_leaves_the_videos_to_this_process(
    demo_frames: dict[str, pd.DataFrame],
) -> None:
    spec = ModelSpec(SPEC.detector, "no-such-embedder", ())
    calls: list[str] = []

    def local(video_id: str, frames: pd.DataFrame) -> pd.DataFrame:
        calls.append(video_id)
        return pd.DataFrame({"video_id": [video_id]})

    with FaceWorkers(local, spec, lanes=2, workers=1, threads=1, batch_size=BATCH) as workers:
        got = [workers.faces(key, frames) for key, frames in demo_frames.items()]
    assert calls == list(demo_frames)
    assert [t["video_id"].item() for t in got] == list(demo_frames)
    assert workers.broken is not None and workers.in_workers == 0


def test_without_workers_every_lane_runs_here_at_once() -> None:
    # the default (no worker processes): both of the step's threads detect at the same time
    both = threading.Barrier(2, timeout=30)

    def local(video_id: str, frames: pd.DataFrame) -> pd.DataFrame:
        both.wait()  # breaks (BrokenBarrierError) if the other lane is not running meanwhile
        return pd.DataFrame({"video_id": [video_id]})

    with (
        FaceWorkers(local, SPEC, lanes=2, workers=0, threads=1, batch_size=BATCH) as workers,
        ThreadPoolExecutor(2) as pool,
    ):
        got = list(pool.map(lambda key: workers.faces(key, pd.DataFrame()), ["a", "b"]))
    assert [t["video_id"].item() for t in got] == ["a", "b"]
    with pytest.raises(ValueError, match="workers < lanes"):
        FaceWorkers(local, SPEC, lanes=1, workers=1, threads=1, batch_size=BATCH)
